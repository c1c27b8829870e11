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

/// `crossdock simulate` with a faults file of `text`: exit code and stderr.
fn simulate_with_faults(dir: &std::path::Path, file: &str, text: &str) -> (Option<i32>, String) {
    let faults = write_scenario(dir, file, text);
    let out = crossdock()
        .args(["simulate", "--role", "wms", "--listen", "127.0.0.1:0", "--faults"])
        .arg(&faults)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_faults_file_or_a_non_loopback_address_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    // The second entry is bad; the error names its line and the bad value.
    let (code, stderr) = simulate_with_faults(
        dir.path(),
        "faults.toml",
        "# comment\n[[faults]]\nkind = \"reset\"\n\n[[faults]]\nkind = \"status\"\nstatus = \"often\"\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("faults.toml:5:"), "{stderr}");
    assert!(stderr.contains("\"often\""), "{stderr}");

    // A field of another kind (an outage has no `ms`) is named, at its line.
    let (code, stderr) = simulate_with_faults(
        dir.path(),
        "kind.toml",
        "[[faults]]\nkind = \"outage\"\nms = 40\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("kind.toml:3:"), "{stderr}");
    assert!(
        stderr.contains("unknown field `ms` for a fault of kind `outage`"),
        "{stderr}"
    );

    let (code, stderr) = simulate_with_faults(
        dir.path(),
        "prob.toml",
        "[[faults]]\nprobability = 2.0\nkind = \"reset\"\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
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

/// A stand-in core that keeps the goods receipts it is sent.
async fn receipts_core() -> (String, std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>) {
    use axum::extract::State;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route(
            contracts::routes::core::GOODS_RECEIPTS,
            axum::routing::post(
                |State(seen): State<std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>>,
                 axum::Json(receipt): axum::Json<serde_json::Value>| async move {
                    seen.lock().unwrap().push(receipt);
                    (
                        axum::http::StatusCode::CREATED,
                        axum::Json(serde_json::json!({"message_id": "MSG-1", "outcome": "accepted",
                                                      "trace_id": "0af7651916cd43dd8448eb211c80319c"})),
                    )
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[test]
fn a_standalone_wms_counts_and_decides_as_its_behaviour_file_says() {
    let dir = tempfile::tempdir().unwrap();
    let behaviour = write_scenario(
        dir.path(),
        "behaviour.toml",
        "[wms]\nreceipt_delay_ms = 0\nshort_probability = 1.0\nvariance_pct = 50\n\n[outbound]\nunknown_items = [\"SKU-404\"]\n",
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (core_url, seen) = runtime.block_on(receipts_core());
    let history = dir.path().join("wms.jsonl");
    let (child, url) = spawn_server(&[
        "simulate".as_ref(),
        "--role".as_ref(),
        "wms".as_ref(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--peer-url".as_ref(),
        core_url.as_ref(),
        "--behaviour".as_ref(),
        behaviour.as_os_str(),
        "--history".as_ref(),
        history.as_os_str(),
    ]);
    let (accepted, rejected, receipt) = runtime.block_on(async {
        let c = reqwest::Client::new();
        let expectation = serde_json::json!({
            "expectation_id": "IBE-1", "asn_id": "ASN-1", "supplier_gln": "5060000000016",
            "estimated_arrival": "2026-11-27",
            "handling_units": [{"sscc": "003506000000000017", "level": "pallet"}],
            "lines": [{"line_no": 1, "po_number": "PO-1", "po_line_no": 1, "sku": "SKU-1",
                       "gtin": "4006381333931", "quantity": 10, "uom": "EA", "sscc": "003506000000000017",
                       "over_tolerance_pct": 10, "under_tolerance_pct": 5}]
        });
        let answer = c
            .post(format!("{url}{}", contracts::routes::wms::INBOUND_EXPECTATIONS))
            .header("idempotency-key", "e1")
            .json(&expectation)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201, "{:?}", answer.text().await);
        let release = |order: &str, sku: &str| {
            serde_json::json!({"order_number": order, "version": 1, "warehouse_gln": "5060000000092",
               "ship_to": {"name": "C", "address_line": "1 St", "city": "Hamburg", "postal_code": "20095",
                           "country_code": "DE"},
               "release_date": "2026-11-20", "requested_ship_date": "2026-11-23",
               "lines": [{"line_no": 1, "sku": sku, "gtin": "4006381333931", "quantity": 8, "uom": "EA"}]})
        };
        let mut decisions = Vec::new();
        for (key, order, sku) in [("r1", "SO-1", "SKU-1"), ("r2", "SO-2", "SKU-404")] {
            let r = c
                .post(format!("{url}{}", contracts::routes::wms::ORDER_RELEASES))
                .header("idempotency-key", key)
                .json(&release(order, sku))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            decisions.push(r.json::<serde_json::Value>().await.unwrap());
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while seen.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let receipt = seen.lock().unwrap().first().cloned();
        (decisions[0].clone(), decisions[1].clone(), receipt)
    });
    assert_eq!(interrupt(child), Some(0));
    assert_eq!(accepted["decision"], "accepted", "{accepted}");
    assert_eq!(rejected["decision"], "rejected", "{rejected}");
    assert_eq!(rejected["lines"][0]["reasons"][0]["code"], "unknown_item");
    // Every line short by 50 %: 10 advised, 5 counted.
    let receipt = receipt.expect("the WMS sent its receipt to the peer");
    assert_eq!(receipt["lines"][0]["qty_received"], 5, "{receipt}");
}

#[test]
fn a_bad_behaviour_file_exits_2_with_the_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "range.toml",
            "[supplier]\nack_delay_ms = 5\n\n[wms]\nshort_probability = 1.5\n",
            "range.toml:5:",
            "probability in 0..=1",
        ),
        (
            "both.toml",
            "[outbound]\nknown_items = [\"A\"]\nunknown_items = [\"B\"]\n",
            "both.toml:3:",
            "field `outbound.unknown_items`: expected known_items or unknown_items, found both",
        ),
        (
            "unknown.toml",
            "[wms]\nreceipt_delay_ms = 1\nshort_chance = 0.5\n",
            "unknown.toml:3:",
            "short_chance",
        ),
    ];
    for (file, text, at, says) in cases {
        let path = write_scenario(dir.path(), file, text);
        let out = crossdock()
            .args([
                "simulate",
                "--role",
                "wms",
                "--listen",
                "127.0.0.1:0",
                "--behaviour",
            ])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(at) && stderr.contains(says), "{file}: {stderr}");
    }
}
