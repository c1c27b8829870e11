//! Validated values of the scenario format: each refuses, when read, what
//! a scenario must not hold, and says what was expected.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

/// An integer that must be at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Positive(pub u32);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)?;
        if v < 1 || v > i64::from(u32::MAX) {
            return Err(serde::de::Error::custom(format!(
                "expected a positive integer, found {v}"
            )));
        }
        Ok(Positive(v as u32))
    }
}

impl JsonSchema for Positive {
    fn schema_name() -> Cow<'static, str> {
        "Positive".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 1, "maximum": 4_294_967_295u64})
    }
}

/// A number that must be greater than zero and finite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositiveF64(pub f64);

impl<'de> Deserialize<'de> for PositiveF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if !(v.is_finite() && v > 0.0) {
            return Err(serde::de::Error::custom(format!(
                "expected a number greater than 0, found {v}"
            )));
        }
        Ok(PositiveF64(v))
    }
}

impl JsonSchema for PositiveF64 {
    fn schema_name() -> Cow<'static, str> {
        "PositiveNumber".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "number", "exclusiveMinimum": 0})
    }
}

/// An inclusive range `{ min, max }` of positive integers with min ≤ max.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountRange {
    pub min: u32,
    pub max: u32,
}

impl<'de> Deserialize<'de> for CountRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            min: Positive,
            max: Positive,
        }
        let raw = Raw::deserialize(d)?;
        if raw.min.0 > raw.max.0 {
            return Err(serde::de::Error::custom(format!(
                "expected min <= max, found min = {} and max = {}",
                raw.min.0, raw.max.0
            )));
        }
        Ok(CountRange {
            min: raw.min.0,
            max: raw.max.0,
        })
    }
}

impl JsonSchema for CountRange {
    fn schema_name() -> Cow<'static, str> {
        "CountRange".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "description": "inclusive range; min <= max",
            "properties": {
                "min": {"type": "integer", "minimum": 1},
                "max": {"type": "integer", "minimum": 1}
            },
            "required": ["min", "max"],
            "additionalProperties": false
        })
    }
}

/// A probability, in `0..=1`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Probability(pub f64);

impl JsonSchema for Probability {
    fn schema_name() -> Cow<'static, str> {
        "Probability".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "number", "minimum": 0, "maximum": 1})
    }
}

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if !(0.0..=1.0).contains(&v) {
            return Err(serde::de::Error::custom(format!(
                "expected a probability in 0..=1, found {v}"
            )));
        }
        Ok(Probability(v))
    }
}
