//! The inventory and invoicing parts of a run: the scenario sections
//! `[invoicing]` and `[inventory]` (absent = not run), how they configure
//! the simulated parties and the core, and the reconciliation the run
//! triggers after quiescence.
//!
//! ```toml
//! [invoicing]                         # the supplier invoices what it shipped
//! delay_ms = 0                        # after the ASN
//! price_variance_probability = 0.2    # a line's price raised by variance_pct
//! quantity_variance_probability = 0.1 # a line's quantity raised by variance_pct
//! variance_pct = 10
//! price_tolerance_pct = 2             # the core's 3-way match tolerance
//!
//! [inventory]                         # the WMS adjusts stock after receiving
//! adjustment_probability = 0.5        # per receipt: one adjustment
//! forget_probability = 0.3            # … made but never sent (drift)
//! adjustment_delay_ms = 5
//! max_delta = 3
//! reconciliations = 2                 # run after quiescence, back to back
//! ```

use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::Deserialize;

use contracts::http::IDEMPOTENCY_KEY;
use contracts::routes::core;
use integration_core::CoreConfig;
use simulators::supplier::{InvoicingBehaviour, SupplierSim};
use simulators::wms::{InventoryBehaviour, WmsSim};

use crate::scenario::Probability;

fn default_variance() -> u8 {
    10
}

fn default_price_tolerance() -> u8 {
    2
}

/// `[invoicing]`: the supplier invoices after shipping; the core matches.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoicingSection {
    /// Time from the ASN to the invoice. Shorter than the WMS's receipt
    /// delay, invoices arrive before their goods and are held.
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default)]
    pub price_variance_probability: Probability,
    #[serde(default)]
    pub quantity_variance_probability: Probability,
    /// How much a variance raises a price or a quantity, in percent.
    #[serde(default = "default_variance")]
    pub variance_pct: u8,
    /// The core's 3-way match price tolerance, in percent (also what the
    /// checker judges by).
    #[serde(default = "default_price_tolerance")]
    pub price_tolerance_pct: u8,
}

fn default_max_delta() -> u32 {
    3
}

fn default_reconciliations() -> u32 {
    1
}

/// `[inventory]`: the WMS adjusts stock; the run reconciles at the end.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventorySection {
    /// Chance that a receipt is followed by one adjustment of its stock.
    #[serde(default)]
    pub adjustment_probability: Probability,
    /// Chance that an adjustment is made but never sent to the core: the
    /// ERP drifts from the WMS.
    #[serde(default)]
    pub forget_probability: Probability,
    #[serde(default)]
    pub adjustment_delay_ms: u64,
    /// Largest change of one adjustment, in units.
    #[serde(default = "default_max_delta")]
    pub max_delta: u32,
    /// Reconciliation runs after quiescence, one right after another (a
    /// second run must not correct again what the first corrected).
    #[serde(default = "default_reconciliations")]
    pub reconciliations: u32,
}

/// Gives the simulated parties the behaviour the sections ask for.
pub fn configure_parties(
    invoicing: Option<&InvoicingSection>,
    inventory: Option<&InventorySection>,
    supplier: &SupplierSim,
    wms: &WmsSim,
) {
    if let Some(i) = invoicing {
        supplier.set_invoicing(i.behaviour());
    }
    if let Some(i) = inventory {
        wms.set_inventory(i.behaviour());
    }
}

impl InvoicingSection {
    /// The supplier's side of the section.
    pub fn behaviour(&self) -> InvoicingBehaviour {
        InvoicingBehaviour {
            enabled: true,
            delay: Duration::from_millis(self.delay_ms),
            price_variance_probability: self.price_variance_probability.0,
            quantity_variance_probability: self.quantity_variance_probability.0,
            variance_pct: self.variance_pct,
        }
    }
}

impl InventorySection {
    /// The WMS's side of the section.
    pub fn behaviour(&self) -> InventoryBehaviour {
        InventoryBehaviour {
            adjustment_probability: self.adjustment_probability.0,
            forget_probability: self.forget_probability.0,
            adjustment_delay: Duration::from_millis(self.adjustment_delay_ms),
            max_delta: self.max_delta,
        }
    }
}

/// The core's side of the sections.
pub fn configure_core(invoicing: Option<&InvoicingSection>, config: &mut CoreConfig) {
    if let Some(i) = invoicing {
        config.invoicing.price_tolerance_pct = i.price_tolerance_pct;
    }
}

/// After quiescence: runs the reconciliations `[inventory]` asks for, one
/// after another (a 409 while adjustments are in flight is retried), then
/// waits until the core's outbox is empty again; all before `deadline`.
/// Returns how many runs the core accepted, or what was left undone.
pub async fn reconcile(
    inventory: Option<&InventorySection>,
    core: &crate::run::external::CoreAccess,
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
