//! Stage 3 of a run: drive it. The fault timeline and the operator steps
//! go on their own tasks; the sales-order releases (`[outbound]`) run on
//! their own driver beside the POs; the PO releases run on the open-model
//! load driver ([`crate::load`]) until sent or out of time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checker::FaultWindow;
use checker::ops::StepDone;
use scenario::SimRole;
use simulators::recorder::now_us;
use tokio::task::{JoinHandle, JoinSet};

use super::options::{Progress, RunOptions};
use super::plan::Plan;
use super::start::Started;
use super::{ops, outbound};
use crate::behaviour;
use crate::load::{Driver, LoadReport, Schedule};

/// A run being driven, and what its drivers reported.
pub struct Driven {
    /// Every PO the ERP was given to release: (po_number, line numbers).
    pub released: Vec<(String, Vec<u32>)>,
    /// The PO releases' driver.
    pub load: LoadReport,
    /// The sales-order releases' driver, still running.
    pub outbound: Option<JoinHandle<LoadReport>>,
    /// The fault windows (from the run's start; closed with the run if
    /// still open at its end), one per `[[faults]]` entry, in order.
    pub fault_windows: Vec<FaultWindow>,
    /// Fault windows and operator steps not yet opened or done.
    pub unopened: Arc<AtomicU64>,
    pub ops_done: Arc<Mutex<Vec<StepDone>>>,
    /// The timeline's tasks, aborted once the run is quiet.
    pub timeline: JoinSet<()>,
}

/// Drives the load of `plan` through the started parties.
pub async fn drive(plan: &Plan, parties: &Started, opts: &RunOptions) -> Driven {
    let scenario = &plan.scenario;
    let orders = super::orders::generate_orders(scenario, plan.seed);
    let released: Vec<(String, Vec<u32>)> = orders
        .iter()
        .map(|po| (po.po_number.clone(), po.lines.iter().map(|l| l.line_no).collect()))
        .collect();
    parties.erp.load(orders);
    let load_start = tokio::time::Instant::now();
    let load_start_us = now_us();
    // The run may end once quiet and every window has opened; windows still
    // open then are closed with the run.
    let unopened = Arc::new(AtomicU64::new(
        (scenario.faults.len() + scenario.ops.len()) as u64,
    ));
    let mut timeline = JoinSet::new();
    // Windows are timed from the load's start, reported from the run's.
    let offset_ms = load_start_us.saturating_sub(plan.started_us) / 1000;
    let fault_windows = start_faults(plan, parties, load_start, offset_ms, &unopened, &mut timeline);
    let ops_done = start_ops(plan, parties, load_start, &unopened, &mut timeline);
    // Sends overlapping a fault window are left out of the drivers' SLA figures.
    let exclude: Vec<(Duration, Duration)> = scenario
        .faults
        .iter()
        .map(|f| {
            (
                Duration::from_secs_f64(f.at_s),
                Duration::from_secs_f64(f.at_s + f.for_s),
            )
        })
        .collect();
    let outbound = scenario.outbound.as_ref().map(|o| {
        let orders = outbound::prepare(&parties.erp, &parties.wms, o, plan.seed);
        outbound::drive(
            parties.erp.clone(),
            orders,
            behaviour::outbound_schedule(o),
            load_start,
            tokio::time::Instant::from_std(plan.deadline),
            exclude.clone(),
        )
    });
    let load = release_pos(plan, parties, opts, &released, load_start, exclude).await;
    eprintln!(
        "crossdock: {} purchase orders released; waiting for quiescence",
        load.sent
    );
    Driven {
        released,
        load,
        outbound,
        fault_windows,
        unopened,
        ops_done,
        timeline,
    }
}

/// The fault timeline: each rule is added at its `at_s` and removed
/// `for_s` later, on the party it names.
fn start_faults(
    plan: &Plan,
    parties: &Started,
    load_start: tokio::time::Instant,
    offset_ms: u64,
    unopened: &Arc<AtomicU64>,
    timeline: &mut JoinSet<()>,
) -> Vec<FaultWindow> {
    let mut windows = Vec::new();
    for f in &plan.scenario.faults {
        let set = match f.role {
            SimRole::Erp => parties.erp.faults().clone(),
            SimRole::Wms => parties.wms.faults().clone(),
            SimRole::Supplier => parties.supplier.faults().clone(),
        };
        let (from, to) = (
            Duration::from_secs_f64(f.at_s),
            Duration::from_secs_f64(f.at_s + f.for_s),
        );
        windows.push(FaultWindow {
            role: f.role.role(),
            kind: f.rule.fault.name().to_owned(),
            endpoint: f.rule.endpoint.clone(),
            from_ms: offset_ms + from.as_millis() as u64,
            to_ms: offset_ms + to.as_millis() as u64,
        });
        let (rule, unopened) = (f.rule.clone(), unopened.clone());
        timeline.spawn(async move {
            tokio::time::sleep_until(load_start + from).await;
            let id = set
                .add(rule)
                .expect("rules are validated when the scenario is parsed");
            unopened.fetch_sub(1, Ordering::SeqCst);
            tokio::time::sleep_until(load_start + to).await;
            set.remove(id);
        });
    }
    windows
}

/// Operator steps, on the same timeline (they count as unopened until done).
fn start_ops(
    plan: &Plan,
    parties: &Started,
    load_start: tokio::time::Instant,
    unopened: &Arc<AtomicU64>,
    timeline: &mut JoinSet<()>,
) -> Arc<Mutex<Vec<StepDone>>> {
    let done = Arc::new(Mutex::new(Vec::new()));
    for step in &plan.scenario.ops {
        let unopened = unopened.clone();
        let step = ops::run_step(
            step.clone(),
            load_start,
            parties.core_url.clone(),
            parties.ops_token.clone(),
            done.clone(),
        );
        timeline.spawn(async move {
            step.await;
            unopened.fetch_sub(1, Ordering::SeqCst);
        });
    }
    done
}

/// The POs, on an open model: release i is due at its intended time on the
/// scenario's schedule, whether or not earlier releases have been answered;
/// its latency runs from that time to the core's answer.
async fn release_pos(
    plan: &Plan,
    parties: &Started,
    opts: &RunOptions,
    released: &[(String, Vec<u32>)],
    load_start: tokio::time::Instant,
    exclude: Vec<(Duration, Duration)>,
) -> LoadReport {
    let total = released.len() as u64;
    let schedule = plan
        .scenario
        .load
        .as_ref()
        .map_or_else(|| Schedule::constant(1.0), behaviour::load_schedule);
    Driver::new(schedule)
        .max_sends(total)
        .max_duration(plan.deadline.saturating_duration_since(Instant::now()))
        .start_at(load_start)
        .exclude(exclude)
        .run(|i| {
            opts.report(Progress::Releasing {
                released: i + 1,
                total,
            });
            let (erp, po_number) = (parties.erp.clone(), released[i as usize].0.clone());
            async move { erp.release(&po_number).await.is_some_and(|a| a.is_success()) }
        })
        .await
}
