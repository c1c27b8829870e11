//! The sections of a scenario: the load, each party's behaviour, the SLA,
//! invoicing and inventory, the core's settings and operator steps. Data
//! only: what acts on them (the load driver, the simulators' and the core's
//! configurations, the checker's SLA judging) lives above this crate.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

use crate::values::{CountRange, Positive, PositiveF64, Probability};

/// Load shape and bounds.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Load {
    pub purchase_orders: Positive,
    pub lines_per_po: CountRange,
    /// Open model: releases per second at the start (constant without `ramp`).
    pub arrival_rate_per_s: PositiveF64,
    /// Ramp stages after the start, in order: each goes linearly from the
    /// rate in force to `to_per_s` over `over_s` seconds; the last rate is
    /// held after them (0 ends the load).
    #[serde(default)]
    pub ramp: Vec<Ramp>,
    pub time_bound_s: Positive,
}

fn default_copies() -> CountRange {
    CountRange { min: 1, max: 1 }
}

/// The simulated supplier's behaviour.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierBehaviour {
    #[serde(default)]
    pub ack_delay_ms: u64,
    #[serde(default)]
    pub asn_delay_ms: u64,
    #[serde(default = "default_copies")]
    pub asn_copies: CountRange,
    #[serde(default)]
    pub concurrent_copies: bool,
    /// Chance that the acknowledgement rejects a PO line (confirmed 0).
    #[serde(default)]
    pub rejected_probability: Probability,
    /// Chance that a PO line is acknowledged backordered (confirmed 0 for now).
    #[serde(default)]
    pub backordered_probability: Probability,
    /// Chance that a PO line is confirmed `change_pct` short.
    #[serde(default)]
    pub quantity_changed_probability: Probability,
    /// Chance that a PO line's date is rescheduled (quantity kept).
    #[serde(default)]
    pub date_rescheduled_probability: Probability,
    /// Chance that an ASN is replaced (quantities lowered by `change_pct`, new cartons).
    #[serde(default)]
    pub replace_probability: Probability,
    /// Chance that an ASN is then cancelled.
    #[serde(default)]
    pub cancel_probability: Probability,
    #[serde(default = "default_variance")]
    pub change_pct: u8,
}

impl Default for SupplierBehaviour {
    fn default() -> Self {
        Self {
            ack_delay_ms: 0,
            asn_delay_ms: 0,
            asn_copies: default_copies(),
            concurrent_copies: false,
            rejected_probability: Probability::default(),
            backordered_probability: Probability::default(),
            quantity_changed_probability: Probability::default(),
            date_rescheduled_probability: Probability::default(),
            replace_probability: Probability::default(),
            cancel_probability: Probability::default(),
            change_pct: default_variance(),
        }
    }
}

fn default_variance() -> u8 {
    20
}

/// The simulated WMS's behaviour.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WmsBehaviour {
    #[serde(default)]
    pub receipt_delay_ms: u64,
    /// Chance that a line is counted short by `variance_pct`.
    #[serde(default)]
    pub short_probability: Probability,
    /// Chance that a line is counted over by `variance_pct`.
    #[serde(default)]
    pub over_probability: Probability,
    /// Chance that `variance_pct` of a line arrives damaged (quality stock).
    #[serde(default)]
    pub damaged_probability: Probability,
    #[serde(default = "default_variance")]
    pub variance_pct: u8,
    /// Chance that a receipt is recounted and corrected by a second event
    /// (seq 2) for the same receipt.
    #[serde(default)]
    pub correction_probability: Probability,
    /// Chance that a line arrives as the wrong item (blocked stock, not posted).
    #[serde(default)]
    pub wrong_item_probability: Probability,
    /// Chance that a receipt carries goods nobody advised (blocked stock, not posted).
    #[serde(default)]
    pub not_advised_probability: Probability,
}

impl Default for WmsBehaviour {
    fn default() -> Self {
        Self {
            receipt_delay_ms: 0,
            short_probability: Probability::default(),
            over_probability: Probability::default(),
            damaged_probability: Probability::default(),
            variance_pct: default_variance(),
            correction_probability: Probability::default(),
            wrong_item_probability: Probability::default(),
            not_advised_probability: Probability::default(),
        }
    }
}

fn default_release_timeout_ms() -> Positive {
    Positive(2000)
}

/// The outbound flow (order to ship): the ERP's sales-order releases and the
/// WMS's outbound behaviour. Absent: the flow is not run.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutboundLoad {
    /// How many sales orders the ERP releases.
    pub orders: Positive,
    pub lines_per_order: CountRange,
    /// Open model: releases per second at the start (constant without `ramp`).
    pub arrival_rate_per_s: PositiveF64,
    /// Ramp stages after the start, as in `[load]`.
    #[serde(default)]
    pub ramp: Vec<Ramp>,
    /// Chance that a line's item is missing from the WMS's item master
    /// (its release is then rejected).
    #[serde(default)]
    pub unknown_item_probability: Probability,
    /// Time from an accepted release to its ship confirmation.
    #[serde(default)]
    pub ship_delay_ms: u64,
    /// Chance that a line ships short (half its quantity).
    #[serde(default)]
    pub short_ship_probability: Probability,
    /// How long the core waits for the WMS's release decision.
    #[serde(default = "default_release_timeout_ms")]
    pub release_timeout_ms: Positive,
    /// Bound of the whole run; required when there is no `[load]`.
    #[serde(default)]
    pub time_bound_s: Option<Positive>,
}

/// One ramp stage: from the rate in force, linearly to `to_per_s` over
/// `over_s` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    /// The arrival rate at the end of the stage (0 ends the schedule once
    /// reached).
    pub to_per_s: f64,
    /// How long the change takes; a stage to the same rate holds it.
    pub over_s: f64,
}

impl<'de> Deserialize<'de> for Ramp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            to_per_s: f64,
            over_s: f64,
        }
        let raw = Raw::deserialize(d)?;
        if !(raw.to_per_s.is_finite() && raw.to_per_s >= 0.0) {
            return Err(serde::de::Error::custom(format!(
                "expected to_per_s >= 0, found {}",
                raw.to_per_s
            )));
        }
        if !(raw.over_s.is_finite() && raw.over_s > 0.0) {
            return Err(serde::de::Error::custom(format!(
                "expected over_s > 0, found {}",
                raw.over_s
            )));
        }
        Ok(Ramp {
            to_per_s: raw.to_per_s,
            over_s: raw.over_s,
        })
    }
}

impl JsonSchema for Ramp {
    fn schema_name() -> Cow<'static, str> {
        "Ramp".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "description": "from the rate in force, linearly to `to_per_s` over `over_s` seconds",
            "properties": {
                "to_per_s": {"type": "number", "minimum": 0},
                "over_s": {"type": "number", "exclusiveMinimum": 0}
            },
            "required": ["to_per_s", "over_s"],
            "additionalProperties": false
        })
    }
}

/// Bounds on one flow; each one set is judged by its own check.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    #[serde(default)]
    pub p50_ms: Option<PositiveF64>,
    #[serde(default)]
    pub p95_ms: Option<PositiveF64>,
    #[serde(default)]
    pub p99_ms: Option<PositiveF64>,
    #[serde(default)]
    pub max_ms: Option<PositiveF64>,
    /// The highest share (0..=1) of the flow's requests answered with an
    /// error or not at all.
    #[serde(default)]
    pub error_rate: Option<Probability>,
}

fn default_recovery_s() -> PositiveF64 {
    PositiveF64(15.0)
}

/// The scenario's `[sla]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    /// Older form of `[sla.asn_to_expectation] p99_ms` (that wins when both
    /// are set).
    #[serde(default)]
    pub asn_to_expectation_p99_ms: Option<PositiveF64>,
    /// After each fault window, everything accepted before its end is
    /// delivered within this many seconds of it.
    #[serde(default = "default_recovery_s")]
    pub recovery_s: PositiveF64,
    #[serde(default)]
    pub po_release: Option<Bounds>,
    #[serde(default)]
    pub asn_to_expectation: Option<Bounds>,
    #[serde(default)]
    pub receipt_to_posting: Option<Bounds>,
    #[serde(default)]
    pub order_release: Option<Bounds>,
    #[serde(default)]
    pub release_to_decision: Option<Bounds>,
    #[serde(default)]
    pub ship_confirmation_to_posting: Option<Bounds>,
}

impl Default for Sla {
    fn default() -> Self {
        Self {
            asn_to_expectation_p99_ms: None,
            recovery_s: default_recovery_s(),
            po_release: None,
            asn_to_expectation: None,
            receipt_to_posting: None,
            order_release: None,
            release_to_decision: None,
            ship_confirmation_to_posting: None,
        }
    }
}

fn default_invoice_variance() -> u8 {
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
    #[serde(default = "default_invoice_variance")]
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
    pub at_s: PositiveF64,
    pub action: OpsAction,
}

/// The core's configuration a scenario may set (`[core]`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoreSection {
    /// Delivery attempts before the core dead-letters a delivery (default:
    /// the core's own, 12).
    #[serde(default)]
    pub max_attempts: Option<Positive>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ramp_is_read_from_toml_and_bad_stages_are_refused() {
        #[derive(Deserialize)]
        struct T {
            ramp: Vec<Ramp>,
        }
        let t: T = toml::from_str("ramp = [{ to_per_s = 50, over_s = 5 }]").unwrap();
        assert_eq!(
            t.ramp,
            vec![Ramp {
                to_per_s: 50.0,
                over_s: 5.0
            }]
        );
        let e = toml::from_str::<T>("ramp = [{ to_per_s = 50, over_s = 0 }]")
            .err()
            .unwrap();
        assert!(e.to_string().contains("expected over_s > 0"), "{e}");
        let e = toml::from_str::<T>("ramp = [{ to_per_s = 5, over_s = 1, x = 1 }]")
            .err()
            .unwrap();
        assert!(e.to_string().contains("unknown field"), "{e}");
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
