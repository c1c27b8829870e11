//! contracts' integration tests (one binary; see STYLE.md).

mod asyncapi;
mod examples;
mod fast;
mod findings;
mod openapi;
mod patterns;
mod props;
mod quick;
mod schemas;
mod validate;
mod x12;
mod x12_samples;
