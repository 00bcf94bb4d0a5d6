//! `cargo xtask new-project NAME`: scaffold a project and check that the layout accepts it.

use std::process::ExitCode;

use anyhow::{Context, Result};
use camino::Utf8Path;

use crate::flags::NewProjectArgs;

pub(crate) fn run(root: &Utf8Path, args: &NewProjectArgs) -> Result<ExitCode> {
    let created =
        pad_layout::new_project(root, &args.name).with_context(|| format!("cannot create project `{}`", args.name))?;
    pad_flow::discover(root).context("the new project was written, but the repository layout has problems")?;
    if args.json {
        crate::print_json(&created)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("created project `{}` (package {})", created.name, created.package);
    for file in &created.files {
        println!("  {file}");
    }
    println!("\nnext: add its dependencies to {}/requirements.txt, then `cargo xtask layout`", created.dir);
    Ok(ExitCode::SUCCESS)
}
