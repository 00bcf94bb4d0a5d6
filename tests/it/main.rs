//! End-to-end tests: they run the `cargo xtask` front end as a process (built here as
//! `pad-xtask`) against real repositories, tools and services.
//!
//! Slow tests (building environments, starting services) run only when `PAD_E2E=1`, which
//! `cargo xtask ci` sets, so CI never skips them.

mod support;

mod airflow;
mod airflow_proof;
mod cache;
mod cli;
mod deploy;
mod examples;
mod foreign;
mod layout;
mod lint;
mod namespace;
mod new_project;
mod package;
mod pipeline;
mod registry;
mod render;
mod secrets;
mod test_flow;
mod trust;
mod venv;
mod worker;
