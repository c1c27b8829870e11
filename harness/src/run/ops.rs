//! Operator steps on the run's timeline (`[[ops]]`): what an operator does
//! to the core during a run, such as replaying dead letters after an outage
//! (`POST /v1/ops/dead-letters/replay`), and the check that it converged.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use contracts::routes::core;
use reports::{Check, Violation};
use schemars::JsonSchema;
use serde::Deserialize;

/// What an operator step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OpsAction {
    /// `POST /v1/ops/dead-letters/replay` with `{"all": true}`.
    ReplayDeadLetters,
}

/// One operator step: `action` at `at_s` from the start of the load.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpsStep {
    pub at_s: crate::scenario::PositiveF64,
    pub action: OpsAction,
}

/// The core's configuration a scenario may set (`[core]`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoreSection {
    /// Delivery attempts before the core dead-letters a delivery (default:
    /// the core's own, 12).
    #[serde(default)]
    pub max_attempts: Option<crate::scenario::Positive>,
}

/// What one step got.
#[derive(Debug, Clone)]
pub struct StepDone {
    pub step: OpsStep,
    /// Dead letters put back, or why the step failed.
    pub outcome: Result<u64, String>,
}

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
    done.lock().expect("ops lock").push(StepDone { step, outcome });
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

/// `dead-letters-replayed`: every replay step was answered and put dead
/// letters back, and none is left dead at the end of the run (that nothing
/// was lost or doubled by the replay is the flows' own checks).
pub fn replay_check(done: &[StepDone], dead_at_end: Option<u64>) -> Check {
    let mut v = Vec::new();
    for d in done {
        let key = format!("ops at_s={}", d.step.at_s.0);
        match &d.outcome {
            Ok(0) => v.push(Violation {
                key,
                message: "replayed nothing: no delivery had been dead-lettered by then".into(),
                witness: vec![],
            }),
            Ok(_) => {}
            Err(e) => v.push(Violation {
                key,
                message: format!("replay failed: {e}"),
                witness: vec![],
            }),
        }
    }
    match dead_at_end {
        Some(0) => {}
        Some(n) => v.push(Violation {
            key: "core outbox".into(),
            message: format!("{n} dead letter(s) left after the last replay"),
            witness: vec![],
        }),
        None => v.push(Violation {
            key: "core outbox".into(),
            message: "the core's status could not be read at the end of the run".into(),
            witness: vec![],
        }),
    }
    Check::new(
        "dead-letters-replayed",
        "every dead-letter replay step put deliveries back and none is left dead at the end (nothing lost or doubled: the flows' checks)",
        done.len() as u64,
        v,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(at_s: f64, outcome: Result<u64, String>) -> StepDone {
        StepDone {
            step: OpsStep {
                at_s: crate::scenario::PositiveF64(at_s),
                action: OpsAction::ReplayDeadLetters,
            },
            outcome,
        }
    }

    #[test]
    fn a_replay_converges_only_when_it_put_letters_back_and_none_is_left() {
        assert!(replay_check(&[step(3.0, Ok(12))], Some(0)).passed);
        let c = replay_check(&[step(3.0, Ok(0)), step(4.0, Err("503".into()))], Some(2));
        let messages: Vec<&str> = c.violations.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(c.violations_total, 3, "{messages:?}");
        assert!(messages[0].contains("replayed nothing"));
        assert!(messages[1].contains("replay failed: 503"));
        assert!(messages[2].contains("2 dead letter(s) left"));
        assert_eq!(c.violations[0].key, "ops at_s=3");
    }

    #[test]
    fn steps_parse_and_unknown_actions_are_refused() {
        #[derive(Deserialize)]
        struct T {
            ops: Vec<OpsStep>,
        }
        let t: T = toml::from_str("[[ops]]\nat_s = 3\naction = \"replay-dead-letters\"\n").unwrap();
        assert_eq!(t.ops[0].action, OpsAction::ReplayDeadLetters);
        let e = toml::from_str::<T>("[[ops]]\nat_s = 3\naction = \"reboot\"\n")
            .err()
            .unwrap();
        assert!(e.to_string().contains("replay-dead-letters"), "{e}");
    }
}
