//! The schema catalog: every wire type's JSON Schema (draft 2020-12), by name,
//! and compiled validators for them.
//!
//! The generated documents are committed under `contracts/schemas/`; the
//! `schemas_are_fresh` test fails when one is stale and rewrites it.

use std::collections::BTreeMap;

use jsonschema::paths::Location;
use jsonschema::{Keyword, ValidationError};
use schemars::{JsonSchema, schema_for};
use serde_json::{Map, Value};

use crate::acks::{IntakeAck, PartnerAck};
use crate::events::PUBLISHED;
use crate::history::Exchange;
use crate::inbound::{
    AdvanceShipNotice, ErpGoodsReceiptPosting, GoodsReceipt, InboundExpectation,
    InboundExpectationCancellation, PoAcknowledgement, PurchaseOrder, ReceiptDiscrepancy,
};
use crate::inventory::{InventoryAdjustment, InventorySnapshot, ReconciliationResult};
use crate::invoicing::{Invoice, MatchResult};
use crate::outbound::{ErpShipmentPosting, OrderRelease, OrderReleaseDecision, ShipmentConfirmation};
use crate::pattern::SimplePattern;
use crate::problem::Problem;

/// Base of every schema's `$id`.
pub const SCHEMA_BASE: &str = "https://crossdock.dev/schemas/v1/";

/// A catalog entry: the schema of `T`, with its `$id`, titled by its catalog
/// name (a generic type such as `CloudEvent<T>` is one title per
/// instantiation, so two never clash in one document).
fn entry<T: JsonSchema>(name: &'static str) -> (&'static str, Value) {
    entry_of(name, schema_for!(T))
}

fn entry_of(name: &'static str, schema: schemars::Schema) -> (&'static str, Value) {
    let mut schema = serde_json::to_value(schema).expect("a schema serializes");
    if let Value::Object(map) = &mut schema {
        map.insert("$id".into(), Value::String(format!("{SCHEMA_BASE}{name}.json")));
        map.insert("title".into(), Value::String(name.to_owned()));
    }
    (name, schema)
}

/// Every wire type's schema, by type name.
pub fn catalog() -> Vec<(&'static str, Value)> {
    let mut catalog = vec![
        entry::<PurchaseOrder>("PurchaseOrder"),
        entry::<PoAcknowledgement>("PoAcknowledgement"),
        entry::<AdvanceShipNotice>("AdvanceShipNotice"),
        entry::<InboundExpectation>("InboundExpectation"),
        entry::<InboundExpectationCancellation>("InboundExpectationCancellation"),
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
        entry::<IntakeAck>("IntakeAck"),
        entry::<PartnerAck>("PartnerAck"),
        entry::<Problem>("Problem"),
        entry::<Exchange>("Exchange"),
        entry::<crate::ops::OpsStatus>("OpsStatus"),
        entry::<crate::ops::DeadLetter>("DeadLetter"),
        entry::<crate::ops::ReplayRequest>("ReplayRequest"),
        entry::<crate::ops::ReplayResult>("ReplayResult"),
        entry::<crate::ops::Trace>("Trace"),
    ];
    // Event envelopes: one per published event (crate::events::PUBLISHED).
    catalog.extend(PUBLISHED.iter().map(|e| entry_of(e.name, (e.schema)())));
    catalog
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
    /// The fast validity check of each schema in [`crate::quick`]'s subset.
    quick: BTreeMap<&'static str, crate::quick::Quick>,
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
        let catalog = catalog();
        let quick = catalog
            .iter()
            .filter_map(|(name, schema)| Some((*name, crate::quick::Quick::compile(schema)?)))
            .collect();
        let validators = catalog
            .into_iter()
            .map(|(name, schema)| {
                // `format` is asserted (dates, date-times), not only annotated.
                let v = jsonschema::options()
                    .should_validate_formats(true)
                    .with_keyword("pattern", pattern_keyword)
                    .build(&schema)
                    .unwrap_or_else(|e| panic!("schema {name} does not compile: {e}"));
                (name, v)
            })
            .collect();
        Self { validators, quick }
    }

    /// The fast check's verdict and jsonschema's on `doc`, for tests that
    /// hold the two to agreement; `None` when the fast check does not cover
    /// the schema or the name is unknown.
    #[doc(hidden)]
    pub fn quick_and_full_verdicts(&self, name: &str, doc: &Value) -> Option<(bool, bool)> {
        Some((
            self.quick.get(name)?.is_valid(doc),
            self.validators.get(name)?.is_valid(doc),
        ))
    }

    /// The fast validity check of the schema named `name`, when it covers it.
    pub(crate) fn quick(&self, name: &str) -> Option<&crate::quick::Quick> {
        self.quick.get(name)
    }

    /// Validates `doc` against the schema named `name`.
    ///
    /// Returns every violation, each with its JSON pointer.
    pub fn validate(&self, name: &str, doc: &Value) -> Result<Vec<SchemaViolation>, UnknownSchema> {
        let validator = self
            .validators
            .get(name)
            .ok_or_else(|| UnknownSchema(name.to_owned()))?;
        // The fast path: no error collection for the common, valid case; the
        // quick check where it covers the schema, jsonschema's otherwise.
        let valid = match self.quick.get(name) {
            Some(quick) => quick.is_valid(doc),
            None => validator.is_valid(doc),
        };
        if valid {
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

/// The `pattern` keyword, evaluated by [`SimplePattern`] when the pattern is
/// in its subset (every pattern of the catalog is) and by jsonschema's regex
/// engine otherwise. Same verdicts, same message as the built-in keyword
/// (`"…" does not match "^…$"`); the `pattern_keyword_agrees_with_the_regex_engine`
/// property test holds it to that.
struct PatternKeyword {
    /// The pattern as the schema writes it, for messages.
    source: String,
    matcher: PatternMatcher,
}

enum PatternMatcher {
    Simple(SimplePattern),
    Regex(Box<jsonschema::Validator>),
}

fn pattern_keyword<'a>(
    _parent: &'a Map<String, Value>,
    value: &'a Value,
    _path: Location,
) -> Result<Box<dyn for<'i> Keyword<'i>>, ValidationError<'a>> {
    let Some(source) = value.as_str() else {
        return Err(ValidationError::schema(format!(
            "pattern must be a string, found {value}"
        )));
    };
    let matcher = match SimplePattern::parse(source) {
        Some(simple) => PatternMatcher::Simple(simple),
        None => {
            let regex = jsonschema::options()
                .build(&serde_json::json!({ "pattern": source }))
                .map_err(|e| ValidationError::schema(format!("pattern {source:?}: {e}")))?;
            PatternMatcher::Regex(Box::new(regex))
        }
    };
    Ok(Box::new(PatternKeyword {
        source: source.to_owned(),
        matcher,
    }))
}

impl<'i> Keyword<'i> for PatternKeyword {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        if self.is_valid(instance) {
            return Ok(());
        }
        Err(ValidationError::custom(format!(
            "{instance} does not match \"{}\"",
            self.source
        )))
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        let Some(s) = instance.as_str() else {
            return true; // `pattern` constrains strings only
        };
        match &self.matcher {
            PatternMatcher::Simple(p) => p.is_match(s),
            PatternMatcher::Regex(v) => v.is_valid(instance),
        }
    }
}

impl Default for SchemaSet {
    fn default() -> Self {
        Self::new()
    }
}
