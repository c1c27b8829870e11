//! harness integration tests (one binary): whole runs, in-process and
//! through the `crossdock` binary.

mod binary;
mod certify;
mod certify_partners;
mod check;
mod contract_diff;
mod contracts_cmd;
mod core_cmd;
mod crash;
mod edi;
mod events;
mod external;
mod inventory_invoicing;
mod outbound;
mod receipts;
mod runs;
mod scenario_schema;
mod simulate;

use std::path::{Path, PathBuf};
use tokio::sync::{Mutex, MutexGuard};

/// Whole scenario runs take turns: on a two-core machine, several at once
/// would measure each other rather than the system (latency checks).
static SCENARIO_RUNS: Mutex<()> = Mutex::const_new(());

/// Holds the turn for a whole scenario run (async tests).
pub async fn scenario_turn() -> MutexGuard<'static, ()> {
    SCENARIO_RUNS.lock().await
}

/// Holds the turn for a whole scenario run (tests outside a runtime).
pub fn scenario_turn_blocking() -> MutexGuard<'static, ()> {
    SCENARIO_RUNS.blocking_lock()
}

/// A scenario file under the repository's `scenarios/`.
pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name)
}

/// Writes a scenario into `dir` and returns its path.
pub fn write_scenario(dir: &Path, file: &str, text: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// A small, fast scenario; `copies` is the ASN copy range.
pub fn small_scenario(name: &str, copies: (u32, u32), concurrent: bool) -> String {
    format!(
        r#"name = "{name}"
seed = 11
[load]
purchase_orders = 25
lines_per_po = {{ min = 1, max = 3 }}
arrival_rate_per_s = 200
time_bound_s = 20
[supplier]
asn_copies = {{ min = {}, max = {} }}
concurrent_copies = {concurrent}
[sla]
asn_to_expectation_p99_ms = 2000
"#,
        copies.0, copies.1
    )
}

/// Starts a long-running `crossdock` command and returns it with the URL it
/// prints on its first line of standard output.
pub fn spawn_server(args: &[&std::ffi::OsStr]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_crossdock"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    (child, url.trim().to_owned())
}

/// Sends Ctrl-C (SIGINT) and waits, at most 10 s, for the exit code.
pub fn interrupt(mut child: std::process::Child) -> Option<i32> {
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit within 10 s of SIGINT"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
