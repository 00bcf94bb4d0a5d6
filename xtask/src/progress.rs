//! Progress on stderr: a spinner per item on a terminal, one plain line per step
//! elsewhere (CI logs). `Steps` implements the progress trait of each library a command
//! calls (`pad_venv`, `pad_deploy`, `pad_flow`) itself.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Shows the steps of work on several named items at once.
pub(crate) struct Steps {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
    /// The repository, when the reports of deploy-local-build's stages are shown as they
    /// end (paths are shown relative to it).
    stage_reports: Option<Utf8PathBuf>,
    /// With `--timings`: when each step began (and each item ended), for
    /// [`print_timings`](Steps::print_timings).
    timings: Option<Timings>,
}

/// Every step as it began: (when, item, step); `None` for the end of an item's work.
struct Timings {
    started: Instant,
    events: Mutex<Vec<(Instant, String, Option<String>)>>,
}

impl Steps {
    pub(crate) fn new() -> Steps {
        let multi = std::io::stderr().is_terminal().then(MultiProgress::new);
        Steps { multi, bars: Mutex::new(HashMap::new()), stage_reports: None, timings: None }
    }

    /// Steps that also show each stage of deploy-local-build and its report as it ends.
    pub(crate) fn with_stage_reports(root: &Utf8Path) -> Steps {
        Steps { stage_reports: Some(root.to_owned()), ..Steps::new() }
    }

    /// Also records when each step begins, for `--timings`.
    pub(crate) fn timed(self, timings: bool) -> Steps {
        let timings = timings.then(|| Timings { started: Instant::now(), events: Mutex::new(Vec::new()) });
        Steps { timings, ..self }
    }

    fn record(&self, name: &str, step: Option<&str>) {
        if let Some(t) = &self.timings {
            t.events.lock().unwrap_or_else(|e| e.into_inner()).push((
                Instant::now(),
                name.to_owned(),
                step.map(str::to_owned),
            ));
        }
    }

    /// With `--timings`, prints [`timings_table`](Steps::timings_table) on stderr.
    pub(crate) fn print_timings(&self) {
        if let Some(table) = self.timings_table() {
            eprint!("{table}");
        }
    }

    /// With `--timings`: when each step began (seconds from the start) and how long it
    /// ran, until the item's next step, its end, the next stage, or now. Items' steps
    /// overlap: they run at once.
    pub(crate) fn timings_table(&self) -> Option<String> {
        use std::fmt::Write as _;
        let t = self.timings.as_ref()?;
        let now = Instant::now();
        let events = t.events.lock().unwrap_or_else(|e| e.into_inner());
        let mut out =
            String::from("timings (seconds from the start; an item's steps run one after the other, items at once):\n");
        let _ = writeln!(out, "{:>7} {:>7}  {:<16} step", "start", "length", "item");
        for (i, (at, name, step)) in events.iter().enumerate() {
            let Some(step) = step else { continue };
            let end = events[i + 1..]
                .iter()
                .find(|(_, other, _)| other == name || other == STAGE)
                .map_or(now, |(end, ..)| *end);
            let (start, length) = (at.duration_since(t.started), end.duration_since(*at));
            let _ = writeln!(out, "{:>7.2} {:>7.2}  {name:<16} {step}", start.as_secs_f64(), length.as_secs_f64());
        }
        let _ = writeln!(out, "{:>7.2} {:>7}  (end)", now.duration_since(t.started).as_secs_f64(), "");
        Some(out)
    }
}

/// The item of a stage's start in the timings, which ends every step before it.
const STAGE: &str = "==>";

impl pad_flow::Progress for Steps {
    /// Ends the spinner of `name` with a final message.
    fn done(&self, name: &str, outcome: &str) {
        self.record(name, None);
        if let Some(bar) = self.bars.lock().unwrap_or_else(|e| e.into_inner()).remove(name) {
            bar.finish_with_message(outcome.to_owned());
        }
    }

    fn warning(&self, message: &str) {
        eprintln!("warning: {message}");
    }

    fn transfer(&self, transfer: &pad_flow::Transfer<'_>) -> Box<dyn pad_registry::TransferProgress + '_> {
        let pad_flow::Transfer { direction, file, registry } = transfer;
        let label = match direction {
            pad_flow::Direction::Upload => format!("uploading {file} to {registry}"),
            pad_flow::Direction::Download => format!("downloading {file} from {registry}"),
        };
        Box::new(Transfer::new(&label))
    }

    fn stage(&self, stage: pad_flow::Stage) {
        let title = match stage {
            pad_flow::Stage::Test => "test",
            pad_flow::Stage::Package => "package",
            pad_flow::Stage::Deploy => "deploy to the local target",
        };
        self.record(STAGE, None);
        eprintln!("==> {title}");
    }

    fn tested(&self, run: &pad_flow::TestRun) {
        if self.stage_reports.is_some() {
            crate::test::render_text(run);
        }
    }

    fn packaged(&self, package: &pad_bundle::Package) {
        if let Some(root) = &self.stage_reports {
            crate::package::print_text(root, package);
        }
    }
}

impl Steps {
    /// Shows that `name` is at `step`: its spinner's message, or a line.
    fn show(&self, name: &str, step: &str) {
        self.record(name, Some(step));
        let Some(multi) = &self.multi else {
            eprintln!("{name}: {step}");
            return;
        };
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        let bar = bars.entry(name.to_owned()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:<16} {msg} ({elapsed})").expect("valid template"),
            );
            bar.set_prefix(name.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        bar.set_message(step.to_owned());
    }
}

impl pad_venv::Progress for Steps {
    fn step(&self, name: &str, step: &str) {
        self.show(name, step);
    }
}

/// Each host's steps as a spinner (a line per step off a terminal); notes go to the log.
impl pad_deploy::Progress for Steps {
    fn step(&self, host: &str, step: pad_deploy::Step) {
        self.show(host, &step.to_string());
    }

    fn note(&self, host: &str, message: &str) {
        tracing::info!("{host}: {message}");
    }

    fn waiting(&self, host: &str, what: &str) {
        self.show(host, &format!("release prepared; waiting for {what}"));
    }
}

/// A byte progress bar for one upload or download on a terminal; elsewhere one line
/// when it starts (CI logs need no more). The bar goes when it is dropped.
struct Transfer {
    label: String,
    bar: Mutex<Option<ProgressBar>>,
}

impl Transfer {
    fn new(label: &str) -> Transfer {
        Transfer { label: label.to_owned(), bar: Mutex::new(None) }
    }
}

impl Drop for Transfer {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

impl pad_registry::TransferProgress for Transfer {
    fn start(&self, total: Option<u64>) {
        let mut slot = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        if !std::io::stderr().is_terminal() {
            let size = total.map_or_else(String::new, |t| format!(" ({})", pad_stdx::human_size(t)));
            eprintln!("{}{size}", self.label);
            return;
        }
        let bar = match total {
            Some(total) => ProgressBar::new(total),
            None => ProgressBar::new_spinner(),
        };
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(self.label.clone());
        if let Some(old) = slot.replace(bar) {
            old.finish_and_clear();
        }
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            bar.inc(bytes);
        }
    }
}

impl pad_airflow::Progress for Steps {
    fn step(&self, what: &str) {
        eprintln!("  {what}");
    }
}
