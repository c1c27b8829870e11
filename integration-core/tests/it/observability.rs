//! `GET /v1/trace/{trace_id}` and `GET /metrics`, as an operator calls them.

use contracts::ops::{DeliveryState, Trace, TraceHop};
use contracts::routes::{core, supplier};

use crate::support::*;

async fn get(url: &str) -> Answer {
    answer(client().get(url).send().await.unwrap()).await
}

crate::both_backends! {
/// The trace lists the intake and the delivery it caused, with the
/// delivery's state, attempts and last status, in time order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_lists_the_intake_and_its_deliveries_with_attempts() {
    let supplier_stub = Stub::scripted(vec![Reply::status(503)]).await;
    let parties = Parties::start().await;
    let t = TestCore::start(partners(&parties.erp.url, &parties.wms.url, &supplier_stub.url)).await;
    let url = t.url();
    let trace = trace_id(0x7ace);
    let po = purchase_order("PO-TR", &[(1, 10)]);
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    assert_accepted(
        &post_with(
            &url,
            core::PURCHASE_ORDERS,
            Send {
                key: Some("po-tr"),
                traceparent: Some(&traceparent),
            },
            &po,
        )
        .await,
    );
    supplier_stub.wait_for(supplier::PURCHASE_ORDERS, 2).await;
    quiescent(&t.core).await;

    let a = get(&format!("{url}/v1/trace/{trace}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let got: Trace = serde_json::from_value(a.body.clone()).unwrap();
    assert_eq!(got.trace_id, trace);
    assert_eq!(got.hops.len(), 2, "{:#?}", got.hops);
    match &got.hops[0] {
        TraceHop::Intake {
            kind, business_key, ..
        } => {
            assert_eq!(kind, "purchase_order");
            assert_eq!(business_key, "PO-TR:v1");
        }
        other => panic!("first hop is the intake, found {other:?}"),
    }
    match &got.hops[1] {
        TraceHop::Delivery {
            partner,
            path,
            state,
            attempts,
            last_status,
            delivered_at_us,
            at_us,
            ..
        } => {
            assert_eq!(partner, "supplier");
            assert_eq!(path, supplier::PURCHASE_ORDERS);
            assert_eq!(*state, DeliveryState::Delivered);
            assert_eq!(*attempts, 2, "one 503, then delivered");
            assert_eq!(*last_status, Some(201));
            assert!(delivered_at_us.unwrap() >= *at_us);
        }
        other => panic!("second hop is the delivery, found {other:?}"),
    }

    // Unknown and malformed ids; and a partner may not read traces.
    get(&format!("{url}/v1/trace/{}", trace_id(0xdead)))
        .await
        .assert_problem(404, "unknown-trace");
    get(&format!("{url}/v1/trace/not-hex"))
        .await
        .assert_problem(400, "bad-trace-id");
    let a = answer(
        client()
            .get(format!("{url}/v1/trace/{trace}"))
            .bearer_auth(SUPPLIER_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    a.assert_problem(403, "forbidden");
    t.stop().await;
}
}

crate::both_backends! {
/// A second intake on a trace joins it (its intake and delivery listed
/// after the first's); an intake on another trace stays out of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intakes_on_one_trace_are_listed_together_and_another_trace_apart() {
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let (shared, other) = (trace_id(0x51), trace_id(0x52));
    for (key, po, trace) in [
        ("po-s1", "PO-S1", &shared),
        ("po-o1", "PO-O1", &other),
        ("po-s2", "PO-S2", &shared),
    ] {
        let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
        assert_accepted(
            &post_with(
                &url,
                core::PURCHASE_ORDERS,
                Send {
                    key: Some(key),
                    traceparent: Some(&traceparent),
                },
                &purchase_order(po, &[(1, 10)]),
            )
            .await,
        );
    }
    parties.supplier.wait_for(supplier::PURCHASE_ORDERS, 3).await;
    quiescent(&t.core).await;

    let hops = |trace: String| {
        let url = url.clone();
        async move {
            let a = get(&format!("{url}/v1/trace/{trace}")).await;
            assert_eq!(a.status, 200, "{}", a.body);
            let got: Trace = serde_json::from_value(a.body).unwrap();
            got.hops
                .iter()
                .map(|h| match h {
                    TraceHop::Intake { business_key, .. } => format!("in:{business_key}"),
                    TraceHop::Delivery { partner, state, .. } => format!("out:{partner}:{state:?}"),
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        hops(shared.clone()).await,
        [
            "in:PO-S1:v1",
            "out:supplier:Delivered",
            "in:PO-S2:v1",
            "out:supplier:Delivered"
        ]
    );
    assert_eq!(
        hops(other.clone()).await,
        ["in:PO-O1:v1", "out:supplier:Delivered"]
    );
    t.stop().await;
}
}

crate::both_backends! {
/// Prometheus text: outbox depth by partner and state, attempts, dead
/// letters, intake counts, and requests and latency per route, refused
/// requests included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_expose_outbox_depth_attempts_dead_letters_and_intake_latency() {
    // The supplier refuses the PO for good: one dead letter.
    let supplier_stub = Stub::scripted(vec![Reply::status(400)]).await;
    let parties = Parties::start().await;
    let t = TestCore::start(partners(&parties.erp.url, &parties.wms.url, &supplier_stub.url)).await;
    let url = t.url();
    assert_accepted(
        &post(
            &url,
            core::PURCHASE_ORDERS,
            "po-m1",
            &purchase_order("PO-M1", &[(1, 1)]),
        )
        .await,
    );
    // A refused request is counted as well.
    let refused = send_as(
        &client(),
        &format!("{url}{}", core::PURCHASE_ORDERS),
        None,
        Send::default(),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(refused.status, 401);
    quiescent(&t.core).await;

    let resp = client()
        .get(format!("{url}{}", core::METRICS))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = resp.text().await.unwrap();
    let s = |name: &str| sample(&text, name).unwrap_or_else(|| panic!("no sample {name} in\n{text}"));
    assert_eq!(
        s("crossdock_outbox_deliveries{partner=\"supplier\",state=\"dead\"}"),
        1.0
    );
    assert_eq!(
        s("crossdock_outbox_deliveries{partner=\"supplier\",state=\"pending\"}"),
        0.0
    );
    assert_eq!(s("crossdock_outbox_attempts_total{partner=\"supplier\"}"), 1.0);
    assert_eq!(s("crossdock_dead_letters"), 1.0);
    assert_eq!(s("crossdock_intake_messages_total{kind=\"purchase_order\"}"), 1.0);
    let route = "method=\"POST\",route=\"/v1/purchase-orders\"";
    assert_eq!(
        s(&format!(
            "crossdock_http_requests_total{{{route},status=\"201\"}}"
        )),
        1.0
    );
    assert_eq!(
        s(&format!(
            "crossdock_http_requests_total{{{route},status=\"401\"}}"
        )),
        1.0
    );
    assert_eq!(
        s(&format!(
            "crossdock_http_request_duration_seconds_count{{{route}}}"
        )),
        2.0
    );
    assert_eq!(
        s(&format!(
            "crossdock_http_request_duration_seconds_bucket{{{route},le=\"+Inf\"}}"
        )),
        2.0
    );
    assert!(text.contains("# TYPE crossdock_http_request_duration_seconds histogram"));
    t.stop().await;
}
}

/// The debug log of this test binary's cores, as `CROSSDOCK_LOG=debug`
/// would print it, keeping only the lines that name `KEPT_TRACE`.
static LOG: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
const KEPT_TRACE: u64 = 0x5a4;

/// fmt writes each event with one write: keep the ones of `KEPT_TRACE`.
struct Captured;

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let line = String::from_utf8_lossy(buf);
        if line.contains(&trace_id(KEPT_TRACE)) {
            LOG.lock().unwrap().push(line.trim_end().to_owned());
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// At debug level (`CROSSDOCK_LOG=debug`) every intake and every delivery
/// attempt logs inside a span naming its kind, business key, trace id and
/// partner; a delivery's span also names the attempt. The subscriber is
/// global (a scoped one misses callsites first hit by other tests'
/// threads), restricted to the core's own debug events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intakes_and_delivery_attempts_log_in_spans_with_their_keys() {
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn,integration_core=debug"))
        .with_ansi(false)
        .with_writer(|| Captured)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber of these tests");

    let supplier_stub = Stub::scripted(vec![Reply::status(503)]).await;
    let t = TestCore::start(partners(CLOSED, CLOSED, &supplier_stub.url)).await;
    let trace = trace_id(KEPT_TRACE);
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    let po = purchase_order("PO-LOG", &[(1, 10)]);
    let opts = Send {
        key: Some("po-log"),
        traceparent: Some(&traceparent),
    };
    assert_accepted(&post_with(&t.url(), core::PURCHASE_ORDERS, opts, &po).await);
    supplier_stub.wait_for(supplier::PURCHASE_ORDERS, 2).await;
    quiescent(&t.core).await;
    t.stop().await;

    let lines = LOG.lock().unwrap().clone();
    let line = |what: &str| {
        lines
            .iter()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no log line with {what:?} in {lines:#?}"))
            .clone()
    };
    let intake = line("intake committed");
    for field in [
        "intake{".to_owned(),
        "kind=purchase_order".into(),
        "business_key=PO-LOG:v1".into(),
        format!("trace_id={trace}"),
        "partner=erp".into(),
        "status=201".into(),
    ] {
        assert!(intake.contains(&field), "{field} missing from {intake}");
    }
    let retried = line("delivery will be retried");
    let delivered = line("delivered");
    for (l, attempt) in [(&retried, "attempt=1"), (&delivered, "attempt=2")] {
        for field in [
            "delivery{",
            &format!("kind={}", supplier::PURCHASE_ORDERS),
            "business_key=",
            &format!("trace_id={trace}"),
            "partner=supplier",
            attempt,
        ] {
            assert!(l.contains(field), "{field} missing from {l}");
        }
    }
}
