//! `CROSSDOCK_*` environment variables over the configuration file.

use std::path::PathBuf;

use scenario::Positive;

use super::file::*;

/// The environment variables `crossdock core` reads, each overriding the
/// file key beside it. `CROSSDOCK_AUTH_SUPPLIERS` is a comma-separated list
/// of `gln=token`, replacing the file's `[[auth.suppliers]]`.
pub const ENV_VARS: [(&str, &str); 27] = [
    ("CROSSDOCK_LISTEN", "listen"),
    ("CROSSDOCK_DATABASE", "database"),
    ("CROSSDOCK_STORE", "store"),
    ("CROSSDOCK_OUTBOX_LEASE_MS", "outbox_lease_ms"),
    ("CROSSDOCK_COMMIT_INTERVAL_MS", "commit_interval_ms"),
    ("CROSSDOCK_PARTNERS_ERP", "partners.erp"),
    ("CROSSDOCK_PARTNERS_WMS", "partners.wms"),
    ("CROSSDOCK_PARTNERS_SUPPLIER", "partners.supplier"),
    ("CROSSDOCK_RETRY_MAX_ATTEMPTS", "retry.max_attempts"),
    ("CROSSDOCK_RETRY_BASE_MS", "retry.base_ms"),
    ("CROSSDOCK_RETRY_CAP_MS", "retry.cap_ms"),
    ("CROSSDOCK_RETRY_TIMEOUT_MS", "retry.timeout_ms"),
    ("CROSSDOCK_RETRY_CONCURRENCY", "retry.concurrency"),
    ("CROSSDOCK_RETRY_BREAKER_FAILURES", "retry.breaker_failures"),
    (
        "CROSSDOCK_RETRY_BREAKER_COOL_DOWN_MS",
        "retry.breaker_cool_down_ms",
    ),
    ("CROSSDOCK_RETRY_PARTNER_CONCURRENCY", "retry.partner_concurrency"),
    ("CROSSDOCK_AUTH_ERP_TOKEN", "auth.erp_token"),
    ("CROSSDOCK_AUTH_WMS_TOKEN", "auth.wms_token"),
    ("CROSSDOCK_AUTH_OPS_TOKEN", "auth.ops_token"),
    ("CROSSDOCK_AUTH_SUPPLIERS", "auth.suppliers"),
    ("CROSSDOCK_RATE_LIMIT_ENABLED", "rate_limit.enabled"),
    ("CROSSDOCK_RATE_LIMIT_PER_SECOND", "rate_limit.per_second"),
    ("CROSSDOCK_RATE_LIMIT_BURST", "rate_limit.burst"),
    ("CROSSDOCK_EVENTS_URL", "events.url"),
    ("CROSSDOCK_EVENTS_STREAM", "events.stream"),
    ("CROSSDOCK_EVENTS_SUBJECT_PREFIX", "events.subject_prefix"),
    ("CROSSDOCK_EVENTS_SOURCE", "events.source"),
];

/// Variables with the prefix that other commands read; not a typo.
const OTHER_VARS: [&str; 1] = ["CROSSDOCK_LOG"];

fn positive(s: &str) -> Result<Positive, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(Positive(n)),
        _ => Err(format!("expected a positive integer, found {s:?}")),
    }
}

/// `erp=15,wms=8`: in-flight limits for single partners (each at most once).
fn partner_concurrency(s: &str) -> Result<PartnerConcurrencyFile, String> {
    let mut limits = PartnerConcurrencyFile::default();
    for (i, item) in s.split(',').map(str::trim).filter(|i| !i.is_empty()).enumerate() {
        let item_no = i + 1;
        let (partner, n) = item
            .split_once('=')
            .ok_or_else(|| format!("item {item_no}: expected partner=limit (e.g. erp=15), found {item:?}"))?;
        let slot = match partner.trim() {
            "erp" => &mut limits.erp,
            "wms" => &mut limits.wms,
            "supplier" => &mut limits.supplier,
            other => {
                return Err(format!(
                    "item {item_no}: expected a partner erp, wms or supplier, found {other:?}"
                ));
            }
        };
        if slot.is_some() {
            return Err(format!("item {item_no}: partner {} given twice", partner.trim()));
        }
        *slot = Some(positive(n).map_err(|e| format!("item {item_no}: {e}"))?);
    }
    Ok(limits)
}

/// Overrides `file` with the `CROSSDOCK_*` variables among `vars`. Returns
/// warnings (unknown `CROSSDOCK_*` names, likely typos).
pub fn apply_env(
    file: &mut CoreFile,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>, CoreCmdError> {
    let mut warnings = Vec::new();
    for (name, value) in vars {
        if !name.starts_with("CROSSDOCK_") || OTHER_VARS.contains(&name.as_str()) {
            continue;
        }
        let bad = |message: String| CoreCmdError::BadInput(format!("environment variable {name}: {message}"));
        match name.as_str() {
            "CROSSDOCK_LISTEN" => {
                file.listen = value.parse().map_err(|_| {
                    bad(format!(
                        "expected an address such as 127.0.0.1:8080, found {value:?}"
                    ))
                })?;
            }
            "CROSSDOCK_DATABASE" if value.is_empty() => {
                return Err(bad("expected a file path, found nothing".into()));
            }
            "CROSSDOCK_DATABASE" => file.database = PathBuf::from(value),
            "CROSSDOCK_STORE" => file.store = Some(value.parse().map_err(bad)?),
            "CROSSDOCK_OUTBOX_LEASE_MS" => file.outbox_lease_ms = Some(positive(&value).map_err(bad)?),
            "CROSSDOCK_COMMIT_INTERVAL_MS" => file.commit_interval_ms = Some(value.parse().map_err(bad)?),
            "CROSSDOCK_PARTNERS_ERP" => file.partners.erp = value.parse().map_err(bad)?,
            "CROSSDOCK_PARTNERS_WMS" => file.partners.wms = value.parse().map_err(bad)?,
            "CROSSDOCK_PARTNERS_SUPPLIER" => file.partners.supplier = value.parse().map_err(bad)?,
            "CROSSDOCK_RETRY_MAX_ATTEMPTS" => file.retry.max_attempts = Some(positive(&value).map_err(bad)?),
            "CROSSDOCK_RETRY_BASE_MS" => file.retry.base_ms = Some(positive(&value).map_err(bad)?),
            "CROSSDOCK_RETRY_CAP_MS" => file.retry.cap_ms = Some(positive(&value).map_err(bad)?),
            "CROSSDOCK_RETRY_TIMEOUT_MS" => file.retry.timeout_ms = Some(positive(&value).map_err(bad)?),
            "CROSSDOCK_RETRY_CONCURRENCY" => file.retry.concurrency = Some(positive(&value).map_err(bad)?),
            "CROSSDOCK_RETRY_BREAKER_FAILURES" => {
                file.retry.breaker_failures = Some(positive(&value).map_err(bad)?)
            }
            "CROSSDOCK_RETRY_BREAKER_COOL_DOWN_MS" => {
                file.retry.breaker_cool_down_ms = Some(positive(&value).map_err(bad)?)
            }
            "CROSSDOCK_RETRY_PARTNER_CONCURRENCY" => {
                file.retry.partner_concurrency = partner_concurrency(&value).map_err(bad)?
            }
            "CROSSDOCK_AUTH_ERP_TOKEN" => file.auth.erp_token = Some(value.parse().map_err(bad)?),
            "CROSSDOCK_AUTH_WMS_TOKEN" => file.auth.wms_token = Some(value.parse().map_err(bad)?),
            "CROSSDOCK_AUTH_OPS_TOKEN" => file.auth.ops_token = Some(value.parse().map_err(bad)?),
            "CROSSDOCK_AUTH_SUPPLIERS" => {
                let mut suppliers = Vec::new();
                for (i, item) in value
                    .split(',')
                    .map(str::trim)
                    .filter(|i| !i.is_empty())
                    .enumerate()
                {
                    let (gln, token) = item
                        .split_once('=')
                        .ok_or_else(|| bad(format!("item {}: expected gln=token", i + 1)))?;
                    suppliers.push(SupplierToken {
                        gln: gln
                            .trim()
                            .parse()
                            .map_err(|e| bad(format!("item {}: {e}", i + 1)))?,
                        token: token
                            .trim()
                            .parse()
                            .map_err(|e| bad(format!("item {}: {e}", i + 1)))?,
                    });
                }
                file.auth.suppliers = suppliers;
            }
            "CROSSDOCK_RATE_LIMIT_ENABLED" => {
                file.rate_limit.enabled = Some(match value.trim() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    other => return Err(bad(format!("expected true or false, found {other:?}"))),
                });
            }
            "CROSSDOCK_RATE_LIMIT_PER_SECOND" => {
                file.rate_limit.per_second = Some(positive(&value).map_err(bad)?)
            }
            "CROSSDOCK_RATE_LIMIT_BURST" => file.rate_limit.burst = Some(positive(&value).map_err(bad)?),
            "CROSSDOCK_EVENTS_URL" => file.events.url = Some(value),
            "CROSSDOCK_EVENTS_STREAM" => file.events.stream = Some(value),
            "CROSSDOCK_EVENTS_SUBJECT_PREFIX" => file.events.subject_prefix = Some(value),
            "CROSSDOCK_EVENTS_SOURCE" => file.events.source = Some(value),
            _ => warnings.push(format!(
                "ignoring unknown environment variable {name} (crossdock core reads {})",
                ENV_VARS.map(|(v, _)| v).join(", ")
            )),
        }
    }
    Ok(warnings)
}
