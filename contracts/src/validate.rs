//! Validation of a document of a named contract type: its JSON Schema plus the
//! domain rules a schema cannot say. This is the one home of those rules;
//! every consumer (the checker, the CLI, partners' certification) calls
//! [`Validator::validate`] or [`validate`].
//!
//! Domain rules ([`Rule`]):
//! - GS1 check digits of every SSCC, GTIN and GLN field. Which fields hold
//!   identifiers is read from the catalog's schemas (`$ref` to `Sscc`,
//!   `Gtin`, `Gln`), so a new type gets the check without a new rule.
//! - Every `date` field is a real calendar date, every unit-of-measure field a
//!   known unit (fields found the same way).
//! - Quantities that must be positive are > 0.
//! - Dates are ordered (an ASN ships before it arrives; a PO line is not
//!   requested before the order date; goods do not expire before shipping).
//! - The handling-unit tree of an ASN or an inbound expectation: SSCCs are
//!   unique, every parent exists and is a pallet, no cycles, every line sits
//!   in a listed unit.
//! - Line numbers are unique within a document; acknowledgement quantities
//!   agree with the line status; a discrepancy's variance is actual − expected.
//! - Outbound: shipped ≤ ordered per confirmation line; an order-release
//!   decision is all or nothing (accepted: every line accepted, no reason, a
//!   warehouse order id; rejected: a reason, no warehouse order).
//! - Inventory: an adjustment's delta is non-zero and never takes on-hand
//!   below 0; (sku, location) is unique in a snapshot and among a
//!   reconciliation's gaps, each gap's difference is wms − erp and non-zero.
//! - Invoicing: a due date is not before its invoice date; in a match result
//!   a matched line invoices no more than was received at a price within
//!   tolerance of the PO's (and a variance outcome really varies), every unmatched line
//!   has exactly one exception of its outcome, and the status is `matched`
//!   exactly when every line is.
//! - Events: a valid W3C `traceparent`, the `type` the data is published
//!   under, and the data's own rules (pointers under `/data`).
//!
//! Domain rules read the raw JSON, so they run even when the schema fails
//! elsewhere. A domain finding at a pointer the schema already reported is
//! dropped: one finding per fault.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::Value;

use crate::events::published;
use crate::http::TraceParent;
use crate::inbound::Uom;
use crate::invoicing::{LineMatchOutcome, price_e4};
use crate::pattern::eight_digits;
use crate::quick::{Overlay, Places, Visit};
use crate::schema::{SchemaSet, UnknownSchema, catalog};

/// The rule a finding breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The document breaks its JSON Schema.
    Schema,
    /// A GS1 identifier (SSCC, GTIN, GLN) has a wrong check digit.
    Gs1CheckDigit,
    /// A `date` field is not a calendar date (YYYY-MM-DD).
    DateValid,
    /// Two dates are in the wrong order.
    DateOrder,
    /// A unit of measure is not one crossdock knows.
    UomKnown,
    /// A quantity that must be positive is not.
    QuantityPositive,
    /// A quantity disagrees with another field of its line.
    QuantityConsistent,
    /// A line number appears twice in one document.
    LineNoUnique,
    /// Two handling units share an SSCC.
    HuUnique,
    /// A handling unit's parent is not a listed pallet.
    HuParent,
    /// Handling units are their own ancestors.
    HuCycle,
    /// A line is packed in a handling unit the document does not list.
    HuKnown,
    /// A decision (order release, invoice match) disagrees with its parts.
    DecisionConsistent,
    /// A (sku, location) position appears twice in one document.
    PositionUnique,
    /// A `traceparent` is not a valid W3C Trace Context (version 00, ids not all zero).
    TraceContext,
    /// An event's `type` is not the one its data type is published under.
    EventType,
}

impl Rule {
    /// The rule's stable identifier, as printed and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Schema => "schema",
            Rule::Gs1CheckDigit => "gs1-check-digit",
            Rule::DateValid => "date-valid",
            Rule::DateOrder => "date-order",
            Rule::UomKnown => "uom-known",
            Rule::QuantityPositive => "quantity-positive",
            Rule::QuantityConsistent => "quantity-consistent",
            Rule::LineNoUnique => "line-no-unique",
            Rule::HuUnique => "hu-unique",
            Rule::HuParent => "hu-parent",
            Rule::HuCycle => "hu-cycle",
            Rule::HuKnown => "hu-known",
            Rule::DecisionConsistent => "decision-consistent",
            Rule::PositionUnique => "position-unique",
            Rule::TraceContext => "trace-context",
            Rule::EventType => "event-type",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One way a document breaks its contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// JSON pointer (RFC 6901) to the offending value; "" is the root.
    pub pointer: String,
    pub rule: Rule,
    /// What was expected and what was found.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "at {pointer}: {} [{}]", self.message, self.rule)
    }
}

/// What a field found through the schema holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FieldKind {
    Sscc,
    Gtin,
    Gln,
    Uom,
    Date,
}

/// One step of a field path: an object key or every element of an array.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Seg {
    Key(String),
    Each,
}

/// Schema + domain validator for every type of the catalog.
pub struct Validator {
    schemas: SchemaSet,
    /// Type name → identifier, unit and date fields, read from its schema.
    fields: BTreeMap<&'static str, Vec<(Vec<Seg>, FieldKind)>>,
    /// The same fields as one tree per type, walked once per document.
    trees: BTreeMap<&'static str, FieldTree>,
    /// The one-walk verdict "valid, no finding" of each type it covers.
    fast: BTreeMap<&'static str, Fast>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("schemas", &self.schemas)
            .finish_non_exhaustive()
    }
}

impl Default for Validator {
    fn default() -> Self {
        Self::new()
    }
}

/// Validates `doc` as a `type_name` with a process-wide [`Validator`]
/// (compiled on first use). Returns every finding; empty means valid.
pub fn validate(type_name: &str, doc: &Value) -> Result<Vec<Finding>, UnknownSchema> {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(Validator::new).validate(type_name, doc)
}

impl Validator {
    /// Compiles every schema of the catalog and reads the fields that domain
    /// rules apply to.
    pub fn new() -> Self {
        let fields: BTreeMap<&'static str, Vec<(Vec<Seg>, FieldKind)>> = catalog()
            .into_iter()
            .map(|(name, schema)| {
                let mut out = Vec::new();
                collect_fields(&schema, &schema, &mut Vec::new(), &mut out, 0);
                let mut seen = HashSet::new();
                out.retain(|f| seen.insert(f.clone()));
                (name, out)
            })
            .collect();
        let trees = fields
            .iter()
            .map(|(name, fields)| (*name, FieldTree::of(fields)))
            .collect();
        let schemas = SchemaSet::new();
        let fast = fields
            .iter()
            .filter_map(|(name, fields)| Some((*name, Fast::new(&schemas, name, fields)?)))
            .collect();
        Self {
            schemas,
            fields,
            trees,
            fast,
        }
    }

    /// The compiled schemas.
    pub fn schemas(&self) -> &SchemaSet {
        &self.schemas
    }

    /// Every type name this validator knows.
    pub fn type_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields.keys().copied()
    }

    /// Schema and domain findings for `doc` as a `type_name`, schema first.
    pub fn validate(&self, type_name: &str, doc: &Value) -> Result<Vec<Finding>, UnknownSchema> {
        // The common case first: one walk that finds no fault. Any doubt
        // (a fault, or a type the walk does not cover) takes the way below,
        // which reports the findings.
        if self
            .fast
            .get(type_name)
            .is_some_and(|fast| fast.clean(&self.schemas, type_name, doc))
        {
            return Ok(Vec::new());
        }
        let mut findings: Vec<Finding> = self
            .schemas
            .validate(type_name, doc)?
            .into_iter()
            .map(|v| Finding {
                pointer: v.pointer,
                rule: Rule::Schema,
                message: v.message,
            })
            .collect();
        let domain = self.domain(type_name, doc)?;
        if findings.is_empty() {
            return Ok(domain);
        }
        let reported: HashSet<String> = findings.iter().map(|f| f.pointer.clone()).collect();
        findings.extend(domain.into_iter().filter(|f| !reported.contains(&f.pointer)));
        Ok(findings)
    }

    /// Domain findings only (no schema validation), for a document of `type_name`.
    pub fn domain(&self, type_name: &str, doc: &Value) -> Result<Vec<Finding>, UnknownSchema> {
        let tree = self
            .trees
            .get(type_name)
            .ok_or_else(|| UnknownSchema(type_name.to_owned()))?;
        let mut out = Findings::default();
        tree.walk(doc, &mut Vec::new(), &mut out);
        // Type rules come after every field's findings.
        out.phase = tree.fields;
        type_findings(type_name, doc, &mut out);
        Ok(out.into_vec())
    }

    /// The verdict of the one-walk check of `doc` as a `type_name`:
    /// `Some(true)` when it finds `doc` valid with no domain finding,
    /// `Some(false)` when it leaves the judgement to the full validation,
    /// `None` when the type has no such check. For tests that hold it to
    /// the findings of the full validation.
    #[doc(hidden)]
    pub fn fast_verdict(&self, type_name: &str, doc: &Value) -> Option<bool> {
        Some(self.fast.get(type_name)?.clean(&self.schemas, type_name, doc))
    }
}

/// The rules of `type_name` beyond its identifier, unit and date fields.
fn type_findings(type_name: &str, doc: &Value, out: &mut Findings) {
    if let Some(event) = published(type_name) {
        cloud_event(doc, event.event_type, type_rules(event.data), out);
    } else if let Some(rules) = type_rules(type_name) {
        rules(doc, out);
    }
}

// ---------------------------------------------------------------------------
// The one-walk verdict.
//
// The fast schema check (`crate::quick`) walks the document anyway; laid
// over it, the domain rules' fields and the values the ASN rules read are
// told to a `Scan` as the walk passes them. It only answers "valid, no
// finding" or "ask the full validation", so findings, their pointers and
// their order stay those of the rule-at-a-time code above, which judges
// every document the walk does not pass. The condition for passing is each
// rule's condition for a finding, negated (or stricter: an SSCC that is not
// 18 digits where a unit or a line names one is left to the full validation).

/// What a tag of a type's overlay asks of the value there: a field check
/// (as [`check_field`]), or reading a value an ASN rule needs; the ASN tags
/// at an SSCC or a date field do that field's check too (it replaces the
/// field's tag there, so a value is read once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Sscc,
    Gtin,
    Gln,
    Uom,
    Date,
    ShipDate,
    EstimatedArrival,
    /// A handling unit (before its members).
    Unit,
    UnitSscc,
    UnitLevel,
    UnitParent,
    LineQuantity,
    LineExpiry,
    LineSscc,
}

impl Tag {
    fn field(kind: FieldKind) -> Tag {
        match kind {
            FieldKind::Sscc => Tag::Sscc,
            FieldKind::Gtin => Tag::Gtin,
            FieldKind::Gln => Tag::Gln,
            FieldKind::Uom => Tag::Uom,
            FieldKind::Date => Tag::Date,
        }
    }

    /// The field check this (ASN) tag does itself.
    fn subsumes(self) -> Option<Tag> {
        match self {
            Tag::ShipDate | Tag::EstimatedArrival | Tag::LineExpiry => Some(Tag::Date),
            Tag::UnitSscc | Tag::UnitParent | Tag::LineSscc => Some(Tag::Sscc),
            _ => None,
        }
    }
}

/// The number of `t` in `tags` (added when new).
fn tag_number(tags: &mut Vec<Tag>, t: Tag) -> u32 {
    let at = tags.iter().position(|x| *x == t).unwrap_or_else(|| {
        tags.push(t);
        tags.len() - 1
    });
    at as u32
}

/// A type's one-walk check.
struct Fast {
    overlay: Overlay,
    /// By tag number.
    tags: Vec<Tag>,
    /// The type's rules are the ASN's, judged from the walk; otherwise they
    /// run as in [`Validator::domain`] after a clean walk.
    asn: bool,
}

impl Fast {
    /// `None` when the quick check does not cover the type's schema, or the
    /// overlay cannot reach every field.
    fn new(schemas: &SchemaSet, name: &str, fields: &[(Vec<Seg>, FieldKind)]) -> Option<Self> {
        let quick = schemas.quick(name)?;
        let mut places = Places::default();
        let mut tags = Vec::new();
        for (path, kind) in fields {
            let path = path.iter().map(|seg| match seg {
                Seg::Key(k) => Some(k.as_str()),
                Seg::Each => None,
            });
            let t = tag_number(&mut tags, Tag::field(*kind));
            places.at(path).tags.push(t);
        }
        let asn = name == "AdvanceShipNotice";
        if asn {
            let (unit, line) = (Some("handling_units"), Some("lines"));
            for (path, t) in [
                (&[Some("ship_date")][..], Tag::ShipDate),
                (&[Some("estimated_arrival")], Tag::EstimatedArrival),
                (&[unit, None], Tag::Unit),
                (&[unit, None, Some("sscc")], Tag::UnitSscc),
                (&[unit, None, Some("level")], Tag::UnitLevel),
                (&[unit, None, Some("parent_sscc")], Tag::UnitParent),
                (&[line, None, Some("quantity")], Tag::LineQuantity),
                (&[line, None, Some("expiry")], Tag::LineExpiry),
                (&[line, None, Some("sscc")], Tag::LineSscc),
            ] {
                let n = tag_number(&mut tags, t);
                let place = places.at(path.iter().copied());
                if let Some(field) = t.subsumes() {
                    place.tags.retain(|&i| tags[i as usize] != field);
                }
                place.tags.push(n);
            }
        }
        Some(Fast {
            overlay: quick.overlay(&places)?,
            tags,
            asn,
        })
    }

    /// Whether `doc` is valid and breaks no domain rule; `false` also when
    /// in doubt.
    fn clean(&self, schemas: &SchemaSet, type_name: &str, doc: &Value) -> bool {
        let Some(quick) = schemas.quick(type_name) else {
            return false;
        };
        thread_local! {
            static SCRATCH: RefCell<Scratch> = RefCell::default();
        }
        SCRATCH.with(|scratch| {
            let Ok(mut scratch) = scratch.try_borrow_mut() else {
                return false;
            };
            scratch.units.clear();
            scratch.lines.clear();
            let mut scan = Scan {
                tags: &self.tags,
                clean: true,
                ship: None,
                eta: None,
                min_expiry: None,
                scratch: &mut scratch,
            };
            if !(quick.check_tagged(doc, &self.overlay, &mut scan) && scan.clean) {
                return false;
            }
            if self.asn {
                scan.asn_clean()
            } else {
                let mut out = Findings::default();
                type_findings(type_name, doc, &mut out);
                out.found.is_empty()
            }
        })
    }
}

/// Per-thread buffers of the one-walk check, kept between calls.
#[derive(Default)]
struct Scratch {
    units: Vec<Unit>,
    /// Each line's SSCC.
    lines: Vec<u64>,
    /// Open addressing: (SSCC, unit index), [`NO_UNIT`] in empty slots.
    table: Vec<(u64, u32)>,
    /// Each unit's parent, or [`NO_UNIT`].
    parent: Vec<u32>,
    /// Per unit, for the cycle search: 0 unvisited, 1 on the walk, 2 done.
    state: Vec<u8>,
    path: Vec<u32>,
}

const NO_UNIT: u32 = u32::MAX;

/// A handling unit's members, as the ASN rules read them.
#[derive(Default, Clone, Copy)]
struct Unit {
    sscc: Option<u64>,
    /// The level is "pallet"; `None` when it is not a string.
    pallet: Option<bool>,
    parent: Option<u64>,
}

/// The state of one walk.
struct Scan<'a, 's> {
    tags: &'s [Tag],
    /// No rule is broken so far.
    clean: bool,
    ship: Option<&'a str>,
    eta: Option<&'a str>,
    /// The earliest line expiry that is a calendar date, as a number.
    min_expiry: Option<u32>,
    scratch: &'s mut Scratch,
}

impl<'a> Visit<'a> for Scan<'a, '_> {
    fn visit(&mut self, tags: &[u32], v: &'a Value) {
        for &tag in tags {
            match self.tags.get(tag as usize) {
                Some(&tag) => self.tag(tag, v),
                None => self.clean = false,
            }
        }
    }
}

/// No finding of [`check_gs1`]: empty, or all digits of one of the lengths
/// with the right check digit.
fn gs1_ok(lens: &[usize], s: &str) -> bool {
    s.is_empty() || lens.contains(&s.len()) && gs1_sum(s.as_bytes()).is_some_and(|sum| sum % 10 == 0)
}

/// The GS1 weighted sum of all of `b`'s digits, check digit included (weight
/// 3 on the positions of the other parity than the last one's, 1 on the
/// rest): a multiple of 10 when the check digit is right. `None` when `b` is
/// not all ASCII digits or longer than 24. Eight digits at a time: their
/// values as bytes, the even and the odd ones summed in 16-bit lanes.
fn gs1_sum(b: &[u8]) -> Option<u32> {
    const LANES: u64 = 0x00FF_00FF_00FF_00FF;
    if b.len() > 24 {
        return None;
    }
    let mut chunks = b.chunks_exact(8);
    let (mut even, mut odd) = (0u64, 0u64);
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        if !eight_digits(x) {
            return None;
        }
        let d = x - 0x3030_3030_3030_3030;
        even += d & LANES;
        odd += (d >> 8) & LANES;
    }
    // At most three chunks: a lane holds at most 27.
    let lanes = |v: u64| (v.wrapping_mul(0x0001_0001_0001_0001) >> 48) as u32;
    let (mut even, mut odd) = (lanes(even), lanes(odd));
    let rest = chunks.remainder();
    for (i, &c) in rest.iter().enumerate() {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        // Chunks are 8 bytes: a rest byte's parity is its index's.
        if i % 2 == 0 {
            even += u32::from(d);
        } else {
            odd += u32::from(d);
        }
    }
    let last_odd = b.len() % 2 == 0;
    Some(if last_odd { 3 * even + odd } else { even + 3 * odd })
}

/// An SSCC's 18 digits as a number (as [`sscc_key`]) and whether its check
/// digit is right; `None` when it is not 18 digits.
fn sscc_digits(s: &str) -> Option<(u64, bool)> {
    let b = s.as_bytes();
    if b.len() != 18 {
        return None;
    }
    // Straight-line: two chunks of eight digits and two more.
    const LANES: u64 = 0x00FF_00FF_00FF_00FF;
    let (head, rest) = b.split_first_chunk::<8>()?;
    let (mid, tail) = rest.split_first_chunk::<8>()?;
    let (x, y) = (u64::from_le_bytes(*head), u64::from_le_bytes(*mid));
    let (p, q) = (tail[0].wrapping_sub(b'0'), tail[1].wrapping_sub(b'0'));
    if !(eight_digits(x) && eight_digits(y)) || p > 9 || q > 9 {
        return None;
    }
    let (dx, dy) = (x - 0x3030_3030_3030_3030, y - 0x3030_3030_3030_3030);
    let lanes = |v: u64| (v.wrapping_mul(0x0001_0001_0001_0001) >> 48) as u32;
    // 18 digits: the even positions weigh 3, the odd ones (the check digit's) 1.
    let even = lanes((dx & LANES) + (dy & LANES)) + u32::from(p);
    let odd = lanes(((dx >> 8) & LANES) + ((dy >> 8) & LANES)) + u32::from(q);
    let key = parse_8_digits(x) * 10_000_000_000 + parse_8_digits(y) * 100 + u64::from(p) * 10 + u64::from(q);
    Some((key, (3 * even + odd) % 10 == 0))
}

/// The number of eight ASCII digits loaded little-endian (the first digit
/// in the lowest byte): `core`'s float parser's `parse_8digits`.
fn parse_8_digits(mut v: u64) -> u64 {
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    const MUL1: u64 = 0x000F_4240_0000_0064;
    const MUL2: u64 = 0x0000_2710_0000_0001;
    v -= 0x3030_3030_3030_3030;
    v = (v * 10) + (v >> 8);
    let v1 = (v & MASK).wrapping_mul(MUL1);
    let v2 = ((v >> 16) & MASK).wrapping_mul(MUL2);
    u64::from((v1.wrapping_add(v2) >> 32) as u32)
}

/// A strict `YYYY-MM-DD` calendar date as a number that orders as the date
/// does (YYYYMMDD), without parsing text to integers ([`parse_date`] splits
/// it).
fn date_number(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digit = |i: usize| {
        let d = b[i].wrapping_sub(b'0');
        (d <= 9).then_some(u32::from(d))
    };
    let y = digit(0)? * 1000 + digit(1)? * 100 + digit(2)? * 10 + digit(3)?;
    let m = digit(5)? * 10 + digit(6)?;
    let d = digit(8)? * 10 + digit(9)?;
    let n = y * 10_000 + m * 100 + d;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days).contains(&d).then_some(n)
}

impl<'a> Scan<'a, '_> {
    fn tag(&mut self, tag: Tag, v: &'a Value) {
        // Fields: no finding of `check_field` (which skips non-strings).
        // ASN values: as `advance_ship_notice` reads them.
        match (tag, v) {
            (Tag::Sscc, Value::String(s)) => {
                self.clean &= s.is_empty() || sscc_digits(s).is_some_and(|(_, ok)| ok);
            }
            (Tag::Gtin, Value::String(s)) => self.clean &= gs1_ok(&[8, 12, 13, 14], s),
            (Tag::Gln, Value::String(s)) => self.clean &= gs1_ok(&[13], s),
            (Tag::Uom, Value::String(s)) => self.clean &= Uom::parse(s).is_some(),
            (Tag::Date, Value::String(s)) => self.clean &= date_number(s).is_some(),
            (Tag::ShipDate | Tag::EstimatedArrival, _) => {
                let s = v.as_str();
                self.clean &= s.is_none_or(|s| date_number(s).is_some());
                if tag == Tag::ShipDate {
                    self.ship = s;
                } else {
                    self.eta = s;
                }
            }
            (Tag::LineQuantity, _) => self.clean &= v.as_i64().is_none_or(|q| q > 0),
            (Tag::LineExpiry, Value::String(s)) => match date_number(s) {
                Some(date) => {
                    if self.min_expiry.is_none_or(|m| date < m) {
                        self.min_expiry = Some(date);
                    }
                }
                None => self.clean = false,
            },
            (Tag::Unit, _) => self.scratch.units.push(Unit::default()),
            (Tag::UnitLevel, Value::String(s)) => {
                if let Some(unit) = self.scratch.units.last_mut() {
                    unit.pallet = Some(s == "pallet");
                }
            }
            (Tag::UnitSscc | Tag::UnitParent | Tag::LineSscc, Value::String(s)) => {
                // Stricter than the SSCC field's check: an empty one is
                // left to the full validation too.
                let Some((key, ok)) = sscc_digits(s) else {
                    self.clean = false;
                    return;
                };
                self.clean &= ok;
                match (tag, self.scratch.units.last_mut()) {
                    (Tag::LineSscc, _) => self.scratch.lines.push(key),
                    (Tag::UnitSscc, Some(unit)) => unit.sscc = Some(key),
                    (_, Some(unit)) => unit.parent = Some(key),
                    (_, None) => self.clean = false,
                }
            }
            _ => {}
        }
    }

    /// No finding of [`advance_ship_notice`] (after a clean walk).
    fn asn_clean(&mut self) -> bool {
        // Dates: valid YYYY-MM-DD dates order as their numbers do.
        let ship = self.ship.and_then(date_number);
        if let Some(ship) = ship {
            let eta = self.eta.and_then(date_number);
            if eta.is_some_and(|eta| eta < ship) || self.min_expiry.is_some_and(|e| e < ship) {
                return false;
            }
        }
        let s = &mut *self.scratch;
        let n = s.units.len();
        if n == 0 {
            return true; // lines are not checked against no units
        }
        // SSCC → first unit; a second unit of an SSCC is a finding.
        let bits = (2 * n).next_power_of_two().max(16).trailing_zeros();
        let mask = (1usize << bits) - 1;
        let slot = |key: u64| (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize;
        s.table.clear();
        s.table.resize(1 << bits, (0, NO_UNIT));
        let find = |table: &[(u64, u32)], key: u64| -> Result<u32, usize> {
            let mut at = slot(key);
            loop {
                match table[at] {
                    (_, NO_UNIT) => return Err(at),
                    (k, i) if k == key => return Ok(i),
                    _ => at = (at + 1) & mask,
                }
            }
        };
        for (i, unit) in s.units.iter().enumerate() {
            if let Some(key) = unit.sscc {
                match find(&s.table, key) {
                    Ok(_) => return false,
                    Err(at) => s.table[at] = (key, i as u32),
                }
            }
        }
        // Parents: listed, and pallets.
        s.parent.clear();
        for unit in &s.units {
            let parent = match unit.parent {
                None => NO_UNIT,
                Some(key) => match find(&s.table, key) {
                    Err(_) => return false,
                    Ok(at) => {
                        if s.units[at as usize].pallet == Some(false) {
                            return false;
                        }
                        at
                    }
                },
            };
            s.parent.push(parent);
        }
        // No cycle: follow parents; a walk that meets its own path is one.
        s.state.clear();
        s.state.resize(n, 0);
        for start in 0..n {
            s.path.clear();
            let mut cur = start as u32;
            while cur != NO_UNIT {
                match s.state[cur as usize] {
                    2 => break,
                    1 => return false,
                    _ => {}
                }
                s.state[cur as usize] = 1;
                s.path.push(cur);
                cur = s.parent[cur as usize];
            }
            for &u in &s.path {
                s.state[u as usize] = 2;
            }
        }
        // Every line in a listed unit.
        s.lines.iter().all(|&key| find(&s.table, key).is_ok())
    }
}

/// The rules of a type beyond its identifier, unit and date fields.
type Rules = fn(&Value, &mut Findings);

fn type_rules(type_name: &str) -> Option<Rules> {
    Some(match type_name {
        "PurchaseOrder" => purchase_order,
        "PoAcknowledgement" => po_acknowledgement,
        "AdvanceShipNotice" => advance_ship_notice,
        "InboundExpectation" => inbound_expectation,
        "GoodsReceipt" => goods_receipt,
        "ReceiptDiscrepancy" => receipt_discrepancy,
        "ErpGoodsReceiptPosting" => goods_receipt_posting,
        "OrderRelease" => order_release,
        "OrderReleaseDecision" => order_release_decision,
        "ShipmentConfirmation" => shipment_confirmation,
        "InventoryAdjustment" => inventory_adjustment,
        "InventorySnapshot" => |doc, out| unique_positions(doc, "positions", out),
        "ReconciliationResult" => reconciliation_result,
        "Invoice" => invoice,
        "MatchResult" => match_result,
        _ => return None,
    })
}

/// Findings in the order they are reported: by phase (a field of the
/// type's tree, then the type's rules in their order), within a phase in the
/// order found. One walk over the document finds the fields' faults
/// interleaved; [`Findings::into_vec`] puts them back in phase order.
#[derive(Default)]
struct Findings {
    found: Vec<(u32, Finding)>,
    /// The phase of the next finding.
    phase: u32,
}

impl Findings {
    fn push(&mut self, pointer: String, rule: Rule, message: String) {
        self.found.push((
            self.phase,
            Finding {
                pointer,
                rule,
                message,
            },
        ));
    }

    /// The findings, ordered by phase (stable within one).
    fn into_vec(mut self) -> Vec<Finding> {
        if !self.found.is_sorted_by_key(|(phase, _)| *phase) {
            self.found.sort_by_key(|(phase, _)| *phase);
        }
        self.found.into_iter().map(|(_, f)| f).collect()
    }
}

// ---------------------------------------------------------------------------
// Fields found through the schema.

const MAX_SCHEMA_DEPTH: usize = 32;

fn collect_fields(
    schema: &Value,
    root: &Value,
    path: &mut Vec<Seg>,
    out: &mut Vec<(Vec<Seg>, FieldKind)>,
    depth: usize,
) {
    if depth > MAX_SCHEMA_DEPTH {
        return;
    }
    let Value::Object(map) = schema else {
        return;
    };
    if let Some(Value::String(r)) = map.get("$ref") {
        if let Some(name) = r.strip_prefix("#/$defs/") {
            let kind = match name {
                "Sscc" => Some(FieldKind::Sscc),
                "Gtin" => Some(FieldKind::Gtin),
                "Gln" => Some(FieldKind::Gln),
                "Uom" => Some(FieldKind::Uom),
                _ => None,
            };
            match kind {
                Some(kind) => out.push((path.clone(), kind)),
                None => {
                    if let Some(def) = root.get("$defs").and_then(|d| d.get(name)) {
                        collect_fields(def, root, path, out, depth + 1);
                    }
                }
            }
        }
    }
    if map.get("format").and_then(Value::as_str) == Some("date") {
        out.push((path.clone(), FieldKind::Date));
    }
    if let Some(Value::Object(props)) = map.get("properties") {
        for (key, sub) in props {
            path.push(Seg::Key(key.clone()));
            collect_fields(sub, root, path, out, depth + 1);
            path.pop();
        }
    }
    if let Some(items) = map.get("items") {
        path.push(Seg::Each);
        collect_fields(items, root, path, out, depth + 1);
        path.pop();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(branches)) = map.get(key) {
            for b in branches {
                collect_fields(b, root, path, out, depth + 1);
            }
        }
    }
}

/// A step of a concrete JSON pointer.
#[derive(Debug, Clone, Copy)]
enum Ptr<'a> {
    Key(&'a str),
    Index(usize),
}

fn pointer(segs: &[Ptr<'_>]) -> String {
    let mut s = String::new();
    for seg in segs {
        s.push('/');
        match seg {
            Ptr::Key(k) => s.push_str(&k.replace('~', "~0").replace('/', "~1")),
            Ptr::Index(i) => s.push_str(&i.to_string()),
        }
    }
    s
}

/// A type's field paths merged into one tree, so one walk over a document
/// checks every field: each object is looked into once per key of the tree,
/// each array walked once, however many fields lie below.
#[derive(Debug, Default)]
struct FieldTree {
    /// The checks of the value at this node: (phase = index of the field
    /// path in the type's list, kind).
    checks: Vec<(u32, FieldKind)>,
    /// Object members below this node.
    keys: Vec<(String, FieldTree)>,
    /// Every array item below this node.
    each: Option<Box<FieldTree>>,
    /// Number of field paths (at the root): the first phase after them.
    fields: u32,
}

impl FieldTree {
    fn of(fields: &[(Vec<Seg>, FieldKind)]) -> Self {
        let mut root = FieldTree::default();
        for (phase, (path, kind)) in fields.iter().enumerate() {
            let mut node = &mut root;
            for seg in path {
                node = match seg {
                    Seg::Key(k) => {
                        let at = match node.keys.iter().position(|(key, _)| key == k) {
                            Some(at) => at,
                            None => {
                                node.keys.push((k.clone(), FieldTree::default()));
                                node.keys.len() - 1
                            }
                        };
                        &mut node.keys[at].1
                    }
                    Seg::Each => node.each.get_or_insert_with(Box::default),
                };
            }
            node.checks.push((phase as u32, *kind));
        }
        root.fields = fields.len() as u32;
        root
    }

    /// Checks every field at or below `value` (at `ptr`); a `null` field is
    /// not checked (an optional field left empty).
    fn walk<'a>(&'a self, value: &'a Value, ptr: &mut Vec<Ptr<'a>>, out: &mut Findings) {
        if !value.is_null() {
            for &(phase, kind) in &self.checks {
                out.phase = phase;
                check_field(kind, value, ptr, out);
            }
        }
        match value {
            Value::Object(map) if !self.keys.is_empty() => {
                // One pass over the members, each key read once (a lookup
                // per field would compare the key against several members).
                // The order of members does not matter: each field path has
                // its own phase, and visits one member per object.
                for (k, v) in map {
                    if let Some((key, below)) = self.keys.iter().find(|(key, _)| key == k) {
                        ptr.push(Ptr::Key(key));
                        below.walk(v, ptr, out);
                        ptr.pop();
                    }
                }
            }
            Value::Array(items) => {
                if let Some(below) = &self.each {
                    for (i, v) in items.iter().enumerate() {
                        ptr.push(Ptr::Index(i));
                        below.walk(v, ptr, out);
                        ptr.pop();
                    }
                }
            }
            _ => {}
        }
    }
}

fn check_field(kind: FieldKind, value: &Value, ptr: &[Ptr<'_>], out: &mut Findings) {
    let Some(s) = value.as_str() else {
        return; // the schema reports a wrong type
    };
    match kind {
        FieldKind::Sscc => check_gs1("SSCC", &[18], s, ptr, out),
        FieldKind::Gtin => check_gs1("GTIN", &[8, 12, 13, 14], s, ptr, out),
        FieldKind::Gln => check_gs1("GLN", &[13], s, ptr, out),
        FieldKind::Uom => {
            if Uom::parse(s).is_none() {
                out.push(
                    pointer(ptr),
                    Rule::UomKnown,
                    format!("expected a known unit of measure (EA, CS, PL), found {s:?}"),
                );
            }
        }
        FieldKind::Date => {
            if parse_date(s).is_none() {
                out.push(
                    pointer(ptr),
                    Rule::DateValid,
                    format!("expected a calendar date YYYY-MM-DD, found {s:?}"),
                );
            }
        }
    }
}

fn check_gs1(kind: &str, lens: &[usize], s: &str, ptr: &[Ptr<'_>], out: &mut Findings) {
    // Length and digits are the schema's pattern; only judge the check digit
    // of a value that has the right shape.
    if let Some((expected, found)) = gs1_digits(lens, s) {
        if expected != found {
            out.push(
                pointer(ptr),
                Rule::Gs1CheckDigit,
                format!("expected {kind} check digit {expected}, found {found} in {s}"),
            );
        }
        return;
    }
    if !s.is_empty() {
        out.push(
            pointer(ptr),
            Rule::Gs1CheckDigit,
            format!(
                "expected a {kind} of {} digits, found {s:?}",
                lens.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
            ),
        );
    }
}

/// (expected, found) check digit of `s` when it is all digits of one of the
/// lengths; `None` otherwise. One pass, weights 3 and 1 from the right of
/// the data (as [`crate::ids::gs1_check_digit`]; a unit test holds them equal).
fn gs1_digits(lens: &[usize], s: &str) -> Option<(u8, u8)> {
    let b = s.as_bytes();
    let (&check, data) = b.split_last()?;
    if !lens.contains(&b.len()) || !check.is_ascii_digit() {
        return None;
    }
    // Digits summed by the parity of their index, without a branch per
    // digit; data[i] weighs 3 when (len - 1 - i) is even.
    let mut sums = [0u32; 2];
    let mut bad = false;
    for (i, &c) in data.iter().enumerate() {
        let d = c.wrapping_sub(b'0');
        bad |= d > 9;
        sums[i & 1] += u32::from(d);
    }
    if bad {
        return None;
    }
    let odd_len = data.len() & 1;
    let sum = 3 * sums[odd_len ^ 1] + sums[odd_len];
    Some((((10 - sum % 10) % 10) as u8, check - b'0'))
}

/// Parses a strict `YYYY-MM-DD` calendar date.
pub fn parse_date(s: &str) -> Option<(u16, u8, u8)> {
    date_number(s).map(|n| ((n / 10_000) as u16, (n / 100 % 100) as u8, (n % 100) as u8))
}

// ---------------------------------------------------------------------------
// Rules per type.

fn items<'a>(doc: &'a Value, key: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    doc.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

fn lines(doc: &Value) -> impl Iterator<Item = (usize, &Value)> {
    items(doc, "lines")
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn positive(doc: &Value, field: &str, out: &mut Findings) {
    for (i, line) in lines(doc) {
        positive_at(i, field, line.get(field).and_then(Value::as_i64), out);
    }
}

/// Line `i`'s quantity `field` is `q`: it must be > 0.
fn positive_at(i: usize, field: &str, q: Option<i64>, out: &mut Findings) {
    if let Some(q) = q.filter(|q| *q <= 0) {
        out.push(
            format!("/lines/{i}/{field}"),
            Rule::QuantityPositive,
            format!("expected a quantity greater than 0, found {q}"),
        );
    }
}

/// The members `keys` of `v` (`None` where absent, or when `v` is not an
/// object), in one pass over its members: each member's key is read once,
/// instead of once per by-name lookup that passes it.
fn members<'a, const N: usize>(v: &'a Value, keys: [&str; N]) -> [Option<&'a Value>; N] {
    let mut found = [None; N];
    if let Value::Object(map) = v {
        for (k, value) in map {
            if let Some(at) = keys.iter().position(|key| key == k) {
                found[at] = Some(value);
            }
        }
    }
    found
}

fn unique_line_no(doc: &Value, field: &str, out: &mut Findings) {
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for (i, line) in lines(doc) {
        let Some(n) = line.get(field).and_then(Value::as_i64) else {
            continue;
        };
        if let Some(&first) = seen.get(&n) {
            out.push(
                format!("/lines/{i}/{field}"),
                Rule::LineNoUnique,
                format!(
                    "expected a {field} unique in the document, found {n} again (first at /lines/{first})"
                ),
            );
        } else {
            seen.insert(n, i);
        }
    }
}

/// Reports `later` (at `pointer`) when both are valid dates and `later` is
/// before `earlier` (named `earlier_name`).
fn ordered(
    earlier_name: &str,
    earlier: &str,
    pointer: impl FnOnce() -> String,
    later: &str,
    what: &str,
    out: &mut Findings,
) {
    // Valid YYYY-MM-DD dates order as their strings do.
    if later < earlier && parse_date(earlier).is_some() && parse_date(later).is_some() {
        out.push(
            pointer(),
            Rule::DateOrder,
            format!("expected {what} on or after {earlier_name} {earlier}, found {later}"),
        );
    }
}

fn purchase_order(doc: &Value, out: &mut Findings) {
    positive(doc, "quantity", out);
    unique_line_no(doc, "line_no", out);
    if let Some(order_date) = str_at(doc, "order_date") {
        for (i, line) in lines(doc) {
            if let Some(req) = str_at(line, "requested_date") {
                ordered(
                    "order_date",
                    order_date,
                    || format!("/lines/{i}/requested_date"),
                    req,
                    "a requested date",
                    out,
                );
            }
        }
    }
}

fn po_acknowledgement(doc: &Value, out: &mut Findings) {
    unique_line_no(doc, "line_no", out);
    for (i, line) in lines(doc) {
        let (Some(status), Some(qty)) = (
            str_at(line, "status"),
            line.get("confirmed_qty").and_then(Value::as_i64),
        ) else {
            continue;
        };
        let pointer = format!("/lines/{i}/confirmed_qty");
        match status {
            "rejected" if qty != 0 => out.push(
                pointer,
                Rule::QuantityConsistent,
                format!("expected confirmed_qty 0 on a rejected line, found {qty}"),
            ),
            "accepted" | "quantity_changed" | "date_rescheduled" if qty <= 0 => out.push(
                pointer,
                Rule::QuantityPositive,
                format!(
                    "expected a confirmed_qty greater than 0 on a line with status {status}, found {qty}"
                ),
            ),
            _ => {}
        }
    }
}

/// An ASN's rules, in one pass over its lines (each line's members read
/// once). Findings keep the order of the rules: positive quantities, then
/// the arrival date, expiry dates, and the handling-unit tree (phases).
fn advance_ship_notice(doc: &Value, out: &mut Findings) {
    let base = out.phase;
    let [ship_date, eta] =
        members(doc, ["ship_date", "estimated_arrival"]).map(|v| v.and_then(Value::as_str));
    out.phase = base + 1;
    if let (Some(ship), Some(eta)) = (ship_date, eta) {
        ordered(
            "ship_date",
            ship,
            || "/estimated_arrival".into(),
            eta,
            "an estimated arrival",
            out,
        );
    }
    out.phase = base + 3;
    let tree = HuTree::check(doc, out);
    for (i, line) in lines(doc) {
        let [quantity, expiry, sscc] = members(line, ["quantity", "expiry", "sscc"]);
        out.phase = base;
        positive_at(i, "quantity", quantity.and_then(Value::as_i64), out);
        out.phase = base + 2;
        if let (Some(ship), Some(expiry)) = (ship_date, expiry.and_then(Value::as_str)) {
            ordered(
                "ship_date",
                ship,
                || format!("/lines/{i}/expiry"),
                expiry,
                "an expiry",
                out,
            );
        }
        out.phase = base + 3;
        tree.check_line(i, sscc.and_then(Value::as_str), out);
    }
}

fn inbound_expectation(doc: &Value, out: &mut Findings) {
    positive(doc, "quantity", out);
    unique_line_no(doc, "line_no", out);
    handling_units(doc, out);
}

fn goods_receipt(doc: &Value, out: &mut Findings) {
    unique_line_no(doc, "line_no", out);
    for (i, line) in lines(doc) {
        let received = line.get("qty_received").and_then(Value::as_i64);
        let damaged = line.get("qty_damaged").and_then(Value::as_i64);
        if let (Some(received), Some(damaged)) = (received, damaged) {
            if damaged <= received {
                continue;
            }
            out.push(
                format!("/lines/{i}/qty_damaged"),
                Rule::QuantityConsistent,
                format!("expected qty_damaged at most qty_received {received}, found {damaged}"),
            );
        }
    }
}

/// A reversal cancels an earlier event's posting: `reverses_seq` < `seq`.
fn goods_receipt_posting(doc: &Value, out: &mut Findings) {
    let num = |k: &str| doc.get(k).and_then(Value::as_u64);
    let seq = num("seq").unwrap_or(1);
    if let Some(reverses) = num("reverses_seq").filter(|r| *r >= seq) {
        out.push(
            "/reverses_seq".into(),
            Rule::QuantityConsistent,
            format!("expected a reversal of an earlier event (reverses_seq < seq = {seq}), found {reverses}"),
        );
    }
}

fn receipt_discrepancy(doc: &Value, out: &mut Findings) {
    let num = |k: &str| doc.get(k).and_then(Value::as_i64);
    if let (Some(expected), Some(actual), Some(variance)) = (num("expected"), num("actual"), num("variance"))
    {
        if variance == actual - expected {
            return;
        }
        out.push(
            "/variance".into(),
            Rule::QuantityConsistent,
            format!(
                "expected variance = actual − expected = {}, found {variance}",
                actual - expected
            ),
        );
    }
}

fn order_release(doc: &Value, out: &mut Findings) {
    positive(doc, "quantity", out);
    unique_line_no(doc, "line_no", out);
    if let (Some(release), Some(ship)) = (str_at(doc, "release_date"), str_at(doc, "requested_ship_date")) {
        ordered(
            "release_date",
            release,
            || "/requested_ship_date".into(),
            ship,
            "a requested ship date",
            out,
        );
    }
}

fn non_empty(v: &Value, key: &str) -> bool {
    v.get(key)
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

/// A release is all or nothing: accepted means every line accepted, no
/// reason and a warehouse order id; rejected means a reason somewhere and no
/// warehouse order.
fn order_release_decision(doc: &Value, out: &mut Findings) {
    unique_line_no(doc, "line_no", out);
    let mut rejected_lines = 0;
    for (i, line) in lines(doc) {
        let has_reasons = non_empty(line, "reasons");
        match str_at(line, "decision") {
            Some("accepted") if has_reasons => out.push(
                format!("/lines/{i}/reasons"),
                Rule::DecisionConsistent,
                "expected no reason on an accepted line, found some".into(),
            ),
            Some("rejected") => {
                rejected_lines += 1;
                if !has_reasons {
                    out.push(
                        format!("/lines/{i}/decision"),
                        Rule::DecisionConsistent,
                        "expected at least one reason on a rejected line, found none".into(),
                    );
                }
            }
            _ => {}
        }
    }
    let order_id = doc.get("warehouse_order_id").filter(|v| !v.is_null());
    match str_at(doc, "decision") {
        Some("accepted") => {
            for (i, line) in lines(doc) {
                if str_at(line, "decision") == Some("rejected") {
                    out.push(
                        format!("/lines/{i}/decision"),
                        Rule::DecisionConsistent,
                        "expected every line accepted in an accepted release, found a rejected line".into(),
                    );
                }
            }
            if non_empty(doc, "reasons") {
                out.push(
                    "/reasons".into(),
                    Rule::DecisionConsistent,
                    "expected no reason on an accepted release, found some".into(),
                );
            }
            if order_id.is_none() {
                out.push(
                    "/decision".into(),
                    Rule::DecisionConsistent,
                    "expected a warehouse_order_id on an accepted release, found none".into(),
                );
            }
        }
        Some("rejected") => {
            if order_id.is_some() {
                out.push(
                    "/warehouse_order_id".into(),
                    Rule::DecisionConsistent,
                    "expected no warehouse order for a rejected release, found one".into(),
                );
            }
            if rejected_lines == 0 && !non_empty(doc, "reasons") {
                out.push(
                    "/decision".into(),
                    Rule::DecisionConsistent,
                    "expected a reason for a rejected release (on the release or a rejected line), found none"
                        .into(),
                );
            }
        }
        _ => {}
    }
}

fn shipment_confirmation(doc: &Value, out: &mut Findings) {
    positive(doc, "qty_ordered", out);
    unique_line_no(doc, "line_no", out);
    for (i, line) in lines(doc) {
        let ordered = line.get("qty_ordered").and_then(Value::as_i64);
        let shipped = line.get("qty_shipped").and_then(Value::as_i64);
        if let (Some(ordered), Some(shipped)) = (ordered, shipped) {
            if shipped > ordered {
                out.push(
                    format!("/lines/{i}/qty_shipped"),
                    Rule::QuantityConsistent,
                    format!("expected qty_shipped at most qty_ordered {ordered}, found {shipped}"),
                );
            }
        }
    }
    handling_units(doc, out);
}

fn inventory_adjustment(doc: &Value, out: &mut Findings) {
    let Some(delta) = doc.get("delta").and_then(Value::as_i64) else {
        return;
    };
    if delta == 0 {
        out.push(
            "/delta".into(),
            Rule::QuantityConsistent,
            "expected a non-zero delta, found 0".into(),
        );
    }
    // A negative previous_on_hand is the schema's finding.
    if let Some(previous) = doc
        .get("previous_on_hand")
        .and_then(Value::as_i64)
        .filter(|p| *p >= 0)
    {
        if previous.checked_add(delta).is_none_or(|after| after < 0) {
            out.push(
                "/delta".into(),
                Rule::QuantityConsistent,
                format!(
                    "expected a delta of at least −previous_on_hand = {}, found {delta}",
                    -previous
                ),
            );
        }
    }
}

/// Every (sku, location) of `doc[key]` at most once.
fn unique_positions(doc: &Value, key: &str, out: &mut Findings) {
    let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, p) in items(doc, key) {
        let (Some(sku), Some(location)) = (str_at(p, "sku"), str_at(p, "location")) else {
            continue;
        };
        if let Some(&first) = seen.get(&(sku, location)) {
            out.push(
                format!("/{key}/{i}"),
                Rule::PositionUnique,
                format!(
                    "expected (sku, location) unique in the document, found ({sku}, {location}) again (first at /{key}/{first})"
                ),
            );
        } else {
            seen.insert((sku, location), i);
        }
    }
}

fn reconciliation_result(doc: &Value, out: &mut Findings) {
    unique_positions(doc, "gaps", out);
    let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64);
    for (i, gap) in items(doc, "gaps") {
        let (Some(erp), Some(wms), Some(diff)) = (
            num(gap, "erp_on_hand"),
            num(gap, "wms_on_hand"),
            num(gap, "difference"),
        ) else {
            continue;
        };
        let pointer = format!("/gaps/{i}/difference");
        if diff != wms - erp {
            out.push(
                pointer,
                Rule::QuantityConsistent,
                format!(
                    "expected difference = wms_on_hand − erp_on_hand = {}, found {diff}",
                    wms - erp
                ),
            );
        } else if diff == 0 {
            out.push(
                pointer,
                Rule::QuantityConsistent,
                format!("expected a gap to differ, found erp_on_hand = wms_on_hand = {erp}"),
            );
        }
    }
    let gaps = items(doc, "gaps").count();
    if let Some(compared) = num(doc, "positions_compared") {
        if (gaps as i64) > compared {
            out.push(
                "/positions_compared".into(),
                Rule::QuantityConsistent,
                format!("expected at least as many positions compared as gaps ({gaps}), found {compared}"),
            );
        }
    }
}

fn invoice(doc: &Value, out: &mut Findings) {
    positive(doc, "quantity", out);
    unique_line_no(doc, "line_no", out);
    if let (Some(date), Some(due)) = (str_at(doc, "invoice_date"), str_at(doc, "due_date")) {
        ordered(
            "invoice_date",
            date,
            || "/due_date".into(),
            due,
            "a due date",
            out,
        );
    }
}

/// A match line's invoiced price against its PO price and tolerance.
struct PriceCheck<'a> {
    invoiced: &'a str,
    po: &'a str,
    tolerance_pct: u64,
    /// |invoiced − po| ≤ po × tolerance_pct / 100.
    within: bool,
}

impl<'a> PriceCheck<'a> {
    /// `None` when a price or the tolerance is absent or malformed (the
    /// schema's finding).
    fn of(line: &'a Value) -> Option<Self> {
        let invoiced = str_at(line, "invoiced_unit_price")?;
        let po = str_at(line, "po_unit_price")?;
        let tolerance_pct = line.get("price_tolerance_pct").and_then(Value::as_u64)?;
        let (inv, p) = (price_e4(invoiced)?, price_e4(po)?);
        let within = inv.abs_diff(p) * 100 <= p * u128::from(tolerance_pct);
        Some(Self {
            invoiced,
            po,
            tolerance_pct,
            within,
        })
    }
}

/// A known line outcome other than `matched` (an unknown one is the schema's finding).
fn is_exception_outcome(outcome: &str) -> bool {
    serde_json::from_value::<LineMatchOutcome>(Value::String(outcome.to_owned()))
        .is_ok_and(|o| o != LineMatchOutcome::Matched)
}

/// 3-way match: a matched line invoices no more than was received; every
/// other line has exactly one exception of its outcome; the status is
/// `matched` exactly when every line is.
fn match_result(doc: &Value, out: &mut Findings) {
    unique_line_no(doc, "invoice_line_no", out);
    // invoice_line_no → outcome
    let mut outcomes: HashMap<i64, &str> = HashMap::new();
    let mut unmatched = 0;
    for (i, line) in lines(doc) {
        let outcome = str_at(line, "outcome");
        if let Some(n) = line.get("invoice_line_no").and_then(Value::as_i64) {
            outcomes.entry(n).or_insert(outcome.unwrap_or_default());
        }
        match outcome {
            Some("matched") => {
                let invoiced = line.get("invoiced_qty").and_then(Value::as_i64);
                let received = line.get("received_qty").and_then(Value::as_i64);
                if let (Some(invoiced), Some(received)) = (invoiced, received) {
                    if invoiced > received {
                        out.push(
                            format!("/lines/{i}/invoiced_qty"),
                            Rule::QuantityConsistent,
                            format!(
                                "expected invoiced_qty at most received_qty {received} on a matched line, found {invoiced}"
                            ),
                        );
                    }
                }
            }
            Some(o) if is_exception_outcome(o) => unmatched += 1,
            _ => {}
        }
        if outcome == Some("quantity_exceeds_received") {
            let invoiced = line.get("invoiced_qty").and_then(Value::as_i64);
            let received = line.get("received_qty").and_then(Value::as_i64);
            if let (Some(invoiced), Some(received)) = (invoiced, received) {
                if invoiced <= received {
                    out.push(
                        format!("/lines/{i}/outcome"),
                        Rule::DecisionConsistent,
                        format!(
                            "expected invoiced_qty above received_qty for outcome quantity_exceeds_received, found {invoiced} ≤ {received}"
                        ),
                    );
                }
            }
        }
        if let Some(price) = PriceCheck::of(line) {
            match outcome {
                Some("matched") if !price.within => out.push(
                    format!("/lines/{i}/invoiced_unit_price"),
                    Rule::DecisionConsistent,
                    format!(
                        "expected an invoiced_unit_price within {}% of po_unit_price {} on a matched line, found {}",
                        price.tolerance_pct, price.po, price.invoiced
                    ),
                ),
                Some("price_variance") if price.within => out.push(
                    format!("/lines/{i}/outcome"),
                    Rule::DecisionConsistent,
                    format!(
                        "expected a price beyond tolerance for outcome price_variance, found invoiced_unit_price {} within {}% of po_unit_price {}",
                        price.invoiced, price.tolerance_pct, price.po
                    ),
                ),
                _ => {}
            }
        }
    }
    let mut excepted: HashMap<i64, usize> = HashMap::new();
    for (j, ex) in items(doc, "exceptions") {
        let Some(n) = ex.get("invoice_line_no").and_then(Value::as_i64) else {
            continue;
        };
        if let Some(&first) = excepted.get(&n) {
            out.push(
                format!("/exceptions/{j}"),
                Rule::DecisionConsistent,
                format!("expected one exception per line, found a second for invoice line {n} (first at /exceptions/{first})"),
            );
            continue;
        }
        excepted.insert(n, j);
        let kind = str_at(ex, "kind");
        match outcomes.get(&n) {
            None => out.push(
                format!("/exceptions/{j}/invoice_line_no"),
                Rule::DecisionConsistent,
                format!("expected the number of a line in /lines, found {n}"),
            ),
            Some(&"matched") => out.push(
                format!("/exceptions/{j}/invoice_line_no"),
                Rule::DecisionConsistent,
                format!("expected no exception for matched invoice line {n}, found one"),
            ),
            Some(&outcome) => {
                if kind.is_some_and(|k| k != outcome) {
                    out.push(
                        format!("/exceptions/{j}/kind"),
                        Rule::DecisionConsistent,
                        format!(
                            "expected the line's outcome {outcome}, found {}",
                            kind.unwrap_or_default()
                        ),
                    );
                }
            }
        }
    }
    for (i, line) in lines(doc) {
        let n = line.get("invoice_line_no").and_then(Value::as_i64);
        let outcome = str_at(line, "outcome");
        if let (Some(n), Some(outcome)) = (n, outcome) {
            if is_exception_outcome(outcome) && !excepted.contains_key(&n) {
                out.push(
                    format!("/lines/{i}/outcome"),
                    Rule::DecisionConsistent,
                    format!("expected one exception for a line with outcome {outcome}, found none"),
                );
            }
        }
    }
    match str_at(doc, "status") {
        Some("matched") if unmatched > 0 => out.push(
            "/status".into(),
            Rule::DecisionConsistent,
            format!("expected status exception with {unmatched} unmatched line(s), found matched"),
        ),
        Some("exception") if unmatched == 0 && lines(doc).count() > 0 => out.push(
            "/status".into(),
            Rule::DecisionConsistent,
            "expected status matched when every line matched, found exception".into(),
        ),
        _ => {}
    }
}

/// A CloudEvents envelope: a valid `traceparent`, the `type` its data is
/// published under, and the data's own rules under `/data`.
fn cloud_event(doc: &Value, event_type: &str, data_rules: Option<Rules>, out: &mut Findings) {
    if let Some(tp) = str_at(doc, "traceparent") {
        if TraceParent::parse(tp).is_none() {
            out.push(
                "/traceparent".into(),
                Rule::TraceContext,
                format!("expected a W3C traceparent 00-<trace id>-<parent id>-<flags> with non-zero ids, found {tp:?}"),
            );
        }
    }
    if let Some(t) = str_at(doc, "type").filter(|t| *t != event_type) {
        out.push(
            "/type".into(),
            Rule::EventType,
            format!("expected type {event_type}, found {t}"),
        );
    }
    if let (Some(data), Some(data_rules)) = (doc.get("data"), data_rules) {
        let mut inner = Findings::default();
        data_rules(data, &mut inner);
        for f in inner.into_vec() {
            out.push(format!("/data{}", f.pointer), f.rule, f.message);
        }
    }
}

/// The handling-unit tree: unique SSCCs, parents that are listed pallets, no
/// cycles, every line in a listed unit.
fn handling_units(doc: &Value, out: &mut Findings) {
    let tree = HuTree::check(doc, out);
    for (i, line) in lines(doc) {
        tree.check_line(i, str_at(line, "sscc"), out);
    }
}

/// A document's handling units, checked as a tree; then each line's unit.
struct HuTree<'a> {
    by_sscc: SsccIndex<'a>,
    /// No unit is listed: the schema decides whether units are required,
    /// lines are not checked against them.
    empty: bool,
}

impl<'a> HuTree<'a> {
    /// Line `i` is packed in `sscc`: a listed unit.
    fn check_line(&self, i: usize, sscc: Option<&str>, out: &mut Findings) {
        if self.empty {
            return;
        }
        if let Some(sscc) = sscc.filter(|s| self.by_sscc.get(s).is_none()) {
            out.push(
                format!("/lines/{i}/sscc"),
                Rule::HuKnown,
                format!("expected the SSCC of a handling unit listed in /handling_units, found {sscc}"),
            );
        }
    }

    /// Unique SSCCs, parents that are listed pallets, no cycles.
    fn check(doc: &'a Value, out: &mut Findings) -> Self {
        let units: &[Value] = doc
            .get("handling_units")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        // Each unit's fields, read once: (sscc, level, parent_sscc).
        let fields: Vec<(Option<&str>, Option<&str>, Option<&str>)> = units
            .iter()
            .map(|hu| {
                let [sscc, level, parent] =
                    members(hu, ["sscc", "level", "parent_sscc"]).map(|v| v.and_then(Value::as_str));
                (sscc, level, parent)
            })
            .collect();
        // sscc → index of its first unit
        let by_sscc = SsccIndex::new(fields.iter().map(|(sscc, ..)| *sscc));
        // The units that are tree nodes: the first of each SSCC.
        let mut node = vec![false; units.len()];
        for (i, (sscc, ..)) in fields.iter().enumerate() {
            let Some(sscc) = *sscc else {
                continue;
            };
            let first = by_sscc.get(sscc).expect("every unit's SSCC is indexed");
            if first == i {
                node[i] = true;
            } else {
                out.push(
                format!("/handling_units/{i}/sscc"),
                Rule::HuUnique,
                format!(
                    "expected an SSCC unique among handling units, found {sscc} again (first at /handling_units/{first})"
                ),
            );
            }
        }
        // parent[i]: the index of unit i's parent, when it is listed.
        let mut parent: Vec<Option<usize>> = vec![None; units.len()];
        for (i, (_, _, parent_sscc)) in fields.iter().enumerate() {
            let Some(p) = *parent_sscc else {
                continue;
            };
            let pointer = || format!("/handling_units/{i}/parent_sscc");
            match by_sscc.get(p) {
                None => out.push(
                    pointer(),
                    Rule::HuParent,
                    format!("expected the SSCC of a listed handling unit, found {p}, which is not listed"),
                ),
                Some(at) => {
                    parent[i] = Some(at);
                    let level = fields[at].1;
                    if level.is_some_and(|l| l != "pallet") {
                        out.push(
                            pointer(),
                            Rule::HuParent,
                            format!(
                                "expected a pallet as parent, found {p}, a {}",
                                level.unwrap_or_default()
                            ),
                        );
                    }
                }
            }
        }
        // Cycles: follow parents; a walk that revisits a unit of its own path is
        // a cycle. State per unit: 0 unvisited, 1 on the current walk, 2 done.
        let mut state = vec![0u8; units.len()];
        let mut path: Vec<usize> = Vec::new();
        for start in (0..units.len()).filter(|&i| node[i]) {
            path.clear();
            let mut cur = Some(start);
            while let Some(n) = cur {
                if state[n] == 2 {
                    break;
                }
                if state[n] == 1 {
                    // Report at the cycle's first listed unit, starting from it,
                    // so the finding does not depend on where the walk began.
                    let pos = path.iter().position(|&p| p == n).expect("on the walk");
                    let mut cycle = path[pos..].to_vec();
                    let first = (0..cycle.len())
                        .min_by_key(|&k| cycle[k])
                        .expect("a cycle has a unit");
                    cycle.rotate_left(first);
                    let through: Vec<&str> = cycle.iter().map(|&k| fields[k].0.unwrap_or_default()).collect();
                    out.push(
                        format!("/handling_units/{}/parent_sscc", cycle[0]),
                        Rule::HuCycle,
                        format!(
                            "expected a tree of handling units, found a cycle through {}",
                            through.join(" → ")
                        ),
                    );
                    break;
                }
                state[n] = 1;
                path.push(n);
                cur = parent[n];
            }
            for &n in &path {
                state[n] = 2;
            }
        }
        HuTree {
            by_sscc,
            empty: units.is_empty(),
        }
    }
}

/// The handling units' SSCCs → the index of the first unit of each.
///
/// SSCCs are 18 digits, so they are keyed as `u64` in a sorted list (no
/// string hashing, no allocation per unit). A document whose SSCCs are not all
/// 18 digits (a schema fault) falls back to a map of the strings.
enum SsccIndex<'a> {
    /// (SSCC as a number, unit index), sorted.
    Digits(Vec<(u64, usize)>),
    Text(HashMap<&'a str, usize>),
}

/// An SSCC's 18 digits as a number; `None` for anything else.
fn sscc_key(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 18 {
        return None;
    }
    let mut n = 0u64;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    Some(n)
}

impl<'a> SsccIndex<'a> {
    fn new(ssccs: impl Iterator<Item = Option<&'a str>> + Clone) -> Self {
        let digits: Option<Vec<(u64, usize)>> = ssccs
            .clone()
            .enumerate()
            .filter_map(|(i, s)| Some((s?, i)))
            .map(|(s, i)| Some((sscc_key(s)?, i)))
            .collect();
        match digits {
            Some(mut keys) => {
                // By key, then index: the first of equal keys is the first unit.
                keys.sort_unstable();
                keys.dedup_by_key(|(key, _)| *key);
                SsccIndex::Digits(keys)
            }
            None => {
                let mut map = HashMap::new();
                for (i, s) in ssccs.enumerate() {
                    if let Some(s) = s {
                        map.entry(s).or_insert(i);
                    }
                }
                SsccIndex::Text(map)
            }
        }
    }

    fn get(&self, sscc: &str) -> Option<usize> {
        match self {
            SsccIndex::Digits(keys) => {
                let key = sscc_key(sscc)?;
                let at = keys.binary_search_by_key(&key, |(k, _)| *k).ok()?;
                Some(keys[at].1)
            }
            SsccIndex::Text(map) => map.get(sscc).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_date_accepts_calendar_dates_only() {
        assert_eq!(parse_date("2024-02-29"), Some((2024, 2, 29)));
        assert_eq!(parse_date("2000-02-29"), Some((2000, 2, 29)));
        assert_eq!(parse_date("1900-02-29"), None);
        assert_eq!(parse_date("2025-02-29"), None);
        assert_eq!(parse_date("2025-04-31"), None);
        assert_eq!(parse_date("2025-13-01"), None);
        assert_eq!(parse_date("2025-00-01"), None);
        assert_eq!(parse_date("2025-1-01"), None);
        assert_eq!(parse_date("2025-01-01T00:00:00Z"), None);
        assert_eq!(parse_date("+025-01-01"), None);
    }

    #[test]
    fn identifier_fields_are_read_from_the_schemas() {
        let v = Validator::new();
        let asn = &v.fields["AdvanceShipNotice"];
        let has = |path: &[&str], kind| {
            asn.iter().any(|(p, k)| {
                *k == kind
                    && p.len() == path.len()
                    && p.iter().zip(path).all(|(s, want)| match s {
                        Seg::Key(k) => k == want,
                        Seg::Each => *want == "*",
                    })
            })
        };
        assert!(has(&["supplier_gln"], FieldKind::Gln));
        assert!(has(&["handling_units", "*", "sscc"], FieldKind::Sscc));
        assert!(has(&["handling_units", "*", "parent_sscc"], FieldKind::Sscc));
        assert!(has(&["lines", "*", "gtin"], FieldKind::Gtin));
        assert!(has(&["lines", "*", "uom"], FieldKind::Uom));
        assert!(has(&["lines", "*", "expiry"], FieldKind::Date));
        assert!(has(&["ship_date"], FieldKind::Date));
    }

    #[test]
    fn uom_parse_agrees_with_serde() {
        for uom in [Uom::Ea, Uom::Cs, Uom::Pl] {
            let code = serde_json::to_value(uom).unwrap();
            assert_eq!(Uom::parse(code.as_str().unwrap()), Some(uom));
        }
        assert_eq!(Uom::parse("ea"), None);
        assert_eq!(Uom::parse("KG"), None);
    }

    #[test]
    fn the_one_pass_check_digit_agrees_with_the_ids_module() {
        for data in [
            "0061414100000001",
            "400638100001",
            "5060000000010",
            "1234567",
            "9",
            "00000000000000000",
        ] {
            let s = crate::ids::with_check_digit(data);
            let lens = [s.len()];
            let want = crate::ids::gs1_check_digit(data).unwrap();
            assert_eq!(gs1_digits(&lens, &s), Some((want, want)), "{s}");
            let mut wrong = s.clone().into_bytes();
            let last = wrong.len() - 1;
            wrong[last] = b'0' + (wrong[last] - b'0' + 1) % 10;
            let wrong = String::from_utf8(wrong).unwrap();
            assert_eq!(
                gs1_digits(&lens, &wrong),
                Some((want, (want + 1) % 10)),
                "{wrong}"
            );
        }
        assert_eq!(gs1_digits(&[13], "50600000000a7"), None);
        assert_eq!(gs1_digits(&[13], "5060000000017x"), None);
        assert_eq!(gs1_digits(&[13], ""), None);
    }

    /// Strings near GS1 identifiers and dates: digits of every length up to
    /// 25, each with one byte replaced by a near non-digit.
    fn near_digits() -> Vec<String> {
        let mut out = Vec::new();
        for len in 0..=25 {
            let digits: String = (0..len)
                .map(|i| char::from(b'0' + ((i * 7 + 3) % 10) as u8))
                .collect();
            out.push(digits.clone());
            for at in 0..len {
                for c in ['*', '/', ':', 'a', '\u{0}', '\u{7f}', 'é'] {
                    let mut s: Vec<char> = digits.chars().collect();
                    s[at] = c;
                    out.push(s.into_iter().collect());
                }
            }
        }
        out
    }

    #[test]
    fn the_fast_gs1_checks_agree_with_check_gs1() {
        let mut strings = near_digits();
        for data in ["0061414100000001", "400638100001", "506000000001", "9638507"] {
            for d in 0..10 {
                strings.push(format!("{data}{d}"));
            }
        }
        for s in &strings {
            for lens in [&[18][..], &[8, 12, 13, 14], &[13]] {
                let mut out = Findings::default();
                check_gs1("X", lens, s, &[], &mut out);
                assert_eq!(gs1_ok(lens, s), out.found.is_empty(), "{s:?} {lens:?}");
            }
            let mut out = Findings::default();
            check_gs1("SSCC", &[18], s, &[], &mut out);
            let fast = sscc_digits(s);
            assert_eq!(fast.map(|(key, _)| key), sscc_key(s), "{s:?}");
            assert_eq!(
                s.is_empty() || fast.is_some_and(|(_, ok)| ok),
                out.found.is_empty(),
                "{s:?}"
            );
        }
    }

    /// The text-parsing reading of a date that [`date_number`] must agree
    /// with (its former implementation as `parse_date`).
    fn reference_date(s: &str) -> Option<(u32, u32, u32)> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())
                .flatten()
        };
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days).contains(&d).then_some((y, m, d))
    }

    #[test]
    fn date_number_and_parse_date_agree_with_the_text_reading() {
        let mut strings = near_digits();
        for y in ["0000", "1900", "2000", "2024", "2025", "9999"] {
            for m in 0..=13 {
                for d in 0..=32 {
                    strings.push(format!("{y}-{m:02}-{d:02}"));
                }
            }
        }
        strings.extend(
            [
                "2025-1-01",
                "2025-01-1 ",
                "2025/01/01",
                "+025-01-01",
                "2025-01-01T",
            ]
            .map(String::from),
        );
        for s in &strings {
            let want = reference_date(s);
            assert_eq!(
                date_number(s),
                want.map(|(y, m, d)| y * 10_000 + m * 100 + d),
                "{s:?}"
            );
            let parsed = parse_date(s).map(|(y, m, d)| (u32::from(y), u32::from(m), u32::from(d)));
            assert_eq!(parsed, want, "{s:?}");
        }
    }

    #[test]
    fn pointers_escape_keys() {
        assert_eq!(pointer(&[Ptr::Key("a/b~c"), Ptr::Index(3)]), "/a~1b~0c/3");
    }
}
