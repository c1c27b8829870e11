//! Reading contracts: formats, bundling, versions, refusals — each with the
//! input it must refuse.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use governance::{Document, DocumentKind, LoadError, Options, date_from_unix_days, diff_files};
use serde_json::json;

fn files(entries: &[(&str, &str)]) -> BTreeMap<PathBuf, String> {
    entries
        .iter()
        .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
        .collect()
}

#[test]
fn json_and_yaml_parse_to_the_same_document_and_syntax_errors_name_the_line() {
    let yaml = governance::load::parse("openapi: 3.1.0\npaths:\n  /a: {}\n", Path::new("a.yaml")).unwrap();
    let json = governance::load::parse(
        r#"{"openapi": "3.1.0", "paths": {"/a": {}}}"#,
        Path::new("a.json"),
    )
    .unwrap();
    assert_eq!(yaml, json);
    // An unquoted status code is a YAML integer key; it must still be a key.
    let codes =
        governance::load::parse("responses:\n  200: {description: ok}\n", Path::new("r.yaml")).unwrap();
    assert_eq!(codes["responses"]["200"]["description"], "ok");
    let err = governance::load::parse("a: [1,\nb: 2\n", Path::new("bad.yaml")).unwrap_err();
    assert!(
        matches!(&err, LoadError::Syntax { line, format: "YAML", .. } if *line > 0),
        "{err}"
    );
    assert!(err.to_string().starts_with("bad.yaml:"), "{err}");
    let err = governance::load::parse("{\"a\": }", Path::new("bad.json")).unwrap_err();
    assert!(
        matches!(
            &err,
            LoadError::Syntax {
                line: 1,
                format: "JSON",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn openapi_30_keywords_take_their_31_meaning_and_other_versions_are_refused() {
    let doc = json!({"openapi": "3.0.3", "components": {"schemas": {"A": {
        "type": "integer", "nullable": true, "minimum": 1, "exclusiveMinimum": true,
        "maximum": 9, "exclusiveMaximum": false,
        "properties": {"nullable": {"type": "string"}}
    }}}});
    let d = Document::from_value(Path::new("a.yaml"), doc).unwrap();
    assert_eq!(d.kind, DocumentKind::Openapi);
    let a = &d.root["components"]["schemas"]["A"];
    assert_eq!(a["type"], json!(["integer", "null"]));
    assert_eq!(a["exclusiveMinimum"], 1);
    assert!(a.get("minimum").is_none() && a.get("nullable").is_none());
    assert_eq!(a["maximum"], 9);
    assert!(a.get("exclusiveMaximum").is_none());
    // A property called "nullable" is not the keyword.
    assert_eq!(a["properties"]["nullable"], json!({"type": "string"}));

    let d = Document::from_value(Path::new("s.json"), json!({"type": "object"})).unwrap();
    assert_eq!(d.kind, DocumentKind::JsonSchema);
    let err = Document::from_value(Path::new("s.yaml"), json!({"swagger": "2.0", "paths": {}})).unwrap_err();
    assert_eq!(
        err,
        LoadError::Swagger2 {
            file: "s.yaml".into()
        }
    );
    let err = Document::from_value(Path::new("v.yaml"), json!({"openapi": "2.5"})).unwrap_err();
    assert!(
        err.to_string()
            .contains("v.yaml: at /openapi: unknown version \"2.5\""),
        "{err}"
    );
    let err = Document::from_value(Path::new("l.json"), json!([1])).unwrap_err();
    assert_eq!(
        err,
        LoadError::NotAnObject {
            file: "l.json".into()
        }
    );
}

#[test]
fn external_refs_are_bundled_with_cycles_and_broken_ones_are_refused() {
    let api = "openapi: 3.1.0\npaths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: 'schemas/a.yaml#/A'}\n";
    let a = "A:\n  type: object\n  properties:\n    b: {$ref: 'b.yaml'}\n";
    let b = "type: object\nproperties:\n  back: {$ref: 'a.yaml#/A'}\n  name: {$ref: '#/$defs/Name'}\n$defs:\n  Name: {type: string}\n";
    let old = files(&[
        ("api/api.yaml", api),
        ("api/schemas/a.yaml", a),
        ("api/schemas/b.yaml", b),
    ]);
    let doc = Document::load(&old, Path::new("api/api.yaml")).unwrap();
    let bundled = &doc.root["x-crossdock-external"];
    assert_eq!(
        bundled["schemas/b.yaml"]["properties"]["back"]["$ref"],
        "#/x-crossdock-external/schemas~1a.yaml/A"
    );
    assert_eq!(
        bundled["schemas/b.yaml"]["properties"]["name"]["$ref"],
        "#/x-crossdock-external/schemas~1b.yaml/$defs/Name"
    );

    // A change inside the referenced file is found (compared by content).
    let new = files(&[
        ("api/api.yaml", api),
        ("api/schemas/a.yaml", a),
        (
            "api/schemas/b.yaml",
            &b.replace("Name: {type: string}", "Name: {type: string, maxLength: 3}"),
        ),
    ]);
    let options = Options::default();
    let r = diff_files(
        &old,
        Path::new("api/api.yaml"),
        &new,
        Path::new("api/api.yaml"),
        &options,
    )
    .unwrap();
    assert_eq!(r.changes.len(), 1, "{:?}", r.changes);
    assert_eq!(r.changes[0].rule, "bound-tightened");
    assert_eq!(r.changes[0].operation.as_deref(), Some("GET /a"));

    let broken = files(&[
        ("api/api.yaml", api),
        ("api/schemas/a.yaml", "A: {$ref: '#/Missing'}\n"),
    ]);
    let err = Document::load(&broken, Path::new("api/api.yaml")).unwrap_err();
    assert!(
        matches!(&err, LoadError::BrokenRef { pointer, reference, .. }
            if pointer == "/x-crossdock-external/schemas~1a.yaml/A/$ref" && reference.contains("Missing")),
        "{err}"
    );
    let missing = files(&[("api/api.yaml", api)]);
    let err = Document::load(&missing, Path::new("api/api.yaml")).unwrap_err();
    assert!(err.to_string().contains("api/schemas/a.yaml"), "{err}");
}

#[test]
fn civil_dates_of_day_counts() {
    assert_eq!(date_from_unix_days(0), "1970-01-01");
    assert_eq!(date_from_unix_days(59), "1970-03-01");
    assert_eq!(date_from_unix_days(11_016), "2000-02-29");
    assert_eq!(date_from_unix_days(20_794), "2026-12-07");
    assert_ne!(date_from_unix_days(20_795), "2026-12-07");
}
