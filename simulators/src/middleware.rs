//! The one middleware every simulator runs: inject the fault its
//! [`FaultSet`] decides, then record the exchange as it really happened —
//! what the caller saw, and what the party's own logic did.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use contracts::http::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, RETRY_AFTER};
use contracts::{Direction, Exchange, Problem, Role};

use crate::faults::{AfterCommit, Decision, Fault, FaultSet, Malformation};
use crate::recorder::{Recorder, now_us};
use crate::server::ConnKill;
use crate::{CONTROL_PREFIX, MAX_BODY_BYTES, body_bytes, problem_response};

/// Who records inbound exchanges, as whom, and with which faults.
#[derive(Debug, Clone)]
pub struct InboundRecording {
    pub recorder: Recorder,
    pub party: Role,
    /// Who calls this party in the integration.
    pub peer: Role,
    pub faults: Arc<FaultSet>,
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Resets the connection and never answers. Without a kill switch (the
/// router driven without [`crate::serve`]) it answers 502 instead.
async fn reset(kill: Option<ConnKill>) -> Response {
    match kill {
        Some(kill) => {
            kill.reset();
            std::future::pending().await
        }
        None => problem_response(Problem::new(502, "connection-reset", "connection reset by fault")),
    }
}

fn with_retry_after(mut r: Response, seconds: Option<u64>) -> Response {
    if let Some(s) = seconds {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

/// A fault answer the handler never saw.
fn refusal(decision: &Decision, fault: &Fault) -> Option<Response> {
    let r = match fault {
        Fault::Status {
            status,
            retry_after_s,
        } => with_retry_after(
            problem_response(
                Problem::new(*status, "injected-fault", "injected fault")
                    .with_detail(format!("the simulator answered {status} by a fault rule")),
            ),
            *retry_after_s,
        ),
        Fault::Outage { retry_after_s, .. } => with_retry_after(
            problem_response(
                Problem::new(503, "outage", "service unavailable").with_detail("the simulated party is down"),
            ),
            Some(*retry_after_s),
        ),
        Fault::Quota { burst, per_s } => {
            let info = decision.rate_limit.clone();
            let retry = info.as_ref().map_or(1, |i| i.retry_after_s);
            let mut r = with_retry_after(
                problem_response(
                    Problem::new(429, "quota-exceeded", "too many requests")
                        .with_detail(format!("quota of {burst} requests per {per_s} s exceeded")),
                ),
                Some(retry),
            );
            let h = r.headers_mut();
            let window = per_s.ceil() as u64;
            if let Ok(v) = HeaderValue::from_str(&format!("\"default\";q={burst};w={window}")) {
                h.insert("ratelimit-policy", v);
            }
            if let Ok(v) = HeaderValue::from_str(&format!("\"default\";r=0;t={retry}")) {
                h.insert("ratelimit", v);
            }
            r
        }
        Fault::Concurrency { limit, retry_after_s } => with_retry_after(
            problem_response(
                Problem::new(429, "concurrency-exceeded", "too many concurrent requests")
                    .with_detail(format!("at most {limit} requests may be in flight")),
            ),
            Some(*retry_after_s),
        ),
        _ => return None,
    };
    Some(r)
}

/// A body that trickles out at `bytes_per_s`.
fn dribble(bytes: Bytes, bytes_per_s: u32) -> Body {
    let chunk = (bytes_per_s / 10).max(1) as usize;
    let chunks: Vec<Bytes> = bytes.chunks(chunk).map(Bytes::copy_from_slice).collect();
    let stream = futures_util::stream::unfold(chunks.into_iter(), |mut rest| async move {
        let next = rest.next()?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((Ok::<_, std::convert::Infallible>(next), rest))
    });
    Body::from_stream(stream)
}

/// The record of an exchange whose request head is `parts`, as `party`
/// sees it (its key and trace id taken from the headers); the answer,
/// bodies and end time are the caller's to fill in.
pub fn request_exchange(
    parts: &axum::http::request::Parts,
    party: Role,
    peer: Role,
    direction: Direction,
    started_at_us: u64,
) -> Exchange {
    Exchange {
        seq: 0,
        party,
        peer,
        direction,
        method: parts.method.as_str().to_owned(),
        endpoint: parts.uri.path().to_owned(),
        status: None,
        error: None,
        started_at_us,
        finished_at_us: 0,
        idempotency_key: header_str(&parts.headers, IDEMPOTENCY_KEY),
        trace_id: crate::trace_of(&parts.headers).map(|t| t.trace_id),
        replayed: false,
        fault: None,
        handler_status: None,
        request: None,
        response: None,
    }
}

/// axum middleware: fault injection and recording for every non-control
/// request a simulator serves.
///
/// The state is behind an `Arc`: axum clones it for every request.
pub async fn record_inbound(State(rec): State<Arc<InboundRecording>>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with(CONTROL_PREFIX) {
        return next.run(req).await;
    }
    let started_at_us = now_us();
    let caller = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("anonymous");
    let decision = rec.faults.decide(req.uri().path(), caller);
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    let kill = ConnKill::current();
    let (parts, body) = req.into_parts();
    let bytes = match body_bytes(body, MAX_BODY_BYTES).await {
        // Copied off hyper's read buffer: the record holds the body until the
        // writer thread is done with it, and while a slice of that buffer
        // lives hyper cannot reuse it and allocates a new one per request.
        Ok(b) => Bytes::copy_from_slice(&b),
        Err(e) => {
            return problem_response(
                Problem::new(413, "body-too-large", "request body too large").with_detail(e.to_string()),
            );
        }
    };
    let mut exchange = request_exchange(&parts, rec.party, rec.peer, Direction::Inbound, started_at_us);
    exchange.fault = decision.fault.as_ref().map(|f| f.name().to_owned());

    // Faults that answer (or fail) without running the party's logic.
    match &decision.fault {
        Some(Fault::Reset)
        | Some(Fault::Outage {
            mode: crate::faults::OutageMode::Refuse,
            ..
        }) => {
            exchange.error = Some("connection reset by fault".into());
            exchange.finished_at_us = now_us();
            rec.recorder.record_raw(exchange, Some(bytes), None).await;
            return reset(kill).await;
        }
        Some(Fault::Hang { max_s }) => {
            exchange.error = Some(format!("hung by fault, reset after {max_s} s"));
            exchange.finished_at_us = now_us();
            rec.recorder.record_raw(exchange, Some(bytes), None).await;
            tokio::time::sleep(Duration::from_secs(*max_s)).await;
            return reset(kill).await;
        }
        Some(fault) => {
            if let Some(response) = refusal(&decision, fault) {
                let (rparts, rbody) = response.into_parts();
                let rbytes = body_bytes(rbody, usize::MAX).await.unwrap_or_default();
                exchange.status = Some(rparts.status.as_u16());
                exchange.finished_at_us = now_us();
                rec.recorder
                    .record_raw(exchange, Some(bytes), Some(rbytes.clone()))
                    .await;
                return Response::from_parts(rparts, Body::from(rbytes));
            }
        }
        None => {}
    }

    // The party's own logic runs.
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    let (mut rparts, rbody) = response.into_parts();
    let rbytes = body_bytes(rbody, usize::MAX).await.unwrap_or_default();
    exchange.replayed = rparts
        .headers
        .get(IDEMPOTENT_REPLAYED)
        .is_some_and(|v| v == "true");
    let handler_status = rparts.status.as_u16();

    let request = Some(bytes);
    match decision.fault {
        Some(Fault::CommitThenFail { then }) => {
            exchange.handler_status = Some(handler_status);
            match then {
                AfterCommit::GatewayTimeout => {
                    let r = problem_response(
                        Problem::new(504, "gateway-timeout", "gateway timeout")
                            .with_detail("the request may or may not have been applied"),
                    );
                    let (fparts, fbody) = r.into_parts();
                    let fbytes = body_bytes(fbody, usize::MAX).await.unwrap_or_default();
                    exchange.status = Some(504);
                    exchange.finished_at_us = now_us();
                    rec.recorder
                        .record_raw(exchange, request, Some(fbytes.clone()))
                        .await;
                    Response::from_parts(fparts, Body::from(fbytes))
                }
                AfterCommit::Reset => {
                    exchange.error = Some("connection reset by fault after commit".into());
                    exchange.finished_at_us = now_us();
                    // What the party answered, though the caller never saw it.
                    rec.recorder.record_raw(exchange, request, Some(rbytes)).await;
                    reset(kill).await
                }
            }
        }
        Some(Fault::Malformed { mode }) => {
            exchange.handler_status = Some(handler_status);
            exchange.status = Some(handler_status);
            let corrupt = match mode {
                Malformation::NotJson => {
                    Bytes::from_static(b"<html><body>Internal gateway page</body></html>")
                }
                Malformation::SchemaInvalid => Bytes::from_static(b"{\"unexpected\":[1,2,3]}"),
            };
            exchange.finished_at_us = now_us();
            rec.recorder
                .record_raw(exchange, request, Some(corrupt.clone()))
                .await;
            rparts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(rparts, Body::from(corrupt))
        }
        Some(Fault::SlowBody { bytes_per_s }) => {
            exchange.status = Some(handler_status);
            exchange.finished_at_us = now_us();
            rec.recorder
                .record_raw(exchange, request, Some(rbytes.clone()))
                .await;
            rparts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(rparts, dribble(rbytes, bytes_per_s))
        }
        _ => {
            exchange.status = Some(handler_status);
            exchange.finished_at_us = now_us();
            rec.recorder
                .record_raw(exchange, request, Some(rbytes.clone()))
                .await;
            drop(decision);
            Response::from_parts(rparts, Body::from(rbytes))
        }
    }
}

/// Wraps a simulator's router with fault injection and recording. A path
/// the party does not serve is answered 404, a method it does not serve
/// 405, both problem+json like every other refusal.
pub fn recorded(router: Router, recording: InboundRecording) -> Router {
    router
        .fallback(not_served)
        .method_not_allowed_fallback(method_not_served)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(recording),
            record_inbound,
        ))
}

async fn not_served(uri: axum::http::Uri) -> Response {
    problem_response(
        Problem::new(404, "not-found", "no such resource")
            .with_detail(format!("the simulated party serves nothing at {}", uri.path())),
    )
}

async fn method_not_served(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    problem_response(
        Problem::new(405, "method-not-allowed", "method not allowed")
            .with_detail(format!("{} does not serve {method}", uri.path())),
    )
}
