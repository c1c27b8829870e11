//! One scenario run, as a pipeline of named stages, each in its own file
//! and each handing a typed value to the next:
//!
//! 1. [`plan`]: the scenario, the seed, which parties are simulated and
//!    which are at a URL, the output directory → [`plan::Plan`];
//! 2. [`start`]: listeners, simulators, the core, tokens, servers and
//!    proxies → [`start::Started`];
//! 3. [`drive`]: the fault timeline, operator steps and the load drivers
//!    → [`drive::Driven`];
//! 4. [`settle`]: quiescence (bounded), then the reconciliations;
//! 5. [`collect`]: everything stopped, histories flushed, events read
//!    → [`collect::Collected`];
//! 6. [`judge`]: `expectations.json` written, the checker run on the
//!    directory → `checker::Verdict`;
//! 7. [`report`]: report.json, junit.xml, report.html.
//!
//! No stage reaches back: each imports [`options`] (what a run is given and
//! gives back) and the stages before it, never one after it.

pub mod collect;
pub mod drive;
pub mod events;
pub mod external;
pub mod judge;
pub mod ops;
pub mod options;
pub mod orders;
pub mod outbound;
pub mod plan;
pub mod reconcile;
pub mod report;
pub mod settle;
pub mod start;
pub mod store;

use std::path::Path;

pub use options::{CoreOverrides, Progress, ProgressSink, RunError, RunOptions, RunOutcome};
pub use orders::generate_orders;
pub use report::{RELEASE_FLOW, load_latency, load_summary};
pub use store::RunStore;

/// Runs the scenario in `file` and writes its report.
pub async fn run_scenario(file: &Path, opts: &RunOptions) -> Result<RunOutcome, RunError> {
    let plan = plan::plan(file, opts).await?;
    let parties = start::start(&plan, opts).await?;
    let driven = drive::drive(&plan, &parties, opts).await;
    let quiescence = settle::settle(&plan, &parties, &driven, opts).await;
    let collected = collect::collect(&plan, parties, driven).await?;
    opts.report(Progress::Checking);
    let verdict = judge::judge(&plan, &quiescence, &collected)?;
    let report = report::report(&plan, &collected, verdict);
    report::write(&plan, &report)?;
    Ok(RunOutcome {
        report,
        out_dir: plan.out,
    })
}
