//! `crossdock simulate` as an architect runs it.

use std::process::Command;

use crate::{interrupt, spawn_server, write_scenario};

fn crossdock() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crossdock"))
}

#[test]
fn a_standalone_erp_serves_with_its_faults_and_stops_cleanly_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let faults = write_scenario(
        dir.path(),
        "faults.toml",
        "[[faults]]\nendpoint = \"/v1/receipt-discrepancies\"\nkind = \"status\"\nstatus = 503\nretry_after_s = 2\n",
    );
    let history = dir.path().join("erp.jsonl");
    let (child, url) = spawn_server(&[
        "simulate".as_ref(),
        "--role".as_ref(),
        "erp".as_ref(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--faults".as_ref(),
        faults.as_os_str(),
        "--history".as_ref(),
        history.as_os_str(),
    ]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (posted, refused, ready) = runtime.block_on(async {
        let c = reqwest::Client::new();
        let posting = serde_json::json!({
            "receipt_id": "RCV-1", "receipt_line_no": 1, "po_number": "PO-1", "po_line_no": 1,
            "sku": "SKU-1", "quantity": 3, "stock_status": "unrestricted"
        });
        let posted = c
            .post(format!("{url}/v1/goods-receipt-postings"))
            .header("idempotency-key", "k1")
            .json(&posting)
            .send()
            .await
            .unwrap()
            .status();
        let refused = c
            .post(format!("{url}/v1/receipt-discrepancies"))
            .header("idempotency-key", "k2")
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        let ready = c
            .get(format!("{url}/_control/ready"))
            .send()
            .await
            .unwrap()
            .status();
        (
            posted,
            (refused.status(), refused.headers()["retry-after"].clone()),
            ready,
        )
    });
    assert_eq!(posted, 201);
    assert_eq!(refused.0, 503);
    assert_eq!(refused.1, "2");
    assert_eq!(ready, 200);

    // Ctrl-C.
    assert_eq!(interrupt(child), Some(0));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&history)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1]["fault"], "status");
}

#[test]
fn a_bad_faults_file_or_a_non_loopback_address_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    // The second entry is bad; the error names its line and the bad value.
    let faults = write_scenario(
        dir.path(),
        "faults.toml",
        "# comment\n[[faults]]\nkind = \"reset\"\n\n[[faults]]\nkind = \"status\"\nstatus = \"often\"\n",
    );
    let out = crossdock()
        .args(["simulate", "--role", "wms", "--listen", "127.0.0.1:0", "--faults"])
        .arg(&faults)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("faults.toml:5:"), "{stderr}");
    assert!(stderr.contains("\"often\""), "{stderr}");

    let faults = write_scenario(
        dir.path(),
        "prob.toml",
        "[[faults]]\nprobability = 2.0\nkind = \"reset\"\n",
    );
    let out = crossdock()
        .args(["simulate", "--role", "wms", "--listen", "127.0.0.1:0", "--faults"])
        .arg(&faults)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("faults[0]") && stderr.contains("probability in 0..=1"),
        "{stderr}"
    );

    let out = crossdock()
        .args(["simulate", "--role", "erp", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("expected a loopback address"), "{stderr}");
}
