//! crossdock's benchmarks, out of the product: each is a program that
//! prints its figures with a ratio against a baseline measured in the same
//! run, the CPU per unit of work and the CPU model (docs/PERFORMANCE.md).
//! Run them with `cargo run --release -p bench -- <benchmark>`.
//!
//! - [`simulator`]: the simulated ERP against a bare hyper server;
//! - [`core`]: durable intake (group commit against one transaction per
//!   request) and the full inbound lifecycle, completed POs per second;
//! - [`load`]: the load driver against wrk, against a stall of known
//!   length, and the checker over a million exchanges.
//!
//! [`cli`] is the command line of the `crossdock-bench` binary.

pub mod cli;
pub mod core;
pub mod load;
pub mod simulator;
