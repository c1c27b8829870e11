//! The fault timeline of a scenario (`[[faults]]`): which rule
//! (`contracts::faults::FaultRule`), on which simulated role, when.

use std::borrow::Cow;

use contracts::faults::FaultRule;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

/// A simulated role a fault can be put on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SimRole {
    Erp,
    Wms,
    Supplier,
}

impl SimRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SimRole::Erp => "erp",
            SimRole::Wms => "wms",
            SimRole::Supplier => "supplier",
        }
    }

    /// The party this role is, in the history.
    pub fn role(self) -> contracts::Role {
        match self {
            SimRole::Erp => contracts::Role::Erp,
            SimRole::Wms => contracts::Role::Wms,
            SimRole::Supplier => contracts::Role::Supplier,
        }
    }
}

/// One entry of the fault timeline: a rule, on a role, for a window.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedFault {
    pub at_s: f64,
    pub for_s: f64,
    pub role: SimRole,
    pub rule: FaultRule,
}

impl JsonSchema for TimedFault {
    fn schema_name() -> Cow<'static, str> {
        "TimedFault".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        // The fault rule's own schema, with the timeline's fields added.
        let mut schema = generator.subschema_for::<FaultRule>();
        let timing = json_schema!({
            "type": "object",
            "properties": {
                "at_s": {"type": "number", "minimum": 0, "description": "from the start of the load"},
                "for_s": {"type": "number", "exclusiveMinimum": 0},
                "role": generator.subschema_for::<SimRole>()
            },
            "required": ["at_s", "for_s", "role"]
        });
        // Only the rule's, its kind's and the timeline's fields: anything
        // else is a mistake (as the parser says too).
        schema = json_schema!({"allOf": [schema, timing], "unevaluatedProperties": false});
        schema
    }
}

impl<'de> Deserialize<'de> for TimedFault {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            at_s: f64,
            for_s: f64,
            role: SimRole,
            #[serde(flatten)]
            rule: FaultRule,
        }
        let raw = Raw::deserialize(d)?;
        if !(raw.at_s >= 0.0 && raw.at_s.is_finite() && raw.for_s > 0.0 && raw.for_s.is_finite()) {
            return Err(serde::de::Error::custom(format!(
                "expected at_s >= 0 and for_s > 0, found at_s = {} and for_s = {}",
                raw.at_s, raw.for_s
            )));
        }
        raw.rule.validate().map_err(serde::de::Error::custom)?;
        Ok(TimedFault {
            at_s: raw.at_s,
            for_s: raw.for_s,
            role: raw.role,
            rule: raw.rule,
        })
    }
}

impl std::str::FromStr for SimRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "erp" => Ok(SimRole::Erp),
            "wms" => Ok(SimRole::Wms),
            "supplier" => Ok(SimRole::Supplier),
            _ => Err(format!("expected erp, wms or supplier, found {s:?}")),
        }
    }
}

/// A named profile of real-system limits (`contracts::faults::Profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProfileName {
    Netsuite,
    Dynamics,
    Shipbob,
}

impl ProfileName {
    /// Every name, as written.
    pub const NAMES: [&'static str; 3] = ["netsuite", "dynamics", "shipbob"];

    /// The profile's limits.
    pub fn profile(self) -> contracts::faults::Profile {
        match self {
            ProfileName::Netsuite => contracts::faults::Profile::Netsuite,
            ProfileName::Dynamics => contracts::faults::Profile::Dynamics,
            ProfileName::Shipbob => contracts::faults::Profile::Shipbob,
        }
    }
}

impl std::str::FromStr for ProfileName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "netsuite" => Ok(ProfileName::Netsuite),
            "dynamics" => Ok(ProfileName::Dynamics),
            "shipbob" => Ok(ProfileName::Shipbob),
            _ => Err(format!("expected netsuite, dynamics or shipbob, found {s:?}")),
        }
    }
}
