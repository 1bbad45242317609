//! Entry points only. The HTTP API router (shared by `batchbook serve` and
//! the `api` Lambda), the caller identity, the demo, and the glue that hands
//! Lambda events to the use cases. No business logic lives here.

// The use cases' futures nest deeply (cqrs-es inside the handlers), on
// both stacks.
#![recursion_limit = "256"]

/// The memory allocator of every binary built on this crate: `batchbook`,
/// the Lambda functions, and the benchmarks and tests that measure them.
/// Each page is many small allocations freed from whichever runtime thread
/// finishes it (its words, its rows, its compressor's tables); glibc's
/// allocator spent about a sixth of the patient pages benchmark's CPU on
/// them (`malloc`, `free`, `malloc_consolidate` under perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
