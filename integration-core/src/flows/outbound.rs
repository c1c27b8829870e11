//! The outbound flow (order to ship).
//!
//! **Order release** is synchronous: the ERP's `OrderRelease` is checked
//! against its contract (quantities > 0, a valid ship-to, …: a 422 problem
//! otherwise), forwarded to the WMS within [`CoreConfig::release_timeout`],
//! and the WMS's decision (accept, or reject e.g. for an unknown item) is
//! answered to the ERP as `200 OrderReleaseDecision` once it is stored. Only
//! a decision is ever stored: when the WMS cannot decide (timeout, outage,
//! 5xx) the core answers **503** (`warehouse-unavailable`) or **504**
//! (`warehouse-timeout`) problem+json with `Retry-After`, stores nothing,
//! and the ERP retries with the same Idempotency-Key; the WMS is called with
//! a key derived from (order_number, version), so a release it applied
//! before the failure is answered from its own store, never doubled. A
//! rejected release leaves no WMS order: the WMS decides all or nothing.
//! Repeats are answered from the store, by Idempotency-Key (same body →
//! the stored decision with `Idempotent-Replayed: true`, another body → 422)
//! and by (order_number, version) (same body → the stored decision, another
//! body → 409); a second request while the first is still waiting on the WMS
//! → 409 `release-in-flight`.
//!
//! **Ship confirmation** goes through the durable intake (Idempotency-Key,
//! then dedupe by `event_id`): each (shipment, line) is posted to the ERP
//! exactly once through the outbox, and what a line has shipped may never
//! exceed what was released (422 `shipped-exceeds-released`, nothing
//! applied). A confirmation for an order the core has no decision on yet
//! (it can overtake a decision whose answer was lost) is answered 409
//! `order-release-pending`, so the WMS retries; one for a rejected order is
//! refused (422 `order-not-released`).
//!
//!
//! **Layer**: a flow. The HTTP side of the release (its handler and
//! responses) is `http::release`; this file holds the rules, the tables and
//! the call to the WMS. Imports `clock`, `db`, `error` and `store`; never
//! the outbox or http.
//!
//! [`CoreConfig::release_timeout`]: crate::CoreConfig::release_timeout

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use contracts::Role;
use contracts::http::{IDEMPOTENCY_KEY, TRACEPARENT, TraceParent};
use contracts::outbound::{
    Decision, ErpShipmentPosting, LineDecision, OrderRelease, OrderReleaseDecision, ReleaseRejectionCode,
    ReleaseRejectionReason, ShipmentConfirmation,
};
use contracts::routes::{erp, wms};
use contracts::time::rfc3339_utc;

use crate::clock::{now_us, retry_after};
use crate::db::{Conn, DbError, args};
use crate::error::ApiError;
use crate::store::Tx;

/// The outbound flow's tables (created with the store's own).
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS order_releases (
    order_number TEXT NOT NULL,
    version INTEGER NOT NULL,
    payload_hash TEXT NOT NULL,
    decision TEXT NOT NULL,
    answer TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    decided_at_us INTEGER NOT NULL,
    PRIMARY KEY (order_number, version)
);
CREATE TABLE IF NOT EXISTS order_release_keys (
    key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    order_number TEXT NOT NULL,
    version INTEGER NOT NULL
);
-- Lines of accepted releases: what was released, and shipped so far.
CREATE TABLE IF NOT EXISTS order_lines (
    order_number TEXT NOT NULL,
    version INTEGER NOT NULL,
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    released INTEGER NOT NULL,
    shipped INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (order_number, version, line_no)
);
-- Each (shipment, line) posted once.
CREATE TABLE IF NOT EXISTS shipment_lines (
    shipment_id TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    PRIMARY KEY (shipment_id, line_no)
);
"#;

/// Seconds the ERP is told to wait before retrying a release the WMS could
/// not decide.
pub const RELEASE_RETRY_AFTER_S: u64 = 1;

/// Releases waiting on the WMS, by (order_number, version) and by key.
#[derive(Debug, Default)]
pub(crate) struct InFlight(Mutex<HashSet<String>>);

pub(crate) struct InFlightGuard<'a>(&'a InFlight, Vec<String>);

impl InFlight {
    pub(crate) fn enter(&self, names: Vec<String>) -> Option<InFlightGuard<'_>> {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if names.iter().any(|n| set.contains(n)) {
            return None;
        }
        set.extend(names.iter().cloned());
        Some(InFlightGuard(self, names))
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        let mut set = self.0.0.lock().unwrap_or_else(|p| p.into_inner());
        for n in &self.1 {
            set.remove(n);
        }
    }
}

/// What the store already knows of a release.
pub(crate) enum Known {
    /// Decided before: the stored answer; `by_key` when the Idempotency-Key
    /// (not only the business key) was seen.
    Decided {
        answer: String,
        by_key: bool,
    },
    KeyReused,
    Conflict,
    New,
}

pub(crate) fn known(conn: &dyn Conn, key: &str, hash: &str, order: &OrderRelease) -> Result<Known, ApiError> {
    let by_key: Option<(String, String, u32)> = conn
        .query_opt(
            "SELECT request_hash, order_number, version FROM order_release_keys WHERE key = ?1",
            args![key],
        )?
        .map(|r| Ok::<_, DbError>((r.get(0)?, r.get(1)?, r.get(2)?)))
        .transpose()?;
    let answer_of = |order_number: &str, version: u32| -> Result<Option<(String, String)>, ApiError> {
        Ok(conn
            .query_opt(
                "SELECT payload_hash, answer FROM order_releases WHERE order_number = ?1 AND version = ?2",
                args![order_number, version],
            )?
            .map(|r| Ok::<_, DbError>((r.get(0)?, r.get(1)?)))
            .transpose()?)
    };
    if let Some((request_hash, order_number, version)) = by_key {
        if request_hash != hash {
            return Ok(Known::KeyReused);
        }
        if let Some((_, answer)) = answer_of(&order_number, version)? {
            return Ok(Known::Decided { answer, by_key: true });
        }
    }
    Ok(match answer_of(&order.order_number, order.version)? {
        Some((stored, answer)) if stored == hash => Known::Decided {
            answer,
            by_key: false,
        },
        Some(_) => Known::Conflict,
        None => Known::New,
    })
}

/// Why the WMS gave no decision.
pub(crate) enum NoDecision {
    Timeout,
    Unavailable {
        status: Option<u16>,
        retry_after: Option<u64>,
        detail: String,
    },
    Refused {
        status: u16,
    },
    Invalid(String),
}

/// Who decides a release: the WMS at `base_url`, asked with `http` and
/// given `timeout`; its answer checked by `validator`.
pub(crate) struct Wms<'a> {
    pub http: &'a reqwest::Client,
    pub base_url: &'a str,
    pub timeout: Duration,
    pub validator: &'a contracts::validate::Validator,
}

/// Asks the WMS, within the configured timeout.
pub(crate) async fn ask_wms(
    wms: Wms<'_>,
    order: &OrderRelease,
    body: &Bytes,
    trace: &TraceParent,
) -> Result<OrderReleaseDecision, NoDecision> {
    let url = format!("{}{}", wms.base_url.trim_end_matches('/'), wms::ORDER_RELEASES);
    let sent = wms
        .http
        .post(url)
        .timeout(wms.timeout)
        .header(
            IDEMPOTENCY_KEY,
            format!("release:{}:v{}", order.order_number, order.version),
        )
        .header(TRACEPARENT, trace.child(rand::random()).header_value())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.clone())
        .send()
        .await;
    let resp = match sent {
        Err(e) if e.is_timeout() => return Err(NoDecision::Timeout),
        Err(e) => {
            return Err(NoDecision::Unavailable {
                status: None,
                retry_after: None,
                detail: e.to_string(),
            });
        }
        Ok(resp) => resp,
    };
    let status = resp.status().as_u16();
    let retry_after = retry_after(resp.headers()).map(|d| d.as_secs());
    let bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(e) if e.is_timeout() => return Err(NoDecision::Timeout),
        Err(e) => {
            return Err(NoDecision::Unavailable {
                status: Some(status),
                retry_after,
                detail: format!("reading the answer to a {status}: {e}"),
            });
        }
    };
    match status {
        200..=299 => {}
        408 | 409 | 429 | 500..=599 => {
            return Err(NoDecision::Unavailable {
                status: Some(status),
                retry_after,
                detail: format!("the WMS answered {status}"),
            });
        }
        _ => return Err(NoDecision::Refused { status }),
    }
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| NoDecision::Invalid(format!("not JSON: {e}")))?;
    let findings = wms
        .validator
        .validate("OrderReleaseDecision", &value)
        .expect("a catalog type");
    if let Some(f) = findings.first() {
        return Err(NoDecision::Invalid(f.to_string()));
    }
    let decision =
        OrderReleaseDecision::deserialize(&value).map_err(|e| NoDecision::Invalid(e.to_string()))?;
    if decision.order_number != order.order_number || decision.order_version != order.version {
        return Err(NoDecision::Invalid(format!(
            "a decision on order {} version {}, asked about {} version {}",
            decision.order_number, decision.order_version, order.order_number, order.version
        )));
    }
    Ok(decision)
}

/// The deliberately wrong answer of a weakened core (tests only): a release
/// the WMS could not decide is reported rejected, though the WMS may hold it.
pub(crate) fn rejection_on_failure(order: &OrderRelease) -> OrderReleaseDecision {
    let reason = || ReleaseRejectionReason {
        code: ReleaseRejectionCode::InsufficientStock,
        detail: "the warehouse did not answer in time".into(),
    };
    OrderReleaseDecision {
        order_number: order.order_number.clone(),
        order_version: order.version,
        decision: Decision::Rejected,
        warehouse_order_id: None,
        decided_at: rfc3339_utc(now_us()),
        reasons: vec![reason()],
        lines: order
            .lines
            .iter()
            .map(|l| LineDecision {
                line_no: l.line_no,
                decision: Decision::Rejected,
                reasons: vec![reason()],
            })
            .collect(),
    }
}

/// Remembers `key` as another Idempotency-Key of the release already
/// decided for (order_number, version).
pub(crate) fn record_key(
    conn: &dyn Conn,
    key: &str,
    hash: &str,
    order: &OrderRelease,
) -> Result<(), ApiError> {
    conn.execute(
        "INSERT INTO order_release_keys (key, request_hash, order_number, version)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key) DO NOTHING",
        args![key, hash, order.order_number, order.version],
    )?;
    Ok(())
}

/// What a decided release stores: the decision and its answer, the key
/// that asked, and (accepted) the lines a ship confirmation is checked
/// against.
pub(crate) struct Decided<'a> {
    pub order: &'a OrderRelease,
    pub decision: &'a OrderReleaseDecision,
    pub answer: &'a str,
    pub key: &'a str,
    pub hash: &'a str,
    pub trace_id: &'a str,
}

/// Stores a decided release (see [`Decided`]), in one transaction.
pub(crate) fn record_decision(conn: &dyn Conn, d: &Decided<'_>) -> Result<(), ApiError> {
    let order = d.order;
    let label = match d.decision.decision {
        Decision::Accepted => "accepted",
        Decision::Rejected => "rejected",
    };
    conn.execute(
        "INSERT INTO order_releases (order_number, version, payload_hash, decision, answer, trace_id,
                                     decided_at_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![
            order.order_number,
            order.version,
            d.hash,
            label,
            d.answer,
            d.trace_id,
            now_us() as i64
        ],
    )?;
    conn.execute(
        "INSERT INTO order_release_keys (key, request_hash, order_number, version) VALUES (?1, ?2, ?3, ?4)",
        args![d.key, d.hash, order.order_number, order.version],
    )?;
    if d.decision.decision == Decision::Accepted {
        for l in &order.lines {
            conn.execute(
                "INSERT INTO order_lines (order_number, version, line_no, sku, released)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                args![order.order_number, order.version, l.line_no, l.sku, l.quantity],
            )?;
        }
    }
    Ok(())
}

/// A WMS ship confirmation, inside its intake transaction: every line must
/// be a line of an accepted release; each (shipment, line) is posted to the
/// ERP once; shipped may never exceed released (422, nothing applied).
pub fn shipment_confirmation(tx: &Tx<'_>, sc: &ShipmentConfirmation) -> Result<(), ApiError> {
    let c = tx.conn();
    let decision: Option<String> = c.one_opt(
        "SELECT decision FROM order_releases WHERE order_number = ?1 AND version = ?2",
        args![sc.order_number, sc.order_version],
    )?;
    match decision.as_deref() {
        Some("accepted") => {}
        // A confirmation may overtake the decision it follows: the WMS took
        // the order, but its answer was lost and the ERP has not yet retried
        // the release. Not known yet is not refused for good: 409, retry.
        None => {
            return Err(ApiError::refused(
                409,
                "order-release-pending",
                "ship confirmation for an order the core has no decision on yet",
                "/order_number".into(),
                format!(
                    "order {} version {} has no stored release decision (yet); retry later",
                    sc.order_number, sc.order_version
                ),
            ));
        }
        Some(_) => {
            return Err(ApiError::refused(
                422,
                "order-not-released",
                "ship confirmation for an order that was rejected",
                "/order_number".into(),
                format!(
                    "order {} version {} was rejected, so nothing may ship against it",
                    sc.order_number, sc.order_version
                ),
            ));
        }
    }
    for (i, line) in sc.lines.iter().enumerate() {
        let row: Option<(u32, u32)> = c
            .query_opt(
                "SELECT released, shipped FROM order_lines WHERE order_number = ?1 AND version = ?2 AND line_no = ?3",
                args![sc.order_number, sc.order_version, line.line_no],
            )?
            .map(|r| Ok::<_, DbError>((r.get(0)?, r.get(1)?)))
            .transpose()?;
        let Some((released, shipped)) = row else {
            return Err(ApiError::refused(
                422,
                "unknown-order-line",
                "ship confirmation line refers to no released order line",
                format!("/lines/{i}/line_no"),
                format!("order {} has no released line {}", sc.order_number, line.line_no),
            ));
        };
        let posted: Option<u32> = c.one_opt(
            "SELECT quantity FROM shipment_lines WHERE shipment_id = ?1 AND line_no = ?2",
            args![sc.shipment_id, line.line_no],
        )?;
        if posted.is_some() {
            // Another event of a shipment already taken in: posted once.
            continue;
        }
        if u64::from(shipped) + u64::from(line.qty_shipped) > u64::from(released) {
            return Err(ApiError::refused(
                422,
                "shipped-exceeds-released",
                "more shipped than released",
                format!("/lines/{i}/qty_shipped"),
                format!(
                    "order {} line {}: released {released}, shipped before {shipped}, this shipment {}",
                    sc.order_number, line.line_no, line.qty_shipped
                ),
            ));
        }
        c.execute(
            "INSERT INTO shipment_lines (shipment_id, line_no, quantity) VALUES (?1, ?2, ?3)",
            args![sc.shipment_id, line.line_no, line.qty_shipped],
        )?;
        c.execute(
            "UPDATE order_lines SET shipped = shipped + ?4 WHERE order_number = ?1 AND version = ?2 AND line_no = ?3",
            args![sc.order_number, sc.order_version, line.line_no, line.qty_shipped],
        )?;
        let posting = ErpShipmentPosting {
            shipment_id: sc.shipment_id.clone(),
            order_number: sc.order_number.clone(),
            order_line_no: line.line_no,
            sku: line.sku.clone(),
            quantity: line.qty_shipped,
            uom: line.uom,
            shipped_at: sc.shipped_at.clone(),
        };
        tx.enqueue(
            Role::Erp,
            erp::SHIPMENT_POSTINGS,
            &format!("shp:{}:{}", sc.shipment_id, line.line_no),
            &posting,
        )?;
    }
    Ok(())
}

/// Default time the core waits for the WMS's release decision.
pub const DEFAULT_RELEASE_TIMEOUT: Duration = Duration::from_secs(2);
