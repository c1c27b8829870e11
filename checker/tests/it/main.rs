//! The checker's integration tests: one binary (`tests/it`), one module per concern.

mod mutations;
