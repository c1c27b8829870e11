//! Operator steps a run took (dead-letter replays), judged.

use reports::{Check, Violation};
use serde::{Deserialize, Serialize};

/// What one operator step got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDone {
    /// When it was due, in seconds from the load's start.
    pub at_s: f64,
    /// Dead letters put back, or why the step failed.
    pub outcome: Result<u64, String>,
}

/// The run's operator steps and what the core held dead at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpsOutcome {
    pub steps: Vec<StepDone>,
    /// Dead letters in the core's outbox at the end; `None`: its status
    /// could not be read.
    pub dead_at_end: Option<u64>,
}

impl OpsOutcome {
    /// Dead letters the steps put back, in all.
    pub fn replayed(&self) -> u64 {
        self.steps.iter().filter_map(|d| d.outcome.as_ref().ok()).sum()
    }
}

/// `dead-letters-replayed`: every replay step was answered and put dead
/// letters back, and none is left dead at the end of the run (that nothing
/// was lost or doubled by the replay is the flows' own checks).
pub fn replay_check(ops: &OpsOutcome) -> Check {
    let mut v = Vec::new();
    for d in &ops.steps {
        let key = format!("ops at_s={}", d.at_s);
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
    let left = match ops.dead_at_end {
        Some(0) => None,
        Some(n) => Some(format!("{n} dead letter(s) left after the last replay")),
        None => Some("the core's status could not be read at the end of the run".into()),
    };
    v.extend(left.map(|message| Violation {
        key: "core outbox".into(),
        message,
        witness: vec![],
    }));
    Check::new(
        "dead-letters-replayed",
        "every dead-letter replay step put deliveries back and none is left dead at the end (nothing lost or doubled: the flows' checks)",
        ops.steps.len() as u64,
        v,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(at_s: f64, outcome: Result<u64, String>) -> StepDone {
        StepDone { at_s, outcome }
    }

    #[test]
    fn a_replay_converges_only_when_it_put_letters_back_and_none_is_left() {
        let ops = |steps, dead_at_end| OpsOutcome { steps, dead_at_end };
        assert!(replay_check(&ops(vec![step(3.0, Ok(12))], Some(0))).passed);
        let c = replay_check(&ops(
            vec![step(3.0, Ok(0)), step(4.0, Err("503".into()))],
            Some(2),
        ));
        let messages: Vec<&str> = c.violations.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(c.violations_total, 3, "{messages:?}");
        assert!(messages[0].contains("replayed nothing"));
        assert!(messages[1].contains("replay failed: 503"));
        assert!(messages[2].contains("2 dead letter(s) left"));
        assert_eq!(c.violations[0].key, "ops at_s=3");
        let unread = replay_check(&ops(vec![step(3.0, Ok(1))], None));
        assert!(unread.violations[0].message.contains("could not be read"));
    }
}
