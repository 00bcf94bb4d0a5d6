//! Who runs a command on a host: a transport together with the account its commands run
//! as, the service user through `sudo -n -u` or else the login user. The one place that
//! writes `sudo`, and the one that reads its refusals.

use std::io;

use pad_process::shell_quote;

use crate::host::{Exec, Feed, Host, HostSpec, Resolved, Running};
use crate::scripts;
use crate::{DeployError, Step};

/// A host's transport and the account its commands run as.
pub(crate) struct Shell {
    host: Box<dyn Host>,
    /// The target's service user; `None` runs commands as the login user.
    service_user: Option<String>,
}

impl Shell {
    /// Connects to `spec`, to run commands as the target's service user.
    pub(crate) fn connect(spec: &HostSpec, resolved: &Resolved) -> Result<Shell, DeployError> {
        Ok(Shell::new(crate::host::connect(spec)?, resolved.service_user.as_deref()))
    }

    pub(crate) fn new(host: Box<dyn Host>, service_user: Option<&str>) -> Shell {
        Shell { host, service_user: service_user.map(str::to_owned) }
    }

    /// The host's name as the target lists it (`local` for this machine).
    pub(crate) fn name(&self) -> &str {
        self.host.name()
    }

    /// The account commands run as: the service user, or the login user when the
    /// target names none.
    pub(crate) fn runs_as(&self) -> &str {
        self.service_user.as_deref().unwrap_or_else(|| self.host.login_user())
    }

    /// Runs `script` with `sh`, as [`Shell::runs_as`]; its output without ticks. A
    /// refusal by `sudo` is an error; any other exit status is the caller's to judge.
    pub(crate) fn run(&mut self, step: Step, script: &str, feed: Option<&mut Feed<'_>>) -> Result<Exec, DeployError> {
        let command = self.command(script);
        let mut exec = self.host.exec(&command, feed).map_err(|source| self.transport(step, source))?;
        exec.output = scripts::strip_ticks(exec.output);
        if exec.status != 0
            && let Some(err) = self.refusal(&exec.output)
        {
            return Err(err);
        }
        Ok(exec)
    }

    /// Starts `script` with `sh`, as [`Shell::runs_as`], its input open until
    /// [`Running::close`].
    pub(crate) fn spawn(&mut self, step: Step, script: &str) -> Result<Box<dyn Running>, DeployError> {
        let command = self.command(script);
        self.host.spawn(&command).map_err(|source| self.transport(step, source))
    }

    /// Checks that commands run as [`Shell::runs_as`], before anything is written.
    pub(crate) fn check_access(&mut self) -> Result<(), DeployError> {
        let command = self.command(&scripts::Preflight.text());
        let exec = self.host.exec(&command, None).map_err(|source| self.transport(Step::Connect, source))?;
        if exec.status != 0 || !scripts::Preflight::parse(&exec.output) {
            return Err(self.refused(&exec.output));
        }
        Ok(())
    }

    /// `output` as `sudo`'s refusal to run a command, when it is one.
    pub(crate) fn refusal(&self, output: &str) -> Option<DeployError> {
        let refused = output.lines().any(|l| {
            l.starts_with("sudo:")
                || l.contains("is not allowed to execute")
                || l.contains("is not in the sudoers file")
        });
        refused.then(|| self.refused(output))
    }

    /// A connection that failed during `step`.
    pub(crate) fn transport(&self, step: Step, source: io::Error) -> DeployError {
        DeployError::Transport { host: self.host.name().to_owned(), step, source }
    }

    fn refused(&self, output: &str) -> DeployError {
        DeployError::SudoRefused {
            host: self.host.name().to_owned(),
            login_user: self.host.login_user().to_owned(),
            service_user: self.service_user.clone().unwrap_or_default(),
            output: output.trim().replace('\n', "; "),
        }
    }

    fn command(&self, script: &str) -> String {
        as_service(self.service_user.as_deref(), self.host.login_user(), script)
    }
}

/// The command line that runs `script` with `sh` as `service_user` (through
/// `sudo -n`, which never prompts), or as the login user when it is `None` or the login
/// user itself. Only [`Shell`] calls it.
pub(crate) fn as_service(service_user: Option<&str>, login_user: &str, script: &str) -> String {
    match service_user {
        Some(user) if user != login_user => {
            format!("sudo -n -u {} -- sh -c {}", shell_quote(user), shell_quote(script))
        }
        _ => format!("sh -c {}", shell_quote(script)),
    }
}
