//! The checks of a certification suite, in the order they run.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;

use contracts::routes::{self, OPERATIONS, Operation};
use contracts::{Role, Validator};

use super::callback::{Callback, Received};
use super::certificate::{Case, CheckResult, LatencySummary, Status};
use super::client::{Answer, Auth, Request, TargetClient};
use super::docs::{DocGen, invalid_variants};

mod consistency;
mod core_flow;
mod effects;
mod inputs;
mod partner;
use effects::{Effect, Matcher};

/// Concurrent copies of one request in `idempotency.concurrent-duplicate`.
const CONCURRENT_COPIES: usize = 4;

/// A check being filled with cases.
#[derive(Debug)]
struct Check {
    name: &'static str,
    description: &'static str,
    cases: Vec<Case>,
    skipped: Option<String>,
    /// The option that would run a skipped check.
    enable: Option<String>,
    note: Option<String>,
}

impl Check {
    fn new(name: &'static str, description: &'static str) -> Self {
        Self {
            name,
            description,
            cases: Vec::new(),
            skipped: None,
            enable: None,
            note: None,
        }
    }

    fn case(&mut self, subject: impl Into<String>, passed: bool, detail: impl Into<String>) {
        self.cases.push(Case {
            subject: subject.into(),
            passed,
            detail: detail.into(),
        });
    }

    fn skip(&mut self, reason: impl Into<String>) {
        self.skipped = Some(reason.into());
    }

    /// Skipped for want of an option: `flag` would run it.
    fn skip_for(&mut self, reason: impl Into<String>, flag: &str) {
        self.skipped = Some(reason.into());
        self.enable = Some(flag.to_owned());
    }

    fn finish(self) -> CheckResult {
        let failed: Vec<&Case> = self.cases.iter().filter(|c| !c.passed).collect();
        let (status, mut detail) = if let Some(first) = failed.first() {
            (
                Status::Fail,
                format!(
                    "{} of {} case(s) failed; first: {}: {}",
                    failed.len(),
                    self.cases.len(),
                    first.subject,
                    first.detail
                ),
            )
        } else if self.cases.is_empty() {
            (
                Status::Skipped,
                self.skipped.unwrap_or_else(|| "nothing to check".into()),
            )
        } else {
            (Status::Pass, format!("{} case(s) passed", self.cases.len()))
        };
        if let Some(note) = self.note {
            detail = format!("{detail}; {note}");
        }
        let enable = (status == Status::Skipped).then_some(self.enable).flatten();
        CheckResult {
            name: self.name.into(),
            description: self.description.into(),
            status,
            detail,
            enable,
            cases: self.cases,
        }
    }
}

/// What a suite produced.
#[derive(Debug)]
pub struct SuiteOutcome {
    pub checks: Vec<CheckResult>,
    pub operations: Vec<String>,
    pub requests_sha256: String,
    pub requests_sent: u64,
    pub latency: Option<LatencySummary>,
}

/// Everything a suite needs.
#[derive(Debug)]
pub struct Suite {
    pub role: Role,
    pub client: TargetClient,
    pub docs: DocGen,
    pub validator: Arc<Validator>,
    /// What the target called back, for roles that call back.
    pub received: Option<Arc<Received>>,
    pub callback_wait: Duration,
    pub rate_per_s: f64,
    pub latency_requests: u32,
    pub p99_bound: Duration,
    /// The operations to certify; all of the role's when empty.
    pub scope: Vec<&'static Operation>,
}

/// The first accepted request of one operation, which later checks repeat.
#[derive(Debug, Clone)]
struct First {
    op: &'static Operation,
    body: Vec<u8>,
    key: String,
    answer: Answer,
}

/// The checks, in report order.
struct Checks {
    request_valid: Check,
    status_documented: Check,
    response_valid: Check,
    replay: Check,
    key_reuse: Check,
    concurrent: Check,
    one_effect: Check,
    missing_key: Check,
    invalid_document: Check,
    unknown_id: Check,
    missing_auth: Check,
    callbacks_received: Check,
    callbacks_valid: Check,
    callbacks_consistent: Check,
    sequences: Check,
    inputs_utf8: Check,
    rate_limit: Check,
    latency: Check,
}

impl Checks {
    fn new() -> Self {
        Self {
            request_valid: Check::new(
                "conformance.request-valid",
                "every document the harness sends is valid against its schema and the domain rules",
            ),
            status_documented: Check::new(
                "conformance.status-documented",
                "a valid request is answered with one of the operation's documented success statuses",
            ),
            response_valid: Check::new(
                "conformance.response-valid",
                "a success answer is JSON, valid against the operation's response schema",
            ),
            replay: Check::new(
                "idempotency.replay-same-result",
                "the same request with the same Idempotency-Key again gets the same status and body",
            ),
            key_reuse: Check::new(
                "idempotency.key-reuse-different-body-422",
                "an Idempotency-Key reused with a different body is refused with 422 problem+json",
            ),
            concurrent: Check::new(
                "idempotency.concurrent-duplicate",
                "copies of one request sent at once get 409 or the same success answer, and at least one succeeds",
            ),
            one_effect: Check::new(
                "idempotency.one-effect",
                "what the target forwards for a request arrives once (one Idempotency-Key), however often the request is repeated or sent at once",
            ),
            missing_key: Check::new(
                "idempotency.missing-key-400",
                "a mutating request without an Idempotency-Key is refused with 400 problem+json",
            ),
            invalid_document: Check::new(
                "errors.invalid-document-4xx-problem",
                "an invalid document is refused with a 4xx problem+json (RFC 9457), never 5xx or 2xx",
            ),
            unknown_id: Check::new(
                "errors.unknown-id-404",
                "a resource id the target cannot know is answered 404 problem+json",
            ),
            missing_auth: Check::new(
                "errors.missing-auth-401",
                "a request without a bearer token, or with a wrong one, is refused with 401 problem+json",
            ),
            callbacks_received: Check::new(
                "callbacks.received",
                "what the target must send back for the suite's requests arrives within the bounded wait",
            ),
            callbacks_valid: Check::new(
                "callbacks.valid",
                "every callback is a contract operation with an Idempotency-Key and a valid document",
            ),
            callbacks_consistent: Check::new(
                "callbacks.consistent",
                "every callback agrees with the request that caused it: the documents it refers to, parties, items, \
                 quantities within what was ordered or advised; none for a cancelled expectation",
            ),
            sequences: Check::new(
                "sequences.documented-transitions",
                "a state transition the contract allows or forbids (update or cancellation of an unknown or cancelled \
                 expectation, a PO's next version) gets a documented answer: success, or 404/409/422 problem+json",
            ),
            inputs_utf8: Check::new(
                "inputs.utf8-and-boundaries",
                "documents with multi-byte UTF-8 (accents, CJK, emoji, combining marks, RTL) at maximum length in every \
                 free-text member, numbers at their bounds and every documented enum value are accepted like any other \
                 valid document",
            ),
            rate_limit: Check::new(
                "rate-limit.retry-after-on-429",
                "every 429 the target answers during the suite carries Retry-After (RFC 9110)",
            ),
            latency: Check::new(
                "latency.p99",
                "p99 latency from the intended send time, at a modest open-model rate, is within the bound",
            ),
        }
    }

    fn into_results(self) -> Vec<CheckResult> {
        [
            self.request_valid,
            self.status_documented,
            self.response_valid,
            self.replay,
            self.key_reuse,
            self.concurrent,
            self.one_effect,
            self.missing_key,
            self.invalid_document,
            self.unknown_id,
            self.missing_auth,
            self.callbacks_received,
            self.callbacks_valid,
            self.callbacks_consistent,
            self.sequences,
            self.inputs_utf8,
            self.rate_limit,
            self.latency,
        ]
        .into_iter()
        .map(Check::finish)
        .collect()
    }
}

fn subject(op: &Operation) -> String {
    format!("{} {}", op.method, op.path)
}

fn statuses(list: &[u16]) -> String {
    list.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ")
}

fn post<'a>(op: &'a Operation, body: Vec<u8>, key: Option<String>, auth: Auth) -> Request<'a> {
    Request {
        method: op.method,
        path: op.path,
        body: Some(body),
        idempotency_key: key,
        auth,
    }
}

impl Suite {
    fn next_case(&self, counter: &AtomicU32) -> u32 {
        counter.fetch_add(1, Ordering::SeqCst)
    }

    /// An invalid document must be refused with a 4xx problem+json that is
    /// not about auth.
    fn expect_refusal(&self, a: &Answer, case: String, checks: &mut Checks) {
        let verdict = self.problem_with(
            a,
            |s| (400..500).contains(&s) && s != 401 && s != 403,
            "a 4xx refusal of the document",
        );
        checks
            .invalid_document
            .case(case, verdict.is_ok(), verdict.unwrap_or_else(|e| e));
    }

    /// `GET path` of an id nobody created must be 404 problem+json.
    async fn expect_unknown(&self, path: &str, checks: &mut Checks) {
        let a = self
            .client
            .send(&Request {
                method: "GET",
                path,
                body: None,
                idempotency_key: None,
                auth: Auth::Configured,
            })
            .await;
        let verdict = self.problem_with(&a, |s| s == 404, "404");
        checks.unknown_id.case(
            format!("GET {path}"),
            verdict.is_ok(),
            verdict.unwrap_or_else(|e| e),
        );
    }

    /// A problem+json answer with `expected` status, or why not.
    fn problem_with(&self, a: &Answer, expected: impl Fn(u16) -> bool, what: &str) -> Result<String, String> {
        let Some(status) = a.status else {
            return Err(format!("expected {what}, got {}", a.describe()));
        };
        if !expected(status) {
            return Err(format!("expected {what}, got status {status}{}", excerpt(&a.raw)));
        }
        if !a.is_problem_json() {
            return Err(format!(
                "status {status}, but Content-Type is {:?}, not application/problem+json",
                a.content_type.as_deref().unwrap_or("absent")
            ));
        }
        let Some(body) = &a.body else {
            return Err(format!("status {status}, but the problem body is not JSON"));
        };
        let findings = self.validator.validate("Problem", body).unwrap_or_default();
        if let Some(f) = findings.first() {
            return Err(format!(
                "status {status}, but the problem document is invalid: {f}"
            ));
        }
        if body["status"].as_u64() != Some(u64::from(status)) {
            return Err(format!(
                "status {status}, but the problem document says status {}",
                body["status"]
            ));
        }
        Ok(format!("status {status} problem+json"))
    }

    /// The documents conformance sends, per role: every operation of a
    /// partner role (reads included); the inbound flow of the core (built
    /// step by step from what the core forwards).
    pub async fn run(&self) -> SuiteOutcome {
        let mut checks = Checks::new();
        let counter = AtomicU32::new(1);
        let ops: Vec<&'static Operation> = if self.scope.is_empty() {
            let core_posts = |o: &&Operation| self.role != Role::Core || o.method == "POST";
            OPERATIONS
                .iter()
                .filter(|o| o.role == self.role)
                .filter(core_posts)
                .collect()
        } else {
            self.scope.clone()
        };
        let posts: Vec<&'static Operation> = ops.iter().copied().filter(|o| o.method == "POST").collect();

        // Conformance.
        let (firsts, mut effects) = if self.role == Role::Core {
            let outcome = self.core_flow(&mut checks, &counter).await;
            (outcome.firsts, outcome.effects)
        } else {
            let firsts = self.partner_conformance(&mut checks, &ops, &counter).await;
            self.partner_callbacks(&mut checks, &firsts).await;
            let effects = self.partner_baseline(&firsts);
            (firsts, effects)
        };

        // Idempotency, on every operation that had a first success.
        for first in &firsts {
            self.idempotency(&mut checks, first, &counter, &mut effects).await;
        }
        self.one_effect(&mut checks, &effects).await;
        if firsts.is_empty() {
            let reason = "no operation accepted a valid request, so there was nothing to repeat";
            for c in [
                &mut checks.replay,
                &mut checks.key_reuse,
                &mut checks.concurrent,
                &mut checks.missing_key,
            ] {
                c.skip(reason);
            }
        }

        // Error semantics, on every operation of the role.
        for op in &ops {
            self.errors(&mut checks, op, &counter).await;
        }
        let mut operations: Vec<String> = ops.iter().map(|o| subject(o)).collect();
        if self.role == Role::Core {
            let case = self.next_case(&counter);
            operations.extend(self.core_ops(&mut checks, &firsts, case).await);
        }
        if !self.client.has_token() {
            checks.missing_auth.skip_for(
                "no --token given: the target's authentication was not tried, and a target that \
                 checks none would pass",
                "--token T",
            );
        }
        self.sequences(&mut checks, &posts, &counter).await;
        self.utf8_inputs(&mut checks, &posts, &counter).await;

        // Latency, over the operations that accept without prior state.
        let latency_ops = self.latency_ops(&firsts);
        let latency = self.latency(&mut checks, &latency_ops, &counter).await;

        // Callbacks caused by anything above, valid or not.
        self.judge_callbacks(&mut checks);
        self.judge_consistency(&mut checks);
        // Rate limiting: only what was observed.
        self.judge_rate_limits(&mut checks);

        let (requests_sent, requests_sha256) = self.client.requests_digest();
        SuiteOutcome {
            checks: checks.into_results(),
            operations,
            requests_sha256,
            requests_sent,
            latency,
        }
    }

    /// `callbacks.*`: every call the target made back, judged.
    fn judge_callbacks(&self, checks: &mut Checks) {
        match &self.received {
            None => {
                checks.callbacks_received.skip(format!(
                    "the {} role sends nothing back in reply to the suite's requests",
                    self.role
                ));
                checks.callbacks_valid.skip(format!(
                    "the {} role sends nothing back in reply to the suite's requests",
                    self.role
                ));
            }
            Some(received) => {
                for call in received.all() {
                    let subject = format!("{} {}", call.method, call.path);
                    if call.problems.is_empty() {
                        let op = call.operation.map_or("?", |o| o.request);
                        checks.callbacks_valid.case(subject, true, format!("valid {op}"));
                    } else {
                        checks
                            .callbacks_valid
                            .case(subject, false, call.problems.join("; "));
                    }
                }
                if checks.callbacks_valid.cases.is_empty() {
                    checks.callbacks_valid.skip("the target sent nothing back");
                }
            }
        }
    }

    /// `rate-limit.*`: every 429 the target answered carries a valid
    /// Retry-After.
    fn judge_rate_limits(&self, checks: &mut Checks) {
        let too_many = self.client.too_many();
        if too_many.is_empty() {
            checks.rate_limit.skip(
                "not observed: the target answered no 429 during the suite (a modest rate); \
             nothing is claimed about its rate limiting",
            );
        }
        for t in too_many {
            let subject = format!("{} {}", t.method, t.path);
            match t.retry_after.as_deref().map(str::trim) {
                Some(v) if contracts::http::retry_after_seconds(v).is_some() || looks_like_http_date(v) => {
                    checks
                        .rate_limit
                        .case(subject, true, format!("429 with Retry-After: {v}"))
                }
                Some(v) => checks.rate_limit.case(
                    subject,
                    false,
                    format!("429 with Retry-After {v:?}: neither seconds nor an HTTP date"),
                ),
                None => checks.rate_limit.case(subject, false, "429 without Retry-After"),
            }
        }
    }

    /// `conformance.response-valid` for a success answer of `op`.
    fn judge_response(&self, checks: &mut Checks, op: &Operation, answer: &Answer) {
        let s = subject(op);
        let response = match &answer.body {
            Some(b) if answer.is_json() => Ok(b),
            Some(_) => Err(format!(
                "the answer's Content-Type is {:?}, not application/json",
                answer.content_type.as_deref().unwrap_or("absent")
            )),
            None => Err(format!("the answer is not JSON{}", excerpt(&answer.raw))),
        };
        match response {
            Err(e) => checks.response_valid.case(&s, false, e),
            Ok(b) => {
                let findings = self.validator.validate(op.response, b).unwrap_or_default();
                checks.response_valid.case(
                    &s,
                    findings.is_empty(),
                    match findings.first() {
                        None => format!("valid {}", op.response),
                        Some(f) => format!("invalid {}: {f}", op.response),
                    },
                );
            }
        }
    }

    /// Sends `doc` to `op` as case `case`; fills the conformance checks;
    /// returns the request when it succeeded.
    async fn conform_doc(
        &self,
        checks: &mut Checks,
        op: &'static Operation,
        case: u32,
        doc: Value,
    ) -> Option<First> {
        let s = subject(op);
        let findings = self.validator.validate(op.request, &doc).unwrap_or_default();
        checks.request_valid.case(
            &s,
            findings.is_empty(),
            match findings.first() {
                None => format!("valid {}", op.request),
                Some(f) => format!("the harness generated an invalid {}: {f}", op.request),
            },
        );
        let body = serde_json::to_vec(&doc).expect("JSON serializes");
        // Keys are unique per operation: a core may keep one key space.
        let key = self.docs.key(&format!("{}-first", op.request), case);
        let answer = self
            .client
            .send(&post(op, body.clone(), Some(key.clone()), Auth::Configured))
            .await;
        let documented = answer.status.is_some_and(|s| op.success.contains(&s));
        checks.status_documented.case(
            &s,
            documented,
            if documented {
                answer.describe()
            } else {
                format!(
                    "expected {}, got {}{}",
                    statuses(op.success),
                    answer.describe(),
                    excerpt(&answer.raw)
                )
            },
        );
        if !answer.is_success() {
            return None;
        }
        self.judge_response(checks, op, &answer);
        Some(First {
            op,
            body,
            key,
            answer,
        })
    }

    /// What a supplier or WMS must send back for the conformance requests.
    async fn partner_callbacks(&self, checks: &mut Checks, firsts: &[First]) {
        let Some(received) = &self.received else {
            return;
        };
        let mut expected: Vec<(String, Matcher)> = Vec::new();
        for first in firsts {
            let doc: Value = serde_json::from_slice(&first.body).unwrap_or_default();
            match first.op.request {
                "PurchaseOrder" => {
                    let po = doc["po_number"].as_str().unwrap_or_default().to_owned();
                    let p = po.clone();
                    expected.push((
                        format!("acknowledgement of {po}"),
                        Box::new(move |c: &Callback| {
                            c.path == routes::core::PO_ACKNOWLEDGEMENTS
                                && c.body.as_ref().is_some_and(|b| b["po_number"] == p.as_str())
                        }),
                    ));
                    expected.push((
                        format!("advance ship notice for {po}"),
                        Box::new(move |c: &Callback| {
                            c.path == routes::core::ASNS
                                && c.body.as_ref().is_some_and(|b| {
                                    b["lines"]
                                        .as_array()
                                        .is_some_and(|l| l.iter().any(|l| l["po_number"] == po.as_str()))
                                })
                        }),
                    ));
                }
                "InboundExpectation" => {
                    let exp = doc["expectation_id"].as_str().unwrap_or_default().to_owned();
                    expected.push((
                        format!("goods receipt for {exp}"),
                        Box::new(move |c: &Callback| {
                            c.path == routes::core::GOODS_RECEIPTS
                                && c.body
                                    .as_ref()
                                    .is_some_and(|b| b["expectation_id"] == exp.as_str())
                        }),
                    ));
                }
                _ => {}
            }
        }
        if expected.is_empty() {
            checks
                .callbacks_received
                .skip("no request of the suite obliges the target to call back");
            return;
        }
        received
            .wait_for(self.callback_wait, |calls| {
                expected.iter().all(|(_, f)| calls.iter().any(f))
            })
            .await;
        let calls = received.all();
        for (what, f) in &expected {
            let found = calls.iter().any(f);
            checks.callbacks_received.case(
                what.clone(),
                found,
                if found {
                    "arrived".to_owned()
                } else {
                    format!("did not arrive within {} s", self.callback_wait.as_secs_f64())
                },
            );
        }
    }

    /// A goods receipt counting exactly what `expectation` advised.
    fn receipt_for(&self, expectation: &Value, case: u32) -> Value {
        let tag = self.docs.tag(case);
        let lines: Vec<Value> = expectation["lines"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|l| {
                let mut line = serde_json::json!({
                    "line_no": l["line_no"],
                    "po_number": l["po_number"],
                    "po_line_no": l["po_line_no"],
                    "sku": l["sku"],
                    "qty_received": l["quantity"],
                    "qty_damaged": 0,
                    "stock_status": "unrestricted",
                });
                if let Some(lot) = l.get("lot") {
                    line["lot"] = lot.clone();
                }
                line
            })
            .collect();
        serde_json::json!({
            "receipt_id": format!("RCV-{tag}"),
            "event_id": format!("EVT-{tag}"),
            "seq": 1,
            "expectation_id": expectation["expectation_id"],
            "asn_id": expectation["asn_id"],
            "received_at": "2026-11-24T09:15:00Z",
            "lines": lines,
        })
    }

    async fn idempotency(
        &self,
        checks: &mut Checks,
        first: &First,
        counter: &AtomicU32,
        effects: &mut Vec<Effect>,
    ) {
        let op = first.op;
        let s = subject(op);
        // The same request again.
        let again = self
            .client
            .send(&post(
                op,
                first.body.clone(),
                Some(first.key.clone()),
                Auth::Configured,
            ))
            .await;
        let same = again.status == first.answer.status && again.body == first.answer.body;
        checks.replay.case(
            &s,
            same,
            if same {
                format!("{} with the same body", again.describe())
            } else {
                format!(
                    "first {}{}, replay {}{}",
                    first.answer.describe(),
                    excerpt(&first.answer.raw),
                    again.describe(),
                    excerpt(&again.raw)
                )
            },
        );

        // The same key with another body.
        let other_case = self.next_case(counter);
        if let Some(other) = self.docs.document(op.request, other_case) {
            let body = serde_json::to_vec(&other).expect("JSON serializes");
            let a = self
                .client
                .send(&post(op, body, Some(first.key.clone()), Auth::Configured))
                .await;
            let verdict = self.problem_with(&a, |s| s == 422, "422");
            checks
                .key_reuse
                .case(&s, verdict.is_ok(), verdict.unwrap_or_else(|e| e));
        }

        // Copies of one new request at once.
        let case = self.next_case(counter);
        // A core needs the prior state of the document built first.
        let doc = if self.role == Role::Core {
            let doc = self.core_document(op.path, case).await;
            if let Some(d) = &doc {
                effects.extend(effects::effects_of(op.path, d));
            }
            doc
        } else {
            let doc = self.prepared(op, case).await;
            if let Some(d) = &doc {
                effects.extend(effects::partner_effects_of(op.request, d));
            }
            doc
        };
        let body = doc.map(|d| serde_json::to_vec(&d).expect("JSON serializes"));
        if let Some(body) = body {
            let key = self.docs.key("concurrent", case);
            let sends = (0..CONCURRENT_COPIES).map(|_| {
                let (client, body, key) = (self.client.clone(), body.clone(), key.clone());
                async move { client.send(&post(op, body, Some(key), Auth::Configured)).await }
            });
            let answers = futures_util::future::join_all(sends).await;
            checks.concurrent.case(&s, concurrent_verdict(&answers).is_ok(), {
                match concurrent_verdict(&answers) {
                    Ok(d) | Err(d) => d,
                }
            });
        }

        // No key at all.
        if op.idempotency_key {
            let case = self.next_case(counter);
            if let Some(doc) = self.docs.document(op.request, case) {
                let body = serde_json::to_vec(&doc).expect("JSON serializes");
                let a = self.client.send(&post(op, body, None, Auth::Configured)).await;
                let verdict = self.problem_with(&a, |s| s == 400, "400");
                checks
                    .missing_key
                    .case(&s, verdict.is_ok(), verdict.unwrap_or_else(|e| e));
            }
        }
    }

    async fn errors(&self, checks: &mut Checks, op: &'static Operation, counter: &AtomicU32) {
        let s = subject(op);
        let case = self.next_case(counter);
        if op.method == "GET" {
            return self.read_errors(checks, op, case).await;
        }
        let Some(valid) = self.docs.document(op.request, case) else {
            return;
        };
        for (i, (name, bytes)) in invalid_variants(&self.validator, op.request, &valid)
            .into_iter()
            .enumerate()
        {
            let key = self.docs.key(&format!("invalid{i}"), case);
            let a = self
                .client
                .send(&post(op, bytes, Some(key), Auth::Configured))
                .await;
            self.expect_refusal(&a, format!("{s} ({name})"), checks);
        }

        let path = format!("{}/{}", op.path, self.docs.unknown_id(case));
        self.expect_unknown(&path, checks).await;

        if self.client.has_token() {
            for (auth, what) in [(Auth::Missing, "no token"), (Auth::Wrong, "a wrong token")] {
                let key = self.docs.key(&format!("auth-{auth:?}"), case);
                let body = serde_json::to_vec(&valid).expect("JSON serializes");
                let a = self.client.send(&post(op, body, Some(key), auth)).await;
                let verdict = self.problem_with(&a, |s| s == 401, "401");
                checks.missing_auth.case(
                    format!("{s} ({what})"),
                    verdict.is_ok(),
                    verdict.unwrap_or_else(|e| e),
                );
            }
        }
    }

    /// The open-model phase: requests due at fixed intervals, latency from
    /// the due time (no coordinated omission).
    async fn latency(
        &self,
        checks: &mut Checks,
        ops: &[&'static Operation],
        counter: &AtomicU32,
    ) -> Option<LatencySummary> {
        if ops.is_empty() {
            checks
                .latency
                .skip("no operation accepted a valid request, so there is nothing to time");
            return None;
        }
        if self.latency_requests == 0 {
            checks.latency.skip_for(
                "the latency phase was turned off (0 requests)",
                "--latency-requests 300",
            );
            return None;
        }
        let interval = Duration::from_secs_f64(1.0 / self.rate_per_s);
        let mut planned = Vec::new();
        for i in 0..self.latency_requests {
            let op = ops[i as usize % ops.len()];
            let case = self.next_case(counter);
            if let Some(doc) = self.docs.document(op.request, case) {
                let body = serde_json::to_vec(&doc).expect("JSON serializes");
                planned.push((op, body, self.docs.key("latency", case)));
            }
        }
        let start = tokio::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (op, body, key)) in planned.into_iter().enumerate() {
            let due = start + interval.mul_f64(i as f64);
            let client = self.client.clone();
            tasks.spawn(async move {
                tokio::time::sleep_until(due).await;
                let a = client.send(&post(op, body, Some(key), Auth::Configured)).await;
                // A wait the target asked for (429 + Retry-After) is not slowness.
                (op, due.elapsed().saturating_sub(a.waited), a)
            });
        }
        let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)
            .expect("static histogram bounds are valid");
        let mut errors = Vec::new();
        let mut n = 0u64;
        let (mut waits, mut waited) = (0u64, Duration::ZERO);
        let mut sorted_us = Vec::new();
        for (op, elapsed, a) in tasks.join_all().await {
            n += 1;
            if !a.waited.is_zero() {
                waits += 1;
                waited += a.waited;
            }
            let us = (elapsed.as_micros() as u64).clamp(1, 3_600_000_000);
            sorted_us.push(us);
            let _ = hist.record(us);
            if !a.status.is_some_and(|s| op.success.contains(&s)) {
                errors.push(format!("{}: {}", subject(op), a.describe()));
            }
        }
        let ms = |us: u64| us as f64 / 1000.0;
        sorted_us.sort_unstable();
        let upper = p99_upper_bound(&sorted_us);
        let summary = LatencySummary {
            requests: n,
            rate_per_s: self.rate_per_s,
            p50_ms: ms(hist.value_at_quantile(0.5)),
            p99_ms: ms(hist.value_at_quantile(0.99)),
            max_ms: ms(hist.max()),
            bound_ms: self.p99_bound.as_secs_f64() * 1000.0,
            p99_upper_95_ms: upper.map(ms),
            confidence: p99_confidence(n),
            min_requests_for_95: MIN_REQUESTS_P99_95,
            retry_after_waits: waits,
            retry_after_wait_ms: waited.as_secs_f64() * 1000.0,
        };
        // Judged on the 95 % upper confidence bound of p99 when the sample
        // has one; else on the maximum, the most a small sample can say.
        let judged_ms = summary.p99_upper_95_ms.unwrap_or(summary.max_ms);
        let within = judged_ms <= summary.bound_ms;
        let subject = format!(
            "{n} requests at {} /s over {}",
            self.rate_per_s,
            ops.iter()
                .map(|o| subject(o))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ")
        );
        checks.latency.case(&subject, within, latency_detail(&summary));
        checks.latency.case(
            subject,
            errors.is_empty(),
            if errors.is_empty() {
                format!("all {n} answered with a documented success status")
            } else {
                format!(
                    "{} of {n} not answered with success; first: {}",
                    errors.len(),
                    errors[0]
                )
            },
        );
        Some(summary)
    }
}

/// What the latency phase measured, for its case: the percentiles, the
/// confidence the sample gives, the waits a 429 asked for.
fn latency_detail(l: &LatencySummary) -> String {
    let n = l.requests;
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {}; bound p99 <= {:.0} ms{}",
        l.p50_ms,
        l.p99_ms,
        l.max_ms,
        match l.p99_upper_95_ms {
            Some(u) => format!("p99 <= {u:.1} ms with 95 % confidence ({n} samples)"),
            None => format!(
                "{n} samples bound p99 by the maximum with only {:.0} % confidence \
                 ({MIN_REQUESTS_P99_95} needed for 95 %: --latency-requests)",
                l.confidence * 100.0
            ),
        },
        l.bound_ms,
        if l.retry_after_waits > 0 {
            format!(
                "; {} request(s) waited {:.0} ms in all as Retry-After asked, not counted",
                l.retry_after_waits, l.retry_after_wait_ms
            )
        } else {
            String::new()
        }
    )
}

/// The fewest samples whose maximum bounds p99 with 95 % confidence
/// (0.99^n <= 0.05).
pub const MIN_REQUESTS_P99_95: u32 = 299;

/// The confidence that the largest of `n` samples is at least the true
/// p99: 1 - 0.99^n.
fn p99_confidence(n: u64) -> f64 {
    1.0 - 0.99f64.powf(n as f64)
}

/// The distribution-free 95 % upper confidence bound of p99 from `sorted`
/// samples: the smallest order statistic X(k) with P(Binomial(n, 0.99) <
/// k) >= 0.95; `None` when the sample is too small to have one.
fn p99_upper_bound(sorted: &[u64]) -> Option<u64> {
    let n = sorted.len();
    // P(Binomial(n, q) <= j), summed from the top to stay accurate.
    let q: f64 = 0.99;
    let mut pmf = vec![0.0f64; n + 1];
    let ln = |x: f64| x.ln();
    let mut ln_choose = 0.0f64;
    for (j, p) in pmf.iter_mut().enumerate() {
        if j > 0 {
            ln_choose += ln((n + 1 - j) as f64) - ln(j as f64);
        }
        *p = (ln_choose + j as f64 * ln(q) + (n - j) as f64 * ln(1.0 - q)).exp();
    }
    let mut cdf = 0.0;
    for (k, p) in pmf.iter().enumerate().take(n) {
        cdf += p;
        // cdf = P(Bin <= k) = P(Bin < k + 1): X(k+1), index k.
        if cdf >= 0.95 {
            return Some(sorted[k]);
        }
    }
    None
}

/// 409 or one and the same success answer for every copy; one success at least.
fn concurrent_verdict(answers: &[Answer]) -> Result<String, String> {
    let successes: Vec<&Answer> = answers.iter().filter(|a| a.is_success()).collect();
    let conflicts = answers.iter().filter(|a| a.status == Some(409)).count();
    if let Some(other) = answers.iter().find(|a| !a.is_success() && a.status != Some(409)) {
        return Err(format!(
            "a copy got {} (expected 409 or the success answer){}",
            other.describe(),
            excerpt(&other.raw)
        ));
    }
    let Some(first) = successes.first() else {
        return Err(format!("all {} copies got 409; none succeeded", answers.len()));
    };
    if let Some(diff) = successes
        .iter()
        .find(|a| a.status != first.status || a.body != first.body)
    {
        return Err(format!(
            "copies got different answers: {}{} and {}{}",
            first.describe(),
            excerpt(&first.raw),
            diff.describe(),
            excerpt(&diff.raw)
        ));
    }
    Ok(format!(
        "{} copies: {} the same {}, {conflicts} got 409",
        answers.len(),
        successes.len(),
        first.describe()
    ))
}

/// ` (body: …)`, at most 160 characters of an answer, for details.
fn excerpt(raw: &[u8]) -> String {
    if raw.is_empty() {
        return String::new();
    }
    let text = String::from_utf8_lossy(raw);
    let cut: String = text.chars().take(160).collect();
    let ellipsis = if cut.len() < text.len() { "…" } else { "" };
    format!(" (body: {cut}{ellipsis})")
}

/// An IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110).
fn looks_like_http_date(v: &str) -> bool {
    v.len() == 29 && v.ends_with(" GMT") && v.as_bytes()[3] == b','
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: Some(status),
            body: serde_json::from_str(body).ok(),
            raw: body.as_bytes().to_vec(),
            ..Answer::default()
        }
    }

    #[test]
    fn concurrent_copies_must_agree_or_conflict() {
        let ok = answer(201, r#"{"reference":"A"}"#);
        assert!(concurrent_verdict(&[ok.clone(), answer(409, "{}"), ok.clone()]).is_ok());
        assert!(concurrent_verdict(&[ok.clone(), answer(201, r#"{"reference":"B"}"#)]).is_err());
        assert!(concurrent_verdict(&[answer(409, "{}"), answer(409, "{}")]).is_err());
        assert!(concurrent_verdict(&[ok, answer(500, "{}")]).is_err());
    }

    #[test]
    fn a_p99_bound_needs_enough_samples() {
        let small: Vec<u64> = (1..=40).collect();
        assert_eq!(p99_upper_bound(&small), None);
        assert!(p99_confidence(40) < 0.34);
        let n = MIN_REQUESTS_P99_95 as usize;
        let big: Vec<u64> = (1..=n as u64).collect();
        assert_eq!(p99_upper_bound(&big), Some(n as u64));
        assert!(p99_confidence(n as u64) >= 0.95 && p99_confidence(n as u64 - 1) < 0.95);
        // A larger sample bounds p99 below its maximum.
        let large: Vec<u64> = (1..=2000).collect();
        let u = p99_upper_bound(&large).unwrap();
        assert!((1980..2000).contains(&u), "{u}");
    }

    #[test]
    fn http_dates_and_seconds_are_told_apart() {
        assert!(looks_like_http_date("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert!(!looks_like_http_date("soon"));
    }

    #[test]
    fn a_check_fails_on_any_failed_case_and_skips_without_cases() {
        let mut c = Check::new("x", "y");
        c.skip("why");
        assert_eq!(c.finish().status, Status::Skipped);
        let mut c = Check::new("x", "y");
        c.case("a", true, "fine");
        c.case("b", false, "broken");
        let r = c.finish();
        assert_eq!(r.status, Status::Fail);
        assert!(r.detail.contains("b: broken"), "{}", r.detail);
    }
}
