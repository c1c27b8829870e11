//! The certificate rendered for people and CI: JUnit XML (one test case
//! per check) and a self-contained, well-formed HTML page.

use std::fmt::Write;

use super::certificate::{Certificate, Status};

/// `junit.xml`: one test suite `certify.<role>`, one test case per check;
/// a skipped check is a skipped test case with its reason.
pub fn junit(c: &Certificate) -> String {
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
    let mut report = quick_junit::Report::new("crossdock-certify");
    let name = format!("certify.{}", c.role);
    let mut suite = TestSuite::new(name.as_str());
    suite.set_time(std::time::Duration::from_millis(c.duration_ms));
    for check in &c.checks {
        let status = match check.status {
            Status::Pass => TestCaseStatus::success(),
            Status::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(check.detail.as_str());
                let text: Vec<String> = check
                    .cases
                    .iter()
                    .filter(|k| !k.passed)
                    .map(|k| format!("{}: {}", k.subject, k.detail))
                    .collect();
                s.set_description(text.join("\n"));
                s
            }
            Status::Skipped => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(match &check.enable {
                    Some(flag) => format!("{} (enable with {flag})", check.detail),
                    None => check.detail.clone(),
                });
                s
            }
        };
        let mut case = TestCase::new(check.name.as_str(), status);
        case.set_classname(name.as_str());
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    report.to_string().expect("a JUnit report serializes")
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
.pass{color:#1a7f37;font-weight:bold}.fail{color:#cf222e;font-weight:bold}.skipped{color:#9a6700;font-weight:bold}\
details{margin:0.2em 0}code{background:#f4f4f4;padding:0 3px}";

/// `report.html`: verdict, contract and target, then every check with its
/// cases. Self-contained (no scripts, no external resources) and
/// well-formed XML.
pub fn render_html(c: &Certificate) -> String {
    let mut out = String::new();
    let (class, verdict) = if c.certified {
        ("pass", "CERTIFIED")
    } else {
        ("fail", "NOT CERTIFIED")
    };
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/><title>crossdock certify: {role}</title><style>{STYLE}</style></head><body>
<h1>crossdock certify: {role}</h1>
<p class="{class}" id="verdict">{verdict}</p>
<table id="facts">
<tr><th>target</th><td><code>{target}</code>, partner id <code>{partner}</code></td></tr>
<tr><th>judged by</th><td>crossdock {cd_version} (commit <code>{commit}</code>), suite version {suite}</td></tr>
<tr><th>contract</th><td>version <code>{version}</code>, <code>{openapi}</code> sha256 <code>{sha}</code></td></tr>
<tr><th>seed</th><td><code>{seed}</code></td></tr>
<tr><th>date</th><td>{date} ({duration} ms)</td></tr>
<tr><th>requests</th><td>{sent} sent, sha256 <code>{rsha}</code></td></tr>
<tr><th>operations</th><td>{ops}{partial}</td></tr>
<tr><th>not judged</th><td id="skipped">{skipped}</td></tr>
</table>
<h2>Checks</h2>
<table id="checks"><tr><th>check</th><th>result</th><th>detail</th></tr>
"#,
        role = esc(c.role.as_str()),
        target = esc(&c.target),
        partner = esc(c.partner_id.as_deref().unwrap_or("(not declared)")),
        cd_version = esc(&c.crossdock.version),
        commit = esc(&c.crossdock.git_commit),
        suite = esc(&c.suite_version),
        version = esc(&c.contract.version),
        openapi = esc(&c.contract.openapi),
        sha = esc(&c.contract.sha256),
        seed = c.seed,
        date = esc(&c.date),
        duration = c.duration_ms,
        sent = c.requests_sent,
        rsha = esc(&c.requests_sha256),
        ops = c
            .operations
            .iter()
            .map(|o| format!("<code>{}</code>", esc(o)))
            .collect::<Vec<_>>()
            .join(", "),
        skipped = {
            let skipped = c.skipped();
            if skipped.is_empty() {
                "nothing: every check ran".to_owned()
            } else {
                esc(&skipped.join("; "))
            }
        },
        partial = if c.scope_complete {
            ""
        } else {
            " <strong>(partial scope: not every operation of the contract)</strong>"
        },
    );
    for check in &c.checks {
        let status = check.status.as_str();
        let _ = write!(
            out,
            "<tr><td><code>{name}</code><br/>{desc}</td><td class=\"{status}\">{status}</td><td>{detail}",
            name = esc(&check.name),
            desc = esc(&check.description),
            detail = esc(&check.detail),
        );
        if !check.cases.is_empty() {
            let _ = write!(
                out,
                "<details><summary>{} case(s)</summary><ul>",
                check.cases.len()
            );
            for case in &check.cases {
                let _ = write!(
                    out,
                    "<li><span class=\"{}\">{}</span> <code>{}</code>: {}</li>",
                    if case.passed { "pass" } else { "fail" },
                    if case.passed { "pass" } else { "fail" },
                    esc(&case.subject),
                    esc(&case.detail)
                );
            }
            out.push_str("</ul></details>");
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</table>\n");
    if let Some(l) = &c.latency {
        let _ = writeln!(
            out,
            "<h2>Latency</h2><p>{} requests at {} /s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (bound p99 &lt;= {:.0} ms), measured from the intended send time. {} {} request(s) waited {:.0} ms in all as Retry-After asked (not counted).</p>",
            l.requests,
            l.rate_per_s,
            l.p50_ms,
            l.p99_ms,
            l.max_ms,
            l.bound_ms,
            match l.p99_upper_95_ms {
                Some(u) => format!("95 % upper confidence bound of p99: {u:.1} ms."),
                None => format!(
                    "The sample is too small for a 95 % bound ({} needed): the maximum bounds p99 with {:.0} % confidence.",
                    l.min_requests_for_95,
                    l.confidence * 100.0
                ),
            },
            l.retry_after_waits,
            l.retry_after_wait_ms
        );
    }
    let _ = write!(
        out,
        "<p>Recorded exchanges: <code>{}</code>. Certificate: <code>certificate.json</code>.</p>\n</body></html>\n",
        esc(&c.exchanges)
    );
    out
}

/// The verdict and one line per check, for the terminal.
pub fn render_terminal(c: &Certificate) -> String {
    let mut out = String::new();
    let width = c.checks.iter().map(|k| k.name.len()).max().unwrap_or(0);
    for check in &c.checks {
        let _ = writeln!(
            out,
            "{:<width$}  {:<7}  {}",
            check.name,
            check.status.as_str(),
            check.detail
        );
    }
    let _ = write!(
        out,
        "{}{} {} at {}{} (contract {} sha256 {}, seed {}; crossdock {} {}, suite {})",
        if c.certified { "CERTIFIED" } else { "NOT CERTIFIED" },
        if c.scope_complete {
            ":".to_owned()
        } else {
            format!(" (partial scope: {}):", c.operations.join(", "))
        },
        c.role,
        c.target,
        c.partner_id
            .as_deref()
            .map(|p| format!(" (partner {p})"))
            .unwrap_or_default(),
        c.contract.version,
        &c.contract.sha256[..12.min(c.contract.sha256.len())],
        c.seed,
        c.crossdock.version,
        &c.crossdock.git_commit[..12.min(c.crossdock.git_commit.len())],
        c.suite_version
    );
    // On the verdict line itself: a skipped check is easy to miss.
    let skipped = c.skipped();
    if !skipped.is_empty() {
        let _ = write!(out, "; not judged ({}): {}", skipped.len(), skipped.join("; "));
    }
    out.push('\n');
    out
}
