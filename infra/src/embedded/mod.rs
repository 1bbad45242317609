//! The embedded family: everything under one data directory.
//!
//! ```text
//! DIR/events.sqlite      the event store (sqlite-es)
//! DIR/work.sqlite        work queues, timers, reactor position, patient index
//! DIR/views.sqlite       read models and projector position
//! DIR/simulators.sqlite  simulated providers (the SMS outbox)
//! DIR/blobs/             uploaded lists, checked lists, reports
//! DIR/chain-checkpoints.jsonl  the event chain's head, checkpointed
//! ```
//!
//! Separate files keep SQLite's one-writer lock from serialising unrelated
//! work: sends commit events while the projector writes views.

pub mod audit;
mod blobs;
mod db;
mod event_log;
mod event_store;
pub(crate) mod grouped;
mod idempotency;
mod patient_index;
mod queue;
mod stack;
mod timers;
pub mod view_tables;
mod views;

pub use blobs::FsBlobStore;
pub use db::{open_pool, open_reader, Database};
pub use event_log::EventLog;
pub use event_store::{EmbeddedEventRepository, GroupWriter};
pub use idempotency::SqliteIdempotency;
pub use patient_index::SqlitePatientIndex;
pub use queue::{QueueSettings, SqliteWorkQueue};
pub use stack::{
    link_key, BookLayer, EmbeddedConfig, EmbeddedStack, QueueLayer, DEFAULT_LINK_BASE_URL,
};
pub use timers::SqliteTimers;
pub use views::SqliteViews;
