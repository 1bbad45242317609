//! The bodies of work-queue messages. They are JSON so that a message
//! written by one release can be read by the next.

use events::Channel;
use serde::{Deserialize, Serialize};

/// Read a batch's list and enqueue one [`SendMessage`] per contactable patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanOut {
    pub organisation_id: String,
    pub batch_id: String,
    pub correlation_id: String,
}

/// Send one patient's message. The message is transient (deleted once
/// handled) and holds the destination, so no worker has to reread the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    pub organisation_id: String,
    pub batch_id: String,
    pub row: u64,
    pub channel: Channel,
    pub to: String,
    pub body: String,
    pub correlation_id: String,
}

impl SendMessage {
    /// One Delivery aggregate per patient per batch, so a redelivered or
    /// duplicated message lands on the same aggregate.
    pub fn delivery_id(&self) -> String {
        delivery_id(&self.batch_id, self.row)
    }
}

pub fn delivery_id(batch_id: &str, row: u64) -> String {
    format!("{batch_id}:{row}")
}
