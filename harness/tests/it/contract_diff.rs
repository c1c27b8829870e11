//! `crossdock contracts diff`: the binary's formats, exit codes, YAML and
//! multi-file input, refusals and the git base. The rules themselves are
//! tested in the governance crate (fixtures and corpus).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../governance/tests/fixtures")
}

fn crossdock(args: &[&str], paths: &[&Path], cwd: Option<&Path>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crossdock"));
    cmd.args(["contracts", "diff"]).args(paths).args(args);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_binary_exits_1_on_breaking_0_on_compatible_2_on_bad_input() {
    let case = fixtures().join("operation-removed");
    let out = crossdock(&[], &[&case.join("old.json"), &case.join("new.json")], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("BREAKING"), "{stdout}");
    assert!(stdout.contains("operation-removed"), "{stdout}");
    assert!(stdout.contains("POST /v1/things removed"), "{stdout}");
    assert!(
        stdout.contains("1 change(s): 1 breaking, 0 compatible"),
        "{stdout}"
    );

    let case = fixtures().join("operation-added");
    let out = crossdock(
        &["--format", "text"],
        &[&case.join("old.json"), &case.join("new.json")],
        None,
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("compatible  operation-added"), "{stdout}");

    // The direction flag decides a standalone schema's verdict.
    let case = fixtures().join("enum-value-added-request");
    let (old, new) = (case.join("old.json"), case.join("new.json"));
    let code = |dir: &str| {
        crossdock(&["--direction", dir], &[&old, &new], None)
            .status
            .code()
    };
    assert_eq!(code("request"), Some(0));
    assert_eq!(code("response"), Some(1));

    let dir = tempfile::tempdir().unwrap();
    let out = crossdock(&[], &[&old, &dir.path().join("none.json")], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("none.json"));
    let api = fixtures().join("operation-added/old.json");
    let out = crossdock(&[], &[&old, &api], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot compare a JSON Schema with a OpenAPI document"),
        "{}",
        text(&out.stderr)
    );
    let out = crossdock(&[], &[&old], None);
    assert_eq!(out.status.code(), Some(2), "one path without --base");
}

#[test]
fn fail_on_warn_fails_the_gate_on_potentially_breaking_changes_only() {
    let case = fixtures().join("response-status-added");
    let (old, new) = (case.join("old.json"), case.join("new.json"));
    let out = crossdock(&[], &[&old, &new], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("WARNING"), "{}", text(&out.stdout));
    let out = crossdock(&["--fail-on", "warn"], &[&old, &new], None);
    assert_eq!(out.status.code(), Some(1));
    let case = fixtures().join("operation-added");
    let out = crossdock(
        &["--fail-on", "warn"],
        &[&case.join("old.json"), &case.join("new.json")],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn json_junit_markdown_and_github_outputs_carry_every_change() {
    let case = fixtures().join("shared-schema-judged-per-direction");
    let (old, new) = (case.join("old.json"), case.join("new.json"));
    let out = crossdock(&["--format", "json"], &[&old, &new], None);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["kind"], "openapi");
    assert_eq!(report["breaking"], 1);
    assert_eq!(report["compatible"], 1);
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2);
    for c in changes {
        assert!(
            c["operation"].as_str().unwrap().starts_with("POST /v1/things"),
            "{c}"
        );
        assert!(c["old_pointer"].as_str().unwrap().starts_with('/'), "{c}");
        assert!(!c["explanation"].as_str().unwrap().is_empty(), "{c}");
    }

    let out = crossdock(&["--format", "junit"], &[&old, &new], None);
    assert_eq!(out.status.code(), Some(1));
    let xml = text(&out.stdout);
    assert!(xml.contains("tests=\"2\""), "{xml}");
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert!(xml.contains("breaking: enum value &quot;PL&quot; added"), "{xml}");
    assert!(
        xml.contains("at /components/schemas/Uom/enum (response)"),
        "{xml}"
    );

    let out = crossdock(&["--format", "markdown"], &[&old, &new], None);
    let md = text(&out.stdout);
    assert!(
        md.contains("| 🔴 breaking | `enum-value-added` | POST /v1/things |"),
        "{md}"
    );
    assert!(md.contains("| 🟢 compatible |"), "{md}");

    let out = crossdock(&["--format", "github"], &[&old, &new], None);
    let gh = text(&out.stdout);
    assert_eq!(gh.lines().count(), 1, "{gh}");
    assert!(gh.starts_with("::error file="), "{gh}");
    assert!(
        gh.contains("title=enum-value-added (breaking)::POST /v1/things: enum value"),
        "{gh}"
    );
}

fn write(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

const API: &str = "openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /orders/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: 'schemas/order.yaml'}
";

#[test]
fn yaml_documents_with_external_refs_are_compared_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let order = "type: object\nproperties:\n  status: {type: string, enum: [open, shipped]}\n  next: {$ref: 'order.yaml'}\n";
    for side in [&a, &b] {
        write(side, "api.yaml", API);
    }
    write(&a, "schemas/order.yaml", order);
    write(
        &b,
        "schemas/order.yaml",
        &order.replace("shipped]", "shipped, lost]"),
    );
    let out = crossdock(&[], &[&a.join("api.yaml"), &b.join("api.yaml")], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("enum-value-added"), "{stdout}");
    assert!(stdout.contains("schemas~1order.yaml"), "{stdout}");

    // A broken $ref: exit 2 naming file and pointer.
    write(
        &b,
        "schemas/order.yaml",
        "type: object\nproperties:\n  x: {$ref: '#/nowhere'}\n",
    );
    let out = crossdock(&[], &[&a.join("api.yaml"), &b.join("api.yaml")], None);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("api.yaml") && stderr.contains("broken $ref"),
        "{stderr}"
    );
    assert!(stderr.contains("/properties/x/$ref"), "{stderr}");
}

#[test]
fn swagger_2_and_unknown_versions_are_refused_not_compared() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "old.yaml",
        "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n",
    );
    write(
        dir.path(),
        "new.yaml",
        "openapi: 4.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n",
    );
    let (old, new) = (dir.path().join("old.yaml"), dir.path().join("new.yaml"));
    let out = crossdock(&[], &[&old, &old], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("Swagger 2.0"), "{}", text(&out.stderr));
    let out = crossdock(&[], &[&new, &new], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("new.yaml") && stderr.contains("/openapi") && stderr.contains("4.0.0"),
        "{stderr}"
    );
    write(dir.path(), "bad.yaml", "openapi: 3.1.0\npaths: [unclosed\n");
    let out = crossdock(&[], &[&dir.path().join("bad.yaml"), &new], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("bad.yaml:"), "{}", text(&out.stderr));
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

#[test]
fn base_git_ref_compares_the_working_tree_with_a_revision() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q"]);
    write(root, "contracts/api.yaml", API);
    write(
        root,
        "contracts/schemas/order.yaml",
        "type: object\nrequired: [status]\nproperties:\n  status: {type: string}\n",
    );
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "v1"]);
    let path = Path::new("contracts/api.yaml");
    let out = crossdock(&["--base", "git:HEAD"], &[path], Some(root));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("0 change(s)"), "{}", text(&out.stdout));

    write(
        root,
        "contracts/schemas/order.yaml",
        "type: object\nproperties:\n  status: {type: string}\n",
    );
    let out = crossdock(&["--base", "git:HEAD"], &[path], Some(root));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("property-became-optional"), "{stdout}");

    let out = crossdock(&["--base", "HEAD"], &[path], Some(root));
    assert_eq!(out.status.code(), Some(2));
    let out = crossdock(&["--base", "git:no-such-ref"], &[path], Some(root));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no-such-ref"), "{}", text(&out.stderr));
}
