//! The core benchmarks run in a minimal configuration and print their
//! figures (the figures themselves go in docs/PERFORMANCE.md, not here).

use std::process::Command;

use crate::turn;

fn bench(args: &[&str], dir: &std::path::Path) -> String {
    let result = Command::new(env!("CARGO_BIN_EXE_crossdock-bench"))
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(
        result.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

#[test]
fn core_intake_bench_runs_both_modes_and_prints_the_ratio() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let out = bench(
        &[
            "core-intake",
            "--asns",
            "20",
            "--concurrency",
            "4",
            "--max-seconds",
            "20",
        ],
        dir.path(),
    );
    for mode in ["naive #1", "group #1", "naive median", "group median"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(mode))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(line.contains("20 ASNs") && line.contains("0 errors"), "{line}");
    }
    assert!(out.contains("ratio "), "{out}");
    assert!(dir.path().join("grouped.sqlite").exists());
}

/// `bench core-lifecycle` for 1 s (20 s to drain) with `args`.
fn lifecycle(args: &[&str], dir: &std::path::Path) -> String {
    let base = ["core-lifecycle", "--seconds", "1", "--drain-seconds", "20"];
    bench(&[&base[..], args].concat(), dir)
}

#[test]
fn core_lifecycle_bench_drains_every_released_po() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let out = lifecycle(&["--concurrency", "2"], dir.path());
    assert_all_drained(&out, 1);
}

/// Every run's "drained    N of N POs completed after …; 0 dead letters".
fn assert_all_drained(out: &str, runs: usize) {
    let drained: Vec<&str> = out.lines().filter(|l| l.starts_with("drained")).collect();
    assert_eq!(drained.len(), runs, "{out}");
    for line in drained {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[1], words[3], "{line}");
        assert_ne!(words[1], "0", "{line}");
        assert!(line.ends_with("0 dead letters"), "{line}");
    }
}

#[test]
fn core_lifecycle_bench_on_postgres_prints_the_curve_over_replicas() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let out = lifecycle(
        &[
            "--concurrency",
            "4",
            "--store",
            "postgres://postgres@127.0.0.1:5432",
            "--replicas",
            "1,2",
        ],
        dir.path(),
    );
    assert_all_drained(&out, 2);
    assert_eq!(out.lines().filter(|l| l.starts_with("cpu ")).count(), 2, "{out}");
    let curve: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("curve"))
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(curve.len(), 2, "{out}");
    assert_eq!((curve[0][1], curve[0][4]), ("1", "1.00x"), "{out}");
    assert_eq!(curve[1][1], "2", "{out}");
    assert!(
        !dir.path().join("lifecycle.sqlite").exists(),
        "the store was PostgreSQL"
    );
}
