//! A simulated party's HTTP client: every attempt is recorded as an
//! outbound [`Exchange`], and sends are retried the way a well-behaved
//! partner retries (same key and body; only after 408/409/429/5xx or a
//! network error; bounded exponential backoff; Retry-After honoured).
//!
//! Bodies go out as the bytes they were serialized to once
//! ([`json_body`]) and are recorded as those bytes; answers are kept raw and
//! parsed only by whoever asks ([`Attempt::json`]). The transport is hyper's
//! HTTP/1 connections (keep-alive, `TCP_NODELAY`), plain HTTP only: every
//! partner of a simulator is on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::uri::{Authority, PathAndQuery, Scheme};
use axum::http::{HeaderName, HeaderValue, Method, Request, Response, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::ServiceExt;

use contracts::http::{
    IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, RETRY_AFTER, TRACEPARENT, TraceParent, error_chain,
    retry_after_seconds,
};
use contracts::{Direction, Exchange, Role};

use crate::recorder::{Recorder, now_us};

/// How long one attempt may take, answer read to its end included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The request headers of ours, as names that cost no allocation per use
/// (a `&str` name is parsed and copied every time).
const IDEMPOTENCY_KEY_HEADER: HeaderName = HeaderName::from_static(IDEMPOTENCY_KEY);
const TRACEPARENT_HEADER: HeaderName = HeaderName::from_static(TRACEPARENT);

/// How long an idle pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// `document` as the JSON bytes a [`PartnerClient`] sends: serialized once,
/// compact.
pub fn json_body<T: Serialize + ?Sized>(document: &T) -> Bytes {
    // `serde_json::to_vec` starts at 128 bytes and doubles: two or three
    // reallocations for a one-line PO (~450 bytes) or ASN (~750).
    let mut bytes = Vec::with_capacity(1024);
    serde_json::to_writer(&mut bytes, document).expect("a wire document serializes");
    Bytes::from(bytes)
}

/// The result of one attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// HTTP status, or `None` on a transport error.
    pub status: Option<u16>,
    /// The answer's body as it came (empty without an answer).
    pub body: Bytes,
    pub retry_after: Option<Duration>,
    pub error: Option<String>,
}

impl Attempt {
    pub fn is_success(&self) -> bool {
        matches!(self.status, Some(200..=299))
    }

    /// Whether a partner may try again: transport errors, 408, 409 (in
    /// flight), 429 and 5xx; never other 4xx.
    pub fn is_retryable(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => matches!(s, 408 | 409 | 429) || s >= 500,
        }
    }

    /// An attempt that got no answer.
    fn failed(error: String) -> Self {
        Self {
            status: None,
            body: Bytes::new(),
            retry_after: None,
            error: Some(error),
        }
    }

    /// The answer's body as JSON, when it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        self.parse()
    }

    /// The answer's body as a `T`, when it is one.
    pub fn parse<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// How a simulated party retries.
#[derive(Debug, Clone, Copy)]
pub struct RetrySchedule {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base: Duration::from_millis(25),
            cap: Duration::from_secs(2),
        }
    }
}

impl RetrySchedule {
    /// Delay before attempt `attempt + 1` (attempt counts from 1).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.base.saturating_mul(1 << attempt.saturating_sub(1).min(16));
        exp.min(self.cap).max(retry_after.unwrap_or_default())
    }
}

/// Where a client's requests go: the peer's origin and the path its base
/// URL puts before every endpoint (usually none).
#[derive(Debug, Clone)]
struct Target {
    scheme: Scheme,
    authority: Authority,
    prefix: String,
}

impl Target {
    fn parse(base_url: &str) -> Result<Self, String> {
        let uri: Uri = base_url
            .parse()
            .map_err(|e| format!("invalid base URL {base_url:?}: {e}"))?;
        let parts = uri.into_parts();
        let (Some(scheme), Some(authority)) = (parts.scheme, parts.authority) else {
            return Err(format!("invalid base URL {base_url:?}: not absolute"));
        };
        if scheme != Scheme::HTTP {
            return Err(format!("invalid base URL {base_url:?}: only http is supported"));
        }
        let prefix = parts
            .path_and_query
            .map(|pq| pq.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        Ok(Self {
            scheme,
            authority,
            prefix,
        })
    }

    /// The origin-form target of a request to `path` (what goes on the
    /// request line of a connection to the peer).
    fn uri(&self, path: &str) -> Result<Uri, String> {
        let path_and_query = if self.prefix.is_empty() {
            PathAndQuery::try_from(path)
        } else {
            PathAndQuery::try_from(format!("{}{path}", self.prefix))
        }
        .map_err(|e| format!("invalid path {path:?}: {e}"))?;
        Ok(Uri::from(path_and_query))
    }
}

/// A kept-alive connection waiting for its next request.
#[derive(Debug)]
struct Idle {
    sender: SendRequest<Full<Bytes>>,
    since: Instant,
}

/// The client's HTTP/1 connections to its one peer, kept alive and reused.
///
/// hyper-util's pooled client did this before, but for a single origin on
/// 127.0.0.1 most of its per-request work was not needed: the pool key
/// (scheme and authority) cloned, hashed and looked up under a lock, a
/// connect future built beside every checkout, the URI rewritten to origin
/// form and a `Host` value formatted for every request, connection info put
/// in every answer's extensions. Here the pool is a stack of idle senders;
/// what it keeps of that client's behaviour: connections are made by its
/// connector (`TCP_NODELAY`), the newest idle one is used first, one idle for
/// [`POOL_IDLE_TIMEOUT`] is not reused (closed when a checkout finds it:
/// no timer sweeps the idle ones), a request a reused connection never
/// wrote (it closed meanwhile) is sent again on another, and errors read as
/// that client words them ("client error (Connect): tcp connect error: …").
#[derive(Debug)]
struct Transport {
    target: Target,
    /// `scheme://authority`, what the connector dials.
    origin: Uri,
    /// The `Host` of every request.
    host: HeaderValue,
    connector: HttpConnector,
    idle: Mutex<Vec<Idle>>,
}

impl Transport {
    fn new(target: Target) -> Result<Self, String> {
        let origin = Uri::builder()
            .scheme(target.scheme.clone())
            .authority(target.authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| format!("invalid base URL: {e}"))?;
        // As hyper-util's client writes it: the port only when not 80.
        let host = match target.authority.port_u16() {
            Some(port) if port != 80 => format!("{}:{port}", target.authority.host()),
            _ => target.authority.host().to_owned(),
        };
        let host = HeaderValue::try_from(host).map_err(|e| format!("invalid host: {e}"))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Ok(Self {
            target,
            origin,
            host,
            connector,
            idle: Mutex::default(),
        })
    }

    /// The newest idle connection that is still open, once it can take a
    /// request; `None` when there is none.
    async fn checkout(&self) -> Option<SendRequest<Full<Bytes>>> {
        loop {
            let mut sender = {
                let mut idle = self.idle.lock().expect("pool lock");
                loop {
                    let Idle { sender, since } = idle.pop()?;
                    if !sender.is_closed() && since.elapsed() < POOL_IDLE_TIMEOUT {
                        break sender;
                    }
                }
            };
            // Put back as soon as its answer was read, a connection may not
            // have taken up its next request yet: wait for it (an error if it
            // closed instead).
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    /// A new connection to the peer, its driver spawned.
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let io = self
            .connector
            .clone()
            .oneshot(self.origin.clone())
            .await
            .map_err(|e| format!("client error (Connect): {}", error_chain(&e)))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| format!("client error (Connect): {}", error_chain(&e)))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "client connection failed");
            }
        });
        Ok(sender)
    }

    /// Sends `request` on an idle connection or a new one; the answer, and
    /// the connection to give back once the answer is read.
    async fn send(
        &self,
        mut request: Request<Full<Bytes>>,
    ) -> Result<(SendRequest<Full<Bytes>>, Response<Incoming>), String> {
        request.headers_mut().insert(header::HOST, self.host.clone());
        loop {
            let (mut sender, reused) = match self.checkout().await {
                Some(sender) => (sender, true),
                None => (self.connect().await?, false),
            };
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((sender, response)),
                Err(mut e) => match e.take_message() {
                    // Never written: the idle connection closed meanwhile.
                    Some(unsent) if reused => request = unsent,
                    Some(_) => return Err(format!("client error (Canceled): {}", error_chain(e.error()))),
                    None => {
                        return Err(format!(
                            "client error (SendRequest): {}",
                            error_chain(&e.into_error())
                        ));
                    }
                },
            }
        }
    }

    /// Keeps a connection whose answer was read to its end for the next request.
    fn give_back(&self, sender: SendRequest<Full<Bytes>>) {
        self.idle.lock().expect("pool lock").push(Idle {
            sender,
            since: Instant::now(),
        });
    }
}

/// The `Authorization` a client sends once it has a token.
#[derive(Debug)]
struct Bearer {
    token: String,
    /// `None` when the token cannot be a header value: every attempt fails.
    header: Option<HeaderValue>,
}

/// A recording client from one party to one peer.
#[derive(Debug, Clone)]
pub struct PartnerClient {
    transport: Arc<Result<Transport, String>>,
    recorder: Recorder,
    party: Role,
    peer: Role,
    retry: RetrySchedule,
    /// `Authorization: Bearer` sent with every request, once configured.
    bearer: Arc<std::sync::OnceLock<Bearer>>,
}

/// An answer's `Retry-After` in seconds, when it has one.
fn retry_after(headers: &axum::http::HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after_seconds)
        .map(Duration::from_secs)
}

impl PartnerClient {
    pub fn new(base_url: impl Into<String>, recorder: Recorder, party: Role, peer: Role) -> Self {
        let base_url: String = base_url.into();
        Self {
            transport: Arc::new(Target::parse(base_url.trim_end_matches('/')).and_then(Transport::new)),
            recorder,
            party,
            peer,
            retry: RetrySchedule::default(),
            bearer: Arc::default(),
        }
    }

    /// Sends `token` as `Authorization: Bearer` from now on. The token is
    /// set once (the harness does it before any load); a second call is
    /// refused with the token already in use.
    pub fn set_bearer(&self, token: impl Into<String>) -> Result<(), String> {
        let token = token.into();
        let header = HeaderValue::try_from(format!("Bearer {token}"))
            .ok()
            .map(|mut v| {
                v.set_sensitive(true);
                v
            });
        self.bearer
            .set(Bearer { token, header })
            .map_err(|refused| refused.token)
    }

    /// The request of one attempt, or why it cannot be made. (Headers are
    /// inserted into the request's own map: `request::Builder` moves the
    /// whole head through a closure per header.)
    fn request(
        &self,
        target: &Target,
        path: &str,
        body: &Bytes,
        idempotency_key: &str,
        trace: &TraceParent,
    ) -> Result<Request<Full<Bytes>>, String> {
        let key = HeaderValue::from_str(idempotency_key)
            .map_err(|e| format!("invalid Idempotency-Key {idempotency_key:?}: {e}"))?;
        let traceparent =
            HeaderValue::try_from(trace.header_value()).map_err(|e| format!("invalid traceparent: {e}"))?;
        let authorization = match self.bearer.get() {
            Some(bearer) => Some(bearer.header.clone().ok_or("invalid bearer token")?),
            None => None,
        };
        let mut request = Request::new(Full::new(body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = target.uri(path)?;
        let headers = request.headers_mut();
        // Room for ours, `Authorization`, the transport's `Host` and the
        // `Content-Length` hyper adds when it writes the head: with room for
        // 6 only (what growing from empty gives), that last insert regrew
        // the map on the connection's task, every request.
        headers.reserve(7);
        headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(IDEMPOTENCY_KEY_HEADER, key);
        headers.insert(TRACEPARENT_HEADER, traceparent);
        if let Some(value) = authorization {
            headers.insert(header::AUTHORIZATION, value);
        }
        Ok(request)
    }

    /// Sends one request and reads its answer to the end, within
    /// [`ATTEMPT_TIMEOUT`]; the answer and whether it was a replay.
    async fn exchange(&self, transport: &Transport, request: Request<Full<Bytes>>) -> (Attempt, bool) {
        let failed = |error: String| (Attempt::failed(error), false);
        let sent = tokio::time::timeout(ATTEMPT_TIMEOUT, async {
            let (sender, response) = transport.send(request).await?;
            let (parts, body) = response.into_parts();
            match body.collect().await {
                Ok(collected) => {
                    transport.give_back(sender);
                    Ok((parts, collected.to_bytes()))
                }
                Err(e) => Err(format!(
                    "reading the answer to a {}: {}",
                    parts.status.as_u16(),
                    error_chain(&e)
                )),
            }
        })
        .await;
        match sent {
            Err(_) => failed(format!("timed out after {} s", ATTEMPT_TIMEOUT.as_secs())),
            Ok(Err(error)) => failed(error),
            Ok(Ok((parts, body))) => (
                Attempt {
                    status: Some(parts.status.as_u16()),
                    body,
                    retry_after: retry_after(&parts.headers),
                    error: None,
                },
                parts
                    .headers
                    .get(IDEMPOTENT_REPLAYED)
                    .is_some_and(|v| v == "true"),
            ),
        }
    }

    /// One recorded POST of `body` (JSON, as [`json_body`] makes it).
    pub async fn post_once(
        &self,
        path: &str,
        body: &Bytes,
        idempotency_key: &str,
        trace: &TraceParent,
    ) -> Attempt {
        let started_at_us = now_us();
        let made = self
            .transport
            .as_ref()
            .as_ref()
            .map_err(String::clone)
            .and_then(|transport| {
                let request = self.request(&transport.target, path, body, idempotency_key, trace)?;
                Ok((transport, request))
            });
        let (attempt, replayed) = match made {
            Ok((transport, request)) => self.exchange(transport, request).await,
            Err(error) => (Attempt::failed(error), false),
        };
        let exchange = Exchange {
            seq: 0,
            party: self.party,
            peer: self.peer,
            direction: Direction::Outbound,
            method: "POST".into(),
            endpoint: path.to_owned(),
            status: attempt.status,
            error: attempt.error.clone(),
            started_at_us,
            finished_at_us: now_us(),
            idempotency_key: Some(idempotency_key.to_owned()),
            trace_id: Some(trace.trace_id.clone()),
            replayed,
            fault: None,
            handler_status: None,
            request: None,
            response: None,
        };
        self.recorder
            .record_sent(exchange, body.clone(), Some(attempt.body.clone()))
            .await;
        attempt
    }

    /// POSTs until success, a non-retryable answer, or the schedule's last
    /// attempt; every attempt reuses the key and the body.
    pub async fn post(
        &self,
        path: &str,
        body: &Bytes,
        idempotency_key: &str,
        trace: &TraceParent,
    ) -> Attempt {
        let mut attempt_no = 1;
        loop {
            let attempt = self.post_once(path, body, idempotency_key, trace).await;
            if attempt.is_success() || !attempt.is_retryable() || attempt_no >= self.retry.max_attempts {
                if !attempt.is_success() {
                    tracing::warn!(
                        party = %self.party, peer = %self.peer, path, idempotency_key,
                        status = ?attempt.status, error = ?attempt.error,
                        "giving up after {attempt_no} attempts"
                    );
                }
                return attempt;
            }
            tokio::time::sleep(self.retry.delay(attempt_no, attempt.retry_after)).await;
            attempt_no += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_grows_caps_and_honours_retry_after() {
        let s = RetrySchedule {
            max_attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        assert_eq!(s.delay(1, None), Duration::from_millis(100));
        assert_eq!(s.delay(2, None), Duration::from_millis(200));
        assert_eq!(s.delay(5, None), Duration::from_secs(1));
        assert_eq!(s.delay(1, Some(Duration::from_secs(3))), Duration::from_secs(3));
    }

    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A peer on 127.0.0.1 answering every POST 200 `{}`, and closing the
    /// connection after the answer when the path is `/close`; it counts the
    /// connections it accepts and keeps the `Host` of every request.
    async fn peer() -> (String, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (accepted, hosts) = (Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(Vec::new())));
        let (count, seen) = (accepted.clone(), hosts.clone());
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                let seen = seen.clone();
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let host = req
                        .headers()
                        .get(header::HOST)
                        .map(|h| h.to_str().unwrap().to_owned());
                    seen.lock().unwrap().push(host.unwrap_or_default());
                    let close = req.uri().path() == "/close";
                    async move {
                        let mut answer = Response::new(Full::new(Bytes::from_static(b"{}")));
                        if close {
                            answer
                                .headers_mut()
                                .insert(header::CONNECTION, HeaderValue::from_static("close"));
                        }
                        Ok::<_, std::convert::Infallible>(answer)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                );
            }
        });
        (format!("http://{addr}"), accepted, hosts)
    }

    #[tokio::test]
    async fn a_connection_is_kept_for_the_next_request_and_replaced_once_closed() {
        let (url, accepted, hosts) = peer().await;
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::create(&dir.path().join("h.jsonl")).unwrap();
        let client = PartnerClient::new(&url, recorder.clone(), Role::Erp, Role::Core);
        let (body, trace) = (
            json_body(&serde_json::json!({"a": 1})),
            TraceParent::from_random(1, 1),
        );
        let post = |path: &'static str| {
            let (client, body, trace) = (client.clone(), body.clone(), trace.clone());
            async move { client.post_once(path, &body, "key-1", &trace).await }
        };
        for _ in 0..3 {
            assert_eq!(post("/x").await.status, Some(200));
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one connection for three requests"
        );
        // The peer closes the connection after this answer: the next request
        // goes out on a new one, and succeeds.
        assert_eq!(post("/close").await.status, Some(200));
        let after = post("/x").await;
        assert_eq!((after.status, after.error), (Some(200), None));
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        let host = url.trim_start_matches("http://");
        assert_eq!(*hosts.lock().unwrap(), vec![host; 5]);
        assert_eq!(recorder.flush().await.unwrap(), 5);
    }

    #[tokio::test]
    async fn a_refused_connection_is_worded_as_a_connect_error() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::create(&dir.path().join("h.jsonl")).unwrap();
        let client = PartnerClient::new(url, recorder, Role::Wms, Role::Core);
        let attempt = client
            .post_once("/x", &json_body(&1), "key-1", &TraceParent::from_random(1, 1))
            .await;
        assert_eq!(attempt.status, None);
        assert!(attempt.is_retryable());
        let error = attempt.error.unwrap_or_default();
        assert!(
            error.starts_with("client error (Connect): tcp connect error: "),
            "{error}"
        );
    }

    #[test]
    fn only_transient_answers_are_retryable() {
        let a = |status| Attempt {
            status,
            body: Bytes::new(),
            retry_after: None,
            error: None,
        };
        for s in [None, Some(408), Some(409), Some(429), Some(500), Some(503)] {
            assert!(a(s).is_retryable(), "{s:?}");
        }
        for s in [Some(400), Some(401), Some(404), Some(422)] {
            assert!(!a(s).is_retryable(), "{s:?}");
        }
    }
}
