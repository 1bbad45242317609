//! The read models, as the use cases query them and as one projection step
//! writes them.

use chrono::{DateTime, Utc};

use super::PortError;
use cqrs_es::persist::SerializedEvent;

use crate::aggregates::BatchStatus;
use crate::projection::{BatchSummary, DeliveryRow, InboxRow, ItemKind, WorkspaceItem};

/// Which of an organisation's batches to list: newest first, a page at a
/// time, optionally narrowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchQuery {
    pub organisation_id: String,
    pub status: Option<BatchStatus>,
    pub kind: Option<events::BatchKind>,
    /// Only those this user created.
    pub created_by: Option<String>,
    /// Created at or after this.
    pub from: Option<DateTime<Utc>>,
    /// Created before this.
    pub to: Option<DateTime<Utc>>,
    /// The page after this cursor (a row's `listed_key`).
    pub after: Option<String>,
    pub limit: usize,
}

/// One page of a list, and the cursor of the next when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// One page of an inbox list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxQuery {
    /// The list's partition: see `InboxList::partition`.
    pub partition: String,
    /// `Some(true)` for done only, `Some(false)` for open only.
    pub done: Option<bool>,
    /// Only those unread for this member.
    pub unread_for: Option<String>,
    /// The sort key of the last row of the page before.
    pub after: Option<String>,
    pub limit: usize,
}

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
    /// An organisation's batches, newest first: an indexed query, never a
    /// scan.
    async fn list_batches(&self, query: &BatchQuery) -> Result<Page<BatchSummary>, PortError>;
    /// An organisation's lists, attachments or templates, newest first.
    async fn list_items(
        &self,
        organisation_id: &str,
        kind: ItemKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<WorkspaceItem>, PortError>;
    async fn item(&self, kind: ItemKind, id: &str) -> Result<Option<WorkspaceItem>, PortError>;
    /// One page of an inbox list, newest activity first: an indexed query
    /// of the list's partition, never a scan.
    async fn inbox(&self, query: &InboxQuery) -> Result<Page<InboxRow>, PortError>;
    /// How many conversations of the list `partition` are unread for
    /// `user_id`.
    async fn inbox_unread(&self, partition: &str, user_id: &str) -> Result<u64, PortError>;
    /// Applies these stored events to the views now, as the projector will
    /// (idempotently), so a read right after a command sees it.
    async fn apply_now(&self, events: Vec<SerializedEvent>) -> Result<(), PortError>;
}

/// The view rows one projection step reads and writes, inside whatever
/// transaction the adapter offers.
#[async_trait::async_trait]
pub trait ViewTransaction: Send {
    async fn batch(&mut self, batch_id: &str) -> Result<Option<BatchSummary>, PortError>;
    async fn put_batch(&mut self, summary: BatchSummary) -> Result<(), PortError>;
    async fn delivery(
        &mut self,
        batch_id: &str,
        row: u64,
    ) -> Result<Option<DeliveryRow>, PortError>;
    async fn put_delivery(&mut self, row: DeliveryRow) -> Result<(), PortError>;
    async fn item(&mut self, kind: ItemKind, id: &str) -> Result<Option<WorkspaceItem>, PortError>;
    async fn put_item(&mut self, item: &WorkspaceItem) -> Result<(), PortError>;
    async fn inbox_row(&mut self, conversation_id: &str) -> Result<Option<InboxRow>, PortError>;
    /// Writes the row and its list entries: `previous` (the row as it was)
    /// says which entries to take away.
    async fn put_inbox_row(
        &mut self,
        previous: Option<&InboxRow>,
        row: &InboxRow,
    ) -> Result<(), PortError>;
    /// Notes that a message to this recipient failed for good at
    /// `failed_at`, keeping the latest such time (see `FailureHistory`).
    async fn record_failure(
        &mut self,
        organisation_id: &str,
        fingerprint: &str,
        failed_at: DateTime<Utc>,
    ) -> Result<(), PortError>;
}
