//! The core's configuration from the file's values, and running it.

use std::future::Future;
use std::time::Duration;

use integration_core::{Caller, CoreConfig, Credentials, Partners, RateLimit};

use super::file::*;

/// Tokens generated for a run that configured none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedTokens {
    pub erp: String,
    pub wms: String,
    pub ops: String,
}

/// The core's configuration from the file's values.
///
/// With no token configured at all, tokens for the ERP, WMS and operators
/// are generated and returned so the caller can show them.
pub fn core_config(file: &CoreFile) -> Result<(CoreConfig, Option<GeneratedTokens>), CoreCmdError> {
    let mut config = CoreConfig::new(
        match &file.store {
            Some(StoreText(integration_core::StoreLocation::Sqlite(path))) => path.clone(),
            _ => file.database.clone(),
        },
        Partners {
            erp: file.partners.erp.0.clone(),
            wms: file.partners.wms.0.clone(),
            supplier: file.partners.supplier.0.clone(),
        },
    );
    if let Some(StoreText(integration_core::StoreLocation::Postgres(url))) = &file.store {
        config.postgres = Some(url.clone());
    }
    if let Some(ms) = file.outbox_lease_ms {
        config.store.lease = Duration::from_millis(u64::from(ms.0));
    }
    if let Some(CommitIntervalMs(ms)) = file.commit_interval_ms {
        config.store.commit_interval = Duration::from_millis(u64::from(ms));
    }
    let a = &file.auth;
    let generated =
        (a.erp_token.is_none() && a.wms_token.is_none() && a.ops_token.is_none() && a.suppliers.is_empty())
            .then(|| {
                let token = || format!("{:032x}", rand::random::<u128>());
                GeneratedTokens {
                    erp: token(),
                    wms: token(),
                    ops: token(),
                }
            });
    let mut credentials = Credentials::default();
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut add = |what: String, token: &str, caller: Caller| {
        if let Some((_, first)) = seen.iter().find(|(t, _)| *t == token) {
            return Err(CoreCmdError::BadInput(format!(
                "{what}: the same token is already {first}'s; each caller needs its own"
            )));
        }
        seen.push((token.to_owned(), what.clone()));
        credentials.insert(token, caller);
        Ok(())
    };
    if let Some(g) = &generated {
        add("auth.erp_token".into(), &g.erp, Caller::Erp)?;
        add("auth.wms_token".into(), &g.wms, Caller::Wms)?;
        add("auth.ops_token".into(), &g.ops, Caller::Ops)?;
    }
    for (what, token, caller) in [
        ("auth.erp_token", &a.erp_token, Caller::Erp),
        ("auth.wms_token", &a.wms_token, Caller::Wms),
        ("auth.ops_token", &a.ops_token, Caller::Ops),
    ] {
        if let Some(t) = token {
            add(what.into(), &t.0, caller)?;
        }
    }
    for (i, s) in a.suppliers.iter().enumerate() {
        add(
            format!("auth.suppliers[{i}] (gln {})", s.gln.0),
            &s.token.0,
            Caller::Supplier { gln: s.gln.0.clone() },
        )?;
    }
    config.credentials = credentials;
    let rl = &file.rate_limit;
    if rl.enabled.unwrap_or(true) {
        let per_second = rl.per_second.map_or(1000, |p| p.0);
        let burst = rl.burst.map_or(per_second.saturating_mul(2), |p| p.0);
        config.rate_limit = Some(RateLimit {
            per_second: std::num::NonZeroU32::new(per_second).expect("Positive is at least 1"),
            burst: std::num::NonZeroU32::new(burst).expect("Positive is at least 1"),
        });
    }
    let r = &file.retry;
    if let Some(n) = r.max_attempts {
        config.retry.policy.max_attempts = n.0;
    }
    if let Some(n) = r.base_ms {
        config.retry.backoff.base = Duration::from_millis(u64::from(n.0));
    }
    if let Some(n) = r.cap_ms {
        config.retry.backoff.cap = Duration::from_millis(u64::from(n.0));
    }
    if let Some(n) = r.timeout_ms {
        config.retry.timeout = Duration::from_millis(u64::from(n.0));
    }
    if let Some(n) = r.concurrency {
        config.retry.concurrency = n.0 as usize;
    }
    if let Some(n) = r.breaker_failures {
        config.retry.breaker.failure_threshold = n.0;
    }
    if let Some(n) = r.breaker_cool_down_ms {
        config.retry.breaker.cool_down = Duration::from_millis(u64::from(n.0));
    }
    config.events = file.events.resolve()?;
    let p = &r.partner_concurrency;
    config.retry.limits.erp = p.erp.map(|n| n.0 as usize);
    config.retry.limits.wms = p.wms.map(|n| n.0 as usize);
    config.retry.limits.supplier = p.supplier.map(|n| n.0 as usize);
    if config.retry.backoff.base > config.retry.backoff.cap {
        return Err(CoreCmdError::BadInput(format!(
            "retry: expected base_ms <= cap_ms, found {} > {}",
            config.retry.backoff.base.as_millis(),
            config.retry.backoff.cap.as_millis()
        )));
    }
    Ok((config, generated))
}

/// Runs the core on `listen` until `shutdown`; `started` gets its URL.
pub async fn run_core(
    file: CoreFile,
    started: impl FnOnce(&str),
    shutdown: impl Future<Output = ()>,
) -> Result<(), CoreCmdError> {
    let (config, generated) = core_config(&file)?;
    if let Some(g) = &generated {
        eprintln!(
            "crossdock: no bearer tokens configured; generated for this run:\n  erp: {}\n  wms: {}\n  ops: {}\n  (suppliers have none: configure [[auth.suppliers]] or CROSSDOCK_AUTH_SUPPLIERS)",
            g.erp, g.wms, g.ops
        );
    } else if file.auth.suppliers.is_empty() {
        eprintln!("crossdock: warning: no supplier tokens configured; suppliers will get 401");
    }
    if let Some(dir) = config
        .database
        .parent()
        .filter(|d| config.postgres.is_none() && !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|e| CoreCmdError::Start {
            what: format!("create {}", dir.display()),
            message: e.to_string(),
        })?;
    }
    let listener = tokio::net::TcpListener::bind(file.listen)
        .await
        .map_err(|e| CoreCmdError::Start {
            what: format!("listen on {}", file.listen),
            message: e.to_string(),
        })?;
    let on_postgres = config.postgres.is_some();
    let core = integration_core::start(config, listener).map_err(|e| match e {
        integration_core::StartError::Database { source, .. } if on_postgres => {
            CoreCmdError::Unreachable(source.to_string())
        }
        e => CoreCmdError::Start {
            what: "start the core".into(),
            message: e.to_string(),
        },
    })?;
    started(&core.url());
    shutdown.await;
    core.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::env::apply_env;
    use super::*;

    #[test]
    fn defaults_run_on_a_fresh_machine_and_a_file_overrides_them() {
        let d = load_config(None).unwrap();
        assert_eq!(d.listen, default_listen());
        assert_eq!(d.database, default_database());
        let (c, generated) = core_config(&d).unwrap();
        assert_eq!(c.partners.erp, "http://127.0.0.1:7001");
        assert!(generated.is_some(), "no tokens configured: some are generated");
        assert!(!c.credentials.is_empty());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("core.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:0\"\n[partners]\nwms = \"http://127.0.0.1:9000\"\n[retry]\nmax_attempts = 3\ncap_ms = 200\n").unwrap();
        let f = load_config(Some(&path)).unwrap();
        let (c, _) = core_config(&f).unwrap();
        assert_eq!(c.partners.wms, "http://127.0.0.1:9000");
        assert_eq!(c.partners.erp, "http://127.0.0.1:7001");
        assert_eq!(c.retry.policy.max_attempts, 3);
        assert_eq!(c.retry.backoff.cap, Duration::from_millis(200));
    }

    /// `text` as core.toml in a temporary directory (kept with the guard).
    fn config_file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("core.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn events_come_from_the_file_or_the_environment_and_are_checked() {
        let (c, _) = core_config(&CoreFile::default()).unwrap();
        assert_eq!(c.events, None, "off by default");
        let (_dir, path) =
            config_file("[events]\nurl = \"nats://127.0.0.1:4222\"\nsubject_prefix = \"x.y\"\n");
        let mut f = load_config(Some(&path)).unwrap();
        let vars = [("CROSSDOCK_EVENTS_STREAM".to_owned(), "S1".to_owned())];
        assert!(apply_env(&mut f, vars).unwrap().is_empty());
        let (c, _) = core_config(&f).unwrap();
        let e = c.events.unwrap();
        assert_eq!(
            (e.url.as_str(), e.stream.as_str(), e.subject_prefix.as_str()),
            ("nats://127.0.0.1:4222", "S1", "x.y")
        );
        assert_eq!(e.source, "/crossdock/core");

        f.events.url = Some("http://127.0.0.1:4222".into());
        let err = core_config(&f).unwrap_err().to_string();
        assert!(
            err.contains("events") && err.contains("nats://host:port"),
            "{err}"
        );
        f.events.url = None;
        let err = core_config(&f).unwrap_err().to_string();
        assert!(err.contains("without url"), "{err}");
    }

    #[test]
    fn the_store_is_a_sqlite_path_or_a_postgres_url_from_the_file_or_the_environment() {
        let (c, _) = core_config(&CoreFile::default()).unwrap();
        assert_eq!((c.postgres, c.database), (None, default_database()));
        let (_dir, path) =
            config_file("store = \"postgres://postgres@127.0.0.1:5432/crossdock\"\noutbox_lease_ms = 2000\n");
        let mut f = load_config(Some(&path)).unwrap();
        let (c, _) = core_config(&f).unwrap();
        assert_eq!(
            c.postgres.as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/crossdock")
        );
        assert_eq!(c.store.lease, Duration::from_millis(2000));
        // The environment overrides the file: a path is SQLite again.
        let vars = [("CROSSDOCK_STORE".to_owned(), "data/core.sqlite".to_owned())];
        apply_env(&mut f, vars).unwrap();
        let (c, _) = core_config(&f).unwrap();
        assert_eq!(
            (c.postgres, c.database),
            (None, PathBuf::from("data/core.sqlite"))
        );

        std::fs::write(&path, "listen = \"127.0.0.1:0\"\nstore = \"postgres://h:port\"\n").unwrap();
        let e = load_config(Some(&path)).unwrap_err().to_string();
        assert!(e.contains("core.toml:2:") && e.contains("store"), "{e}");
        assert!(e.contains("invalid PostgreSQL URL"), "{e}");
        let vars = [("CROSSDOCK_STORE".to_owned(), String::new())];
        let e = apply_env(&mut CoreFile::default(), vars).unwrap_err();
        assert!(
            e.to_string()
                .contains("CROSSDOCK_STORE: expected a SQLite file path or a postgres:// URL")
        );
        assert_eq!(e.exit_code(), crate::exit::BAD_INPUT);
    }

    #[test]
    fn the_commit_interval_and_outbox_lease_come_from_the_file_or_the_environment() {
        let (c, _) = core_config(&CoreFile::default()).unwrap();
        assert_eq!(
            c.store.commit_interval,
            integration_core::StoreOptions::default().commit_interval
        );
        let (_dir, path) = config_file("commit_interval_ms = 0\noutbox_lease_ms = 2000\n");
        let mut f = load_config(Some(&path)).unwrap();
        let (c, _) = core_config(&f).unwrap();
        assert_eq!(c.store.commit_interval, Duration::ZERO);
        let vars = [
            ("CROSSDOCK_COMMIT_INTERVAL_MS".to_owned(), "5".to_owned()),
            ("CROSSDOCK_OUTBOX_LEASE_MS".to_owned(), "700".to_owned()),
            (
                "CROSSDOCK_EVENTS_URL".to_owned(),
                "nats://127.0.0.1:4222".to_owned(),
            ),
            ("CROSSDOCK_EVENTS_SUBJECT_PREFIX".to_owned(), "a.b".to_owned()),
            ("CROSSDOCK_EVENTS_SOURCE".to_owned(), "/dc/7".to_owned()),
        ];
        assert!(apply_env(&mut f, vars).unwrap().is_empty());
        let (c, _) = core_config(&f).unwrap();
        assert_eq!(c.store.commit_interval, Duration::from_millis(5));
        assert_eq!(c.store.lease, Duration::from_millis(700));
        let e = c.events.unwrap();
        assert_eq!((e.subject_prefix.as_str(), e.source.as_str()), ("a.b", "/dc/7"));

        std::fs::write(&path, "listen = \"127.0.0.1:0\"\ncommit_interval_ms = 1001\n").unwrap();
        let e = load_config(Some(&path)).unwrap_err().to_string();
        assert!(
            e.contains("core.toml:2:") && e.contains("commit_interval_ms"),
            "{e}"
        );
        assert!(e.contains("from 0 (off) to 1000, found 1001"), "{e}");
        for bad in ["-1", "20ms", ""] {
            let vars = [("CROSSDOCK_COMMIT_INTERVAL_MS".to_owned(), bad.to_owned())];
            let e = apply_env(&mut CoreFile::default(), vars).unwrap_err();
            assert_eq!(e.exit_code(), crate::exit::BAD_INPUT);
            assert!(
                e.to_string()
                    .contains("CROSSDOCK_COMMIT_INTERVAL_MS: expected milliseconds"),
                "{e}"
            );
        }
    }

    #[tokio::test]
    async fn an_unreachable_postgres_store_is_bad_input_naming_it() {
        let mut f = CoreFile {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..CoreFile::default()
        };
        // Nothing listens on port 9 (discard).
        f.store = Some(
            "postgres://postgres:secret@127.0.0.1:9/crossdock"
                .parse()
                .unwrap(),
        );
        let e = run_core(f, |_| {}, async {}).await.unwrap_err();
        let text = e.to_string();
        assert_eq!(e.exit_code(), crate::exit::BAD_INPUT, "{text}");
        assert!(
            text.contains("PostgreSQL store (--store) is unreachable"),
            "{text}"
        );
        assert!(
            text.contains("postgres://postgres:***@127.0.0.1:9/crossdock"),
            "{text}"
        );
    }

    #[test]
    fn breaker_and_partner_limits_come_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("core.toml");
        std::fs::write(
            &path,
            "[retry]\nconcurrency = 8\nbreaker_failures = 3\nbreaker_cool_down_ms = 2500\n\
             [retry.partner_concurrency]\nerp = 15\n",
        )
        .unwrap();
        let (c, _) = core_config(&load_config(Some(&path)).unwrap()).unwrap();
        assert_eq!(c.retry.breaker.failure_threshold, 3);
        assert_eq!(c.retry.breaker.cool_down, Duration::from_millis(2500));
        assert_eq!(c.retry.limit(contracts::Role::Erp), 15);
        assert_eq!(c.retry.limit(contracts::Role::Wms), 8);

        std::fs::write(&path, "[retry.partner_concurrency]\ncrm = 2\n").unwrap();
        let e = load_config(Some(&path)).unwrap_err();
        assert!(e.to_string().contains("core.toml:2:"), "{e}");
    }

    #[test]
    fn bad_configuration_is_located_or_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("core.toml");
        std::fs::write(&path, "[retry]\nmax_attempts = 0\n").unwrap();
        let e = load_config(Some(&path)).unwrap_err();
        assert!(e.to_string().contains("core.toml:2:"), "{e}");
        assert!(e.to_string().contains("retry.max_attempts"), "{e}");

        std::fs::write(&path, "[partners]\nerp = \"ftp://x\"\n").unwrap();
        let e = load_config(Some(&path)).unwrap_err();
        assert!(e.to_string().contains("core.toml:2:"), "{e}");
        assert!(e.to_string().contains("partners.erp"), "{e}");
        assert!(e.to_string().contains("expected an http"), "{e}");
        assert_eq!(e.exit_code(), crate::exit::BAD_INPUT);

        std::fs::write(&path, "colour = \"blue\"\n").unwrap();
        let e = load_config(Some(&path)).unwrap_err();
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");
    }
}
