//! Batchbook's pure logic: value types that parse, patient-list checking,
//! the aggregates, the policies, the port traits the logic needs and the use
//! cases written against those ports. No I/O happens here: every effect goes
//! through a port, and every time comes from the [`ports::Clock`].

pub mod aggregates;
pub mod appointments;
pub mod audit;
pub mod content;
pub mod florey;
pub mod jobs;
pub mod links;
pub mod lists;
pub mod policies;
pub mod ports;
pub mod projection;
pub mod selfbook;
pub mod series;
pub mod template;
pub mod usecases;
pub mod values;

pub use usecases::{Batchbook, BatchbookError, Caller, Role};
