//! The recording reverse proxy (axum in, reqwest out) before an external
//! party: every exchange is forwarded and recorded as the party's, so its
//! history has the same shape as a simulator's.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contracts::http::IDEMPOTENT_REPLAYED;
use contracts::{Direction, Problem, Role};
use simulators::recorder::{Recorder, now_us};
use simulators::{Server, serve_plain};

use super::activity::Activity;

/// Largest body the proxies forward.
const MAX_PROXY_BODY: usize = 16 * 1024 * 1024;

/// One recording reverse proxy: every request is forwarded to `upstream`
/// and recorded in `recorder` as `party`'s exchange with `peer`.
#[derive(Clone)]
struct Proxy {
    upstream: String,
    recorder: Recorder,
    party: Role,
    peer: Role,
    direction: Direction,
    /// Replaces the caller's `Authorization`, when set.
    bearer: Option<String>,
    http: reqwest::Client,
    activity: Arc<Activity>,
}

/// Headers that belong to one connection, not to the exchange.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "upgrade"
            | "host"
            | "content-length"
            | "accept-encoding"
    )
}

async fn forward(State(p): State<Proxy>, req: Request) -> Response {
    p.activity.in_flight.fetch_add(1, Ordering::SeqCst);
    let response = forward_recorded(&p, req).await;
    p.activity.last_us.store(now_us(), Ordering::SeqCst);
    p.activity.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

async fn forward_recorded(p: &Proxy, req: Request) -> Response {
    let started_at_us = now_us();
    let (parts, body) = req.into_parts();
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut exchange = simulators::request_exchange(&parts, p.party, p.peer, p.direction, started_at_us);
    let bytes = match to_bytes(body, MAX_PROXY_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return problem(413, "body-too-large", format!("request body too large: {e}"));
        }
    };
    let mut out = p.http.request(
        reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET),
        format!("{}{path_and_query}", p.upstream),
    );
    for (name, value) in &parts.headers {
        if hop_by_hop(name) || (p.bearer.is_some() && name == header::AUTHORIZATION) {
            continue;
        }
        out = out.header(name.as_str(), value.as_bytes());
    }
    if let Some(token) = &p.bearer {
        out = out.bearer_auth(token);
    }
    let answer = match out.body(bytes.clone()).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let headers: Vec<(String, Vec<u8>)> = r
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect();
            r.bytes()
                .await
                .map(|b| (status, headers, b))
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| format!("{e}: {s}"))),
    };
    exchange.finished_at_us = now_us();
    match answer {
        Ok((status, headers, rbytes)) => {
            exchange.status = Some(status);
            exchange.replayed = headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case(IDEMPOTENT_REPLAYED) && v == b"true");
            p.recorder
                .record_raw(exchange, Some(bytes), Some(rbytes.clone()))
                .await;
            let mut response = Response::new(Body::from(rbytes));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            for (n, v) in headers {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(n.as_bytes()),
                    axum::http::HeaderValue::from_bytes(&v),
                ) && !hop_by_hop(&n)
                {
                    response.headers_mut().append(n, v);
                }
            }
            response
        }
        Err(e) => {
            exchange.error = Some(e.clone());
            p.recorder.record_raw(exchange, Some(bytes), None).await;
            problem(
                502,
                "upstream-unreachable",
                format!("{} did not answer: {e}", p.upstream),
            )
        }
    }
}

fn problem(status: u16, kind: &str, detail: String) -> Response {
    let body = Problem::new(status, kind, "recording proxy").with_detail(detail);
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        [(header::CONTENT_TYPE, "application/problem+json")],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}

/// Starts a recording reverse proxy on `listener` to `upstream`: requests
/// are recorded as `party`'s exchanges with `peer` (`direction` as the
/// party sees it), `bearer` replacing the caller's token when set.
#[allow(clippy::too_many_arguments)]
pub fn start_proxy(
    listener: tokio::net::TcpListener,
    upstream: &str,
    recorder: Recorder,
    party: Role,
    peer: Role,
    direction: Direction,
    bearer: Option<String>,
    activity: Arc<Activity>,
) -> std::io::Result<Server> {
    let proxy = Proxy {
        upstream: upstream.trim_end_matches('/').to_owned(),
        recorder,
        party,
        peer,
        direction,
        bearer,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(std::io::Error::other)?,
        activity,
    };
    serve_plain(listener, Router::new().fallback(forward).with_state(proxy))
}
