//! The suite's HTTP client: every attempt is recorded as an [`Exchange`]
//! (party `harness`, peer the certified role), a 429 is noted for the
//! rate-limit check and waited out (Retry-After, at most a few seconds,
//! at most [`MAX_429_RETRIES`] times, same key and body), and the bearer
//! token goes on every request unless a check leaves it off on purpose.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use contracts::http::{IDEMPOTENCY_KEY, RETRY_AFTER, TRACEPARENT, TraceParent, error_chain};
use contracts::{Direction, Exchange, Role};
use simulators::recorder::{Recorder, now_us};

/// How many times one request is repeated after a 429.
pub const MAX_429_RETRIES: u32 = 3;
/// The longest a 429's Retry-After is honoured for; beyond, the suite waits this.
pub const MAX_429_WAIT: Duration = Duration::from_secs(5);

/// Which Authorization header a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The configured token, when there is one.
    Configured,
    /// None at all.
    Missing,
    /// A token the target cannot accept.
    Wrong,
}

/// One request of the suite.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub body: Option<Vec<u8>>,
    pub idempotency_key: Option<String>,
    pub auth: Auth,
}

/// The answer to one request, as far as the suite cares.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// `None` on a transport error.
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub retry_after: Option<String>,
    pub raw: Vec<u8>,
    pub body: Option<serde_json::Value>,
    pub error: Option<String>,
    /// Time waited out after 429s, as Retry-After asked, before this answer.
    pub waited: Duration,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        matches!(self.status, Some(200..=299))
    }

    pub fn is_problem_json(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with(contracts::problem::PROBLEM_JSON))
    }

    pub fn is_json(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/json") || c.contains("+json"))
    }

    /// `status 201` or the transport error, for details.
    pub fn describe(&self) -> String {
        match (self.status, &self.error) {
            (Some(s), _) => format!("status {s}"),
            (None, Some(e)) => format!("no answer ({e})"),
            (None, None) => "no answer".into(),
        }
    }
}

/// A 429 the target answered.
#[derive(Debug, Clone)]
pub struct TooMany {
    pub method: String,
    pub path: String,
    pub retry_after: Option<String>,
}

/// The recording client to the certified target.
#[derive(Debug, Clone)]
pub struct TargetClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    /// Per calling role, for a core target (see [`caller_of`]).
    caller_tokens: Vec<(Role, String)>,
    recorder: Recorder,
    peer: Role,
    too_many: Arc<Mutex<Vec<TooMany>>>,
    /// One line per request sent (not per 429 repeat): method, path, key, body hash.
    sent: Arc<Mutex<Vec<String>>>,
    /// Every document the target accepted (2xx), for judging its callbacks.
    accepted: Arc<Mutex<Vec<Accepted>>>,
    /// Time spent waiting out 429s as their Retry-After asked.
    retry_waits: Arc<Mutex<Duration>>,
}

/// A document the target accepted, and when it answered.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub path: String,
    pub body: serde_json::Value,
    pub answered_at: std::time::Instant,
}

impl TargetClient {
    pub fn new(base: &str, token: Option<String>, recorder: Recorder, peer: Role, timeout: Duration) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .expect("a plain HTTP client builds"),
            base: base.trim_end_matches('/').to_owned(),
            token,
            caller_tokens: Vec::new(),
            recorder,
            peer,
            too_many: Arc::default(),
            sent: Arc::default(),
            accepted: Arc::default(),
            retry_waits: Arc::default(),
        }
    }

    /// Tokens per calling role, for a core target.
    pub fn with_caller_tokens(mut self, tokens: Vec<(Role, String)>) -> Self {
        self.caller_tokens = tokens;
        self
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some() || !self.caller_tokens.is_empty()
    }

    /// Whether a request to `path` carries a token.
    pub fn has_token_for(&self, path: &str) -> bool {
        self.token_for(path).is_some()
    }

    /// The token a request to `path` carries: its caller's, else the
    /// general one.
    fn token_for(&self, path: &str) -> Option<&str> {
        caller_of(path)
            .and_then(|role| self.caller_tokens.iter().find(|(r, _)| *r == role))
            .map(|(_, t)| t.as_str())
            .or(self.token.as_deref())
    }

    /// Every document the target accepted so far.
    pub fn accepted(&self) -> Vec<Accepted> {
        self.accepted.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How long the client waited out 429s, as the target's Retry-After asked.
    pub fn retry_waits(&self) -> Duration {
        *self.retry_waits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every 429 seen so far.
    pub fn too_many(&self) -> Vec<TooMany> {
        self.too_many.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether anything answers at the target's base URL (any HTTP status).
    pub async fn reachable(&self) -> Result<(), String> {
        match self.http.get(&self.base).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(error_chain(&e)),
        }
    }

    /// How many requests were sent, and the SHA-256 over their sorted
    /// descriptions (method, path, Idempotency-Key, body).
    pub fn requests_digest(&self) -> (u64, String) {
        use sha2::Digest;
        let mut lines = self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone();
        lines.sort();
        let mut h = sha2::Sha256::new();
        for line in &lines {
            h.update(line.as_bytes());
            h.update(b"\n");
        }
        (lines.len() as u64, format!("{:x}", h.finalize()))
    }

    /// Sends `req`; after a 429 waits and repeats it (same key, same body).
    pub async fn send(&self, req: &Request<'_>) -> Answer {
        use sha2::Digest;
        let body_hash = format!(
            "{:x}",
            sha2::Sha256::digest(req.body.as_deref().unwrap_or_default())
        );
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).push(format!(
            "{} {} {} {:?} {body_hash}",
            req.method,
            req.path,
            req.idempotency_key.as_deref().unwrap_or("-"),
            req.auth
        ));
        // The trace follows from the request, so the same seed sends the
        // same traceparent (and a core's trace ids repeat with it).
        let trace = {
            let d = sha2::Sha256::digest(format!(
                "{} {} {} {body_hash}",
                req.method,
                req.path,
                req.idempotency_key.as_deref().unwrap_or("-")
            ));
            let mut t = [0u8; 16];
            t.copy_from_slice(&d[..16]);
            let mut p = [0u8; 8];
            p.copy_from_slice(&d[16..24]);
            TraceParent::from_random(u128::from_be_bytes(t), u64::from_be_bytes(p))
        };
        let mut tries = 0;
        let mut waited = Duration::ZERO;
        loop {
            let mut answer = self.send_once(req, &trace).await;
            answer.waited = waited;
            if answer.status != Some(429) {
                if answer.is_success()
                    && let Some(body) = req.body.as_deref().and_then(|b| serde_json::from_slice(b).ok())
                {
                    self.accepted
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(Accepted {
                            path: req.path.to_owned(),
                            body,
                            answered_at: std::time::Instant::now(),
                        });
                }
                return answer;
            }
            self.too_many
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(TooMany {
                    method: req.method.to_owned(),
                    path: req.path.to_owned(),
                    retry_after: answer.retry_after.clone(),
                });
            tries += 1;
            if tries > MAX_429_RETRIES {
                return answer;
            }
            let wait = answer
                .retry_after
                .as_deref()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(Duration::from_secs(1), Duration::from_secs)
                .min(MAX_429_WAIT);
            *self.retry_waits.lock().unwrap_or_else(|e| e.into_inner()) += wait;
            waited += wait;
            tokio::time::sleep(wait).await;
        }
    }

    async fn send_once(&self, req: &Request<'_>, trace: &TraceParent) -> Answer {
        let started_at_us = now_us();
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut builder = self
            .http
            .request(method, format!("{}{}", self.base, req.path))
            .header(TRACEPARENT, trace.header_value());
        if let Some(body) = &req.body {
            builder = builder
                .header("content-type", "application/json")
                .body(body.clone());
        }
        if let Some(key) = &req.idempotency_key {
            builder = builder.header(IDEMPOTENCY_KEY, key);
        }
        match (req.auth, self.token_for(req.path)) {
            (Auth::Configured, Some(t)) => builder = builder.bearer_auth(t),
            (Auth::Wrong, _) => builder = builder.bearer_auth("crossdock-certify-wrong-token"),
            _ => {}
        }
        let answer = match builder.send().await {
            Err(e) => Answer {
                error: Some(error_chain(&e)),
                ..Answer::default()
            },
            Ok(resp) => {
                let status = resp.status().as_u16();
                let header = |name: &str| {
                    resp.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let (content_type, retry_after) = (header("content-type"), header(RETRY_AFTER));
                match resp.bytes().await {
                    Ok(bytes) => Answer {
                        status: Some(status),
                        content_type,
                        retry_after,
                        body: serde_json::from_slice(&bytes).ok(),
                        raw: bytes.to_vec(),
                        error: None,
                        waited: Duration::ZERO,
                    },
                    Err(e) => Answer {
                        error: Some(format!("reading the answer to a {status}: {}", error_chain(&e))),
                        ..Answer::default()
                    },
                }
            }
        };
        self.recorder
            .record(Exchange {
                seq: 0,
                party: Role::Harness,
                peer: self.peer,
                direction: Direction::Outbound,
                method: req.method.to_owned(),
                endpoint: req.path.to_owned(),
                status: answer.status,
                error: answer.error.clone(),
                started_at_us,
                finished_at_us: now_us(),
                idempotency_key: req.idempotency_key.clone(),
                trace_id: Some(trace.trace_id.clone()),
                replayed: false,
                fault: None,
                handler_status: None,
                request: req.body.as_deref().and_then(|b| serde_json::from_slice(b).ok()),
                response: answer.body.clone(),
            })
            .await;
        answer
    }
}

/// Which role calls a core path, or a resource under it (the core binds
/// each token to one caller); `Core` stands for the core's operator.
pub fn caller_of(path: &str) -> Option<Role> {
    use contracts::routes::core;
    const CALLERS: &[(&str, Role)] = &[
        (core::PURCHASE_ORDERS, Role::Erp),
        (core::ORDER_RELEASES, Role::Erp),
        (core::PO_ACKNOWLEDGEMENTS, Role::Supplier),
        (core::ASNS, Role::Supplier),
        (core::INVOICES, Role::Supplier),
        (core::GOODS_RECEIPTS, Role::Wms),
        (core::SHIPMENT_CONFIRMATIONS, Role::Wms),
        (core::INVENTORY_ADJUSTMENTS, Role::Wms),
        // The operator (`--token-for ops=T`).
        ("/v1/ops", Role::Core),
        ("/v1/trace", Role::Core),
        (core::METRICS, Role::Core),
    ];
    CALLERS
        .iter()
        .find(|(p, _)| {
            path.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
        .map(|(_, role)| *role)
}
