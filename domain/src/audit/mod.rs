//! What auditors check: the event log's tamper evidence, and whether the
//! read models follow from the events.

pub mod chain;
pub mod drift;
pub mod replay;

pub use chain::{
    event_hash, ChainFinding, ChainReport, ChainVerifier, Checkpoint, HeadsCheckpoint, StoredEvent,
    StreamFinding, StreamHead, StreamsReport, StreamsVerifier, GENESIS,
};
pub use drift::{differences, Drift};
pub use replay::{compare, ReplayedViews, ViewComparison, ViewRows};
