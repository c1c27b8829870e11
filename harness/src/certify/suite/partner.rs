//! The partner roles' side of the suite (supplier, WMS, ERP): every
//! operation of the contract exercised (reads included, an update or a
//! cancellation on an expectation created first), the effects a partner
//! must cause once, the documented state transitions, and documents with
//! multi-byte UTF-8 and maximum lengths.

use std::sync::atomic::AtomicU32;

use serde_json::Value;

use contracts::Role;
use contracts::routes::{self, Operation, wms};

use super::consistency::Sent;
use super::effects::{self, Effect};
use super::inputs;
use super::{Checks, First, Suite, excerpt, post, statuses, subject};
use crate::certify::client::{Answer, Auth, Request};

/// Whether the latency phase may send `op` without building state first.
fn needs_no_prior_state(role: Role, op: &Operation) -> bool {
    if role == Role::Core {
        return [
            routes::core::PURCHASE_ORDERS,
            routes::core::ORDER_RELEASES,
            routes::core::INVENTORY_ADJUSTMENTS,
        ]
        .contains(&op.path);
    }
    op.method == "POST" && !on_an_expectation(op)
}

/// An update or a cancellation: it needs the expectation it changes.
fn on_an_expectation(op: &Operation) -> bool {
    [
        wms::INBOUND_EXPECTATION_UPDATES,
        wms::INBOUND_EXPECTATION_CANCELLATIONS,
    ]
    .contains(&op.path)
}

/// `expectation` at its next revision (lines unchanged).
fn update_of(expectation: &Value) -> Value {
    let mut update = expectation.clone();
    update["revision"] = (expectation["revision"].as_u64().unwrap_or(1) + 1).into();
    update
}

/// The cancellation of `expectation`, one revision on.
fn cancellation_of(template: Value, expectation: &Value) -> Value {
    let mut cancel = template;
    for key in ["expectation_id", "asn_id", "supplier_gln"] {
        cancel[key] = expectation[key].clone();
    }
    cancel["revision"] = (expectation["revision"].as_u64().unwrap_or(1) + 1).into();
    cancel
}

/// A documented answer to a state transition: one of the operation's
/// success statuses, or a 404/409/422 problem+json.
fn documented_transition(op: &Operation, a: &Answer) -> Result<String, String> {
    match a.status {
        Some(s) if op.success.contains(&s) => Ok(format!("accepted with status {s}")),
        Some(s @ (404 | 409 | 422)) if a.is_problem_json() => {
            Ok(format!("refused with status {s} problem+json"))
        }
        Some(s @ (404 | 409 | 422)) => Err(format!(
            "refused with status {s}, but Content-Type is {:?}, not application/problem+json",
            a.content_type.as_deref().unwrap_or("absent")
        )),
        _ => Err(format!(
            "expected a documented answer ({}, or 404/409/422 problem+json), got {}{}",
            statuses(op.success),
            a.describe(),
            excerpt(&a.raw)
        )),
    }
}

impl Suite {
    /// The operations of `firsts` the latency phase sends: those that need
    /// no prior state.
    pub(super) fn latency_ops(&self, firsts: &[First]) -> Vec<&'static Operation> {
        firsts
            .iter()
            .map(|f| f.op)
            .filter(|op| needs_no_prior_state(self.role, op))
            .collect()
    }

    /// Conformance of a partner role: each operation of the scope, in
    /// contract order; a read is fetched, an update or a cancellation is
    /// of an expectation created just before.
    pub(super) async fn partner_conformance(
        &self,
        checks: &mut Checks,
        ops: &[&'static Operation],
        counter: &AtomicU32,
    ) -> Vec<First> {
        let mut firsts = Vec::new();
        for op in ops {
            let case = self.next_case(counter);
            if op.method == "GET" {
                self.read(checks, op).await;
                continue;
            }
            let Some(doc) = self.prepared(op, case).await else {
                checks.request_valid.case(
                    subject(op),
                    false,
                    format!("the harness has no example of {} to send", op.request),
                );
                continue;
            };
            if let Some(first) = self.conform_doc(checks, op, case, doc).await {
                firsts.push(first);
            }
        }
        firsts
    }

    /// A read: documented status, valid body.
    async fn read(&self, checks: &mut Checks, op: &'static Operation) {
        let a = self.client.send(&get(op.path, Auth::Configured)).await;
        let documented = a.status.is_some_and(|s| op.success.contains(&s));
        checks.status_documented.case(
            subject(op),
            documented,
            if documented {
                a.describe()
            } else {
                format!(
                    "expected {}, got {}{}",
                    statuses(op.success),
                    a.describe(),
                    excerpt(&a.raw)
                )
            },
        );
        if a.is_success() {
            self.judge_response(checks, op, &a);
        }
    }

    /// A read's error semantics: an unknown resource under it is 404, no
    /// or a wrong token 401.
    pub(super) async fn read_errors(&self, checks: &mut Checks, op: &'static Operation, case: u32) {
        let path = format!("{}/{}", op.path, self.docs.unknown_id(case));
        self.expect_unknown(&path, checks).await;
        if !self.client.has_token() {
            return;
        }
        for (auth, what) in [(Auth::Missing, "no token"), (Auth::Wrong, "a wrong token")] {
            let a = self.client.send(&get(op.path, auth)).await;
            let verdict = self.problem_with(&a, |s| s == 401, "401");
            checks.missing_auth.case(
                format!("{} ({what})", subject(op)),
                verdict.is_ok(),
                verdict.unwrap_or_else(|e| e),
            );
        }
    }

    /// Case `case`'s document for `op`, after the state it needs: an
    /// update or a cancellation changes an expectation created first.
    pub(super) async fn prepared(&self, op: &'static Operation, case: u32) -> Option<Value> {
        if !on_an_expectation(op) {
            return self.docs.document(op.request, case);
        }
        let expectation = self.create_expectation(case).await?;
        if op.path == wms::INBOUND_EXPECTATION_UPDATES {
            Some(update_of(&expectation))
        } else {
            Some(cancellation_of(
                self.docs.document(op.request, case)?,
                &expectation,
            ))
        }
    }

    /// Creates case `case`'s expectation at the target; returns it.
    async fn create_expectation(&self, case: u32) -> Option<Value> {
        let create = routes::operation(Role::Wms, "POST", wms::INBOUND_EXPECTATIONS)?;
        let expectation = self.docs.document(create.request, case)?;
        let body = serde_json::to_vec(&expectation).expect("JSON serializes");
        let key = self.docs.key("prior-expectation", case);
        self.client
            .send(&post(create, body, Some(key), Auth::Configured))
            .await;
        Some(expectation)
    }

    /// What each first request must cause once, with what arrived for it
    /// so far as the baseline.
    pub(super) fn partner_baseline(&self, firsts: &[First]) -> Vec<Effect> {
        let Some(received) = &self.received else {
            return Vec::new();
        };
        let calls = received.all();
        let mut out: Vec<Effect> = Vec::new();
        for first in firsts {
            let doc: Value = serde_json::from_slice(&first.body).unwrap_or_default();
            for mut e in effects::partner_effects_of(first.op.request, &doc) {
                if out.iter().all(|o| o.what != e.what) {
                    e.baseline = Some(e.keys(&calls));
                    out.push(e);
                }
            }
        }
        out
    }

    /// `sequences.documented-transitions`: updates and cancellations of
    /// unknown or cancelled expectations (WMS), a PO's next version
    /// (supplier), each answered as documented.
    pub(super) async fn sequences(
        &self,
        checks: &mut Checks,
        posts: &[&'static Operation],
        counter: &AtomicU32,
    ) {
        if self.role == Role::Core {
            checks
                .sequences
                .skip("the core's transitions are those of its flow, which conformance drives step by step");
            return;
        }
        let has = |path: &str| posts.iter().copied().find(|o| o.path == path);
        if let Some(update) = has(wms::INBOUND_EXPECTATION_UPDATES) {
            let case = self.next_case(counter);
            if let Some(doc) = self.docs.document("InboundExpectation", case) {
                self.transition(
                    checks,
                    update,
                    "update of an unknown expectation",
                    &update_of(&doc),
                    case,
                )
                .await;
            }
        }
        if let Some(cancel) = has(wms::INBOUND_EXPECTATION_CANCELLATIONS) {
            let case = self.next_case(counter);
            if let (Some(template), Some(exp)) = (
                self.docs.document(cancel.request, case),
                self.docs.document("InboundExpectation", case),
            ) {
                let doc = cancellation_of(template.clone(), &exp);
                self.transition(
                    checks,
                    cancel,
                    "cancellation of an unknown expectation",
                    &doc,
                    case,
                )
                .await;
                let case = self.next_case(counter);
                if let Some(exp) = self.create_expectation(case).await {
                    let doc = cancellation_of(template, &exp);
                    self.transition(checks, cancel, "cancellation of a new expectation", &doc, case)
                        .await;
                    if let Some(update) = has(wms::INBOUND_EXPECTATION_UPDATES) {
                        let mut doc = update_of(&exp);
                        doc["revision"] = (exp["revision"].as_u64().unwrap_or(1) + 2).into();
                        self.transition(checks, update, "update of a cancelled expectation", &doc, case)
                            .await;
                    }
                }
            }
        }
        if let Some(order) = has(routes::supplier::PURCHASE_ORDERS) {
            let case = self.next_case(counter);
            if let Some(po) = self.docs.document(order.request, case) {
                self.transition(checks, order, "a new purchase order", &po, case)
                    .await;
                let mut next = po.clone();
                next["version"] = (po["version"].as_u64().unwrap_or(1) + 1).into();
                self.transition(
                    checks,
                    order,
                    "the next version of that purchase order",
                    &next,
                    case,
                )
                .await;
            }
        }
        if checks.sequences.cases.is_empty() {
            checks.sequences.skip(format!(
                "the {} contract in this scope documents no state transition between its operations \
                 (judged: WMS expectations, supplier POs)",
                self.role
            ));
        }
    }

    async fn transition(
        &self,
        checks: &mut Checks,
        op: &'static Operation,
        what: &str,
        doc: &Value,
        case: u32,
    ) {
        let body = serde_json::to_vec(doc).expect("JSON serializes");
        let key = self.docs.key(&format!("sequence-{what}"), case);
        let a = self
            .client
            .send(&post(op, body, Some(key), Auth::Configured))
            .await;
        let verdict = documented_transition(op, &a);
        checks.sequences.case(
            format!("{} ({what})", subject(op)),
            verdict.is_ok(),
            verdict.unwrap_or_else(|e| e),
        );
    }

    /// `inputs.utf8-and-boundaries`: each variant of each operation's
    /// document ([`inputs::variants`]), on a fresh case, accepted with a
    /// documented success status.
    pub(super) async fn utf8_inputs(
        &self,
        checks: &mut Checks,
        posts: &[&'static Operation],
        counter: &AtomicU32,
    ) {
        if self.role == Role::Core {
            checks.inputs_utf8.skip(
                "not yet for the core: its documents refer to the flow's earlier ones, item codes included",
            );
            return;
        }
        let catalog = contracts::schema::catalog();
        for op in posts {
            let Some((_, schema)) = catalog.iter().find(|(n, _)| *n == op.request) else {
                continue;
            };
            let Some(shape) = self.docs.document(op.request, 0) else {
                continue;
            };
            for variant in inputs::variants(&self.validator, op.request, schema, &shape) {
                let case = self.next_case(counter);
                let Some(doc) = self.prepared(op, case).await else {
                    continue;
                };
                let Some(doc) = inputs::apply(&doc, &variant.changes) else {
                    continue;
                };
                self.send_variant(checks, op, &variant, &doc, case).await;
            }
        }
        if checks.inputs_utf8.cases.is_empty() {
            checks
                .inputs_utf8
                .skip("no document of this scope has a free-text, bounded or enumerated member");
        }
    }

    async fn send_variant(
        &self,
        checks: &mut Checks,
        op: &'static Operation,
        variant: &inputs::Variant,
        doc: &Value,
        case: u32,
    ) {
        let body = serde_json::to_vec(doc).expect("JSON serializes");
        let key = self.docs.key("input", case);
        let a = self
            .client
            .send(&post(op, body, Some(key), Auth::Configured))
            .await;
        let ok = a.status.is_some_and(|s| op.success.contains(&s));
        checks.inputs_utf8.case(
            format!("{} ({:?})", subject(op), variant.kind),
            ok,
            if ok {
                format!("{} with {}", a.describe(), variant.what)
            } else {
                format!(
                    "a valid document with {} got {}{} (expected {}): {}",
                    variant.what,
                    a.describe(),
                    excerpt(&a.raw),
                    statuses(op.success),
                    variant.kind.fix()
                )
            },
        );
    }

    /// `callbacks.consistent`: each callback of a supplier or WMS against
    /// what it accepted.
    pub(super) fn judge_consistency(&self, checks: &mut Checks) {
        let Some(received) = &self.received else {
            checks.callbacks_consistent.skip(format!(
                "the {} role sends nothing back in reply to the suite's requests",
                self.role
            ));
            return;
        };
        if self.role == Role::Core {
            checks.callbacks_consistent.skip(
                "the core's forwards are matched to their requests by callbacks.received and idempotency.one-effect",
            );
            return;
        }
        let sent = Sent::from_accepted(&self.client.accepted());
        for call in received.all().iter().filter(|c| c.operation.is_some()) {
            let verdict = sent.judge(call);
            checks.callbacks_consistent.case(
                format!("{} {}", call.method, call.path),
                verdict.is_ok(),
                verdict.unwrap_or_else(|e| e),
            );
        }
        if checks.callbacks_consistent.cases.is_empty() {
            checks.callbacks_consistent.skip("the target sent nothing back");
        }
    }
}

fn get(path: &str, auth: Auth) -> Request<'_> {
    Request {
        method: "GET",
        path,
        body: None,
        idempotency_key: None,
        auth,
    }
}
