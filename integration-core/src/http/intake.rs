//! One document's way into the store, whatever carried it (a JSON body or
//! an X12 transaction set): the supplier may speak only for itself, the
//! contract is checked, then one store transaction under the document's
//! business key and Idempotency-Key. The JSON handlers and the X12 intake
//! both call [`admit`], so both have the same dedupe, idempotency and
//! outbox.
//!
//! **Layer**: http. Imports `auth`, `state`, the flows, the store and
//! `error`; never the handlers.

use std::sync::Arc;

use tracing::Instrument;

use axum::http::HeaderMap;

use contracts::Role;
use contracts::http::{TRACEPARENT, TraceParent};
use contracts::inbound::{AdvanceShipNotice, PoAcknowledgement};
use contracts::invoicing::Invoice;

use super::auth::Caller;
use super::state::CoreState;
use crate::clock::now_us;
use crate::error::ApiError;
use crate::store::{Answer, Intake, Tx, payload_hash};

/// A document read from its transport: the typed value, the JSON value it
/// is stored as, the Idempotency-Key it came under and its trace.
pub(crate) struct Incoming<T> {
    pub doc: T,
    pub payload: serde_json::Value,
    pub idempotency_key: String,
    pub trace_id: String,
}

/// Takes in one document: `key` gives its business key, `apply` its
/// effects. The answer is given after the commit.
pub(crate) async fn admit<T>(
    state: &Arc<CoreState>,
    caller: &Caller,
    incoming: Incoming<T>,
    (kind, endpoint): (&'static str, &'static str),
    key: impl FnOnce(&T) -> String,
    apply: impl Fn(&Tx<'_>, &T) -> Result<(), ApiError> + Send + 'static,
) -> Result<Answer, ApiError>
where
    T: Send + 'static,
{
    let Incoming {
        doc,
        payload,
        idempotency_key,
        trace_id,
    } = incoming;
    // A supplier speaks only for itself (invariant 20): the document's
    // supplier_gln must be the caller's own GLN. That its POs are its own is
    // checked by the flow, inside the transaction.
    if let Caller::Supplier { gln } = caller {
        let claimed = payload.get("supplier_gln").and_then(serde_json::Value::as_str);
        if claimed != Some(gln.as_str()) {
            tracing::warn!(caller = %caller.key(), ?claimed, endpoint, "supplier acting for another supplier refused");
            return Err(ApiError::refused(
                403,
                "supplier-mismatch",
                "a supplier may only send its own documents",
                "/supplier_gln".into(),
                format!(
                    "the bearer token is supplier {gln}'s; the document names supplier {}",
                    claimed.unwrap_or("(none)")
                ),
            ));
        }
    }
    // The contract (schema and domain rules), beyond what the types enforce:
    // a document that breaks it is never stored or forwarded.
    let schema = contracts::routes::operation(Role::Core, "POST", endpoint)
        .map(|op| op.request)
        .expect("every intake endpoint is in the operations table");
    let findings = state
        .validator
        .validate(schema, &payload)
        .expect("operations name catalog types");
    if !findings.is_empty() {
        return Err(ApiError::ContractViolations { schema, findings });
    }
    let intake = Intake {
        kind,
        endpoint,
        business_key: key(&doc),
        idempotency_key,
        payload,
        trace_id,
        dedupe: match kind {
            "asn" => state.config.asn_dedup,
            "inventory_adjustment" => state.config.adjustment_dedup,
            _ => true,
        },
    };
    // One span per intake (visible with CROSSDOCK_LOG=debug); the fields
    // are only formatted when the span is enabled.
    let span = tracing::debug_span!(
        "intake",
        kind = %kind,
        business_key = %intake.business_key,
        trace_id = %intake.trace_id,
        partner = %caller.key(),
        idempotency_key = %intake.idempotency_key,
    );
    // Group commit: answered only after the batch holding this intake is
    // committed (fsync), without holding a thread meanwhile.
    let answer = async {
        let answer = state
            .store
            .intake_async(intake, now_us(), move |tx| apply(tx, &doc))
            .await;
        match &answer {
            Ok(a) => tracing::debug!(status = a.status, replayed = a.replayed, message_id = %a.ack.message_id, "intake committed"),
            Err(e) => tracing::debug!(error = %e, "intake refused"),
        }
        answer
    }
    .instrument(span)
    .await?;
    // The lanes got the rows at the commit, unless they must read them.
    if !state.store.hands_over() {
        state.outbox_notify.notify_one();
    }
    Ok(answer)
}

/// The trace a request continues (its `traceparent`), or a new one.
pub(crate) fn trace_id_of(headers: &HeaderMap) -> String {
    headers
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse)
        .unwrap_or_else(|| TraceParent::from_random(rand::random(), rand::random()))
        .trace_id
}

/// A PO acknowledgement's business key: (supplier, ack_id).
pub(crate) fn acknowledgement_key(a: &PoAcknowledgement) -> String {
    format!("{}:{}", a.supplier_gln, a.ack_id)
}

/// An original ASN's business key is (supplier, asn_id): a resent copy is
/// a duplicate, another payload under it a conflict (invariant 3). Each
/// distinct replace or cancel of it is a message of its own (keyed by its
/// payload too), so a resent copy of one is still a duplicate.
pub(crate) fn asn_key(a: &AdvanceShipNotice) -> String {
    match a.purpose {
        contracts::inbound::AsnPurpose::Original => format!("{}:{}", a.supplier_gln, a.asn_id),
        purpose => {
            let body = serde_json::to_value(a).unwrap_or_default();
            let hash = payload_hash(&body);
            format!("{}:{}:{purpose:?}:{}", a.supplier_gln, a.asn_id, &hash[..16])
        }
    }
}

/// An invoice's business key: (supplier, invoice_number).
pub(crate) fn invoice_key(i: &Invoice) -> String {
    format!("{}:{}", i.supplier_gln, i.invoice_number)
}
