//! On-hand stock as one party books it, per (sku, location), and the
//! snapshot it answers `GET /v1/inventory-snapshot` with. The ERP and the
//! WMS simulators each keep one; they agree as long as every movement the
//! WMS makes reaches the ERP.

use std::collections::BTreeMap;

use contracts::Gln;
use contracts::ids::with_check_digit;
use contracts::inbound::{StockStatus, Uom};
use contracts::inventory::{InventorySnapshot, OnHandPosition, SnapshotSource};

/// The one simulated warehouse (the ship-to of every generated PO).
pub fn warehouse_gln() -> Gln {
    Gln::parse(&with_check_digit("506000000009")).expect("a valid GLN")
}

/// Where received stock of a status is put away. The ERP books a posting's
/// stock status to the same location, so both sides name positions alike.
pub fn location_for(status: StockStatus) -> &'static str {
    match status {
        StockStatus::Unrestricted => "STOCK",
        StockStatus::Quality => "QUALITY",
        StockStatus::Blocked => "BLOCKED",
    }
}

/// On-hand per (sku, location).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OnHand {
    positions: BTreeMap<(String, String), (Uom, u64)>,
}

impl OnHand {
    /// Puts `qty` away at (sku, location); a position is kept even at 0.
    pub fn add(&mut self, sku: &str, location: &str, uom: Uom, qty: u64) {
        let slot = self
            .positions
            .entry((sku.to_owned(), location.to_owned()))
            .or_insert((uom, 0));
        slot.1 += qty;
    }

    /// Applies a signed change; on-hand never goes below 0. Returns the new
    /// on-hand.
    pub fn apply(&mut self, sku: &str, location: &str, uom: Uom, delta: i64) -> u64 {
        let slot = self
            .positions
            .entry((sku.to_owned(), location.to_owned()))
            .or_insert((uom, 0));
        slot.1 = slot.1.saturating_add_signed(delta);
        slot.1
    }

    pub fn get(&self, sku: &str, location: &str) -> u64 {
        self.positions
            .get(&(sku.to_owned(), location.to_owned()))
            .map_or(0, |p| p.1)
    }

    /// The `n`-th position (wrapping), if any: (sku, location, uom, on-hand).
    pub fn nth(&self, n: usize) -> Option<(String, String, Uom, u64)> {
        if self.positions.is_empty() {
            return None;
        }
        self.positions
            .iter()
            .nth(n % self.positions.len())
            .map(|((s, l), (u, q))| (s.clone(), l.clone(), *u, *q))
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Total units on hand, over every position.
    pub fn total(&self) -> u64 {
        self.positions.values().map(|p| p.1).sum()
    }

    /// Every position as it stands now.
    pub fn snapshot(
        &self,
        snapshot_id: String,
        source: SnapshotSource,
        taken_at: String,
    ) -> InventorySnapshot {
        InventorySnapshot {
            snapshot_id,
            source,
            warehouse_gln: warehouse_gln(),
            taken_at,
            positions: self
                .positions
                .iter()
                .map(|((sku, location), (uom, on_hand))| OnHandPosition {
                    sku: sku.clone(),
                    location: location.clone(),
                    uom: *uom,
                    on_hand: *on_hand,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_hand_adds_applies_and_never_goes_negative() {
        let mut books = OnHand::default();
        books.add("A", "STOCK", Uom::Ea, 10);
        books.add("A", "STOCK", Uom::Ea, 5);
        assert_eq!(books.get("A", "STOCK"), 15);
        assert_eq!(books.apply("A", "STOCK", Uom::Ea, -4), 11);
        assert_eq!(books.apply("A", "STOCK", Uom::Ea, -40), 0);
        assert_eq!(books.apply("B", "QUALITY", Uom::Ea, 3), 3);
        let snap = books.snapshot("S-1".into(), SnapshotSource::Erp, "2026-11-23T00:00:00Z".into());
        assert_eq!(snap.positions.len(), 2);
        assert_eq!(snap.positions[0].on_hand, 0);
        assert_eq!(books.total(), 3);
        assert_eq!(books.nth(3).unwrap().0, "B");
    }
}
