//! What auditors check: the event log's tamper evidence.

pub mod chain;

pub use chain::{
    event_hash, ChainFinding, ChainReport, ChainVerifier, Checkpoint, StoredEvent, GENESIS,
};
