//! The X12 intake: `POST /v1/x12/interchanges` with `Content-Type:
//! application/edi-x12`, one interchange per request (AS2-like, without
//! the S/MIME layer), from a supplier with its own bearer token.
//!
//! The interchange's sender (ISA06, trimmed) must be the calling
//! supplier's GLN. Each functional group is judged ([`x12::check_group`]);
//! the documents of an accepted group go through the same intake as their
//! JSON endpoints ([`intake::admit`]) under the Idempotency-Key
//! `x12:{sender}:{ISA13}:{GS06}:{ST02}`, so a resent interchange has one
//! effect. The answer, 200 with an `application/edi-x12` body, is one
//! interchange: a TA1 when the envelope is refused, else one 997/999 per
//! group in a `FA` group. A set the codec accepts but the core refuses
//! (business rule, contract, another supplier's GLN) is rejected in its
//! 997 (AK501 `R`, no AK502: the reason is a business one an 824 would
//! carry) and has no effect. Only a storage failure is a 5xx.
//!
//! **Layer**: http. Imports `intake`, `auth`, `state`, the flows and
//! `error`; never the router.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use contracts::routes::core;
use contracts::x12::{
    self, AckStatus, Delimiters, Document, FunctionalGroup, GroupVerdict, Interchange, InterchangeNote,
    IsaHeader, Ta1,
};

use super::auth::Caller;
use super::intake::{self, Incoming};
use super::request::readable;
use super::state::CoreState;
use crate::clock::now_us;
use crate::error::ApiError;
use crate::flows;
use crate::store::Answer;

/// The media type of an X12 body.
pub const EDI_X12: &str = "application/edi-x12";

/// The core's interchange id (ISA08 of what it receives, ISA06 of what it
/// sends), qualifier `ZZ` (mutually defined).
pub const CORE_X12_ID: &str = "CROSSDOCK";

/// `POST /v1/x12/interchanges`.
pub(crate) async fn interchange(
    State(state): State<Arc<CoreState>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = readable(body)?;
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case(EDI_X12)
    {
        return Err(ApiError::refused(
            415,
            "unsupported-media-type",
            "an interchange must be sent as application/edi-x12",
            String::new(),
            format!(
                "{} takes {EDI_X12}; the request says {media:?}",
                core::X12_INTERCHANGES
            ),
        ));
    }
    // auth admits only suppliers here; refused rather than assumed.
    let Caller::Supplier { gln } = &caller else {
        return Err(ApiError::refused(
            403,
            "forbidden",
            "only a supplier sends interchanges",
            String::new(),
            format!("{} may not call {}", caller.key(), core::X12_INTERCHANGES),
        ));
    };
    let received = match x12::parse(&body) {
        Ok(received) => received,
        Err(error) => {
            tracing::info!(%error, supplier = %gln, "interchange refused");
            let ta1 = x12::ack::ta1_for(&error).unwrap_or_else(|| unreadable_ta1(now_us()));
            return answer_ta1(ta1, None);
        }
    };
    let sender = received.header.sender_id.trim().to_owned();
    if sender != *gln {
        tracing::warn!(%sender, supplier = %gln, "interchange from another sender refused");
        return answer_ta1(
            x12::ack::ta1(&received.header, InterchangeNote::InvalidSenderId),
            Some(&received.header),
        );
    }
    let trace_id = intake::trace_id_of(&headers);
    let mut acks = Vec::with_capacity(received.groups.len());
    for (n, group) in received.groups.iter().enumerate() {
        let verdict = take_in_group(&state, &caller, &received, group, &trace_id).await?;
        acks.push(x12::ack::acknowledge(group, &verdict, &format!("{:04}", n + 1)));
    }
    let is_5010 = received.groups.first().is_some_and(FunctionalGroup::is_5010);
    let (date, time) = utc_stamp(now_us());
    let control = received.control_number().parse::<u32>().unwrap_or(0);
    let reply = x12::envelope(
        ("ZZ", CORE_X12_ID),
        (&received.header.sender_qualifier, &sender),
        control,
        &date,
        &time,
        is_5010,
        acks,
    );
    written(&reply, &received.delimiters)
}

/// Judges `group` and takes in the documents of an accepted one; the
/// verdict its 997/999 carries, with the sets the core refused rejected.
async fn take_in_group(
    state: &Arc<CoreState>,
    caller: &Caller,
    received: &Interchange,
    group: &FunctionalGroup,
    trace_id: &str,
) -> Result<GroupVerdict, ApiError> {
    let report = x12::check_group(group);
    let mut verdict = report.verdict;
    if !verdict.is_accepted() {
        return Ok(verdict);
    }
    for ((set, document), set_verdict) in group
        .sets
        .iter()
        .zip(report.documents)
        .zip(verdict.sets.iter_mut())
    {
        let Some(document) = document else { continue };
        let idempotency_key = format!(
            "x12:{}:{}:{}:{}",
            received.header.sender_id.trim(),
            received.control_number(),
            group.control_number,
            set.control_number
        );
        match take_in_document(state, caller, document, idempotency_key, trace_id).await {
            Ok(_) => {}
            Err(ApiError::Storage(e)) => return Err(ApiError::Storage(e)),
            Err(refused) => {
                tracing::info!(set = %set.control_number, error = %refused, "transaction set refused");
                set_verdict.status = AckStatus::Rejected;
            }
        }
    }
    verdict.accepted = verdict
        .sets
        .iter()
        .filter(|s| s.status == AckStatus::Accepted)
        .count();
    verdict.status = match verdict.accepted {
        n if n == verdict.sets.len() => AckStatus::Accepted,
        0 => AckStatus::Rejected,
        _ => AckStatus::PartiallyAccepted,
    };
    Ok(verdict)
}

/// One accepted set's document through the JSON endpoint's intake.
async fn take_in_document(
    state: &Arc<CoreState>,
    caller: &Caller,
    document: Document,
    idempotency_key: String,
    trace_id: &str,
) -> Result<Answer, ApiError> {
    fn incoming<T: serde::Serialize>(doc: T, idempotency_key: String, trace_id: &str) -> Incoming<T> {
        Incoming {
            payload: serde_json::to_value(&doc).unwrap_or_default(),
            doc,
            idempotency_key,
            trace_id: trace_id.to_owned(),
        }
    }
    match document {
        Document::PoAcknowledgement(a) => {
            let how = ("po_acknowledgement", core::PO_ACKNOWLEDGEMENTS);
            let incoming = incoming(a, idempotency_key, trace_id);
            intake::admit(
                state,
                caller,
                incoming,
                how,
                intake::acknowledgement_key,
                flows::acknowledgement,
            )
            .await
        }
        Document::AdvanceShipNotice(a) => {
            let incoming = incoming(a, idempotency_key, trace_id);
            intake::admit(
                state,
                caller,
                incoming,
                ("asn", core::ASNS),
                intake::asn_key,
                flows::asn,
            )
            .await
        }
        Document::Invoice(i) => {
            let config = state.config.invoicing;
            let incoming = incoming(i, idempotency_key, trace_id);
            let apply = move |tx: &crate::store::Tx<'_>, i: &_| flows::invoicing::invoice(tx, i, config);
            intake::admit(
                state,
                caller,
                incoming,
                ("invoice", core::INVOICES),
                intake::invoice_key,
                apply,
            )
            .await
        }
        other => Err(ApiError::refused(
            422,
            "not-a-supplier-document",
            "a supplier sends 855, 856 and 810 sets",
            String::new(),
            format!("a {} set is not taken from a supplier", other.set_id()),
        )),
    }
}

/// The TA1 for bytes in which no ISA could be read: control number zero.
fn unreadable_ta1(now_us: u64) -> Ta1 {
    let (date, time) = utc_stamp(now_us);
    Ta1 {
        control_number: "000000000".into(),
        date: date[2..].to_owned(),
        time,
        status: AckStatus::Rejected,
        note: InterchangeNote::InvalidContent,
    }
}

/// An interchange holding `ta1` only, to the sender of `to` (when read).
fn answer_ta1(ta1: Ta1, to: Option<&IsaHeader>) -> Result<Response, ApiError> {
    let (date, time) = utc_stamp(now_us());
    let receiver = to.map_or(("ZZ".to_owned(), String::new()), |h| {
        (h.sender_qualifier.clone(), h.sender_id.trim().to_owned())
    });
    let control = ta1.control_number.parse::<u32>().unwrap_or(0);
    let mut reply = x12::envelope(
        ("ZZ", CORE_X12_ID),
        (&receiver.0, &receiver.1),
        control,
        &date,
        &time,
        false,
        Vec::new(),
    );
    reply.groups.clear();
    reply.ta1.push(ta1);
    written(&reply, &Delimiters::default())
}

/// `reply` as a 200 `application/edi-x12` answer, in the default
/// delimiters, or in the received ones when the data holds a default one.
fn written(reply: &Interchange, received: &Delimiters) -> Result<Response, ApiError> {
    let bytes = x12::write(reply, &Delimiters::default())
        .or_else(|_| x12::write(reply, received))
        .map_err(|e| ApiError::Storage(format!("the acknowledgement could not be written: {e}")))?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, EDI_X12)], bytes).into_response())
}

/// CCYYMMDD and HHMM of `now_us` (UTC).
fn utc_stamp(now_us: u64) -> (String, String) {
    let secs = now_us / 1_000_000;
    let (days, of_day) = ((secs / 86_400) as i64, secs % 86_400);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}{month:02}{day:02}"),
        format!("{:02}{:02}", of_day / 3600, of_day % 3600 / 60),
    )
}

#[cfg(test)]
mod tests {
    use super::utc_stamp;

    #[test]
    fn utc_stamp_is_the_civil_date_and_time() {
        // 2026-12-07T05:20:00Z
        assert_eq!(
            utc_stamp(1_796_620_800_000_000),
            ("20261207".to_owned(), "0520".to_owned())
        );
        // 2024-02-29T23:59:59Z (a leap day).
        assert_eq!(
            utc_stamp(1_709_251_199_000_000),
            ("20240229".to_owned(), "2359".to_owned())
        );
    }
}
