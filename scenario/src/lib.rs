//! The scenario format (TOML) and its loading, with errors that name the
//! file, line, column and field.
//!
//! ```toml
//! name = "inbound-happy-path"
//! description = "..."
//! seed = 42                       # optional; --seed overrides
//! checks = ["trace-continuity"]   # optional: checks the scenario exists for, besides
//!                                 # those its sections imply (Scenario::required_checks);
//!                                 # the run fails when one of them judged nothing
//!
//! [load]
//! purchase_orders = 200           # how many POs the ERP releases
//! lines_per_po = { min = 1, max = 5 }
//! arrival_rate_per_s = 100.0      # open model: PO releases per second
//! ramp = [                        # optional stages after the start, in order:
//!   { to_per_s = 300, over_s = 5 },  # linearly to 300/s over 5 s,
//!   { to_per_s = 300, over_s = 10 }, # hold 300/s for 10 s,
//!   { to_per_s = 50, over_s = 5 },   # down to 50/s; the last rate is held
//! ]
//! time_bound_s = 30               # the whole run, quiescence included
//!
//! [supplier]
//! ack_delay_ms = 5
//! asn_delay_ms = 10
//! asn_copies = { min = 1, max = 1 }  # each ASN sent this many times
//! concurrent_copies = false
//! rejected_probability = 0.05     # the ack rejects a PO line (never shipped)
//! backordered_probability = 0.05  # … or backorders it (confirmed 0 for now)
//! quantity_changed_probability = 0.1  # … or confirms change_pct less
//! date_rescheduled_probability = 0.1  # … or promises it a week late
//! replace_probability = 0.1       # an ASN replaced: quantities −change_pct, new cartons
//! cancel_probability = 0.05       # an ASN then cancelled
//! change_pct = 20
//!
//! [wms]
//! receipt_delay_ms = 10
//! short_probability = 0.1         # a line counted short by variance_pct
//! over_probability = 0.05         # … or over
//! damaged_probability = 0.05      # … or partly damaged (quality stock)
//! variance_pct = 20
//! correction_probability = 0.2   # a receipt recounted: a second event (seq 2)
//! wrong_item_probability = 0.05   # a line arrives as another item (blocked, not posted)
//! not_advised_probability = 0.05  # a receipt has one more line nobody advised (blocked)
//!
//! [sla]                           # optional; per flow, judged by checker::sla
//! recovery_s = 15                 # after each fault window (default 15)
//! [sla.asn_to_expectation]        # po_release, receipt_to_posting, order_release,
//! p99_ms = 500                    # release_to_decision, ship_confirmation_to_posting
//! error_rate = 0.0                # also p50_ms, p95_ms, max_ms
//!
//! [outbound]                      # the outbound flow; absent = not run
//! orders = 100                    # sales orders the ERP releases
//! lines_per_order = { min = 1, max = 4 }
//! arrival_rate_per_s = 50.0       # open model: releases per second
//! ramp = [{ to_per_s = 100, over_s = 5 }]  # optional, as in [load]
//! unknown_item_probability = 0.05 # a line's item missing from the WMS item master
//! ship_delay_ms = 20              # accepted release → ship confirmation
//! short_ship_probability = 0.1    # a line ships half its quantity
//! release_timeout_ms = 2000       # the core's wait for the WMS's decision
//! time_bound_s = 30               # required when there is no [load]
//!
//! [core]                          # optional
//! max_attempts = 2                # deliveries dead-lettered after this many
//!
//! [[ops]]                         # operator steps; any number
//! at_s = 3.0                      # from the start of the load
//! action = "replay-dead-letters"  # POST /v1/ops/dead-letters/replay {"all": true}
//!
//! [[faults]]                      # the fault timeline; any number
//! at_s = 1.0                      # from the start of the load
//! for_s = 2.0
//! role = "wms"                    # erp | wms | supplier
//! endpoint = "/v1/inbound-expectations"  # omit for every endpoint
//! probability = 1.0               # default 1
//! kind = "outage"                 # and the kind's own fields (contracts::faults)
//! ```
//!
//! The format knows nothing of the code that acts on it: the harness turns
//! its sections into the parties' and the core's configurations, the load
//! driver's schedule and the checker's expectations.

pub mod faults;
pub mod parties;
pub mod sections;
pub mod values;

use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

pub use faults::{ProfileName, SimRole, TimedFault};
pub use parties::Parties;
pub use sections::{
    Bounds, CoreSection, InventorySection, InvoicingSection, Load, OpsAction, OpsStep, OutboundLoad, Ramp,
    Sla, SupplierBehaviour, WmsBehaviour,
};
pub use values::{CountRange, Positive, PositiveF64, Probability};

/// A parsed scenario.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub seed: Option<u64>,
    /// The inbound flow's load; absent: no purchase orders are released.
    #[serde(default)]
    pub load: Option<Load>,
    #[serde(default)]
    pub supplier: SupplierBehaviour,
    #[serde(default)]
    pub wms: WmsBehaviour,
    #[serde(default)]
    pub sla: Sla,
    #[serde(default)]
    pub outbound: Option<OutboundLoad>,
    #[serde(default)]
    pub faults: Vec<TimedFault>,
    /// The supplier invoices and the core matches; absent = no invoices.
    #[serde(default)]
    pub invoicing: Option<InvoicingSection>,
    /// The WMS adjusts stock and the run reconciles; absent = neither.
    #[serde(default)]
    pub inventory: Option<InventorySection>,
    /// Each role simulated (absent) or the system under test at a URL
    /// (see `run::external`).
    #[serde(default)]
    pub parties: Parties,
    /// The reference core's settings a scenario may change.
    #[serde(default)]
    pub core: CoreSection,
    /// Operator steps on the timeline (e.g. replaying dead letters).
    #[serde(default)]
    pub ops: Vec<OpsStep>,
    /// Checks the scenario exists to exercise, besides those its sections
    /// imply ([`Scenario::required_checks`]): the run fails when one of
    /// them judged nothing (or the checker has no check of that name).
    #[serde(default)]
    pub checks: Vec<String>,
}

/// Why a scenario could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: PathBuf,
    /// 1-based; 0 when the file could not be read.
    pub line: usize,
    pub column: usize,
    /// Dotted path of the field at fault, when known.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Line, column (1-based) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The dotted field path at `offset`: the key assigned on that line, under
/// the nearest `[table]` header above it.
fn field_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_owned());
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    if line.trim_start().starts_with('[') {
        return Some(
            line.trim()
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned(),
        );
    }
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

/// A TOML error, located: file, line, column and dotted field path.
pub fn locate(file: &Path, text: &str, e: &toml::de::Error) -> ScenarioError {
    let (line, column, field) = match e.span() {
        Some(span) => {
            let (l, c) = line_col(text, span.start);
            (l, c, field_at(text, span.start))
        }
        None => (1, 1, None),
    };
    ScenarioError {
        file: file.to_owned(),
        line,
        column,
        field,
        message: e.message().trim().to_owned(),
    }
}

/// Refuses a field of a `[[faults]]` entry that neither every rule, nor its
/// kind, nor `extra` (a scenario's `at_s`, `for_s`, `role`) takes, located
/// at its line (`contracts::faults::check_fields` says which fields fit).
/// `text` must already parse as TOML.
pub fn check_fault_fields(file: &Path, text: &str, extra: &[&str]) -> Result<(), ScenarioError> {
    let Ok(table) = toml::from_str::<toml::Table>(text) else {
        return Ok(()); // the caller's own parse reports a syntax error
    };
    let Some(faults) = table.get("faults").and_then(|v| v.as_array()) else {
        return Ok(());
    };
    for (i, entry) in faults.iter().enumerate() {
        let Ok(serde_json::Value::Object(map)) = serde_json::to_value(entry) else {
            continue;
        };
        let Err(message) = contracts::faults::check_fields(&map, extra) else {
            continue;
        };
        let key = message.split('`').nth(1).unwrap_or_default();
        let header = text.match_indices("[[faults]]").nth(i).map_or(0, |(o, _)| o);
        let entry_text = &text[header..];
        let entry_end = entry_text[10..].find("\n[").map_or(entry_text.len(), |e| e + 10);
        let offset = entry_text[..entry_end]
            .match_indices('\n')
            .map(|(o, _)| o + 1)
            .find(|&o| entry_text[o..].trim_start().starts_with(key))
            .map_or(header, |o| header + o);
        let (line, column) = line_col(text, offset);
        return Err(ScenarioError {
            file: file.to_owned(),
            line,
            column,
            field: Some(format!("faults[{i}].{key}")),
            message,
        });
    }
    Ok(())
}

/// Reads a text input file; `what` names it in the error ("scenario", …).
pub fn read_text(file: &Path, what: &str) -> Result<String, ScenarioError> {
    std::fs::read_to_string(file).map_err(|e| ScenarioError {
        file: file.to_owned(),
        line: 0,
        column: 0,
        field: None,
        message: format!("failed to read the {what}: {e}"),
    })
}

/// Reads a TOML file into `T`; every error is located (file, line, column,
/// field).
pub fn read_toml<T: serde::de::DeserializeOwned>(file: &Path, what: &str) -> Result<T, ScenarioError> {
    let text = read_text(file, what)?;
    toml::from_str(&text).map_err(|e| locate(file, &text, &e))
}

/// The JSON Schema of the scenario format (committed as
/// `harness/schema/scenario.schema.json`; point an editor's TOML support at
/// it for completion).
pub fn scenario_schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(Scenario)).expect("a schema serializes");
    if let serde_json::Value::Object(map) = &mut schema {
        map.insert(
            "$id".into(),
            serde_json::Value::String("https://crossdock.dev/schemas/v1/scenario.schema.json".into()),
        );
    }
    schema
}

impl Scenario {
    /// Parses scenario text; `file` is used in errors only.
    pub fn parse(file: &Path, text: &str) -> Result<Self, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| locate(file, text, &e))?;
        if scenario.name.trim().is_empty()
            || !scenario
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            let offset = text.find("name").unwrap_or(0);
            let (line, column) = line_col(text, offset);
            return Err(ScenarioError {
                file: file.to_owned(),
                line,
                column,
                field: Some("name".into()),
                message: format!(
                    "expected a non-empty name of letters, digits, '-' and '_', found {:?}",
                    scenario.name
                ),
            });
        }
        if scenario.time_bound_s().is_none() {
            let (field, message) = match &scenario.outbound {
                None => (
                    "load",
                    "expected a [load] or an [outbound] section, found neither",
                ),
                Some(_) => (
                    "outbound.time_bound_s",
                    "expected time_bound_s in [outbound] when there is no [load]",
                ),
            };
            let offset = text.find("[outbound]").unwrap_or(0);
            let (line, column) = line_col(text, offset);
            return Err(ScenarioError {
                file: file.to_owned(),
                line,
                column,
                field: Some(field.into()),
                message: message.into(),
            });
        }
        check_fault_fields(file, text, &["at_s", "for_s", "role"])?;
        scenario.check_timeline(file, text)?;
        Ok(scenario)
    }

    /// Every fault window and operator step falls within the run's time
    /// bound (a window that would open after the run ends is a mistake,
    /// not a fault).
    fn check_timeline(&self, file: &Path, text: &str) -> Result<(), ScenarioError> {
        let bound = f64::from(self.time_bound_s().unwrap_or(0));
        let at = |table: &str, i: usize, field: String, message: String| {
            let offset = text.match_indices(table).nth(i).map_or(0, |(o, _)| o);
            let (line, column) = line_col(text, offset);
            ScenarioError {
                file: file.to_owned(),
                line,
                column,
                field: Some(field),
                message,
            }
        };
        for (i, f) in self.faults.iter().enumerate() {
            if f.at_s + f.for_s > bound {
                return Err(at(
                    "[[faults]]",
                    i,
                    format!("faults[{i}]"),
                    format!(
                        "expected the window to end within the run's time bound of {bound} s, \
                         found at_s = {} + for_s = {} = {} s",
                        f.at_s,
                        f.for_s,
                        f.at_s + f.for_s
                    ),
                ));
            }
        }
        for (i, step) in self.ops.iter().enumerate() {
            if step.at_s.0 >= bound {
                return Err(at(
                    "[[ops]]",
                    i,
                    format!("ops[{i}].at_s"),
                    format!(
                        "expected the step before the run's time bound of {bound} s, found at_s = {}",
                        step.at_s.0
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The bound of the whole run: the longest of the flows' bounds.
    pub fn time_bound_s(&self) -> Option<u32> {
        let inbound = self.load.as_ref().map(|l| l.time_bound_s.0);
        let outbound = self.outbound.as_ref().and_then(|o| o.time_bound_s).map(|t| t.0);
        inbound.max(outbound)
    }

    /// The checks this scenario exists for: those its sections imply, then
    /// those it lists in `checks`, each once. A check among them that judged
    /// nothing fails the run: a core that refuses the business a scenario
    /// drives must not pass it.
    ///
    /// - `[load]`: `one-expectation-per-asn`, `one-posting-per-receipt-line`,
    ///   `nothing-lost`, `acknowledgements-reach-erp`;
    /// - `[supplier]` sending copies (`asn_copies.max > 1`): `copies-answered`;
    /// - `[supplier]` replacing or cancelling ASNs: `asn-changes-reach-wms`;
    /// - `[invoicing]`: `three-way-match`;
    /// - `[inventory]`: `adjustments-exactly-once` (when it adjusts),
    ///   `reconciliation-closes-gaps` (when it reconciles);
    /// - `[outbound]`: `release-decision-matches-wms`,
    ///   `one-shipment-posting-per-line`, `shipment-posting-equals-shipped`,
    ///   `outbound-nothing-lost`.
    pub fn required_checks(&self) -> Vec<String> {
        let mut names: Vec<&str> = Vec::new();
        if self.load.is_some() {
            names.extend([
                "one-expectation-per-asn",
                "one-posting-per-receipt-line",
                "nothing-lost",
                "acknowledgements-reach-erp",
            ]);
            if self.supplier.asn_copies.max > 1 {
                names.push("copies-answered");
            }
            if self.supplier.replace_probability.0 > 0.0 || self.supplier.cancel_probability.0 > 0.0 {
                names.push("asn-changes-reach-wms");
            }
            if self.invoicing.is_some() {
                names.push("three-way-match");
            }
            if let Some(inv) = &self.inventory {
                if inv.adjustment_probability.0 > 0.0 {
                    names.push("adjustments-exactly-once");
                }
                if inv.reconciliations > 0 {
                    names.push("reconciliation-closes-gaps");
                }
            }
        }
        if self.outbound.is_some() {
            names.extend([
                "release-decision-matches-wms",
                "one-shipment-posting-per-line",
                "shipment-posting-equals-shipped",
                "outbound-nothing-lost",
            ]);
        }
        names.extend(self.checks.iter().map(String::as_str));
        let mut out: Vec<String> = Vec::new();
        for n in names {
            if !out.iter().any(|o| o == n) {
                out.push(n.to_owned());
            }
        }
        out
    }

    /// Reads and parses a scenario file.
    pub fn load(file: &Path) -> Result<Self, ScenarioError> {
        Self::parse(file, &read_text(file, "scenario")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
[load]
purchase_orders = 3
lines_per_po = { min = 1, max = 2 }
arrival_rate_per_s = 50
time_bound_s = 10
[sla]
asn_to_expectation_p99_ms = 100
"#;

    fn err(text: &str) -> ScenarioError {
        Scenario::parse(Path::new("s.toml"), text).unwrap_err()
    }

    #[test]
    fn a_minimal_scenario_parses_with_defaults() {
        let s = Scenario::parse(Path::new("s.toml"), GOOD).unwrap();
        let load = s.load.as_ref().unwrap();
        assert_eq!(load.purchase_orders, Positive(3));
        assert_eq!(load.arrival_rate_per_s, PositiveF64(50.0));
        assert!(s.outbound.is_none());
        assert_eq!(s.supplier.asn_copies, CountRange { min: 1, max: 1 });
        assert_eq!(s.wms.receipt_delay_ms, 0);
        // No ramp: a constant rate.
        assert!(load.ramp.is_empty());
    }

    #[test]
    fn a_ramp_parses_and_a_bad_stage_is_located() {
        let ramped = GOOD.replace(
            "arrival_rate_per_s = 50\n",
            "arrival_rate_per_s = 50\nramp = [{ to_per_s = 200, over_s = 2 }, { to_per_s = 0, over_s = 1.5 }]\n",
        );
        let s = Scenario::parse(Path::new("s.toml"), &ramped).unwrap();
        let ramp = &s.load.as_ref().unwrap().ramp;
        assert_eq!(
            ramp.as_slice(),
            [
                Ramp {
                    to_per_s: 200.0,
                    over_s: 2.0
                },
                Ramp {
                    to_per_s: 0.0,
                    over_s: 1.5
                }
            ]
        );

        let e = err(&ramped.replace("over_s = 1.5", "over_s = -1"));
        assert_eq!((e.line, e.field.as_deref()), (7, Some("load.ramp")), "{e}");
        assert!(e.message.contains("expected over_s > 0"), "{e}");
    }

    #[test]
    fn a_bad_value_names_file_line_and_field() {
        let e = err(&GOOD.replace("purchase_orders = 3", "purchase_orders = 0"));
        assert_eq!((e.line, e.field.as_deref()), (4, Some("load.purchase_orders")));
        assert!(e.message.contains("expected a positive integer, found 0"), "{e}");
        assert!(e.to_string().starts_with("s.toml:4:"), "{e}");
    }

    #[test]
    fn an_inverted_range_is_refused_at_its_line() {
        let e = err(&GOOD.replace("{ min = 1, max = 2 }", "{ min = 3, max = 2 }"));
        assert_eq!((e.line, e.field.as_deref()), (5, Some("load.lines_per_po")));
        assert!(e.message.contains("min <= max"), "{e}");
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        let e = err(&GOOD.replace("time_bound_s = 10", "time_bound_s = 10\nspeed = 3"));
        assert_eq!(e.line, 8);
        assert!(e.message.contains("unknown field `speed`"), "{e}");

        let e = err(&GOOD.replace("time_bound_s = 10\n", ""));
        assert!(e.message.contains("missing field `time_bound_s`"), "{e}");
        assert_eq!(e.field.as_deref(), Some("load"));

        let e = err(&GOOD.replace("arrival_rate_per_s = 50", "arrival_rate_per_s = \"fast\""));
        assert_eq!((e.line, e.field.as_deref()), (6, Some("load.arrival_rate_per_s")));
    }

    #[test]
    fn a_fault_timeline_parses_and_bad_faults_are_located() {
        let text = format!(
            "{GOOD}\n[[faults]]\nat_s = 1\nfor_s = 2.5\nrole = \"wms\"\nkind = \"outage\"\n\n[[faults]]\nat_s = 0\nfor_s = 1\nrole = \"erp\"\nendpoint = \"/v1/goods-receipt-postings\"\nprobability = 0.5\nkind = \"status\"\nstatus = 503\n"
        );
        let s = Scenario::parse(Path::new("s.toml"), &text).unwrap();
        assert_eq!(s.faults.len(), 2);
        assert_eq!(s.faults[0].role, SimRole::Wms);
        assert_eq!(s.faults[0].for_s, 2.5);
        assert_eq!(s.faults[1].rule.probability, 0.5);

        let e = err(&text.replace("status = 503", "status = 200"));
        assert!(
            e.message.contains("expected a 4xx or 5xx status, found 200"),
            "{e}"
        );
        assert!(e.line > 10, "{e}");
        let e = err(&text.replace("for_s = 2.5", "for_s = 0"));
        assert!(e.message.contains("for_s > 0"), "{e}");
        let e = err(&text.replace("kind = \"outage\"", "kind = \"meteor\""));
        assert!(e.message.contains("meteor"), "{e}");
    }

    #[test]
    fn an_outbound_only_scenario_parses_and_needs_a_time_bound() {
        let text = "name = \"o\"\n[outbound]\norders = 5\nlines_per_order = { min = 1, max = 2 }\narrival_rate_per_s = 10\nunknown_item_probability = 0.1\ntime_bound_s = 9\n";
        let s = Scenario::parse(Path::new("s.toml"), text).unwrap();
        assert!(s.load.is_none());
        let o = s.outbound.as_ref().unwrap();
        assert_eq!(
            (o.orders, o.unknown_item_probability),
            (Positive(5), Probability(0.1))
        );
        assert_eq!(o.release_timeout_ms, Positive(2000));
        assert_eq!(s.time_bound_s(), Some(9));
        assert_eq!(s.sla.asn_to_expectation_p99_ms, None);

        assert!(o.ramp.is_empty());
        let ramped = text.replace(
            "arrival_rate_per_s = 10\n",
            "arrival_rate_per_s = 10\nramp = [{ to_per_s = 30, over_s = 2 }]\n",
        );
        let s = Scenario::parse(Path::new("s.toml"), &ramped).unwrap();
        assert_eq!(
            s.outbound.as_ref().unwrap().ramp,
            [Ramp {
                to_per_s: 30.0,
                over_s: 2.0
            }]
        );

        let e = err(&text.replace("time_bound_s = 9\n", ""));
        assert_eq!((e.line, e.field.as_deref()), (2, Some("outbound.time_bound_s")));
        let e = err("name = \"n\"\n");
        assert!(e.message.contains("[load] or an [outbound]"), "{e}");
        let e = err(&text.replace("= 0.1", "= 1.5"));
        assert_eq!(e.field.as_deref(), Some("outbound.unknown_item_probability"));
    }

    const FAULT: &str = "[[faults]]\nat_s = 1\nfor_s = 2\nrole = \"wms\"\nkind = \"outage\"\n";

    #[test]
    fn a_fault_field_of_no_kind_or_of_another_kind_is_refused_naming_it() {
        let good = Scenario::parse(Path::new("s.toml"), &format!("{GOOD}{FAULT}")).unwrap();
        assert_eq!(good.faults.len(), 1);
        for (bad, field) in [("retry_after = 1\n", "retry_after"), ("ms = 40\n", "ms")] {
            let e = err(&format!("{GOOD}{FAULT}{bad}"));
            assert!(e.message.contains(&format!("unknown field `{field}`")), "{e}");
            assert!(
                e.message.contains("kind `outage`") && e.message.contains("retry_after_s"),
                "{e}"
            );
            let line = GOOD.lines().count() + FAULT.lines().count() + 1;
            assert_eq!(e.line, line, "located at the field: {e}");
            assert_eq!(e.field.as_deref(), Some(format!("faults[0].{field}").as_str()));
        }
    }

    #[test]
    fn windows_and_steps_past_the_time_bound_are_refused() {
        // GOOD's time bound is 10 s.
        let late = FAULT.replace("at_s = 1", "at_s = 100");
        let e = err(&format!("{GOOD}{late}"));
        assert_eq!(e.field.as_deref(), Some("faults[0]"), "{e}");
        assert!(e.message.contains("time bound of 10 s"), "{e}");
        assert_eq!(e.line, GOOD.lines().count() + 1, "{e}");
        let long = FAULT.replace("for_s = 2", "for_s = 9.5");
        assert!(
            err(&format!("{GOOD}{long}"))
                .message
                .contains("at_s = 1 + for_s = 9.5")
        );
        let e = err(&format!(
            "{GOOD}[[ops]]\nat_s = 12\naction = \"replay-dead-letters\"\n"
        ));
        assert_eq!(e.field.as_deref(), Some("ops[0].at_s"), "{e}");
    }

    #[test]
    fn sla_bounds_are_validated_and_unknown_ones_refused() {
        let e = err(&format!("{GOOD}[sla.po_release]\nerror_rate = 2\n"));
        assert_eq!(e.field.as_deref(), Some("sla.po_release.error_rate"), "{e}");
        assert!(e.message.contains("0..=1"), "{e}");
        let e = err(&format!("{GOOD}[sla.po_release]\np99 = 5\n"));
        assert!(e.message.contains("unknown field `p99`"), "{e}");
    }

    #[test]
    fn required_checks_follow_the_sections_and_the_list() {
        let s = Scenario::parse(Path::new("s.toml"), GOOD).unwrap();
        let required = s.required_checks();
        assert!(required.contains(&"nothing-lost".to_owned()), "{required:?}");
        assert!(!required.contains(&"three-way-match".to_owned()), "{required:?}");
        assert!(!required.contains(&"copies-answered".to_owned()), "{required:?}");

        let text = format!(
            "checks = [\"trace-continuity\", \"nothing-lost\"]\n{GOOD}[supplier]\nasn_copies = {{ min = 2, max = 3 }}\n[invoicing]\n"
        );
        let s = Scenario::parse(Path::new("s.toml"), &text).unwrap();
        let required = s.required_checks();
        for name in ["three-way-match", "copies-answered", "trace-continuity"] {
            assert!(required.contains(&name.to_owned()), "{name}: {required:?}");
        }
        assert_eq!(required.iter().filter(|n| *n == "nothing-lost").count(), 1);

        let e = err(&format!("checks = \"nothing-lost\"\n{GOOD}"));
        assert_eq!(e.field.as_deref(), Some("checks"), "{e}");
    }

    #[test]
    fn a_missing_file_is_reported_without_a_line() {
        let e = Scenario::load(Path::new("/nonexistent/x.toml")).unwrap_err();
        assert_eq!(e.line, 0);
        assert!(
            e.to_string().starts_with("/nonexistent/x.toml: failed to read"),
            "{e}"
        );
    }
}
