//! simulators' integration tests (one binary): each party on a real socket,
//! observed from a real HTTP client.

mod erp;
mod faults;
mod flow;
mod outbound;
mod wms;
