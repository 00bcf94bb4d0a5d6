//! System packages the tests need: found, installed with apt when we are root on
//! Debian or Ubuntu, or else named with the exact command that installs them.

use anyhow::{Result, bail};
use camino::Utf8Path;
use pad_process::Cmd;

/// One thing the tests need from the system.
struct Need {
    what: &'static str,
    /// The check, run as a command: it succeeds when the need is met.
    probe: &'static [&'static str],
    apt: &'static [&'static str],
}

const NEEDS: &[Need] = &[
    Need { what: "git", probe: &["git", "--version"], apt: &["git"] },
    Need {
        what: "Debian's Python 3 with venv and pip (/usr/bin/python3)",
        probe: &["/usr/bin/python3", "-c", "import ensurepip, venv, pip"],
        apt: &["python3", "python3-venv", "python3-pip"],
    },
    // The registry tests' WebDAV server (started by the tests, on 127.0.0.1).
    Need { what: "nginx with its WebDAV module", probe: &["/usr/sbin/nginx", "-v"], apt: &["nginx"] },
    // The artifact cache tests publish packages with curl; `bench cache` races a curl loop.
    Need { what: "curl", probe: &["curl", "--version"], apt: &["curl"] },
    // The deploy tests' worker hosts (crates/pad-testkit/src/worker.rs): the image is made with
    // debootstrap, keys with ssh-keygen, and the tests log in with the system ssh.
    Need { what: "debootstrap", probe: &["/usr/sbin/debootstrap", "--version"], apt: &["debootstrap"] },
    Need {
        what: "the OpenSSH client (ssh, ssh-keygen)",
        probe: &["sh", "-c", "command -v ssh && command -v ssh-keygen"],
        apt: &["openssh-client"],
    },
    // Workers are containers when a Docker engine answers (a client alone is not enough:
    // the tests ask the engine); without one, each is an sshd on a loopback address, which
    // needs sshd, sudo and iptables on this machine. `run` then says what that leaves
    // unproven, and refuses it under CI.
    Need {
        what: "a Docker engine that answers, or else sshd, sudo and iptables for the worker fallback",
        probe: &[
            "sh",
            "-c",
            "docker version --format '{{.Server.Version}}' || { test -x /usr/sbin/sshd && command -v sudo && command -v iptables; }",
        ],
        apt: &["openssh-server", "sudo", "iptables"],
    },
    // `cargo xtask bench package` and `bench venv` compare against `tar -I pigz`.
    Need { what: "pigz", probe: &["pigz", "--version"], apt: &["pigz"] },
    // `cargo xtask airflow up --db postgres` and its test run a PostgreSQL cluster of their
    // own (initdb, pg_ctl) from Debian's server binaries; runuser (util-linux) runs them as
    // a non-root user.
    Need {
        what: "PostgreSQL's server (initdb, pg_ctl) and runuser",
        probe: &["sh", "-c", "ls /usr/lib/postgresql/*/bin/pg_ctl && command -v runuser"],
        apt: &["postgresql", "util-linux"],
    },
];

/// Makes sure every need is met, installing what is missing when `install` is set and
/// apt can be used.
pub(super) fn ensure(root: &Utf8Path, install: bool) -> Result<()> {
    let missing = missing(root);
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().flat_map(|n| n.apt.iter().copied()).collect();
    let whats: Vec<&str> = missing.iter().map(|n| n.what).collect();
    let command = format!("apt-get install -y --no-install-recommends {}", packages.join(" "));
    if install && is_root(root) && Cmd::new("apt-get", root).arg("--version").run().is_ok() {
        eprintln!("==> installing {} ({})", whats.join(", "), packages.join(" "));
        let apt =
            |args: &[&str]| Cmd::new("apt-get", root).args(args).env("DEBIAN_FRONTEND", "noninteractive").run_inherit();
        apt(&["update", "-qq"])?;
        apt(&["install", "-y", "-qq", "--no-install-recommends"]
            .iter()
            .copied()
            .chain(packages.iter().copied())
            .collect::<Vec<_>>())?;
        let still = missing_names(root);
        if !still.is_empty() {
            bail!("still missing after installing {}: {}", packages.join(" "), still.join(", "));
        }
        return Ok(());
    }
    bail!(
        "the tests need {}; install with:\n  sudo {command}\n(on another system, install the equivalent packages)",
        whats.join(", ")
    )
}

fn missing(root: &Utf8Path) -> Vec<&'static Need> {
    NEEDS.iter().filter(|need| Cmd::new(need.probe[0], root).args(&need.probe[1..]).run().is_err()).collect()
}

fn missing_names(root: &Utf8Path) -> Vec<&'static str> {
    missing(root).iter().map(|n| n.what).collect()
}

fn is_root(root: &Utf8Path) -> bool {
    Cmd::new("id", root).arg("-u").read().is_ok_and(|uid| uid == "0")
}

/// The version of the Docker engine, when one answers (`docker version` asks the
/// engine; a client without one fails).
pub(super) fn docker_engine(root: &Utf8Path) -> Option<String> {
    Cmd::new("docker", root).args(["version", "--format", "{{.Server.Version}}"]).read().ok().filter(|v| !v.is_empty())
}
