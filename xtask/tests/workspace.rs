//! The repository's own crates pass the checks; a planted cycle and a long
//! function in a crate of their own do not.

use std::path::Path;

#[test]
fn every_crate_of_the_workspace_is_layered_and_its_functions_fit_on_a_screen() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let reports = xtask::check_workspace(&root).unwrap();
    let names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
    for must in ["checker", "harness", "integration-core", "scenario"] {
        assert!(names.contains(&must), "{must} not checked: {names:?}");
    }
    assert!(
        reports.iter().all(xtask::CrateReport::acceptable),
        "{}",
        xtask::render(&reports)
    );
    // An exemption is for a crate that still needs it, and says what is left.
    for (name, left) in xtask::NOT_YET_ENFORCED {
        let r = reports
            .iter()
            .find(|r| r.name == *name)
            .expect("an exempted crate exists");
        assert!(!r.ok(), "{name} passes now: drop its exemption ({left})");
    }
}

#[test]
fn a_planted_cycle_and_a_long_function_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::B;\npub struct A;\n").unwrap();
    let long_body = "    let _ = 1;\n".repeat(xtask::MAX_FN_LINES);
    std::fs::write(
        src.join("b.rs"),
        format!("use super::a::A;\npub struct B;\nfn long() {{\n{long_body}}}\n"),
    )
    .unwrap();
    let report = xtask::check_crate("planted", &src).unwrap();
    assert!(!report.ok());
    assert_eq!(report.cycles, vec![vec!["a".to_owned(), "b".to_owned()]]);
    assert_eq!(report.long_fns.len(), 1, "{report:?}");
    assert_eq!(report.long_fns[0].name, "long");
    assert_eq!(report.long_fns[0].lines, xtask::MAX_FN_LINES + 2);
}
