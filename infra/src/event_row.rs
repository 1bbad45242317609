//! One stored event as the events tables hold it (SQLite's rows, DynamoDB's
//! items and their stream images): payload and metadata as JSON text.

use cqrs_es::persist::SerializedEvent;

/// An events-table row, its payload and metadata not yet parsed.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct EventRow {
    pub aggregate_id: String,
    pub sequence: usize,
    pub aggregate_type: String,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
}

impl EventRow {
    /// The stored event, its payload and metadata parsed.
    pub fn into_event(self) -> Result<SerializedEvent, serde_json::Error> {
        Ok(SerializedEvent::new(
            self.aggregate_id,
            self.sequence,
            self.aggregate_type,
            self.event_type,
            self.event_version,
            serde_json::from_str(&self.payload)?,
            serde_json::from_str(&self.metadata)?,
        ))
    }
}
