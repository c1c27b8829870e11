//! The WMS's outbound side: synchronous order release (accept, or reject
//! when an item is not in the item master), then, for an accepted order and
//! after a shipping delay, one ship confirmation to the core, delivered at
//! least once (the `duplicate` fault applies to it as to receipts).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use contracts::http::TraceParent;
use contracts::outbound::{
    Decision, LineDecision, OrderRelease, OrderReleaseDecision, ReleaseRejectionCode, ReleaseRejectionReason,
    ShipmentConfirmation, ShipmentLine,
};
use contracts::routes::core;

use super::WmsSim;
use crate::idempotency::StoredAnswer;
use crate::recorder::now_us;
use crate::{Posted, incoming_trace, parse_body, rfc3339_utc};

/// Which items the warehouse knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ItemMaster {
    /// Every SKU is known.
    #[default]
    Any,
    /// Only these SKUs are known.
    Known(HashSet<String>),
    /// Every SKU but these is known.
    AllBut(HashSet<String>),
}

impl ItemMaster {
    pub fn knows(&self, sku: &str) -> bool {
        match self {
            ItemMaster::Any => true,
            ItemMaster::Known(skus) => skus.contains(sku),
            ItemMaster::AllBut(skus) => !skus.contains(sku),
        }
    }
}

/// How the WMS handles outbound orders.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboundConfig {
    pub items: ItemMaster,
    /// Time from accepting an order to its ship confirmation.
    pub ship_delay: Duration,
    /// Chance that a line ships short (half its quantity, rounded down).
    pub short_ship_probability: f64,
    /// Seed of the short-ship decisions.
    pub seed: u64,
}

impl OutboundConfig {
    /// Quantity shipped of a line: all of it, or half (rounded down) when the
    /// seeded draw for (order, line) falls under the short-ship chance.
    pub fn shipped(&self, order_number: &str, line_no: u32, ordered: u32) -> u32 {
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&(self.seed, order_number, line_no), &mut h);
        let draw = (std::hash::Hasher::finish(&h) >> 11) as f64 / (1u64 << 53) as f64;
        if draw < self.short_ship_probability {
            ordered / 2
        } else {
            ordered
        }
    }
}

/// The WMS's outbound state.
#[derive(Debug, Default)]
pub struct Outbound {
    config: Mutex<OutboundConfig>,
    /// Decision per (order_number, version): a repeat gets the same answer.
    orders: Mutex<HashMap<(String, u32), OrderReleaseDecision>>,
    accepted: AtomicU64,
    rejected: AtomicU64,
    shipments: AtomicU64,
}

/// What the WMS holds on its outbound side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutboundSummary {
    pub orders_accepted: u64,
    pub orders_rejected: u64,
    pub shipments_sent: u64,
}

impl Outbound {
    pub fn configure(&self, config: OutboundConfig) {
        *self.config.lock().expect("wms outbound lock") = config;
    }

    pub fn summary(&self) -> OutboundSummary {
        OutboundSummary {
            orders_accepted: self.accepted.load(Ordering::SeqCst),
            orders_rejected: self.rejected.load(Ordering::SeqCst),
            shipments_sent: self.shipments.load(Ordering::SeqCst),
        }
    }

    /// Decides a release, all or nothing: any unknown item rejects it.
    fn decide(&self, order: &OrderRelease) -> (OrderReleaseDecision, bool) {
        let key = (order.order_number.clone(), order.version);
        let mut orders = self.orders.lock().expect("wms outbound lock");
        if let Some(known) = orders.get(&key) {
            return (known.clone(), false);
        }
        let items = self.config.lock().expect("wms outbound lock").items.clone();
        let unknown: Vec<u32> = order
            .lines
            .iter()
            .filter(|l| !items.knows(&l.sku))
            .map(|l| l.line_no)
            .collect();
        let accepted = unknown.is_empty();
        let n = if accepted {
            self.accepted.fetch_add(1, Ordering::SeqCst) + 1
        } else {
            self.rejected.fetch_add(1, Ordering::SeqCst) + 1
        };
        let lines = order
            .lines
            .iter()
            .map(|l| {
                let reasons = if accepted {
                    Vec::new()
                } else if unknown.contains(&l.line_no) {
                    vec![ReleaseRejectionReason {
                        code: ReleaseRejectionCode::UnknownItem,
                        detail: format!("item {} is not in the warehouse's item master", l.sku),
                    }]
                } else {
                    vec![ReleaseRejectionReason {
                        code: ReleaseRejectionCode::OtherLineRejected,
                        detail: "another line of the order was rejected".into(),
                    }]
                };
                LineDecision {
                    line_no: l.line_no,
                    decision: if accepted {
                        Decision::Accepted
                    } else {
                        Decision::Rejected
                    },
                    reasons,
                }
            })
            .collect();
        let decision = OrderReleaseDecision {
            order_number: order.order_number.clone(),
            order_version: order.version,
            decision: if accepted {
                Decision::Accepted
            } else {
                Decision::Rejected
            },
            warehouse_order_id: accepted.then(|| format!("WO-{n:08}")),
            decided_at: rfc3339_utc(now_us()),
            reasons: Vec::new(),
            lines,
        };
        orders.insert(key, decision.clone());
        (decision, accepted)
    }
}

impl WmsSim {
    /// The outbound side's state and configuration.
    pub fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    /// Picks, packs and ships an accepted order, then tells the core.
    async fn ship(self: Arc<Self>, order: OrderRelease, warehouse_order_id: String, trace: TraceParent) {
        let config = self.outbound.config.lock().expect("wms outbound lock").clone();
        crate::pause(config.ship_delay).await;
        let n = self.outbound.shipments.fetch_add(1, Ordering::SeqCst) + 1;
        let confirmation = ShipmentConfirmation {
            shipment_id: format!("SHP-{n:08}"),
            event_id: format!("SEVT-{n:08}-1"),
            order_number: order.order_number.clone(),
            order_version: order.version,
            warehouse_order_id,
            warehouse_gln: order.warehouse_gln.clone(),
            shipped_at: rfc3339_utc(now_us()),
            carrier_scac: order.carrier_scac.clone().unwrap_or_else(|| "UPSN".into()),
            tracking_number: Some(format!("1Z{n:016}")),
            handling_units: Vec::new(),
            lines: order
                .lines
                .iter()
                .map(|l| ShipmentLine {
                    line_no: l.line_no,
                    sku: l.sku.clone(),
                    gtin: l.gtin.clone(),
                    qty_ordered: l.quantity,
                    qty_shipped: config.shipped(&order.order_number, l.line_no, l.quantity),
                    uom: l.uom,
                    lot: None,
                    sscc: None,
                })
                .collect(),
        };
        let body = crate::client::json_body(&confirmation);
        // At-least-once delivery: a duplicate fault redelivers the same event
        // as new requests (their own keys), as a webhook retry would.
        let copies = self.faults.copies(core::SHIPMENT_CONFIRMATIONS);
        for copy in 1..=copies {
            let key = match copy {
                1 => format!("ship-event:{}", confirmation.event_id),
                n => format!("ship-event:{}:redelivery{n}", confirmation.event_id),
            };
            self.core
                .post(
                    core::SHIPMENT_CONFIRMATIONS,
                    &body,
                    &key,
                    &trace.child(rand::random()),
                )
                .await;
        }
    }
}

/// `POST /v1/order-releases`: decided at once (200 with the decision);
/// idempotent on Idempotency-Key and on (order_number, version).
pub(super) async fn order_release(
    State(wms): State<Arc<WmsSim>>,
    Posted { headers, body }: Posted,
) -> Response {
    let trace = incoming_trace(&headers);
    let order = match parse_body::<OrderRelease>(&body) {
        Ok((order, _)) => order,
        Err(problem) => return problem,
    };
    wms.idempotency
        .execute(&headers, &body, |_| {
            let (decision, fresh_accept) = wms.outbound.decide(&order);
            if fresh_accept {
                let guard = wms.pending.start();
                let worker = wms.clone();
                let id = decision.warehouse_order_id.clone().unwrap_or_default();
                tokio::spawn(async move {
                    worker.ship(order, id, trace).await;
                    drop(guard);
                });
            }
            StoredAnswer {
                status: StatusCode::OK,
                body: Bytes::from(serde_json::to_vec(&decision).expect("a decision serializes")),
            }
        })
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_shipping_follows_its_chance_and_is_deterministic() {
        let c = OutboundConfig {
            short_ship_probability: 0.25,
            seed: 3,
            ..OutboundConfig::default()
        };
        let short = (1..=2000).filter(|l| c.shipped("SO-1", *l, 9) == 4).count();
        assert!((400..600).contains(&short), "{short}");
        assert_eq!(c.shipped("SO-1", 7, 9), c.shipped("SO-1", 7, 9));
        assert_eq!(OutboundConfig::default().shipped("SO-1", 1, 9), 9);
    }

    #[test]
    fn the_item_master_knows_what_it_lists() {
        let m = ItemMaster::Known(["SKU-1".to_owned()].into());
        assert!(m.knows("SKU-1") && !m.knows("SKU-2"));
        assert!(ItemMaster::Any.knows("anything"));
    }
}
