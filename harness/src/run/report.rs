//! Stage 7 of a run: the report. The checker's verdict, the load drivers'
//! own rows (latency from each send's intended time, send counts), the
//! run's counts and fault windows; written as report.json, junit.xml and
//! report.html.

use checker::Verdict;
use reports::{FaultWindow, REPORT_FORMAT, Report};

use super::collect::Collected;
use super::options::RunError;
use super::outbound::ORDER_RELEASE_FLOW;
use super::plan::Plan;
use crate::behaviour;
use crate::load::LoadReport;

/// The name of the PO-release flow in the report (latency row and load).
pub const RELEASE_FLOW: &str = "po-release";

/// The driver's latency row: intended send time to answer, every send
/// (fault windows included: it is what the client saw).
pub fn load_latency(name: &str, load: &LoadReport) -> reports::Latency {
    reports::Latency {
        name: name.to_owned(),
        count: load.latency_us.len(),
        p50_ms: load.quantile_ms(0.5),
        p90_ms: load.quantile_ms(0.9),
        p95_ms: load.quantile_ms(0.95),
        p99_ms: load.quantile_ms(0.99),
        max_ms: load.max_ms(),
        sla_p99_ms: None,
    }
}

/// The driver's counts for the report.
pub fn load_summary(name: &str, load: &LoadReport) -> reports::LoadSummary {
    reports::LoadSummary {
        name: name.to_owned(),
        sent: load.sent,
        ok: load.ok,
        failed: load.failed,
        missed_schedule: load.missed,
        late_after_ms: load.late_after.as_millis() as u64,
        timed_out: load.timed_out,
        max_in_flight: load.max_in_flight,
    }
}

/// The report of a judged run.
pub fn report(plan: &Plan, c: &Collected, verdict: Verdict) -> Report {
    let mut counts = verdict.counts;
    if let Some(r) = &c.outbound {
        counts.insert("sales_orders".into(), r.sent);
        counts.insert("sales_orders_missed_schedule".into(), r.missed);
    }
    counts.insert("purchase_orders".into(), c.load.sent);
    counts.insert("missed_schedule".into(), c.load.missed);
    if let Some(s) = &c.core_status {
        counts.insert("core_outbox_dead".into(), s.outbox_dead as u64);
        counts.insert("core_outbox_delivered".into(), s.outbox_delivered as u64);
    }
    let mut latencies = vec![load_latency(RELEASE_FLOW, &c.load)];
    latencies.extend(c.outbound.iter().map(|r| load_latency(ORDER_RELEASE_FLOW, r)));
    checker::sla::annotate(&behaviour::sla(&plan.scenario.sla), &mut latencies);
    latencies.extend(verdict.latencies);
    let mut load = vec![load_summary(RELEASE_FLOW, &c.load)];
    load.extend(c.outbound.iter().map(|r| load_summary(ORDER_RELEASE_FLOW, r)));
    Report {
        format: REPORT_FORMAT,
        scenario: plan.scenario.name.clone(),
        scenario_file: plan.file.display().to_string(),
        seed: plan.seed,
        started_at: plan.started_at.clone(),
        duration_ms: plan.t0.elapsed().as_millis() as u64,
        passed: verdict.checks.iter().all(|c| c.passed),
        counts,
        checks: verdict.checks,
        latencies,
        load,
        fault_windows: c.fault_windows.iter().map(fault_window).collect(),
        throughput: verdict.throughput,
        notes: plan.notes.clone(),
    }
}

/// A checker's fault window as the report shows it.
pub fn fault_window(w: &checker::FaultWindow) -> FaultWindow {
    FaultWindow {
        role: w.role.as_str().to_owned(),
        kind: w.kind.clone(),
        endpoint: w.endpoint.clone(),
        from_ms: w.from_ms,
        to_ms: w.to_ms,
    }
}

/// Writes report.json, junit.xml and report.html into `plan.out`.
pub fn write(plan: &Plan, report: &Report) -> Result<(), RunError> {
    reports::write_json(report, &plan.out.join("report.json"))?;
    reports::write_junit(report, &plan.out.join("junit.xml"))?;
    reports::write_html(report, &plan.out.join("report.html"))?;
    Ok(())
}
