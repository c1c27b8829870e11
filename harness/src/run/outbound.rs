//! The outbound flow's part of a run: generate sales orders (some with items
//! the WMS does not know), set up the WMS's item master and shipping, and
//! release the orders from the ERP on an open-model schedule.
//!
//! The release loop is small and separate on purpose, so that a reusable
//! open-model driver can replace it.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use contracts::ids::with_check_digit;
use contracts::inbound::Uom;
use contracts::outbound::{OrderRelease, OrderReleaseLine, ShipTo};
use contracts::{Gln, Gtin};
use simulators::erp::ErpSim;
use simulators::wms::WmsSim;
use simulators::wms::outbound::{ItemMaster, OutboundConfig};

use crate::scenario::OutboundLoad;

/// Sales orders for a scenario and seed, and the SKUs the WMS knows: every
/// SKU used except the unknown ones (`NOSUCH-…`), drawn per line with
/// `unknown_item_probability`.
pub fn generate_sales_orders(load: &OutboundLoad, seed: u64) -> (Vec<OrderRelease>, HashSet<String>) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0a7b_0a2d_5a1e);
    let warehouse = Gln::parse(&with_check_digit("506000000009")).expect("valid GLN");
    let range = load.lines_per_order;
    let mut known = HashSet::new();
    let orders = (1..=load.orders.0)
        .map(|n| {
            let lines = rng.random_range(range.min..=range.max);
            OrderRelease {
                order_number: format!("SO-{n:07}"),
                version: 1,
                warehouse_gln: warehouse.clone(),
                ship_to: ShipTo {
                    location_gln: None,
                    name: format!("Customer {n}"),
                    address_line: format!("{} Market Street", n % 200 + 1),
                    city: "Hamburg".into(),
                    postal_code: "20095".into(),
                    country_code: "DE".into(),
                },
                release_date: "2026-11-20".into(),
                requested_ship_date: "2026-11-23".into(),
                carrier_scac: Some("DHLX".into()),
                lines: (1..=lines)
                    .map(|line_no| {
                        let item: u32 = rng.random_range(1..=99_999);
                        let unknown = rng.random_bool(load.unknown_item_probability.0);
                        let sku = if unknown {
                            format!("NOSUCH-{item:05}")
                        } else {
                            format!("SKU-{item:05}")
                        };
                        if !unknown {
                            known.insert(sku.clone());
                        }
                        OrderReleaseLine {
                            line_no,
                            sku,
                            gtin: Gtin::parse(&with_check_digit(&format!("400638{item:06}")))
                                .expect("valid GTIN"),
                            quantity: rng.random_range(1..=40),
                            uom: Uom::Ea,
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    (orders, known)
}

/// Loads the orders into the ERP and sets the WMS's outbound behaviour.
pub fn prepare(erp: &ErpSim, wms: &WmsSim, load: &OutboundLoad, seed: u64) -> Vec<String> {
    let (orders, known) = generate_sales_orders(load, seed);
    wms.outbound().configure(OutboundConfig {
        items: ItemMaster::Known(known),
        ship_delay: Duration::from_millis(load.ship_delay_ms),
        short_ship_probability: load.short_ship_probability.0,
        seed: seed ^ 0x5a1e,
    });
    let numbers = orders.iter().map(|o| o.order_number.clone()).collect();
    erp.load_sales_orders(orders);
    numbers
}

/// What the release loop did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Released {
    pub sent: u64,
    pub missed_schedule: u64,
}

/// Releases `orders` from the ERP: release *i* is due at start + i / rate,
/// whatever happened to earlier ones; none is started after `deadline`. The
/// task ends when every release it started has its final answer (the ERP's
/// retries are bounded).
pub fn drive(
    erp: Arc<ErpSim>,
    orders: Vec<String>,
    rate_per_s: f64,
    deadline: Instant,
) -> JoinHandle<Released> {
    tokio::spawn(async move {
        let interval = Duration::from_secs_f64(1.0 / rate_per_s);
        let start = Instant::now();
        let missed = AtomicU64::new(0);
        let mut releases = JoinSet::new();
        let mut sent = 0;
        for (i, number) in orders.into_iter().enumerate() {
            let due = start + interval.mul_f64(i as f64);
            if due >= deadline {
                break;
            }
            tokio::time::sleep_until(due).await;
            if Instant::now().saturating_duration_since(due) > Duration::from_millis(10) {
                missed.fetch_add(1, Ordering::Relaxed);
            }
            let erp = erp.clone();
            releases.spawn(async move { erp.release_sales_order(&number).await });
            sent += 1;
        }
        releases.join_all().await;
        Released {
            sent,
            missed_schedule: missed.load(Ordering::Relaxed),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{CountRange, Positive, PositiveF64, Probability};

    #[test]
    fn orders_are_deterministic_and_unknown_items_follow_their_chance() {
        let load = OutboundLoad {
            orders: Positive(400),
            lines_per_order: CountRange { min: 1, max: 3 },
            arrival_rate_per_s: PositiveF64(10.0),
            unknown_item_probability: Probability(0.1),
            ship_delay_ms: 0,
            short_ship_probability: Probability(0.0),
            release_timeout_ms: Positive(1000),
            time_bound_s: None,
        };
        let (a, known) = generate_sales_orders(&load, 5);
        let (b, _) = generate_sales_orders(&load, 5);
        assert_eq!(a, b);
        let lines: Vec<_> = a.iter().flat_map(|o| &o.lines).collect();
        let unknown = lines.iter().filter(|l| !known.contains(&l.sku)).count();
        let share = unknown as f64 / lines.len() as f64;
        assert!((0.06..0.14).contains(&share), "{share}");
        assert!(
            lines
                .iter()
                .all(|l| known.contains(&l.sku) != l.sku.starts_with("NOSUCH-"))
        );
        let v = contracts::Validator::new();
        for o in &a {
            let doc = serde_json::to_value(o).unwrap();
            assert!(v.validate("OrderRelease", &doc).unwrap().is_empty(), "{doc}");
        }
    }
}
