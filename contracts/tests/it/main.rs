//! contracts' integration tests (one binary; see STYLE.md).

mod examples;
mod openapi;
mod props;
mod schemas;
mod validate;
