//! The simulated supplier: receives purchase orders, acknowledges them
//! (with configurable changes per line: quantity changed, date rescheduled,
//! rejected, backordered), and later ships what it confirmed with an ASN
//! (one pallet, one carton per line, each with a valid SSCC). It can resend
//! each ASN several times, some copies at once, the way real suppliers do,
//! and then replace it (changed quantities, new cartons) or cancel it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::task::JoinSet;

use contracts::http::TraceParent;
use contracts::ids::with_check_digit;
use contracts::inbound::{
    AckLine, AckLineStatus, AdvanceShipNotice, AsnLine, AsnPurpose, HandlingUnit, HandlingUnitLevel,
    PoAcknowledgement, PurchaseOrder,
};
use contracts::invoicing::{Invoice, InvoiceLine, format_price_e4, price_e4};
use contracts::routes::{core, supplier};
use contracts::{PartnerAck, Role, Sscc};

use crate::client::PartnerClient;
use crate::faults::FaultSet;
use crate::idempotency::IdempotencyStore;
use crate::recorder::Recorder;
use crate::{InboundRecording, PendingWork, Posted, incoming_trace, mutate, recorded};

/// GS1 company prefix of the simulated supplier's SSCCs.
const COMPANY_PREFIX: &str = "0614141";

/// How the supplier behaves.
#[derive(Debug, Clone)]
pub struct SupplierConfig {
    pub core_url: String,
    /// Seed of the supplier's own decisions (how many ASN copies).
    pub seed: u64,
    /// Time from receiving a PO to acknowledging it.
    pub ack_delay: Duration,
    /// Time from the acknowledgement to the ASN.
    pub asn_delay: Duration,
    /// How many times each ASN is sent: uniform in `min..=max`.
    pub asn_copies: (u32, u32),
    /// Send the copies of one ASN at the same time rather than in turn.
    pub concurrent_copies: bool,
}

/// How the supplier invoices: `delay` after shipping, one invoice per PO
/// covering what it shipped. Each line's price is raised by `variance_pct`
/// with `price_variance_probability`, and its quantity with
/// `quantity_variance_probability` (at least one unit). Decided from the
/// seed, the PO number and the line.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InvoicingBehaviour {
    pub enabled: bool,
    pub delay: Duration,
    pub price_variance_probability: f64,
    pub quantity_variance_probability: f64,
    pub variance_pct: u8,
}

/// How the supplier departs from the PO and from its first ASN. Per PO
/// line, the acknowledgement says rejected, backordered, quantity changed
/// or date rescheduled with these chances (in that order of precedence),
/// else accepted. Per ASN, after its copies, the supplier replaces it with
/// `replace_probability` (every quantity lowered by `change_pct`, at least
/// one unit, in new cartons), then cancels it with `cancel_probability`.
/// Decided from the seed, the PO number and the line.
///
/// A rejected line is confirmed 0 and never shipped; a backordered one is
/// confirmed 0 for now (promised a week later) and not shipped in this
/// delivery; a quantity change confirms `change_pct` less (at least one unit
/// less; a line of one unit is accepted instead); a rescheduled date promises the goods a week
/// after the requested date, in full.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SupplierChanges {
    pub rejected_probability: f64,
    pub backordered_probability: f64,
    pub quantity_changed_probability: f64,
    pub date_rescheduled_probability: f64,
    pub replace_probability: f64,
    pub cancel_probability: f64,
    pub change_pct: u8,
}

impl SupplierChanges {
    /// The supplier's answer for one PO line.
    pub fn ack_line(&self, seed: u64, po_number: &str, line: &contracts::inbound::PoLine) -> AckLine {
        let d = draw(seed, "ack", po_number, line.line_no);
        let mut p = self.rejected_probability;
        let (status, confirmed_qty, days_late) = if d < p {
            (AckLineStatus::Rejected, 0, 0)
        } else if d < {
            p += self.backordered_probability;
            p
        } {
            (AckLineStatus::Backordered, 0, 7)
        } else if d < {
            p += self.quantity_changed_probability;
            p
        } {
            if line.quantity == 1 {
                // One unit cannot be shortened: accepted as is.
                return AckLine {
                    line_no: line.line_no,
                    status: AckLineStatus::Accepted,
                    confirmed_qty: 1,
                    promised_date: line.requested_date.clone(),
                };
            }
            let less = (u64::from(line.quantity) * u64::from(self.change_pct))
                .div_ceil(100)
                .max(1) as u32;
            (
                AckLineStatus::QuantityChanged,
                line.quantity.saturating_sub(less).max(1),
                0,
            )
        } else if d < p + self.date_rescheduled_probability {
            (AckLineStatus::DateRescheduled, line.quantity, 7)
        } else {
            (AckLineStatus::Accepted, line.quantity, 0)
        };
        AckLine {
            line_no: line.line_no,
            status,
            confirmed_qty,
            promised_date: days_after(&line.requested_date, days_late),
        }
    }

    /// Whether the ASN of `po_number` is replaced, and whether cancelled.
    pub fn asn_changes(&self, seed: u64, po_number: &str) -> (bool, bool) {
        (
            draw(seed, "replace", po_number, 0) < self.replace_probability,
            draw(seed, "cancel", po_number, 0) < self.cancel_probability,
        )
    }
}

/// `date` (YYYY-MM-DD) plus `days`; a date that does not parse is kept.
fn days_after(date: &str, days: i64) -> String {
    let parts: Vec<i64> = date.split('-').filter_map(|p| p.parse().ok()).collect();
    let &[y, m, d] = parts.as_slice() else {
        return date.to_owned();
    };
    if days == 0 {
        return date.to_owned();
    }
    // Days since 1970-01-01 (H. Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let epoch_days = era * 146_097 + doe - 719_468 + days;
    contracts::time::rfc3339_utc((epoch_days.max(0) as u64) * 86_400 * 1_000_000)[..10].to_owned()
}

/// A draw in `0..1` from (seed, what, po, line).
fn draw(seed: u64, what: &str, po: &str, line: u32) -> f64 {
    let mut h = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&(seed, what, po, line), &mut h);
    (std::hash::Hasher::finish(&h) >> 11) as f64 / (1u64 << 53) as f64
}

/// What the supplier holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SupplierSummary {
    pub purchase_orders: usize,
    pub asns_shipped: u64,
    pub asn_sends: u64,
    pub pending: usize,
    pub invoices_sent: u64,
    pub asns_replaced: u64,
    pub asns_cancelled: u64,
}

/// The supplier's state.
#[derive(Debug)]
pub struct SupplierSim {
    config: SupplierConfig,
    /// The numbers of the purchase orders received (the orders themselves
    /// go to their fulfilment task; only their count is reported).
    orders: Mutex<HashSet<String>>,
    idempotency: IdempotencyStore,
    core: PartnerClient,
    recorder: Recorder,
    faults: Arc<FaultSet>,
    rng: Mutex<StdRng>,
    sscc_serial: AtomicU64,
    asns: AtomicU64,
    asn_sends: AtomicU64,
    pending: PendingWork,
    invoicing: Mutex<InvoicingBehaviour>,
    invoices: AtomicU64,
    changes: Mutex<SupplierChanges>,
    asns_replaced: AtomicU64,
    asns_cancelled: AtomicU64,
}

impl SupplierSim {
    pub fn new(config: SupplierConfig, recorder: Recorder, faults: Arc<FaultSet>) -> Arc<Self> {
        Arc::new(Self {
            core: PartnerClient::new(&config.core_url, recorder.clone(), Role::Supplier, Role::Core),
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            config,
            orders: Mutex::default(),
            idempotency: IdempotencyStore::default(),
            recorder,
            faults,
            sscc_serial: AtomicU64::new(1),
            asns: AtomicU64::new(0),
            asn_sends: AtomicU64::new(0),
            pending: PendingWork::default(),
            invoicing: Mutex::default(),
            invoices: AtomicU64::new(0),
            changes: Mutex::default(),
            asns_replaced: AtomicU64::new(0),
            asns_cancelled: AtomicU64::new(0),
        })
    }

    /// Sets how the supplier invoices (default: it does not).
    pub fn set_invoicing(&self, behaviour: InvoicingBehaviour) {
        *self.invoicing.lock().expect("supplier lock") = behaviour;
    }

    /// Sets how the supplier departs from its POs (default: it never does).
    pub fn set_changes(&self, changes: SupplierChanges) {
        *self.changes.lock().expect("supplier lock") = changes;
    }

    /// The invoice for what `asn` shipped against `po`, with the variances
    /// the behaviour draws.
    pub fn invoice(&self, po: &PurchaseOrder, asn: &AdvanceShipNotice, b: &InvoicingBehaviour) -> Invoice {
        let seed = self.config.seed;
        let mut lines: Vec<InvoiceLine> = Vec::new();
        for shipped in &asn.lines {
            if let Some(line) = lines.iter_mut().find(|l| l.po_line_no == shipped.po_line_no) {
                line.quantity += shipped.quantity;
                continue;
            }
            let Some(po_line) = po.lines.iter().find(|l| l.line_no == shipped.po_line_no) else {
                continue;
            };
            lines.push(InvoiceLine {
                line_no: lines.len() as u32 + 1,
                po_line_no: shipped.po_line_no,
                gtin: shipped.gtin.clone(),
                quantity: shipped.quantity,
                uom: shipped.uom,
                unit_price: po_line.unit_price.clone(),
            });
        }
        let pct = u128::from(b.variance_pct);
        for line in &mut lines {
            let (po_no, n) = (&po.po_number, line.po_line_no);
            if draw(seed, "price", po_no, n) < b.price_variance_probability {
                if let Some(p) = price_e4(&line.unit_price) {
                    line.unit_price = format_price_e4(p + (p * pct).div_ceil(100).max(1));
                }
            }
            if draw(seed, "quantity", po_no, n) < b.quantity_variance_probability {
                let extra = (u128::from(line.quantity) * pct).div_ceil(100).max(1) as u32;
                line.quantity += extra;
            }
        }
        Invoice {
            invoice_number: format!("INV-{}-v{}", po.po_number, po.version),
            supplier_gln: po.supplier_gln.clone(),
            bill_to_gln: po.ship_to_gln.clone(),
            po_number: po.po_number.clone(),
            currency: po.currency.clone(),
            invoice_date: asn.ship_date.clone(),
            due_date: asn.estimated_arrival.clone(),
            lines,
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

    pub fn summary(&self) -> SupplierSummary {
        SupplierSummary {
            purchase_orders: self.orders.lock().expect("supplier lock").len(),
            asns_shipped: self.asns.load(Ordering::SeqCst),
            asn_sends: self.asn_sends.load(Ordering::SeqCst),
            pending: self.pending(),
            invoices_sent: self.invoices.load(Ordering::SeqCst),
            asns_replaced: self.asns_replaced.load(Ordering::SeqCst),
            asns_cancelled: self.asns_cancelled.load(Ordering::SeqCst),
        }
    }

    fn next_sscc(&self) -> Sscc {
        let serial = self.sscc_serial.fetch_add(1, Ordering::SeqCst);
        Sscc::parse(&with_check_digit(&format!("0{COMPANY_PREFIX}{serial:09}")))
            .expect("a generated SSCC is valid")
    }

    fn acknowledgement(&self, po: &PurchaseOrder) -> PoAcknowledgement {
        let changes = *self.changes.lock().expect("supplier lock");
        PoAcknowledgement {
            ack_id: format!("ACK-{}-v{}", po.po_number, po.version),
            po_number: po.po_number.clone(),
            po_version: po.version,
            supplier_gln: po.supplier_gln.clone(),
            lines: po
                .lines
                .iter()
                .map(|l| changes.ack_line(self.config.seed, &po.po_number, l))
                .collect(),
        }
    }

    /// One pallet carrying one carton per PO line, shipping what was confirmed.
    fn ship_notice(&self, po: &PurchaseOrder, ack: &PoAcknowledgement) -> AdvanceShipNotice {
        let pallet = self.next_sscc();
        let mut handling_units = vec![HandlingUnit {
            sscc: pallet.clone(),
            level: HandlingUnitLevel::Pallet,
            parent_sscc: None,
        }];
        let mut lines = Vec::new();
        for (line, acked) in po.lines.iter().zip(&ack.lines) {
            if acked.confirmed_qty == 0 {
                continue;
            }
            let carton = self.next_sscc();
            handling_units.push(HandlingUnit {
                sscc: carton.clone(),
                level: HandlingUnitLevel::Carton,
                parent_sscc: Some(pallet.clone()),
            });
            lines.push(AsnLine {
                po_number: po.po_number.clone(),
                po_line_no: line.line_no,
                gtin: line.gtin.clone(),
                quantity: acked.confirmed_qty,
                uom: line.uom,
                lot: Some(format!("LOT-{}", po.order_date.replace('-', ""))),
                expiry: None,
                sscc: carton,
            });
        }
        AdvanceShipNotice {
            asn_id: format!("ASN-{}-v{}", po.po_number, po.version),
            purpose: AsnPurpose::Original,
            supplier_gln: po.supplier_gln.clone(),
            ship_date: po.order_date.clone(),
            estimated_arrival: po.lines[0].requested_date.clone(),
            carrier_scac: "SIMC".into(),
            bill_of_lading: format!("BOL-{}", po.po_number),
            handling_units,
            lines,
        }
    }

    /// `asn` replaced: each line `change_pct` less (at least one unit less,
    /// never below one), each in a new carton on the same pallet.
    fn replacement(&self, asn: &AdvanceShipNotice, change_pct: u8) -> AdvanceShipNotice {
        let pallet = asn.handling_units[0].sscc.clone();
        let mut handling_units = vec![asn.handling_units[0].clone()];
        let mut lines = Vec::with_capacity(asn.lines.len());
        for line in &asn.lines {
            let carton = self.next_sscc();
            handling_units.push(HandlingUnit {
                sscc: carton.clone(),
                level: HandlingUnitLevel::Carton,
                parent_sscc: Some(pallet.clone()),
            });
            let less = (u64::from(line.quantity) * u64::from(change_pct))
                .div_ceil(100)
                .max(1) as u32;
            lines.push(AsnLine {
                quantity: line.quantity.saturating_sub(less).max(1),
                sscc: carton,
                ..line.clone()
            });
        }
        AdvanceShipNotice {
            purpose: AsnPurpose::Replace,
            handling_units,
            lines,
            ..asn.clone()
        }
    }

    /// Sends a replace or cancel of an ASN once; whether the core took it.
    async fn send_change(&self, asn: &AdvanceShipNotice, what: &str, trace: &TraceParent) -> bool {
        let body = crate::client::json_body(asn);
        self.asn_sends.fetch_add(1, Ordering::SeqCst);
        self.core
            .post(
                core::ASNS,
                &body,
                &format!("asn:{}:{what}", asn.asn_id),
                &trace.child(rand::random()),
            )
            .await
            .is_success()
    }

    /// Acknowledge, then ship: the supplier's side of one purchase order.
    async fn fulfil(self: Arc<Self>, po: PurchaseOrder, trace: TraceParent) {
        crate::pause(self.config.ack_delay).await;
        let ack = self.acknowledgement(&po);
        let body = crate::client::json_body(&ack);
        let sent = self
            .core
            .post(
                core::PO_ACKNOWLEDGEMENTS,
                &body,
                &format!("ack:{}", ack.ack_id),
                &trace.child(rand::random()),
            )
            .await;
        if !sent.is_success() {
            return;
        }
        crate::pause(self.config.asn_delay).await;
        let asn = self.ship_notice(&po, &ack);
        if asn.lines.is_empty() {
            // Every line rejected or backordered: nothing to ship.
            return;
        }
        self.asns.fetch_add(1, Ordering::SeqCst);
        let body = crate::client::json_body(&asn);
        let (min, max) = self.config.asn_copies;
        let copies = self
            .rng
            .lock()
            .expect("supplier rng")
            .random_range(min..=max.max(min))
            .max(self.faults.copies(core::ASNS));
        let mut sends = JoinSet::new();
        for copy in 1..=copies {
            // A resend is a new request, not a retry: a fresh key per copy.
            let key = format!("asn:{}:copy{copy}", asn.asn_id);
            let (client, body, trace) = (self.core.clone(), body.clone(), trace.child(rand::random()));
            self.asn_sends.fetch_add(1, Ordering::SeqCst);
            let send = async move { client.post(core::ASNS, &body, &key, &trace).await };
            if self.config.concurrent_copies {
                sends.spawn(send);
            } else {
                send.await;
            }
        }
        sends.join_all().await;

        // Then maybe replace it (lower quantities, new cartons) and cancel it.
        let changes = *self.changes.lock().expect("supplier lock");
        let (replace, cancel) = changes.asn_changes(self.config.seed, &po.po_number);
        let mut asn = asn;
        if replace {
            let replacement = self.replacement(&asn, changes.change_pct);
            if self.send_change(&replacement, "replace", &trace).await {
                self.asns_replaced.fetch_add(1, Ordering::SeqCst);
                asn = replacement;
            }
        }
        if cancel {
            let cancellation = AdvanceShipNotice {
                purpose: AsnPurpose::Cancel,
                ..asn.clone()
            };
            if self.send_change(&cancellation, "cancel", &trace).await {
                // Nothing shipped: nothing to invoice.
                self.asns_cancelled.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }

        let invoicing = *self.invoicing.lock().expect("supplier lock");
        if !invoicing.enabled || asn.lines.is_empty() {
            return;
        }
        crate::pause(invoicing.delay).await;
        let invoice = self.invoice(&po, &asn, &invoicing);
        self.invoices.fetch_add(1, Ordering::SeqCst);
        let body = crate::client::json_body(&invoice);
        self.core
            .post(
                core::INVOICES,
                &body,
                &format!("invoice:{}", invoice.invoice_number),
                &trace.child(rand::random()),
            )
            .await;
    }
}

async fn purchase_order(State(sup): State<Arc<SupplierSim>>, Posted { headers, body }: Posted) -> Response {
    let trace = incoming_trace(&headers);
    mutate(
        &sup.idempotency,
        &headers,
        &body,
        StatusCode::ACCEPTED,
        |po: PurchaseOrder, _| {
            let reference = format!("SO-{}-v{}", po.po_number, po.version);
            sup.orders
                .lock()
                .expect("supplier lock")
                .insert(po.po_number.clone());
            let guard = sup.pending.start();
            let worker = sup.clone();
            tokio::spawn(async move {
                worker.fulfil(po, trace).await;
                drop(guard);
            });
            PartnerAck { reference }
        },
    )
}

async fn state(State(sup): State<Arc<SupplierSim>>) -> axum::Json<SupplierSummary> {
    axum::Json(sup.summary())
}

/// The supplier's HTTP surface, recording inbound exchanges.
pub fn app(sup: Arc<SupplierSim>) -> Router {
    let recording = InboundRecording {
        recorder: sup.recorder.clone(),
        party: Role::Supplier,
        peer: Role::Core,
        faults: sup.faults.clone(),
    };
    let control = crate::control::routes(sup.faults.clone());
    let router = Router::new()
        .route(supplier::PURCHASE_ORDERS, post(purchase_order))
        .route("/_control/state", get(state))
        .with_state(sup)
        .merge(control);
    recorded(router, recording)
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::inbound::{PoLine, PoLineStatus, Uom};
    use contracts::{Gtin, ids::with_check_digit};

    fn line(line_no: u32, quantity: u32) -> PoLine {
        PoLine {
            line_no,
            sku: format!("SKU-{line_no}"),
            gtin: Gtin::parse(&with_check_digit("400638000001")).unwrap(),
            quantity,
            uom: Uom::Ea,
            unit_price: "1.00".into(),
            requested_date: "2026-12-28".into(),
            over_tolerance_pct: 10,
            under_tolerance_pct: 5,
            status: PoLineStatus::Open,
        }
    }

    #[test]
    fn ack_changes_follow_their_chances_and_rules() {
        let changes = SupplierChanges {
            rejected_probability: 0.1,
            backordered_probability: 0.1,
            quantity_changed_probability: 0.2,
            date_rescheduled_probability: 0.2,
            change_pct: 20,
            ..SupplierChanges::default()
        };
        let mut seen = std::collections::BTreeMap::<String, u32>::new();
        for n in 1..=2000 {
            let ack = changes.ack_line(7, "PO-1", &line(n, 50));
            assert_eq!(ack, changes.ack_line(7, "PO-1", &line(n, 50)), "deterministic");
            let expected = match ack.status {
                AckLineStatus::Rejected => (0, "2026-12-28"),
                AckLineStatus::Backordered => (0, "2027-01-04"),
                AckLineStatus::QuantityChanged => (40, "2026-12-28"),
                AckLineStatus::DateRescheduled => (50, "2027-01-04"),
                AckLineStatus::Accepted => (50, "2026-12-28"),
            };
            assert_eq!((ack.confirmed_qty, ack.promised_date.as_str()), expected);
            *seen.entry(format!("{:?}", ack.status)).or_default() += 1;
        }
        for (status, range) in [
            ("Rejected", 120..280),
            ("Backordered", 120..280),
            ("QuantityChanged", 300..500),
            ("DateRescheduled", 300..500),
            ("Accepted", 700..900),
        ] {
            assert!(range.contains(&seen[status]), "{status}: {seen:?}");
        }
        // A single unit is never changed to none.
        let always = SupplierChanges {
            quantity_changed_probability: 1.0,
            change_pct: 20,
            ..SupplierChanges::default()
        };
        let single = always.ack_line(1, "PO-1", &line(1, 1));
        assert_eq!(
            (single.status, single.confirmed_qty),
            (AckLineStatus::Accepted, 1)
        );
        assert_eq!(always.ack_line(1, "PO-1", &line(1, 3)).confirmed_qty, 2);
        assert_eq!(
            SupplierChanges::default().ack_line(1, "PO-1", &line(1, 9)).status,
            AckLineStatus::Accepted
        );
    }

    #[test]
    fn dates_move_across_month_and_year_ends() {
        assert_eq!(days_after("2026-12-28", 7), "2027-01-04");
        assert_eq!(days_after("2028-02-25", 7), "2028-03-03");
        assert_eq!(days_after("2026-11-27", 0), "2026-11-27");
        assert_eq!(days_after("not a date", 7), "not a date");
    }
}
