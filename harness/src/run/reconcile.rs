//! The reconciliations a scenario's `[inventory]` asks for, run through
//! the core's ops API once the run is quiet.

use std::time::{Duration, Instant};

use contracts::http::IDEMPOTENCY_KEY;
use contracts::routes::core;
use scenario::InventorySection;

use super::external::CoreAccess;

/// After quiescence: runs the reconciliations `[inventory]` asks for, one
/// after another (a 409 while adjustments are in flight is retried), then
/// waits until the core's outbox is empty again; all before `deadline`.
/// Returns how many runs the core accepted, or what was left undone.
pub async fn reconcile(
    inventory: Option<&InventorySection>,
    core: &CoreAccess,
    ops_token: &str,
    seed: u64,
    deadline: Instant,
) -> Result<u32, String> {
    let Some(runs) = inventory.map(|i| i.reconciliations).filter(|n| *n > 0) else {
        return Ok(0);
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("failed to build an HTTP client: {e}"))?;
    let url = format!("{}{}", core.url(), core::OPS_RECONCILIATIONS);
    for run in 1..=runs {
        let key = format!("harness-reconciliation:{seed}:{run}");
        loop {
            let answer = http
                .post(&url)
                .bearer_auth(ops_token)
                .header(IDEMPOTENCY_KEY, &key)
                .send()
                .await;
            let status = match answer {
                Ok(r) if r.status().is_success() => break,
                Ok(r) => r.status().as_u16(),
                Err(e) => return Err(format!("reconciliation {run}: the core did not answer: {e}")),
            };
            let retryable = matches!(status, 409 | 429) || status >= 500;
            if !retryable || Instant::now() >= deadline {
                return Err(format!(
                    "reconciliation {run}: the core answered {status}{}",
                    if retryable { " until the time bound" } else { "" }
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Quiet again: the corrections delivered.
    let mut quiet = 0;
    while quiet < 2 {
        let pending = core.status().await.map(|s| s.outbox_pending).unwrap_or(i64::MAX);
        quiet = if pending == 0 { quiet + 1 } else { 0 };
        if quiet < 2 {
            if Instant::now() >= deadline {
                return Err(format!(
                    "after {runs} reconciliation(s), {pending} outbox row(s) still pending at the time bound"
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    Ok(runs)
}
