//! JUnit XML for the DAG check and the lint, so CI shows each DAG file and each finding
//! as a test case. (pytest writes the projects' reports itself.)

use std::fmt::Write as _;

use camino::Utf8Path;
use pad_venv::{DagReport, LintReport};

use crate::FlowError;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

/// The JUnit XML of a DAG check: one case per loaded DAG, one failing case per problem.
pub(crate) fn dag_report_xml(report: &DagReport) -> String {
    let suite = format!("dags (Airflow {})", report.airflow_version);
    let mut cases = String::new();
    for dag in &report.dags {
        let _ = writeln!(cases, r#"  <testcase classname="{}" name="{}"/>"#, escape(&dag.file), escape(&dag.dag_id));
    }
    for problem in &report.problems {
        let _ = writeln!(
            cases,
            "  <testcase classname=\"{}\" name=\"{}\">\n    <failure message=\"{}\">{}</failure>\n  </testcase>",
            escape(&problem.file),
            escape(&problem.kind),
            escape(&problem.message),
            escape(&problem.detail)
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">\n{cases}</testsuite>\n",
        escape(&suite),
        report.dags.len() + report.problems.len(),
        report.problems.len(),
        report.seconds
    )
}

/// Writes `dags-airflow-<series>.xml` into `dir`.
pub(crate) fn write_dag_report(dir: &Utf8Path, report: &DagReport) -> Result<(), FlowError> {
    std::fs::create_dir_all(dir).map_err(|source| FlowError::Io { action: "create", path: dir.to_owned(), source })?;
    let path = dir.join(format!("dags-airflow-{}.xml", report.series));
    std::fs::write(&path, dag_report_xml(report)).map_err(|source| FlowError::Io { action: "write", path, source })
}

/// The JUnit XML of a lint: one failing case per finding (file, line and rule), or one
/// passing case when there is none.
pub(crate) fn lint_report_xml(report: &LintReport) -> String {
    let mut cases = String::new();
    for finding in &report.findings {
        let _ = writeln!(
            cases,
            "  <testcase classname=\"{}\" name=\"{}:{} {}\">\n    <failure message=\"{}\" type=\"{}\">{}</failure>\n  </testcase>",
            escape(&finding.file),
            finding.line,
            finding.column,
            escape(&finding.code),
            escape(&finding.message),
            escape(&finding.code),
            escape(&finding.to_string())
        );
    }
    if report.findings.is_empty() {
        cases.push_str("  <testcase classname=\"ruff\" name=\"dags and projects\"/>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">\n{cases}</testsuite>\n",
        escape(&format!("lint ({})", report.ruff_version)),
        report.findings.len().max(1),
        report.findings.len(),
        report.seconds
    )
}

/// Writes `lint.xml` into `dir`.
pub(crate) fn write_lint_report(dir: &Utf8Path, report: &LintReport) -> Result<(), FlowError> {
    std::fs::create_dir_all(dir).map_err(|source| FlowError::Io { action: "create", path: dir.to_owned(), source })?;
    let path = dir.join("lint.xml");
    std::fs::write(&path, lint_report_xml(report)).map_err(|source| FlowError::Io { action: "write", path, source })
}
