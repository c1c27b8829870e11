//! Bearer authentication, roles, supplier isolation (invariant 20) and the
//! core's own per-caller rate limit.

use std::num::NonZeroU32;

use contracts::routes::{core, erp};
use integration_core::RateLimit;

use crate::support::*;

/// POSTs `body` to `url` with bearer `token` and Idempotency-Key `key`.
async fn send_keyed(http: &reqwest::Client, url: &str, token: &str, key: &str, body: Vec<u8>) -> Answer {
    let opts = Send {
        key: Some(key),
        ..Send::default()
    };
    send_as(http, url, Some(token), opts, body).await
}

fn po_bytes() -> Vec<u8> {
    serde_json::to_vec(&purchase_order("PO-AUTH", &[(1, 10)])).unwrap()
}

crate::both_backends! {
/// No token, or one the core does not know: 401 problem+json with a Bearer
/// challenge, for business and ops endpoints alike; nothing is taken in.
/// The OpenAPI document needs no token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_known_bearer_token_are_refused_with_401() {
    let t = TestCore::unreachable().await;
    let url = t.url();
    let http = client();
    let keyed = || Send {
        key: Some("po-auth"),
        ..Send::default()
    };
    let po_url = format!("{url}{}", core::PURCHASE_ORDERS);

    let a = send_as(&http, &po_url, None, keyed(), po_bytes()).await;
    a.assert_problem(401, "unauthorized");
    assert_eq!(a.headers["www-authenticate"], "Bearer realm=\"crossdock\"");

    let a = send_as(&http, &po_url, Some("not-a-known-token"), keyed(), po_bytes()).await;
    a.assert_problem(401, "unauthorized");
    let challenge = a.headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    // Ops endpoints too.
    let anonymous = reqwest::Client::builder().no_proxy().build().unwrap();
    for path in [core::OPS_STATUS, core::OPS_DEAD_LETTERS, core::METRICS] {
        let a = answer(anonymous.get(format!("{url}{path}")).send().await.unwrap()).await;
        a.assert_problem(401, "unauthorized");
    }
    let doc = anonymous.get(format!("{url}/openapi.json")).send().await.unwrap();
    assert_eq!(doc.status(), 200);

    assert_eq!(
        status(&t.core).await.inbox_messages,
        0,
        "nothing refused was stored"
    );
    t.stop().await;
}
}

crate::both_backends! {
/// A known caller on an endpoint that is not its role's: 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_outside_its_role_is_refused_with_403() {
    let t = TestCore::unreachable().await;
    let url = t.url();
    let http = client();
    let keyed = || Send {
        key: Some("k"),
        ..Send::default()
    };
    let asn_bytes = serde_json::to_vec(&asn("ASN-R", &[("PO-AUTH", 1, 1)])).unwrap();
    for (path, token, body) in [
        (core::PURCHASE_ORDERS, SUPPLIER_TOKEN, po_bytes()),
        (core::PURCHASE_ORDERS, OPS_TOKEN, po_bytes()),
        (core::ASNS, ERP_TOKEN, asn_bytes.clone()),
        (core::ASNS, WMS_TOKEN, asn_bytes),
        (
            core::OPS_DEAD_LETTER_REPLAY,
            ERP_TOKEN,
            b"{\"all\":true}".to_vec(),
        ),
    ] {
        let a = send_as(&http, &format!("{url}{path}"), Some(token), keyed(), body).await;
        let p = a.assert_problem(403, "forbidden");
        assert!(p.detail.unwrap_or_default().contains(path), "{path}");
    }
    let a = answer(
        http.get(format!("{url}{}", core::OPS_STATUS))
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
/// Invariant 20: a supplier cannot acknowledge or ship against another
/// supplier's PO. Claiming to be the other supplier is 403; naming itself
/// on the other's PO is 404, exactly as for a PO that does not exist.
/// Nothing reaches the ERP or the WMS from a refused document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supplier_cannot_act_on_another_suppliers_purchase_orders() {
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let http = client();
    let po = purchase_order("PO-ISO", &[(1, 100)]);
    assert_accepted(&post(&url, core::PURCHASE_ORDERS, "po-iso", &po).await);
    let send = |key: &'static str, path: &'static str, token: &'static str, body: Vec<u8>| {
        let (http, url) = (http.clone(), format!("{url}{path}"));
        async move { send_keyed(&http, &url, token, key, body).await }
    };

    // The other supplier, claiming to be the PO's supplier.
    let ack = acknowledgement("ACK-ISO", &po);
    let a = send(
        "ack-spoof",
        core::PO_ACKNOWLEDGEMENTS,
        OTHER_SUPPLIER_TOKEN,
        serde_json::to_vec(&ack).unwrap(),
    )
    .await;
    let p = a.assert_problem(403, "supplier-mismatch");
    assert_eq!(p.errors[0].pointer, "/supplier_gln");
    let shipped = asn("ASN-ISO", &[("PO-ISO", 1, 100)]);
    let a = send(
        "asn-spoof",
        core::ASNS,
        OTHER_SUPPLIER_TOKEN,
        serde_json::to_vec(&shipped).unwrap(),
    )
    .await;
    a.assert_problem(403, "supplier-mismatch");

    // The other supplier, as itself, on a PO that is not its own: 404, the
    // same answer as for a PO that does not exist.
    let mut own_ack = ack.clone();
    own_ack.supplier_gln = other_supplier();
    let a = send(
        "ack-other",
        core::PO_ACKNOWLEDGEMENTS,
        OTHER_SUPPLIER_TOKEN,
        serde_json::to_vec(&own_ack).unwrap(),
    )
    .await;
    let foreign = a.assert_problem(404, "unknown-purchase-order");
    let mut own_asn = shipped.clone();
    own_asn.supplier_gln = other_supplier();
    let a = send(
        "asn-other",
        core::ASNS,
        OTHER_SUPPLIER_TOKEN,
        serde_json::to_vec(&own_asn).unwrap(),
    )
    .await;
    a.assert_problem(404, "unknown-purchase-order");
    let mut missing = own_ack.clone();
    missing.po_number = "PO-NOPE".into();
    let a = send(
        "ack-missing",
        core::PO_ACKNOWLEDGEMENTS,
        OTHER_SUPPLIER_TOKEN,
        serde_json::to_vec(&missing).unwrap(),
    )
    .await;
    let unknown = a.assert_problem(404, "unknown-purchase-order");
    assert_eq!(
        foreign.detail.unwrap().replace("PO-ISO", "X"),
        unknown.detail.unwrap().replace("PO-NOPE", "X"),
        "another supplier's PO reads exactly like an unknown one"
    );

    // The PO's own supplier goes through.
    let a = send(
        "ack-own",
        core::PO_ACKNOWLEDGEMENTS,
        SUPPLIER_TOKEN,
        serde_json::to_vec(&ack).unwrap(),
    )
    .await;
    assert_accepted(&a);
    let a = send(
        "asn-own",
        core::ASNS,
        SUPPLIER_TOKEN,
        serde_json::to_vec(&shipped).unwrap(),
    )
    .await;
    assert_accepted(&a);
    let acks = parties.erp.wait_for(erp::PO_ACKNOWLEDGEMENTS, 1).await;
    quiescent(&t.core).await;
    assert_eq!(acks.len(), 1);
    assert_eq!(
        parties.erp.calls_to(erp::PO_ACKNOWLEDGEMENTS).len(),
        1,
        "only the own supplier's ack"
    );
    assert_eq!(parties.wms.calls().len(), 1, "only the own supplier's ASN");
    assert_eq!(
        status(&t.core).await.inbox_messages,
        3,
        "PO, ack and ASN; nothing refused"
    );
    t.stop().await;
}
}

crate::both_backends! {
/// Invariant 20 for invoices: a supplier cannot invoice against another
/// supplier's PO. Naming the PO's supplier is 403; naming itself is 404,
/// exactly as for a PO that does not exist; nothing reaches the ERP. The
/// PO's own supplier is matched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supplier_cannot_invoice_against_another_suppliers_purchase_order() {
    let parties = Parties::start().await;
    let t = TestCore::start(parties.partners()).await;
    let url = t.url();
    let http = client();
    let po = purchase_order("PO-INV-ISO", &[(1, 10)]);
    assert_accepted(&post(&url, core::PURCHASE_ORDERS, "po-inv-iso", &po).await);
    let inv_url = format!("{url}{}", core::INVOICES);
    let send = |key: &'static str, token: &'static str, inv: &contracts::invoicing::Invoice| {
        let (http, url, body) = (http.clone(), inv_url.clone(), serde_json::to_vec(inv).unwrap());
        async move { send_keyed(&http, &url, token, key, body).await }
    };

    let own = invoice("INV-ISO", &po, &[(1, 10, "1.50")]);
    let a = send("inv-spoof", OTHER_SUPPLIER_TOKEN, &own).await;
    let p = a.assert_problem(403, "supplier-mismatch");
    assert_eq!(p.errors[0].pointer, "/supplier_gln");

    let mut foreign = own.clone();
    foreign.supplier_gln = other_supplier();
    let a = send("inv-other", OTHER_SUPPLIER_TOKEN, &foreign).await;
    let on_foreign = a.assert_problem(404, "unknown-purchase-order");
    let mut missing = foreign.clone();
    missing.po_number = "PO-NOPE".into();
    let a = send("inv-missing", OTHER_SUPPLIER_TOKEN, &missing).await;
    let on_missing = a.assert_problem(404, "unknown-purchase-order");
    assert_eq!(
        on_foreign.detail.unwrap().replace("PO-INV-ISO", "X"),
        on_missing.detail.unwrap().replace("PO-NOPE", "X"),
        "another supplier's PO reads exactly like an unknown one"
    );
    assert_eq!(
        status(&t.core).await.inbox_messages,
        1,
        "only the PO; no refused invoice stored"
    );

    // The PO's own supplier is taken in (held: nothing received yet).
    assert_accepted(&send("inv-own", SUPPLIER_TOKEN, &own).await);
    quiescent(&t.core).await;
    assert!(parties.erp.calls_to(erp::MATCH_RESULTS).is_empty());
    t.stop().await;
}
}

crate::both_backends! {
/// Per caller: over its bucket a caller gets 429 with Retry-After and the
/// RateLimit fields, while another caller is still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_caller_has_its_own_rate_limit() {
    let t = TestCore::start_with(partners(CLOSED, CLOSED, CLOSED), |c| {
        c.rate_limit = Some(RateLimit {
            per_second: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(2).unwrap(),
        });
    })
    .await;
    let url = t.url();
    let mut statuses = Vec::new();
    let mut limited = None;
    for n in 0..3 {
        let po = purchase_order(&format!("PO-RL{n}"), &[(1, 10)]);
        let a = post(&url, core::PURCHASE_ORDERS, &format!("po-rl-{n}"), &po).await;
        statuses.push(a.status);
        if a.status == 429 {
            limited = Some(a);
        }
    }
    assert_eq!(statuses, [201, 201, 429], "a burst of 2, then refused");
    let a = limited.unwrap();
    let p = a.assert_problem(429, "rate-limited");
    assert!(p.detail.unwrap().starts_with("erp "));
    let retry_after: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(a.headers["ratelimit-policy"], "\"per-partner\";q=2;w=1");
    assert_eq!(
        a.headers["ratelimit"].to_str().unwrap(),
        format!("\"per-partner\";r=0;t={retry_after}")
    );
    // The operator's bucket is its own.
    let ops = client()
        .get(format!("{url}{}", core::OPS_STATUS))
        .send()
        .await
        .unwrap();
    assert_eq!(ops.status(), 200);
    assert_eq!(
        status(&t.core).await.inbox_messages,
        2,
        "the refused PO was not stored"
    );
    t.stop().await;
}
}
