//! `cargo xtask bench cache`: `cache status` over 1,000 warm artifacts, and `cache warm`
//! of 200 missing ones (1–20 MB) from a Maven repository served by nginx on 127.0.0.1,
//! against the same copies made by a sequential `curl` + `cp` loop (what workflow_utils'
//! `artifact-cache warm` does: one artifact after another, existence checked only). Peak
//! memory is the child's `VmHWM`, read from `/proc` while it runs.
//!
//! The repository is served twice: as fast as loopback goes, and at 20 MiB/s per
//! connection (nginx `limit_rate`), a stand-in for a remote repository where one
//! connection does not fill the pipe.
//!
//! Each warm is measured four ways, so the ratios say what comes from parallelism and
//! what from the code: ours with `--jobs N` and with `--jobs 1`, the sequential loop, and
//! the same `curl` + `cp` run `N` at a time by `xargs -P N`. Ours `--jobs N` against the
//! sequential loop is the change a user sees; `--jobs 1` against the loop, and `--jobs N`
//! against `xargs -P N`, compare equal concurrency (the code alone).

use std::fs::File;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};
use pad_process::{Cmd, Sink};
use pad_testkit::{Server, Xorshift, random_bytes};
use serde::Serialize;
use sha1::{Digest, Sha1};

use super::note;
use crate::flags::BenchCacheArgs;

/// Per-connection rate of the throttled server, in nginx's syntax and in bytes.
const THROTTLE: (&str, f64) = ("20m", 20.0 * 1024.0 * 1024.0);
/// The one large artifact that shows memory does not grow with artifact size.
const LARGE: usize = 512 * 1024 * 1024;
const MB: usize = 1024 * 1024;

#[derive(Debug, Serialize)]
struct Measure {
    what: String,
    seconds: f64,
    /// Peak resident memory of the process, in bytes (ours only).
    peak_rss: Option<u64>,
}

/// One warm, measured four ways.
#[derive(Debug, Serialize)]
struct Scenario {
    /// Ours with `--jobs N`.
    ours: Measure,
    /// Ours with `--jobs 1`.
    ours_one_job: Measure,
    /// The sequential `curl` + `cp` loop.
    sequential: Measure,
    /// The same, `N` at a time (`xargs -P N`).
    parallel: Measure,
    /// The loop's seconds over ours `--jobs N`: what a user sees.
    ratio_ours_vs_sequential: f64,
    /// The loop's seconds over ours `--jobs 1`: one at a time each, the code alone.
    ratio_one_job_vs_sequential: f64,
    /// `xargs -P N`'s seconds over ours `--jobs N`: `N` at a time each, the code alone.
    ratio_ours_vs_parallel: f64,
}

#[derive(Debug, Serialize)]
struct BenchReport {
    nproc: usize,
    xtask_profile: &'static str,
    status_artifacts: usize,
    warm_artifacts: usize,
    warm_bytes: u64,
    jobs: u16,
    throttle_bytes_per_second: f64,
    status: Measure,
    throttled: Scenario,
    loopback: Scenario,
    large: Measure,
}

pub(crate) fn run(root: &Utf8Path, args: &BenchCacheArgs) -> Result<ExitCode> {
    let work = root.join("target/bench/cache");
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("cannot remove {work}"))?;
    }
    let www = work.join("www");
    std::fs::create_dir_all(&www)?;
    note(&format!(
        "writing {} artifacts of 1–20 MB and {} small ones into a Maven repository",
        args.artifacts, args.status_artifacts
    ));
    let sizes = sizes(args.artifacts);
    let warm_bytes: u64 = sizes.iter().map(|s| *s as u64).sum();
    let pool = random_bytes(20 * MB, 1);
    for (i, size) in sizes.iter().enumerate() {
        publish(&www, &format!("org.example.bench:big{i}:1.0"), &pool[..*size], i as u64)?;
    }
    for i in 0..args.status_artifacts {
        publish(&www, &format!("org.example.bench:small{i}:1.0"), &pool[..1024], 1_000_000 + i as u64)?;
    }
    publish(&www, "org.example.bench:large:1.0", &random_bytes(LARGE, 1), 7)?;
    let nginx = Nginx::start(&work, &www)?;

    let exe = Utf8PathBuf::from_path_buf(std::env::current_exe()?).map_err(|p| anyhow::anyhow!("{}", p.display()))?;
    let ours = |file: &Utf8Path, command: &str, jobs: u16| -> Result<Measure> {
        let out = work.join(format!("{}.json", file.file_stem().unwrap_or("out")));
        let cmd = Cmd::new(exe.as_str(), &work).args([
            "cache",
            command,
            "--jobs",
            &jobs.to_string(),
            "--json",
            file.as_str(),
        ]);
        let (seconds, peak, ok) = measured(&cmd, &out)?;
        if !ok {
            bail!("`cargo xtask cache {command} {file}` failed; its report is in {out}");
        }
        Ok(Measure { what: format!("cargo xtask cache {command} --jobs {jobs}"), seconds, peak_rss: Some(peak) })
    };

    // status over warm artifacts: warm them first (not timed), then check.
    let status_file = config(
        &work,
        "status",
        &nginx.url(false),
        &(0..args.status_artifacts).map(|i| format!("small{i}")).collect::<Vec<_>>(),
    )?;
    note(&format!("warming {} small artifacts for the status run", args.status_artifacts));
    ours(&status_file, "warm", 8)?;
    note("cache status over them");
    let status = ours(&status_file, "status", 8)?;

    let names: Vec<String> = (0..args.artifacts).map(|i| format!("big{i}")).collect();
    let mut throttled_and_loopback = Vec::new();
    for throttled in [true, false] {
        let label = if throttled { "throttled" } else { "loopback" };
        // Each run into a cache of its own, removed once measured (2 GB each).
        let clear = |dir: &str| std::fs::remove_dir_all(work.join(dir)).with_context(|| format!("removing {dir}"));
        let file = config(&work, &format!("warm-{label}"), &nginx.url(throttled), &names)?;
        note(&format!("cache warm of {} artifacts ({label}), --jobs {}", names.len(), args.jobs));
        let ours_n = ours(&file, "warm", args.jobs)?;
        clear(&format!("cache-warm-{label}"))?;
        let file = config(&work, &format!("warm-one-{label}"), &nginx.url(throttled), &names)?;
        note(&format!("cache warm of {} artifacts ({label}), --jobs 1", names.len()));
        let ours_one = ours(&file, "warm", 1)?;
        clear(&format!("cache-warm-one-{label}"))?;
        note(&format!("sequential curl + cp loop ({label})"));
        let sequential = curl_loop(&work, label, &nginx.url(throttled), &names, 1)?;
        clear(&format!("loop-cache-{label}"))?;
        note(&format!("curl + cp, {} at a time with xargs -P ({label})", args.jobs));
        let parallel = curl_loop(&work, &format!("{label}-parallel"), &nginx.url(throttled), &names, args.jobs)?;
        clear(&format!("loop-cache-{label}-parallel"))?;
        throttled_and_loopback.push(Scenario {
            ratio_ours_vs_sequential: sequential.seconds / ours_n.seconds,
            ratio_one_job_vs_sequential: sequential.seconds / ours_one.seconds,
            ratio_ours_vs_parallel: parallel.seconds / ours_n.seconds,
            ours: ours_n,
            ours_one_job: ours_one,
            sequential,
            parallel,
        });
    }
    let large_file = config(&work, "large", &nginx.url(false), &["large".to_owned()])?;
    note("cache warm of one 512 MiB artifact");
    let large = ours(&large_file, "warm", 1)?;
    drop(nginx);

    let mut measures = throttled_and_loopback.into_iter();
    let throttled = measures.next().expect("two runs");
    let loopback = measures.next().expect("two runs");
    let report = BenchReport {
        nproc: std::thread::available_parallelism().map_or(1, usize::from),
        xtask_profile: if cfg!(debug_assertions) { "debug" } else { "release" },
        status_artifacts: args.status_artifacts,
        warm_artifacts: args.artifacts,
        warm_bytes,
        jobs: args.jobs,
        throttle_bytes_per_second: THROTTLE.1,
        status,
        throttled,
        loopback,
        large,
    };
    if args.json {
        crate::print_json(&report)?;
    } else {
        print(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print(r: &BenchReport) {
    let mb = |b: Option<u64>| b.map_or_else(|| "—".to_owned(), pad_stdx::human_size);
    println!(
        "artifact cache benchmark: {} cores, xtask built {}, Maven repository in nginx on 127.0.0.1, directory cache",
        r.nproc, r.xtask_profile
    );
    println!();
    println!(
        "status of {} warm artifacts: {:.2} s (target ≤ 2 s), peak {}",
        r.status_artifacts,
        r.status.seconds,
        mb(r.status.peak_rss)
    );
    for (title, run) in [
        (
            format!(
                "warm of {} missing artifacts ({:.2} GB), source at {:.0} MiB/s per connection",
                r.warm_artifacts,
                r.warm_bytes as f64 / 1e9,
                r.throttle_bytes_per_second / 1_048_576.0
            ),
            &r.throttled,
        ),
        ("warm of the same, unthrottled loopback".to_owned(), &r.loopback),
    ] {
        println!();
        println!("{title}");
        println!("  {:<40} {:>9} {:>10}", "", "seconds", "peak RSS");
        for row in [&run.ours, &run.ours_one_job, &run.sequential, &run.parallel] {
            println!("  {:<40} {:>9.2} {:>10}", row.what, row.seconds, mb(row.peak_rss));
        }
        println!(
            "  ours --jobs {} vs the sequential loop: {:.1}× (what a user sees: parallelism and code; target ≥ 5×)",
            r.jobs, run.ratio_ours_vs_sequential
        );
        println!(
            "  ours --jobs 1 vs the sequential loop:  {:.1}× (one at a time each: the code alone)",
            run.ratio_one_job_vs_sequential
        );
        println!(
            "  ours --jobs {0} vs xargs -P {0}:          {1:.1}× ({0} at a time each: the code alone)",
            r.jobs, run.ratio_ours_vs_parallel
        );
    }
    println!();
    println!(
        "peak memory: {} for one 512 MiB artifact, {} for {} artifacts of 1–20 MB with --jobs {}",
        mb(r.large.peak_rss),
        mb(r.throttled.ours.peak_rss),
        r.warm_artifacts,
        r.jobs
    );
}

/// Sizes between 1 and 20 MB, the same on every run (this seed gives the sizes of the
/// measurements in the README).
fn sizes(n: usize) -> Vec<usize> {
    let mut rng = Xorshift::new(0x4232_DB54_AA7F_B6E9);
    (0..n).map(|_| MB + (rng.next_u64() % (19 * MB as u64)) as usize).collect()
}

/// Writes an artifact (the bytes, with the first 8 made unique by `seed`) and its `.sha1`
/// in the Maven layout, as Maven Central has them.
fn publish(www: &Utf8Path, id: &str, data: &[u8], seed: u64) -> Result<()> {
    let path = www.join(pad_cache::maven_path(id).map_err(anyhow::Error::msg)?);
    std::fs::create_dir_all(path.parent().expect("a Maven path has a directory"))?;
    let head = seed.to_le_bytes();
    let split = head.len().min(data.len());
    let mut file = File::create(&path)?;
    file.write_all(&head[..split])?;
    file.write_all(&data[split..])?;
    let mut sha = Sha1::new();
    sha.update(&head[..split]);
    sha.update(&data[split..]);
    std::fs::write(format!("{path}.sha1"), format!("{:x}", sha.finalize()))?;
    Ok(())
}

/// An artifacts.yaml of `artifacts` (`name` is `org.example.bench:<name>:1.0`) into a
/// directory cache of its own.
fn config(work: &Utf8Path, label: &str, maven: &str, artifacts: &[String]) -> Result<Utf8PathBuf> {
    let mut text = format!(
        "artifact_sources:\n  maven: {{class_name: maven, base_uri: \"{maven}\"}}\nartifact_caches:\n  dir: {{class_name: fs, base_uri: \"cache-{label}\"}}\ndefault_artifact_source: maven\ndefault_artifact_caches: [dir]\nartifacts:\n"
    );
    for name in artifacts {
        text.push_str(&format!("  {name}-1.0.jar: {{id: \"org.example.bench:{name}:1.0\"}}\n"));
    }
    let file = work.join(format!("{label}.yaml"));
    std::fs::write(&file, text)?;
    Ok(file)
}

/// The same copies as a shell loop: for each artifact missing in the cache, `curl` it to a
/// temporary file, then `cp` it into the cache; one at a time, or `jobs` at a time through
/// `xargs -P`.
fn curl_loop(work: &Utf8Path, label: &str, maven: &str, names: &[String], jobs: u16) -> Result<Measure> {
    let cache = work.join(format!("loop-cache-{label}"));
    let tmp = work.join(format!("loop-tmp-{label}"));
    std::fs::create_dir_all(&cache)?;
    std::fs::create_dir_all(&tmp)?;
    let mut list = String::new();
    for name in names {
        let path = pad_cache::maven_path(&format!("org.example.bench:{name}:1.0")).map_err(anyhow::Error::msg)?;
        list.push_str(&format!("{maven}/{path} {name}-1.0.jar\n"));
    }
    std::fs::write(work.join(format!("loop-{label}.txt")), list)?;
    let script = r#"set -euo pipefail
cache="$1"; tmp="$2"
while read -r url name; do
  if [ ! -e "$cache/$name" ]; then
    curl -sSf -o "$tmp/$name" "$url"
    cp "$tmp/$name" "$cache/$name"
    rm -f "$tmp/$name"
  fi
done < "$3"
"#;
    std::fs::write(work.join("loop.sh"), script)?;
    // The same body per artifact, `jobs` at a time.
    let parallel = r#"set -euo pipefail
export cache="$1" tmp="$2"
xargs -P "$4" -L 1 sh -c '
  set -e
  if [ ! -e "$cache/$2" ]; then
    curl -sSf -o "$tmp/$2" "$1"
    cp "$tmp/$2" "$cache/$2"
    rm -f "$tmp/$2"
  fi' sh < "$3"
"#;
    std::fs::write(work.join("parallel.sh"), parallel)?;
    let (script, what) = if jobs > 1 {
        ("parallel.sh", format!("curl + cp, xargs -P {jobs}"))
    } else {
        ("loop.sh", "sequential curl + cp loop".to_owned())
    };
    let started = Instant::now();
    Cmd::new("bash", work)
        .args([script, cache.as_str(), tmp.as_str(), &format!("loop-{label}.txt"), &jobs.to_string()])
        .run()
        .with_context(|| format!("the {what} failed"))?;
    let seconds = started.elapsed().as_secs_f64();
    let copied = std::fs::read_dir(&cache)?.count();
    if copied != names.len() {
        bail!("the {what} copied {copied} of {} artifacts", names.len());
    }
    Ok(Measure { what, seconds, peak_rss: None })
}

/// Runs a command to completion, stdout into `out`, and returns its seconds, its peak
/// resident memory (`VmHWM`, polled from /proc while it runs) and whether it succeeded.
fn measured(cmd: &Cmd, out: &Utf8Path) -> Result<(f64, u64, bool)> {
    let stdout = File::create(out).with_context(|| format!("creating {out}"))?;
    let started = Instant::now();
    let mut child = cmd.spawn(Sink::File(stdout), Sink::Inherit)?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        let text = std::fs::read_to_string(&status_file).unwrap_or_default();
        if let Some(kb) = text
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kb * 1024);
        }
        if let Some(status) = child.try_wait()? {
            return Ok((started.elapsed().as_secs_f64(), peak, status.success()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// nginx serving the repository on two ports: as fast as it can, and throttled.
struct Nginx {
    _server: Server,
    ports: (u16, u16),
}

impl Nginx {
    fn start(work: &Utf8Path, www: &Utf8Path) -> Result<Nginx> {
        let dir = work.join("nginx");
        std::fs::create_dir_all(&dir)?;
        let ports = pad_testkit::free_ports()?;
        let http = format!(
            "    access_log off;\n    sendfile on;\n    server {{ listen 127.0.0.1:{fast}; root {www}; }}\n    server {{ listen 127.0.0.1:{slow}; root {www}; limit_rate {rate}; }}",
            fast = ports.0,
            slow = ports.1,
            rate = THROTTLE.0,
        );
        let server = pad_testkit::nginx::start(&dir, 2, &http, ports.1)?;
        Ok(Nginx { _server: server, ports })
    }

    fn url(&self, throttled: bool) -> String {
        format!("http://127.0.0.1:{}", if throttled { self.ports.1 } else { self.ports.0 })
    }
}
