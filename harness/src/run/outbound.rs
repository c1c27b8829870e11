//! The outbound flow's part of a run: generate sales orders (some with items
//! the WMS does not know), set up the WMS's item master and shipping, and
//! release the orders from the ERP on an open-model schedule.
//!
//! The releases go out on the open-model [`Driver`] (`crate::load`), like
//! the purchase orders.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use contracts::ids::with_check_digit;
use contracts::inbound::Uom;
use contracts::outbound::{OrderRelease, OrderReleaseLine, ShipTo};
use contracts::{Gln, Gtin};
use simulators::erp::ErpSim;
use simulators::wms::WmsSim;
use simulators::wms::outbound::{ItemMaster, OutboundConfig};

use crate::load::{Driver, LoadReport, Schedule};
use scenario::OutboundLoad;

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

/// The name of the order-release flow in the report (latency row and load).
pub const ORDER_RELEASE_FLOW: &str = "order-release";

/// Releases `orders` from the ERP on the open-model [`Driver`]: release *i*
/// is due at `start` + its offset on `schedule`, whatever happened to
/// earlier ones; its latency runs from that intended time to the core's
/// final answer (the ERP's retries are bounded). None is started after
/// `deadline`, and releases still unanswered then count as timed out.
/// Releases overlapping a window of `exclude` (offsets from `start`) are
/// left out of the judged (SLA) figures.
pub fn drive(
    erp: Arc<ErpSim>,
    orders: Vec<String>,
    schedule: Schedule,
    start: Instant,
    deadline: Instant,
    exclude: Vec<(Duration, Duration)>,
) -> JoinHandle<LoadReport> {
    tokio::spawn(async move {
        Driver::new(schedule)
            .max_sends(orders.len() as u64)
            .max_duration(deadline.saturating_duration_since(start))
            .start_at(start)
            .exclude(exclude)
            .flow(checker::sla::ORDER_RELEASE)
            .run(|i| {
                let (erp, number) = (erp.clone(), orders[i as usize].clone());
                async move {
                    erp.release_sales_order(&number)
                        .await
                        .is_some_and(|a| a.is_success())
                }
            })
            .await
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use scenario::{CountRange, Positive, PositiveF64, Probability};

    #[test]
    fn orders_are_deterministic_and_unknown_items_follow_their_chance() {
        let load = OutboundLoad {
            orders: Positive(400),
            lines_per_order: CountRange { min: 1, max: 3 },
            arrival_rate_per_s: PositiveF64(10.0),
            ramp: vec![],
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
