//! The document both benches measure: a 200-line ASN, 10 pallets of 20
//! cartons, one line per carton, 3 POs, lots and expiry dates.

use contracts::ids::with_check_digit;
use contracts::inbound::{AdvanceShipNotice, AsnLine, AsnPurpose, HandlingUnit, HandlingUnitLevel, Uom};
use contracts::{Gln, Gtin, Sscc};

const PALLETS: usize = 10;
const CARTONS_PER_PALLET: usize = 20;

/// 10 pallets × 20 cartons, 200 lines (one per carton), 3 POs.
pub fn asn_200_lines() -> AdvanceShipNotice {
    let sscc = |serial: usize| Sscc::parse(&with_check_digit(&format!("00614141{serial:09}"))).unwrap();
    let gtins: Vec<Gtin> = (0..25)
        .map(|i| Gtin::parse(&with_check_digit(&format!("400638100{i:03}"))).unwrap())
        .collect();
    let mut handling_units = Vec::new();
    let mut lines = Vec::new();
    let mut serial = 0;
    for p in 0..PALLETS {
        serial += 1;
        let pallet = sscc(serial);
        handling_units.push(HandlingUnit {
            sscc: pallet.clone(),
            level: HandlingUnitLevel::Pallet,
            parent_sscc: None,
        });
        for c in 0..CARTONS_PER_PALLET {
            serial += 1;
            let carton = sscc(serial);
            handling_units.push(HandlingUnit {
                sscc: carton.clone(),
                level: HandlingUnitLevel::Carton,
                parent_sscc: Some(pallet.clone()),
            });
            let n = p * CARTONS_PER_PALLET + c;
            lines.push(AsnLine {
                po_number: format!("PO-{}", 1001 + n % 3),
                po_line_no: (n % 40) as u32 + 1,
                gtin: gtins[n % gtins.len()].clone(),
                quantity: 12 + (n % 5) as u32,
                uom: Uom::Ea,
                lot: Some(format!("LOT-{}", 7 + n % 4)),
                expiry: Some("2027-06-30".into()),
                sscc: carton,
            });
        }
    }
    AdvanceShipNotice {
        asn_id: "ASN-BENCH-1".into(),
        purpose: AsnPurpose::Original,
        supplier_gln: Gln::parse(&with_check_digit("506000000001")).unwrap(),
        ship_date: "2026-11-22".into(),
        estimated_arrival: "2026-11-24".into(),
        carrier_scac: "UPSN".into(),
        bill_of_lading: "BOL-BENCH-1".into(),
        handling_units,
        lines,
    }
}
