//! At-least-once work queues, one per step of the flow.

use serde::{Deserialize, Serialize};

use super::PortError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueName {
    /// One message per batch send: read the list, enqueue one send per patient.
    FanOut,
    /// One message per patient message to send.
    Send,
    /// One message per patient record to write in the clinical system. Its
    /// own queue, because the clinical system is slow (seconds per patient)
    /// and limits concurrency: record writes must never hold up sends.
    Record,
    /// One message per Self-Book booking or cancellation to make in the
    /// appointment book: its own queue, so a slow book never holds up sends.
    Booking,
}

impl QueueName {
    pub const ALL: [QueueName; 4] = [
        QueueName::FanOut,
        QueueName::Send,
        QueueName::Record,
        QueueName::Booking,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FanOut => "fan-out",
            Self::Send => "send",
            Self::Record => "record",
            Self::Booking => "booking",
        }
    }
}

/// A message received from a queue. It stays invisible to other consumers
/// until its visibility timeout ends; `ack` removes it for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub body: String,
    /// Opaque; valid only for this receipt, like an SQS receipt handle.
    pub receipt: String,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
}

/// At-least-once work queues: a message may arrive twice, so every consumer
/// is idempotent.
#[async_trait::async_trait]
pub trait WorkQueue: Send + Sync {
    async fn send(&self, queue: QueueName, bodies: Vec<String>) -> Result<(), PortError>;
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
    ) -> Result<Vec<ReceivedMessage>, PortError>;
    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), PortError>;
    /// Acknowledges many at once; adapters that can do it in one call do.
    async fn ack_many(&self, queue: QueueName, receipts: &[String]) -> Result<(), PortError> {
        for receipt in receipts {
            self.ack(queue, receipt).await?;
        }
        Ok(())
    }
}
