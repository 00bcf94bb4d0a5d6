//! Unit tests of the kit's own pieces: test data and the server wrapper.

use camino::Utf8PathBuf;
use pad_process::Cmd;

use crate::{PYTHON, Server, Stop, free_port, random_bytes};

#[test]
fn random_bytes_are_fixed_by_their_seed() {
    assert_eq!(random_bytes(1001, 7), random_bytes(1001, 7));
    assert_ne!(random_bytes(64, 7), random_bytes(64, 8));
    assert_eq!(random_bytes(13, 1).len(), 13);
    // A prefix of a longer run: sizes cut the same stream.
    assert_eq!(random_bytes(100, 3)[..40], random_bytes(40, 3)[..]);
}

fn tmp() -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
    (dir, path)
}

#[test]
fn a_server_is_waited_for_and_stopped_when_dropped() {
    let (_dir, path) = tmp();
    let port = free_port().unwrap();
    let command = Cmd::new(PYTHON, &path).args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()]);
    let mut server = Server::spawn("http", &command, Stop::Term).unwrap();
    server.wait_for(port).unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    drop(server);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the server still listens");
}

#[test]
fn a_server_that_exits_first_fails_with_its_log() {
    let (_dir, path) = tmp();
    let command = Cmd::new("sh", &path).args(["-c", "echo cannot bind >&2; exit 3"]);
    let mut server = Server::spawn("broken", &command, Stop::Kill).unwrap();
    let err = server.wait_for(free_port().unwrap()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("broken exited") && text.contains("cannot bind"), "{text}");
    assert!(path.join("broken.log").is_file());
}

#[test]
fn required_docker_never_falls_back_to_sshd() {
    use crate::worker::Backend;
    let (up, down) = (|| true, || false);
    // Without the requirement: the variable, else the engine, else sshd.
    assert_eq!(Backend::choose(None, false, up).unwrap(), Backend::Docker);
    assert_eq!(Backend::choose(None, false, down).unwrap(), Backend::Sshd);
    assert_eq!(Backend::choose(Some("sshd"), false, up).unwrap(), Backend::Sshd);
    // With it (cargo xtask ci found an engine): Docker, or an error that says why.
    assert_eq!(Backend::choose(None, true, up).unwrap(), Backend::Docker);
    let err = Backend::choose(None, true, down).unwrap_err().to_string();
    assert!(err.contains("PAD_REQUIRE_DOCKER=1") && err.contains("does not answer"), "{err}");
    let err = Backend::choose(Some("sshd"), true, up).unwrap_err().to_string();
    assert!(err.contains("PAD_WORKER_BACKEND=sshd"), "{err}");
    assert!(Backend::choose(Some("podman"), false, up).unwrap_err().to_string().contains("use `docker` or `sshd`"));
}

/// A tool environment is installed under a temporary name, then renamed: its console
/// scripts, which name the interpreter by the path pip installed them at (on the `#!`
/// line, or in the `exec` line of the `/bin/sh` form pip writes for a long path), are
/// pointed at the environment's own interpreter.
#[test]
fn tool_scripts_name_the_interpreter_where_it_is() {
    let (_tmp, tools) = tmp();
    let env = tools.join("venv-pack-0.2.0");
    std::fs::create_dir_all(env.join("bin")).unwrap();
    let staging = tools.join(".tmp-venv-pack-0.2.0-4242/bin/python");
    let short = format!("#!{staging}\nimport sys\nfrom venv_pack.__main__ import main\nsys.exit(main())\n");
    let long = format!("#!/bin/sh\n'''exec' \"{staging}\" \"$0\" \"$@\"\n' '''\nimport sys\n");
    let other = "#!/bin/sh\necho /tmp/.tmp-elsewhere-1/bin/python\n";
    for (name, text) in [("venv-pack", short.as_str()), ("long", long.as_str()), ("other", other)] {
        std::fs::write(env.join("bin").join(name), text).unwrap();
        Cmd::new("chmod", &tools).args(["755", env.join("bin").join(name).as_str()]).run().unwrap();
    }
    crate::tools::point_scripts_at(&env).unwrap();
    let read = |name: &str| std::fs::read_to_string(env.join("bin").join(name)).unwrap();
    let own = env.join("bin/python");
    assert_eq!(read("venv-pack"), short.replace(staging.as_str(), own.as_str()));
    assert_eq!(read("long"), long.replace(staging.as_str(), own.as_str()));
    assert_eq!(read("other"), other, "a path that is not this environment's staging name stays");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(env.join("bin/venv-pack")).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o755);
}
