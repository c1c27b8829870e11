//! The committed OpenAPI documents (`contracts/openapi/<role>.json`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use contracts::openapi::{ERROR_RESPONSES, ROLES, document};
use contracts::routes::OPERATIONS;
use serde_json::Value;

fn openapi_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi")
}

/// Committed documents equal the generated ones; a stale one is rewritten
/// and the test fails, so the fix is to commit the rewrite.
#[test]
fn openapi_documents_are_fresh() {
    let dir = openapi_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let mut stale = Vec::new();
    let mut expected = Vec::new();
    for role in ROLES {
        let file = format!("{role}.json");
        let text = serde_json::to_string_pretty(&document(role)).unwrap() + "\n";
        let path = dir.join(&file);
        if std::fs::read_to_string(&path).unwrap_or_default() != text {
            std::fs::write(&path, &text).unwrap();
            stale.push(file.clone());
        }
        expected.push(file);
    }
    let orphans: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !expected.contains(n))
        .collect();
    assert!(
        stale.is_empty(),
        "stale OpenAPI documents in {}: {stale:?}; they were regenerated, commit them",
        dir.display()
    );
    assert!(
        orphans.is_empty(),
        "documents with no role behind them: {orphans:?}"
    );
}

/// Every `$ref` of `v`, with the pointer where it sits.
pub fn refs(v: &Value, at: String, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, sub) in map {
                if k == "$ref" {
                    out.push((at.clone(), sub.as_str().unwrap().to_owned()));
                } else {
                    refs(sub, format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, sub) in items.iter().enumerate() {
                refs(sub, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_reference_resolves_inside_its_document() {
    for role in ROLES {
        let doc = document(role);
        let mut all = Vec::new();
        refs(&doc, String::new(), &mut all);
        assert!(all.len() > 20, "{role}: {} refs", all.len());
        for (at, r) in all {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{role}: external ref {r} at {at}"));
            assert!(
                doc.pointer(pointer).is_some(),
                "{role}: {r} at {at} does not resolve"
            );
        }
    }
}

#[test]
fn every_operation_is_documented_with_headers_security_and_problems() {
    for role in ROLES {
        let doc = document(role);
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["security"][0]["bearerAuth"], serde_json::json!([]));
        assert_eq!(
            doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
            "bearer"
        );
        let ops: Vec<_> = OPERATIONS.iter().filter(|o| o.role == role).collect();
        assert!(!ops.is_empty(), "{role} serves nothing");
        let mut ids = BTreeSet::new();
        for op in ops {
            let o = &doc["paths"][op.path][op.method.to_ascii_lowercase()];
            assert!(
                ids.insert(o["operationId"].as_str().unwrap().to_owned()),
                "{role}: {op:?}"
            );
            if op.request.is_empty() {
                assert!(o.get("requestBody").is_none(), "{role} {op:?}");
            } else {
                assert_eq!(
                    o["requestBody"]["content"]["application/json"]["schema"]["$ref"],
                    format!("#/components/schemas/{}", op.request)
                );
            }
            for status in op.success {
                assert_eq!(
                    o["responses"][status.to_string()]["content"]["application/json"]["schema"]["$ref"],
                    format!("#/components/schemas/{}", op.response)
                );
            }
            let params: Vec<&str> = o["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["$ref"].as_str().unwrap())
                .collect();
            assert_eq!(
                params.contains(&"#/components/parameters/IdempotencyKey"),
                op.idempotency_key,
                "{role} {op:?}"
            );
            for (status, name, _) in ERROR_RESPONSES {
                assert_eq!(
                    o["responses"][status.to_string()]["$ref"],
                    format!("#/components/responses/{name}")
                );
                let problem = &doc["components"]["responses"][name]["content"]["application/problem+json"];
                assert_eq!(problem["schema"]["$ref"], "#/components/schemas/Problem");
            }
        }
        let key = &doc["components"]["parameters"]["IdempotencyKey"];
        assert_eq!(key["name"], "Idempotency-Key");
        assert_eq!(key["in"], "header");
        assert_eq!(key["required"], true);
        assert!(doc["components"]["responses"]["TooManyRequests"]["headers"]["Retry-After"].is_object());
    }
}

/// A body valid against the catalog schema is valid against the bundled
/// OpenAPI copy, and a fault caught by one is caught by the other.
#[test]
fn bundled_schemas_judge_like_the_catalog() {
    let doc = document(contracts::Role::Core);
    // Make the bundled ASN schema a standalone document over the components.
    let mut schema = doc["components"]["schemas"]["AdvanceShipNotice"].clone();
    schema["$defs"] = doc["components"]["schemas"].clone();
    let text = serde_json::to_string(&schema)
        .unwrap()
        .replace("#/components/schemas/", "#/$defs/");
    let schema: Value = serde_json::from_str(&text).unwrap();
    let bundled = jsonschema_validator(&schema);
    let asn = serde_json::to_value(crate::schemas::sample_asn()).unwrap();
    assert!(bundled(&asn));
    let mut bad = asn.clone();
    bad["lines"][0]["quantity"] = 0.into();
    assert!(!bundled(&bad));
}

fn jsonschema_validator(schema: &Value) -> impl Fn(&Value) -> bool {
    // contracts' SchemaSet compiles catalog schemas only; compile this one
    // through the same crate.
    let v = jsonschema::validator_for(schema).unwrap();
    move |doc| v.is_valid(doc)
}

/// The order release is decided at once: the core and the WMS answer 200
/// with an `OrderReleaseDecision`, never an intake acknowledgement.
#[test]
fn order_releases_are_answered_synchronously_with_a_decision() {
    use contracts::Role;
    use contracts::routes::{core, operation, wms};
    for (role, path) in [
        (Role::Core, core::ORDER_RELEASES),
        (Role::Wms, wms::ORDER_RELEASES),
    ] {
        let op = operation(role, "POST", path).unwrap_or_else(|| panic!("{role} serves no {path}"));
        assert_eq!(op.request, "OrderRelease");
        assert_eq!(op.response, "OrderReleaseDecision");
        assert_eq!(op.success, &[200]);
        assert!(op.idempotency_key);
        let doc = document(role);
        let responses = &doc["paths"][path]["post"]["responses"];
        assert!(responses["201"].is_null(), "{role}: {responses}");
        assert!(
            responses["200"]["description"]
                .as_str()
                .unwrap()
                .contains("decision"),
            "{role}: {responses}"
        );
    }
}

/// Every new flow has its operations, each at the role the flow names.
#[test]
fn outbound_inventory_and_invoicing_operations_are_routed() {
    use contracts::Role;
    use contracts::routes::{core, erp, operation};
    for (role, path, request) in [
        (Role::Core, core::SHIPMENT_CONFIRMATIONS, "ShipmentConfirmation"),
        (Role::Core, core::INVENTORY_ADJUSTMENTS, "InventoryAdjustment"),
        (Role::Core, core::INVOICES, "Invoice"),
        (Role::Erp, erp::SHIPMENT_POSTINGS, "ErpShipmentPosting"),
        (Role::Erp, erp::INVENTORY_ADJUSTMENTS, "InventoryAdjustment"),
        (Role::Erp, erp::MATCH_RESULTS, "MatchResult"),
    ] {
        let op = operation(role, "POST", path).unwrap_or_else(|| panic!("{role} serves no {path}"));
        assert_eq!(op.request, request, "{role} {path}");
        let expected = if role == Role::Core {
            "IntakeAck"
        } else {
            "PartnerAck"
        };
        assert_eq!(op.response, expected, "{role} {path}");
    }
}

#[test]
fn summaries_read_as_english() {
    let doc = document(contracts::Role::Core);
    let summary = |path: &str| doc["paths"][path]["post"]["summary"].as_str().unwrap().to_owned();
    assert_eq!(summary("/v1/invoices"), "Submit an Invoice");
    assert_eq!(summary("/v1/asns"), "Submit an AdvanceShipNotice");
    assert_eq!(summary("/v1/order-releases"), "Submit an OrderRelease");
    assert_eq!(summary("/v1/purchase-orders"), "Submit a PurchaseOrder");
}

#[test]
fn every_catalog_schema_is_titled_by_its_own_name() {
    // Instantiations of one generic type (CloudEvent<T>) must not share a
    // title: they would clash in one document.
    for (name, schema) in contracts::schema::catalog() {
        assert_eq!(schema["title"], name, "{name}");
    }
}

/// The inventory snapshots are reads: GET, no body, no Idempotency-Key.
#[test]
fn inventory_snapshots_are_reads_at_erp_and_wms() {
    use contracts::Role;
    use contracts::routes::{erp, operation, wms};
    for (role, path) in [
        (Role::Erp, erp::INVENTORY_SNAPSHOT),
        (Role::Wms, wms::INVENTORY_SNAPSHOT),
    ] {
        let op = operation(role, "GET", path).unwrap_or_else(|| panic!("{role} serves no GET {path}"));
        assert_eq!((op.request, op.response), ("", "InventorySnapshot"));
        assert!(!op.idempotency_key);
        assert!(operation(role, "POST", path).is_none());
        let doc = document(role);
        let o = &doc["paths"][path]["get"];
        assert_eq!(o["operationId"], "getInventorySnapshot");
        assert!(o.get("requestBody").is_none());
    }
}
