//! The `crossdock` binary's exit codes.

/// Every scenario ran and every check passed (`contracts`: the document is
/// valid, the change is compatible).
pub const OK: u8 = 0;
/// A scenario ran and at least one check failed (a verdict, not an error);
/// `contracts`: the document is invalid, or a change breaks the contract.
pub const CHECKS_FAILED: u8 = 1;
/// Bad input: an unreadable or malformed scenario or document, an unknown
/// contract type, or bad arguments.
pub const BAD_INPUT: u8 = 2;
/// The harness itself failed: a port, a file, or a component did not start.
pub const INFRASTRUCTURE: u8 = 3;
