//! Replaying the events into fresh read models held in memory, and
//! comparing them with the live ones: what `audit verify --aws` does, since
//! an auditor's read-only credentials cannot make a scratch table. The
//! projection is the one both stacks run (`crate::projection::project`),
//! over [`ReplayedViews`], a [`ViewTransaction`] on maps.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde_json::{json, Value};

use super::drift::{differences, Drift};
use crate::ports::PortError;
use events::EventMetadata;

use crate::projection::{
    apply, project, BatchSummary, DeliveryRow, InboxRow, ItemKind, ProjectionError, RecordedEvent,
    ViewTransaction, WorkspaceItem,
};

/// Every projected row, by view and the `column=value` pairs that name it,
/// as JSON: what the replay and the live read models are compared as.
pub type ViewRows = BTreeMap<(String, String), Value>;

/// The view names both stacks' reports use (the embedded tables' names).
pub const BATCH_SUMMARIES: &str = "batch_summaries";
pub const DELIVERIES: &str = "deliveries";
pub const RECIPIENT_FAILURES: &str = "recipient_failures";
pub const WORKSPACE_ITEMS: &str = "workspace_items";
pub const INBOX_ROWS: &str = "inbox_rows";

pub fn batch_key(batch_id: &str) -> (String, String) {
    (BATCH_SUMMARIES.into(), format!("batch_id={batch_id}"))
}

pub fn delivery_key(batch_id: &str, row: u64) -> (String, String) {
    (DELIVERIES.into(), format!("batch_id={batch_id},row={row}"))
}

pub fn failure_key(organisation_id: &str, fingerprint: &str) -> (String, String) {
    (
        RECIPIENT_FAILURES.into(),
        format!("organisation_id={organisation_id},fingerprint={fingerprint}"),
    )
}

/// A failure row as both stacks compare it.
pub fn failure_row(last_failed_at: DateTime<Utc>) -> Value {
    json!({ "last_failed_at": last_failed_at })
}

pub fn item_key(kind: &str, id: &str) -> (String, String) {
    (WORKSPACE_ITEMS.into(), format!("kind={kind},id={id}"))
}

pub fn inbox_key(conversation_id: &str) -> (String, String) {
    (
        INBOX_ROWS.into(),
        format!("conversation_id={conversation_id}"),
    )
}

/// Read models built in memory from the events alone.
#[derive(Default)]
pub struct ReplayedViews {
    pub(crate) batches: HashMap<String, BatchSummary>,
    /// By batch, then row: a look-up copies no key.
    pub(crate) deliveries: HashMap<String, HashMap<u64, DeliveryRow>>,
    pub(crate) failures: HashMap<(String, String), DateTime<Utc>>,
    pub(crate) items: HashMap<(&'static str, String), WorkspaceItem>,
    pub(crate) inbox: HashMap<String, InboxRow>,
    /// Events applied.
    pub events: u64,
}

impl ReplayedViews {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one stored event, as the live projector did.
    pub async fn apply(
        &mut self,
        event: SerializedEvent,
        upcasters: &[Box<dyn EventUpcaster>],
    ) -> Result<(), ProjectionError> {
        project(self, event, upcasters).await?;
        self.events += 1;
        Ok(())
    }

    /// Applies one event already decoded (`crate::projection::decode_text`).
    pub async fn apply_decoded(
        &mut self,
        aggregate_id: String,
        sequence: u64,
        event: RecordedEvent,
        metadata: EventMetadata,
    ) -> Result<(), ProjectionError> {
        apply(self, aggregate_id, sequence, event, metadata).await?;
        self.events += 1;
        Ok(())
    }

    pub fn batches(&self) -> impl Iterator<Item = &BatchSummary> {
        self.batches.values()
    }

    pub fn deliveries(&self) -> impl Iterator<Item = &DeliveryRow> {
        self.deliveries.values().flat_map(HashMap::values)
    }

    /// Each recipient's last failure for good: organisation, fingerprint
    /// and when.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &str, DateTime<Utc>)> {
        self.failures
            .iter()
            .map(|((organisation, fingerprint), at)| {
                (organisation.as_str(), fingerprint.as_str(), *at)
            })
    }

    pub fn items(&self) -> impl Iterator<Item = &WorkspaceItem> {
        self.items.values()
    }

    pub fn inbox(&self) -> impl Iterator<Item = &InboxRow> {
        self.inbox.values()
    }

    /// Every row, as the live read models are read for comparison.
    pub fn rows(&self) -> Result<ViewRows, PortError> {
        let mut rows = ViewRows::new();
        for (id, summary) in &self.batches {
            rows.insert(batch_key(id), value(summary)?);
        }
        for delivery in self.deliveries() {
            rows.insert(
                delivery_key(&delivery.batch_id, delivery.row),
                value(delivery)?,
            );
        }
        for ((organisation_id, fingerprint), at) in &self.failures {
            rows.insert(failure_key(organisation_id, fingerprint), failure_row(*at));
        }
        for ((kind, id), item) in &self.items {
            rows.insert(item_key(kind, id), value(item)?);
        }
        for (id, row) in &self.inbox {
            rows.insert(inbox_key(id), value(row)?);
        }
        Ok(rows)
    }
}

fn value<T: serde::Serialize>(row: &T) -> Result<Value, PortError> {
    serde_json::to_value(row).map_err(|e| PortError::new("view row", e))
}

#[async_trait::async_trait]
impl ViewTransaction for ReplayedViews {
    async fn batch(&mut self, batch_id: &str) -> Result<Option<BatchSummary>, PortError> {
        Ok(self.batches.get(batch_id).cloned())
    }

    async fn put_batch(&mut self, summary: BatchSummary) -> Result<(), PortError> {
        match self.batches.get_mut(&summary.batch_id) {
            Some(kept) => *kept = summary,
            None => {
                self.batches.insert(summary.batch_id.clone(), summary);
            }
        }
        Ok(())
    }

    async fn delivery(
        &mut self,
        batch_id: &str,
        row: u64,
    ) -> Result<Option<DeliveryRow>, PortError> {
        Ok(self
            .deliveries
            .get(batch_id)
            .and_then(|rows| rows.get(&row))
            .cloned())
    }

    async fn put_delivery(&mut self, row: DeliveryRow) -> Result<(), PortError> {
        match self.deliveries.get_mut(&row.batch_id) {
            Some(rows) => rows.insert(row.row, row),
            None => self
                .deliveries
                .entry(row.batch_id.clone())
                .or_default()
                .insert(row.row, row),
        };
        Ok(())
    }

    async fn item(&mut self, kind: ItemKind, id: &str) -> Result<Option<WorkspaceItem>, PortError> {
        Ok(self.items.get(&(kind.as_str(), id.to_owned())).cloned())
    }

    async fn put_item(&mut self, item: &WorkspaceItem) -> Result<(), PortError> {
        self.items
            .insert((item.item.kind().as_str(), item.id.clone()), item.clone());
        Ok(())
    }

    async fn inbox_row(&mut self, conversation_id: &str) -> Result<Option<InboxRow>, PortError> {
        Ok(self.inbox.get(conversation_id).cloned())
    }

    async fn put_inbox_row(
        &mut self,
        _previous: Option<&InboxRow>,
        row: &InboxRow,
    ) -> Result<(), PortError> {
        self.inbox.insert(row.conversation_id.clone(), row.clone());
        Ok(())
    }

    async fn record_failure(
        &mut self,
        organisation_id: &str,
        fingerprint: &str,
        failed_at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let latest = self
            .failures
            .entry((organisation_id.to_owned(), fingerprint.to_owned()))
            .or_insert(failed_at);
        *latest = (*latest).max(failed_at);
        Ok(())
    }
}

/// How the live read models compare with the replay.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ViewComparison {
    /// Rows compared.
    pub rows: u64,
    /// Rows the live projector has not caught up on (their
    /// `last_sequence` is behind the replay's, or they are not there yet):
    /// events committed after the live read models were read, or still
    /// being projected. Not drift; run again on a quiet stack.
    pub behind: Vec<String>,
    pub drift: Vec<Drift>,
}

/// Compares rows read from the live read models with the replay. The live
/// rows must have been read before the events were: then the replay holds
/// every event a live row reflects, and a live row can lag but never lead.
pub fn compare(live: ViewRows, replayed: ViewRows) -> ViewComparison {
    let mut comparison = ViewComparison::default();
    let mut live = live;
    let sequence = |row: &Value| row.get("last_sequence").and_then(Value::as_u64);
    for ((view, key), replayed_row) in replayed {
        comparison.rows += 1;
        let name = format!("{view} {key}");
        match live.remove(&(view.clone(), key.clone())) {
            None => comparison.behind.push(name),
            Some(live_row) => match (sequence(&live_row), sequence(&replayed_row)) {
                (Some(l), Some(r)) if l < r => comparison.behind.push(name),
                _ => differences(
                    &view,
                    &key,
                    "body".into(),
                    &live_row,
                    &replayed_row,
                    &mut comparison.drift,
                ),
            },
        }
    }
    for ((view, key), live_row) in live {
        comparison.rows += 1;
        comparison.drift.push(Drift {
            view,
            row: key,
            field: String::new(),
            live: Some(live_row),
            replayed: None,
        });
    }
    comparison
}
