//! The read models, as the use cases query them and as one projection step
//! writes them.

use chrono::{DateTime, Utc};

use super::PortError;
use crate::projection::{BatchSummary, DeliveryRow};

/// The read side the use cases query.
#[async_trait::async_trait]
pub trait BatchViews: Send + Sync {
    async fn batch(&self, batch_id: &str) -> Result<Option<BatchSummary>, PortError>;
    async fn failed_deliveries(&self, batch_id: &str) -> Result<Vec<DeliveryRow>, PortError>;
    /// Batches whose current stage has finished (`BatchSummary::is_settled`):
    /// Sending with every outcome known, or Saving with every record written.
    async fn settled_batches(&self, limit: usize) -> Result<Vec<BatchSummary>, PortError>;
    /// Every delivery of a batch, in row order.
    async fn deliveries(&self, batch_id: &str) -> Result<Vec<DeliveryRow>, PortError>;
    /// A batch's deliveries still waiting for a receipt, a read or a
    /// fallback (`DeliveryRow::is_open`).
    async fn open_deliveries(&self, batch_id: &str) -> Result<Vec<DeliveryRow>, PortError>;
}

/// The view rows one projection step reads and writes, inside whatever
/// transaction the adapter offers.
#[async_trait::async_trait]
pub trait ViewTransaction: Send {
    async fn batch(&mut self, batch_id: &str) -> Result<Option<BatchSummary>, PortError>;
    async fn put_batch(&mut self, summary: &BatchSummary) -> Result<(), PortError>;
    async fn delivery(
        &mut self,
        batch_id: &str,
        row: u64,
    ) -> Result<Option<DeliveryRow>, PortError>;
    async fn put_delivery(&mut self, row: &DeliveryRow) -> Result<(), PortError>;
    /// Notes that a message to this recipient failed for good at
    /// `failed_at`, keeping the latest such time (see `FailureHistory`).
    async fn record_failure(
        &mut self,
        organisation_id: &str,
        fingerprint: &str,
        failed_at: DateTime<Utc>,
    ) -> Result<(), PortError>;
}
