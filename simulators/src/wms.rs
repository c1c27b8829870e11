//! The simulated WMS: takes inbound expectations (keyed by Idempotency-Key)
//! and, after a receiving delay, emits one goods-receipt event per
//! expectation to the core, delivered at least once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Serialize;

use contracts::http::TraceParent;
use contracts::inbound::{GoodsReceipt, InboundExpectation, ReceiptLine, StockStatus};
use contracts::routes::{core, wms};
use contracts::{PartnerAck, Role};

use crate::client::PartnerClient;
use crate::faults::FaultSet;
use crate::idempotency::IdempotencyStore;
use crate::recorder::{Recorder, now_us};
use crate::{InboundRecording, PendingWork, incoming_trace, mutate, recorded, rfc3339_utc};

/// How the WMS behaves.
#[derive(Debug, Clone)]
pub struct WmsConfig {
    pub core_url: String,
    /// Time from an expectation to its receipt event.
    pub receipt_delay: Duration,
}

/// What the WMS holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WmsSummary {
    pub inbound_expectations: usize,
    pub receipts_sent: u64,
    pub pending: usize,
}

/// The WMS's state.
#[derive(Debug)]
pub struct WmsSim {
    config: WmsConfig,
    expectations: Mutex<BTreeMap<String, InboundExpectation>>,
    idempotency: IdempotencyStore,
    core: PartnerClient,
    recorder: Recorder,
    faults: Arc<FaultSet>,
    receipts: AtomicU64,
    pending: PendingWork,
}

impl WmsSim {
    pub fn new(config: WmsConfig, recorder: Recorder, faults: Arc<FaultSet>) -> Arc<Self> {
        Arc::new(Self {
            core: PartnerClient::new(&config.core_url, recorder.clone(), Role::Wms, Role::Core),
            config,
            expectations: Mutex::default(),
            idempotency: IdempotencyStore::default(),
            recorder,
            faults,
            receipts: AtomicU64::new(0),
            pending: PendingWork::default(),
        })
    }

    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The party's live fault rules.
    pub fn faults(&self) -> &Arc<FaultSet> {
        &self.faults
    }

    /// Background sends not yet finished.
    pub fn pending(&self) -> usize {
        self.pending.count()
    }

    pub fn summary(&self) -> WmsSummary {
        WmsSummary {
            inbound_expectations: self.expectations.lock().expect("wms lock").len(),
            receipts_sent: self.receipts.load(Ordering::SeqCst),
            pending: self.pending(),
        }
    }

    /// Counts the goods of `exp` as advised and tells the core.
    async fn receive(self: Arc<Self>, exp: InboundExpectation, trace: TraceParent) {
        tokio::time::sleep(self.config.receipt_delay).await;
        let n = self.receipts.fetch_add(1, Ordering::SeqCst) + 1;
        let receipt = GoodsReceipt {
            receipt_id: format!("RCV-{n:08}"),
            event_id: format!("EVT-{n:08}-1"),
            seq: 1,
            expectation_id: exp.expectation_id.clone(),
            asn_id: exp.asn_id.clone(),
            received_at: rfc3339_utc(now_us()),
            lines: exp
                .lines
                .iter()
                .map(|l| ReceiptLine {
                    line_no: l.line_no,
                    po_number: l.po_number.clone(),
                    po_line_no: l.po_line_no,
                    sku: l.sku.clone(),
                    qty_received: l.quantity,
                    qty_damaged: 0,
                    stock_status: StockStatus::Unrestricted,
                    lot: l.lot.clone(),
                })
                .collect(),
        };
        let body = serde_json::to_value(&receipt).expect("a receipt serializes");
        // At-least-once delivery: a duplicate fault redelivers the same event
        // as new requests (their own keys), as a webhook retry would.
        let copies = self.faults.copies(core::GOODS_RECEIPTS);
        for copy in 1..=copies {
            let key = match copy {
                1 => format!("receipt-event:{}", receipt.event_id),
                n => format!("receipt-event:{}:redelivery{n}", receipt.event_id),
            };
            self.core
                .post(core::GOODS_RECEIPTS, &body, &key, &trace.child(rand::random()))
                .await;
        }
    }
}

async fn inbound_expectation(State(wms): State<Arc<WmsSim>>, headers: HeaderMap, body: Bytes) -> Response {
    let trace = incoming_trace(&headers);
    mutate(
        &wms.idempotency,
        &headers,
        &body,
        StatusCode::CREATED,
        |exp: InboundExpectation, _| {
            let reference = format!("IBE-{}", exp.expectation_id);
            wms.expectations
                .lock()
                .expect("wms lock")
                .insert(exp.expectation_id.clone(), exp.clone());
            let guard = wms.pending.start();
            let worker = wms.clone();
            tokio::spawn(async move {
                worker.receive(exp, trace).await;
                drop(guard);
            });
            serde_json::to_value(PartnerAck { reference }).expect("an ack serializes")
        },
    )
}

async fn state(State(wms): State<Arc<WmsSim>>) -> axum::Json<WmsSummary> {
    axum::Json(wms.summary())
}

/// The WMS's HTTP surface, recording inbound exchanges.
pub fn app(wms: Arc<WmsSim>) -> Router {
    let recording = InboundRecording {
        recorder: wms.recorder.clone(),
        party: Role::Wms,
        peer: Role::Core,
        faults: wms.faults.clone(),
    };
    let control = crate::control::routes(wms.faults.clone());
    let router = Router::new()
        .route(wms::INBOUND_EXPECTATIONS, post(inbound_expectation))
        .route("/_control/state", get(state))
        .with_state(wms)
        .merge(control);
    recorded(router, recording)
}
