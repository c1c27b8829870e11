//! `crossdock check DIR`: the checker on a directory of histories — one a
//! run wrote (its `expectations.json` beside them), or `*.jsonl` files
//! recorded by any tool that follows `contracts/schemas/Exchange.json`.
//! The run itself judges its directory through the same
//! [`checker::judge`], so both give the same verdict.

use std::path::Path;

use checker::{CheckError, Expectations};
use reports::{REPORT_FORMAT, Report};

/// Judges `dir` and builds its report (named after the directory).
pub fn check_dir(dir: &Path) -> Result<Report, CheckError> {
    let histories = checker::histories_in(dir)?;
    let expect = checker::expectations_in(dir)?;
    let started = std::time::Instant::now();
    let verdict = checker::judge(&histories, &expect)?;
    Ok(Report {
        format: REPORT_FORMAT,
        scenario: dir
            .file_name()
            .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned()),
        scenario_file: dir.display().to_string(),
        seed: 0,
        started_at: simulators::rfc3339_utc(expect.run_started_us),
        duration_ms: started.elapsed().as_millis() as u64,
        passed: verdict.passed(),
        counts: verdict.counts,
        checks: verdict.checks,
        latencies: verdict.latencies,
        load: vec![],
        fault_windows: fault_windows(&expect),
        throughput: verdict.throughput,
        notes: notes(dir, &expect),
    })
}

fn fault_windows(expect: &Expectations) -> Vec<reports::FaultWindow> {
    expect
        .fault_windows
        .iter()
        .map(crate::run::report::fault_window)
        .collect()
}

fn notes(dir: &Path, expect: &Expectations) -> Vec<String> {
    let mut notes = Vec::new();
    if !dir.join(checker::EXPECTATIONS_FILE).exists() {
        notes.push(format!(
            "no {} in {}: judged with the defaults (released POs read from the ERP's history, no fault windows, the default SLA)",
            checker::EXPECTATIONS_FILE,
            dir.display()
        ));
    }
    if expect.released.is_none() && !notes.is_empty() {
        notes.push("the load drivers' own figures (po-release latency from intended send time) are not in the histories: not judged".into());
    }
    notes
}
