//! Entry points only. The HTTP API router (shared by `batchbook serve` and
//! the `api` Lambda), the caller identity, the demo, and the glue that hands
//! Lambda events to the use cases. No business logic lives here.

// The use cases' futures nest deeply (cqrs-es inside the handlers), on
// both stacks.
#![recursion_limit = "256"]

pub mod api;
pub mod audit;
pub mod config;
pub mod demo;
pub mod identity;
pub mod ingest;
pub mod lists_cli;
pub mod pages;
pub mod sqs;
pub mod streams;
pub mod telemetry;
