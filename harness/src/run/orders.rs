//! The purchase orders a run's ERP releases: deterministic for a scenario
//! and seed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use contracts::Gln;
use contracts::Gtin;
use contracts::ids::with_check_digit;
use contracts::inbound::{PoLine, PoLineStatus, PurchaseOrder, Uom};
use scenario::Scenario;

/// The supplier every generated PO is addressed to.
pub fn supplier_gln() -> Gln {
    Gln::parse(&with_check_digit("506000000001")).expect("valid GLN")
}

/// Deterministic purchase orders for a scenario and seed.
pub fn generate_orders(scenario: &Scenario, seed: u64) -> Vec<PurchaseOrder> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_0f0e_d3e5);
    let ship_to = Gln::parse(&with_check_digit("506000000009")).expect("valid GLN");
    let Some(load) = &scenario.load else {
        return Vec::new();
    };
    let range = load.lines_per_po;
    (1..=load.purchase_orders.0)
        .map(|n| {
            let lines = rng.random_range(range.min..=range.max);
            PurchaseOrder {
                po_number: format!("PO-{n:07}"),
                version: 1,
                supplier_gln: supplier_gln(),
                ship_to_gln: ship_to.clone(),
                currency: "EUR".into(),
                order_date: "2026-11-20".into(),
                lines: (1..=lines)
                    .map(|line_no| {
                        let item: u32 = rng.random_range(1..=99_999);
                        PoLine {
                            line_no,
                            sku: format!("SKU-{item:05}"),
                            gtin: Gtin::parse(&with_check_digit(&format!("400638{item:06}")))
                                .expect("valid GTIN"),
                            quantity: rng.random_range(1..=120),
                            uom: Uom::Ea,
                            unit_price: format!(
                                "{}.{:02}",
                                rng.random_range(1..=500),
                                rng.random_range(0..100)
                            ),
                            requested_date: "2026-11-27".into(),
                            over_tolerance_pct: 10,
                            under_tolerance_pct: 5,
                            status: PoLineStatus::Open,
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}
