//! The Docker backend: a private network per set, a container per worker, everything
//! labelled with its set and owner and removed by ID.

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::{Cmd, Finished, ProcessError};

use super::{
    AIRFLOW_HOME, Handle, Options, SERVICE_USER, Worker, WorkerSet, create_dir, keygen, known_hosts_line, lock,
    owner_alive, read, sshd_config, sudoers_rule, wait_for_ssh, write_atomic,
};
use crate::KitError;
use crate::error::{Context as _, failed};

const SETUP: &str = include_str!("setup.sh");
const SET_LABEL: &str = "pad.worker.set";
const OWNER_LABEL: &str = "pad.worker.owner";

/// Runs `docker ARGS` and returns its trimmed stdout.
pub(super) fn docker(args: &[&str]) -> Result<String, ProcessError> {
    Cmd::new("docker", Utf8Path::new("/")).args(args).read()
}

/// Whether a Docker engine answers.
pub(super) fn engine_answers() -> bool {
    docker(&["version", "--format", "{{.Server.Version}}"]).is_ok()
}

pub(super) fn start(work_dir: &Utf8Path, set: &mut WorkerSet, options: &Options) -> Result<(), KitError> {
    let image = super::ensure_image(work_dir)?.tag;
    let labels = [format!("{SET_LABEL}={}", set.id), format!("{OWNER_LABEL}={}", set.owner)];
    let network = format!("pad-worker-{}", set.id);
    create_network(work_dir, &network, &labels)?;
    set.network = Some(network.clone());
    set.save()?;

    let public_key = read(&Utf8PathBuf::from(format!("{}.pub", set.identity)))?;
    for index in 1..=options.count {
        let name = format!("w{index}");
        let files = set.dir.join(&name).join("pad");
        create_dir(&files)?;
        keygen(&files.join("ssh_host_ed25519_key"), &name)?;
        write_atomic(&files.join("setup.sh"), SETUP.as_bytes())?;
        write_atomic(
            &files.join("sshd_config"),
            sshd_config("Port 22\nHostKey /etc/ssh/ssh_host_ed25519_key\n").as_bytes(),
        )?;
        write_atomic(&files.join("authorized_keys"), public_key.as_bytes())?;
        if options.sudo_rule {
            write_atomic(&files.join("sudoers"), sudoers_rule().as_bytes())?;
        }
        let container = format!("pad-worker-{}-{name}", set.id);
        let mut args: Vec<String> =
            ["create", "--name", &container, "--hostname", &name, "--network", &network].map(str::to_owned).to_vec();
        for label in &labels {
            args.extend(["--label".to_owned(), label.clone()]);
        }
        if let Some(size) = &options.airflow_home_tmpfs {
            // `exec`: Docker mounts a tmpfs noexec by default, and releases run from here.
            args.extend(["--tmpfs".to_owned(), format!("{AIRFLOW_HOME}:rw,exec,size={size},mode=755")]);
        }
        args.extend([image.clone(), "/bin/sh".to_owned(), "/pad/setup.sh".to_owned()]);
        let id = docker(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .with_context(|| format!("creating the container of worker {name}"))?;
        set.workers.push(Worker {
            name: name.clone(),
            host: String::new(),
            port: 22,
            ssh_user: super::SSH_USER.to_owned(),
            service_user: SERVICE_USER.to_owned(),
            identity: set.identity.clone(),
            known_hosts: set.dir.join(&name).join("known_hosts"),
            airflow_home: AIRFLOW_HOME.to_owned(),
            handle: Handle::Container { id: id.clone(), network: network.clone(), ip: String::new() },
        });
        set.save()?;
        docker(&["cp", files.as_str(), &format!("{id}:/pad")])
            .with_context(|| format!("copying the setup files into worker {name}"))?;
        docker(&["start", &id]).with_context(|| format!("starting worker {name}"))?;
    }

    for worker in &mut set.workers {
        let Handle::Container { id, ip, .. } = &mut worker.handle else { unreachable!("a container worker") };
        let format = format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}");
        *ip = docker(&["inspect", "--format", &format, id])?;
        if ip.is_empty() {
            return Err(failed(format!("worker {} has no address on {network}; its log:\n{}", worker.name, logs(id))));
        }
        worker.host = ip.clone();
        let (id, host) = (id.clone(), ip.clone());
        wait_for_ssh(&worker.name, &host, 22, &|| running(&id), &|| logs(&id))?;
        let pub_key = set.dir.join(&worker.name).join("pad/ssh_host_ed25519_key.pub");
        write_atomic(&worker.known_hosts, known_hosts_line(&host, 22, &pub_key)?.as_bytes())?;
    }
    Ok(())
}

/// Creates the set's network with an explicit subnet (the one Docker would choose), so a
/// worker taken off it comes back at the same address.
fn create_network(work_dir: &Utf8Path, name: &str, labels: &[String]) -> Result<(), KitError> {
    // Networks are created one at a time here, so two sets never pick the same subnet.
    let _guard = lock(&work_dir.join("network.lock"))?;
    let mut args: Vec<&str> = vec!["network", "create", "--internal"];
    for label in labels {
        args.extend(["--label", label]);
    }
    let probe = [args.as_slice(), &[name]].concat();
    docker(&probe).with_context(|| format!("creating the Docker network {name}"))?;
    let config =
        docker(&["network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}", name]);
    docker(&["network", "rm", name])?;
    let config = config?;
    let (subnet, gateway) = config.split_once(' ').unwrap_or((config.as_str(), ""));
    let mut fixed = args.clone();
    fixed.extend(["--subnet", subnet]);
    if !gateway.is_empty() {
        fixed.extend(["--gateway", gateway]);
    }
    fixed.push(name);
    docker(&fixed).with_context(|| format!("creating the Docker network {name} on {subnet}"))?;
    Ok(())
}

pub(super) fn stop(set: &WorkerSet) -> Result<(), KitError> {
    let mut errors = Vec::new();
    let ids: Vec<&str> = set
        .workers
        .iter()
        .filter_map(|w| match &w.handle {
            Handle::Container { id, .. } => Some(id.as_str()),
            Handle::Sshd { .. } => None,
        })
        .collect();
    if !ids.is_empty() {
        let args = [&["rm", "--force", "--volumes"][..], &ids].concat();
        if let Err(err) = docker(&args)
            && !err.to_string().contains("No such container")
        {
            errors.push(err);
        }
    }
    if let Some(network) = &set.network
        && let Err(err) = docker(&["network", "rm", network])
        && !err.to_string().contains("not found")
    {
        errors.push(err);
    }
    match errors.into_iter().next() {
        Some(err) => Err(err).with_context(|| format!("removing worker set {}", set.id)),
        None => Ok(()),
    }
}

/// Removes containers and networks labelled by a process that is gone, in case the
/// target directory that recorded them was cleaned.
pub(super) fn sweep_labelled() {
    if !engine_answers() {
        return;
    }
    let filter = format!("label={OWNER_LABEL}");
    let format = format!("{{{{.ID}}}} {{{{.Label \"{OWNER_LABEL}\"}}}}");
    if let Ok(list) = docker(&["ps", "--all", "--filter", &filter, "--format", &format]) {
        for (id, owner) in list.lines().filter_map(|l| l.split_once(' ')) {
            if !owner_alive(owner) {
                tracing::info!("removing worker container {id} left by a process that is gone");
                let _ = docker(&["rm", "--force", "--volumes", id]);
            }
        }
    }
    if let Ok(list) = docker(&["network", "ls", "--filter", &filter, "--format", &format]) {
        for (id, owner) in list.lines().filter_map(|l| l.split_once(' ')) {
            if !owner_alive(owner) {
                let _ = docker(&["network", "rm", id]);
            }
        }
    }
}

fn running(id: &str) -> bool {
    docker(&["inspect", "--format", "{{.State.Running}}", id]).is_ok_and(|s| s == "true")
}

fn logs(id: &str) -> String {
    match Cmd::new("docker", Utf8Path::new("/")).args(["logs", "--tail", "100", id]).run_unchecked() {
        Ok(out) => format!("{}{}", out.stdout, out.stderr),
        Err(err) => format!("(docker logs failed: {err})"),
    }
}

pub(super) fn exec(id: &str, user: &str, script: &str) -> Result<Finished, KitError> {
    Ok(Cmd::new("docker", Utf8Path::new("/"))
        .args(["exec", "--user", user, "--workdir", "/", id, "sh", "-c", script])
        .run_unchecked()?)
}

pub(super) fn copy_in(id: &str, from: &Utf8Path, dest: &str) -> Result<(), KitError> {
    docker(&["cp", from.as_str(), &format!("{id}:{dest}")]).with_context(|| format!("copying {from} to {dest}"))?;
    Ok(())
}

pub(super) fn disconnect(id: &str, network: &str) -> Result<(), KitError> {
    docker(&["network", "disconnect", network, id]).context("cutting the worker off its network")?;
    Ok(())
}

pub(super) fn connect(id: &str, network: &str, ip: &str) -> Result<(), KitError> {
    docker(&["network", "connect", "--ip", ip, network, id]).context("putting the worker back on its network")?;
    Ok(())
}
