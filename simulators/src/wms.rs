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
    /// How counted goods differ from what was advised.
    pub receiving: Receiving,
    /// Seed of the receiving decisions.
    pub seed: u64,
}

/// How the dock's count differs from the advice, per expectation line:
/// each line is short, over or damaged with these chances (in that order of
/// precedence), by `variance_pct` of its quantity. Decided from the seed,
/// the expectation id and the line number.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Receiving {
    pub short_probability: f64,
    pub over_probability: f64,
    /// Damaged goods are counted as received and put in quality stock.
    pub damaged_probability: f64,
    pub variance_pct: u8,
}

impl Receiving {
    /// The line as counted: (received, damaged, stock status).
    pub fn count(
        &self,
        seed: u64,
        expectation_id: &str,
        line_no: u32,
        advised: u32,
    ) -> (u32, u32, StockStatus) {
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&(seed, expectation_id, line_no), &mut h);
        let draw = (std::hash::Hasher::finish(&h) >> 11) as f64 / (1u64 << 53) as f64;
        let off = (u64::from(advised) * u64::from(self.variance_pct)).div_ceil(100) as u32;
        let (p_short, p_over) = (
            self.short_probability,
            self.short_probability + self.over_probability,
        );
        let p_damaged = p_over + self.damaged_probability;
        if draw < p_short {
            (advised.saturating_sub(off.max(1)), 0, StockStatus::Unrestricted)
        } else if draw < p_over {
            (advised + off.max(1), 0, StockStatus::Unrestricted)
        } else if draw < p_damaged {
            (advised, off.clamp(1, advised), StockStatus::Quality)
        } else {
            (advised, 0, StockStatus::Unrestricted)
        }
    }
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

    /// The client this party calls the core with (to give it a bearer token).
    pub fn core_client(&self) -> &PartnerClient {
        &self.core
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
                .map(|l| {
                    let (qty_received, qty_damaged, stock_status) = self.config.receiving.count(
                        self.config.seed,
                        &exp.expectation_id,
                        l.line_no,
                        l.quantity,
                    );
                    ReceiptLine {
                        line_no: l.line_no,
                        po_number: l.po_number.clone(),
                        po_line_no: l.po_line_no,
                        sku: l.sku.clone(),
                        qty_received,
                        qty_damaged,
                        stock_status,
                        lot: l.lot.clone(),
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiving_follows_its_chances_and_is_deterministic() {
        let r = Receiving {
            short_probability: 0.2,
            over_probability: 0.1,
            damaged_probability: 0.1,
            variance_pct: 20,
        };
        let (mut short, mut over, mut damaged) = (0, 0, 0);
        for line in 1..=2000 {
            let counted = r.count(7, "IBE-1", line, 50);
            assert_eq!(counted, r.count(7, "IBE-1", line, 50));
            match counted {
                (40, 0, StockStatus::Unrestricted) => short += 1,
                (60, 0, StockStatus::Unrestricted) => over += 1,
                (50, 10, StockStatus::Quality) => damaged += 1,
                (50, 0, StockStatus::Unrestricted) => {}
                other => panic!("unexpected count {other:?}"),
            }
        }
        assert!((300..500).contains(&short), "{short}");
        assert!((120..280).contains(&over), "{over}");
        assert!((120..280).contains(&damaged), "{damaged}");
        assert_eq!(
            Receiving::default().count(1, "x", 1, 9),
            (9, 0, StockStatus::Unrestricted)
        );
    }
}
