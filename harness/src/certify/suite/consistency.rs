//! `callbacks.consistent`: every callback of a supplier or a WMS agrees
//! with what the harness sent and the target accepted: the documents it
//! refers to, their parties, items and quantities (at most what was
//! ordered or advised, plus the line's over-tolerance), and no receipt for
//! an expectation after its cancellation was acknowledged.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;

use contracts::routes::{core, supplier, wms};

use crate::certify::callback::Callback;
use crate::certify::client::Accepted;

/// What the target accepted, by business key.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    /// Purchase orders by number, the latest version.
    pos: BTreeMap<String, Value>,
    /// Every version of every purchase order, by number and version.
    versions: BTreeMap<(String, u64), Value>,
    /// Inbound expectations by id, every revision accepted (a receipt may
    /// count any of them: it may cross an update).
    expectations: BTreeMap<String, Vec<Value>>,
    /// When each cancelled expectation's cancellation was acknowledged.
    cancelled: BTreeMap<String, Instant>,
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_default()
}

/// `qty` plus `over_pct` percent, rounded down.
fn with_tolerance(qty: u64, over_pct: u64) -> u64 {
    qty * (100 + over_pct) / 100
}

impl Sent {
    pub(crate) fn from_accepted(accepted: &[Accepted]) -> Self {
        let mut sent = Sent::default();
        for a in accepted {
            let newer = |old: Option<&Value>, key: &str| old.is_none_or(|o| n(&o[key]) <= n(&a.body[key]));
            match a.path.as_str() {
                supplier::PURCHASE_ORDERS => {
                    let po = s(&a.body["po_number"]).to_owned();
                    sent.versions
                        .insert((po.clone(), n(&a.body["version"])), a.body.clone());
                    if newer(sent.pos.get(&po), "version") {
                        sent.pos.insert(po, a.body.clone());
                    }
                }
                wms::INBOUND_EXPECTATIONS | wms::INBOUND_EXPECTATION_UPDATES => {
                    let id = s(&a.body["expectation_id"]).to_owned();
                    // Accepted again after a cancellation: standing again.
                    sent.cancelled.remove(&id);
                    sent.expectations.entry(id).or_default().push(a.body.clone());
                }
                wms::INBOUND_EXPECTATION_CANCELLATIONS => {
                    sent.cancelled
                        .entry(s(&a.body["expectation_id"]).to_owned())
                        .or_insert(a.answered_at);
                }
                _ => {}
            }
        }
        sent
    }

    /// Whether `call` agrees with what was sent; the detail says what to fix.
    pub(crate) fn judge(&self, call: &Callback) -> Result<String, String> {
        let Some(body) = &call.body else {
            return Err("the body is not JSON".into());
        };
        match call.path.as_str() {
            core::PO_ACKNOWLEDGEMENTS => self.acknowledgement(body),
            core::ASNS => self.asn(body),
            core::GOODS_RECEIPTS => self.receipt(body, call.at),
            other => Ok(format!("{other}: nothing to compare")),
        }
    }

    fn po(&self, number: &str, what: &str) -> Result<&Value, String> {
        self.pos.get(number).ok_or_else(|| {
            format!(
                "{what} refers to purchase order {number:?}, which the harness never sent (or you refused)"
            )
        })
    }

    fn acknowledgement(&self, ack: &Value) -> Result<String, String> {
        let number = s(&ack["po_number"]);
        let latest = self.po(number, &format!("acknowledgement {}", s(&ack["ack_id"])))?;
        let Some(po) = self.versions.get(&(number.to_owned(), n(&ack["po_version"]))) else {
            return Err(format!(
                "acknowledgement of {number} names version {}, the PO sent is version {}",
                ack["po_version"], latest["version"]
            ));
        };
        if ack["supplier_gln"] != po["supplier_gln"] {
            return Err(format!(
                "acknowledgement of {number} comes from supplier {}, the PO was sent to {}",
                ack["supplier_gln"], po["supplier_gln"]
            ));
        }
        for line in ack["lines"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let ordered = po_line(po, n(&line["line_no"])).ok_or_else(|| {
                format!(
                    "acknowledgement of {number} confirms line {}, which the PO has not",
                    line["line_no"]
                )
            })?;
            let most = with_tolerance(n(&ordered["quantity"]), n(&ordered["over_tolerance_pct"]));
            if n(&line["confirmed_qty"]) > most {
                return Err(format!(
                    "acknowledgement of {number} line {} confirms {}, more than the {} ordered (at most {most} with tolerance)",
                    line["line_no"], line["confirmed_qty"], ordered["quantity"]
                ));
            }
        }
        Ok(format!("acknowledgement agrees with purchase order {number}"))
    }

    fn asn(&self, asn: &Value) -> Result<String, String> {
        let id = s(&asn["asn_id"]);
        let mut shipped: BTreeMap<(String, u64), u64> = BTreeMap::new();
        for line in asn["lines"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let number = s(&line["po_number"]);
            let po = self.po(number, &format!("ASN {id}"))?;
            if asn["supplier_gln"] != po["supplier_gln"] {
                return Err(format!(
                    "ASN {id} comes from supplier {}, PO {number} was sent to {}",
                    asn["supplier_gln"], po["supplier_gln"]
                ));
            }
            let line_no = n(&line["po_line_no"]);
            let ordered = po_line(po, line_no)
                .ok_or_else(|| format!("ASN {id} ships PO {number} line {line_no}, which the PO has not"))?;
            if line["gtin"] != ordered["gtin"] {
                return Err(format!(
                    "ASN {id} ships GTIN {} for PO {number} line {line_no}, which ordered GTIN {}",
                    line["gtin"], ordered["gtin"]
                ));
            }
            *shipped.entry((number.to_owned(), line_no)).or_default() += n(&line["quantity"]);
        }
        for ((number, line_no), qty) in shipped {
            let ordered = po_line(&self.pos[&number], line_no).expect("checked above");
            let most = with_tolerance(n(&ordered["quantity"]), n(&ordered["over_tolerance_pct"]));
            if qty > most {
                return Err(format!(
                    "ASN {id} ships {qty} of PO {number} line {line_no}, more than the {} ordered (at most {most} with tolerance)",
                    ordered["quantity"]
                ));
            }
        }
        Ok(format!("ASN {id} ships what was ordered"))
    }

    fn receipt(&self, receipt: &Value, at: Instant) -> Result<String, String> {
        let id = s(&receipt["expectation_id"]);
        let rcv = s(&receipt["receipt_id"]);
        if let Some(cancelled) = self.cancelled.get(id)
            && at > *cancelled
        {
            return Err(format!(
                "goods receipt {rcv} for expectation {id} arrived after you acknowledged its cancellation: \
                 a cancelled expectation gets no receipt"
            ));
        }
        let revisions = self.expectations.get(id).ok_or_else(|| {
            format!("goods receipt {rcv} refers to expectation {id:?}, which the harness never sent (or you refused)")
        })?;
        let mut verdict = Err(String::new());
        for exp in revisions {
            verdict = receipt_against(receipt, exp);
            if verdict.is_ok() {
                break;
            }
        }
        verdict
    }
}

/// Whether `receipt` counts what revision `exp` of its expectation advised.
fn receipt_against(receipt: &Value, exp: &Value) -> Result<String, String> {
    let id = s(&receipt["expectation_id"]);
    let rcv = s(&receipt["receipt_id"]);
    if receipt["asn_id"] != exp["asn_id"] {
        return Err(format!(
            "goods receipt {rcv} names ASN {}, expectation {id} advised ASN {}",
            receipt["asn_id"], exp["asn_id"]
        ));
    }
    for line in receipt["lines"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let (po, po_line_no) = (s(&line["po_number"]), n(&line["po_line_no"]));
        let advised = exp["lines"]
            .as_array()
            .and_then(|ls| ls.iter().find(|l| l["po_number"] == po && n(&l["po_line_no"]) == po_line_no))
            .ok_or_else(|| {
                format!("goods receipt {rcv} counts PO {po} line {po_line_no}, which expectation {id} did not advise")
            })?;
        if line["sku"] != advised["sku"] {
            return Err(format!(
                "goods receipt {rcv} counts item {} for PO {po} line {po_line_no}, expectation {id} advised {}",
                line["sku"], advised["sku"]
            ));
        }
        let most = with_tolerance(n(&advised["quantity"]), n(&advised["over_tolerance_pct"]));
        let counted = n(&line["qty_received"]);
        if counted > most || n(&line["qty_damaged"]) > counted {
            return Err(format!(
                "goods receipt {rcv} counts {counted} received ({} damaged) of PO {po} line {po_line_no}; \
                 {} were advised (at most {most} with tolerance, damaged at most received)",
                line["qty_damaged"], advised["quantity"]
            ));
        }
    }
    Ok(format!(
        "goods receipt {rcv} counts what expectation {id} advised"
    ))
}

fn po_line(po: &Value, line_no: u64) -> Option<&Value> {
    po["lines"]
        .as_array()?
        .iter()
        .find(|l| n(&l["line_no"]) == line_no)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certify::docs::DocGen;

    fn accepted(path: &str, body: Value) -> Accepted {
        Accepted {
            path: path.into(),
            body,
            answered_at: Instant::now(),
        }
    }

    fn call(path: &str, body: Value) -> Callback {
        Callback {
            method: "POST".into(),
            path: path.into(),
            operation: None,
            idempotency_key: Some("k".into()),
            body: Some(body),
            problems: Vec::new(),
            at: Instant::now(),
        }
    }

    #[test]
    fn an_asn_must_ship_what_was_ordered() {
        let g = DocGen::new(3);
        let po = g.document("PurchaseOrder", 1).unwrap();
        let sent = Sent::from_accepted(&[accepted(supplier::PURCHASE_ORDERS, po.clone())]);
        let mut asn = g.document("AdvanceShipNotice", 1).unwrap();
        asn["supplier_gln"] = po["supplier_gln"].clone();
        for l in asn["lines"].as_array_mut().unwrap() {
            let ordered = po_line(&po, n(&l["po_line_no"])).unwrap();
            l["gtin"] = ordered["gtin"].clone();
            l["quantity"] = 1.into();
        }
        sent.judge(&call(core::ASNS, asn.clone())).unwrap();
        let mut more = asn.clone();
        let line_no = n(&asn["lines"][0]["po_line_no"]);
        more["lines"][0]["quantity"] = (n(&po_line(&po, line_no).unwrap()["quantity"]) * 10).into();
        let e = sent.judge(&call(core::ASNS, more)).unwrap_err();
        assert!(e.contains("more than"), "{e}");
        let mut other = asn.clone();
        other["lines"][0]["gtin"] = "00000000000000".into();
        assert!(sent.judge(&call(core::ASNS, other)).unwrap_err().contains("GTIN"));
        let mut unknown = asn;
        unknown["lines"][0]["po_number"] = "PO-NOBODY-SENT".into();
        assert!(
            sent.judge(&call(core::ASNS, unknown))
                .unwrap_err()
                .contains("never sent")
        );
    }

    #[test]
    fn a_receipt_after_its_cancellation_is_refused() {
        let g = DocGen::new(3);
        let exp = g.document("InboundExpectation", 1).unwrap();
        let mut receipt = g.document("GoodsReceipt", 1).unwrap();
        receipt["expectation_id"] = exp["expectation_id"].clone();
        receipt["asn_id"] = exp["asn_id"].clone();
        receipt["lines"] = serde_json::json!([{
            "line_no": 1, "po_number": exp["lines"][0]["po_number"], "po_line_no": exp["lines"][0]["po_line_no"],
            "sku": exp["lines"][0]["sku"], "qty_received": exp["lines"][0]["quantity"], "qty_damaged": 0,
            "stock_status": "unrestricted"
        }]);
        let mut sent = Sent::from_accepted(&[accepted(wms::INBOUND_EXPECTATIONS, exp.clone())]);
        sent.judge(&call(core::GOODS_RECEIPTS, receipt.clone())).unwrap();
        let mut ten = receipt.clone();
        ten["lines"][0]["qty_received"] = (n(&exp["lines"][0]["quantity"]) * 10).into();
        assert!(sent.judge(&call(core::GOODS_RECEIPTS, ten)).is_err());
        let cancel = serde_json::json!({"expectation_id": exp["expectation_id"]});
        sent.cancelled
            .insert(s(&cancel["expectation_id"]).to_owned(), Instant::now());
        let e = sent.judge(&call(core::GOODS_RECEIPTS, receipt)).unwrap_err();
        assert!(e.contains("cancellation"), "{e}");
    }
}
