//! What the core must forward for each request of the suite (an
//! [`Effect`], recognised among the callbacks), for the one-effect checks.

use std::collections::BTreeSet;

use serde_json::Value;

use contracts::Role;
use contracts::routes::{self, core, erp};

use crate::certify::callback::Callback;

/// Recognises one expected callback.
pub(super) type Matcher = Box<dyn Fn(&Callback) -> bool + Send + Sync>;

/// Something the core must forward for one request, recognised among the
/// callbacks. It happens once when the callbacks matching it carry one
/// Idempotency-Key (a redelivery reuses the key; a second effect does not).
pub(crate) struct Effect {
    pub what: String,
    pub matcher: Matcher,
    /// Distinct Idempotency-Keys seen once conformance was done; `None` for
    /// an effect of concurrent copies, which must be at most one.
    pub baseline: Option<usize>,
}

impl Effect {
    fn new(what: String, matcher: impl Fn(&Callback) -> bool + Send + Sync + 'static) -> Self {
        Self {
            what,
            matcher: Box::new(matcher),
            baseline: None,
        }
    }

    /// Distinct Idempotency-Keys among `calls` matching this effect.
    pub fn keys(&self, calls: &[Callback]) -> usize {
        calls
            .iter()
            .filter(|c| (self.matcher)(c))
            .map(|c| c.idempotency_key.clone().unwrap_or_default())
            .collect::<BTreeSet<_>>()
            .len()
    }
}

pub(super) fn str_of(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

pub(super) fn body_has(c: &Callback, key: &str, value: &str) -> bool {
    c.body.as_ref().is_some_and(|b| b[key] == value)
}

/// What the core must forward for `doc` sent to its operation at `path`
/// (the reference core's flows, which the contract's partner operations
/// describe): one effect per forwarded document or posted line.
pub(crate) fn effects_of(path: &str, doc: &Value) -> Vec<Effect> {
    match path {
        core::PURCHASE_ORDERS => {
            let po = str_of(doc, "po_number");
            vec![Effect::new(
                format!("purchase order {po} delivered to the supplier"),
                move |c| {
                    c.operation.is_some_and(|o| o.role == Role::Supplier) && body_has(c, "po_number", &po)
                },
            )]
        }
        core::PO_ACKNOWLEDGEMENTS => {
            let ack = str_of(doc, "ack_id");
            vec![Effect::new(
                format!("acknowledgement {ack} delivered to the ERP"),
                move |c| c.path == erp::PO_ACKNOWLEDGEMENTS && body_has(c, "ack_id", &ack),
            )]
        }
        core::ASNS => {
            let asn = str_of(doc, "asn_id");
            vec![Effect::new(
                format!("inbound expectation for ASN {asn} delivered to the WMS"),
                move |c| c.path == routes::wms::INBOUND_EXPECTATIONS && body_has(c, "asn_id", &asn),
            )]
        }
        core::GOODS_RECEIPTS => line_effects(doc, "lines", "line_no", |receipt, line| {
            let (r, l) = (receipt.to_owned(), line);
            Effect::new(
                format!("goods receipt {receipt} line {line} posted to the ERP"),
                move |c| {
                    c.path == erp::GOODS_RECEIPT_POSTINGS
                        && body_has(c, "receipt_id", &r)
                        && c.body.as_ref().is_some_and(|b| b["receipt_line_no"] == l)
                },
            )
        }),
        core::ORDER_RELEASES => {
            let order = str_of(doc, "order_number");
            vec![Effect::new(
                format!("order release {order} forwarded to the WMS"),
                move |c| c.path == routes::wms::ORDER_RELEASES && body_has(c, "order_number", &order),
            )]
        }
        core::SHIPMENT_CONFIRMATIONS => line_effects(doc, "lines", "line_no", |shipment, line| {
            let (s, l) = (shipment.to_owned(), line);
            Effect::new(
                format!("shipment {shipment} line {line} posted to the ERP"),
                move |c| {
                    c.path == erp::SHIPMENT_POSTINGS
                        && body_has(c, "shipment_id", &s)
                        && c.body.as_ref().is_some_and(|b| b["order_line_no"] == l)
                },
            )
        }),
        core::INVENTORY_ADJUSTMENTS => {
            let event = str_of(doc, "source_event_id");
            vec![Effect::new(
                format!("inventory adjustment {event} delivered to the ERP"),
                move |c| c.path == erp::INVENTORY_ADJUSTMENTS && body_has(c, "source_event_id", &event),
            )]
        }
        core::INVOICES => {
            let invoice = str_of(doc, "invoice_number");
            vec![Effect::new(
                format!("match result of invoice {invoice} delivered to the ERP"),
                move |c| c.path == erp::MATCH_RESULTS && body_has(c, "invoice_number", &invoice),
            )]
        }
        _ => Vec::new(),
    }
}

/// One effect per line of `doc` (its id: the first `*_id` member).
fn line_effects(doc: &Value, lines: &str, line_no: &str, f: impl Fn(&str, u64) -> Effect) -> Vec<Effect> {
    let id = ["receipt_id", "shipment_id"]
        .iter()
        .find_map(|k| doc[*k].as_str())
        .unwrap_or_default();
    doc[lines]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|l| l[line_no].as_u64())
        .map(|n| f(id, n))
        .collect()
}

/// What a supplier or a WMS must call back, once, for `doc` of type
/// `request` it accepted: an acknowledgement and an original ASN per PO,
/// one first goods-receipt event (seq 1) per expectation. A replay or a
/// concurrent copy that calls back again with a new Idempotency-Key (and
/// new ids) is a second effect.
pub(crate) fn partner_effects_of(request: &str, doc: &Value) -> Vec<Effect> {
    match request {
        "PurchaseOrder" => {
            let po = str_of(doc, "po_number");
            let p = po.clone();
            vec![
                Effect::new(format!("acknowledgement of {po}"), move |c| {
                    c.path == core::PO_ACKNOWLEDGEMENTS && body_has(c, "po_number", &p)
                }),
                Effect::new(format!("original ASN for {po}"), move |c| {
                    c.path == core::ASNS
                        && body_has(c, "purpose", "original")
                        && c.body.as_ref().is_some_and(|b| {
                            b["lines"]
                                .as_array()
                                .is_some_and(|l| l.iter().any(|l| l["po_number"] == po.as_str()))
                        })
                }),
            ]
        }
        "InboundExpectation" => {
            let exp = str_of(doc, "expectation_id");
            vec![Effect::new(format!("first goods receipt for {exp}"), move |c| {
                c.path == core::GOODS_RECEIPTS
                    && body_has(c, "expectation_id", &exp)
                    && c.body.as_ref().is_some_and(|b| b["seq"] == 1)
            })]
        }
        _ => Vec::new(),
    }
}
