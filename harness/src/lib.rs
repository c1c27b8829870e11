//! crossdock's harness: scenarios, the run that drives simulated parties
//! through the reference core, and the history checker. The `crossdock`
//! binary (src/main.rs) only parses arguments and maps results to exit codes.

pub mod bench;
pub mod bench_core;
pub mod bench_load;
pub mod certify;
pub mod check;
pub mod cli;
pub mod contracts_cmd;
pub mod core_cmd;
pub mod exit;
pub mod inventory_invoicing;
pub mod load;
pub mod run;
pub mod scenario;
pub mod simulate;
pub mod sla;
