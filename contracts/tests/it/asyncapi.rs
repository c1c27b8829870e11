//! The committed AsyncAPI document of the core's events
//! (`contracts/asyncapi/core.json`).

use std::path::PathBuf;

use contracts::asyncapi::{ASYNCAPI_VERSION, document, operation_id};
use contracts::events::{PUBLISHED, STREAM, subject};
use serde_json::Value;

fn asyncapi_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("asyncapi")
}

/// The committed document equals the generated one; a stale one is
/// rewritten and the test fails, so the fix is to commit the rewrite.
#[test]
fn asyncapi_document_is_fresh() {
    let dir = asyncapi_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let text = serde_json::to_string_pretty(&document()).unwrap() + "\n";
    let path = dir.join("core.json");
    let stale = std::fs::read_to_string(&path).unwrap_or_default() != text;
    if stale {
        std::fs::write(&path, &text).unwrap();
    }
    let others: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "core.json")
        .collect();
    assert!(
        !stale,
        "stale AsyncAPI document {}; it was regenerated, commit it",
        path.display()
    );
    assert!(others.is_empty(), "documents nothing generates: {others:?}");
}

#[test]
fn every_published_event_has_a_channel_a_send_operation_and_a_message() {
    let doc = document();
    assert_eq!(doc["asyncapi"], ASYNCAPI_VERSION);
    assert_eq!(doc["asyncapi"], "3.0.0");
    assert_eq!(doc["servers"]["nats"]["protocol"], "nats");
    assert!(doc["servers"]["nats"]["host"].is_string());
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert_eq!(
        doc["channels"].as_object().unwrap().len(),
        PUBLISHED.len(),
        "one channel per published event"
    );
    assert_eq!(doc["operations"].as_object().unwrap().len(), PUBLISHED.len());
    for event in PUBLISHED {
        let channel = &doc["channels"][event.name];
        assert_eq!(
            channel["address"],
            format!("crossdock.events.{}", event.event_type),
            "{}",
            event.name
        );
        assert_eq!(channel["address"], subject(event.event_type));
        assert!(channel["description"].as_str().unwrap().contains(STREAM));
        assert_eq!(channel["servers"][0]["$ref"], "#/servers/nats");
        assert_eq!(
            channel["messages"][event.name]["$ref"],
            format!("#/components/messages/{}", event.name)
        );

        let op = &doc["operations"][operation_id(event)];
        assert_eq!(op["action"], "send", "{}", event.name);
        assert_eq!(op["channel"]["$ref"], format!("#/channels/{}", event.name));
        assert_eq!(
            op["messages"][0]["$ref"],
            format!("#/channels/{}/messages/{}", event.name, event.name)
        );

        let message = &doc["components"]["messages"][event.name];
        assert_eq!(message["contentType"], "application/cloudevents+json");
        assert_eq!(
            message["correlationId"]["location"],
            "$message.payload#/traceparent"
        );
        assert_eq!(
            message["payload"]["$ref"],
            format!("#/components/schemas/{}", event.name)
        );
        let payload = &doc["components"]["schemas"][event.name];
        assert!(payload["properties"]["type"]["pattern"].is_string());
        for field in [
            "id",
            "source",
            "specversion",
            "type",
            "time",
            "traceparent",
            "data",
        ] {
            assert!(
                payload["required"].as_array().unwrap().iter().any(|r| r == field),
                "{}: {field} not required",
                event.name
            );
        }
    }
}

#[test]
fn every_reference_resolves_inside_the_document() {
    let doc = document();
    let mut all = Vec::new();
    crate::openapi::refs(&doc, String::new(), &mut all);
    // Channels, operations, messages and the schemas' own references.
    assert!(all.len() > 5 * PUBLISHED.len(), "{} refs", all.len());
    for (at, r) in all {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external ref {r} at {at}"));
        assert!(doc.pointer(pointer).is_some(), "{r} at {at} does not resolve");
    }
}

/// The bundled payload schema judges the event examples like the catalog
/// schema: every valid example passes, every example the schema rejects
/// (`.expect` rule `schema`) fails.
#[test]
fn payload_schemas_judge_the_examples_like_the_catalog() {
    let doc = document();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    for event in PUBLISHED {
        let mut schema = doc["components"]["schemas"][event.name].clone();
        schema["$defs"] = doc["components"]["schemas"].clone();
        let text = serde_json::to_string(&schema)
            .unwrap()
            .replace("#/components/schemas/", "#/$defs/");
        let schema: Value = serde_json::from_str(&text).unwrap();
        let payload = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        let (mut valid, mut invalid) = (0, 0);
        for entry in std::fs::read_dir(dir.join(event.name)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            let example: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            if name.starts_with("valid-") {
                valid += 1;
                assert!(payload.is_valid(&example), "{}/{name}", event.name);
            } else {
                let expect = std::fs::read_to_string(path.with_file_name(format!("{stem}.expect"))).unwrap();
                if expect.split_whitespace().next() == Some("schema") {
                    invalid += 1;
                    assert!(!payload.is_valid(&example), "{}/{name}", event.name);
                }
            }
        }
        assert!(
            valid > 0 && invalid > 0,
            "{}: {valid} valid, {invalid} schema-invalid",
            event.name
        );
    }
}
