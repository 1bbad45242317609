//! End-to-end tests across crates: the whole app on port 0 with a fresh data
//! directory per test, background work driven step by step.

// The use cases' futures nest deeply (cqrs-es inside the handlers).
#![recursion_limit = "256"]

mod attachment;
mod audit;
mod aws;
mod batches;
mod browser;
mod conversations;
mod crash;
mod florey;
mod helpers;
mod idempotency;
mod isolation;
mod lambda;
mod lists;
mod logs;
mod messages;
mod pages;
mod patients;
mod scheduling;
mod selfbook;
mod series;
mod strict;
mod teams;
mod templates;
mod workspace;
