//! Adapters for every Batchbook port.
//!
//! - [`embedded`]: SQLite event store, queue, timers and read models, files
//!   on disk for blobs; `batchbook` runs on these with no AWS account.
//! - [`simulators`]: stand-ins for the outside services we cannot reach here
//!   (SMS provider), behind the same ports as the real clients.

pub mod embedded;
pub mod simulators;
