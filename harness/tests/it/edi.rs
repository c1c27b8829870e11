//! `crossdock edi translate` and `crossdock contracts validate` on X12,
//! through the binary: a canonical ASN to an 856 and back, a broken
//! interchange refused with its X12 code, unreadable input exit 2.

use std::process::Command;

use harness::exit;

fn crossdock() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crossdock"))
}

fn example_asn() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../contracts/examples/AdvanceShipNotice/valid-typical.json")
}

#[test]
fn an_asn_translates_to_an_856_that_validates_and_translates_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = crossdock()
        .args([
            "edi",
            "translate",
            "--type",
            "AdvanceShipNotice",
            "--control",
            "42",
        ])
        .arg(example_asn())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(i32::from(exit::OK)), "{out:?}");
    let x12 = dir.path().join("asn.edi");
    std::fs::write(&x12, &out.stdout).unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ISA"));

    let valid = crossdock()
        .args(["contracts", "validate"])
        .arg(&x12)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&valid.stdout);
    assert_eq!(valid.status.code(), Some(i32::from(exit::OK)), "{text}");
    assert!(text.contains("valid X12 (1 transaction set(s))"), "{text}");

    let back = crossdock().args(["edi", "translate"]).arg(&x12).output().unwrap();
    assert_eq!(back.status.code(), Some(i32::from(exit::OK)), "{back:?}");
    let docs: serde_json::Value = serde_json::from_slice(&back.stdout).unwrap();
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example_asn()).unwrap()).unwrap();
    assert_eq!(docs[0]["document"], original);
    assert_eq!(docs[0]["interchange"], "000000042");
}

#[test]
fn a_broken_interchange_is_refused_with_its_x12_code_and_garbage_too() {
    let dir = tempfile::tempdir().unwrap();
    let out = crossdock()
        .args(["edi", "translate", "--type", "AdvanceShipNotice"])
        .arg(example_asn())
        .output()
        .unwrap();
    // IEA01 says two groups; the interchange holds one.
    let text = String::from_utf8(out.stdout).unwrap();
    let iea = text.rfind("IEA*1*").unwrap();
    let broken = format!("{}IEA*2*{}", &text[..iea], &text[iea + 6..]);
    let file = dir.path().join("broken.edi");
    std::fs::write(&file, broken).unwrap();
    for args in [&["contracts", "validate"][..], &["edi", "translate"][..]] {
        let out = crossdock().args(args).arg(&file).output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(i32::from(exit::CHECKS_FAILED)), "{all}");
        assert!(all.contains("TA105"), "{all}");
    }
    let garbage = dir.path().join("garbage.edi");
    std::fs::write(&garbage, "ISA*this is not an interchange").unwrap();
    let out = crossdock()
        .args(["edi", "translate"])
        .arg(&garbage)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(i32::from(exit::CHECKS_FAILED)));
    let missing = crossdock()
        .args(["edi", "translate", "/nonexistent.edi"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(i32::from(exit::BAD_INPUT)));
    let untyped = crossdock()
        .args(["edi", "translate"])
        .arg(example_asn())
        .output()
        .unwrap();
    assert_eq!(untyped.status.code(), Some(i32::from(exit::BAD_INPUT)));
    assert!(String::from_utf8_lossy(&untyped.stderr).contains("--type is required"));
}
