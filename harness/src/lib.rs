//! crossdock's harness: the run that drives simulated parties through the
//! system under test (a pipeline of stages, [`run`]), the open-model load
//! driver, certification of a partner's endpoint, the standalone core and
//! simulators, and the command line. The scenario format (`scenario`) and
//! the history checker (`checker`) are crates of their own below it; the
//! benchmarks are the `bench` crate beside it.
//!
//! The `crossdock` binary (src/main.rs) only parses arguments, sets up
//! logging and the runtime, and exits with [`cli::execute`]'s code.

pub mod behaviour;
pub mod certify;
pub mod check;
pub mod cli;
pub mod contracts_cmd;
pub mod core_cmd;
pub mod edi;
pub mod exit;
pub mod load;
pub mod run;
pub mod simulate;
