//! `FlowError`: why a flow stopped, naming the object and the fix, with the library error
//! underneath kept as its source.

use std::io;

use camino::Utf8PathBuf;
use pad_bundle::BundleError;
use pad_deploy::DeployError;
use pad_layout::LayoutError;
use pad_registry::RegistryError;
use pad_venv::VenvError;

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A YAML DAG that does not render, or a generated file that is stale.
    #[error(transparent)]
    Render(#[from] pad_render::RenderError),
    #[error(transparent)]
    Venv(Box<VenvError>),
    #[error(transparent)]
    CiConfig(#[from] pad_ci::CiError),
    #[error("no project `{name}` in {root}/projects (projects: {})", known.join(", "))]
    NoProject { name: String, root: Utf8PathBuf, known: Vec<String> },
    #[error(
        "project `{project}` has no environment to package (fix it, then rerun; `cargo xtask venv {project}` shows the same error)"
    )]
    NoEnvironment {
        project: String,
        #[source]
        source: Box<VenvError>,
    },
    #[error(
        "project `{project}` has an environment but no venv.tar.gz at {dir}: run `cargo xtask venv --force {project}`"
    )]
    NoTarball { project: String, dir: Utf8PathBuf },
    #[error("listing the files to package")]
    ReleaseFiles(#[source] io::Error),
    /// The package could not be written; `hint` (`; …`, or empty) says what to do when a
    /// person can do something.
    #[error("no package written{hint}")]
    NoPackageWritten {
        hint: String,
        #[source]
        source: BundleError,
    },
    #[error("{project}: no environment to test in: {cause}")]
    NoEnvironmentToTest { project: String, cause: String },
    #[error(
        "no Airflow version is pinned: add {}/<series>/requirements.txt (such as `apache-airflow==2.10.5`)",
        pad_venv::AIRFLOW_PINS_DIR
    )]
    NoAirflowPin,
    /// Tests failed; one line per failure.
    #[error("{} failure{}:\n  {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, .0.join("\n  "))]
    TestsFailed(Vec<String>),
    #[error("cannot {action} `{path}`")]
    Io {
        action: &'static str,
        path: Utf8PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Registry(Box<RegistryError>),
    #[error("`{file}` is not a package made by `cargo xtask package`")]
    NotAPackage {
        file: Utf8PathBuf,
        #[source]
        source: Box<BundleError>,
    },
    #[error(
        "there is no package for version `{version}` at `{path}`: build it with `cargo xtask package`, fetch it with `cargo xtask fetch {version}`, or pass --from-registry {version}"
    )]
    NoPackageForVersion { version: String, path: Utf8PathBuf },
    #[error("there is no target `{name}`: add deploy/{name}.toml, or use one of: {}", known.join(", "))]
    NoTarget { name: String, known: Vec<String> },
    #[error(
        "the package `{package}` does not exist: build it with `cargo xtask package`, or fetch it with `cargo xtask fetch VERSION`"
    )]
    MissingPackage { package: Utf8PathBuf },
    #[error("deploying `{package}` to target `{target}`")]
    Deploy {
        package: Utf8PathBuf,
        target: String,
        #[source]
        source: Box<DeployError>,
    },
    #[error("deploy-local-build stopped before packaging: the tests failed")]
    StoppedBeforePackaging(#[source] Box<FlowError>),
    #[error("the layout has no `local` target")]
    NoLocalTarget,
    #[error("no Airflow series `{series}` is pinned: use one of {} (deploy/airflow/<series>)", known.join(", "))]
    NoAirflowSeries { series: String, known: Vec<String> },
    #[error("the local target's AIRFLOW_HOME: {0}")]
    AirflowHome(String),
    #[error(transparent)]
    Airflow(Box<pad_airflow::AirflowError>),
    /// Several failures of the same kind, each its own error; shown one by one.
    #[error("{} projects failed", .0.len())]
    Several(Vec<FlowError>),
}

impl From<VenvError> for FlowError {
    fn from(err: VenvError) -> FlowError {
        FlowError::Venv(Box::new(err))
    }
}

impl From<pad_airflow::AirflowError> for FlowError {
    fn from(err: pad_airflow::AirflowError) -> FlowError {
        FlowError::Airflow(Box::new(err))
    }
}

impl From<RegistryError> for FlowError {
    fn from(err: RegistryError) -> FlowError {
        FlowError::Registry(Box::new(err))
    }
}

impl FlowError {
    /// No error for no failures, the one for one, [`FlowError::Several`] for more.
    pub fn from_failures(failures: Vec<FlowError>) -> Result<(), FlowError> {
        match failures.len() {
            0 => Ok(()),
            1 => Err(failures.into_iter().next().expect("one failure")),
            _ => Err(FlowError::Several(failures)),
        }
    }
}
