//! `crossdock core` as an operator runs it.

use std::path::Path;
use std::process::Command;

use crate::{interrupt, spawn_server, write_scenario};

const ERP_TOKEN: &str = "standalone-erp-token";

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
            "database = {:?}\n[partners]\nerp = \"http://127.0.0.1:9\"\nwms = \"http://127.0.0.1:9\"\nsupplier = \"http://127.0.0.1:9\"\n[auth]\nerp_token = \"{ERP_TOKEN}\"\n",
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
            .bearer_auth(ERP_TOKEN)
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
            .bearer_auth(ERP_TOKEN)
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

/// The environment overrides the file, and a bad variable is named: exit 2.
#[test]
fn the_environment_configures_the_core_and_a_bad_variable_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_scenario(dir.path(), "core.toml", "[retry]\nmax_attempts = 3\n");
    let out = Command::new(env!("CARGO_BIN_EXE_crossdock"))
        .args(["core", "--config"])
        .arg(&config)
        .env("CROSSDOCK_RETRY_MAX_ATTEMPTS", "zero")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("environment variable CROSSDOCK_RETRY_MAX_ATTEMPTS: expected a positive integer"),
        "{stderr}"
    );

    // Tokens from the environment: the ERP's works, no other does.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_crossdock"))
        .args(["core", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("CROSSDOCK_DATABASE", dir.path().join("env.sqlite"))
        .env("CROSSDOCK_AUTH_ERP_TOKEN", "erp-token-from-env")
        .env("CROSSDOCK_AUTH_OPS_TOKEN", "ops-token-from-env")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut url,
    )
    .unwrap();
    let url = url.trim().to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (with_erp, with_ops, none) = runtime.block_on(async {
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let status = |token: Option<&'static str>| {
            let mut r = c.get(format!("{url}/v1/ops/status"));
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            async move { r.send().await.unwrap().status().as_u16() }
        };
        (
            status(Some("erp-token-from-env")).await,
            status(Some("ops-token-from-env")).await,
            status(None).await,
        )
    });
    assert_eq!((with_erp, with_ops, none), (403, 200, 401));
    assert!(dir.path().join("env.sqlite").is_file());
    assert_eq!(interrupt(child), Some(0));
}
