//! The simulated ERP: holds purchase orders, releases them to the core, and
//! takes commitment updates, goods-receipt postings and discrepancies, each
//! keyed by Idempotency-Key (a repeat returns the first answer and posts
//! nothing).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use contracts::http::TraceParent;
use contracts::inbound::{ErpGoodsReceiptPosting, PoAcknowledgement, PurchaseOrder, ReceiptDiscrepancy, Uom};
use contracts::inventory::{InventoryAdjustment, SnapshotSource};
use contracts::invoicing::MatchResult;
use contracts::routes::{core, erp};
use contracts::{PartnerAck, Role};

use crate::client::{Attempt, PartnerClient};
use crate::faults::FaultSet;
use crate::idempotency::IdempotencyStore;
use crate::inventory::{OnHand, location_for};
use crate::recorder::{Recorder, now_us};
use crate::{InboundRecording, Posted, mutate, recorded, rfc3339_utc};

pub mod outbound;

/// What the ERP holds, for the harness and the control API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErpSummary {
    pub purchase_orders: usize,
    pub commitments: usize,
    pub goods_receipt_postings: usize,
    pub receipt_discrepancies: usize,
    /// Sales orders released, and shipment postings.
    pub outbound: outbound::OutboundBooks,
    pub inventory_adjustments: usize,
    /// Units on hand over every (sku, location).
    pub on_hand_units: u64,
    /// Match results held, one per invoice number.
    pub match_results: usize,
}

/// The ERP's books, as aggregates: memory grows with the business keys
/// (POs, PO lines), never with the number of requests.
#[derive(Debug, Default)]
struct Books {
    purchase_orders: BTreeMap<String, PurchaseOrder>,
    /// Latest acknowledgement per PO.
    commitments: HashMap<String, PoAcknowledgement>,
    commitments_taken: usize,
    /// Posted quantity per (po_number, po_line_no): postings − reversals.
    posted: HashMap<(String, u32), i64>,
    postings: usize,
    discrepancies: usize,
    /// On-hand per (sku, location): goods-receipt postings and adjustments.
    on_hand: OnHand,
    adjustments: usize,
    snapshots: usize,
    /// The latest match result per invoice number.
    match_results: HashMap<String, MatchResult>,
    match_results_taken: usize,
}

/// The ERP's state; shared by its server and its release calls.
#[derive(Debug)]
pub struct ErpSim {
    books: Mutex<Books>,
    idempotency: IdempotencyStore,
    core: PartnerClient,
    recorder: Recorder,
    faults: Arc<FaultSet>,
    outbound: outbound::Outbound,
}

impl ErpSim {
    /// An ERP that releases purchase orders to the core at `core_url`.
    pub fn new(core_url: &str, recorder: Recorder, faults: Arc<FaultSet>) -> Arc<Self> {
        Arc::new(Self {
            books: Mutex::default(),
            idempotency: IdempotencyStore::default(),
            core: PartnerClient::new(core_url, recorder.clone(), Role::Erp, Role::Core),
            recorder,
            faults,
            outbound: outbound::Outbound::default(),
        })
    }

    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The client this party calls the core with (to give it a bearer token).
    pub fn core_client(&self) -> &PartnerClient {
        &self.core
    }

    /// The party's live fault rules.
    pub fn faults(&self) -> &Arc<FaultSet> {
        &self.faults
    }

    /// Loads purchase orders into the ERP, ready to release.
    pub fn load(&self, orders: impl IntoIterator<Item = PurchaseOrder>) {
        let mut books = self.books.lock().expect("erp lock");
        for po in orders {
            books.purchase_orders.insert(po.po_number.clone(), po);
        }
    }

    /// Releases one held purchase order to the core, starting its trace.
    /// Returns `None` when the ERP holds no such order.
    pub async fn release(&self, po_number: &str) -> Option<Attempt> {
        // Serialized where it is held: no copy of the order.
        let (body, key) = {
            let books = self.books.lock().expect("erp lock");
            let po = books.purchase_orders.get(po_number)?;
            (
                crate::client::json_body(po),
                format!("po-release:{}:v{}", po.po_number, po.version),
            )
        };
        let trace = TraceParent::from_random(rand::random(), rand::random());
        Some(self.core.post(core::PURCHASE_ORDERS, &body, &key, &trace).await)
    }

    pub fn summary(&self) -> ErpSummary {
        let books = self.books.lock().expect("erp lock");
        ErpSummary {
            purchase_orders: books.purchase_orders.len(),
            commitments: books.commitments_taken,
            goods_receipt_postings: books.postings,
            receipt_discrepancies: books.discrepancies,
            outbound: self.outbound.summary(),
            inventory_adjustments: books.adjustments,
            on_hand_units: books.on_hand.total(),
            match_results: books.match_results.len(),
        }
    }

    /// The ack of the `n`-th record of a kind (serialized as is: no detour
    /// through `serde_json::Value`).
    fn next_reference(&self, prefix: &str, n: usize) -> PartnerAck {
        PartnerAck {
            reference: format!("{prefix}-{n:08}"),
        }
    }
}

async fn commitment(State(erp): State<Arc<ErpSim>>, Posted { headers, body }: Posted) -> Response {
    mutate(
        &erp.idempotency,
        &headers,
        &body,
        StatusCode::CREATED,
        |ack: PoAcknowledgement, _| {
            let n = {
                let mut books = erp.books.lock().expect("erp lock");
                books.commitments.insert(ack.po_number.clone(), ack);
                books.commitments_taken += 1;
                books.commitments_taken
            };
            erp.next_reference("CMT", n)
        },
    )
}

async fn goods_receipt_posting(State(erp): State<Arc<ErpSim>>, Posted { headers, body }: Posted) -> Response {
    mutate(
        &erp.idempotency,
        &headers,
        &body,
        StatusCode::CREATED,
        |p: ErpGoodsReceiptPosting, _| {
            let n = {
                let mut books = erp.books.lock().expect("erp lock");
                // A reversal takes back what an earlier posting put in stock.
                // Generated POs are all in eaches; a posting carries no unit.
                let delta = match p.reverses_seq {
                    None => i64::from(p.quantity),
                    Some(_) => -i64::from(p.quantity),
                };
                let location = location_for(p.stock_status);
                books.on_hand.apply(&p.sku, location, Uom::Ea, delta);
                *books.posted.entry((p.po_number, p.po_line_no)).or_default() += delta;
                books.postings += 1;
                books.postings
            };
            erp.next_reference("GRP", n)
        },
    )
}

async fn discrepancy(State(erp): State<Arc<ErpSim>>, Posted { headers, body }: Posted) -> Response {
    mutate(
        &erp.idempotency,
        &headers,
        &body,
        StatusCode::CREATED,
        |_: ReceiptDiscrepancy, _| {
            let n = {
                let mut books = erp.books.lock().expect("erp lock");
                books.discrepancies += 1;
                books.discrepancies
            };
            erp.next_reference("DSC", n)
        },
    )
}

/// An inventory adjustment (from the WMS through the core, or a
/// reconciliation's correction): on-hand of (sku, location) changes by delta.
async fn inventory_adjustment(State(erp): State<Arc<ErpSim>>, Posted { headers, body }: Posted) -> Response {
    mutate(
        &erp.idempotency,
        &headers,
        &body,
        StatusCode::CREATED,
        |a: InventoryAdjustment, _| {
            let n = {
                let mut books = erp.books.lock().expect("erp lock");
                books.on_hand.apply(&a.sku, &a.location, a.uom, a.delta);
                books.adjustments += 1;
                books.adjustments
            };
            erp.next_reference("ADJ", n)
        },
    )
}

/// A 3-way match result for an invoice; the latest per invoice number is kept.
async fn match_result(State(erp): State<Arc<ErpSim>>, Posted { headers, body }: Posted) -> Response {
    mutate(
        &erp.idempotency,
        &headers,
        &body,
        StatusCode::CREATED,
        |m: MatchResult, _| {
            let n = {
                let mut books = erp.books.lock().expect("erp lock");
                books.match_results.insert(m.invoice_number.clone(), m);
                books.match_results_taken += 1;
                books.match_results_taken
            };
            erp.next_reference("MTR", n)
        },
    )
}

/// `GET /v1/inventory-snapshot`: on-hand per (sku, location) as booked now.
async fn inventory_snapshot(State(erp): State<Arc<ErpSim>>) -> Response {
    let mut books = erp.books.lock().expect("erp lock");
    books.snapshots += 1;
    let id = format!("ERP-SNAP-{:08}", books.snapshots);
    axum::Json(
        books
            .on_hand
            .snapshot(id, SnapshotSource::Erp, rfc3339_utc(now_us())),
    )
    .into_response()
}

/// `POST /_control/purchase-orders`: hold a PO, ready to release.
async fn hold(State(erp): State<Arc<ErpSim>>, body: Bytes) -> Response {
    match crate::parse_body::<PurchaseOrder>(&body) {
        Ok((po, _)) => {
            let reference = po.po_number.clone();
            erp.load([po]);
            (StatusCode::CREATED, axum::Json(PartnerAck { reference })).into_response()
        }
        Err(problem) => problem,
    }
}

/// `POST /_control/purchase-orders/{po_number}/release`: send a held PO to
/// the core now; answers what the core answered.
async fn release(State(erp): State<Arc<ErpSim>>, Path(po_number): Path<String>) -> Response {
    match erp.release(&po_number).await {
        None => crate::problem_response(
            contracts::Problem::new(404, "unknown-purchase-order", "no such purchase order")
                .with_detail(format!("the ERP holds no purchase order {po_number}")),
        ),
        Some(attempt) => axum::Json(serde_json::json!({
            "status": attempt.status,
            "error": attempt.error,
            "body": attempt.json(),
        }))
        .into_response(),
    }
}

async fn state(State(erp): State<Arc<ErpSim>>) -> axum::Json<ErpSummary> {
    axum::Json(erp.summary())
}

/// The ERP's HTTP surface, recording inbound exchanges.
pub fn app(erp: Arc<ErpSim>) -> Router {
    let recording = InboundRecording {
        recorder: erp.recorder.clone(),
        party: Role::Erp,
        peer: Role::Core,
        faults: erp.faults.clone(),
    };
    let control = crate::control::routes(erp.faults.clone());
    let router = Router::new()
        .route(erp::PO_ACKNOWLEDGEMENTS, post(commitment))
        .route(erp::GOODS_RECEIPT_POSTINGS, post(goods_receipt_posting))
        .route(erp::RECEIPT_DISCREPANCIES, post(discrepancy))
        .route(erp::SHIPMENT_POSTINGS, post(outbound::shipment_posting))
        .route(erp::INVENTORY_ADJUSTMENTS, post(inventory_adjustment))
        .route(erp::MATCH_RESULTS, post(match_result))
        .route(erp::INVENTORY_SNAPSHOT, get(inventory_snapshot))
        .route("/_control/state", get(state))
        .route("/_control/purchase-orders", post(hold))
        .route("/_control/purchase-orders/{po_number}/release", post(release))
        .with_state(erp)
        .merge(control);
    recorded(router, recording)
}
