//! crossdock's contracts: the wire types every party exchanges, their JSON
//! Schemas, and the identifiers they carry.
//!
//! This crate is pure: no async runtime, no network, no files. Every other
//! crate of the workspace depends on it; it depends on none of them.

pub mod acks;
pub mod asyncapi;
pub mod events;
pub mod faults;
pub mod history;
pub mod http;
pub mod ids;
pub mod inbound;
pub mod inventory;
pub mod invoicing;
pub mod openapi;
pub mod ops;
pub mod outbound;
pub mod pattern;
pub mod problem;
mod quick;
pub mod routes;
pub mod schema;
pub mod time;
pub mod validate;
pub mod x12;

pub use acks::{IntakeAck, IntakeOutcome, PartnerAck};
pub use history::{Direction, Exchange};
pub use ids::{Gln, Gtin, Sscc};
pub use problem::Problem;
pub use routes::Role;
pub use schema::SchemaSet;
pub use validate::{Finding, Rule, Validator};
