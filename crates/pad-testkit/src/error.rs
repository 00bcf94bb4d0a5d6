//! `KitError`: what went wrong starting or driving a host or a server, with the step that
//! failed named, and the cause kept.

use std::fmt;
use std::io;

use pad_process::ProcessError;
use pad_venv::VenvError;

/// An error of the test kit. Its `Debug` is the whole chain on one line, so a test's
/// `unwrap` shows what went wrong and why.
#[derive(thiserror::Error)]
pub enum KitError {
    /// A command failed; its error shows the command line and what it printed.
    #[error(transparent)]
    Command(Box<ProcessError>),
    /// Something is not as it must be; the message says what, and the fix.
    #[error("{0}")]
    Failed(String),
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("{context}")]
    Process {
        context: String,
        #[source]
        source: Box<ProcessError>,
    },
    #[error("{context}")]
    Json {
        context: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{context}")]
    Venv {
        context: String,
        #[source]
        source: Box<VenvError>,
    },
    /// Another error of the kit, with the step it stopped.
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<KitError>,
    },
}

impl fmt::Debug for KitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&pad_layout::error_chain(self))
    }
}

impl From<ProcessError> for KitError {
    fn from(err: ProcessError) -> KitError {
        KitError::Command(Box::new(err))
    }
}

/// A [`KitError::Failed`] from a message.
pub(crate) fn failed(message: impl Into<String>) -> KitError {
    KitError::Failed(message.into())
}

/// Says which step an error stopped, as `anyhow`'s `with_context` does, into a
/// [`KitError`].
pub(crate) trait Context<T> {
    fn with_context(self, context: impl FnOnce() -> String) -> Result<T, KitError>;

    fn context(self, context: &str) -> Result<T, KitError>
    where
        Self: Sized,
    {
        self.with_context(|| context.to_owned())
    }
}

impl<T> Context<T> for Result<T, io::Error> {
    fn with_context(self, context: impl FnOnce() -> String) -> Result<T, KitError> {
        self.map_err(|source| KitError::Io { context: context(), source })
    }
}

impl<T> Context<T> for Result<T, ProcessError> {
    fn with_context(self, context: impl FnOnce() -> String) -> Result<T, KitError> {
        self.map_err(|source| KitError::Process { context: context(), source: Box::new(source) })
    }
}

impl<T> Context<T> for Result<T, serde_json::Error> {
    fn with_context(self, context: impl FnOnce() -> String) -> Result<T, KitError> {
        self.map_err(|source| KitError::Json { context: context(), source })
    }
}

impl<T> Context<T> for Result<T, VenvError> {
    fn with_context(self, context: impl FnOnce() -> String) -> Result<T, KitError> {
        self.map_err(|source| KitError::Venv { context: context(), source: Box::new(source) })
    }
}

impl<T> Context<T> for Result<T, KitError> {
    fn with_context(self, context: impl FnOnce() -> String) -> Result<T, KitError> {
        self.map_err(|source| KitError::Context { context: context(), source: Box::new(source) })
    }
}
