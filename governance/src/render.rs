//! Renderings of a [`Report`] for people and CI.
//!
//! - **text**: a table, one change per row, then a summary line;
//! - **json**: the [`Report`] itself: `{kind, breaking, potentially_breaking,
//!   compatible, changes: [{rule, level, breaking, direction, operation,
//!   pointer, old_pointer, message, explanation}]}`;
//! - **markdown**: a pull-request comment (a summary, then a table);
//! - **junit**: one test case per change, breaking (and, at `--fail-on warn`,
//!   potentially breaking) ones failed;
//! - **github**: workflow commands (`::error file=…,title=…::…`), one per
//!   change that is not compatible.

use std::path::Path;

use crate::model::{Change, FailOn, Report};
use crate::rules::Level;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Format {
    /// A table, one change per row.
    #[default]
    #[cfg_attr(feature = "clap", value(alias = "text"))]
    Table,
    /// The report as JSON.
    Json,
    /// Markdown, for a pull-request comment.
    Markdown,
    /// JUnit XML: one test case per change.
    Junit,
    /// GitHub Actions annotations.
    Github,
}

/// One comparison to render: the files compared and its report.
#[derive(Debug, Clone, Copy)]
pub struct Compared<'a> {
    pub old: &'a Path,
    pub new: &'a Path,
    pub report: &'a Report,
}

/// Renders `compared` in `format`.
pub fn render(format: Format, compared: &[Compared<'_>], fail_on: FailOn) -> Result<String, String> {
    Ok(match format {
        Format::Table => compared
            .iter()
            .map(|c| table(c.report))
            .collect::<Vec<_>>()
            .join("\n"),
        Format::Json => {
            let text = if let [one] = compared {
                serde_json::to_string_pretty(one.report)
            } else {
                let all: Vec<_> = compared
                    .iter()
                    .map(|c| serde_json::json!({"old": c.old, "new": c.new, "report": c.report}))
                    .collect();
                serde_json::to_string_pretty(&all)
            };
            text.map_err(|e| e.to_string())? + "\n"
        }
        Format::Markdown => compared.iter().map(markdown).collect::<Vec<_>>().join("\n"),
        Format::Junit => junit(compared, fail_on)?,
        Format::Github => compared.iter().map(github).collect(),
    })
}

fn fails(c: &Change, fail_on: FailOn) -> bool {
    match fail_on {
        FailOn::Breaking => c.level == Level::Breaking,
        FailOn::Warn => c.level != Level::Compatible,
    }
}

fn verdict(level: Level) -> &'static str {
    match level {
        Level::Breaking => "BREAKING",
        Level::PotentiallyBreaking => "WARNING",
        Level::Compatible => "compatible",
    }
}

fn pointer(p: &str) -> &str {
    if p.is_empty() { "/" } else { p }
}

fn summary(report: &Report) -> String {
    format!(
        "{} change(s): {} breaking, {} compatible, {} potentially breaking",
        report.changes.len(),
        report.breaking,
        report.compatible,
        report.potentially_breaking
    )
}

/// The table rendering.
pub fn table(report: &Report) -> String {
    let header = ["verdict", "rule", "direction", "where", "change"];
    let rows: Vec<[String; 5]> = report
        .changes
        .iter()
        .map(|c| {
            [
                verdict(c.level).to_owned(),
                c.rule.to_owned(),
                c.direction.as_str().to_owned(),
                pointer(&c.pointer).to_owned(),
                match &c.operation {
                    Some(op) if !c.message.contains(op.as_str()) => format!("{op}: {}", c.message),
                    _ => c.message.clone(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: &[&str], out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    if !rows.is_empty() {
        line(&header, &mut out);
        for row in &rows {
            line(&row.each_ref().map(String::as_str), &mut out);
        }
    }
    out.push_str(&summary(report));
    out.push('\n');
    out
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn markdown(c: &Compared<'_>) -> String {
    let r = c.report;
    let mut out = format!(
        "### Contract changes: `{}` → `{}`\n\n{}\n",
        c.old.display(),
        c.new.display(),
        summary(r)
    );
    if r.changes.is_empty() {
        return out;
    }
    out.push_str(
        "\n| level | rule | operation | where (new / old) | change |\n| --- | --- | --- | --- | --- |\n",
    );
    for ch in &r.changes {
        let icon = match ch.level {
            Level::Breaking => "🔴 breaking",
            Level::PotentiallyBreaking => "🟡 potentially breaking",
            Level::Compatible => "🟢 compatible",
        };
        out.push_str(&format!(
            "| {icon} | `{}` | {} | `{}` / `{}` | {}: {} |\n",
            ch.rule,
            md_cell(ch.operation.as_deref().unwrap_or("—")),
            md_cell(pointer(&ch.pointer)),
            md_cell(pointer(&ch.old_pointer)),
            md_cell(&ch.message),
            md_cell(&ch.explanation)
        ));
    }
    out
}

/// GitHub's workflow-command escaping of a property or message.
fn gh_escape(s: &str, property: bool) -> String {
    let s = s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    if property {
        s.replace(':', "%3A").replace(',', "%2C")
    } else {
        s
    }
}

fn github(c: &Compared<'_>) -> String {
    let mut out = String::new();
    for ch in &c.report.changes {
        let command = match ch.level {
            Level::Breaking => "error",
            Level::PotentiallyBreaking => "warning",
            Level::Compatible => continue,
        };
        let op = ch
            .operation
            .as_deref()
            .map(|o| format!("{o}: "))
            .unwrap_or_default();
        out.push_str(&format!(
            "::{command} file={},title={}::{op}{} at {} — {}\n",
            gh_escape(&c.new.display().to_string(), true),
            gh_escape(&format!("{} ({})", ch.rule, ch.level.as_str()), true),
            gh_escape(&ch.message, false),
            gh_escape(pointer(&ch.pointer), false),
            gh_escape(&ch.explanation, false)
        ));
    }
    out
}

fn junit(compared: &[Compared<'_>], fail_on: FailOn) -> Result<String, String> {
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
    let mut junit = quick_junit::Report::new("crossdock-contracts-diff");
    for c in compared {
        let mut suite = TestSuite::new(format!("{} → {}", c.old.display(), c.new.display()));
        if c.report.changes.is_empty() {
            suite.add_test_case(TestCase::new("no changes", TestCaseStatus::success()));
        }
        for ch in &c.report.changes {
            let status = if fails(ch, fail_on) {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("{}: {}", ch.level.as_str(), ch.message));
                s.set_description(format!(
                    "{} at {} ({}): {}; in the old document at {}",
                    ch.rule,
                    ch.pointer,
                    ch.direction.as_str(),
                    ch.explanation,
                    pointer(&ch.old_pointer)
                ));
                s
            } else {
                TestCaseStatus::success()
            };
            let mut case = TestCase::new(format!("{} {}", ch.rule, ch.pointer), status);
            case.set_classname(ch.rule);
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().map_err(|e| e.to_string())
}
