//! Partners built here from docs/CERTIFY.md and the contract (not from the
//! simulators): a supplier and a WMS that call back. The correct ones are
//! certified; each blind spot of issue 21 has a broken one that is refused
//! by the check that names what to fix.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use contracts::routes::{self, core, supplier, wms};
use contracts::{Problem, Role, Validator};
use harness::certify::{CallbackListen, Certificate, CertifyOptions, Status, certify};

/// How a hand-built partner is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bug {
    None,
    /// A replay gets the stored answer, but the partner calls back again
    /// with a new Idempotency-Key and new ids.
    ReplayCallsBackAgain,
    /// The ASN ships another GTIN than the PO line ordered.
    AsnOtherGtin,
    /// Callbacks count ten times what was ordered or advised.
    TenTimesQuantity,
    /// The connection is dropped on any byte beyond ASCII.
    ResetsOnMultibyte,
    /// A receipt is sent for a cancelled expectation too.
    ReceiptAfterCancel,
    /// The inventory snapshot (a GET) is not served.
    NoSnapshot,
    /// Only open PO lines are taken (other documented statuses refused).
    OpenLinesOnly,
    /// A line quantity below 2 is refused, though the contract's minimum is 1.
    NoSingleUnits,
}

struct Partner {
    role: Role,
    bug: Bug,
    callback: String,
    http: reqwest::Client,
    validator: Validator,
    n: AtomicU64,
    stored: Mutex<HashMap<String, (Bytes, u16, Value)>>,
    /// Expectations by id: the latest document, cancelled or not.
    expectations: Mutex<HashMap<String, (Value, bool)>>,
}

fn problem(status: u16, slug: &str, detail: &str) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(Problem::new(status, slug, slug).with_detail(detail.to_owned())),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

fn example(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../contracts/examples/{name}/valid-typical.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

impl Partner {
    fn next(&self) -> u64 {
        self.n.fetch_add(1, Ordering::SeqCst)
    }

    /// Posts `doc` to the harness at `path` with a fresh Idempotency-Key.
    fn call_back(self: &Arc<Self>, path: &'static str, doc: Value, delay: Duration) {
        let p = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if path == core::GOODS_RECEIPTS {
                let id = doc["expectation_id"].as_str().unwrap_or_default().to_owned();
                let cancelled = p.expectations.lock().unwrap().get(&id).is_some_and(|e| e.1);
                if cancelled && p.bug != Bug::ReceiptAfterCancel {
                    return;
                }
            }
            let key = format!("partner-cb-{}", p.next());
            let _ = p
                .http
                .post(format!("{}{path}", p.callback))
                .header("idempotency-key", key)
                .json(&doc)
                .send()
                .await;
        });
    }

    fn times(&self) -> u64 {
        if self.bug == Bug::TenTimesQuantity { 10 } else { 1 }
    }

    /// The acknowledgement and the ASN of `po`.
    fn supplier_callbacks(self: &Arc<Self>, po: &Value) {
        let n = self.next();
        let lines = po["lines"].as_array().unwrap();
        let ack = json!({
            "ack_id": format!("ACK-{n}"),
            "po_number": po["po_number"],
            "po_version": po["version"],
            "supplier_gln": po["supplier_gln"],
            "lines": lines.iter().map(|l| json!({
                "line_no": l["line_no"], "status": "accepted",
                "confirmed_qty": l["quantity"], "promised_date": l["requested_date"],
            })).collect::<Vec<_>>(),
        });
        let mut asn = example("AdvanceShipNotice");
        asn["asn_id"] = json!(format!("ASN-{n}"));
        asn["supplier_gln"] = po["supplier_gln"].clone();
        let sscc = asn["lines"][0]["sscc"].clone();
        asn["lines"] = lines
            .iter()
            .map(|l| {
                let gtin = if self.bug == Bug::AsnOtherGtin {
                    json!(contracts::ids::with_check_digit("400638133394"))
                } else {
                    l["gtin"].clone()
                };
                json!({
                    "po_number": po["po_number"], "po_line_no": l["line_no"], "gtin": gtin,
                    "quantity": l["quantity"].as_u64().unwrap() * self.times(), "uom": l["uom"], "sscc": sscc,
                })
            })
            .collect();
        self.call_back(core::PO_ACKNOWLEDGEMENTS, ack, Duration::from_millis(10));
        self.call_back(core::ASNS, asn, Duration::from_millis(20));
    }

    /// The goods receipt of `exp`, 50 ms later unless it was cancelled.
    fn receipt(self: &Arc<Self>, exp: &Value) {
        let n = self.next();
        let lines: Vec<Value> = exp["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                json!({
                    "line_no": l["line_no"], "po_number": l["po_number"], "po_line_no": l["po_line_no"],
                    "sku": l["sku"], "qty_received": l["quantity"].as_u64().unwrap() * self.times(),
                    "qty_damaged": 0, "stock_status": "unrestricted",
                })
            })
            .collect();
        let receipt = json!({
            "receipt_id": format!("RCV-{n}"), "event_id": format!("EVT-{n}"), "seq": 1,
            "expectation_id": exp["expectation_id"], "asn_id": exp["asn_id"],
            "received_at": "2026-11-24T09:15:00Z", "lines": lines,
        });
        self.call_back(core::GOODS_RECEIPTS, receipt, Duration::from_millis(50));
    }

    /// What `doc` does at `path`; the status and answer, or a refusal
    /// (status, slug, detail).
    fn apply(self: &Arc<Self>, path: &str, doc: &Value) -> Result<(u16, Value), (u16, &'static str, String)> {
        let n = self.next();
        let id = doc["expectation_id"].as_str().unwrap_or_default().to_owned();
        let mut exps = self.expectations.lock().unwrap();
        match path {
            supplier::PURCHASE_ORDERS => {
                self.supplier_callbacks(doc);
                Ok((202, json!({ "reference": format!("SUP-{n}") })))
            }
            wms::INBOUND_EXPECTATIONS => {
                exps.insert(id, (doc.clone(), false));
                self.receipt(doc);
                Ok((201, json!({ "reference": format!("WMS-{n}") })))
            }
            wms::INBOUND_EXPECTATION_UPDATES | wms::INBOUND_EXPECTATION_CANCELLATIONS => {
                // As the contract documents: 404 for an expectation it never got.
                let Some(known) = exps.get_mut(&id) else {
                    return Err((404, "unknown-expectation", format!("no expectation {id}")));
                };
                if known.1 {
                    return Err((409, "cancelled", format!("expectation {id} is cancelled")));
                }
                if path == wms::INBOUND_EXPECTATION_CANCELLATIONS {
                    known.1 = true;
                } else {
                    known.0 = doc.clone();
                }
                Ok((201, json!({ "reference": format!("WMS-{n}") })))
            }
            wms::ORDER_RELEASES => Ok((200, harness::certify::callback::accept_release(doc))),
            _ => Err((404, "not-found", path.to_owned())),
        }
    }
}

async fn handler(
    State(p): State<Arc<Partner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(op) = routes::operation(p.role, method.as_str(), uri.path()) else {
        return problem(404, "not-found", uri.path());
    };
    if method == Method::GET {
        if p.bug == Bug::NoSnapshot {
            return problem(404, "not-found", uri.path());
        }
        let source = p.role.as_str();
        return axum::Json(json!({
            "snapshot_id": "SNAP-1", "source": source, "warehouse_gln": "5060000000023",
            "taken_at": "2026-11-22T23:59:59Z", "positions": [],
        }))
        .into_response();
    }
    // Dropped without an answer, as a byte-oriented parser might.
    assert!(
        p.bug != Bug::ResetsOnMultibyte || body.is_ascii(),
        "this partner cannot decode multi-byte input"
    );
    let Some(doc) = serde_json::from_slice::<Value>(&body)
        .ok()
        .filter(|d| p.validator.validate(op.request, d).is_ok_and(|f| f.is_empty()))
    else {
        return problem(422, "invalid-document", "the document breaks the contract");
    };
    let lines = doc["lines"].as_array().map(Vec::as_slice).unwrap_or_default();
    if p.bug == Bug::OpenLinesOnly && lines.iter().any(|l| l.get("status").is_some_and(|s| s != "open")) {
        return problem(422, "line-status", "only open lines are taken");
    }
    if p.bug == Bug::NoSingleUnits
        && lines
            .iter()
            .any(|l| l["quantity"].as_u64().is_some_and(|q| q < 2))
    {
        return problem(422, "quantity", "at least 2 units a line");
    }
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) else {
        return problem(400, "idempotency-key-missing", "send an Idempotency-Key");
    };
    // One decision per key at a time: concurrent copies see the first.
    let mut stored = p.stored.lock().unwrap();
    if let Some((first, status, answer)) = stored.get(key).cloned() {
        if first != body {
            return problem(422, "idempotency-key-reused", "another body with this key");
        }
        if p.bug == Bug::ReplayCallsBackAgain {
            let _ = p.apply(uri.path(), &doc);
        }
        return (StatusCode::from_u16(status).unwrap(), axum::Json(answer)).into_response();
    }
    match p.apply(uri.path(), &doc) {
        Err((status, slug, detail)) => problem(status, slug, &detail),
        Ok((status, answer)) => {
            stored.insert(key.to_owned(), (body, status, answer.clone()));
            (StatusCode::from_u16(status).unwrap(), axum::Json(answer)).into_response()
        }
    }
}

/// Certifies a hand-built `role` partner with `bug`.
async fn certify_built(role: Role, bug: Bug) -> Certificate {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let callback = format!("http://{}", listener.local_addr().unwrap());
    let partner = Arc::new(Partner {
        role,
        bug,
        callback,
        http: reqwest::Client::new(),
        validator: Validator::new(),
        n: AtomicU64::new(1),
        stored: Mutex::default(),
        expectations: Mutex::default(),
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = simulators::serve_plain(l, Router::new().fallback(handler).with_state(partner)).unwrap();
    let mut o = CertifyOptions::new(role, server.url(), dir.path().join("out"));
    o.rate_per_s = 50.0;
    o.latency_requests = 10;
    o.callback_wait = Duration::from_secs(5);
    o.p99_bound = Duration::from_secs(2);
    o.callback = CallbackListen::Listener(listener);
    let c = certify(o).await.unwrap();
    server.stop().await.unwrap();
    c
}

fn failures(c: &Certificate) -> Vec<String> {
    c.checks
        .iter()
        .filter(|k| k.status == Status::Fail)
        .map(|k| format!("{}: {}", k.name, k.detail))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_built_from_the_docs_are_certified_over_every_operation() {
    let _turn = crate::scenario_turn().await;
    for role in [Role::Supplier, Role::Wms] {
        let c = certify_built(role, Bug::None).await;
        assert!(c.certified, "{role}: {:#?}", failures(&c));
        assert!(c.scope_complete);
        let all: Vec<String> = contracts::routes::OPERATIONS
            .iter()
            .filter(|o| o.role == role)
            .map(|o| format!("{} {}", o.method, o.path))
            .collect();
        assert_eq!(c.operations, all, "{role}");
        for name in [
            "idempotency.one-effect",
            "callbacks.consistent",
            "sequences.documented-transitions",
            "inputs.utf8-and-boundaries",
        ] {
            let check = c.check(name).unwrap();
            assert_eq!(check.status, Status::Pass, "{role} {name}: {check:?}");
        }
    }
    // The WMS answers 404 to an update of an expectation it never got, as
    // its contract documents; that is no failure.
    let c = certify_built(Role::Wms, Bug::None).await;
    let seq = c.check("sequences.documented-transitions").unwrap();
    let unknown = seq
        .cases
        .iter()
        .find(|k| k.subject.contains("update of an unknown expectation"))
        .unwrap();
    assert!(unknown.passed && unknown.detail.contains("404"), "{unknown:?}");
    let documented = c.check("conformance.status-documented").unwrap();
    assert!(
        documented
            .cases
            .iter()
            .any(|k| k.subject == "GET /v1/inventory-snapshot" && k.passed),
        "{documented:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_partners_are_refused_with_what_to_fix() {
    let _turn = crate::scenario_turn().await;
    let cases = [
        (
            Role::Supplier,
            Bug::ReplayCallsBackAgain,
            "idempotency.one-effect",
            "second effect",
        ),
        (
            Role::Wms,
            Bug::ReplayCallsBackAgain,
            "idempotency.one-effect",
            "second effect",
        ),
        (
            Role::Supplier,
            Bug::AsnOtherGtin,
            "callbacks.consistent",
            "ships GTIN",
        ),
        (
            Role::Supplier,
            Bug::TenTimesQuantity,
            "callbacks.consistent",
            "more than the",
        ),
        (
            Role::Wms,
            Bug::TenTimesQuantity,
            "callbacks.consistent",
            "were advised",
        ),
        (
            Role::Wms,
            Bug::ReceiptAfterCancel,
            "callbacks.consistent",
            "after you acknowledged its cancellation",
        ),
        (
            Role::Wms,
            Bug::NoSnapshot,
            "conformance.status-documented",
            "GET /v1/inventory-snapshot",
        ),
        (
            Role::Supplier,
            Bug::ResetsOnMultibyte,
            "inputs.utf8-and-boundaries",
            "multi-byte UTF-8",
        ),
        (
            Role::Supplier,
            Bug::OpenLinesOnly,
            "inputs.utf8-and-boundaries",
            "every value the contract documents",
        ),
        (
            Role::Wms,
            Bug::NoSingleUnits,
            "inputs.utf8-and-boundaries",
            "within the schema's minimum and maximum",
        ),
    ];
    for (role, bug, check, fix) in cases {
        let c = certify_built(role, bug).await;
        assert!(!c.certified, "{role} {bug:?} was certified");
        assert_eq!(c.failed(), [check], "{role} {bug:?}: {:#?}", failures(&c));
        let detail = &c.check(check).unwrap().detail;
        assert!(detail.contains(fix), "{role} {bug:?}: {detail}");
    }
}
