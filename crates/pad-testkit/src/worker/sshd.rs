//! The fallback without a Docker engine: one `sshd -D -f <own config>` per worker on its
//! own loopback address (127.0.0.2, 127.0.0.3, …; one port for the set, 2222 when free),
//! `UsePAM no`, running as root on this machine.
//!
//! This changes the machine a little: it creates the users `deployer` (`usermod -p '*'`,
//! key only) and `airflow-svc` when they are missing, and the empty directories
//! `/srv/airflow` and `/run/sshd`. Each sshd runs in a mount namespace of its own (`unshare
//! --mount`) where `/srv/airflow` (a directory of the set, or a tmpfs), `~deployer/.ssh`
//! (this worker's authorized key) and `/etc/sudoers.d` (the sudo rule, or none) are the
//! worker's, so workers of a set do not see each other's `AIRFLOW_HOME`; the rest of the
//! filesystem is this machine's. Failures are injected by process and packet:
//! `cut_network` drops the worker's packets with iptables, `pause`/`kill` send
//! STOP/CONT/KILL to every process of the namespace. Needs root, util-linux
//! (`unshare`, `nsenter`, `runuser`), openssh-server, sudo, and iptables for
//! `cut_network`.

use std::net::TcpListener;

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::{Cmd, Finished, Sink};

use super::{
    AIRFLOW_HOME, Handle, Options, SERVICE_USER, SSH_USER, Worker, WorkerSet, create_dir, keygen, known_hosts_line,
    lock, read, sshd_config, sudoers_rule, wait_for_ssh, write_atomic,
};
use crate::KitError;
use crate::error::{Context as _, failed};

const SSHD: &str = "/usr/sbin/sshd";
const FIRST_PORT: u16 = 2222;

fn root_dir() -> &'static Utf8Path {
    Utf8Path::new("/")
}

fn sh(script: &str) -> Result<String, KitError> {
    Ok(Cmd::new("sh", root_dir()).args(["-c", script]).read()?)
}

pub(super) fn start(work_dir: &Utf8Path, set: &mut WorkerSet, options: &Options) -> Result<(), KitError> {
    if sh("id -u")? != "0" {
        return Err(failed(
            "the sshd worker fallback runs as root (it creates users and mount namespaces); run as root or use Docker",
        ));
    }
    if !Utf8Path::new(SSHD).exists() {
        return Err(failed(format!("the sshd worker fallback needs {SSHD}: apt-get install openssh-server sudo")));
    }
    // One process at a time creates users and picks addresses and ports.
    let _guard = lock(&work_dir.join("sshd.lock"))?;
    sh(&format!(
        "id {SSH_USER} >/dev/null 2>&1 || useradd -m -s /bin/sh {SSH_USER}; usermod -p '*' {SSH_USER}; \
         id {SERVICE_USER} >/dev/null 2>&1 || useradd -r -m -s /bin/sh {SERVICE_USER}; \
         mkdir -p /run/sshd {AIRFLOW_HOME} /home/{SSH_USER}/.ssh; chmod 755 /run/sshd"
    ))
    .context("creating the worker users on this machine")?;
    let (uid, gid) = (sh(&format!("id -u {SERVICE_USER}"))?, sh(&format!("id -g {SERVICE_USER}"))?);
    let (deployer_uid, deployer_gid) = (sh(&format!("id -u {SSH_USER}"))?, sh(&format!("id -g {SSH_USER}"))?);

    let addrs: Vec<String> = (0..options.count).map(|i| format!("127.0.0.{}", i + 2)).collect();
    let port = free_port(&addrs)?;
    let public_key = read(&Utf8PathBuf::from(format!("{}.pub", set.identity)))?;
    for (index, addr) in addrs.iter().enumerate() {
        let name = format!("w{}", index + 1);
        let dir = set.dir.join(&name);
        for sub in ["ssh", "sudoers.d", "airflow"] {
            create_dir(&dir.join(sub))?;
        }
        keygen(&dir.join("ssh_host_ed25519_key"), &name)?;
        write_atomic(&dir.join("ssh/authorized_keys"), public_key.as_bytes())?;
        if options.sudo_rule {
            write_atomic(&dir.join("sudoers.d/pad"), sudoers_rule().as_bytes())?;
        }
        sh(&format!(
            "chmod 755 '{dir}' '{dir}/sudoers.d'; chmod 440 '{dir}'/sudoers.d/* 2>/dev/null; \
             chown -R {deployer_uid}:{deployer_gid} '{dir}/ssh'; chmod 700 '{dir}/ssh'; chmod 600 '{dir}/ssh/authorized_keys'; \
             chown {uid}:{gid} '{dir}/airflow'; chmod 755 '{dir}/airflow'"
        ))?;
        let config = dir.join("sshd_config");
        let extra = format!("ListenAddress {addr}:{port}\nHostKey {dir}/ssh_host_ed25519_key\nPidFile none\n");
        write_atomic(&config, sshd_config(&extra).as_bytes())?;
        let home_mount = match &options.airflow_home_tmpfs {
            Some(size) => {
                format!("mount -t tmpfs -o size={size},mode=755,uid={uid},gid={gid} pad-airflow {AIRFLOW_HOME}")
            }
            None => format!("mount --bind '{dir}/airflow' {AIRFLOW_HOME}"),
        };
        let script = format!(
            "exec >>'{dir}/sshd.log' 2>&1 </dev/null\nset -e\necho $$ > '{dir}/pid'\n{home_mount}\n\
             mount --bind '{dir}/ssh' /home/{SSH_USER}/.ssh\nmount --bind '{dir}/sudoers.d' /etc/sudoers.d\n\
             exec {SSHD} -D -e -f '{config}'\n"
        );
        // `setsid --fork`: the sshd outlives this process when it belongs to `worker up`.
        // It is spawned with its output nowhere rather than run with it captured: the
        // sshd it leaves behind would hold a capturing pipe open.
        let status = Cmd::new("setsid", root_dir())
            .args(["--fork", "unshare", "--mount", "--propagation", "private", "sh", "-c", &script])
            .spawn(Sink::Null, Sink::Null)
            .and_then(|mut setsid| setsid.wait())
            .context("starting sshd with setsid and unshare (util-linux)")?;
        if !status.success() {
            return Err(failed(format!("starting the sshd of worker {name} failed ({status})")));
        }
        let pid = wait_pid(&dir)?;
        let tag = format!("pad-worker-{}-{name}", set.id);
        set.workers.push(Worker {
            name: name.clone(),
            host: addr.clone(),
            port,
            ssh_user: SSH_USER.to_owned(),
            service_user: SERVICE_USER.to_owned(),
            identity: set.identity.clone(),
            known_hosts: dir.join("known_hosts"),
            airflow_home: AIRFLOW_HOME.to_owned(),
            handle: Handle::Sshd { pid, dir: dir.clone(), addr: addr.clone(), port, tag },
        });
        set.save()?;
        let log = dir.join("sshd.log");
        wait_for_ssh(&name, addr, port, &|| alive(pid), &|| std::fs::read_to_string(&log).unwrap_or_default())?;
        let line = known_hosts_line(addr, port, &dir.join("ssh_host_ed25519_key.pub"))?;
        write_atomic(&dir.join("known_hosts"), line.as_bytes())?;
    }
    Ok(())
}

/// The first port from 2222 on that every address of the set can bind.
fn free_port(addrs: &[String]) -> Result<u16, KitError> {
    for port in FIRST_PORT..FIRST_PORT + 200 {
        if addrs.iter().all(|addr| TcpListener::bind((addr.as_str(), port)).is_ok()) {
            return Ok(port);
        }
    }
    Err(failed(format!("no free port from {FIRST_PORT} on for {}", addrs.join(", "))))
}

fn wait_pid(dir: &Utf8Path) -> Result<u32, KitError> {
    let file = dir.join("pid");
    for _ in 0..100 {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Ok(pid) = text.trim().parse()
        {
            return Ok(pid);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(failed(format!(
        "the sshd wrapper did not write {file}; its log:\n{}",
        std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
    )))
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| !rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

fn mount_ns(pid: u32) -> Option<Utf8PathBuf> {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok()?;
    Utf8PathBuf::from_path_buf(link).ok()
}

/// Every live process in the mount namespace of `pid`: the worker's sshd and its sessions.
fn processes(pid: u32) -> Vec<u32> {
    let Some(ns) = mount_ns(pid) else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| alive(*p) && mount_ns(*p).as_ref() == Some(&ns))
        .collect()
}

pub(super) fn signal_all(pid: u32, signal: &str) -> Result<(), KitError> {
    let pids = processes(pid);
    if pids.is_empty() {
        return Err(failed(format!("the worker's sshd (pid {pid}) is not running")));
    }
    let mut args = vec![format!("-{signal}")];
    args.extend(pids.iter().map(u32::to_string));
    // Some may have exited meanwhile: that is not an error here.
    Cmd::new("kill", root_dir()).args(args).run_unchecked()?;
    Ok(())
}

pub(super) fn stop(set: &WorkerSet) -> Result<(), KitError> {
    for worker in &set.workers {
        if let Handle::Sshd { pid, addr, port, tag, .. } = &worker.handle {
            let _ = block(addr, *port, tag, false);
            if alive(*pid) {
                let _ = signal_all(*pid, "KILL");
            }
        }
    }
    Ok(())
}

pub(super) fn exec(pid: u32, user: &str, script: &str) -> Result<Finished, KitError> {
    let target = pid.to_string();
    let mut cmd = Cmd::new("nsenter", root_dir()).args(["--target", &target, "--mount", "--wd=/", "--"]);
    if user != "root" {
        cmd = cmd.args(["runuser", "-u", user, "--"]).env("HOME", format!("/home/{user}")).env("USER", user);
    }
    Ok(cmd.args(["sh", "-c", script]).run_unchecked()?)
}

pub(super) fn copy_in(pid: u32, from: &Utf8Path, dest: &str) -> Result<(), KitError> {
    let target = pid.to_string();
    Cmd::new("nsenter", root_dir())
        .args(["--target", &target, "--mount", "--", "cp", "--", from.as_str(), dest])
        .run()
        .with_context(|| format!("copying {from} to {dest}"))?;
    Ok(())
}

/// Drops (or stops dropping) every packet to and from the worker's address and port.
pub(super) fn block(addr: &str, port: u16, tag: &str, on: bool) -> Result<(), KitError> {
    let port = port.to_string();
    let rules: [[&str; 4]; 2] = [["-d", addr, "--dport", &port], ["-s", addr, "--sport", &port]];
    for [host_flag, host, port_flag, port] in rules {
        let action = if on { "-I" } else { "-D" };
        let rule = [
            "-w",
            action,
            "INPUT",
            "-p",
            "tcp",
            host_flag,
            host,
            port_flag,
            port,
            "-m",
            "comment",
            "--comment",
            tag,
            "-j",
            "DROP",
        ];
        let result = Cmd::new("iptables", root_dir()).args(rule).run();
        if on {
            result.context("dropping the worker's packets with iptables (apt-get install iptables)")?;
        }
    }
    Ok(())
}
