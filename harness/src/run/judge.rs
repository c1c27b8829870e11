//! Stage 6 of a run: judge it. What the run knows besides its histories is
//! written beside them as `expectations.json`, then the checker judges the
//! directory exactly as `crossdock check DIR` would.

use checker::{EXPECTATIONS_FORMAT, Expectations, Verdict};

use super::collect::Collected;
use super::options::RunError;
use super::plan::Plan;
use crate::behaviour;

/// The checker's expectations of this run.
pub fn expectations(plan: &Plan, quiescence: &Result<(), String>, c: &Collected) -> Expectations {
    let scenario = &plan.scenario;
    let mut driven = Vec::new();
    if scenario.load.is_some() {
        driven.push(c.load.judged.clone());
    }
    driven.extend(c.outbound.as_ref().map(|r| r.judged.clone()));
    Expectations {
        format: EXPECTATIONS_FORMAT,
        run_started_us: plan.started_us,
        released: Some(c.released.iter().take(c.load.sent as usize).cloned().collect()),
        not_quiet: quiescence.clone().err(),
        fault_windows: c.fault_windows.clone(),
        sla: behaviour::sla(&scenario.sla),
        price_tolerance_pct: scenario.invoicing.as_ref().map(|i| i.price_tolerance_pct),
        inbound: scenario.load.is_some(),
        outbound: scenario.outbound.is_some(),
        driven,
        ops: c.ops.clone(),
        events: c.events.clone(),
        required: scenario.required_checks(),
    }
}

/// Writes the expectations and judges the run's directory.
pub fn judge(plan: &Plan, quiescence: &Result<(), String>, c: &Collected) -> Result<Verdict, RunError> {
    let expect = expectations(plan, quiescence, c);
    let path = plan.out.join(checker::EXPECTATIONS_FILE);
    let text = serde_json::to_string_pretty(&expect).expect("expectations serialize");
    std::fs::write(&path, text + "\n").map_err(|source| RunError::Output { path, source })?;
    Ok(checker::judge(&c.histories, &expect)?)
}
