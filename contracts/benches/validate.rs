//! Full validation (JSON Schema + domain rules) of a 200-line ASN with a
//! realistic handling-unit tree: 10 pallets of 20 cartons, one line per
//! carton, lots and expiry dates. `cargo bench -p contracts`; results and
//! the target are in docs/PERFORMANCE.md.
//!
//! The parts are measured too, to show where the time goes: the schema
//! alone, the domain rules alone, and typed deserialization for comparison.
//!
//! The machine is shared, so wall time per validation says as much about the
//! neighbours as about the validator. The group `asn-200-lines-cpu` measures
//! the same work in CPU time of the benchmark thread
//! (`CLOCK_THREAD_CPUTIME_ID`): validations per second on one core, time
//! spent waiting for the core left out.
//!
//! `CONTRACTS_PROFILE=full:1000 target/release/deps/validate-…` skips
//! criterion and validates 1000 times, for callgrind (see [`profile`]).

use std::hint::black_box;

use contracts::Validator;
use contracts::inbound::AdvanceShipNotice;
use cpu_time::ThreadTime;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group};

mod common;

use common::asn_200_lines;

/// CPU time of the calling thread, in nanoseconds (criterion runs the
/// routine on the thread that measures).
struct ThreadCpu {
    /// Only for its duration formatter.
    wall: WallTime,
}

impl Measurement for ThreadCpu {
    type Intermediate = ThreadTime;
    type Value = std::time::Duration;

    fn start(&self) -> ThreadTime {
        ThreadTime::now()
    }
    fn end(&self, start: ThreadTime) -> Self::Value {
        start.elapsed()
    }
    fn add(&self, a: &Self::Value, b: &Self::Value) -> Self::Value {
        *a + *b
    }
    fn zero(&self) -> Self::Value {
        std::time::Duration::ZERO
    }
    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

fn bench(c: &mut Criterion) {
    let validator = Validator::new();
    let asn = asn_200_lines();
    assert_eq!(asn.lines.len(), 200);
    let doc = serde_json::to_value(&asn).unwrap();
    assert!(validator.validate("AdvanceShipNotice", &doc).unwrap().is_empty());
    let text = serde_json::to_string(&doc).unwrap();

    let mut g = c.benchmark_group("asn-200-lines");
    g.throughput(Throughput::Elements(1));
    g.bench_function("validate (schema + domain)", |b| {
        b.iter(|| validator.validate("AdvanceShipNotice", black_box(&doc)).unwrap())
    });
    g.bench_function("schema only", |b| {
        b.iter(|| {
            validator
                .schemas()
                .validate("AdvanceShipNotice", black_box(&doc))
                .unwrap()
        })
    });
    g.bench_function("domain only", |b| {
        b.iter(|| validator.domain("AdvanceShipNotice", black_box(&doc)).unwrap())
    });
    g.bench_function("parse text + validate", |b| {
        b.iter(|| {
            let doc: serde_json::Value = serde_json::from_str(black_box(&text)).unwrap();
            validator.validate("AdvanceShipNotice", &doc).unwrap()
        })
    });
    g.bench_function("typed deserialize (for comparison)", |b| {
        b.iter(|| serde_json::from_str::<AdvanceShipNotice>(black_box(&text)).unwrap())
    });
    g.finish();
}

/// Full validation and its parts again, in thread CPU time.
fn bench_cpu(c: &mut Criterion<ThreadCpu>) {
    let validator = Validator::new();
    let doc = serde_json::to_value(asn_200_lines()).unwrap();
    let mut g = c.benchmark_group("asn-200-lines-cpu");
    g.throughput(Throughput::Elements(1));
    g.bench_function("validate (schema + domain)", |b| {
        b.iter(|| validator.validate("AdvanceShipNotice", black_box(&doc)).unwrap())
    });
    g.bench_function("schema only", |b| {
        b.iter(|| {
            validator
                .schemas()
                .validate("AdvanceShipNotice", black_box(&doc))
                .unwrap()
        })
    });
    g.bench_function("domain only", |b| {
        b.iter(|| validator.domain("AdvanceShipNotice", black_box(&doc)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpu { wall: WallTime });
    targets = bench_cpu
}
/// `CONTRACTS_PROFILE=<part>:<n>` (part `full`, `schema` or `domain`; or
/// `walk`, a bare walk over the document's nodes, the floor): no
/// criterion, just `n` validations of the document, for an instruction-count
/// profile: `valgrind --tool=callgrind` of two runs, the difference of their
/// totals over the difference of their `n` is the cost of one validation.
fn profile(spec: &str) {
    let (part, n) = spec.split_once(':').expect("CONTRACTS_PROFILE=<part>:<n>");
    let n: usize = n.parse().expect("a count");
    let validator = Validator::new();
    let doc = serde_json::to_value(asn_200_lines()).unwrap();
    for _ in 0..n {
        let findings = match part {
            "full" => validator
                .validate("AdvanceShipNotice", black_box(&doc))
                .unwrap()
                .len(),
            "schema" => validator
                .schemas()
                .validate("AdvanceShipNotice", black_box(&doc))
                .unwrap()
                .len(),
            "domain" => validator
                .domain("AdvanceShipNotice", black_box(&doc))
                .unwrap()
                .len(),
            // The floor: a walk that reads every node and compares nothing.
            "walk" => usize::from(black_box(walk(black_box(&doc))) == 0),
            other => panic!("unknown part {other:?}: full, schema, domain or walk"),
        };
        assert_eq!(black_box(findings), 0);
    }
}

/// Every node of `v` visited: object keys and string lengths read.
fn walk(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Object(map) => map.iter().map(|(k, v)| k.len() + walk(v)).sum(),
        serde_json::Value::Array(items) => items.iter().map(walk).sum(),
        serde_json::Value::String(s) => s.len(),
        _ => 1,
    }
}

fn main() {
    if let Ok(spec) = std::env::var("CONTRACTS_PROFILE") {
        profile(&spec);
        return;
    }
    benches();
    cpu();
    Criterion::default().configure_from_args().final_summary();
}
