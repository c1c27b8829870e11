//! The `crossdock` binary as a user and a CI pipeline see it.

use std::process::Command;

use crate::{scenario, scenario_turn_blocking, write_scenario};

fn crossdock() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crossdock"))
}

#[test]
fn the_happy_path_scenario_passes_and_writes_its_reports() {
    let _turn = scenario_turn_blocking();
    let out = tempfile::tempdir().unwrap();
    // The library scenario as it is, but with latency bounds no loaded
    // test machine misses: this test judges behaviour; the scenario's own
    // SLA is judged where the machine is quiet (`.ci/run` runs the library).
    let text = std::fs::read_to_string(scenario("inbound-happy-path.toml")).unwrap();
    assert!(text.contains("asn_to_expectation_p99_ms = 500"), "{text}");
    let text = text.replace(
        "asn_to_expectation_p99_ms = 500",
        "[sla.asn_to_expectation]\np99_ms = 60000\n[sla.receipt_to_posting]\np99_ms = 60000",
    );
    let file = write_scenario(out.path(), "inbound-happy-path.toml", &text);
    let result = crossdock()
        .args(["run", file.to_str().unwrap(), "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(
        result.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("one-posting-per-receipt-line"), "{stdout}");
    assert!(stdout.contains("asn-accepted-to-expectation"), "{stdout}");
    assert!(stderr.contains("seed 20261122"), "{stderr}");

    let dir = out.path().join("inbound-happy-path");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["passed"], true);
    assert_eq!(report["counts"]["purchase_orders"], 200);
    assert_eq!(report["counts"]["expectations"], 200);
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains("failures=\"0\""), "{junit}");
}

#[test]
fn a_malformed_scenario_exits_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(scenario("inbound-happy-path.toml"))
        .unwrap()
        .replace("arrival_rate_per_s = 100.0", "arrival_rate_per_s = -3");
    let file = write_scenario(dir.path(), "bad.toml", &text);
    let line = text
        .lines()
        .position(|l| l.starts_with("arrival_rate_per_s"))
        .unwrap()
        + 1;
    let result = crossdock()
        .args(["run", file.to_str().unwrap(), "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("bad.toml:{line}:")), "{stderr}");
    assert!(stderr.contains("field `load.arrival_rate_per_s`"), "{stderr}");
    assert!(
        stderr.contains("expected a number greater than 0, found -3"),
        "{stderr}"
    );
}

#[test]
fn every_file_is_validated_before_any_runs_and_validate_only_runs_none() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(scenario("inbound-happy-path.toml")).unwrap();
    // "a-good" sorts first: a run that did not validate first would run it.
    write_scenario(dir.path(), "a-good.toml", &good);
    let bad = good.replace("time_bound_s = ", "speed = 3\ntime_bound_s = ");
    write_scenario(dir.path(), "b-bad.toml", &bad);
    let out = dir.path().join("out");
    let result = crossdock()
        .args(["run", dir.path().to_str().unwrap(), "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("b-bad.toml:") && stderr.contains("speed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 of 2 scenario(s) invalid; none was run"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing ran");

    // Two scenarios of one run under one name would share OUT/<name>/.
    write_scenario(dir.path(), "b-bad.toml", &good);
    let result = crossdock()
        .args(["run", "--validate-only", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("name \"inbound-happy-path\" is also"), "{stderr}");
    std::fs::remove_file(dir.path().join("b-bad.toml")).unwrap();
    let result = crossdock()
        .args(["run", "--validate-only", dir.path().to_str().unwrap(), "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&result.stdout).contains("1 scenario(s) valid"));
    assert!(!out.exists(), "--validate-only runs nothing");
}

#[test]
fn a_missing_scenario_exits_2_and_bad_arguments_exit_2() {
    let result = crossdock()
        .args(["run", "/nonexistent/none.toml"])
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&result.stderr).contains("/nonexistent/none.toml"));

    let result = crossdock().args(["run"]).output().unwrap();
    assert_eq!(result.status.code(), Some(2));
}

#[test]
fn an_unreachable_events_server_exits_2_naming_it() {
    // Port 1 on loopback: nothing listens there, the connection is refused.
    let out = tempfile::tempdir().unwrap();
    let result = crossdock()
        .args(["run", "--events", "nats://127.0.0.1:1", "--out"])
        .arg(out.path())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/inbound-happy-path.toml"
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("NATS JetStream (--events) is unreachable"),
        "{stderr}"
    );
}
