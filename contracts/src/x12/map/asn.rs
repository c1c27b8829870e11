//! 856 advance ship notice ⇄ [`AdvanceShipNotice`]: BSN, then the HL tree
//! shipment (S) → order (O, one per PO) → tare (T, pallet) / pack (P,
//! carton) → item (I). A pallet holding several POs' goods appears under
//! each of their orders with the same SSCC.

use foldhash::HashMap;

use crate::ids::Sscc;
use crate::inbound::{AdvanceShipNotice, AsnLine, AsnPurpose, HandlingUnit, HandlingUnitLevel};

use super::super::error::{ElementCode, SegmentCode, SegmentError};
use super::super::fields::{
    At, MapError, gtin_in_pairs, gtin_qualifier, in_pairs, missing, positioned, seg, uom_code, uom_from,
    x12_date,
};
use super::super::model::{Segment, TransactionSet, tag};

const BSN: u32 = tag("BSN");
const HL: u32 = tag("HL");
const TD5: u32 = tag("TD5");
const REF: u32 = tag("REF");
const DTM: u32 = tag("DTM");
const N1: u32 = tag("N1");
const PRF: u32 = tag("PRF");
const MAN: u32 = tag("MAN");
const LIN: u32 = tag("LIN");
const SN1: u32 = tag("SN1");
const CTT: u32 = tag("CTT");

/// REF03 of the mutually defined reference (REF01 `ZZ`) in a T/P loop
/// carrying the handling unit's 1-based place in the ASN's list.
pub(crate) const UNIT_SEQUENCE: &str = "HANDLING UNIT SEQUENCE";

fn purpose_code(p: AsnPurpose) -> &'static str {
    match p {
        AsnPurpose::Original => "00",
        AsnPurpose::Replace => "05",
        AsnPurpose::Cancel => "01",
    }
}

fn purpose(code: &str) -> Option<AsnPurpose> {
    match code {
        "00" => Some(AsnPurpose::Original),
        "05" => Some(AsnPurpose::Replace),
        "01" => Some(AsnPurpose::Cancel),
        _ => None,
    }
}

/// The HL tree being written.
struct Tree<'a> {
    asn: &'a AdvanceShipNotice,
    out: Vec<Segment>,
    hl: usize,
    children: Vec<Vec<usize>>,
    /// Per unit, the POs whose lines it (or a unit on it) holds.
    pos: Vec<Vec<&'a str>>,
    /// Per unit, its first HL id.
    first_hl: Vec<Option<usize>>,
}

impl<'a> Tree<'a> {
    fn open(&mut self, parent: usize, code: &str) -> usize {
        self.hl += 1;
        let (id, parent_s) = (
            self.hl.to_string(),
            if parent == 0 {
                String::new()
            } else {
                parent.to_string()
            },
        );
        self.out.push(seg("HL", &[&id, &parent_s, code]));
        self.hl
    }

    /// Unit `u` and what is on it, for the lines of `po` (`None`: the
    /// units holding no line at all).
    fn unit(&mut self, u: usize, parent_hl: usize, po: Option<&str>) {
        let asn = self.asn;
        let unit = &asn.handling_units[u];
        let level = match unit.level {
            HandlingUnitLevel::Pallet => "T",
            HandlingUnitLevel::Carton => "P",
        };
        let hl = self.open(parent_hl, level);
        self.first_hl[u].get_or_insert(hl);
        self.out.push(seg("MAN", &["GM", unit.sscc.as_str()]));
        self.out
            .push(seg("REF", &["ZZ", &(u + 1).to_string(), UNIT_SEQUENCE]));
        if let Some(po) = po {
            for (i, line) in asn.lines.iter().enumerate() {
                if line.po_number == po && line.sscc == unit.sscc {
                    self.item(i, line, hl);
                }
            }
        }
        for c in self.children[u].clone() {
            let holds = match po {
                Some(po) => self.pos[c].contains(&po),
                None => self.pos[c].is_empty(),
            };
            if holds {
                self.unit(c, hl, po);
            }
        }
    }

    fn item(&mut self, i: usize, line: &AsnLine, parent_hl: usize) {
        self.open(parent_hl, "I");
        let po_line = line.po_line_no.to_string();
        self.out.push(seg(
            "LIN",
            &[
                &(i + 1).to_string(),
                gtin_qualifier(&line.gtin),
                line.gtin.as_str(),
                "PL",
                &po_line,
            ],
        ));
        self.out
            .push(seg("SN1", &["", &line.quantity.to_string(), uom_code(line.uom)]));
        if let Some(lot) = &line.lot {
            self.out.push(seg("REF", &["LT", lot]));
        }
        if let Some(expiry) = &line.expiry {
            self.out.push(seg("DTM", &["036", &x12_date(expiry)]));
        }
    }
}

fn map_error(field: String, detail: &str) -> MapError {
    MapError {
        set_id: "856",
        field,
        detail: detail.into(),
    }
}

/// Each unit's children (in list order) and the roots.
fn unit_tree(asn: &AdvanceShipNotice) -> Result<(Vec<Vec<usize>>, Vec<usize>), MapError> {
    let index: std::collections::HashMap<&Sscc, usize> = asn
        .handling_units
        .iter()
        .enumerate()
        .map(|(i, u)| (&u.sscc, i))
        .collect();
    if index.len() != asn.handling_units.len() {
        return Err(map_error("/handling_units".into(), "an SSCC is listed twice"));
    }
    let mut children = vec![Vec::new(); asn.handling_units.len()];
    let mut roots = Vec::new();
    for (i, u) in asn.handling_units.iter().enumerate() {
        match &u.parent_sscc {
            None => roots.push(i),
            Some(p) => match index.get(p) {
                Some(&pi) => children[pi].push(i),
                None => {
                    return Err(map_error(
                        format!("/handling_units/{i}/parent_sscc"),
                        "the parent is not in the list",
                    ));
                }
            },
        }
    }
    Ok((children, roots))
}

/// Per unit, the POs of the lines on it or on a unit under it.
fn unit_pos(asn: &AdvanceShipNotice) -> Result<Vec<Vec<&str>>, MapError> {
    let index: std::collections::HashMap<&Sscc, usize> = asn
        .handling_units
        .iter()
        .enumerate()
        .map(|(i, u)| (&u.sscc, i))
        .collect();
    let mut pos: Vec<Vec<&str>> = vec![Vec::new(); asn.handling_units.len()];
    for (i, line) in asn.lines.iter().enumerate() {
        let mut at = *index
            .get(&line.sscc)
            .ok_or_else(|| map_error(format!("/lines/{i}/sscc"), "not a listed handling unit"))?;
        for _ in 0..=asn.handling_units.len() {
            if !pos[at].contains(&line.po_number.as_str()) {
                pos[at].push(&line.po_number);
            }
            match asn.handling_units[at]
                .parent_sscc
                .as_ref()
                .and_then(|p| index.get(p))
            {
                Some(&p) => at = p,
                None => break,
            }
        }
    }
    Ok(pos)
}

pub(crate) fn write_856(asn: &AdvanceShipNotice) -> Result<Vec<Segment>, MapError> {
    let (children, roots) = unit_tree(asn)?;
    let reachable = roots.len() + children.iter().map(Vec::len).sum::<usize>();
    if reachable != asn.handling_units.len() || has_cycle(&children, &roots, asn.handling_units.len()) {
        return Err(map_error("/handling_units".into(), "the parents form a cycle"));
    }
    let pos = unit_pos(asn)?;
    let ship = x12_date(&asn.ship_date);
    let mut tree = Tree {
        asn,
        out: vec![seg(
            "BSN",
            &[purpose_code(asn.purpose), &asn.asn_id, &ship, "0000", "0001"],
        )],
        hl: 0,
        children,
        pos,
        first_hl: vec![None; asn.handling_units.len()],
    };
    let shipment = tree.open(0, "S");
    tree.out.push(seg("TD5", &["B", "2", &asn.carrier_scac]));
    tree.out.push(seg("REF", &["BM", &asn.bill_of_lading]));
    tree.out.push(seg("DTM", &["011", &ship]));
    tree.out
        .push(seg("DTM", &["017", &x12_date(&asn.estimated_arrival)]));
    tree.out
        .push(seg("N1", &["SF", "", "UL", asn.supplier_gln.as_str()]));
    let mut orders: Vec<&str> = Vec::new();
    for line in &asn.lines {
        if !orders.contains(&line.po_number.as_str()) {
            orders.push(&line.po_number);
        }
    }
    for po in orders {
        let order = tree.open(shipment, "O");
        tree.out.push(seg("PRF", &[po]));
        for &r in &roots {
            if tree.pos[r].contains(&po) {
                tree.unit(r, order, Some(po));
            }
        }
    }
    // Units holding no line hang under their parent's first HL, or the shipment.
    for u in 0..asn.handling_units.len() {
        let parent = asn.handling_units[u].parent_sscc.as_ref();
        let parent_idx = parent.and_then(|p| asn.handling_units.iter().position(|h| &h.sscc == p));
        let parent_holds = parent_idx.is_some_and(|p| !tree.pos[p].is_empty());
        if tree.pos[u].is_empty() && (parent_idx.is_none() || parent_holds) {
            let parent_hl = parent_idx.and_then(|p| tree.first_hl[p]).unwrap_or(shipment);
            tree.unit(u, parent_hl, None);
        }
    }
    let count = tree.hl;
    tree.out.push(seg("CTT", &[&count.to_string()]));
    Ok(tree.out)
}

fn has_cycle(children: &[Vec<usize>], roots: &[usize], n: usize) -> bool {
    let mut seen = vec![false; n];
    let mut stack = roots.to_vec();
    while let Some(u) = stack.pop() {
        if std::mem::replace(&mut seen[u], true) {
            return true;
        }
        stack.extend(&children[u]);
    }
    seen.iter().any(|s| !s)
}

/// What an HL level is.
#[derive(Clone, Copy, PartialEq)]
enum Level {
    Shipment,
    Order(usize),
    Unit(usize),
    Item,
}

/// The shipment-level values read.
#[derive(Default)]
struct Shipment {
    scac: Option<String>,
    bol: Option<String>,
    shipped: Option<String>,
    arrival: Option<String>,
    supplier: Option<crate::ids::Gln>,
}

struct Reading<'a> {
    /// HL01 → (level, parent HL01).
    hls: HashMap<&'a str, (Level, Option<&'a str>)>,
    orders: Vec<String>,
    units: Vec<(HandlingUnit, Option<usize>, At<'a>)>,
    /// SSCC → index in `units`.
    unit_index: HashMap<Sscc, usize>,
    lines: Vec<(Option<u32>, AsnLine)>,
    shipment: Shipment,
    current: Option<(At<'a>, Level)>,
    hl_count: usize,
}

impl<'a> Reading<'a> {
    fn hl(&mut self, at: At<'a>) -> Result<(), SegmentError> {
        let id = at.req(1)?;
        let parent = at.opt(2);
        let parent_level = match parent {
            None => None,
            Some(p) => Some(
                self.hls
                    .get(p)
                    .ok_or_else(|| at.fault(2, ElementCode::InvalidCode, "HL02 names no earlier HL"))?
                    .0,
            ),
        };
        let level = match (at.req(3)?, parent_level) {
            ("S", None) => Level::Shipment,
            ("O", Some(Level::Shipment)) => Level::Order(usize::MAX),
            ("T" | "P", Some(_)) => Level::Unit(usize::MAX),
            ("I", Some(Level::Unit(_) | Level::Order(_))) => Level::Item,
            ("S" | "O" | "T" | "P" | "I", _) => {
                return Err(at.fault(
                    2,
                    ElementCode::InvalidCode,
                    "HL02 names a parent of the wrong level",
                ));
            }
            _ => return Err(at.fault(3, ElementCode::InvalidCode, "HL03 S, O, T, P or I")),
        };
        if self.hls.insert(id, (level, parent)).is_some() {
            return Err(at.fault(1, ElementCode::InvalidCode, "HL01 repeats an earlier HL"));
        }
        self.hl_count += 1;
        self.current = Some((at, level));
        Ok(())
    }

    /// The order and unit an HL sits in, walking up its parents.
    fn ancestry(&self, mut id: Option<&'a str>) -> (Option<usize>, Option<usize>) {
        let (mut order, mut unit) = (None, None);
        for _ in 0..=self.hls.len() {
            let Some((level, parent)) = id.and_then(|i| self.hls.get(i)) else {
                break;
            };
            match level {
                Level::Order(o) if order.is_none() && *o != usize::MAX => order = Some(*o),
                Level::Unit(u) if unit.is_none() && *u != usize::MAX => unit = Some(*u),
                _ => {}
            }
            id = *parent;
        }
        (order, unit)
    }

    fn set_level(&mut self, level: Level) {
        if let Some((hl, l)) = self.current.as_mut() {
            *l = level;
            if let Some(id) = hl.opt(1) {
                if let Some(entry) = self.hls.get_mut(id) {
                    entry.0 = level;
                }
            }
        }
    }

    fn segment(&mut self, at: At<'a>) -> Result<(), SegmentError> {
        let Some((hl, level)) = self.current else {
            return Ok(());
        };
        match (level, at.seg.tag(), at.opt(1)) {
            (Level::Shipment, TD5, _) if at.opt(2) == Some("2") => {
                self.shipment.scac = Some(at.req(3)?.to_owned())
            }
            (Level::Shipment, REF, Some("BM")) => self.shipment.bol = Some(at.req(2)?.to_owned()),
            (Level::Shipment, DTM, Some("011")) => self.shipment.shipped = Some(at.date(2)?),
            (Level::Shipment, DTM, Some("017")) => self.shipment.arrival = Some(at.date(2)?),
            (Level::Shipment, N1, Some("SF")) => self.shipment.supplier = Some(super::order::party(&at)?),
            (Level::Order(_), PRF, _) => {
                self.orders.push(at.req(1)?.to_owned());
                self.set_level(Level::Order(self.orders.len() - 1));
            }
            (Level::Unit(usize::MAX), MAN, Some("GM")) => self.unit(hl, at)?,
            (Level::Unit(u), REF, Some("ZZ")) if at.opt(3) == Some(UNIT_SEQUENCE) && u != usize::MAX => {
                self.units[u].1 = Some(at.number(2, 1)? as usize);
            }
            (Level::Item, LIN, _) => self.item(hl, at)?,
            (Level::Item, SN1, _) => {
                let line = self.line(&at)?;
                line.quantity = at.number(2, 1)?;
                line.uom = at.code(3, uom_from, "a unit EA, CA or PL")?;
            }
            (Level::Item, REF, Some("LT")) => self.line(&at)?.lot = Some(at.req(2)?.to_owned()),
            (Level::Item, DTM, Some("036")) => self.line(&at)?.expiry = Some(at.date(2)?),
            _ => {}
        }
        Ok(())
    }

    fn unit(&mut self, hl: At<'a>, at: At<'a>) -> Result<(), SegmentError> {
        let sscc = at.sscc(2)?;
        let (_, parent_unit) = self.ancestry(hl.opt(2));
        let parent_sscc = parent_unit.map(|p| self.units[p].0.sscc.clone());
        let level = if hl.opt(3) == Some("T") {
            HandlingUnitLevel::Pallet
        } else {
            HandlingUnitLevel::Carton
        };
        let index = match self.unit_index.get(&sscc).copied() {
            Some(i) if self.units[i].0.level == level && self.units[i].0.parent_sscc == parent_sscc => i,
            Some(_) => {
                return Err(at.fault(
                    2,
                    ElementCode::ExclusionViolated,
                    "the SSCC appeared before at another level or under another parent",
                ));
            }
            None => {
                self.unit_index.insert(sscc.clone(), self.units.len());
                self.units.push((
                    HandlingUnit {
                        sscc,
                        level,
                        parent_sscc,
                    },
                    None,
                    at,
                ));
                self.units.len() - 1
            }
        };
        self.set_level(Level::Unit(index));
        Ok(())
    }

    fn item(&mut self, hl: At<'a>, at: At<'a>) -> Result<(), SegmentError> {
        let (order, unit) = self.ancestry(hl.opt(2));
        let order = order.ok_or_else(|| {
            SegmentError::segment(
                hl.pos,
                "HL",
                SegmentCode::UnexpectedSegment,
                "the item is under no order (PRF)",
            )
        })?;
        let unit = unit.ok_or_else(|| {
            SegmentError::segment(
                hl.pos,
                "HL",
                SegmentCode::UnexpectedSegment,
                "the item is in no tare or pack (MAN*GM)",
            )
        })?;
        let (n, po_line) = in_pairs(&at, 2, "PL")
            .ok_or_else(|| at.fault(4, ElementCode::ConditionalMissing, "expected the PO line (PL)"))?;
        let po_line_no = po_line
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| at.fault(n, ElementCode::InvalidCharacter, "expected a PO line number ≥ 1"))?;
        let seq = at.opt(1).and_then(|s| s.parse().ok());
        self.lines.push((
            seq,
            AsnLine {
                po_number: self.orders[order].clone(),
                po_line_no,
                gtin: gtin_in_pairs(&at, 2)?,
                quantity: 0,
                uom: crate::inbound::Uom::Ea,
                lot: None,
                expiry: None,
                sscc: self.units[unit].0.sscc.clone(),
            },
        ));
        Ok(())
    }

    fn line(&mut self, at: &At<'_>) -> Result<&mut AsnLine, SegmentError> {
        match self.lines.last_mut() {
            Some((_, line)) => Ok(line),
            None => Err(at.unexpected("before the item's LIN")),
        }
    }
}

pub(crate) fn read_856(set: &TransactionSet) -> Result<AdvanceShipNotice, SegmentError> {
    let mut bsn = None;
    let mut ctt = None;
    let mut r = Reading {
        hls: HashMap::with_capacity_and_hasher(set.segments.len() / 4, Default::default()),
        orders: Vec::new(),
        units: Vec::new(),
        unit_index: HashMap::default(),
        lines: Vec::new(),
        shipment: Shipment::default(),
        current: None,
        hl_count: 0,
    };
    let mut item_start = 0;
    for at in positioned(set) {
        match at.seg.tag() {
            BSN => {
                bsn = Some((
                    at.code(1, purpose, "BSN01 00, 05 or 01")?,
                    at.req(2)?.to_owned(),
                    at.date(3)?,
                ))
            }
            HL => {
                if r.current.is_some_and(|(_, l)| l == Level::Item) && r.lines.len() == item_start {
                    return Err(SegmentError::segment(
                        at.pos,
                        "LIN",
                        SegmentCode::MandatorySegmentMissing,
                        "the item HL before has no LIN",
                    ));
                }
                item_start = r.lines.len();
                r.hl(at)?;
            }
            CTT => ctt = Some(at),
            _ => r.segment(at)?,
        }
    }
    let (purpose, asn_id, bsn_date) = bsn.ok_or_else(|| missing(set, "BSN"))?;
    super::order::check_ctt(set, ctt, r.hl_count)?;
    for (_, line) in &r.lines {
        if line.quantity == 0 {
            return Err(missing(set, "SN1"));
        }
    }
    let mut lines = r.lines;
    if lines.iter().all(|(s, _)| s.is_some()) {
        lines.sort_by_key(|(s, _)| *s);
    }
    let mut units = r.units;
    if units.iter().all(|(_, s, _)| s.is_some()) {
        units.sort_by_key(|(_, s, _)| *s);
    }
    let sh = r.shipment;
    Ok(AdvanceShipNotice {
        asn_id,
        purpose,
        supplier_gln: sh.supplier.ok_or_else(|| missing(set, "N1"))?,
        ship_date: sh.shipped.unwrap_or(bsn_date),
        estimated_arrival: sh.arrival.ok_or_else(|| missing(set, "DTM"))?,
        carrier_scac: sh.scac.ok_or_else(|| missing(set, "TD5"))?,
        bill_of_lading: sh.bol.ok_or_else(|| missing(set, "REF"))?,
        handling_units: units.into_iter().map(|(u, _, _)| u).collect(),
        lines: lines.into_iter().map(|(_, l)| l).collect(),
    })
}
