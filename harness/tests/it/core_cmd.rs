//! `crossdock core` as an operator runs it.

use std::path::Path;
use std::process::Command;

use crate::{interrupt, spawn_server, write_scenario};

fn start(config: &Path) -> (std::process::Child, String) {
    spawn_server(&[
        "core".as_ref(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ])
}

#[test]
fn the_standalone_core_serves_its_contract_and_keeps_what_it_accepted_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/core.sqlite");
    // Partners on a closed port: deliveries stay pending, which is fine here.
    let config = write_scenario(
        dir.path(),
        "core.toml",
        &format!(
            "database = {:?}\n[partners]\nerp = \"http://127.0.0.1:9\"\nwms = \"http://127.0.0.1:9\"\nsupplier = \"http://127.0.0.1:9\"\n",
            db.display().to_string()
        ),
    );
    let po: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../contracts/examples/PurchaseOrder/valid-typical.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/openapi/core.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let (child, url) = start(&config);
    assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");
    let (served, first) = runtime.block_on(async {
        let c = reqwest::Client::new();
        let served: serde_json::Value = c
            .get(format!("{url}/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let first = c
            .post(format!("{url}/v1/purchase-orders"))
            .header("idempotency-key", "po-1")
            .json(&po)
            .send()
            .await
            .unwrap();
        (
            served,
            (first.status(), first.json::<serde_json::Value>().await.unwrap()),
        )
    });
    assert_eq!(
        served, committed,
        "/openapi.json differs from contracts/openapi/core.json"
    );
    assert_eq!(first.0, 201, "{}", first.1);
    assert_eq!(interrupt(child), Some(0));
    assert!(db.is_file());

    // Restarted on the same database: the PO is known, under a new key too.
    let (child, url) = start(&config);
    let again = runtime.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{url}/v1/purchase-orders"))
            .header("idempotency-key", "po-1-resent")
            .json(&po)
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<serde_json::Value>().await.unwrap())
    });
    assert_eq!(again.0, 200, "{}", again.1);
    assert_eq!(again.1["outcome"], "duplicate");
    assert_eq!(again.1["message_id"], first.1["message_id"]);
    assert_eq!(interrupt(child), Some(0));
}

#[test]
fn a_bad_core_configuration_exits_2_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_scenario(dir.path(), "core.toml", "[retry]\ncap_ms = -5\n");
    let out = Command::new(env!("CARGO_BIN_EXE_crossdock"))
        .args(["core", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("core.toml:2:") && stderr.contains("retry.cap_ms"),
        "{stderr}"
    );
}
