//! Operator steps on the run's timeline (`[[ops]]`): what an operator does
//! to the core during a run, such as replaying dead letters after an outage
//! (`POST /v1/ops/dead-letters/replay`). The check that it converged is
//! `checker::ops`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use checker::ops::StepDone;
use contracts::routes::core;
use scenario::{OpsAction, OpsStep};

/// Runs `step` at `start + at_s` against the core; the result goes to `done`.
pub async fn run_step(
    step: OpsStep,
    start: tokio::time::Instant,
    core_url: String,
    ops_token: String,
    done: Arc<Mutex<Vec<StepDone>>>,
) {
    tokio::time::sleep_until(start + Duration::from_secs_f64(step.at_s.0)).await;
    let outcome = match step.action {
        OpsAction::ReplayDeadLetters => replay(&core_url, &ops_token).await,
    };
    done.lock().expect("ops lock").push(StepDone {
        at_s: step.at_s.0,
        outcome,
    });
}

async fn replay(core_url: &str, ops_token: &str) -> Result<u64, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("failed to build an HTTP client: {e}"))?;
    let answer = http
        .post(format!("{core_url}{}", core::OPS_DEAD_LETTER_REPLAY))
        .bearer_auth(ops_token)
        .json(&serde_json::json!({"all": true}))
        .send()
        .await
        .map_err(|e| format!("the core did not answer: {e}"))?;
    let status = answer.status();
    if !status.is_success() {
        return Err(format!("the core answered {status}"));
    }
    let result: contracts::ops::ReplayResult = answer
        .json()
        .await
        .map_err(|e| format!("the core's answer is not a ReplayResult: {e}"))?;
    Ok(result.replayed)
}
