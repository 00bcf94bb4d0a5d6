//! The results of a benchmark and how they are shown: a table and a targets section on
//! stdout, or the same data as JSON.

use camino::Utf8PathBuf;
use serde::Serialize;

use pad_stdx::human_size;

#[derive(Debug, Serialize)]
pub(super) struct Report {
    pub(super) machine: Machine,
    pub(super) sets: Vec<SetReport>,
    pub(super) targets: Vec<TargetCheck>,
    pub(super) notes: Vec<String>,
}

/// Facts about the machine and the tools measured.
#[derive(Debug, Serialize)]
pub(super) struct Machine {
    pub(super) nproc: usize,
    pub(super) cpu: Option<String>,
    /// The profile this `cargo xtask` was built with.
    pub(super) xtask_profile: &'static str,
    pub(super) uv: String,
    pub(super) python: String,
    pub(super) pip: Option<String>,
    pub(super) venv_pack: Option<String>,
    pub(super) tar: Option<String>,
    pub(super) pigz: Option<String>,
}

/// One requirement set: what it is and every measurement on it.
#[derive(Debug, Serialize)]
pub(super) struct SetReport {
    pub(super) name: String,
    /// The pins of its `requirements.txt`.
    pub(super) requirements: Vec<String>,
    /// The unpacked environment every packer read.
    pub(super) env_dir: Utf8PathBuf,
    pub(super) env_files: u64,
    pub(super) env_bytes: u64,
    /// `*.pyc` files in it, which our packer skips and tar keeps.
    pub(super) env_pyc_files: u64,
    pub(super) rows: Vec<Row>,
}

/// One measurement.
#[derive(Debug, Serialize)]
pub(super) struct Row {
    pub(super) step: String,
    pub(super) seconds: f64,
    /// Every run, when the step was repeated (`seconds` is then their median).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) runs: Vec<f64>,
    /// Bytes of the tar.gz the step wrote.
    pub(super) size: Option<u64>,
    /// Ratios to the alternatives: their seconds over ours.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) vs: Vec<Ratio>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) note: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct Ratio {
    pub(super) against: String,
    pub(super) ratio: f64,
}

/// One target of the issue, judged on one set.
#[derive(Debug, Serialize)]
pub(super) struct TargetCheck {
    pub(super) set: String,
    pub(super) target: &'static str,
    pub(super) measured: String,
    /// `None` when it could not be measured (a tool is missing).
    pub(super) met: Option<bool>,
}

impl Row {
    pub(super) fn new(step: impl Into<String>, seconds: f64) -> Row {
        Row { step: step.into(), seconds, runs: Vec::new(), size: None, vs: Vec::new(), note: None }
    }

    pub(super) fn size(mut self, size: Option<u64>) -> Row {
        self.size = size;
        self
    }

    pub(super) fn runs(mut self, runs: Vec<f64>) -> Row {
        self.runs = runs;
        self
    }

    /// Adds the ratio `theirs / self.seconds` against `against`.
    pub(super) fn vs(mut self, against: &str, theirs: f64) -> Row {
        self.vs.push(Ratio { against: against.to_owned(), ratio: theirs / self.seconds });
        self
    }

    pub(super) fn note(mut self, note: impl Into<String>) -> Row {
        self.note = Some(note.into());
        self
    }
}

impl Report {
    pub(super) fn print_text(&self) {
        println!("{:<15} {:<24} {:>8} {:>10}  vs (their seconds / ours); notes", "set", "step", "seconds", "size");
        for set in &self.sets {
            for row in &set.rows {
                let size = row.size.map_or_else(|| "-".to_owned(), human_size);
                let mut last: Vec<String> = row.vs.iter().map(|r| format!("{} {:.1}x", r.against, r.ratio)).collect();
                if let Some(note) = &row.note {
                    last.push(note.clone());
                }
                println!("{:<15} {:<24} {:>8.2} {:>10}  {}", set.name, row.step, row.seconds, size, last.join("; "));
            }
            println!(
                "{:<15} (env packed: {}, {} files, {}, {} .pyc)",
                set.name,
                set.env_dir,
                set.env_files,
                human_size(set.env_bytes),
                set.env_pyc_files
            );
            println!();
        }

        println!("targets (measured here, not asserted in tests)");
        for check in &self.targets {
            println!("  {:<15} {:<50} {:<7} {}", check.set, check.target, super::verdict(check.met), check.measured);
        }
        println!();

        let m = &self.machine;
        println!("machine");
        let unknown = || "unknown".to_owned();
        for (key, value) in [
            ("nproc", m.nproc.to_string()),
            ("cpu", m.cpu.clone().unwrap_or_else(unknown)),
            ("xtask build", m.xtask_profile.to_owned()),
            ("uv", m.uv.clone()),
            ("python", m.python.clone()),
            ("pip", m.pip.clone().unwrap_or_else(unknown)),
            ("venv-pack", m.venv_pack.clone().unwrap_or_else(unknown)),
            ("tar", m.tar.clone().unwrap_or_else(unknown)),
            ("pigz", m.pigz.clone().unwrap_or_else(|| "not installed".to_owned())),
        ] {
            println!("  {key:<12} {value}");
        }
        println!();
        println!("notes");
        for note in &self.notes {
            println!("  - {note}");
        }
    }
}
