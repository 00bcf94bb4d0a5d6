//! `cargo xtask worker up|down|image`: worker hosts to deploy to, started and stopped
//! through `pad_testkit::worker`, in `<target>/worker`.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use camino::Utf8Path;
use pad_testkit::worker::{self, Backend, Options};

use crate::flags::{WorkerAction, WorkerArgs, WorkerUpArgs};

pub(crate) fn run(root: &Utf8Path, args: &WorkerArgs) -> Result<ExitCode> {
    let work = crate::workspace(root).target_dir.join("worker");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {work}"))?;
    match &args.action {
        WorkerAction::Up(up) => run_up(&work, up),
        WorkerAction::Down => run_down(&work),
        WorkerAction::Image => {
            let info = worker::ensure_image(&work)?;
            let how = if info.built { format!("built in {:.1} s", info.seconds) } else { "reused".to_owned() };
            eprintln!("worker image {} ({how})", info.tag);
            println!("{}", info.tag);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_up(work: &Utf8Path, args: &WorkerUpArgs) -> Result<ExitCode> {
    let options = Options {
        count: usize::from(args.count),
        sudo_rule: !args.no_sudo_rule,
        airflow_home_tmpfs: args.airflow_home_tmpfs.clone(),
        backend: Backend::detect()?,
        persistent: true,
    };
    let up = worker::up(work, &options)?;
    if let Some(image) = up.image.as_ref().filter(|image| image.built) {
        eprintln!("built the worker image {} in {:.1} s", image.tag, image.seconds);
    }
    let set = &up.set;
    for worker in &set.workers {
        eprintln!(
            "worker {}: ssh -i {} -o UserKnownHostsFile={} -p {} {}@{}",
            worker.name, set.identity, set.known_hosts, worker.port, worker.ssh_user, worker.host
        );
    }
    eprintln!("deploy target written (copy it to deploy/ to use it); stop with `cargo xtask worker down`");
    println!("{}", up.target_file);
    Ok(ExitCode::SUCCESS)
}

fn run_down(work: &Utf8Path) -> Result<ExitCode> {
    match worker::down(work)? {
        Some(set) => eprintln!("stopped worker set {} ({} workers)", set.id, set.workers.len()),
        None => eprintln!("no workers are up ({} does not exist)", worker::state_file(work)),
    }
    Ok(ExitCode::SUCCESS)
}
