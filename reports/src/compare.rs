//! Two runs side by side: `crossdock compare A/report.json B/report.json`.
//!
//! B regresses against A when a check that passed in A fails in B, or when
//! a latency percentile (p50, p99) of a path measured in both grew by more
//! than the tolerance. Reports are read as JSON (any `crossdock.report.v1`),
//! so runs from other builds compare too.

use serde_json::Value;
use tabled::settings::Style;
use tabled::{Table, Tabled};

/// Why a report could not be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{which} report: {message}")]
pub struct CompareError {
    pub which: &'static str,
    pub message: String,
}

/// One compared item.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub what: String,
    pub a: String,
    pub b: String,
    pub change: String,
    pub regression: bool,
}

/// The comparison and its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub rows: Vec<Row>,
}

impl Comparison {
    pub fn regressed(&self) -> bool {
        self.rows.iter().any(|r| r.regression)
    }
}

fn check_results(report: &Value, which: &'static str) -> Result<Vec<(String, bool)>, CompareError> {
    if report["format"] != crate::REPORT_FORMAT {
        return Err(CompareError {
            which,
            message: format!(
                "expected format {:?}, found {}",
                crate::REPORT_FORMAT,
                report["format"]
            ),
        });
    }
    let checks = report["checks"].as_array().ok_or_else(|| CompareError {
        which,
        message: "expected a `checks` array".into(),
    })?;
    checks
        .iter()
        .map(|c| match (c["name"].as_str(), c["passed"].as_bool()) {
            (Some(n), Some(p)) => Ok((n.to_owned(), p)),
            _ => Err(CompareError {
                which,
                message: "expected every check to have `name` and `passed`".into(),
            }),
        })
        .collect()
}

fn latencies(report: &Value) -> Vec<(String, f64, f64, u64)> {
    report["latencies"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .filter_map(|l| {
                    Some((
                        l["name"].as_str()?.to_owned(),
                        l["p50_ms"].as_f64()?,
                        l["p99_ms"].as_f64()?,
                        l["count"].as_u64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pct(a: f64, b: f64) -> String {
    if a <= 0.0 {
        return "-".into();
    }
    format!("{:+.1}%", (b - a) / a * 100.0)
}

/// Compares B against A; a percentile may grow by `tolerance_pct` percent.
pub fn compare(a: &Value, b: &Value, tolerance_pct: f64) -> Result<Comparison, CompareError> {
    let (checks_a, checks_b) = (check_results(a, "first")?, check_results(b, "second")?);
    let mut rows = Vec::new();
    let verdict = |p: bool| if p { "PASS" } else { "FAIL" }.to_owned();
    for (name, passed_b) in &checks_b {
        let passed_a = checks_a.iter().find(|(n, _)| n == name).map(|(_, p)| *p);
        rows.push(Row {
            what: format!("check {name}"),
            a: passed_a.map(verdict).unwrap_or_else(|| "-".into()),
            b: verdict(*passed_b),
            change: match (passed_a, passed_b) {
                (Some(true), false) => "newly failing".into(),
                (Some(false), true) => "fixed".into(),
                (None, _) => "new check".into(),
                _ => String::new(),
            },
            regression: passed_a == Some(true) && !passed_b,
        });
    }
    let (lat_a, lat_b) = (latencies(a), latencies(b));
    for (name, p50_b, p99_b, n_b) in &lat_b {
        let Some((_, p50_a, p99_a, n_a)) = lat_a.iter().find(|l| &l.0 == name) else {
            continue;
        };
        if *n_a == 0 || *n_b == 0 {
            continue;
        }
        for (label, va, vb) in [("p50", *p50_a, *p50_b), ("p99", *p99_a, *p99_b)] {
            rows.push(Row {
                what: format!("{name} {label}"),
                a: format!("{va:.1} ms"),
                b: format!("{vb:.1} ms"),
                change: pct(va, vb),
                regression: vb > va * (1.0 + tolerance_pct / 100.0),
            });
        }
    }
    Ok(Comparison { rows })
}

#[derive(Tabled)]
struct TableRow<'a> {
    what: &'a str,
    a: &'a str,
    b: &'a str,
    change: &'a str,
    verdict: &'static str,
}

/// The comparison as a table and a closing verdict line.
pub fn render_comparison(c: &Comparison) -> String {
    let rows = c.rows.iter().map(|r| TableRow {
        what: &r.what,
        a: &r.a,
        b: &r.b,
        change: &r.change,
        verdict: if r.regression { "REGRESSION" } else { "ok" },
    });
    let mut out = Table::new(rows).with(Style::sharp()).to_string();
    out.push('\n');
    out.push_str(if c.regressed() {
        "REGRESSED\n"
    } else {
        "NO REGRESSION\n"
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(passed: &[(&str, bool)], p99: f64) -> Value {
        json!({
            "format": crate::REPORT_FORMAT,
            "checks": passed.iter().map(|(n, p)| json!({"name": n, "passed": p})).collect::<Vec<_>>(),
            "latencies": [{"name": "asn-accepted-to-expectation", "count": 10, "p50_ms": 1.0, "p99_ms": p99}],
        })
    }

    #[test]
    fn a_newly_failing_check_or_a_slower_p99_regresses() {
        let a = report(&[("c1", true), ("c2", false)], 10.0);
        let same = compare(&a, &report(&[("c1", true), ("c2", false)], 10.5), 10.0).unwrap();
        assert!(!same.regressed(), "{same:?}");

        let failing = compare(&a, &report(&[("c1", false), ("c2", false)], 10.0), 10.0).unwrap();
        assert!(failing.regressed());
        assert!(
            failing
                .rows
                .iter()
                .any(|r| r.what == "check c1" && r.change == "newly failing")
        );

        let fixed = compare(&a, &report(&[("c1", true), ("c2", true)], 10.0), 10.0).unwrap();
        assert!(!fixed.regressed());
        assert!(fixed.rows.iter().any(|r| r.change == "fixed"));

        let slower = compare(&a, &report(&[("c1", true), ("c2", false)], 12.0), 10.0).unwrap();
        assert!(slower.regressed());
        let row = slower.rows.iter().find(|r| r.what.ends_with("p99")).unwrap();
        assert_eq!(row.change, "+20.0%");
        assert!(render_comparison(&slower).ends_with("REGRESSED\n"));
    }

    #[test]
    fn something_that_is_not_a_report_is_refused() {
        let e = compare(&json!({"format": "x"}), &report(&[], 1.0), 10.0).unwrap_err();
        assert_eq!(e.which, "first");
        assert!(e.message.contains("expected format"), "{e}");
    }
}
