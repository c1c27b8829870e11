//! `CROSSDOCK_*` variables over the configuration file, through to the
//! core's configuration.

use std::time::Duration;

use super::env::*;
use super::file::*;
use super::serve::core_config;
use integration_core::Caller;

fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn the_environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("core.toml");
    std::fs::write(
        &path,
        "[partners]\nerp = \"http://127.0.0.1:9001\"\n[auth]\nerp_token = \"erp-token-from-the-file\"\n[rate_limit]\nper_second = 5\n",
    )
    .unwrap();
    let mut f = load_config(Some(&path)).unwrap();
    let warnings = apply_env(
        &mut f,
        vars(&[
            ("CROSSDOCK_PARTNERS_ERP", "http://127.0.0.1:9002"),
            ("CROSSDOCK_AUTH_ERP_TOKEN", "erp-token-from-the-env"),
            (
                "CROSSDOCK_AUTH_SUPPLIERS",
                "5060000000016=supplier-token-one-1, 5060000000023=supplier-token-two-2",
            ),
            ("CROSSDOCK_RATE_LIMIT_BURST", "7"),
            ("CROSSDOCK_LOG", "debug"),
            ("HOME", "/root"),
        ]),
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let (c, generated) = core_config(&f).unwrap();
    assert!(generated.is_none());
    assert_eq!(c.partners.erp, "http://127.0.0.1:9002");
    assert_eq!(c.credentials.caller("erp-token-from-the-env"), Some(&Caller::Erp));
    assert_eq!(c.credentials.caller("erp-token-from-the-file"), None);
    assert_eq!(
        c.credentials.caller("supplier-token-two-2"),
        Some(&Caller::Supplier {
            gln: "5060000000023".into()
        })
    );
    let rl = c.rate_limit.unwrap();
    assert_eq!((rl.per_second.get(), rl.burst.get()), (5, 7));

    // The breaker and the per-partner limits, over the file's.
    std::fs::write(
        &path,
        "[retry]\nconcurrency = 8\nbreaker_failures = 3\n[retry.partner_concurrency]\nsupplier = 4\n",
    )
    .unwrap();
    let mut f = load_config(Some(&path)).unwrap();
    let warnings = apply_env(
        &mut f,
        vars(&[
            ("CROSSDOCK_RETRY_BREAKER_FAILURES", "9"),
            ("CROSSDOCK_RETRY_BREAKER_COOL_DOWN_MS", "750"),
            ("CROSSDOCK_RETRY_PARTNER_CONCURRENCY", "erp=15, wms=2"),
        ]),
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let (c, _) = core_config(&f).unwrap();
    assert_eq!(c.retry.breaker.failure_threshold, 9);
    assert_eq!(c.retry.breaker.cool_down, Duration::from_millis(750));
    assert_eq!(c.retry.limit(contracts::Role::Erp), 15);
    assert_eq!(c.retry.limit(contracts::Role::Wms), 2);
    // The variable replaces the file's table: supplier falls back.
    assert_eq!(c.retry.limit(contracts::Role::Supplier), 8);

    let mut f = CoreFile::default();
    let w = apply_env(&mut f, vars(&[("CROSSDOCK_RETRY_MAX_ATEMPTS", "3")])).unwrap();
    assert!(w[0].contains("CROSSDOCK_RETRY_MAX_ATEMPTS"), "{w:?}");
    let mut f = CoreFile::default();
    apply_env(&mut f, vars(&[("CROSSDOCK_RATE_LIMIT_ENABLED", "false")])).unwrap();
    assert_eq!(core_config(&f).unwrap().0.rate_limit, None);
}

#[test]
fn a_bad_variable_is_named_with_what_was_expected() {
    for (var, value, expected) in [
        ("CROSSDOCK_RETRY_MAX_ATTEMPTS", "0", "expected a positive integer"),
        (
            "CROSSDOCK_PARTNERS_WMS",
            "wms.local",
            "expected an http:// or https:// URL",
        ),
        ("CROSSDOCK_AUTH_OPS_TOKEN", "short", "at least 16"),
        (
            "CROSSDOCK_AUTH_SUPPLIERS",
            "5060000000017=supplier-token-one-1",
            "item 1: expected a GLN",
        ),
        ("CROSSDOCK_LISTEN", "here", "expected an address"),
        (
            "CROSSDOCK_RETRY_BREAKER_FAILURES",
            "-1",
            "expected a positive integer",
        ),
        (
            "CROSSDOCK_RETRY_BREAKER_COOL_DOWN_MS",
            "soon",
            "expected a positive integer",
        ),
        (
            "CROSSDOCK_RETRY_PARTNER_CONCURRENCY",
            "erp=15,crm=2",
            "item 2: expected a partner erp, wms or supplier",
        ),
        (
            "CROSSDOCK_RETRY_PARTNER_CONCURRENCY",
            "erp=0",
            "item 1: expected a positive integer",
        ),
        (
            "CROSSDOCK_RETRY_PARTNER_CONCURRENCY",
            "erp",
            "item 1: expected partner=limit",
        ),
        (
            "CROSSDOCK_RETRY_PARTNER_CONCURRENCY",
            "wms=2,wms=3",
            "item 2: partner wms given twice",
        ),
    ] {
        let mut f = CoreFile::default();
        let e = apply_env(&mut f, vars(&[(var, value)])).unwrap_err();
        let text = e.to_string();
        assert!(text.contains(&format!("environment variable {var}: ")), "{text}");
        assert!(text.contains(expected), "{text}");
        assert_eq!(e.exit_code(), crate::exit::BAD_INPUT);
    }
    // The same token for two callers is refused after resolving.
    let mut f = CoreFile::default();
    apply_env(
        &mut f,
        vars(&[
            ("CROSSDOCK_AUTH_ERP_TOKEN", "one-token-for-both"),
            ("CROSSDOCK_AUTH_WMS_TOKEN", "one-token-for-both"),
        ]),
    )
    .unwrap();
    let e = core_config(&f).unwrap_err().to_string();
    assert!(
        e.contains("auth.wms_token") && e.contains("auth.erp_token"),
        "{e}"
    );
}
