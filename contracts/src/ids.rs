//! GS1 identifiers (SSCC, GTIN, GLN) as validated newtypes.
//!
//! Each identifier is a string of digits whose last digit is a GS1 mod-10
//! check digit: weights 3, 1, 3, … applied from the rightmost data digit.
//! Deserialization rejects a wrong length, a non-digit or a bad check digit,
//! so a value of these types is always valid.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Why a string is not a valid GS1 identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} must be {expected} digits, found {found} characters")]
    Length {
        kind: &'static str,
        expected: &'static str,
        found: usize,
    },
    #[error("{kind} must contain only digits, found {found:?}")]
    NotDigits { kind: &'static str, found: String },
    #[error("{kind} {value} has check digit {found}, expected {expected}")]
    CheckDigit {
        kind: &'static str,
        value: String,
        expected: u8,
        found: u8,
    },
}

/// The GS1 mod-10 check digit for `data` (all digits but the check digit).
///
/// Returns `None` when `data` holds a non-digit.
pub fn gs1_check_digit(data: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (i, c) in data.bytes().rev().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = u32::from(c - b'0');
        sum += if i % 2 == 0 { d * 3 } else { d };
    }
    Some(((10 - sum % 10) % 10) as u8)
}

/// Appends the GS1 check digit to `data` (used by generators and tests).
///
/// # Panics
/// When `data` holds a non-digit.
pub fn with_check_digit(data: &str) -> String {
    let check = gs1_check_digit(data).expect("GS1 data must be digits");
    format!("{data}{check}")
}

fn validate(kind: &'static str, expected: &'static str, lens: &[usize], value: &str) -> Result<(), IdError> {
    if !lens.contains(&value.len()) {
        return Err(IdError::Length {
            kind,
            expected,
            found: value.len(),
        });
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdError::NotDigits {
            kind,
            found: value.to_owned(),
        });
    }
    let (data, check) = value.split_at(value.len() - 1);
    let expected_check = gs1_check_digit(data).expect("digits checked above");
    let found = check.as_bytes()[0] - b'0';
    if found != expected_check {
        return Err(IdError::CheckDigit {
            kind,
            value: value.to_owned(),
            expected: expected_check,
            found,
        });
    }
    Ok(())
}

macro_rules! gs1_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $expected:literal, [$($len:literal),+], $pattern:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates an identifier, check digit included.
            pub fn parse(value: &str) -> Result<Self, IdError> {
                validate($kind, $expected, &[$($len),+], value)?;
                Ok(Self(value.to_owned()))
            }

            /// The identifier's digits.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                validate($kind, $expected, &[$($len),+], &value)?;
                Ok(Self(value))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": concat!($kind, ": ", $expected, " digits, the last a GS1 mod-10 check digit")
                })
            }
        }
    };
}

gs1_id!(
    /// Serial Shipping Container Code: identifies one pallet or carton.
    Sscc, "SSCC", "18", [18], "^[0-9]{18}$"
);
gs1_id!(
    /// Global Trade Item Number in any of its lengths (GTIN-8/12/13/14).
    Gtin, "GTIN", "8, 12, 13 or 14", [8, 12, 13, 14], "^([0-9]{8}|[0-9]{12,14})$"
);
gs1_id!(
    /// Global Location Number: identifies a party or a place.
    Gln, "GLN", "13", [13], "^[0-9]{13}$"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_matches_published_examples() {
        // GS1 General Specifications example: SSCC (00) 106141411234567897.
        assert_eq!(gs1_check_digit("10614141123456789"), Some(7));
        assert_eq!(gs1_check_digit("00614141123456789"), Some(0));
        // GTIN-13 of a well-known product barcode: 4006381333931.
        assert_eq!(gs1_check_digit("400638133393"), Some(1));
        // GTIN-12 (UPC-A) 036000291452.
        assert_eq!(gs1_check_digit("03600029145"), Some(2));
        assert_eq!(gs1_check_digit("12a"), None);
    }

    #[test]
    fn parse_accepts_valid_and_rejects_each_fault() {
        assert!(Sscc::parse("006141411234567890").is_ok());
        assert!(Gtin::parse("4006381333931").is_ok());
        assert!(Gtin::parse("036000291452").is_ok());
        assert!(Gln::parse(&with_check_digit("506000000001")).is_ok());

        assert_eq!(
            Sscc::parse("006141411234567891"),
            Err(IdError::CheckDigit {
                kind: "SSCC",
                value: "006141411234567891".into(),
                expected: 0,
                found: 1
            })
        );
        assert!(matches!(
            Sscc::parse("12345"),
            Err(IdError::Length { found: 5, .. })
        ));
        assert!(matches!(
            Gtin::parse("40063813339x1"),
            Err(IdError::NotDigits { .. })
        ));
        assert!(matches!(
            Gtin::parse("400638133393"),
            Err(IdError::CheckDigit { .. })
        ));
    }

    #[test]
    fn serde_rejects_bad_check_digit() {
        let ok: Result<Sscc, _> = serde_json::from_str("\"006141411234567890\"");
        assert!(ok.is_ok());
        let err = serde_json::from_str::<Sscc>("\"006141411234567899\"").unwrap_err();
        assert!(err.to_string().contains("check digit"), "{err}");
    }
}
