//! Diffing two ~5 MB OpenAPI documents, read from text to report: what a CI
//! gate pays. Generated documents: `n` resources, each with a schema of a
//! dozen properties (an enum, bounds, a nested object, a `$ref`) and two
//! operations; the revision changes every 50th resource (an enum value, a
//! required property, a removed operation).
//!
//! `cargo bench -p governance --bench diff`: criterion reports CPU time (of
//! the benchmarking thread) per comparison and throughput in bytes of input (both documents) at three
//! sizes (≈1.3, 2.5 and 5 MB per document); the CPU model is printed
//! first. Figures: docs/PERFORMANCE.md.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use cpu_time::ThreadTime;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use governance::{Options, diff_files};
use serde_json::{Value, json};

fn schema(i: usize) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["id", "status", "lines"],
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Z0-9-]{1,35}$"},
            "status": {"type": "string", "enum": ["open", "picked", "packed", "shipped"]},
            "quantity": {"type": "integer", "minimum": 1, "maximum": 99999},
            "weight": {"type": "number", "nullable": true},
            "shipDate": {"type": "string", "format": "date"},
            "carrier": {"type": "string", "maxLength": 35, "description": format!("carrier of resource {i}, free text for the partner")},
            "notes": {"type": "array", "items": {"type": "string", "maxLength": 280}, "maxItems": 20},
            "address": {"$ref": "#/components/schemas/Address"},
            "lines": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["sku", "qty"],
                    "properties": {
                        "sku": {"type": "string", "minLength": 1},
                        "qty": {"type": "integer", "minimum": 1},
                        "uom": {"type": "string", "enum": ["EA", "CS", "PL"]},
                        "lot": {"type": "string"},
                        "expires": {"type": "string", "format": "date"}
                    }
                }
            },
            "links": {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}}
        }
    })
}

fn document(n: usize, revised: bool) -> Value {
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    schemas.insert(
        "Address".into(),
        json!({"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}, "zip": {"type": "string"}}}),
    );
    for i in 0..n {
        let name = format!("Resource{i}");
        let mut s = schema(i);
        if revised && i % 50 == 0 {
            s["properties"]["status"]["enum"]
                .as_array_mut()
                .unwrap()
                .push("lost".into());
            s["properties"]["ref"] = json!({"type": "string"});
            s["required"].as_array_mut().unwrap().push("ref".into());
        }
        schemas.insert(name.clone(), s);
        let body = json!({"content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}});
        let mut item = json!({
            "get": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                               {"name": "expand", "in": "query", "schema": {"type": "string", "enum": ["lines", "address"]}}],
                "responses": {"200": body.clone(), "404": {"description": "not found"}}
            },
            "put": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": body["content"].clone()},
                "responses": {"200": body, "409": {"description": "conflict"}}
            }
        });
        if revised && i % 50 == 25 {
            item.as_object_mut().unwrap().remove("put");
        }
        paths.insert(format!("/v1/resources{i}/{{id}}"), item);
    }
    json!({"openapi": "3.0.3", "info": {"title": "generated", "version": "1"}, "paths": paths, "components": {"schemas": schemas}})
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn bench(c: &mut Criterion) {
    println!("CPU: {}", cpu_model());
    let options = Options {
        direction: None,
        today: Some("2026-12-07".into()),
    };
    let mut group = c.benchmark_group("diff");
    group.sample_size(10);
    // ~1.7 KB of JSON per resource: 3000 resources ≈ 5 MB per document; the
    // smaller sizes show how the cost grows with the input.
    for n in [750, 1500, 3000] {
        let old = serde_json::to_string(&document(n, false)).unwrap();
        let new = serde_json::to_string(&document(n, true)).unwrap();
        let files: BTreeMap<PathBuf, String> = [
            (PathBuf::from("old/api.json"), old.clone()),
            (PathBuf::from("new/api.json"), new.clone()),
        ]
        .into();
        let (o, nw) = (Path::new("old/api.json"), Path::new("new/api.json"));
        let report = diff_files(&files, o, &files, nw, &options).unwrap();
        println!(
            "{n} resources: documents {:.2} MB + {:.2} MB; {} changes ({} breaking)",
            old.len() as f64 / 1e6,
            new.len() as f64 / 1e6,
            report.changes.len(),
            report.breaking
        );
        group.throughput(Throughput::Bytes((old.len() + new.len()) as u64));
        // Thread CPU time, not wall time: the machine is shared.
        group.bench_function(
            format!("openapi_json_{:.1}mb_each", old.len() as f64 / 1e6),
            |b| {
                b.iter_custom(|iters| {
                    let start = ThreadTime::now();
                    for _ in 0..iters {
                        black_box(diff_files(&files, o, &files, nw, &options).unwrap().changes.len());
                    }
                    start.elapsed()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
