//! The ERP's outbound side: it releases sales orders (`OrderRelease`) to the
//! core and reads the synchronous decision; it takes shipment postings,
//! keyed by Idempotency-Key, and keeps books per (order, line): released and
//! shipped. A second posting for a (shipment, line) already posted, under
//! another key, is refused (422): a line moves to shipped exactly once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use contracts::http::TraceParent;
use contracts::outbound::{Decision, ErpShipmentPosting, OrderRelease, OrderReleaseDecision};
use contracts::routes::core;
use contracts::{PartnerAck, Problem};

use super::ErpSim;
use crate::client::Attempt;
use crate::idempotency::StoredAnswer;
use crate::{Posted, parse_body};

/// The ERP's outbound books.
#[derive(Debug, Default)]
pub struct Outbound {
    books: Mutex<Books>,
}

#[derive(Debug, Default)]
struct Books {
    orders: BTreeMap<String, OrderRelease>,
    accepted: usize,
    rejected: usize,
    /// Released quantity per (order_number, line_no), once accepted.
    released: HashMap<(String, u32), u64>,
    /// Shipped quantity per (order_number, line_no).
    shipped: HashMap<(String, u32), u64>,
    /// (shipment_id, order line) already posted.
    posted: HashSet<(String, u32)>,
    postings: usize,
    refused: usize,
}

/// What the ERP's outbound books hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutboundBooks {
    pub sales_orders: usize,
    pub releases_accepted: usize,
    pub releases_rejected: usize,
    pub shipment_postings: usize,
    /// Second postings for a (shipment, line) refused.
    pub shipment_postings_refused: usize,
    /// Order lines with something shipped.
    pub lines_shipped: usize,
    /// Order lines where more was shipped than released: always 0 for a
    /// correct integration.
    pub lines_over_shipped: usize,
}

impl Outbound {
    pub fn summary(&self) -> OutboundBooks {
        let b = self.books.lock().expect("erp outbound lock");
        OutboundBooks {
            sales_orders: b.orders.len(),
            releases_accepted: b.accepted,
            releases_rejected: b.rejected,
            shipment_postings: b.postings,
            shipment_postings_refused: b.refused,
            lines_shipped: b.shipped.len(),
            lines_over_shipped: b
                .shipped
                .iter()
                .filter(|(k, q)| **q > b.released.get(*k).copied().unwrap_or(0))
                .count(),
        }
    }
}

impl ErpSim {
    /// The outbound books.
    pub fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    /// Holds sales orders, ready to release.
    pub fn load_sales_orders(&self, orders: impl IntoIterator<Item = OrderRelease>) {
        let mut books = self.outbound.books.lock().expect("erp outbound lock");
        for o in orders {
            books.orders.insert(o.order_number.clone(), o);
        }
    }

    /// Releases one held sales order to the core, starting its trace, and
    /// books the decision. `None` when the ERP holds no such order.
    pub async fn release_sales_order(&self, order_number: &str) -> Option<Attempt> {
        let order = self
            .outbound
            .books
            .lock()
            .expect("erp outbound lock")
            .orders
            .get(order_number)
            .cloned()?;
        let body = crate::client::json_body(&order);
        let key = format!("order-release:{}:v{}", order.order_number, order.version);
        let trace = TraceParent::from_random(rand::random(), rand::random());
        let attempt = self.core.post(core::ORDER_RELEASES, &body, &key, &trace).await;
        let decision = attempt
            .is_success()
            .then(|| attempt.parse::<OrderReleaseDecision>())
            .flatten();
        if let Some(d) = decision {
            let mut books = self.outbound.books.lock().expect("erp outbound lock");
            match d.decision {
                Decision::Accepted => {
                    books.accepted += 1;
                    for l in &order.lines {
                        *books
                            .released
                            .entry((order.order_number.clone(), l.line_no))
                            .or_default() += u64::from(l.quantity);
                    }
                }
                Decision::Rejected => books.rejected += 1,
            }
        }
        Some(attempt)
    }
}

/// `POST /v1/shipment-postings`.
pub(super) async fn shipment_posting(
    State(erp): State<Arc<ErpSim>>,
    Posted { headers, body }: Posted,
) -> Response {
    let posting = match parse_body::<ErpShipmentPosting>(&body) {
        Ok((p, _)) => p,
        Err(problem) => return problem,
    };
    erp.idempotency
        .execute(&headers, &body, |_| {
            let mut books = erp.outbound.books.lock().expect("erp outbound lock");
            let line = (posting.shipment_id.clone(), posting.order_line_no);
            if !books.posted.insert(line) {
                books.refused += 1;
                let problem = Problem::new(
                    422,
                    "shipment-line-already-posted",
                    "shipment line already posted",
                )
                .with_detail(format!(
                    "shipment {} line {} was posted before under another Idempotency-Key",
                    posting.shipment_id, posting.order_line_no
                ));
                return StoredAnswer::problem(&problem);
            }
            *books
                .shipped
                .entry((posting.order_number.clone(), posting.order_line_no))
                .or_default() += u64::from(posting.quantity);
            books.postings += 1;
            let ack = PartnerAck {
                reference: format!("SHP-POST-{:08}", books.postings),
            };
            StoredAnswer {
                status: StatusCode::CREATED,
                body: Bytes::from(serde_json::to_vec(&ack).expect("an ack serializes")),
            }
        })
        .into_response()
}
