//! Run reports: the model a run produces, and its renderings — terminal
//! tables, `report.json`, `junit.xml`.
//!
//! The harness checks first and renders after: nothing here decides a
//! verdict; it only presents one.
//!
//! # `report.json` (format `crossdock.report.v1`)
//! An object with `format`, `scenario`, `scenario_file`, `seed`,
//! `started_at` (RFC 3339), `duration_ms`, `passed`, `counts` (name → number),
//! `checks` (each: `name`, `description`, `passed`, `status` (`pass`,
//! `fail`, or `skipped` when it judged nothing), `checked` — how many
//! keys or messages were examined —, `violations_total`, and up to
//! [`MAX_VIOLATIONS_KEPT`] `violations`, each a business `key`, a `message`
//! and its `witness`: the recorded exchanges involved, by `party` and `seq`,
//! which index the party's history file) and `latencies` (each: `name`,
//! `count`, `p50_ms`, `p90_ms`, `p95_ms`, `p99_ms`, `max_ms`, optional `sla_p99_ms`;
//! samples overlapping a fault window are left out) and `fault_windows`
//! (each: `role`, `kind`, optional `endpoint`, `from_ms`, `to_ms` from the
//! start of the run), `load`, `throughput`, and `notes`: what the run could
//! not apply or judge with external parties, one sentence each.

pub mod compare;
mod html;

pub use html::render_html;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use tabled::settings::Style;
use tabled::{Table, Tabled};

/// The JSON Schema of `report.json` (draft 2020-12), committed as
/// `reports/schema/report.schema.json`.
pub fn report_schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(Report)).expect("a schema serializes");
    if let serde_json::Value::Object(map) = &mut schema {
        map.insert(
            "$id".into(),
            serde_json::Value::String("https://crossdock.dev/schemas/v1/report.schema.json".into()),
        );
    }
    schema
}

/// Version tag of `report.json`.
pub const REPORT_FORMAT: &str = "crossdock.report.v1";

/// Violations kept per check; the total is always reported.
pub const MAX_VIOLATIONS_KEPT: usize = 50;

// The checker holds one of these per business key over a long history, so it
// is kept small: the party and the endpoint are usually borrowed from static
// tables (one allocation per witness, for the key, at most).
/// One recorded exchange a violation points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Witness {
    pub party: Cow<'static, str>,
    pub seq: u64,
    pub endpoint: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<Box<str>>,
}

/// One broken invariant, for one business key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Violation {
    pub key: String,
    pub message: String,
    pub witness: Vec<Witness>,
}

/// The verdict of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub description: String,
    pub passed: bool,
    pub checked: u64,
    pub violations_total: u64,
    pub violations: Vec<Violation>,
}

/// How a check ended: failed, passed having judged something, or skipped
/// (it judged nothing, so it passed without proving anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Fail,
    Skipped,
}

impl CheckStatus {
    /// `PASS`, `FAIL`, `SKIPPED`.
    pub fn label(self) -> &'static str {
        match self {
            CheckStatus::Pass => "PASS",
            CheckStatus::Fail => "FAIL",
            CheckStatus::Skipped => "SKIPPED",
        }
    }
}

/// The JSON form of a [`Check`]: its fields and its `status`.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "Check")]
struct CheckJson<'a> {
    name: &'a str,
    description: &'a str,
    passed: bool,
    /// `skipped` when it judged nothing (`checked` = 0) and passed.
    status: CheckStatus,
    checked: u64,
    violations_total: u64,
    violations: &'a [Violation],
}

impl Serialize for Check {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        CheckJson {
            name: &self.name,
            description: &self.description,
            passed: self.passed,
            status: self.status(),
            checked: self.checked,
            violations_total: self.violations_total,
            violations: &self.violations,
        }
        .serialize(s)
    }
}

impl schemars::JsonSchema for Check {
    fn schema_name() -> Cow<'static, str> {
        "Check".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        CheckJson::json_schema(generator)
    }
}

impl Check {
    /// A check over `checked` items with `violations` found.
    pub fn new(name: &str, description: &str, checked: u64, mut violations: Vec<Violation>) -> Self {
        let violations_total = violations.len() as u64;
        violations.truncate(MAX_VIOLATIONS_KEPT);
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            passed: violations_total == 0,
            checked,
            violations_total,
            violations,
        }
    }

    /// Failed, passed having judged something, or skipped (judged nothing).
    pub fn status(&self) -> CheckStatus {
        match (self.passed, self.checked) {
            (false, _) => CheckStatus::Fail,
            (true, 0) => CheckStatus::Skipped,
            (true, _) => CheckStatus::Pass,
        }
    }
}

/// Latency percentiles of one measured path.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Latency {
    pub name: String,
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sla_p99_ms: Option<f64>,
}

/// What an open-model load driver did for one flow. Its latency row (in
/// `latencies`, named the same) is measured from each send's intended
/// time, so a stalled target shows on every send that queued behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LoadSummary {
    /// The flow driven, e.g. `po-release`; also its latency row's name.
    pub name: String,
    /// Sends fired.
    pub sent: u64,
    /// Sends answered as hoped.
    pub ok: u64,
    /// Sends answered otherwise (error status or transport error).
    pub failed: u64,
    /// Sends fired more than `late_after_ms` after their intended time.
    pub missed_schedule: u64,
    pub late_after_ms: u64,
    /// Sends unanswered at the time bound.
    pub timed_out: u64,
    /// The most sends in flight at once.
    pub max_in_flight: u64,
}

/// When a fault was active during a run, relative to the run's start.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FaultWindow {
    pub role: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub from_ms: u64,
    pub to_ms: u64,
}

/// Exchanges finished in one time bucket of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ThroughputPoint {
    /// Start of the bucket, from the start of the run.
    pub at_ms: u64,
    pub exchanges: u64,
}

/// A whole run of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub format: &'static str,
    pub scenario: String,
    pub scenario_file: String,
    pub seed: u64,
    pub started_at: String,
    pub duration_ms: u64,
    pub passed: bool,
    pub counts: BTreeMap<String, u64>,
    pub checks: Vec<Check>,
    pub latencies: Vec<Latency>,
    /// The load drivers' own figures, one per driven flow.
    pub load: Vec<LoadSummary>,
    pub fault_windows: Vec<FaultWindow>,
    /// Exchanges finished per time bucket (all parties).
    pub throughput: Vec<ThroughputPoint>,
    /// What the run could not apply or judge with the parties it ran
    /// against (an external core or partner), one sentence each; empty
    /// when every party was simulated.
    pub notes: Vec<String>,
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("failed to write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to serialize the report: {0}")]
    Serialize(String),
}

fn write(path: &Path, text: &str) -> Result<(), WriteError> {
    std::fs::write(path, text).map_err(|source| WriteError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Writes `report.json`.
pub fn write_json(report: &Report, path: &Path) -> Result<(), WriteError> {
    let text = serde_json::to_string_pretty(report).map_err(|e| WriteError::Serialize(e.to_string()))?;
    write(path, &(text + "\n"))
}

/// The JUnit document: one test suite per scenario, one test case per check.
pub fn junit(report: &Report) -> Result<String, WriteError> {
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
    let mut junit = quick_junit::Report::new("crossdock");
    let mut suite = TestSuite::new(report.scenario.as_str());
    suite.set_time(std::time::Duration::from_millis(report.duration_ms));
    for check in &report.checks {
        let status = if check.status() == CheckStatus::Skipped {
            let mut s = TestCaseStatus::skipped();
            s.set_message("judged nothing (checked = 0)");
            s
        } else if check.passed {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!("{} violation(s)", check.violations_total));
            let text: Vec<String> = check
                .violations
                .iter()
                .map(|v| format!("{}: {}", v.key, v.message))
                .collect();
            s.set_description(text.join("\n"));
            s
        };
        let mut case = TestCase::new(check.name.as_str(), status);
        case.set_classname(report.scenario.as_str());
        suite.add_test_case(case);
    }
    if !report.notes.is_empty() {
        suite.set_system_out(report.notes.join("\n"));
    }
    junit.add_test_suite(suite);
    junit
        .to_string()
        .map_err(|e| WriteError::Serialize(e.to_string()))
}

/// Writes `report.html`.
pub fn write_html(report: &Report, path: &Path) -> Result<(), WriteError> {
    write(path, &render_html(report))
}

/// Writes `junit.xml`.
pub fn write_junit(report: &Report, path: &Path) -> Result<(), WriteError> {
    write(path, &junit(report)?)
}

#[derive(Tabled)]
struct CheckRow<'a> {
    check: &'a str,
    result: &'static str,
    checked: u64,
    violations: u64,
}

#[derive(Tabled)]
struct LatencyRow<'a> {
    path: &'a str,
    count: u64,
    p50_ms: String,
    p90_ms: String,
    p95_ms: String,
    p99_ms: String,
    max_ms: String,
    sla_p99_ms: String,
}

#[derive(Tabled)]
struct ViolationRow<'a> {
    check: &'a str,
    key: &'a str,
    violation: &'a str,
    witness: String,
}

/// The terminal summary: checks, violations (first few per check), latencies.
pub fn render_terminal(report: &Report) -> String {
    let mut out = format!(
        "scenario {} ({}), seed {}, {} ms\n",
        report.scenario, report.scenario_file, report.seed, report.duration_ms
    );
    let counts: Vec<String> = report.counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    out.push_str(&format!("counts: {}\n", counts.join(" ")));

    let rows = report.checks.iter().map(|c| CheckRow {
        check: &c.name,
        result: c.status().label(),
        checked: c.checked,
        violations: c.violations_total,
    });
    out.push_str(&Table::new(rows).with(Style::sharp()).to_string());
    out.push('\n');

    let violations: Vec<ViolationRow<'_>> = report
        .checks
        .iter()
        .flat_map(|c| {
            c.violations.iter().take(5).map(move |v| ViolationRow {
                check: &c.name,
                key: &v.key,
                violation: &v.message,
                witness: v
                    .witness
                    .iter()
                    .map(|w| format!("{}#{}", w.party, w.seq))
                    .collect::<Vec<_>>()
                    .join(" "),
            })
        })
        .collect();
    if !violations.is_empty() {
        out.push_str(&Table::new(violations).with(Style::sharp()).to_string());
        out.push('\n');
    }

    let ms = |v: f64| format!("{v:.1}");
    let rows = report.latencies.iter().map(|l| LatencyRow {
        path: &l.name,
        count: l.count,
        p50_ms: ms(l.p50_ms),
        p90_ms: ms(l.p90_ms),
        p95_ms: ms(l.p95_ms),
        p99_ms: ms(l.p99_ms),
        max_ms: ms(l.max_ms),
        sla_p99_ms: l.sla_p99_ms.map(ms).unwrap_or_else(|| "-".into()),
    });
    out.push_str(&Table::new(rows).with(Style::sharp()).to_string());
    out.push('\n');
    for l in &report.load {
        out.push_str(&format!(
            "load {}: {} sent, {} ok, {} failed, {} missed schedule (> {} ms late), {} timed out, \
             {} in flight at most; latency from intended send time\n",
            l.name, l.sent, l.ok, l.failed, l.missed_schedule, l.late_after_ms, l.timed_out, l.max_in_flight
        ));
    }
    for w in &report.fault_windows {
        out.push_str(&format!(
            "fault {} on {}{} from {} ms to {} ms\n",
            w.kind,
            w.role,
            w.endpoint.as_deref().map(|e| format!(" {e}")).unwrap_or_default(),
            w.from_ms,
            w.to_ms
        ));
    }
    for note in &report.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out.push_str(if report.passed { "PASSED\n" } else { "FAILED\n" });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_that_judged_nothing_is_skipped_in_every_rendering() {
        let mut report = sample(true);
        report
            .checks
            .push(Check::new("three-way-match", "invoices matched", 0, vec![]));
        let skipped = report.checks.last().unwrap();
        assert_eq!(skipped.status(), CheckStatus::Skipped);
        assert_eq!(report.checks[0].status(), CheckStatus::Pass);
        assert_eq!(sample(false).checks[1].status(), CheckStatus::Fail);

        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["checks"][2]["status"], "skipped");
        assert_eq!(json["checks"][0]["status"], "pass");
        let terminal = render_terminal(&report);
        let row = terminal.lines().find(|l| l.contains("three-way-match")).unwrap();
        assert!(row.contains("SKIPPED"), "{terminal}");
        let xml = junit(&report).unwrap();
        let case = &xml[xml.find("three-way-match").unwrap()..];
        assert!(
            case[..case.find("</testcase>").unwrap()].contains("<skipped"),
            "{xml}"
        );
        let html = render_html(&report);
        assert!(html.contains(r#"<td class="skipped">SKIPPED</td>"#), "{html}");
    }

    fn sample(passed: bool) -> Report {
        let violation = Violation {
            key: "asn_id=ASN-7".into(),
            message: "2 inbound expectations".into(),
            witness: vec![Witness {
                party: "wms".into(),
                seq: 12,
                endpoint: "/v1/inbound-expectations".into(),
                status: Some(201),
                idempotency_key: Some("expectation:IBE-1".into()),
            }],
        };
        Report {
            format: REPORT_FORMAT,
            scenario: "dup".into(),
            scenario_file: "scenarios/dup.toml".into(),
            seed: 9,
            started_at: "2026-11-22T00:00:00Z".into(),
            duration_ms: 1500,
            passed,
            counts: BTreeMap::from([("purchase_orders".into(), 3)]),
            checks: vec![
                Check::new("schema-valid", "every body matches its schema", 40, vec![]),
                Check::new(
                    "one-expectation-per-asn",
                    "exactly one WMS expectation per distinct ASN",
                    3,
                    if passed { vec![] } else { vec![violation] },
                ),
            ],
            latencies: vec![Latency {
                name: "asn-to-expectation".into(),
                count: 3,
                p50_ms: 1.0,
                p90_ms: 2.0,
                p95_ms: 2.5,
                p99_ms: 3.0,
                max_ms: 3.5,
                sla_p99_ms: Some(500.0),
            }],
            load: vec![],
            fault_windows: vec![],
            throughput: vec![],
            notes: vec![],
        }
    }

    #[test]
    fn junit_has_one_case_per_check_and_failures_carry_the_key() {
        let xml = junit(&sample(false)).unwrap();
        let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        let suite = &parsed.test_suites[0];
        assert_eq!(suite.test_cases.len(), 2);
        assert_eq!(suite.failures, 1);
        assert!(xml.contains("asn_id=ASN-7"), "{xml}");

        let ok = quick_junit::Report::deserialize_from_str(&junit(&sample(true)).unwrap()).unwrap();
        assert_eq!(ok.test_suites[0].failures, 0);
    }

    #[test]
    fn terminal_shows_verdicts_violations_and_percentiles() {
        let text = render_terminal(&sample(false));
        assert!(text.contains("one-expectation-per-asn"));
        assert!(text.contains("FAIL"));
        assert!(text.contains("asn_id=ASN-7"));
        assert!(text.contains("wms#12"));
        assert!(text.contains("asn-to-expectation"));
        assert!(text.contains("p95_ms") && text.contains("2.5"), "{text}");
        assert!(text.ends_with("FAILED\n"));
        assert!(render_terminal(&sample(true)).ends_with("PASSED\n"));
    }

    #[test]
    fn the_load_driver_s_figures_are_shown_in_terminal_and_html() {
        let mut report = sample(true);
        report.load = vec![LoadSummary {
            name: "po-release".into(),
            sent: 200,
            ok: 198,
            failed: 2,
            missed_schedule: 7,
            late_after_ms: 10,
            timed_out: 0,
            max_in_flight: 31,
        }];
        let text = render_terminal(&report);
        assert!(
            text.contains("load po-release: 200 sent, 198 ok, 2 failed, 7 missed schedule"),
            "{text}"
        );
        let html = render_html(&report);
        assert!(html.contains("id=\"load\""), "{html}");
        assert!(
            html.contains("<td>po-release</td><td>200</td><td>198</td><td>2</td><td>7</td>"),
            "{html}"
        );
    }

    #[test]
    fn json_round_trips_the_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_json(&sample(false), &path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["format"], REPORT_FORMAT);
        assert_eq!(v["passed"], false);
        assert_eq!(v["checks"][1]["violations"][0]["witness"][0]["seq"], 12);
    }

    /// The page is well-formed XML with both charts, every check, the
    /// violation's key, and a shaded window per fault.
    #[test]
    fn html_is_well_formed_and_shows_charts_checks_and_violations() {
        let mut report = sample(false);
        report.fault_windows = vec![FaultWindow {
            role: "wms".into(),
            kind: "outage".into(),
            endpoint: None,
            from_ms: 200,
            to_ms: 700,
        }];
        report.throughput = (0..6)
            .map(|i| ThroughputPoint {
                at_ms: i * 250,
                exchanges: 10 + i,
            })
            .collect();
        report.checks[1].violations[0].message = "a <b> & \"c\"".into();
        let html = render_html(&report);

        let mut reader = quick_xml::Reader::from_str(html.trim_start_matches("<!DOCTYPE html>"));
        let (mut depth, mut ids, mut windows, mut rows) = (0i32, Vec::new(), 0, 0);
        loop {
            match reader.read_event().expect("well-formed XML") {
                quick_xml::events::Event::Start(e) => {
                    depth += 1;
                    if e.name().as_ref() == b"tr" {
                        rows += 1;
                    }
                    for a in e.attributes() {
                        let a = a.unwrap();
                        if a.key.as_ref() == b"id" {
                            ids.push(String::from_utf8(a.value.to_vec()).unwrap());
                        }
                    }
                }
                quick_xml::events::Event::Empty(e) => {
                    let class = e.attributes().flatten().find(|a| a.key.as_ref() == b"class");
                    if class.is_some_and(|a| a.value.as_ref() == b"fault-window") {
                        windows += 1;
                    }
                }
                quick_xml::events::Event::End(_) => depth -= 1,
                quick_xml::events::Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(depth, 0, "unbalanced elements");
        for id in [
            "checks",
            "violations",
            "latency-chart",
            "latencies",
            "throughput-chart",
            "counts",
        ] {
            assert!(ids.iter().any(|i| i == id), "missing #{id} in {ids:?}");
        }
        assert_eq!(windows, 1);
        // checks: header + 2, violations: header + 1, latencies: header + 1, counts: 1.
        assert_eq!(rows, 8);
        assert!(html.contains("asn_id=ASN-7"));
        assert!(html.contains("<th>p95 ms</th>"), "{html}");
        assert!(
            html.contains("<td>1.0</td><td>2.0</td><td>2.5</td><td>3.0</td><td>3.5</td>"),
            "p50, p90, p95, p99, max: {html}"
        );
        assert!(
            html.contains("a &lt;b&gt; &amp; &quot;c&quot;"),
            "text is escaped"
        );
        assert!(html.contains("FAILED"));
        assert!(!html.contains("<script"), "self-contained, no scripts");
    }

    #[test]
    fn violations_are_capped_but_counted() {
        let many = (0..(MAX_VIOLATIONS_KEPT + 5))
            .map(|i| Violation {
                key: format!("k{i}"),
                message: "m".into(),
                witness: vec![],
            })
            .collect();
        let c = Check::new("c", "d", 100, many);
        assert_eq!(c.violations.len(), MAX_VIOLATIONS_KEPT);
        assert_eq!(c.violations_total, (MAX_VIOLATIONS_KEPT + 5) as u64);
        assert!(!c.passed);
    }

    #[test]
    fn notes_on_external_parties_reach_every_rendering() {
        let mut report = sample(true);
        let note = "not applied: external wms: [wms] receiving behaviour";
        report.notes = vec![note.into()];
        let text = render_terminal(&report);
        assert!(text.contains(&format!("note: {note}\nPASSED\n")), "{text}");
        assert!(
            render_html(&report).contains("<li>not applied: external wms: [wms] receiving behaviour</li>")
        );
        let xml = junit(&report).unwrap();
        let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        assert!(
            parsed.test_suites[0]
                .system_out
                .as_ref()
                .is_some_and(|o| o.as_str().contains(note)),
            "{xml}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_json(&report, &path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["notes"][0], note);
        assert!(!render_terminal(&sample(true)).contains("note:"));
    }
}
