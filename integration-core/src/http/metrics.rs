//! Prometheus text exposition (format 0.0.4) of the core: request counts and
//! latency per endpoint, kept in memory by the router's middleware
//! (`http::observe`), and outbox depth, attempts and dead letters, read
//! from the store at scrape time (so they survive a restart).
//!
//! Imports only the store's [`OutboxRow`]; not the core's state.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use contracts::routes::core;

use crate::store::OutboxRow;

/// Upper bounds (seconds) of the latency histogram's buckets.
pub const LATENCY_BUCKETS_S: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Count per bucket (not cumulative); the last slot is +Inf.
    buckets: [u64; LATENCY_BUCKETS_S.len() + 1],
    sum_s: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let i = LATENCY_BUCKETS_S
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(LATENCY_BUCKETS_S.len());
        self.buckets[i] += 1;
        self.sum_s += seconds;
        self.count += 1;
    }
}

/// Request metrics, by (method, route template): both label values are
/// static strings, so recording a request allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    by_route: Mutex<ByRoute>,
}

#[derive(Debug, Default)]
struct ByRoute {
    /// (method, route, status) → count.
    requests: BTreeMap<(&'static str, &'static str, u16), u64>,
    /// (method, route) → latency.
    latency: BTreeMap<(&'static str, &'static str), Histogram>,
}

impl Metrics {
    pub fn record(&self, method: &'static str, route: &'static str, status: u16, seconds: f64) {
        let mut by_route = self.by_route.lock().expect("metrics lock");
        *by_route.requests.entry((method, route, status)).or_default() += 1;
        by_route
            .latency
            .entry((method, route))
            .or_default()
            .observe(seconds);
    }
}

/// The method's label: a standard method's name, or `OTHER` (so a client
/// cannot grow the label set).
pub(crate) fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    const KNOWN: [(Method, &str); 7] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
    ];
    KNOWN
        .iter()
        .find(|(m, _)| m == method)
        .map_or("OTHER", |(_, name)| name)
}

/// The route template of `path`: one of the core's paths, or `other`.
pub(crate) fn route_of(path: &str) -> &'static str {
    const ROUTES: [&str; 15] = [
        core::PURCHASE_ORDERS,
        core::X12_INTERCHANGES,
        core::PO_ACKNOWLEDGEMENTS,
        core::ASNS,
        core::GOODS_RECEIPTS,
        core::ORDER_RELEASES,
        core::SHIPMENT_CONFIRMATIONS,
        core::INVENTORY_ADJUSTMENTS,
        core::INVOICES,
        core::OPS_STATUS,
        core::OPS_DEAD_LETTERS,
        core::OPS_DEAD_LETTER_REPLAY,
        core::METRICS,
        "/openapi.json",
        core::OPS_TRACE,
    ];
    if path.starts_with("/v1/trace/") {
        return core::OPS_TRACE;
    }
    ROUTES.into_iter().find(|r| *r == path).unwrap_or("other")
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition text.
pub(crate) fn render(metrics: &Metrics, inbox: &[(String, i64)], outbox: &[OutboxRow]) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "# HELP crossdock_outbox_deliveries Outbox deliveries by partner and state (pending = queue depth)."
    );
    let _ = writeln!(w, "# TYPE crossdock_outbox_deliveries gauge");
    for state in ["pending", "delivered", "dead"] {
        for partner in ["erp", "wms", "supplier"] {
            let n: i64 = outbox
                .iter()
                .filter(|r| r.partner == partner && r.state == state)
                .map(|r| r.deliveries)
                .sum();
            let _ = writeln!(
                w,
                "crossdock_outbox_deliveries{{partner=\"{partner}\",state=\"{state}\"}} {n}"
            );
        }
    }
    let _ = writeln!(
        w,
        "# HELP crossdock_outbox_attempts_total Delivery attempts made, by partner."
    );
    let _ = writeln!(w, "# TYPE crossdock_outbox_attempts_total counter");
    for partner in ["erp", "wms", "supplier"] {
        let n: i64 = outbox
            .iter()
            .filter(|r| r.partner == partner)
            .map(|r| r.attempts)
            .sum();
        let _ = writeln!(w, "crossdock_outbox_attempts_total{{partner=\"{partner}\"}} {n}");
    }
    let dead: i64 = outbox
        .iter()
        .filter(|r| r.state == "dead")
        .map(|r| r.deliveries)
        .sum();
    let _ = writeln!(
        w,
        "# HELP crossdock_dead_letters Deliveries given up on, awaiting replay."
    );
    let _ = writeln!(w, "# TYPE crossdock_dead_letters gauge");
    let _ = writeln!(w, "crossdock_dead_letters {dead}");
    let _ = writeln!(
        w,
        "# HELP crossdock_intake_messages_total Messages taken in, by kind (stored; survives restarts)."
    );
    let _ = writeln!(w, "# TYPE crossdock_intake_messages_total counter");
    for (kind, n) in inbox {
        let _ = writeln!(
            w,
            "crossdock_intake_messages_total{{kind=\"{}\"}} {n}",
            escape(kind)
        );
    }

    let _ = writeln!(
        w,
        "# HELP crossdock_http_requests_total Requests answered since start, by route and status."
    );
    let _ = writeln!(w, "# TYPE crossdock_http_requests_total counter");
    let by_route = metrics.by_route.lock().expect("metrics lock");
    for ((method, route, status), n) in &by_route.requests {
        let _ = writeln!(
            w,
            "crossdock_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
            escape(route)
        );
    }
    let _ = writeln!(
        w,
        "# HELP crossdock_http_request_duration_seconds Time to answer, by route (intake latency per flow for the business routes)."
    );
    let _ = writeln!(w, "# TYPE crossdock_http_request_duration_seconds histogram");
    for ((method, route), h) in &by_route.latency {
        let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
        let mut cumulative = 0;
        for (i, bound) in LATENCY_BUCKETS_S.iter().enumerate() {
            cumulative += h.buckets[i];
            let _ = writeln!(
                w,
                "crossdock_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            w,
            "crossdock_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(
            w,
            "crossdock_http_request_duration_seconds_sum{{{labels}}} {}",
            h.sum_s
        );
        let _ = writeln!(
            w,
            "crossdock_http_request_duration_seconds_count{{{labels}}} {}",
            h.count
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_the_count() {
        let m = Metrics::default();
        m.record("POST", "/v1/asns", 201, 0.004);
        m.record("POST", "/v1/asns", 201, 0.020);
        m.record("POST", "/v1/asns", 422, 9.0);
        let text = render(&m, &[("asn".into(), 2)], &[]);
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
                .rsplit(' ')
                .next()
                .unwrap()
                .to_owned()
        };
        let b = "crossdock_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/asns\",";
        assert_eq!(line(&format!("{b}le=\"0.0025\"}}")), "0");
        assert_eq!(line(&format!("{b}le=\"0.005\"}}")), "1");
        assert_eq!(line(&format!("{b}le=\"0.025\"}}")), "2");
        assert_eq!(line(&format!("{b}le=\"5\"}}")), "2");
        assert_eq!(line(&format!("{b}le=\"+Inf\"}}")), "3");
        assert_eq!(
            line("crossdock_http_requests_total{method=\"POST\",route=\"/v1/asns\",status=\"422\"}"),
            "1"
        );
        assert_eq!(line("crossdock_intake_messages_total{kind=\"asn\"}"), "2");
        assert_eq!(line("crossdock_dead_letters"), "0");
    }

    #[test]
    fn standard_methods_are_labelled_by_name_and_any_other_as_other() {
        use axum::http::Method;
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"PROPFIND").unwrap()), "OTHER");
    }
}
