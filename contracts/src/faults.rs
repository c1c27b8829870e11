//! The fault model's data: the rules that make a simulated party misbehave
//! the way real partners do. They are a wire format: a scenario's and a
//! faults file's `[[faults]]` entries, and the body of a simulator's
//! `/_control/faults` API. Deciding whether a rule fires (seeded, per
//! request) is the simulators' job (`simulators::faults::FaultSet`).
//!
//! In a faults file (TOML) or a scenario, a rule reads:
//! ```toml
//! [[faults]]
//! endpoint = "/v1/goods-receipt-postings"   # omit for every endpoint
//! probability = 0.2                          # default 1
//! kind = "status"
//! status = 503
//! ```

use serde::{Deserialize, Serialize};

/// What an outage does to callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutageMode {
    /// Answer 503 with Retry-After.
    #[default]
    Unavailable,
    /// Drop every connection as it arrives (the caller sees a reset).
    Refuse,
}

/// What follows a committed effect in a commit-then-fail fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AfterCommit {
    /// Answer 504 Gateway Timeout.
    #[default]
    GatewayTimeout,
    /// Reset the connection without answering.
    Reset,
}

/// How an answer is corrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Malformation {
    /// The body is not JSON at all.
    #[default]
    NotJson,
    /// Valid JSON that breaks the response schema.
    SchemaInvalid,
}

fn default_retry_after() -> u64 {
    1
}

fn default_hang() -> u64 {
    30
}

/// One kind of misbehaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Fixed added latency.
    Latency { ms: u64 },
    /// Added latency uniform in `min_ms..=max_ms`.
    LatencyUniform { min_ms: u64, max_ms: u64 },
    /// Added latency drawn from a lognormal with this median and sigma.
    LatencyLognormal { median_ms: f64, sigma: f64 },
    /// Answer this status (a problem+json body) without doing anything.
    Status {
        status: u16,
        #[serde(default)]
        retry_after_s: Option<u64>,
    },
    /// The party is down.
    Outage {
        #[serde(default)]
        mode: OutageMode,
        #[serde(default = "default_retry_after")]
        retry_after_s: u64,
    },
    /// A token bucket per calling partner: `burst` requests at once,
    /// refilled to `burst` every `per_s` seconds; beyond it, 429 with
    /// Retry-After and RateLimit headers.
    Quota { burst: u32, per_s: f64 },
    /// At most `limit` requests in flight (NetSuite-style); beyond it, 429.
    Concurrency {
        limit: u32,
        #[serde(default = "default_retry_after")]
        retry_after_s: u64,
    },
    /// Reset the connection mid-request, without doing anything.
    Reset,
    /// Never answer; the connection is reset after `max_s` (the caller's
    /// timeout should trip first).
    Hang {
        #[serde(default = "default_hang")]
        max_s: u64,
    },
    /// Apply the effect, then fail the answer.
    CommitThenFail {
        #[serde(default)]
        then: AfterCommit,
    },
    /// Apply the effect, then answer a corrupted body with the real status.
    Malformed {
        #[serde(default)]
        mode: Malformation,
    },
    /// Apply the effect, then dribble the answer at this rate.
    SlowBody { bytes_per_s: u32 },
    /// Events this party emits are delivered `copies` times in all.
    Duplicate {
        #[serde(default = "default_copies")]
        copies: u32,
    },
    /// Events this party emits for one business key (e.g. a receipt) are
    /// delivered out of order: the earlier event is held back `hold_ms`
    /// while the later one (a correction) goes first. A key with a single
    /// event is only held, so it arrives after other keys' events.
    Reorder {
        #[serde(default = "default_hold_ms")]
        hold_ms: u64,
    },
}

fn default_hold_ms() -> u64 {
    50
}

fn default_copies() -> u32 {
    2
}

fn default_probability() -> f64 {
    1.0
}

impl Fault {
    /// The kind's name, as in files and records.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Latency { .. } => "latency",
            Fault::LatencyUniform { .. } => "latency_uniform",
            Fault::LatencyLognormal { .. } => "latency_lognormal",
            Fault::Status { .. } => "status",
            Fault::Outage { .. } => "outage",
            Fault::Quota { .. } => "quota",
            Fault::Concurrency { .. } => "concurrency",
            Fault::Reset => "reset",
            Fault::Hang { .. } => "hang",
            Fault::CommitThenFail { .. } => "commit_then_fail",
            Fault::Malformed { .. } => "malformed",
            Fault::SlowBody { .. } => "slow_body",
            Fault::Duplicate { .. } => "duplicate",
            Fault::Reorder { .. } => "reorder",
        }
    }

    fn validate(&self) -> Result<(), String> {
        let bad = |m: String| Err(m);
        match self {
            Fault::LatencyUniform { min_ms, max_ms } if min_ms > max_ms => {
                bad(format!("expected min_ms <= max_ms, found {min_ms} > {max_ms}"))
            }
            Fault::LatencyLognormal { median_ms, sigma } if !(*median_ms > 0.0 && *sigma >= 0.0) => bad(
                format!("expected median_ms > 0 and sigma >= 0, found {median_ms} and {sigma}"),
            ),
            Fault::Status { status, .. } if !(400..=599).contains(status) => {
                bad(format!("expected a 4xx or 5xx status, found {status}"))
            }
            Fault::Quota { burst, per_s } if *burst == 0 || !(*per_s > 0.0 && per_s.is_finite()) => bad(
                format!("expected burst >= 1 and per_s > 0, found {burst} and {per_s}"),
            ),
            Fault::Concurrency { limit: 0, .. } => bad("expected limit >= 1, found 0".into()),
            Fault::SlowBody { bytes_per_s: 0 } => bad("expected bytes_per_s >= 1, found 0".into()),
            Fault::Duplicate { copies } if *copies < 2 => {
                bad(format!("expected copies >= 2, found {copies}"))
            }
            Fault::Reorder { hold_ms } if *hold_ms > 600_000 => {
                bad(format!("expected hold_ms <= 600000, found {hold_ms}"))
            }
            _ => Ok(()),
        }
    }
}

/// A fault, where it applies, and how often. A field that is not the
/// rule's own (`endpoint`, `probability`, `kind`) nor one of its kind's is
/// refused by [`check_fields`] (serde's `flatten`, which reads the kind's
/// fields here, cannot refuse unknown ones itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FaultRule {
    /// The request path it applies to; every path when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Chance of firing per request, in `0..=1`.
    #[serde(default = "default_probability")]
    pub probability: f64,
    #[serde(flatten)]
    pub fault: Fault,
}

/// The fields every rule takes, whatever its kind.
pub const RULE_FIELDS: [&str; 3] = ["endpoint", "probability", "kind"];

/// The fields of each fault kind, read off its schema: kind → fields.
pub fn kind_fields() -> &'static std::collections::BTreeMap<String, Vec<String>> {
    static FIELDS: std::sync::OnceLock<std::collections::BTreeMap<String, Vec<String>>> =
        std::sync::OnceLock::new();
    FIELDS.get_or_init(|| {
        let schema = serde_json::to_value(schemars::schema_for!(Fault)).expect("a schema serializes");
        let variants = schema["oneOf"].as_array().cloned().unwrap_or_default();
        variants
            .iter()
            .filter_map(|v| {
                let props = v["properties"].as_object()?;
                let kind = props.get("kind")?.get("const")?.as_str()?.to_owned();
                let fields = props.keys().filter(|k| *k != "kind").cloned().collect();
                Some((kind, fields))
            })
            .collect()
    })
}

/// Refuses a field of a rule's `map` that neither every rule, nor its kind,
/// nor the `extra` fields of where it is written (a scenario's `at_s`,
/// `for_s`, `role`) take; the message names the field, the kind and what it
/// takes. Call it on the raw rule before or after reading it.
pub fn check_fields(map: &serde_json::Map<String, serde_json::Value>, extra: &[&str]) -> Result<(), String> {
    let Some(kind) = map.get("kind").and_then(|k| k.as_str()) else {
        return Ok(()); // the tagged enum says what is missing or wrong
    };
    let Some(own) = kind_fields().get(kind) else {
        return Ok(()); // an unknown kind: the tagged enum names the known ones
    };
    for key in map.keys() {
        let known = RULE_FIELDS.contains(&key.as_str())
            || extra.contains(&key.as_str())
            || own.iter().any(|f| f == key);
        if !known {
            let mut expected: Vec<&str> = extra.to_vec();
            expected.extend(RULE_FIELDS);
            expected.extend(own.iter().map(String::as_str));
            return Err(format!(
                "unknown field `{key}` for a fault of kind `{kind}`, expected one of: {}",
                expected.join(", ")
            ));
        }
    }
    Ok(())
}

impl FaultRule {
    /// A rule that always fires on `endpoint` (every endpoint when `None`).
    pub fn always(endpoint: Option<&str>, fault: Fault) -> Self {
        Self {
            endpoint: endpoint.map(str::to_owned),
            probability: 1.0,
            fault,
        }
    }

    /// Checks the rule's numbers; the message says what was expected.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.probability) {
            return Err(format!(
                "expected probability in 0..=1, found {}",
                self.probability
            ));
        }
        self.fault.validate()
    }
}

/// A faults file: `[[faults]]` rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultsFile {
    #[serde(default)]
    pub faults: Vec<FaultRule>,
}

/// Named default limits that cite real systems (see shared/DOMAIN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// NetSuite REST: concurrency capped per account tier (5/15/20); this is
    /// the middle tier, 15, with 429 beyond it.
    Netsuite,
    /// Dynamics 365: 6,000 requests per 5 minutes per user, 429 + Retry-After.
    Dynamics,
    /// ShipBob WMS: 150 requests per minute, sliding window.
    Shipbob,
}

impl Profile {
    /// The profile's rules, on every endpoint.
    pub fn rules(self) -> Vec<FaultRule> {
        let fault = match self {
            Profile::Netsuite => Fault::Concurrency {
                limit: 15,
                retry_after_s: 1,
            },
            Profile::Dynamics => Fault::Quota {
                burst: 6000,
                per_s: 300.0,
            },
            Profile::Shipbob => Fault::Quota {
                burst: 150,
                per_s: 60.0,
            },
        };
        vec![FaultRule::always(None, fault)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_takes_its_own_fields_read_off_the_schema() {
        let fields = kind_fields();
        assert_eq!(fields["latency"], ["ms"]);
        assert_eq!(fields["outage"], ["mode", "retry_after_s"]);
        assert!(fields["reset"].is_empty());
        assert_eq!(fields.len(), 14, "{fields:?}");
    }

    #[test]
    fn a_field_of_no_kind_or_of_another_kind_is_refused() {
        let map = |v: serde_json::Value| v.as_object().unwrap().clone();
        let good = map(serde_json::json!({"kind": "status", "status": 503, "at_s": 1}));
        assert!(check_fields(&good, &["at_s"]).is_ok());
        let e = check_fields(&good, &[]).unwrap_err();
        assert!(
            e.contains("unknown field `at_s` for a fault of kind `status`"),
            "{e}"
        );
        let other = map(serde_json::json!({"kind": "outage", "ms": 40}));
        let e = check_fields(&other, &[]).unwrap_err();
        assert!(e.contains("`ms`") && e.contains("mode, retry_after_s"), "{e}");
    }
}
