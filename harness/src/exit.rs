//! The `crossdock` binary's exit codes.

/// Every scenario ran and every check passed.
pub const OK: u8 = 0;
/// A scenario ran and at least one check failed (a verdict, not an error).
pub const CHECKS_FAILED: u8 = 1;
/// Bad input: an unreadable or malformed scenario, or bad arguments.
pub const BAD_INPUT: u8 = 2;
/// The harness itself failed: a port, a file, or a component did not start.
pub const INFRASTRUCTURE: u8 = 3;
