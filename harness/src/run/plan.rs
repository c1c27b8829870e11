//! Stage 1 of a run: read the scenario, settle the seed, resolve which
//! parties are simulated and which are the system under test at a URL, ask
//! the external ones if they are there, and prepare the output directory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use scenario::Scenario;
use simulators::recorder::now_us;
use simulators::rfc3339_utc;

use super::external;
use super::options::{RunError, RunOptions};

/// What a run is going to do, decided before anything starts.
#[derive(Debug)]
pub struct Plan {
    pub file: PathBuf,
    pub scenario: Scenario,
    pub seed: u64,
    pub parties: external::Plan,
    /// What the run cannot apply to, or judge of, an external party.
    pub notes: Vec<String>,
    /// Where the histories and reports go.
    pub out: PathBuf,
    /// When the run started (Unix µs, RFC 3339, monotonic).
    pub started_us: u64,
    pub started_at: String,
    pub t0: Instant,
    pub time_bound_s: u32,
    /// The whole run, quiescence included, ends by then.
    pub deadline: Instant,
}

/// Plans the run of `file`.
pub async fn plan(file: &Path, opts: &RunOptions) -> Result<Plan, RunError> {
    let scenario = Scenario::load(file)?;
    let seed = opts.seed.or(scenario.seed).unwrap_or_else(rand::random);
    eprintln!(
        "crossdock: running {} ({}) with seed {seed}",
        scenario.name,
        file.display()
    );
    let parties = external::Plan::resolve(&scenario, &opts.parties)
        .map_err(|e| RunError::BadParties(format!("{}: {e}", file.display())))?;
    refuse_misfits(&parties, opts)?;
    parties.check_ready().await?;
    // Told now, and kept in the report (JSON, HTML, JUnit, terminal).
    let notes = parties.notes(&scenario);
    for note in &notes {
        eprintln!("crossdock: {note}");
    }
    let out = output_dir(&opts.out_dir, &scenario.name)?;
    let started_us = now_us();
    let t0 = Instant::now();
    let time_bound_s = scenario.time_bound_s().unwrap_or(30);
    Ok(Plan {
        file: file.to_owned(),
        seed,
        parties,
        notes,
        out,
        started_us,
        started_at: rfc3339_utc(started_us),
        t0,
        time_bound_s,
        deadline: t0 + Duration::from_secs(u64::from(time_bound_s)),
        scenario,
    })
}

/// Options that judge or store the in-process core make no sense with an
/// external one.
fn refuse_misfits(parties: &external::Plan, opts: &RunOptions) -> Result<(), RunError> {
    if parties.core.is_some() && opts.events.is_some() {
        return Err(RunError::BadParties(
            "--events judges the in-process core's events; not judged: external core".into(),
        ));
    }
    if parties.core.is_some() && opts.store.is_some() {
        return Err(RunError::BadParties(
            "--store is where the in-process core keeps its state; the core is external".into(),
        ));
    }
    Ok(())
}

fn output_dir(base: &Path, name: &str) -> Result<PathBuf, RunError> {
    let dir = base.join(name);
    let io = |source| RunError::Output {
        path: dir.clone(),
        source,
    };
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io)?;
    }
    std::fs::create_dir_all(&dir).map_err(io)?;
    Ok(dir)
}
