//! Stage 4 of a run: wait, bounded by the scenario's time bound, until
//! nothing is in flight anywhere (two polls in a row), then run the
//! reconciliations `[inventory]` asks for and wait until quiet again.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::drive::Driven;
use super::options::{Progress, RunOptions};
use super::plan::Plan;
use super::reconcile::reconcile;
use super::start::Started;

/// `Ok` once quiet; else what was left when the time bound came.
pub async fn settle(
    plan: &Plan,
    parties: &Started,
    driven: &Driven,
    opts: &RunOptions,
) -> Result<(), String> {
    quiet(plan, parties, driven, opts).await?;
    reconcile(
        plan.scenario.inventory.as_ref(),
        &parties.core,
        &parties.ops_token,
        plan.seed,
        plan.deadline,
    )
    .await
    .map(|_| ())
}

/// What is still busy, by kind, at one poll.
struct Busy {
    outbox: i64,
    unopened: usize,
    outbound: bool,
    total: usize,
}

async fn poll(plan: &Plan, parties: &Started, driven: &Driven) -> Busy {
    let outbox = parties
        .core
        .status()
        .await
        .map(|s| s.outbox_pending)
        .unwrap_or(i64::MAX);
    let unopened = driven.unopened.load(Ordering::SeqCst) as usize;
    let outbound = driven.outbound.as_ref().is_some_and(|d| !d.is_finished());
    let total = driven.load.timed_out as usize
        + plan.parties.proxies_busy(&parties.activity)
        + unopened
        + parties.supplier.pending()
        + parties.wms.pending()
        + usize::from(outbound);
    Busy {
        outbox,
        unopened,
        outbound,
        total,
    }
}

async fn quiet(plan: &Plan, parties: &Started, driven: &Driven, opts: &RunOptions) -> Result<(), String> {
    let mut quiet_polls = 0;
    loop {
        let busy = poll(plan, parties, driven).await;
        opts.report(Progress::Settling {
            in_flight: busy.total as u64,
            outbox_pending: busy.outbox.max(0) as u64,
        });
        if busy.total == 0 && busy.outbox == 0 {
            quiet_polls += 1;
            if quiet_polls >= 2 {
                return Ok(());
            }
        } else {
            quiet_polls = 0;
        }
        if Instant::now() >= plan.deadline {
            return Err(format!(
                "not quiet after {} s: {} release(s), {} supplier and {} WMS send(s) in flight, \
                 {} outbox row(s) pending, {} fault window(s) or ops step(s) not yet due{}",
                plan.time_bound_s,
                driven.load.timed_out,
                parties.supplier.pending(),
                parties.wms.pending(),
                busy.outbox,
                busy.unopened,
                if busy.outbound {
                    ", sales-order releases still running"
                } else {
                    ""
                }
            ));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
