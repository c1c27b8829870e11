//! Stage 5 of a run: stop it and gather what it left. The timeline is
//! aborted, fault windows still open are closed with the run, the core's
//! last status is read, every party is stopped and its history flushed,
//! and the run's events are read back from the stream (twice).

use std::path::PathBuf;

use checker::FaultWindow;
use checker::events::EventsSeen;
use checker::ops::OpsOutcome;
use integration_core::OpsStatus;

use super::drive::Driven;
use super::options::RunError;
use super::plan::Plan;
use super::start::Started;
use super::store;
use crate::load::LoadReport;

/// What a stopped run left for the checker and the report.
pub struct Collected {
    pub released: Vec<(String, Vec<u32>)>,
    pub load: LoadReport,
    pub outbound: Option<LoadReport>,
    pub fault_windows: Vec<FaultWindow>,
    pub core_status: Option<OpsStatus>,
    pub ops: Option<OpsOutcome>,
    pub events: Option<EventsSeen>,
    /// The history files, one per party.
    pub histories: Vec<PathBuf>,
}

/// Stops every party of the run and gathers what it left.
pub async fn collect(plan: &Plan, parties: Started, mut driven: Driven) -> Result<Collected, RunError> {
    driven.timeline.abort_all();
    // The driver stops at the deadline, so it has finished here unless it
    // panicked.
    let outbound = match driven.outbound {
        Some(d) => d.await.ok(),
        None => None,
    };
    let ended_ms = plan.t0.elapsed().as_millis() as u64;
    for w in &mut driven.fault_windows {
        w.to_ms = w.to_ms.min(ended_ms);
    }
    let core_status = parties.core.status().await.ok();
    stop(parties.core, parties.database, parties.servers).await;
    for r in [
        parties.erp.recorder(),
        parties.wms.recorder(),
        parties.supplier.recorder(),
    ] {
        r.flush().await.map_err(|source| RunError::Output {
            path: r.path().to_owned(),
            source,
        })?;
    }
    let events = match &parties.events {
        Some(ev) => Some(read_events(ev).await?),
        None => None,
    };
    let ops = (!plan.scenario.ops.is_empty()).then(|| OpsOutcome {
        steps: driven.ops_done.lock().expect("ops lock").clone(),
        dead_at_end: core_status.as_ref().map(|s| s.outbox_dead as u64),
    });
    Ok(Collected {
        released: driven.released,
        load: driven.load,
        outbound,
        fault_windows: driven.fault_windows,
        core_status,
        ops,
        events,
        histories: ["erp", "supplier", "wms"]
            .iter()
            .map(|p| plan.out.join(format!("{p}.jsonl")))
            .collect(),
    })
}

async fn stop(
    core: super::external::CoreAccess,
    database: Option<integration_core::pgstore::ScratchDb>,
    servers: Vec<simulators::Server>,
) {
    core.stop().await;
    if let Some(db) = database {
        store::drop_database(db).await;
    }
    for server in servers {
        let _ = server.stop().await;
    }
}

/// The run's part of the stream, read twice (once quiet: the outbox had no
/// event row pending).
async fn read_events(ev: &super::events::Prepared) -> Result<EventsSeen, RunError> {
    let read = |what| move |message| RunError::Start { what, message };
    let first = ev.read().await.map_err(read("reading the events stream"))?;
    let replay = ev.read().await.map_err(read("replaying the events stream"))?;
    Ok(EventsSeen {
        stream: ev.config.stream.clone(),
        first,
        replay,
    })
}
