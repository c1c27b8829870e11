//! Property tests: generated valid documents (purchase orders, ASNs with a
//! pallet/carton tree, ship confirmations, inventory adjustments) round-trip
//! through serde and validate clean; a single mutation (bad check digit,
//! missing required field, zero or negative quantity, shipped > ordered,
//! on-hand below 0) is rejected at the right JSON pointer.
//!
//! Case counts are modest (64) so the suite stays fast; a failure prints the
//! shrunk document.

use contracts::Finding;
use contracts::ids::with_check_digit;
use contracts::inbound::{
    AdvanceShipNotice, AsnLine, AsnPurpose, HandlingUnit, HandlingUnitLevel, PoLine, PoLineStatus,
    PurchaseOrder, Uom,
};
use contracts::inventory::{AdjustmentReason, InventoryAdjustment};
use contracts::outbound::{ShipmentConfirmation, ShipmentLine};
use contracts::validate::{Rule, validate};
use contracts::{Gln, Gtin, Sscc};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

const CASES: u32 = 64;

fn digits(n: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, n).prop_map(|d| d.into_iter().map(|d| char::from(b'0' + d)).collect())
}

pub(crate) fn gln() -> impl Strategy<Value = Gln> {
    digits(12).prop_map(|d| Gln::parse(&with_check_digit(&d)).unwrap())
}

pub(crate) fn gtin() -> impl Strategy<Value = Gtin> {
    select(vec![8usize, 12, 13, 14])
        .prop_flat_map(|len| digits(len - 1))
        .prop_map(|d| Gtin::parse(&with_check_digit(&d)).unwrap())
}

pub(crate) fn uom() -> impl Strategy<Value = Uom> {
    select(vec![Uom::Ea, Uom::Cs, Uom::Pl])
}

/// A calendar date as (year, month, day), day ≤ 28 so every month has it.
pub(crate) fn ymd() -> impl Strategy<Value = (u16, u8, u8)> {
    (2020u16..2030, 1u8..=12, 1u8..=28)
}

pub(crate) fn date((y, m, d): (u16, u8, u8)) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

/// A date on or after `from`: the same day `years` later, or later that month.
pub(crate) fn date_after(from: (u16, u8, u8), years: u16, days: u8) -> String {
    let (y, m, d) = from;
    date((y + years, m, (d + days).min(28)))
}

pub(crate) fn price() -> impl Strategy<Value = String> {
    (0u32..100_000, proptest::option::of(0u32..10_000)).prop_map(|(int, frac)| match frac {
        Some(f) => format!("{int}.{f:04}"),
        None => int.to_string(),
    })
}

prop_compose! {
    fn po_line(order_date: (u16, u8, u8))(
        sku in "[A-Z]{3}-[0-9]{1,6}",
        gtin in gtin(),
        quantity in 1u32..100_000,
        uom in uom(),
        unit_price in price(),
        years in 0u16..2,
        days in 0u8..20,
        over in 0u8..=100,
        under in 0u8..=100,
        status in select(vec![PoLineStatus::Open, PoLineStatus::Closed, PoLineStatus::Cancelled]),
    ) -> PoLine {
        PoLine {
            line_no: 0,
            sku,
            gtin,
            quantity,
            uom,
            unit_price,
            requested_date: date_after(order_date, years, days),
            over_tolerance_pct: over,
            under_tolerance_pct: under,
            status,
        }
    }
}

pub(crate) fn purchase_order() -> impl Strategy<Value = PurchaseOrder> {
    ymd().prop_flat_map(|order_date| {
        (
            1u32..100_000_000,
            1u32..50,
            gln(),
            gln(),
            select(vec!["EUR", "USD", "GBP", "SEK"]),
            proptest::collection::vec(po_line(order_date), 1..20),
        )
            .prop_map(move |(n, version, supplier, ship_to, currency, mut lines)| {
                for (i, line) in lines.iter_mut().enumerate() {
                    line.line_no = i as u32 + 1;
                }
                PurchaseOrder {
                    po_number: format!("PO-{n}"),
                    version,
                    supplier_gln: supplier,
                    ship_to_gln: ship_to,
                    currency: currency.into(),
                    order_date: date(order_date),
                    lines,
                }
            })
    })
}

/// An ASN with 1–4 pallets of 1–6 cartons each, every line in a carton.
pub(crate) fn advance_ship_notice() -> impl Strategy<Value = AdvanceShipNotice> {
    let shape = proptest::collection::vec(1usize..=6, 1..=4);
    (shape, digits(7), ymd()).prop_flat_map(|(cartons_per_pallet, company, ship)| {
        let mut serial = 0u64;
        let mut sscc = || {
            serial += 1;
            Sscc::parse(&with_check_digit(&format!("0{company}{serial:09}"))).unwrap()
        };
        let mut units = Vec::new();
        for cartons in &cartons_per_pallet {
            let pallet = sscc();
            units.push(HandlingUnit {
                sscc: pallet.clone(),
                level: HandlingUnitLevel::Pallet,
                parent_sscc: None,
            });
            for _ in 0..*cartons {
                units.push(HandlingUnit {
                    sscc: sscc(),
                    level: HandlingUnitLevel::Carton,
                    parent_sscc: Some(pallet.clone()),
                });
            }
        }
        let cartons: Vec<Sscc> = units
            .iter()
            .filter(|u| u.level == HandlingUnitLevel::Carton)
            .map(|u| u.sscc.clone())
            .collect();
        let line = (
            1u32..1000,
            1u32..100,
            gtin(),
            1u32..10_000,
            uom(),
            proptest::option::of("LOT-[0-9]{1,5}"),
            proptest::option::of((1u16..3, 0u8..20)),
            select(cartons),
        )
            .prop_map(
                move |(po, po_line_no, gtin, quantity, uom, lot, expiry, sscc)| AsnLine {
                    po_number: format!("PO-{po}"),
                    po_line_no,
                    gtin,
                    quantity,
                    uom,
                    lot,
                    expiry: expiry.map(|(y, d)| date_after(ship, y, d)),
                    sscc,
                },
            );
        (
            1u32..1_000_000,
            gln(),
            0u8..10,
            "[A-Z]{2,4}",
            proptest::collection::vec(line, 1..30),
        )
            .prop_map(move |(n, supplier, eta_days, scac, lines)| AdvanceShipNotice {
                asn_id: format!("ASN-{n}"),
                purpose: AsnPurpose::Original,
                supplier_gln: supplier,
                ship_date: date(ship),
                estimated_arrival: date_after(ship, 0, eta_days),
                carrier_scac: scac,
                bill_of_lading: format!("BOL-{n}"),
                handling_units: units.clone(),
                lines,
            })
    })
}

/// A ship confirmation of loose parcels: 1–20 lines, each shipped in full or short.
fn shipment_confirmation() -> impl Strategy<Value = ShipmentConfirmation> {
    let line = (gtin(), 1u32..10_000, any::<prop::sample::Index>(), uom());
    (
        1u32..1_000_000,
        gln(),
        ymd(),
        proptest::collection::vec(line, 1..20),
    )
        .prop_map(|(n, warehouse, day, lines)| ShipmentConfirmation {
            shipment_id: format!("SHP-{n}"),
            event_id: format!("evt-{n}"),
            order_number: format!("SO-{n}"),
            order_version: 1,
            warehouse_order_id: format!("WO-{n}"),
            warehouse_gln: warehouse,
            shipped_at: format!("{}T12:00:00Z", date(day)),
            carrier_scac: "UPSN".into(),
            tracking_number: None,
            handling_units: Vec::new(),
            lines: lines
                .into_iter()
                .enumerate()
                .map(|(i, (gtin, ordered, shipped, uom))| ShipmentLine {
                    line_no: i as u32 + 1,
                    sku: format!("SKU-{i}"),
                    gtin,
                    qty_ordered: ordered,
                    qty_shipped: shipped.index(ordered as usize + 1) as u32,
                    uom,
                    lot: None,
                    sscc: None,
                })
                .collect(),
        })
}

/// An adjustment that keeps on-hand at 0 or above.
fn inventory_adjustment() -> impl Strategy<Value = InventoryAdjustment> {
    (
        0u64..100_000,
        any::<prop::sample::Index>(),
        any::<bool>(),
        gln(),
        uom(),
    )
        .prop_map(|(previous, size, up, warehouse, uom)| {
            let delta = if up || previous == 0 {
                size.index(1000) as i64 + 1
            } else {
                -(size.index(previous as usize) as i64 + 1)
            };
            InventoryAdjustment {
                adjustment_id: "ADJ-1".into(),
                source_event_id: "evt-adj-1".into(),
                warehouse_gln: warehouse,
                sku: "SKU-1".into(),
                location: "A-01-01".into(),
                delta,
                previous_on_hand: previous,
                uom,
                reason: if delta > 0 {
                    AdjustmentReason::Found
                } else {
                    AdjustmentReason::Lost
                },
                lot: None,
                occurred_at: "2026-11-22T10:00:00Z".into(),
            }
        })
}

/// `id` with its check digit replaced by a wrong one.
fn break_check_digit(id: &str, by: u8) -> String {
    let last = id.as_bytes()[id.len() - 1] - b'0';
    let wrong = (last + 1 + by % 9) % 10;
    format!("{}{wrong}", &id[..id.len() - 1])
}

fn has(findings: &[Finding], rule: Rule, pointer: &str) -> bool {
    findings.iter().any(|f| f.rule == rule && f.pointer == pointer)
}

const PO_REQUIRED: &[&str] = &[
    "po_number",
    "version",
    "supplier_gln",
    "ship_to_gln",
    "currency",
    "order_date",
    "lines",
];
const ASN_REQUIRED: &[&str] = &[
    "asn_id",
    "purpose",
    "supplier_gln",
    "ship_date",
    "estimated_arrival",
    "carrier_scac",
    "bill_of_lading",
    "handling_units",
    "lines",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn a_generated_purchase_order_round_trips_and_is_valid(po in purchase_order()) {
        let doc = serde_json::to_value(&po).unwrap();
        let back: PurchaseOrder = serde_json::from_value(doc.clone()).unwrap();
        prop_assert_eq!(&back, &po);
        let findings = validate("PurchaseOrder", &doc).unwrap();
        prop_assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn a_generated_asn_round_trips_and_is_valid(asn in advance_ship_notice()) {
        let doc = serde_json::to_value(&asn).unwrap();
        let back: AdvanceShipNotice = serde_json::from_value(doc.clone()).unwrap();
        prop_assert_eq!(&back, &asn);
        let findings = validate("AdvanceShipNotice", &doc).unwrap();
        prop_assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn a_po_line_gtin_with_a_bad_check_digit_is_caught_there(
        po in purchase_order(), pick in any::<prop::sample::Index>(), by in any::<u8>(),
    ) {
        let mut doc = serde_json::to_value(&po).unwrap();
        let i = pick.index(po.lines.len());
        let bad = break_check_digit(po.lines[i].gtin.as_str(), by);
        doc["lines"][i]["gtin"] = json!(bad);
        let findings = validate("PurchaseOrder", &doc).unwrap();
        let pointer = format!("/lines/{i}/gtin");
        prop_assert!(has(&findings, Rule::Gs1CheckDigit, &pointer), "{findings:?}");
        prop_assert_eq!(findings.len(), 1, "{:?}", findings);
        prop_assert!(serde_json::from_value::<PurchaseOrder>(doc).is_err());
    }

    #[test]
    fn a_po_without_a_required_field_is_caught_at_the_root(
        po in purchase_order(), field in select(PO_REQUIRED),
    ) {
        let mut doc = serde_json::to_value(&po).unwrap();
        doc.as_object_mut().unwrap().remove(field);
        let findings = validate("PurchaseOrder", &doc).unwrap();
        prop_assert!(
            findings.iter().any(|f| f.rule == Rule::Schema && f.pointer.is_empty() && f.message.contains(field)),
            "{findings:?}"
        );
        prop_assert!(serde_json::from_value::<PurchaseOrder>(doc).is_err());
    }

    #[test]
    fn a_po_line_with_a_zero_or_negative_quantity_is_caught_there(
        po in purchase_order(), pick in any::<prop::sample::Index>(), qty in -1000i64..=0,
    ) {
        let mut doc = serde_json::to_value(&po).unwrap();
        let i = pick.index(po.lines.len());
        doc["lines"][i]["quantity"] = json!(qty);
        let findings = validate("PurchaseOrder", &doc).unwrap();
        let pointer = format!("/lines/{i}/quantity");
        // The schema's minimum reports it; the domain rule's copy is dropped.
        prop_assert!(has(&findings, Rule::Schema, &pointer), "{findings:?}");
        prop_assert!(findings.iter().all(|f| f.pointer == pointer), "{findings:?}");
    }

    #[test]
    fn an_asn_unit_with_a_bad_check_digit_is_caught_there(
        asn in advance_ship_notice(), pick in any::<prop::sample::Index>(), by in any::<u8>(),
    ) {
        let mut doc = serde_json::to_value(&asn).unwrap();
        let k = pick.index(asn.handling_units.len());
        let bad = break_check_digit(asn.handling_units[k].sscc.as_str(), by);
        doc["handling_units"][k]["sscc"] = json!(bad);
        let findings = validate("AdvanceShipNotice", &doc).unwrap();
        let pointer = format!("/handling_units/{k}/sscc");
        prop_assert!(has(&findings, Rule::Gs1CheckDigit, &pointer), "{findings:?}");
        prop_assert!(serde_json::from_value::<AdvanceShipNotice>(doc).is_err());
    }

    #[test]
    fn an_asn_line_gtin_with_a_bad_check_digit_is_caught_there(
        asn in advance_ship_notice(), pick in any::<prop::sample::Index>(), by in any::<u8>(),
    ) {
        let mut doc = serde_json::to_value(&asn).unwrap();
        let i = pick.index(asn.lines.len());
        let bad = break_check_digit(asn.lines[i].gtin.as_str(), by);
        doc["lines"][i]["gtin"] = json!(bad);
        let findings = validate("AdvanceShipNotice", &doc).unwrap();
        let pointer = format!("/lines/{i}/gtin");
        prop_assert!(has(&findings, Rule::Gs1CheckDigit, &pointer), "{findings:?}");
        prop_assert_eq!(findings.len(), 1, "{:?}", findings);
    }

    #[test]
    fn an_asn_without_a_required_field_is_caught_at_the_root(
        asn in advance_ship_notice(), field in select(ASN_REQUIRED),
    ) {
        let mut doc = serde_json::to_value(&asn).unwrap();
        doc.as_object_mut().unwrap().remove(field);
        let findings = validate("AdvanceShipNotice", &doc).unwrap();
        prop_assert!(
            findings.iter().any(|f| f.rule == Rule::Schema && f.pointer.is_empty() && f.message.contains(field)),
            "{findings:?}"
        );
        prop_assert!(serde_json::from_value::<AdvanceShipNotice>(doc).is_err());
    }

    #[test]
    fn an_asn_line_with_a_zero_or_negative_quantity_is_caught_there(
        asn in advance_ship_notice(), pick in any::<prop::sample::Index>(), qty in -1000i64..=0,
    ) {
        let mut doc = serde_json::to_value(&asn).unwrap();
        let i = pick.index(asn.lines.len());
        doc["lines"][i]["quantity"] = json!(qty);
        let findings = validate("AdvanceShipNotice", &doc).unwrap();
        let pointer = format!("/lines/{i}/quantity");
        prop_assert!(has(&findings, Rule::Schema, &pointer), "{findings:?}");
        prop_assert!(findings.iter().all(|f| f.pointer == pointer), "{findings:?}");
    }

    #[test]
    fn a_required_field_of_a_po_line_is_caught_at_its_line(
        po in purchase_order(), pick in any::<prop::sample::Index>(),
        field in select(vec!["line_no", "sku", "gtin", "quantity", "uom", "unit_price", "requested_date"]),
    ) {
        let mut doc = serde_json::to_value(&po).unwrap();
        let i = pick.index(po.lines.len());
        let line: &mut Value = &mut doc["lines"][i];
        line.as_object_mut().unwrap().remove(field);
        let findings = validate("PurchaseOrder", &doc).unwrap();
        let pointer = format!("/lines/{i}");
        prop_assert!(
            findings.iter().any(|f| f.rule == Rule::Schema && f.pointer == pointer && f.message.contains(field)),
            "{findings:?}"
        );
    }

    #[test]
    fn a_shipment_confirmation_round_trips_and_shipping_more_than_ordered_is_caught(
        sc in shipment_confirmation(), pick in any::<prop::sample::Index>(), over in 1u32..1000,
    ) {
        let doc = serde_json::to_value(&sc).unwrap();
        let back: ShipmentConfirmation = serde_json::from_value(doc.clone()).unwrap();
        prop_assert_eq!(&back, &sc);
        let findings = validate("ShipmentConfirmation", &doc).unwrap();
        prop_assert!(findings.is_empty(), "{findings:?}");

        let i = pick.index(sc.lines.len());
        let mut bad = doc;
        bad["lines"][i]["qty_shipped"] = json!(sc.lines[i].qty_ordered + over);
        let findings = validate("ShipmentConfirmation", &bad).unwrap();
        prop_assert!(has(&findings, Rule::QuantityConsistent, &format!("/lines/{i}/qty_shipped")), "{findings:?}");
        prop_assert_eq!(findings.len(), 1, "{:?}", findings);
    }

    #[test]
    fn an_inventory_adjustment_round_trips_and_going_below_zero_is_caught(
        adj in inventory_adjustment(), beyond in 1i64..1000,
    ) {
        let doc = serde_json::to_value(&adj).unwrap();
        let back: InventoryAdjustment = serde_json::from_value(doc.clone()).unwrap();
        prop_assert_eq!(&back, &adj);
        let findings = validate("InventoryAdjustment", &doc).unwrap();
        prop_assert!(findings.is_empty(), "{findings:?}");

        let mut bad = doc;
        bad["delta"] = json!(-(adj.previous_on_hand as i64) - beyond);
        let findings = validate("InventoryAdjustment", &bad).unwrap();
        prop_assert!(has(&findings, Rule::QuantityConsistent, "/delta"), "{findings:?}");
        prop_assert_eq!(findings.len(), 1, "{:?}", findings);
    }
}
