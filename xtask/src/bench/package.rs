//! `cargo xtask bench package`: our package writer against `tar -czf` and
//! `tar -I pigz -cf` over the same files, with sizes, ratios and a reproducibility check.
//!
//! Two kinds of ratio, labelled as such: against what a user would run (`tar -czf` of the
//! tree, which deflates the nested `venv.tar.gz` files a second time, as pigz does), and
//! like for like (the same files, with the nested archives stored by the peer too: `tar
//! -cf` of the other files through gzip or pigz, then `tar -cf` of the nested archives
//! through `pigz -0`, which stores, as a second gzip member).

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use camino::{Utf8Path, Utf8PathBuf};
use pad_process::Cmd;
use serde::Serialize;

use super::{Target, median, note, print_targets, timed, tool_version};
use crate::flags::BenchPackageArgs;
use crate::progress::Steps;
use pad_stdx::human_size;

#[derive(Serialize)]
struct Report {
    files: usize,
    input_bytes: u64,
    rows: Vec<Row>,
    targets: Vec<Target>,
    machine: Machine,
}

#[derive(Serialize)]
struct Row {
    packer: String,
    /// `user alternative` (what a user would run instead) or `like for like` (nested
    /// archives stored by the peer too).
    comparison: &'static str,
    seconds: f64,
    runs: Vec<f64>,
    size: u64,
    /// Their seconds over ours (ours: 1).
    speedup_of_ours: f64,
    /// Their size over ours.
    size_vs_ours: f64,
}

#[derive(Serialize)]
struct Machine {
    nproc: usize,
    xtask_profile: &'static str,
    tar: Option<String>,
    pigz: Option<String>,
}

pub(crate) fn run(root: &Utf8Path, args: &BenchPackageArgs) -> Result<ExitCode> {
    note("building (or reusing) the environments");
    let pad_flow::Prepared { spec, dist } = pad_flow::prepare(&crate::workspace(root), false, &Steps::new())?;
    let scratch = dist.parent().context("the target directory")?.join("bench/package");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).with_context(|| format!("removing {scratch}"))?;
    }
    let tree = scratch.join("tree");
    std::fs::create_dir_all(&tree).with_context(|| format!("creating {tree}"))?;
    // The same files, laid out as the package lays them out, for tar to read.
    let mut input_bytes = 0;
    for file in &spec.files {
        let dest = tree.join(&file.archive_path);
        std::fs::create_dir_all(dest.parent().expect("a file path has a parent"))?;
        input_bytes += std::fs::copy(&file.src, &dest).with_context(|| format!("copying {}", file.src))?;
    }

    let mut ours_runs = Vec::new();
    let mut hashes = Vec::new();
    let mut ours_size = 0;
    for run in 0..args.runs {
        note(&format!("ours, run {} of {}", run + 1, args.runs));
        let out = scratch.join(format!("ours-{run}"));
        let (package, seconds) = timed(|| pad_bundle::write_package(&spec, &out));
        let package = package?;
        ours_runs.push(seconds);
        ours_size = package.size;
        hashes.push(package.sha256);
    }
    let ours = median(&ours_runs);

    let pigz = tool_version(&Cmd::new("pigz", &scratch).arg("--version"));
    let mut rows = vec![Row {
        packer: "ours (cargo xtask package)".to_owned(),
        comparison: "",
        seconds: ours,
        runs: ours_runs,
        size: ours_size,
        speedup_of_ours: 1.0,
        size_vs_ours: 1.0,
    }];
    // The like-for-like peers: the files that are not already compressed, deflated;
    // the nested archives, stored (`pigz -0`), as a second gzip member.
    let (nested, others): (Vec<_>, Vec<_>) = spec.files.iter().partition(|f| f.precompressed);
    let list = |name: &str, files: &[&pad_bundle::PackageFile]| -> Result<Utf8PathBuf> {
        let path = scratch.join(name);
        let text: String = files.iter().map(|f| format!("{}\n", f.archive_path)).collect();
        std::fs::write(&path, text).with_context(|| format!("writing {path}"))?;
        Ok(path)
    };
    let (nested_list, others_list) = (list("nested.list", &nested)?, list("others.list", &others)?);
    let split = |deflate: &str, out: &Utf8Path| {
        let q = |p: &Utf8Path| pad_process::shell_quote(p.as_str());
        let tar = |list: &Utf8Path| format!("tar -cf - -C {} --verbatim-files-from -T {}", q(&tree), q(list));
        format!(
            "set -e; {} | {deflate} > {out}; {} | pigz -0 >> {out}",
            tar(&others_list),
            tar(&nested_list),
            out = q(out)
        )
    };

    let out_of = |label: &str| scratch.join(format!("{}.tar.gz", label.replace([' ', '|', ','], "_")));
    let mut alternatives: Vec<(&str, &str, Cmd)> = Vec::new();
    let label = "tar -czf";
    let cmd = Cmd::new("tar", &scratch).args(["-czf", out_of(label).as_str(), "-C", tree.as_str(), "."]);
    alternatives.push((label, "user alternative", cmd));
    if pigz.is_some() {
        let label = "tar -I pigz -cf";
        let cmd =
            Cmd::new("tar", &scratch).args(["-I", "pigz", "-cf", out_of(label).as_str(), "-C", tree.as_str(), "."]);
        alternatives.push((label, "user alternative", cmd));
        for (label, deflate) in [("tar | gzip, nested stored", "gzip -6"), ("tar | pigz, nested stored", "pigz -6")] {
            let cmd = Cmd::new("sh", &scratch).args(["-c", &split(deflate, &out_of(label))]);
            alternatives.push((label, "like for like", cmd));
        }
    }
    for (label, comparison, cmd) in &alternatives {
        let out = out_of(label);
        let mut runs = Vec::new();
        for run in 0..args.runs {
            note(&format!("{label}, run {} of {}", run + 1, args.runs));
            let _ = std::fs::remove_file(&out);
            let (result, seconds) = timed(|| cmd.run());
            result.with_context(|| format!("running {label}"))?;
            runs.push(seconds);
        }
        let size = std::fs::metadata(&out)?.len();
        let seconds = median(&runs);
        rows.push(Row {
            packer: (*label).to_owned(),
            comparison,
            seconds,
            runs,
            size,
            speedup_of_ours: seconds / ours,
            size_vs_ours: size as f64 / ours_size as f64,
        });
    }

    let reproducible = hashes.windows(2).all(|pair| pair[0] == pair[1]);
    let find = |label: &str| rows.iter().find(|r| r.packer == label);
    let mut targets = Vec::new();
    if let Some(tar) = find("tar -czf") {
        targets.push(Target {
            target: ">= 2x faster than tar -czf",
            measured: format!("{:.1}x", tar.speedup_of_ours),
            met: Some(tar.speedup_of_ours >= 2.0),
        });
    }
    match find("tar -I pigz -cf") {
        Some(pigz) => {
            targets.push(Target {
                target: "no slower than pigz",
                measured: format!("{:.1}x", pigz.speedup_of_ours),
                met: Some(pigz.speedup_of_ours >= 1.0),
            });
            targets.push(Target {
                target: "output no larger than pigz's",
                measured: format!("{} vs {}", human_size(ours_size), human_size(pigz.size)),
                met: Some(ours_size <= pigz.size),
            });
        }
        None => {
            targets.push(Target { target: "no slower than pigz", measured: "pigz not installed".into(), met: None })
        }
    }
    if let Some(peer) = find("tar | pigz, nested stored") {
        targets.push(Target {
            target: "like for like: no slower than pigz with the nested archives stored",
            measured: format!("{:.1}x", peer.speedup_of_ours),
            met: Some(peer.speedup_of_ours >= 1.0),
        });
    }
    if let Some(tar) = find("tar -czf") {
        targets.push(Target {
            target: "output no larger than tar -czf's",
            measured: format!("{} vs {}", human_size(ours_size), human_size(tar.size)),
            met: Some(ours_size <= tar.size),
        });
    }
    targets.push(Target {
        target: "byte-reproducible",
        measured: format!("{} runs, {} distinct sha256", hashes.len(), {
            let mut unique = hashes.clone();
            unique.sort();
            unique.dedup();
            unique.len()
        }),
        met: Some(reproducible),
    });

    let report = Report {
        files: spec.files.len(),
        input_bytes,
        rows,
        targets,
        machine: Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            xtask_profile: if cfg!(debug_assertions) { "debug" } else { "release" },
            tar: tool_version(&Cmd::new("tar", &scratch).arg("--version")),
            pigz,
        },
    };
    if args.json {
        crate::print_json(&report)?;
    } else {
        print_text(&report, &tree);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_text(report: &Report, tree: &Utf8PathBuf) {
    println!("{} files, {} of input ({tree})", report.files, human_size(report.input_bytes));
    println!(
        "{:<28} {:<17} {:>8} {:>10}  {:>14}  {:>10}",
        "packer", "comparison", "seconds", "size", "ours faster by", "their size"
    );
    for row in &report.rows {
        println!(
            "{:<28} {:<17} {:>8.2} {:>10}  {:>13.1}x  {:>9.3}x",
            row.packer,
            row.comparison,
            row.seconds,
            human_size(row.size),
            row.speedup_of_ours,
            row.size_vs_ours
        );
    }
    println!();
    println!("user alternative: what a user runs instead, `tar -czf` (or pigz) of the tree, which deflates the");
    println!("  nested venv.tar.gz a second time; our writer stores them, so these ratios mostly measure storing");
    println!("  against deflating again.");
    println!("like for like: the same files with the nested archives stored by the peer too (tar of the other");
    println!("  files through gzip -6 or pigz -6, then tar of the nested archives through pigz -0, which stores):");
    println!("  these ratios measure the writers themselves.");
    println!();
    print_targets(&report.targets);
    println!();
    let m = &report.machine;
    println!(
        "machine: {} cores; xtask {}; {}; {}",
        m.nproc,
        m.xtask_profile,
        m.tar.as_deref().unwrap_or("tar ?"),
        m.pigz.as_deref().unwrap_or("pigz not installed")
    );
    println!("ours = pad_bundle::write_package in process: hash every file for the manifest, write, verify, rename.");
}
