//! The mutation suite: a real run's history (one PO and one sales order of
//! a `peak-season-load` run against the reference core, `golden/`, which
//! passes every check), mutated one integration bug at a time the way a
//! faulty core would have recorded it. Each mutant must fail the check
//! named for it, on the right business key; each equivalent mutant (late
//! duplicates under the same key, commit-then-fail, resets before the
//! effect, copies the core answered correctly) must pass every check.
//!
//! These are mutations of the recorded history, not of a running core: they
//! test the checker's judgement, which is what a green run is worth.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

type History = Vec<(&'static str, Vec<Value>)>;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/golden")
}

fn golden() -> History {
    ["erp", "supplier", "wms"]
        .into_iter()
        .map(|party| {
            let text = std::fs::read_to_string(golden_dir().join(format!("{party}.jsonl"))).unwrap();
            let lines = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            (party, lines)
        })
        .collect()
}

/// The exchange `party#seq`.
fn at<'a>(h: &'a mut History, party: &str, seq: u64) -> &'a mut Value {
    h.iter_mut()
        .find(|(p, _)| *p == party)
        .unwrap()
        .1
        .iter_mut()
        .find(|e| e["seq"] == seq)
        .unwrap_or_else(|| panic!("no {party}#{seq} in the golden history"))
}

fn drop(h: &mut History, party: &str, seqs: &[u64]) {
    for (p, lines) in h.iter_mut() {
        if *p == party {
            lines.retain(|e| !seqs.iter().any(|s| e["seq"] == *s));
        }
    }
}

/// A copy of `party#seq` as a new exchange `new_seq`, changed by `edit`,
/// starting `shift_us` after (negative: before) the original.
fn copy(h: &mut History, party: &str, seq: u64, new_seq: u64, shift_us: i64, edit: impl Fn(&mut Value)) {
    let mut e = at(h, party, seq).clone();
    e["seq"] = json!(new_seq);
    for t in ["started_at_us", "finished_at_us"] {
        e[t] = json!(e[t].as_i64().unwrap() + shift_us);
    }
    edit(&mut e);
    h.iter_mut().find(|(p, _)| *p == party).unwrap().1.push(e);
}

fn problem(status: u16) -> Value {
    json!({"type": "https://crossdock.dev/problems/x", "title": "refused", "status": status})
}

fn judge(h: &History) -> checker::Verdict {
    let dir = tempfile::tempdir().unwrap();
    for (party, lines) in h {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.path().join(format!("{party}.jsonl")), text).unwrap();
    }
    let expect = checker::expectations_in(&golden_dir()).unwrap();
    let histories = checker::histories_in(dir.path()).unwrap();
    checker::judge(&histories, &expect).unwrap()
}

fn failures(v: &checker::Verdict) -> Vec<String> {
    v.checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            format!(
                "{}: {:?}",
                c.name,
                c.violations.first().map(|x| (&x.key, &x.message))
            )
        })
        .collect()
}

/// (class, the check it must fail, a piece of the violation's key, the mutation).
type Mutant = (&'static str, &'static str, &'static str, fn(&mut History));

const SSCC_OTHER: &str = "006141410000000012";

fn mutants() -> Vec<Mutant> {
    vec![
        (
            "expectation advises one unit more",
            "expectation-matches-asn",
            "asn_id=ASN-PO-0000009-v1",
            |h| {
                let q = &mut at(h, "wms", 24)["request"]["lines"][0]["quantity"];
                *q = json!(q.as_u64().unwrap() + 1);
            },
        ),
        (
            "expectation advises twice the ASN",
            "expectation-matches-asn",
            "asn_id=ASN-PO-0000009-v1",
            |h| {
                for l in at(h, "wms", 24)["request"]["lines"].as_array_mut().unwrap() {
                    l["quantity"] = json!(l["quantity"].as_u64().unwrap() * 2);
                }
            },
        ),
        (
            "expectation carries another SSCC",
            "expectation-matches-asn",
            "asn_id=ASN-PO-0000009-v1",
            |h| {
                at(h, "wms", 24)["request"]["lines"][0]["sscc"] = json!(SSCC_OTHER);
            },
        ),
        (
            "expectation never sent",
            "one-expectation-per-asn",
            "ASN-PO-0000009-v1",
            |h| drop(h, "wms", &[24]),
        ),
        (
            "expectation sent twice",
            "one-expectation-per-asn",
            "ASN-PO-0000009-v1",
            |h| {
                copy(h, "wms", 24, 9024, 5, |e| {
                    e["idempotency_key"] = json!("expectation:again")
                })
            },
        ),
        (
            "goods-receipt posting lost",
            "one-posting-per-receipt-line",
            "RCV-00000008",
            |h| drop(h, "erp", &[55]),
        ),
        (
            "goods-receipt posting doubled",
            "one-posting-per-receipt-line",
            "RCV-00000008",
            |h| {
                copy(h, "erp", 52, 9052, 5, |e| {
                    e["idempotency_key"] = json!("grp:again")
                })
            },
        ),
        (
            "goods-receipt posting quantity changed",
            "conservation",
            "PO-0000009",
            |h| {
                let q = &mut at(h, "erp", 52)["request"]["quantity"];
                *q = json!(q.as_u64().unwrap() + 1);
            },
        ),
        (
            "discrepancy never raised",
            "one-discrepancy-per-variance",
            "RCV-00000008",
            |h| drop(h, "erp", &[53]),
        ),
        (
            "discrepancy raised twice",
            "one-discrepancy-per-variance",
            "RCV-00000008",
            |h| {
                copy(h, "erp", 53, 9053, 5, |e| {
                    e["idempotency_key"] = json!("dsc:again")
                })
            },
        ),
        (
            "acknowledgement never forwarded",
            "acknowledgements-reach-erp",
            "ack_id=ACK-PO-0000009-v1",
            |h| drop(h, "erp", &[42]),
        ),
        (
            "acknowledgement altered",
            "acknowledgements-reach-erp",
            "ack_id=ACK-PO-0000009-v1",
            |h| {
                let q = &mut at(h, "erp", 42)["request"]["lines"][0]["confirmed_qty"];
                *q = json!(q.as_u64().unwrap() + 1);
            },
        ),
        (
            "acknowledgement forwarded twice",
            "acknowledgements-reach-erp",
            "ack_id=ACK-PO-0000009-v1",
            |h| {
                copy(h, "erp", 42, 9042, 5, |e| {
                    e["idempotency_key"] = json!("commitment:again")
                })
            },
        ),
        (
            "shipment posting quantity other than shipped",
            "shipment-posting-equals-shipped",
            "order_number=SO-0000240",
            |h| {
                let q = &mut at(h, "erp", 2558)["request"]["quantity"];
                *q = json!(q.as_u64().unwrap().saturating_sub(1));
            },
        ),
        (
            "shipment posting lost",
            "one-shipment-posting-per-line",
            "shipment_id=SHP-00000227",
            |h| drop(h, "erp", &[2570]),
        ),
        (
            "shipment posting doubled",
            "one-shipment-posting-per-line",
            "shipment_id=SHP-00000227",
            |h| {
                copy(h, "erp", 2570, 9570, 5, |e| {
                    e["idempotency_key"] = json!("shp:again")
                })
            },
        ),
        (
            "release never reached the WMS, answered accepted",
            "release-decision-matches-wms",
            "order_number=SO-0000240",
            |h| drop(h, "wms", &[1231, 1247, 1265]),
        ),
        (
            "exact ASN copy answered 500",
            "copies-answered",
            "supplier POST /v1/asns",
            |h| {
                copy(h, "supplier", 26, 9026, 10_000, |e| {
                    e["status"] = json!(500);
                    e["response"] = problem(500);
                })
            },
        ),
        (
            "exact ASN copy answered 409 after the first was answered",
            "copies-answered",
            "supplier POST /v1/asns",
            |h| {
                copy(h, "supplier", 26, 9026, 10_000, |e| {
                    e["status"] = json!(409);
                    e["response"] = problem(409);
                })
            },
        ),
        (
            "exact ASN copy not given the stored answer",
            "copies-answered",
            "supplier POST /v1/asns",
            |h| {
                copy(h, "supplier", 26, 9026, 10_000, |e| {
                    e["response"]["message_id"] = json!("another")
                })
            },
        ),
        (
            "posting without an Idempotency-Key",
            "idempotency-keys",
            "erp#52",
            |h| {
                at(h, "erp", 52)
                    .as_object_mut()
                    .unwrap()
                    .remove("idempotency_key");
            },
        ),
        (
            "Idempotency-Key reused with another body",
            "idempotency-keys",
            "grp:RCV-00000008:2",
            |h| {
                at(h, "erp", 55)["idempotency_key"] = json!("grp:RCV-00000008:2");
            },
        ),
        (
            "posting on another trace",
            "trace-continuity",
            "RCV-00000008",
            |h| {
                at(h, "erp", 52)["trace_id"] = json!("0123456789abcdef0123456789abcdef");
            },
        ),
        (
            "retry after a 422",
            "no-retry-after-refusal",
            "grp:RCV-00000008:2",
            |h| {
                copy(h, "erp", 52, 9052, -1_000, |e| {
                    e["status"] = json!(422);
                    e["response"] = problem(422);
                })
            },
        ),
        (
            "request body breaks its contract",
            "contracts-valid",
            "supplier#26",
            |h| {
                at(h, "supplier", 26)["request"]
                    .as_object_mut()
                    .unwrap()
                    .remove("carrier_scac");
            },
        ),
        (
            "error answer not problem+json",
            "contracts-valid",
            "supplier#26",
            |h| {
                let e = at(h, "supplier", 26);
                e["status"] = json!(500);
                e["response"] = json!({"error": "boom"});
            },
        ),
        (
            "order-release flow switched off (501)",
            "required-checks-judged",
            "check=release-decision-matches-wms",
            |h| {
                let e = at(h, "erp", 2538);
                e["status"] = json!(501);
                e["response"] = problem(501);
                drop(h, "wms", &[1231, 1247, 1265]);
                drop(h, "erp", &[2558, 2570, 2571]);
            },
        ),
        (
            "ASN intake switched off (501)",
            "required-checks-judged",
            "check=one-expectation-per-asn",
            |h| {
                let e = at(h, "supplier", 26);
                e["status"] = json!(501);
                e["response"] = problem(501);
                drop(h, "wms", &[24, 27]);
                drop(h, "erp", &[52, 53, 55]);
            },
        ),
    ]
}

/// (class, the mutation): each must pass every check.
type Equivalent = (&'static str, fn(&mut History));

/// The equivalent mutants.
fn equivalents() -> Vec<Equivalent> {
    vec![
        (
            "late duplicate of the expectation under the same key, replayed",
            |h| copy(h, "wms", 24, 9024, 1_000, |e| e["replayed"] = json!(true)),
        ),
        ("commit-then-fail, then the retry replayed", |h| {
            copy(h, "erp", 52, 9052, -1_000, |e| {
                e["status"] = json!(504);
                e["handler_status"] = json!(201);
                e["fault"] = json!("commit_then_fail");
                e["response"] = problem(504);
            });
            at(h, "erp", 52)["replayed"] = json!(true);
        }),
        ("connection reset before the effect, then the retry", |h| {
            copy(h, "erp", 52, 9052, -1_000, |e| {
                let o = e.as_object_mut().unwrap();
                o.remove("status");
                o.remove("response");
                o.insert("error".into(), json!("connection reset"));
            })
        }),
        ("late exact ASN copy answered with the stored answer", |h| {
            copy(h, "supplier", 26, 9026, 10_000, |e| {
                e["response"]["outcome"] = json!("duplicate")
            })
        }),
        ("a 429 from the ERP, then the retry", |h| {
            copy(h, "erp", 52, 9052, -1_000, |e| {
                e["status"] = json!(429);
                e["response"] = problem(429);
            })
        }),
    ]
}

#[test]
fn the_golden_history_passes_every_check() {
    let v = judge(&golden());
    assert!(v.passed(), "{:#?}", failures(&v));
    assert!(Path::new(&golden_dir().join("expectations.json")).exists());
}

#[test]
fn every_mutant_fails_its_check_on_its_key_and_every_equivalent_passes() {
    let mut killed = 0;
    let all = mutants();
    let mut missed = Vec::new();
    for (class, check, key, mutate) in &all {
        let mut h = golden();
        mutate(&mut h);
        let v = judge(&h);
        let c = v.checks.iter().find(|c| c.name == *check).unwrap();
        if !c.passed && c.violations.iter().any(|x| x.key.contains(key)) {
            killed += 1;
        } else {
            missed.push(format!(
                "{class}: {check} {:?}; failed: {:?}",
                c.violations,
                failures(&v)
            ));
        }
    }
    assert!(all.len() >= 25, "at least 25 classes, {}", all.len());
    assert!(
        missed.is_empty(),
        "score {killed}/{}; survivors:\n{}",
        all.len(),
        missed.join("\n")
    );
    for (class, mutate) in equivalents() {
        let mut h = golden();
        mutate(&mut h);
        let v = judge(&h);
        assert!(v.passed(), "{class} must pass: {:#?}", failures(&v));
    }
}
