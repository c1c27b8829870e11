//! The simulated WMS: takes inbound expectations (keyed by Idempotency-Key),
//! their updates and cancellations (the highest revision wins) and, after a
//! receiving delay, emits one goods-receipt event per expectation still
//! standing, counted against its latest revision, to the core, delivered at
//! least once. A cancelled expectation gets no receipt.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use contracts::http::TraceParent;
use contracts::inbound::{
    GoodsReceipt, InboundExpectation, InboundExpectationCancellation, ReceiptLine, StockStatus,
};
use contracts::inventory::{AdjustmentReason, InventoryAdjustment, SnapshotSource};
use contracts::routes::{core, wms};
use contracts::{PartnerAck, Role};

use crate::client::PartnerClient;
use crate::faults::FaultSet;
use crate::idempotency::IdempotencyStore;
use crate::inventory::{OnHand, location_for, warehouse_gln};
use crate::recorder::{Recorder, now_us};
use crate::{InboundRecording, PendingWork, Posted, incoming_trace, mutate, recorded, rfc3339_utc};

pub mod outbound;

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
    /// Chance that a receipt is recounted and corrected by a second event
    /// (seq 2) for the same receipt; decided per expectation.
    pub correction_probability: f64,
    /// Chance that a line arrives as another item (its SKU with `-ALT`),
    /// counted as blocked stock; after short, over and damaged.
    pub wrong_item_probability: f64,
    /// Chance that a receipt carries one more line, of goods nobody
    /// advised (blocked stock); decided per expectation.
    pub not_advised_probability: f64,
}

impl Receiving {
    /// Whether the receipt of `expectation_id` gets a correction.
    pub fn corrects(&self, seed: u64, expectation_id: &str) -> bool {
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&(seed, "correction", expectation_id), &mut h);
        let draw = (std::hash::Hasher::finish(&h) >> 11) as f64 / (1u64 << 53) as f64;
        draw < self.correction_probability
    }

    /// Whether the receipt of `expectation_id` carries goods not advised.
    pub fn adds_not_advised(&self, seed: u64, expectation_id: &str) -> bool {
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&(seed, "not-advised", expectation_id), &mut h);
        let draw = (std::hash::Hasher::finish(&h) >> 11) as f64 / (1u64 << 53) as f64;
        draw < self.not_advised_probability
    }

    /// The line as counted: (received, damaged, stock status); blocked
    /// stock is the wrong item.
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
        let p_wrong = p_damaged + self.wrong_item_probability;
        if draw < p_short {
            (advised.saturating_sub(off.max(1)), 0, StockStatus::Unrestricted)
        } else if draw < p_over {
            (advised + off.max(1), 0, StockStatus::Unrestricted)
        } else if draw < p_damaged {
            (advised, off.clamp(1, advised), StockStatus::Quality)
        } else if draw < p_wrong {
            (advised, 0, StockStatus::Blocked)
        } else {
            (advised, 0, StockStatus::Unrestricted)
        }
    }
}

/// How the WMS adjusts its stock after receiving: each receipt is followed,
/// with `adjustment_probability`, by one adjustment of one of the positions
/// it filled (cycle count, damage, found, lost; 1..=`max_delta` units),
/// `adjustment_delay` later. With `forget_probability` the adjustment is made
/// on the floor but never sent: the ERP drifts from the WMS, which is what a
/// reconciliation must find. Decided from the seed and the receipt number.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InventoryBehaviour {
    pub adjustment_probability: f64,
    pub forget_probability: f64,
    pub adjustment_delay: Duration,
    pub max_delta: u32,
}

/// A draw in `0..1` from (seed, what, n): the WMS's decisions do not depend
/// on timing.
fn draw(seed: u64, what: &str, n: u64) -> f64 {
    let mut h = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&(seed, what, n), &mut h);
    (std::hash::Hasher::finish(&h) >> 11) as f64 / (1u64 << 53) as f64
}

/// What the WMS holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WmsSummary {
    pub inbound_expectations: usize,
    pub expectation_updates: u64,
    pub expectations_cancelled: u64,
    pub receipts_sent: u64,
    pub pending: usize,
    /// Order releases and shipments.
    pub outbound: outbound::OutboundSummary,
    /// Units on hand over every (sku, location).
    pub on_hand_units: u64,
    pub adjustments_sent: u64,
    /// Adjustments made but never sent (drift).
    pub adjustments_forgotten: u64,
}

/// The WMS's state.
#[derive(Debug)]
pub struct WmsSim {
    config: WmsConfig,
    /// expectation_id → its highest revision and the expectation at it
    /// (`None`: cancelled).
    expectations: Mutex<BTreeMap<String, (u32, Option<InboundExpectation>)>>,
    expectation_updates: AtomicU64,
    expectations_cancelled: AtomicU64,
    idempotency: IdempotencyStore,
    core: PartnerClient,
    recorder: Recorder,
    faults: Arc<FaultSet>,
    receipts: AtomicU64,
    pending: PendingWork,
    outbound: outbound::Outbound,
    /// On-hand per (sku, location): what was received, then adjusted.
    on_hand: Mutex<OnHand>,
    inventory: Mutex<InventoryBehaviour>,
    adjustments: AtomicU64,
    adjustments_forgotten: AtomicU64,
    snapshots: AtomicU64,
}

impl WmsSim {
    pub fn new(config: WmsConfig, recorder: Recorder, faults: Arc<FaultSet>) -> Arc<Self> {
        Arc::new(Self {
            core: PartnerClient::new(&config.core_url, recorder.clone(), Role::Wms, Role::Core),
            config,
            expectations: Mutex::default(),
            expectation_updates: AtomicU64::new(0),
            expectations_cancelled: AtomicU64::new(0),
            idempotency: IdempotencyStore::default(),
            recorder,
            faults,
            receipts: AtomicU64::new(0),
            pending: PendingWork::default(),
            outbound: outbound::Outbound::default(),
            on_hand: Mutex::default(),
            inventory: Mutex::default(),
            adjustments: AtomicU64::new(0),
            adjustments_forgotten: AtomicU64::new(0),
            snapshots: AtomicU64::new(0),
        })
    }

    /// Sets how the WMS adjusts stock after receiving (default: never).
    pub fn set_inventory(&self, behaviour: InventoryBehaviour) {
        *self.inventory.lock().expect("wms lock") = behaviour;
    }

    /// Maybe adjusts one position of what receipt number `n` put away, and
    /// maybe "forgets" to tell the core.
    async fn adjust(&self, n: u64, positions: &[(String, String, contracts::inbound::Uom)]) {
        let behaviour = *self.inventory.lock().expect("wms lock");
        let seed = self.config.seed;
        if positions.is_empty() || draw(seed, "adjust", n) >= behaviour.adjustment_probability {
            return;
        }
        crate::pause(behaviour.adjustment_delay).await;
        let (sku, location, uom) = &positions[(draw(seed, "position", n) * positions.len() as f64) as usize];
        let magnitude = 1 + (draw(seed, "size", n) * f64::from(behaviour.max_delta.max(1))) as i64;
        let (reason, sign) = match (draw(seed, "reason", n) * 4.0) as u32 {
            0 => (AdjustmentReason::CycleCount, -1),
            1 => (AdjustmentReason::Damaged, -1),
            2 => (AdjustmentReason::Lost, -1),
            _ => (AdjustmentReason::Found, 1),
        };
        let adjustment = {
            let mut books = self.on_hand.lock().expect("wms lock");
            let previous_on_hand = books.get(sku, location);
            let delta = if sign < 0 {
                -magnitude.min(previous_on_hand as i64)
            } else {
                magnitude
            };
            if delta == 0 {
                return;
            }
            books.apply(sku, location, *uom, delta);
            let m = self.adjustments.fetch_add(1, Ordering::SeqCst) + 1;
            InventoryAdjustment {
                adjustment_id: format!("ADJ-{m:08}"),
                source_event_id: format!("INV-EVT-{m:08}"),
                warehouse_gln: warehouse_gln(),
                sku: sku.clone(),
                location: location.clone(),
                delta,
                previous_on_hand,
                uom: *uom,
                reason,
                lot: None,
                occurred_at: rfc3339_utc(now_us()),
            }
        };
        if draw(seed, "forget", n) < behaviour.forget_probability {
            self.adjustments_forgotten.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let body = crate::client::json_body(&adjustment);
        // A new business flow: its own trace.
        let trace = TraceParent::from_random(rand::random(), rand::random());
        for copy in 1..=self.faults.copies(core::INVENTORY_ADJUSTMENTS) {
            let key = match copy {
                1 => format!("adjustment-event:{}", adjustment.source_event_id),
                c => format!("adjustment-event:{}:redelivery{c}", adjustment.source_event_id),
            };
            self.core
                .post(
                    core::INVENTORY_ADJUSTMENTS,
                    &body,
                    &key,
                    &trace.child(rand::random()),
                )
                .await;
        }
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
            expectation_updates: self.expectation_updates.load(Ordering::SeqCst),
            expectations_cancelled: self.expectations_cancelled.load(Ordering::SeqCst),
            receipts_sent: self.receipts.load(Ordering::SeqCst),
            pending: self.pending(),
            outbound: self.outbound.summary(),
            on_hand_units: self.on_hand.lock().expect("wms lock").total(),
            adjustments_sent: self.adjustments.load(Ordering::SeqCst)
                - self.adjustments_forgotten.load(Ordering::SeqCst),
            adjustments_forgotten: self.adjustments_forgotten.load(Ordering::SeqCst),
        }
    }

    /// Counts the goods of `exp` and tells the core; with the correction
    /// chance, recounts them and sends a correction (seq 2) a receiving
    /// delay later. A reorder fault sends the correction first and holds
    /// the first count back.
    async fn receive(self: Arc<Self>, expectation_id: String, trace: TraceParent) {
        crate::pause(self.config.receipt_delay).await;
        // Counted against the latest revision; a cancelled one is not received.
        let current = self
            .expectations
            .lock()
            .expect("wms lock")
            .get(&expectation_id)
            .and_then(|(_, exp)| exp.clone());
        let Some(exp) = current else {
            return;
        };
        let n = self.receipts.fetch_add(1, Ordering::SeqCst) + 1;
        let first = GoodsReceipt {
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
                        sku: match stock_status {
                            StockStatus::Blocked => format!("{}-ALT", l.sku),
                            _ => l.sku.clone(),
                        },
                        qty_received,
                        qty_damaged,
                        stock_status,
                        lot: l.lot.clone(),
                    }
                })
                .collect(),
        };
        let mut first = first;
        if self
            .config
            .receiving
            .adds_not_advised(self.config.seed, &exp.expectation_id)
        {
            first.lines.push(not_advised(&exp));
        }
        let mut events = vec![first];
        if self
            .config
            .receiving
            .corrects(self.config.seed, &exp.expectation_id)
        {
            events.push(recount(&events[0], &exp));
        }
        // Put away the final count (a correction supersedes the first): what
        // is not damaged goes to the location of its status.
        let mut positions = Vec::new();
        {
            let last = events.last().expect("at least the first count");
            let mut books = self.on_hand.lock().expect("wms lock");
            let uom = exp.lines[0].uom;
            for line in &last.lines {
                let location = location_for(line.stock_status);
                let qty = line.qty_received.saturating_sub(line.qty_damaged);
                let uom = exp
                    .lines
                    .iter()
                    .find(|l| l.line_no == line.line_no)
                    .map_or(uom, |l| l.uom);
                books.add(&line.sku, location, uom, u64::from(qty));
                positions.push((line.sku.clone(), location.to_owned(), uom));
            }
        }
        let mut gap = self.config.receipt_delay;
        if let Some(hold) = self.faults.reorder(core::GOODS_RECEIPTS, &events[0].receipt_id) {
            events.reverse();
            gap = hold;
            if events.len() == 1 {
                crate::pause(hold).await;
            }
        }
        for (i, event) in events.iter().enumerate() {
            if i > 0 {
                crate::pause(gap).await;
            }
            self.emit(event, &trace).await;
        }
        self.adjust(n, &positions).await;
    }

    /// Sends one receipt event to the core, at least once: a duplicate
    /// fault redelivers it as new requests (their own keys), as a webhook
    /// retry would.
    async fn emit(&self, receipt: &GoodsReceipt, trace: &TraceParent) {
        let body = crate::client::json_body(receipt);
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

/// Goods nobody advised, found with the expected ones: a line for a PO line
/// the expectation lacks (its first PO, line 900 + the next line number),
/// of an unknown SKU, in blocked stock.
fn not_advised(exp: &InboundExpectation) -> ReceiptLine {
    let first = &exp.lines[0];
    let line_no = exp.lines.iter().map(|l| l.line_no).max().unwrap_or(0) + 1;
    ReceiptLine {
        line_no,
        po_number: first.po_number.clone(),
        po_line_no: 900 + line_no,
        sku: format!("UNADVISED-{}", first.sku),
        qty_received: first.quantity.div_ceil(10).max(1),
        qty_damaged: 0,
        stock_status: StockStatus::Blocked,
        lot: None,
    }
}

/// A recount of `first` (seq 2): lines counted off the advice (including
/// the wrong item) are found to be as advised after all; when none was off,
/// the first line is found one short. So a correction always changes the
/// count. Goods not advised stay as they were.
fn recount(first: &GoodsReceipt, exp: &InboundExpectation) -> GoodsReceipt {
    let mut second = GoodsReceipt {
        event_id: format!("{}-2", first.event_id.trim_end_matches("-1")),
        seq: first.seq + 1,
        received_at: rfc3339_utc(now_us()),
        ..first.clone()
    };
    let mut changed = false;
    for line in &mut second.lines {
        let Some(advised) = exp.lines.iter().find(|l| l.line_no == line.line_no) else {
            continue;
        };
        if line.qty_received != advised.quantity || line.qty_damaged != 0 || line.sku != advised.sku {
            (line.qty_received, line.qty_damaged) = (advised.quantity, 0);
            line.sku = advised.sku.clone();
            line.stock_status = StockStatus::Unrestricted;
            changed = true;
        }
    }
    if !changed {
        if let Some(line) = second.lines.first_mut() {
            line.qty_received = line.qty_received.saturating_sub(1);
        }
    }
    second
}

impl WmsSim {
    /// Holds revision `revision` of `expectation_id` (`None`: cancelled)
    /// unless a higher one is held; the first time the id is heard of as
    /// standing, starts receiving it.
    fn hold(
        self: &Arc<Self>,
        expectation_id: &str,
        revision: u32,
        exp: Option<InboundExpectation>,
        trace: TraceParent,
    ) {
        let mut held = self.expectations.lock().expect("wms lock");
        let fresh = !held.contains_key(expectation_id);
        let standing = exp.is_some();
        match held.get_mut(expectation_id) {
            Some(slot) if slot.0 >= revision => return,
            Some(slot) => *slot = (revision, exp),
            None => {
                held.insert(expectation_id.to_owned(), (revision, exp));
            }
        }
        if fresh && standing {
            let guard = self.pending.start();
            let (worker, id) = (self.clone(), expectation_id.to_owned());
            tokio::spawn(async move {
                worker.receive(id, trace).await;
                drop(guard);
            });
        }
    }
}

/// Takes an expectation, an update or a cancellation: `held` says which
/// expectation, at which revision, and whether it stands.
fn take<T: serde::de::DeserializeOwned>(
    wms: &Arc<WmsSim>,
    headers: &HeaderMap,
    body: &Bytes,
    held: impl FnOnce(T) -> (String, u32, Option<InboundExpectation>),
) -> Response {
    let trace = incoming_trace(headers);
    mutate(
        &wms.idempotency,
        headers,
        body,
        StatusCode::CREATED,
        |doc: T, _| {
            let (id, revision, exp) = held(doc);
            let reference = match revision {
                1 => format!("IBE-{id}"),
                r => format!("IBE-{id}-r{r}"),
            };
            wms.hold(&id, revision, exp, trace);
            PartnerAck { reference }
        },
    )
}

async fn inbound_expectation(State(wms): State<Arc<WmsSim>>, Posted { headers, body }: Posted) -> Response {
    take(&wms, &headers, &body, |exp: InboundExpectation| {
        (exp.expectation_id.clone(), exp.revision, Some(exp))
    })
}

/// `POST /v1/inbound-expectation-updates`: a replaced ASN's expectation.
async fn inbound_expectation_update(
    State(wms): State<Arc<WmsSim>>,
    Posted { headers, body }: Posted,
) -> Response {
    take(&wms, &headers, &body, |exp: InboundExpectation| {
        wms.expectation_updates.fetch_add(1, Ordering::SeqCst);
        (exp.expectation_id.clone(), exp.revision, Some(exp))
    })
}

/// `POST /v1/inbound-expectation-cancellations`: a cancelled ASN's
/// expectation withdrawn.
async fn inbound_expectation_cancellation(
    State(wms): State<Arc<WmsSim>>,
    Posted { headers, body }: Posted,
) -> Response {
    take(&wms, &headers, &body, |c: InboundExpectationCancellation| {
        wms.expectations_cancelled.fetch_add(1, Ordering::SeqCst);
        (c.expectation_id, c.revision, None)
    })
}

/// `GET /v1/inventory-snapshot`: on-hand per (sku, location) as counted now.
async fn inventory_snapshot(State(wms): State<Arc<WmsSim>>) -> Response {
    let n = wms.snapshots.fetch_add(1, Ordering::SeqCst) + 1;
    let books = wms.on_hand.lock().expect("wms lock");
    axum::Json(books.snapshot(
        format!("WMS-SNAP-{n:08}"),
        SnapshotSource::Wms,
        rfc3339_utc(now_us()),
    ))
    .into_response()
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
        .route(wms::INBOUND_EXPECTATION_UPDATES, post(inbound_expectation_update))
        .route(
            wms::INBOUND_EXPECTATION_CANCELLATIONS,
            post(inbound_expectation_cancellation),
        )
        .route(wms::ORDER_RELEASES, post(outbound::order_release))
        .route(wms::INVENTORY_SNAPSHOT, get(inventory_snapshot))
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
            ..Receiving::default()
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
