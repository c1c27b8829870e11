//! X12 856 against the JSON path, for the same 200-line ASN (10 pallets of
//! 20 cartons; `common::asn_200_lines`), on one core:
//!
//! - X12: `x12::parse` (lex, envelopes) + `x12::check_group` (GS/GE and
//!   ST/SE validation, the 856 mapped to `AdvanceShipNotice` with every
//!   element checked: GTIN/SSCC/GLN check digits, dates, codes, counts);
//! - JSON: `serde_json` parse to a `Value` + `Validator::validate` (schema
//!   and domain rules) + typed deserialization.
//!
//! `cargo bench -p contracts --bench x12` first prints both rates measured
//! in the same run in thread CPU time (alternating rounds, best of each),
//! their ratio and the CPU model, then runs the criterion groups (wall
//! time) for the record.

use std::hint::black_box;
use std::time::Duration;

use contracts::Validator;
use contracts::inbound::AdvanceShipNotice;
use contracts::x12::{self, Delimiters, Document};
use cpu_time::ThreadTime;
use criterion::{Criterion, Throughput, criterion_group};

mod common;

use common::asn_200_lines;

/// The ASN as an X12 interchange (one group, one 856).
fn interchange_bytes(asn: &AdvanceShipNotice) -> Vec<u8> {
    let set = x12::from_canonical(&Document::AdvanceShipNotice(asn.clone()), "0001").unwrap();
    let ic = x12::envelope(
        ("ZZ", "SUPPLIER"),
        ("ZZ", "BUYER"),
        1,
        "20261122",
        "1200",
        false,
        vec![set],
    );
    x12::write(&ic, &Delimiters::default()).unwrap()
}

fn x12_path(bytes: &[u8]) -> AdvanceShipNotice {
    let ic = x12::parse(bytes).unwrap();
    let report = x12::check_group(&ic.groups[0]);
    assert!(report.verdict.is_accepted());
    match report.documents.into_iter().next().flatten() {
        Some(Document::AdvanceShipNotice(asn)) => asn,
        other => panic!("{other:?}"),
    }
}

fn json_path(validator: &Validator, text: &str) -> AdvanceShipNotice {
    let doc: serde_json::Value = serde_json::from_str(text).unwrap();
    assert!(validator.validate("AdvanceShipNotice", &doc).unwrap().is_empty());
    serde_json::from_value(doc).unwrap()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// CPU time per call of `f`, best of `rounds` rounds of `n` calls.
fn cpu_per_call(n: usize, mut f: impl FnMut()) -> Duration {
    let start = ThreadTime::now();
    for _ in 0..n {
        f();
    }
    start.elapsed() / n as u32
}

/// Both paths alternately, in thread CPU time; prints rates and the ratio.
fn report(asn: &AdvanceShipNotice, bytes: &[u8], text: &str, validator: &Validator) {
    let (mut x12_best, mut json_best) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        x12_best = x12_best.min(cpu_per_call(400, || {
            black_box(x12_path(black_box(bytes)));
        }));
        json_best = json_best.min(cpu_per_call(400, || {
            black_box(json_path(validator, black_box(text)));
        }));
    }
    let per_s = |d: Duration| 1.0 / d.as_secs_f64();
    let segments = bytes.iter().filter(|&&b| b == b'~').count();
    println!(
        "x12 bench: 200-line ASN ({} handling units), CPU {}",
        asn.handling_units.len(),
        cpu_model()
    );
    println!(
        "  X12  parse + validate + map: {:>8.1} µs CPU = {:>9.0}/s on one core ({} segments, {} bytes)",
        x12_best.as_secs_f64() * 1e6,
        per_s(x12_best),
        segments,
        bytes.len()
    );
    println!(
        "  JSON parse + validate + deserialize: {:>8.1} µs CPU = {:>9.0}/s on one core ({} bytes)",
        json_best.as_secs_f64() * 1e6,
        per_s(json_best),
        text.len()
    );
    println!(
        "  ratio X12 / JSON (rate): {:.2} (target ≥ 0.8; X12 target ≥ 20,000/s)",
        per_s(x12_best) / per_s(json_best)
    );
}

fn bench(c: &mut Criterion) {
    let validator = Validator::new();
    let asn = asn_200_lines();
    let bytes = interchange_bytes(&asn);
    let text = serde_json::to_string(&asn).unwrap();
    assert_eq!(x12_path(&bytes), asn, "the X12 path reads back the ASN");
    assert_eq!(json_path(&validator, &text), asn);
    report(&asn, &bytes, &text, &validator);
    let mut g = c.benchmark_group("asn-200-lines-x12");
    g.throughput(Throughput::Elements(1));
    g.bench_function("x12 parse + validate + map", |b| {
        b.iter(|| x12_path(black_box(&bytes)))
    });
    g.bench_function("x12 parse only", |b| {
        b.iter(|| x12::parse(black_box(&bytes)).unwrap())
    });
    g.bench_function("json parse + validate + deserialize", |b| {
        b.iter(|| json_path(&validator, black_box(&text)))
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
