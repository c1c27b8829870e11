//! Integration tests of the integration core, as one test binary: each test
//! starts a core on its own temporary SQLite file and 127.0.0.1 port, with
//! recording partner stubs on 127.0.0.1. The behaviour tests run once per
//! store engine (`crate::both_backends!`: `<test>::sqlite`,
//! `<test>::postgres`, the latter on a PostgreSQL database of its own at
//! 127.0.0.1:5432, dropped at the end).
//!
//! `known_bugs` holds ignored tests that reproduce defects of the core; run
//! them with `cargo test -p integration-core --test it -- --ignored`.

mod delivery;
mod durability;
mod events;
mod group_commit;
mod idempotency;
mod intake;
mod invoices;
mod layering;
mod observability;
mod outbound;
mod partners;
mod postgres;
mod receipts;
mod reconciliation;
mod regressions;
mod security;
mod support;
mod traces;
mod x12;
