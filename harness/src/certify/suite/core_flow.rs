//! The core's suite: every intake operation of its contract gets a valid
//! document, sent after the prior flow state it needs (a PO before its
//! acknowledgement, ASN, receipt and invoice; an order release before its
//! ship confirmation), each with the token of the role that calls it. The
//! harness plays the supplier, the ERP and the WMS (it answers the
//! synchronous order release with an acceptance) and checks what the core
//! forwards: each forward is an [`Effect`] that must arrive, and arrive
//! once however often its request is repeated.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicU32;

use serde_json::Value;

use contracts::Role;
use contracts::routes::{self, OPERATIONS, Operation, core};

use super::effects::{Effect, body_has, effects_of, str_of};
use super::{Checks, First, Suite, excerpt, post, subject};
use crate::certify::callback::Callback;
use crate::certify::client::{Answer, Auth, Request};
use crate::certify::docs::invalid_variants;

/// What the core's conformance produced.
pub(super) struct CoreOutcome {
    pub firsts: Vec<First>,
    pub effects: Vec<Effect>,
}

impl Suite {
    fn core_op(path: &str) -> &'static Operation {
        routes::operation(Role::Core, "POST", path).expect("the core serves every intake of its contract")
    }

    /// Sends `doc` to the core's `path` as prior state of another request
    /// (not a check case; recorded like every request); whether it succeeded,
    /// and the answer's body.
    async fn prior(&self, path: &str, doc: &Value, case: u32) -> Option<Value> {
        let op = Self::core_op(path);
        let body = serde_json::to_vec(doc).expect("JSON serializes");
        let key = self.docs.key(&format!("{}-prior", op.request), case);
        let a = self
            .client
            .send(&post(op, body, Some(key), Auth::Configured))
            .await;
        a.is_success().then(|| a.body.unwrap_or(Value::Null))
    }

    /// Waits for the first callback `f` accepts.
    async fn await_callback(&self, f: impl Fn(&Callback) -> bool) -> Option<Callback> {
        let received = self.received.as_ref()?;
        received
            .wait_for(self.callback_wait, |calls| calls.iter().any(&f))
            .await;
        received.all().into_iter().find(|c| f(c))
    }

    /// The inbound expectation the core sent the WMS for `asn_id`.
    async fn expectation_for(&self, asn_id: &str) -> Option<Value> {
        self.await_callback(|c| c.path == routes::wms::INBOUND_EXPECTATIONS && body_has(c, "asn_id", asn_id))
            .await
            .and_then(|c| c.body)
    }

    /// A valid document of case `case` for the core's `path`, after sending
    /// the prior state it needs (unchecked); `None` when that state could
    /// not be built. Used for the concurrent copies.
    pub(super) async fn core_document(&self, path: &str, case: u32) -> Option<Value> {
        let doc = |t: &str| self.docs.document(t, case);
        match path {
            core::PURCHASE_ORDERS | core::ORDER_RELEASES | core::INVENTORY_ADJUSTMENTS => {
                doc(Self::core_op(path).request)
            }
            core::PO_ACKNOWLEDGEMENTS | core::INVOICES => {
                let po = doc("PurchaseOrder")?;
                self.prior(core::PURCHASE_ORDERS, &po, case).await?;
                if path == core::INVOICES {
                    // An invoice before its goods: the core holds it.
                    Some(self.invoice_for(&po, None, case))
                } else {
                    doc("PoAcknowledgement")
                }
            }
            core::ASNS | core::GOODS_RECEIPTS => {
                let (po, ack, asn) = (
                    doc("PurchaseOrder")?,
                    doc("PoAcknowledgement")?,
                    doc("AdvanceShipNotice")?,
                );
                self.prior(core::PURCHASE_ORDERS, &po, case).await?;
                self.prior(core::PO_ACKNOWLEDGEMENTS, &ack, case).await?;
                if path == core::ASNS {
                    return Some(asn);
                }
                self.prior(core::ASNS, &asn, case).await?;
                let exp = self.expectation_for(&str_of(&asn, "asn_id")).await?;
                Some(self.receipt_for(&exp, case))
            }
            core::SHIPMENT_CONFIRMATIONS => {
                let release = doc("OrderRelease")?;
                let decision = self.prior(core::ORDER_RELEASES, &release, case).await?;
                Some(self.shipment_for(&release, &decision, case))
            }
            _ => None,
        }
    }

    /// A ship confirmation of everything `release` ordered, for the
    /// warehouse order of `decision`.
    pub(super) fn shipment_for(&self, release: &Value, decision: &Value, case: u32) -> Value {
        let mut sc = self
            .docs
            .document("ShipmentConfirmation", case)
            .unwrap_or(Value::Null);
        sc["order_number"] = release["order_number"].clone();
        sc["order_version"] = release["version"].clone();
        if let Some(wo) = decision["warehouse_order_id"].as_str() {
            sc["warehouse_order_id"] = Value::String(wo.to_owned());
        }
        // The example confirmation ships the example release's lines; keep
        // its handling units, take quantities from the release.
        if let (Some(lines), Some(released)) = (sc["lines"].as_array_mut(), release["lines"].as_array()) {
            lines.retain(|l| released.iter().any(|r| r["line_no"] == l["line_no"]));
            for l in lines.iter_mut() {
                if let Some(r) = released.iter().find(|r| r["line_no"] == l["line_no"]) {
                    for (to, from) in [("sku", "sku"), ("gtin", "gtin"), ("uom", "uom")] {
                        l[to] = r[from].clone();
                    }
                    l["qty_ordered"] = r["quantity"].clone();
                    l["qty_shipped"] = r["quantity"].clone();
                }
            }
        }
        sc
    }

    /// An invoice for `po`: per PO line, what `receipt` posted (received −
    /// damaged, blocked stock none) or, without a receipt, the ordered quantity, at the PO's price.
    pub(super) fn invoice_for(&self, po: &Value, receipt: Option<&Value>, case: u32) -> Value {
        let mut inv = self.docs.document("Invoice", case).unwrap_or(Value::Null);
        for k in ["po_number", "supplier_gln", "currency"] {
            inv[k] = po[k].clone();
        }
        let po_lines = po["lines"].as_array().map(Vec::as_slice).unwrap_or_default();
        let mut lines = Vec::new();
        for l in po_lines {
            let qty = match receipt {
                None => l["quantity"].as_u64().unwrap_or(0),
                Some(r) => r["lines"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    // Blocked stock is never posted: not received.
                    .filter(|rl| rl["po_line_no"] == l["line_no"] && rl["stock_status"] != "blocked")
                    .map(|rl| {
                        rl["qty_received"]
                            .as_u64()
                            .unwrap_or(0)
                            .saturating_sub(rl["qty_damaged"].as_u64().unwrap_or(0))
                    })
                    .sum(),
            };
            if qty == 0 {
                continue;
            }
            lines.push(serde_json::json!({
                "line_no": lines.len() + 1,
                "po_line_no": l["line_no"],
                "gtin": l["gtin"],
                "quantity": qty,
                "uom": l["uom"],
                "unit_price": l["unit_price"],
            }));
        }
        if !lines.is_empty() {
            inv["lines"] = Value::Array(lines);
        }
        inv
    }

    /// Conformance of the core: the inbound flow (PO, acknowledgement, ASN,
    /// receipt for the expectation it forwards, invoice), the outbound flow
    /// (order release answered by the harness's WMS, its ship confirmation)
    /// and an inventory adjustment; every forward waited for.
    pub(super) async fn core_flow(&self, checks: &mut Checks, counter: &AtomicU32) -> CoreOutcome {
        let case = self.next_case(counter);
        let mut out = CoreOutcome {
            firsts: Vec::new(),
            effects: Vec::new(),
        };
        let doc = |t: &str| self.docs.document(t, case);
        let (Some(po), Some(ack), Some(asn), Some(release), Some(adjustment)) = (
            doc("PurchaseOrder"),
            doc("PoAcknowledgement"),
            doc("AdvanceShipNotice"),
            doc("OrderRelease"),
            doc("InventoryAdjustment"),
        ) else {
            return out;
        };
        let asn_id = str_of(&asn, "asn_id");

        // Inbound: PO, acknowledgement, ASN.
        let mut inbound_ok = true;
        for (path, d) in [
            (core::PURCHASE_ORDERS, po.clone()),
            (core::PO_ACKNOWLEDGEMENTS, ack),
            (core::ASNS, asn),
        ] {
            inbound_ok &= self.conform_core(checks, &mut out, path, case, d).await.is_some();
        }
        // Outbound: the release is decided at once (the harness's WMS accepts).
        let decision = self
            .conform_core(checks, &mut out, core::ORDER_RELEASES, case, release.clone())
            .await;
        // Inventory: nothing before it.
        self.conform_core(checks, &mut out, core::INVENTORY_ADJUSTMENTS, case, adjustment)
            .await;
        if let Some(decision) = decision {
            if decision["decision"] == "accepted" {
                let sc = self.shipment_for(&release, &decision, case);
                self.conform_core(checks, &mut out, core::SHIPMENT_CONFIRMATIONS, case, sc)
                    .await;
            }
        }
        // The receipt counts what the expectation the core forwarded advised;
        // then the invoice of what was received.
        let expectation = if inbound_ok && self.received.is_some() {
            self.expectation_for(&asn_id).await
        } else {
            None
        };
        if let Some(exp) = expectation {
            let receipt = self.receipt_for(&exp, case);
            if self
                .conform_core(checks, &mut out, core::GOODS_RECEIPTS, case, receipt.clone())
                .await
                .is_some()
            {
                let invoice = self.invoice_for(&po, Some(&receipt), case);
                self.conform_core(checks, &mut out, core::INVOICES, case, invoice)
                    .await;
            }
        }

        // Every forward of the accepted documents.
        if let Some(received) = &self.received {
            received
                .wait_for(self.callback_wait, |calls| {
                    out.effects.iter().all(|e| calls.iter().any(|c| (e.matcher)(c)))
                })
                .await;
            let calls = received.all();
            for e in &mut out.effects {
                let n = e.keys(&calls);
                e.baseline = Some(n);
                checks.callbacks_received.case(
                    e.what.clone(),
                    n > 0,
                    if n > 0 {
                        "arrived".to_owned()
                    } else {
                        format!("did not arrive within {} s", self.callback_wait.as_secs_f64())
                    },
                );
            }
        }
        let covered: BTreeSet<&str> = out.firsts.iter().map(|f| f.op.path).collect();
        let rest: Vec<String> = OPERATIONS
            .iter()
            .filter(|o| o.role == Role::Core && o.method == "POST" && !covered.contains(o.path))
            .map(subject)
            .collect();
        if !rest.is_empty() {
            checks.status_documented.note = Some(format!(
                "not exercised with a valid document, as the prior flow state they need could \
                 not be built: {}",
                rest.join(", ")
            ));
        }
        out
    }

    /// Conformance of one core operation; on success, records its first
    /// request and the effects it must cause; returns the answer's body.
    async fn conform_core(
        &self,
        checks: &mut Checks,
        out: &mut CoreOutcome,
        path: &str,
        case: u32,
        doc: Value,
    ) -> Option<Value> {
        let op = Self::core_op(path);
        let effects = effects_of(path, &doc);
        let first = self.conform_doc(checks, op, case, doc).await?;
        let body = first.answer.body.clone();
        out.firsts.push(first);
        out.effects.extend(effects);
        body
    }

    /// `idempotency.one-effect`: after the repeats, each effect of a first
    /// request still has the Idempotency-Keys it had, and each effect of
    /// concurrent copies at most one.
    pub(super) async fn one_effect(&self, checks: &mut Checks, effects: &[Effect]) {
        let Some(received) = &self.received else {
            checks.one_effect.skip("nothing the target forwards is observed");
            return;
        };
        // Whatever a repeat caused has had time to arrive.
        tokio::time::sleep(ONE_EFFECT_SETTLE).await;
        let calls = received.all();
        for e in effects {
            let n = e.keys(&calls);
            match e.baseline {
                Some(0) => {}
                Some(before) => checks.one_effect.case(
                    e.what.clone(),
                    n == before,
                    if n == before {
                        "once, however often its request was repeated".to_owned()
                    } else {
                        format!(
                            "{n} deliveries with distinct Idempotency-Keys after the repeats, {before} before: \
                             a repeat caused a second effect"
                        )
                    },
                ),
                None => checks.one_effect.case(
                    format!("{} (concurrent copies)", e.what),
                    n <= 1,
                    if n <= 1 {
                        format!("{n} deliveries (at most one expected)")
                    } else {
                        format!("{n} deliveries with distinct Idempotency-Keys for one request sent concurrently")
                    },
                ),
            }
        }
        if checks.one_effect.cases.is_empty() {
            checks
                .one_effect
                .skip("no callback of the target arrived, so there is no effect to count");
        }
    }
}

/// How long the one-effect check lets a repeat's forwards arrive.
pub const ONE_EFFECT_SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

impl Suite {
    /// The core's operations endpoints (`contracts::openapi::OPS_OPERATIONS`):
    /// each answered with its documented status and a valid body, an
    /// unknown trace 404, the replay selection refused when invalid, and no
    /// token 401. Called with the operator token (`--token-for ops=T`).
    pub(super) async fn core_ops(&self, checks: &mut Checks, firsts: &[First], case: u32) -> Vec<String> {
        use contracts::openapi::OPS_OPERATIONS;
        let mut exercised = Vec::new();
        if self.client.has_token() && !self.client.has_token_for(core::OPS_STATUS) {
            let note = format!(
                "the operations endpoints ({}) were not exercised: no operator token (--token-for ops=T)",
                OPS_OPERATIONS
                    .iter()
                    .map(|o| format!("{} {}", o.method, o.path))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            checks.status_documented.note = Some(match checks.status_documented.note.take() {
                Some(n) => format!("{n}; {note}"),
                None => note,
            });
            return exercised;
        }
        // The trace of the first accepted intake, as its acknowledgement names it.
        let trace_id = firsts
            .iter()
            .find_map(|f| f.answer.body.as_ref().and_then(|b| b["trace_id"].as_str()))
            .map(str::to_owned);
        for o in &OPS_OPERATIONS {
            let path = match (o.path, &trace_id) {
                (core::OPS_TRACE, Some(t)) => core::OPS_TRACE.replace("{trace_id}", t),
                (core::OPS_TRACE, None) => continue,
                (p, _) => p.to_owned(),
            };
            let body = o.request.map(|_| br#"{"ids":[]}"#.to_vec());
            let a = self
                .client
                .send(&Request {
                    method: o.method,
                    path: &path,
                    body,
                    idempotency_key: None,
                    auth: Auth::Configured,
                })
                .await;
            let s = format!("{} {path}", o.method);
            exercised.push(format!("{} {}", o.method, o.path));
            let ok = a.status == Some(200);
            checks.status_documented.case(
                &s,
                ok,
                if ok {
                    a.describe()
                } else {
                    format!("expected 200, got {}{}", a.describe(), excerpt(&a.raw))
                },
            );
            if !ok {
                continue;
            }
            let verdict = self.ops_answer_verdict(o.response, &a);
            checks
                .response_valid
                .case(&s, verdict.is_ok(), verdict.unwrap_or_else(|e| e));
        }

        self.ops_errors(checks, case).await;
        exercised
    }

    /// An ops endpoint's 200 answer, judged against its documented body
    /// (`None`: Prometheus text).
    fn ops_answer_verdict(&self, response: Option<&'static str>, a: &Answer) -> Result<String, String> {
        match (response, &a.body) {
            (None, _) => match a.content_type.as_deref() {
                Some(c) if c.starts_with("text/plain") => Ok("Prometheus text".to_owned()),
                other => Err(format!(
                    "expected Prometheus text (text/plain), Content-Type is {:?}",
                    other.unwrap_or("absent")
                )),
            },
            (Some(_), None) => Err(format!("the answer is not JSON{}", excerpt(&a.raw))),
            (Some(name), Some(b)) => {
                // The dead-letter list is an array of them.
                let items: Vec<&Value> = match (name, b) {
                    ("DeadLetter", Value::Array(items)) => items.iter().collect(),
                    ("DeadLetter", _) => vec![&Value::Null],
                    _ => vec![b],
                };
                items
                    .into_iter()
                    .find_map(|item| {
                        self.validator
                            .validate(name, item)
                            .unwrap_or_default()
                            .into_iter()
                            .next()
                    })
                    .map_or(Ok(format!("valid {name}")), |f| {
                        Err(format!("invalid {name}: {f}"))
                    })
            }
        }
    }

    /// Errors: an unknown trace, an invalid replay selection, no token.
    async fn ops_errors(&self, checks: &mut Checks, case: u32) {
        let unknown = format!("{}{:024x}", &self.docs.tag(case)[..8], 1u8);
        let path = core::OPS_TRACE.replace("{trace_id}", &unknown);
        self.expect_unknown(&path, checks).await;
        let valid = serde_json::json!({"ids": []});
        for (name, bytes) in invalid_variants(&self.validator, "ReplayRequest", &valid) {
            let a = self
                .client
                .send(&Request {
                    method: "POST",
                    path: core::OPS_DEAD_LETTER_REPLAY,
                    body: Some(bytes),
                    idempotency_key: None,
                    auth: Auth::Configured,
                })
                .await;
            self.expect_refusal(
                &a,
                format!("POST {} ({name})", core::OPS_DEAD_LETTER_REPLAY),
                checks,
            );
        }
        if self.client.has_token() {
            for (auth, what) in [(Auth::Missing, "no token"), (Auth::Wrong, "a wrong token")] {
                let a = self
                    .client
                    .send(&Request {
                        method: "GET",
                        path: core::OPS_STATUS,
                        body: None,
                        idempotency_key: None,
                        auth,
                    })
                    .await;
                let verdict = self.problem_with(&a, |s| s == 401, "401");
                checks.missing_auth.case(
                    format!("GET {} ({what})", core::OPS_STATUS),
                    verdict.is_ok(),
                    verdict.unwrap_or_else(|e| e),
                );
            }
        }
    }
}
