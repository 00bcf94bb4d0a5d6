//! Where a project declares its test-only dependencies: the first of the places existing
//! pipelines use, in a fixed order, or none at all (the toolchain's pytest then).

use std::collections::BTreeMap;
use std::fmt;

use camino::Utf8Path;
use serde::{Deserialize, Serialize};

use crate::Problem;
use crate::project::{DEV_REQUIREMENTS_FILE, PYPROJECT_FILE, TEST_REQUIREMENTS_FILE};
use crate::toml_file::TomlFile;

/// Where a project's test-only dependencies come from. [`TEST_DEPS_ORDER`] says which
/// place wins when there are several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum TestDeps {
    /// A requirements file in the project directory: `requirements-test.txt` or
    /// `requirements-dev.txt`.
    File { file: String },
    /// A PEP 735 dependency group of `pyproject.toml` (`[dependency-groups]`), whose
    /// `{include-group = "…"}` entries uv resolves.
    Group { group: String },
    /// An extra of `pyproject.toml` (`[project.optional-dependencies]`); it brings the
    /// project's own dependencies along.
    Extra { extra: String },
    /// None declared: the toolchain's pinned pytest.
    Toolchain,
}

/// The places [`TestDeps`] are looked for, in order, as the README gives them.
pub const TEST_DEPS_ORDER: &str = "requirements-test.txt; the `test` (or `tests`) group of pyproject.toml's [dependency-groups]; its `test` (or `tests`) extra in [project.optional-dependencies]; requirements-dev.txt; the `dev` group; the `dev` extra";

enum Place {
    File(&'static str),
    Group(&'static str),
    Extra(&'static str),
}

/// [`TEST_DEPS_ORDER`] as data: test-specific places before general development ones.
const PLACES: &[Place] = &[
    Place::File(TEST_REQUIREMENTS_FILE),
    Place::Group("test"),
    Place::Group("tests"),
    Place::Extra("test"),
    Place::Extra("tests"),
    Place::File(DEV_REQUIREMENTS_FILE),
    Place::Group("dev"),
    Place::Extra("dev"),
];

impl fmt::Display for TestDeps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TestDeps::File { file } => f.write_str(file),
            TestDeps::Group { group } => write!(f, "{PYPROJECT_FILE} [dependency-groups] {group}"),
            TestDeps::Extra { extra } => write!(f, "{PYPROJECT_FILE} [project.optional-dependencies] {extra}"),
            TestDeps::Toolchain => f.write_str("the toolchain's pytest"),
        }
    }
}

/// The parts of `pyproject.toml` read here; everything else is the build backend's.
#[derive(Default, Deserialize)]
pub(crate) struct PyProject {
    #[serde(default, rename = "dependency-groups")]
    groups: BTreeMap<String, Vec<toml::Value>>,
    #[serde(default)]
    project: ProjectTable,
}

#[derive(Default, Deserialize)]
struct ProjectTable {
    #[serde(default, rename = "optional-dependencies")]
    extras: BTreeMap<String, Vec<String>>,
}

impl PyProject {
    /// Reads `path`; a file that is not TOML, or whose groups or extras are not tables,
    /// is a problem at its line and column.
    pub(crate) fn read(path: &Utf8Path, rel: &Utf8Path, errors: &mut Vec<Problem>) -> Option<PyProject> {
        TomlFile::read(path, rel, errors)?.parse(
            errors,
            "fix pyproject.toml: `[dependency-groups]` maps names to lists (PEP 735), `[project.optional-dependencies]` maps extras to lists of requirements",
        )
    }

    fn has_group(&self, name: &str) -> bool {
        self.groups.keys().any(|key| normalize(key) == name)
    }

    fn has_extra(&self, name: &str) -> bool {
        self.project.extras.keys().any(|key| normalize(key) == name)
    }
}

/// A group or extra name as PEP 685 and PEP 735 compare them.
fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// The first place of [`PLACES`] the project at `dir` uses.
pub(crate) fn find(dir: &Utf8Path, pyproject: Option<&PyProject>) -> TestDeps {
    for place in PLACES {
        match place {
            Place::File(file) if dir.join(file).is_file() => return TestDeps::File { file: (*file).to_owned() },
            Place::Group(group) if pyproject.is_some_and(|p| p.has_group(group)) => {
                return TestDeps::Group { group: (*group).to_owned() };
            }
            Place::Extra(extra) if pyproject.is_some_and(|p| p.has_extra(extra)) => {
                return TestDeps::Extra { extra: (*extra).to_owned() };
            }
            _ => {}
        }
    }
    TestDeps::Toolchain
}
