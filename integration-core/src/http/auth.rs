//! Who is calling, established in one place: [`admit`], run by the
//! router's one middleware (`http::observe`) on every request. It maps
//! `Authorization: Bearer` to a [`Caller`], refuses unknown tokens (401),
//! callers whose role does not serve the path (403) and callers over their
//! rate limit (429), and hands the caller to the handlers as a request
//! extension.
//!
//! Order inside [`admit`]: authenticate, authorise, then rate-limit,
//! so an unknown token never uses a partner's budget.
//!
//! Imports only `error`: it takes the credentials and the limiter, not the
//! core's state.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use sha2::{Digest, Sha256};

use contracts::Problem;
use contracts::http::RETRY_AFTER;
use contracts::routes::core;

use crate::error::problem_response;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    Erp,
    Wms,
    /// A supplier, known by its GLN: it may act only on its own POs.
    Supplier {
        gln: String,
    },
    /// An operator: the ops endpoints, /metrics and /v1/trace.
    Ops,
}

impl Caller {
    /// How the caller is named in logs, metrics and rate-limit keys.
    pub fn key(&self) -> String {
        match self {
            Caller::Erp => "erp".into(),
            Caller::Wms => "wms".into(),
            Caller::Supplier { gln } => format!("supplier:{gln}"),
            Caller::Ops => "ops".into(),
        }
    }

    fn role(&self) -> Need {
        match self {
            Caller::Erp => Need::Erp,
            Caller::Wms => Need::Wms,
            Caller::Supplier { .. } => Need::Supplier,
            Caller::Ops => Need::Ops,
        }
    }
}

/// Who may call a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// No token: the OpenAPI document.
    Public,
    Erp,
    Wms,
    Supplier,
    Ops,
    /// Any authenticated caller; the router decides (404 for unknown paths).
    Anyone,
}

/// The caller a path is for. Business paths belong to the role that sends
/// those documents; ops, trace and metrics to operators.
fn need(path: &str) -> Need {
    match path {
        "/openapi.json" => Need::Public,
        core::PURCHASE_ORDERS | core::ORDER_RELEASES => Need::Erp,
        core::PO_ACKNOWLEDGEMENTS | core::ASNS | core::INVOICES | core::X12_INTERCHANGES => Need::Supplier,
        core::GOODS_RECEIPTS | core::SHIPMENT_CONFIRMATIONS | core::INVENTORY_ADJUSTMENTS => Need::Wms,
        core::METRICS => Need::Ops,
        p if p.starts_with("/v1/ops/") || p.starts_with("/v1/trace/") => Need::Ops,
        _ => Need::Anyone,
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Bearer tokens and whom they stand for. Tokens are held as SHA-256
/// digests (a lookup's timing says nothing useful about a token) and never
/// printed.
#[derive(Clone, Default)]
pub struct Credentials {
    by_digest: HashMap<[u8; 32], Caller>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut callers: Vec<String> = self.by_digest.values().map(Caller::key).collect();
        callers.sort();
        f.debug_struct("Credentials").field("callers", &callers).finish()
    }
}

impl Credentials {
    /// Lets `token` act as `caller`; a token given twice keeps its last caller.
    pub fn insert(&mut self, token: &str, caller: Caller) {
        self.by_digest.insert(digest(token), caller);
    }

    /// Builder form of [`Credentials::insert`].
    pub fn with(mut self, token: &str, caller: Caller) -> Self {
        self.insert(token, caller);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }

    pub fn caller(&self, token: &str) -> Option<&Caller> {
        self.by_digest.get(&digest(token))
    }
}

/// A token bucket per caller on the core itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: NonZeroU32,
    /// Requests allowed at once above the sustained rate.
    pub burst: NonZeroU32,
}

pub(crate) struct Limiter {
    limit: RateLimit,
    buckets: DefaultKeyedRateLimiter<String>,
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Self {
        let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
        Self {
            limit,
            buckets: DefaultKeyedRateLimiter::keyed(quota),
        }
    }

    /// `Err(wait)` when `key` is over its budget.
    fn check(&self, key: &str) -> Result<(), Duration> {
        self.buckets
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

fn unauthorized(detail: &str, token_given: bool) -> Response {
    let mut r = problem_response(
        Problem::new(401, "unauthorized", "a valid bearer token is required").with_detail(detail),
    );
    let challenge = if token_given {
        "Bearer realm=\"crossdock\", error=\"invalid_token\""
    } else {
        "Bearer realm=\"crossdock\""
    };
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    r
}

fn forbidden(caller: &Caller, path: &str) -> Response {
    problem_response(
        Problem::new(403, "forbidden", "the caller may not use this endpoint")
            .with_detail(format!("{} may not call {path}", caller.key())),
    )
}

fn too_many(caller: &Caller, limit: RateLimit, wait: Duration) -> Response {
    let retry_after = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut r = problem_response(
        Problem::new(429, "rate-limited", "too many requests").with_detail(format!(
            "{} is over its rate limit of {} requests per second (burst {})",
            caller.key(),
            limit.per_second,
            limit.burst
        )),
    );
    let h = r.headers_mut();
    h.insert(RETRY_AFTER, HeaderValue::from(retry_after));
    // IETF draft-ietf-httpapi-ratelimit-headers: the policy, and that the
    // caller has nothing left until `t` seconds from now.
    if let Ok(v) = HeaderValue::from_str(&format!(
        "\"per-partner\";q={};w=1",
        limit.per_second.get().max(limit.burst.get())
    )) {
        h.insert("ratelimit-policy", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"per-partner\";r=0;t={retry_after}")) {
        h.insert("ratelimit", v);
    }
    r
}

/// The bearer token of `Authorization`, if the header has that scheme.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The one place a request's caller is established (see the module docs):
/// `None` when admitted (the caller added to the request's extensions),
/// else the refusal to send instead.
pub(crate) fn admit(
    credentials: &Credentials,
    limiter: Option<&Limiter>,
    req: &mut Request,
) -> Option<Response> {
    let path = req.uri().path();
    let need = need(path);
    if need == Need::Public {
        return None;
    }
    let given = req.headers().contains_key(header::AUTHORIZATION);
    let Some(caller) = bearer(req).and_then(|t| credentials.caller(t)).cloned() else {
        tracing::info!(%path, token_given = given, "request refused: no valid bearer token");
        return Some(unauthorized(
            if given {
                "the bearer token is not known to the core"
            } else {
                "send Authorization: Bearer <token> (a partner's or an operator's token)"
            },
            given,
        ));
    };
    if need != Need::Anyone && need != caller.role() {
        tracing::info!(%path, caller = %caller.key(), "request refused: wrong role");
        return Some(forbidden(&caller, path));
    }
    if let Some(limiter) = limiter {
        if let Err(wait) = limiter.check(&caller.key()) {
            tracing::debug!(%path, caller = %caller.key(), ?wait, "request refused: rate limit");
            return Some(too_many(&caller, limiter.limit, wait));
        }
    }
    req.extensions_mut().insert(caller);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_belongs_to_the_role_that_sends_its_documents() {
        assert_eq!(need(core::PURCHASE_ORDERS), Need::Erp);
        assert_eq!(need(core::ASNS), Need::Supplier);
        assert_eq!(need(core::INVOICES), Need::Supplier);
        assert_eq!(need(core::GOODS_RECEIPTS), Need::Wms);
        assert_eq!(need(core::OPS_DEAD_LETTER_REPLAY), Need::Ops);
        assert_eq!(need("/v1/trace/0af7651916cd43dd8448eb211c80319c"), Need::Ops);
        assert_eq!(need(core::METRICS), Need::Ops);
        assert_eq!(need("/openapi.json"), Need::Public);
        assert_eq!(need("/nowhere"), Need::Anyone);
    }

    #[test]
    fn credentials_find_callers_by_token_and_never_print_tokens() {
        let c = Credentials::default().with("s3cret-erp", Caller::Erp).with(
            "s3cret-sup",
            Caller::Supplier {
                gln: "5060000000016".into(),
            },
        );
        assert_eq!(c.caller("s3cret-erp"), Some(&Caller::Erp));
        assert_eq!(
            c.caller("s3cret-sup").map(Caller::key).as_deref(),
            Some("supplier:5060000000016")
        );
        assert_eq!(c.caller("s3cret"), None);
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("supplier:5060000000016"), "{shown}");
    }
}
