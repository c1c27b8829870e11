//! The schema catalog: every wire type's JSON Schema (draft 2020-12), by name,
//! and compiled validators for them.
//!
//! The generated documents are committed under `contracts/schemas/`; the
//! `schemas_are_fresh` test fails when one is stale and rewrites it.

use std::collections::BTreeMap;

use schemars::{JsonSchema, schema_for};
use serde_json::Value;

use crate::acks::{IntakeAck, PartnerAck};
use crate::events::{InventoryAdjustedEvent, ShipmentConfirmedEvent};
use crate::history::Exchange;
use crate::inbound::{
    AdvanceShipNotice, ErpGoodsReceiptPosting, GoodsReceipt, InboundExpectation, PoAcknowledgement,
    PurchaseOrder, ReceiptDiscrepancy,
};
use crate::inventory::{InventoryAdjustment, InventorySnapshot, ReconciliationResult};
use crate::invoicing::{Invoice, MatchResult};
use crate::outbound::{ErpShipmentPosting, OrderRelease, OrderReleaseDecision, ShipmentConfirmation};
use crate::problem::Problem;

/// Base of every schema's `$id`.
pub const SCHEMA_BASE: &str = "https://crossdock.dev/schemas/v1/";

fn entry<T: JsonSchema>(name: &'static str) -> (&'static str, Value) {
    let mut schema = serde_json::to_value(schema_for!(T)).expect("a schema serializes");
    if let Value::Object(map) = &mut schema {
        map.insert("$id".into(), Value::String(format!("{SCHEMA_BASE}{name}.json")));
    }
    (name, schema)
}

/// Every wire type's schema, by type name.
pub fn catalog() -> Vec<(&'static str, Value)> {
    vec![
        entry::<PurchaseOrder>("PurchaseOrder"),
        entry::<PoAcknowledgement>("PoAcknowledgement"),
        entry::<AdvanceShipNotice>("AdvanceShipNotice"),
        entry::<InboundExpectation>("InboundExpectation"),
        entry::<GoodsReceipt>("GoodsReceipt"),
        entry::<ErpGoodsReceiptPosting>("ErpGoodsReceiptPosting"),
        entry::<ReceiptDiscrepancy>("ReceiptDiscrepancy"),
        entry::<OrderRelease>("OrderRelease"),
        entry::<OrderReleaseDecision>("OrderReleaseDecision"),
        entry::<ShipmentConfirmation>("ShipmentConfirmation"),
        entry::<ErpShipmentPosting>("ErpShipmentPosting"),
        entry::<InventoryAdjustment>("InventoryAdjustment"),
        entry::<InventorySnapshot>("InventorySnapshot"),
        entry::<ReconciliationResult>("ReconciliationResult"),
        entry::<Invoice>("Invoice"),
        entry::<MatchResult>("MatchResult"),
        entry::<ShipmentConfirmedEvent>("ShipmentConfirmedEvent"),
        entry::<InventoryAdjustedEvent>("InventoryAdjustedEvent"),
        entry::<IntakeAck>("IntakeAck"),
        entry::<PartnerAck>("PartnerAck"),
        entry::<Problem>("Problem"),
        entry::<Exchange>("Exchange"),
        entry::<crate::ops::OpsStatus>("OpsStatus"),
        entry::<crate::ops::DeadLetter>("DeadLetter"),
        entry::<crate::ops::ReplayRequest>("ReplayRequest"),
        entry::<crate::ops::ReplayResult>("ReplayResult"),
        entry::<crate::ops::Trace>("Trace"),
    ]
}

/// One way a document breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// JSON pointer to the offending value ("" for the root).
    pub pointer: String,
    /// What was expected and what was found.
    pub message: String,
}

impl std::fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "at {pointer}: {}", self.message)
    }
}

/// Validation against a name the catalog does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown schema {0:?}")]
pub struct UnknownSchema(pub String);

/// Compiled validators for the whole catalog.
pub struct SchemaSet {
    validators: BTreeMap<&'static str, jsonschema::Validator>,
}

impl std::fmt::Debug for SchemaSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaSet")
            .field("schemas", &self.validators.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SchemaSet {
    /// Compiles every schema of the catalog.
    ///
    /// # Panics
    /// When a generated schema does not compile: a bug in this crate, caught
    /// by its tests.
    pub fn new() -> Self {
        let validators = catalog()
            .into_iter()
            .map(|(name, schema)| {
                // `format` is asserted (dates, date-times), not only annotated.
                let v = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&schema)
                    .unwrap_or_else(|e| panic!("schema {name} does not compile: {e}"));
                (name, v)
            })
            .collect();
        Self { validators }
    }

    /// Validates `doc` against the schema named `name`.
    ///
    /// Returns every violation, each with its JSON pointer.
    pub fn validate(&self, name: &str, doc: &Value) -> Result<Vec<SchemaViolation>, UnknownSchema> {
        let validator = self
            .validators
            .get(name)
            .ok_or_else(|| UnknownSchema(name.to_owned()))?;
        if validator.is_valid(doc) {
            // The fast path: no error collection for the common, valid case.
            return Ok(Vec::new());
        }
        Ok(validator
            .iter_errors(doc)
            .map(|e| SchemaViolation {
                pointer: e.instance_path().as_str().to_owned(),
                message: e.to_string(),
            })
            .collect())
    }
}

impl Default for SchemaSet {
    fn default() -> Self {
        Self::new()
    }
}
