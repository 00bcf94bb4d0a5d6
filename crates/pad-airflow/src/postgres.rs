//! PostgreSQL for `--db postgres`: Debian's server binaries
//! (`/usr/lib/postgresql/<major>/bin`), a cluster of our own in `<data>/pg` made by
//! `initdb` and run by `pg_ctl` on a free port with its socket in the cluster directory
//! and no TCP listener. PostgreSQL refuses to run as root, so as root the cluster
//! belongs to the system user [`PG_USER`] (made when missing) and every server command
//! runs as that user through `runuser`.

use camino::{Utf8Path, Utf8PathBuf};
use pad_process::{Cmd, shell_quote};

use crate::state::ServiceState;
use crate::{AirflowError, proc};

/// The system user the cluster runs as when we are root.
pub const PG_USER: &str = "pad-postgres";
/// The role Airflow connects as (trust over the socket: only the cluster's directory,
/// mode 0700, reaches it).
const ROLE: &str = "airflow";
/// A unix socket path holds at most this many bytes.
const MAX_SOCKET_PATH: usize = 107;

/// Debian's newest installed server: `/usr/lib/postgresql/<major>/bin`.
fn bin_dir() -> Result<Utf8PathBuf, AirflowError> {
    let root = Utf8Path::new("/usr/lib/postgresql");
    let mut found: Vec<(u32, Utf8PathBuf)> = root
        .read_dir_utf8()
        .map_err(|_| AirflowError::NoPostgres)?
        .flatten()
        .filter_map(|e| Some((e.file_name().parse::<u32>().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("pg_ctl").is_file())
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or(AirflowError::NoPostgres)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// `program` with `args`, as [`PG_USER`] when we are root.
fn as_owner(program: &Utf8Path, dir: &Utf8Path) -> Cmd {
    if is_root() {
        Cmd::new("runuser", dir).args(["-u", PG_USER, "--", program.as_str()])
    } else {
        Cmd::new(program.as_str(), dir)
    }
}

/// Makes [`PG_USER`] when we are root and it does not exist.
fn ensure_user(dir: &Utf8Path) -> Result<(), AirflowError> {
    if !is_root() || Cmd::new("id", dir).args(["-u", PG_USER]).run().is_ok() {
        return Ok(());
    }
    Cmd::new("useradd", dir)
        .args(["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell"])
        .args(["/usr/sbin/nologin", PG_USER])
        .run()
        .map(drop)
        .map_err(|err| AirflowError::command(format!("creating the system user `{PG_USER}` for PostgreSQL"), &err))
}

/// Starts the cluster of `data` on `port` (making it first), and returns it with the
/// SQLAlchemy URL Airflow connects with.
pub(crate) fn start(data: &Utf8Path, port: u16) -> Result<(ServiceState, String), AirflowError> {
    let bin = bin_dir()?;
    let cluster = data.join("pg");
    let pgdata = cluster.join("data");
    let socket = cluster.join(format!(".s.PGSQL.{port}"));
    if socket.as_str().len() > MAX_SOCKET_PATH {
        return Err(AirflowError::SocketPathTooLong { path: socket });
    }
    std::fs::create_dir_all(&cluster).map_err(|source| AirflowError::io(&cluster, source))?;
    ensure_user(data)?;
    if is_root() {
        Cmd::new("chown", data)
            .args(["-R", &format!("{PG_USER}:{PG_USER}"), cluster.as_str()])
            .run()
            .map_err(|err| AirflowError::command(format!("giving `{cluster}` to {PG_USER}"), &err))?;
    }
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o700);
    std::fs::set_permissions(&cluster, mode).map_err(|source| AirflowError::io(&cluster, source))?;
    if !pgdata.join("PG_VERSION").is_file() {
        as_owner(&bin.join("initdb"), &cluster)
            .args(["-D", pgdata.as_str(), "-U", ROLE, "--auth=trust", "-E", "UTF8", "--no-instructions"])
            .run()
            .map_err(|err| AirflowError::command(format!("`initdb` of `{pgdata}`"), &err))?;
    }
    let log = cluster.join("postgres.log");
    // pg_ctl hands -o to a shell: every word quoted.
    let server_options = format!("-p {port} -k {} -c listen_addresses=''", shell_quote(cluster.as_str()));
    as_owner(&bin.join("pg_ctl"), &cluster)
        .args(["-D", pgdata.as_str(), "-l", log.as_str(), "-o", &server_options, "-w", "-t", "60", "start"])
        .run()
        .map_err(|err| AirflowError::Command {
            step: format!("`pg_ctl start` of `{pgdata}` (log `{log}`)"),
            tail: format!("{err}\n{}", crate::error::tail_file(&log, 20)),
        })?;
    let pid_file = pgdata.join("postmaster.pid");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|text| text.lines().next()?.trim().parse().ok())
        .ok_or_else(|| AirflowError::Invalid { path: pid_file.clone(), message: "no PID on its first line".into() })?;
    let start_time = proc::stat(pid).map(|s| s.start_time).unwrap_or_default();
    let url = format!("postgresql+psycopg2://{ROLE}@/postgres?host={cluster}&port={port}");
    Ok((ServiceState { name: "postgres".to_owned(), pid, start_time, log }, url))
}

/// Stops the cluster (`pg_ctl stop -m fast`), then its process group if anything of it
/// is left.
pub(crate) fn stop(pg: &ServiceState, data: &Utf8Path) {
    let pgdata = data.join("pg").join("data");
    if let Ok(bin) = bin_dir() {
        let stopped = as_owner(&bin.join("pg_ctl"), data)
            .args(["-D", pgdata.as_str(), "-m", "fast", "-w", "-t", "60", "stop"])
            .run();
        if let Err(err) = stopped {
            tracing::debug!("pg_ctl stop: {err}");
        }
    }
    if proc::group_is_ours(pg.pid, pg.start_time) {
        proc::stop_group(pg.pid, std::time::Duration::from_secs(10));
    }
}
