//! Read models on DynamoDB, and the projector step the stream Lambda runs.
//!
//! One table, one partition per batch: the summary at sort key `#SUMMARY`,
//! a row per delivery at `ROW#<row>`. Every item carries a `version`; a
//! projection step reads the items it needs, then writes them in one
//! transaction conditioned on those versions. Two projector invocations
//! racing on one summary cannot lose a count: the loser re-reads and
//! re-applies. Replays change nothing, because rows keep the aggregate
//! sequence they applied (see `domain::projection`).
//!
//! Summaries of Sending batches whose recipients all have an outcome carry
//! `settled = "SETTLED"`, a sparse index the completion step queries.
//!
//! Staff's lists are partitions of the same table, queried with strongly
//! consistent reads (an index would be eventually consistent, and a batch
//! just created must be listed): `LISTED#<org>#batch` holds one entry per
//! batch at sort key `listed` (newest last, so queries run backwards),
//! with the fields lists filter on; the counts are read from the summaries
//! themselves. It is written in the projector's transaction, only when
//! those fields change. Lists, attachments and templates live at
//! `ITEM#<kind>#<id>`, with a copy of each in `LISTED#<org>#<kind>`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    Delete, KeysAndAttributes, Put, PutRequest, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use domain::audit::{replay, ViewRows};
use domain::links::LinkRecord;
use domain::ports::{BatchQuery, InboxQuery, Page};
use domain::ports::{FailureHistory, LinkDirectory, PortError};
use domain::projection::{
    listed_key, project, BatchSummary, DeliveryRow, InboxRow, ItemKind, ProjectionError,
    ViewTransaction, WorkspaceItem,
};
use domain::usecases::BatchViews;

use super::dynamo::{
    batch_write, condition_failed, get_n, get_s, n, query_all, s, scan_all, sdk_error, Item,
};

pub const SETTLED_INDEX: &str = "settled";
const SUMMARY: &str = "#SUMMARY";
const SETTLED: &str = "SETTLED";
/// How often one event is re-applied after losing a race before giving up
/// (the stream will deliver it again).
const ATTEMPTS: usize = 10;

pub struct DynamoViews {
    client: Client,
    table: String,
    upcasters: Vec<Box<dyn EventUpcaster>>,
}

fn batch_pk(batch_id: &str) -> String {
    format!("BATCH#{batch_id}")
}

/// The partition listing an organisation's batches, or its lists,
/// attachments or templates.
fn listed_pk(organisation_id: &str, kind: &str) -> String {
    format!("LISTED#{organisation_id}#{kind}")
}

const BATCH_KIND: &str = "batch";

fn item_pk(kind: ItemKind, id: &str) -> String {
    format!("ITEM#{}#{id}", kind.as_str())
}
const ITEM_SK: &str = "#ITEM";

/// A conversation's inbox row, and the partitions of the lists it is in:
/// each entry carries the whole row, so a page is one query.
fn inbox_pk(conversation_id: &str) -> String {
    format!("INBOX#{conversation_id}")
}
const INBOX_SK: &str = "#ROW";
fn inbox_list_pk(partition: &str) -> String {
    format!("INBOXLIST#{partition}")
}

/// What a batch's list entry holds: where it sorts and what lists filter on.
#[derive(PartialEq, Eq)]
struct ListEntry {
    listed: String,
    status: &'static str,
    kind: String,
    created_by: Option<String>,
}

fn list_entry(summary: &BatchSummary) -> Option<ListEntry> {
    let kind = summary.kind?;
    Some(ListEntry {
        listed: listed_key(summary.created_at?, &summary.batch_id),
        status: summary.status.label(),
        kind: serde_json::to_value(kind)
            .ok()?
            .as_str()
            .map(str::to_owned)?,
        created_by: summary.created_by.clone(),
    })
}

/// The lowest `listed` key at or after `at`.
fn listed_bound(at: DateTime<Utc>) -> String {
    format!("{:013}", at.timestamp_millis().max(0))
}

/// BatchGetItem takes at most 100 keys.
const GET_BATCH: usize = 100;

fn row_sk(row: u64) -> String {
    format!("ROW#{row:010}")
}

fn body<T: serde::de::DeserializeOwned>(item: &Item) -> Result<T, PortError> {
    serde_json::from_str(get_s(item, "body")?).map_err(|e| PortError::new("view row", e))
}

impl DynamoViews {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            upcasters: events::upcast::all(),
        }
    }

    /// Applies one stored event (from the stream) to the views. Returns
    /// whether anything changed; a replayed event changes nothing.
    pub async fn apply(&self, event: &SerializedEvent) -> Result<bool, ProjectionError> {
        for _ in 0..ATTEMPTS {
            let mut tx = DynamoViewTx {
                views: self,
                versions: HashMap::new(),
                listed: HashMap::new(),
                writes: Vec::new(),
            };
            let changed = project(&mut tx, event.clone(), &self.upcasters).await?;
            if tx.commit().await? {
                return Ok(changed);
            }
        }
        Err(PortError("view rows kept changing under the projector; will retry".into()).into())
    }

    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, PortError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .send()
            .await
            .map_err(sdk_error("view get"))?;
        Ok(output.item)
    }

    /// Every item of a batch's partition whose sort key starts with `prefix`.
    async fn query_partition(
        &self,
        pk: &str,
        prefix: &str,
        status: Option<&str>,
    ) -> Result<Vec<Item>, PortError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix));
        if let Some(status) = status {
            query = query
                .filter_expression("#status = :status")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status));
        }
        query_all(query, "view query").await
    }

    /// Every summary and delivery row, in a stable order: for comparing a
    /// rebuilt model with the live one.
    pub async fn dump(&self) -> Result<(Vec<BatchSummary>, Vec<DeliveryRow>), PortError> {
        let scan = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true);
        let items = scan_all(scan, "view scan").await?;
        let mut summaries: Vec<BatchSummary> = Vec::new();
        let mut deliveries: Vec<DeliveryRow> = Vec::new();
        for item in &items {
            let sk = get_s(item, "sk")?;
            if sk == SUMMARY {
                summaries.push(body(item)?);
            } else if sk.starts_with("ROW#") {
                deliveries.push(body(item)?);
            }
        }
        summaries.sort_by(|a, b| a.batch_id.cmp(&b.batch_id));
        deliveries.sort_by(|a, b| (&a.batch_id, a.row).cmp(&(&b.batch_id, b.row)));
        Ok((summaries, deliveries))
    }
}

#[async_trait::async_trait]
impl BatchViews for DynamoViews {
    async fn batch(&self, batch_id: &str) -> Result<Option<BatchSummary>, PortError> {
        self.get(&batch_pk(batch_id), SUMMARY)
            .await?
            .map(|item| body(&item))
            .transpose()
    }

    async fn failed_deliveries(&self, batch_id: &str) -> Result<Vec<DeliveryRow>, PortError> {
        self.query_partition(&batch_pk(batch_id), "ROW#", Some("failed"))
            .await?
            .iter()
            .map(body)
            .collect()
    }

    async fn open_deliveries(&self, batch_id: &str) -> Result<Vec<DeliveryRow>, PortError> {
        self.query_partition(&batch_pk(batch_id), "ROW#", Some("open"))
            .await?
            .iter()
            .map(body)
            .collect()
    }

    async fn deliveries(&self, batch_id: &str) -> Result<Vec<DeliveryRow>, PortError> {
        self.query_partition(&batch_pk(batch_id), "ROW#", None)
            .await?
            .iter()
            .map(body)
            .collect()
    }

    async fn settled_batches(&self, limit: usize) -> Result<Vec<BatchSummary>, PortError> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(SETTLED_INDEX)
            .key_condition_expression("settled = :settled")
            .expression_attribute_values(":settled", s(SETTLED))
            .limit(limit.min(1_000) as i32)
            .send()
            .await
            .map_err(sdk_error("settled batches"))?;
        page.items().iter().map(body).collect()
    }

    async fn list_batches(&self, query: &BatchQuery) -> Result<Page<BatchSummary>, PortError> {
        let upper = match (&query.after, query.to.map(listed_bound)) {
            (Some(after), Some(to)) => Some(after.clone().min(to)),
            (after, to) => after.clone().or(to),
        };
        let lower = query.from.map(listed_bound);
        let mut filters = Vec::new();
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .scan_index_forward(false)
            .expression_attribute_values(":pk", s(listed_pk(&query.organisation_id, BATCH_KIND)));
        request = match (&lower, &upper) {
            (Some(lower), Some(upper)) => request
                .key_condition_expression("pk = :pk AND sk BETWEEN :lower AND :upper")
                .expression_attribute_values(":lower", s(lower))
                .expression_attribute_values(":upper", s(upper)),
            (Some(lower), None) => request
                .key_condition_expression("pk = :pk AND sk >= :lower")
                .expression_attribute_values(":lower", s(lower)),
            (None, Some(upper)) => request
                .key_condition_expression("pk = :pk AND sk < :upper")
                .expression_attribute_values(":upper", s(upper)),
            (None, None) => request.key_condition_expression("pk = :pk"),
        };
        if let Some(status) = query.status {
            filters.push("#status = :status");
            request = request
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status.label()));
        }
        if let Some(kind) = query.kind {
            let name = serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            filters.push("kind = :kind");
            request = request.expression_attribute_values(":kind", s(name));
        }
        if let Some(user) = &query.created_by {
            filters.push("created_by = :user");
            request = request.expression_attribute_values(":user", s(user));
        }
        if !filters.is_empty() {
            request = request.filter_expression(filters.join(" AND "));
        }
        // DynamoDB limits the items it reads, before the filters: read on
        // until a page and one more are found, or the list ends.
        let mut entries: Vec<(String, String)> = Vec::new();
        let mut start = None;
        loop {
            let output = request
                .clone()
                .limit((query.limit + 1).clamp(1, 1_000) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error("batch list"))?;
            for item in output.items() {
                let listed = get_s(item, "sk")?;
                // BETWEEN includes its upper bound; a cursor is exclusive.
                if upper.as_deref() == Some(listed) {
                    continue;
                }
                entries.push((listed.to_owned(), get_s(item, "batch_id")?.to_owned()));
            }
            start = output.last_evaluated_key().cloned();
            if entries.len() > query.limit || start.as_ref().is_none_or(|k| k.is_empty()) {
                break;
            }
        }
        let more = entries.len() > query.limit;
        entries.truncate(query.limit);
        let next = more
            .then(|| entries.last().map(|(listed, _)| listed.clone()))
            .flatten();
        let ids: Vec<String> = entries.into_iter().map(|(_, id)| id).collect();
        let mut found = self.summaries(&ids).await?;
        let items = ids.iter().filter_map(|id| found.remove(id)).collect();
        Ok(Page { items, next })
    }

    async fn list_items(
        &self,
        organisation_id: &str,
        kind: ItemKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<WorkspaceItem>, PortError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .scan_index_forward(false)
            .key_condition_expression("pk = :pk AND sk < :after")
            .expression_attribute_values(":pk", s(listed_pk(organisation_id, kind.as_str())))
            // Every key sorts below "~": digits, '#', and ids.
            .expression_attribute_values(":after", s(after.unwrap_or("~")))
            .limit((limit + 1).clamp(1, 1_000) as i32)
            .send()
            .await
            .map_err(sdk_error("workspace list"))?;
        let mut items: Vec<WorkspaceItem> =
            output.items().iter().map(body).collect::<Result<_, _>>()?;
        let more = items.len() > limit;
        items.truncate(limit);
        let next = more
            .then(|| items.last().map(WorkspaceItem::listed))
            .flatten();
        Ok(Page { items, next })
    }

    async fn item(&self, kind: ItemKind, id: &str) -> Result<Option<WorkspaceItem>, PortError> {
        self.get(&item_pk(kind, id), ITEM_SK)
            .await?
            .map(|item| body(&item))
            .transpose()
    }

    async fn inbox(&self, query: &InboxQuery) -> Result<Page<InboxRow>, PortError> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .scan_index_forward(false)
            .key_condition_expression("pk = :pk AND sk < :after")
            .expression_attribute_values(":pk", s(inbox_list_pk(&query.partition)))
            // Every key sorts below "~": digits, '#', and ids.
            .expression_attribute_values(":after", s(query.after.as_deref().unwrap_or("~")));
        if let Some(done) = query.done {
            request = request
                .filter_expression("#done = :done")
                .expression_attribute_names("#done", "done")
                .expression_attribute_values(":done", n(u8::from(done)));
        }
        let mut rows: Vec<(String, InboxRow)> = Vec::new();
        let mut start = None;
        loop {
            let output = request
                .clone()
                .limit((query.limit + 1).clamp(1, 1_000) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error("inbox list"))?;
            for item in output.items() {
                let row: InboxRow = body(item)?;
                if query
                    .unread_for
                    .as_deref()
                    .is_none_or(|u| row.unread_for(u))
                {
                    rows.push((get_s(item, "sk")?.to_owned(), row));
                }
            }
            start = output.last_evaluated_key().cloned();
            if rows.len() > query.limit || start.as_ref().is_none_or(|k| k.is_empty()) {
                break;
            }
        }
        let more = rows.len() > query.limit;
        rows.truncate(query.limit);
        let next = more
            .then(|| rows.last().map(|(sk, _)| sk.clone()))
            .flatten();
        Ok(Page {
            items: rows.into_iter().map(|(_, row)| row).collect(),
            next,
        })
    }

    async fn inbox_unread(&self, partition: &str, user_id: &str) -> Result<u64, PortError> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(inbox_list_pk(partition)));
        let items = query_all(request, "inbox unread").await?;
        let mut unread = 0;
        for item in &items {
            let row: InboxRow = body(item)?;
            unread += u64::from(row.unread_for(user_id));
        }
        Ok(unread)
    }

    async fn apply_now(&self, events: Vec<SerializedEvent>) -> Result<(), PortError> {
        for event in &events {
            self.apply(event).await.map_err(|e| match e {
                ProjectionError::Store(e) => e,
                other => PortError::new("projection", other),
            })?;
        }
        Ok(())
    }
}

impl DynamoViews {
    /// Every projected row in the table (a consistent scan), named as
    /// `audit verify` compares them with a replay: summaries, deliveries,
    /// failure history, workspace items and inbox rows. The lists' entries
    /// and the links are not projected rows and are left out.
    pub async fn live_rows(&self) -> Result<ViewRows, PortError> {
        let scan = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true);
        let mut rows = ViewRows::new();
        for item in scan_all(scan, "views scan").await? {
            let (pk, sk) = (get_s(&item, "pk")?, get_s(&item, "sk")?);
            let parsed = || -> Result<serde_json::Value, PortError> { body(&item) };
            let key = if let Some(batch_id) = pk.strip_prefix("BATCH#") {
                if sk == SUMMARY {
                    replay::batch_key(batch_id)
                } else if let Some(row) = sk.strip_prefix("ROW#") {
                    let row = row
                        .parse()
                        .map_err(|e| PortError::new("delivery row key", e))?;
                    replay::delivery_key(batch_id, row)
                } else {
                    continue;
                }
            } else if let (Some(rest), ITEM_SK) = (pk.strip_prefix("ITEM#"), sk) {
                let (kind, id) = rest
                    .split_once('#')
                    .ok_or_else(|| PortError(format!("view item key {pk} names no kind")))?;
                replay::item_key(kind, id)
            } else if let (Some(id), INBOX_SK) = (pk.strip_prefix("INBOX#"), sk) {
                replay::inbox_key(id)
            } else if let (Some(organisation_id), Some(fingerprint)) =
                (pk.strip_prefix("FAILURES#"), sk.strip_prefix("RECIPIENT#"))
            {
                rows.insert(
                    replay::failure_key(organisation_id, fingerprint),
                    replay::failure_row(failed_at_of(&item)?),
                );
                continue;
            } else {
                continue;
            };
            rows.insert(key, parsed()?);
        }
        Ok(rows)
    }
}

impl DynamoViews {
    /// Batch summaries by id, read consistently, a hundred at a time.
    async fn summaries(&self, ids: &[String]) -> Result<HashMap<String, BatchSummary>, PortError> {
        let mut found = HashMap::new();
        for chunk in ids.chunks(GET_BATCH) {
            let mut keys = KeysAndAttributes::builder().consistent_read(true);
            for id in chunk {
                keys = keys.keys(Item::from([
                    ("pk".into(), s(batch_pk(id))),
                    ("sk".into(), s(SUMMARY)),
                ]));
            }
            let mut request = Some(keys.build().map_err(|e| PortError::new("batch list", e))?);
            for attempt in 0u32.. {
                let Some(keys) = request.take() else { break };
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .send()
                    .await
                    .map_err(sdk_error("batch list"))?;
                for item in output
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let summary: BatchSummary = body(item)?;
                    found.insert(summary.batch_id.clone(), summary);
                }
                request = output
                    .unprocessed_keys
                    .and_then(|mut left| left.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
                if request.is_some() {
                    if attempt == 8 {
                        return Err(PortError("DynamoDB kept summaries unprocessed".into()));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
            }
        }
        Ok(found)
    }
}

struct DynamoViewTx<'a> {
    views: &'a DynamoViews,
    /// The version each item had when read; `None` when it did not exist.
    versions: HashMap<(String, String), Option<i64>>,
    /// Each summary as first read, to tell whether its list entry changes.
    listed: HashMap<String, Option<ListEntry>>,
    writes: Vec<TransactWriteItem>,
}

impl DynamoViewTx<'_> {
    async fn read(&mut self, pk: String, sk: String) -> Result<Option<Item>, PortError> {
        let item = self.views.get(&pk, &sk).await?;
        let version = item.as_ref().map(|i| get_n(i, "version")).transpose()?;
        self.versions.insert((pk, sk), version);
        Ok(item)
    }

    fn write(&mut self, mut item: Item) -> Result<(), PortError> {
        let key = (
            get_s(&item, "pk")?.to_owned(),
            get_s(&item, "sk")?.to_owned(),
        );
        let read = self.versions.get(&key).copied().flatten();
        item.insert("version".into(), n(read.unwrap_or(0) + 1));
        let put = Put::builder()
            .table_name(&self.views.table)
            .set_item(Some(item));
        let put = match read {
            Some(version) => put
                .condition_expression("#version = :version")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":version", n(version)),
            None => put.condition_expression("attribute_not_exists(pk)"),
        };
        let put = put.build().map_err(|e| PortError::new("view write", e))?;
        self.writes
            .push(TransactWriteItem::builder().put(put).build());
        Ok(())
    }

    fn put_unconditional(&mut self, item: Item) -> Result<(), PortError> {
        let put = Put::builder()
            .table_name(&self.views.table)
            .set_item(Some(item))
            .build()
            .map_err(|e| PortError::new("view write", e))?;
        self.writes
            .push(TransactWriteItem::builder().put(put).build());
        Ok(())
    }

    /// Writes everything staged. `Ok(false)` when another projector changed
    /// one of the items since it was read.
    async fn commit(self) -> Result<bool, PortError> {
        if self.writes.is_empty() {
            return Ok(true);
        }
        match self
            .views
            .client
            .transact_write_items()
            .set_transact_items(Some(self.writes))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                cancelled if condition_failed(&cancelled) => Ok(false),
                other => Err(sdk_error("view commit")(other)),
            },
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, PortError> {
    serde_json::to_string(value).map_err(|e| PortError::new("view row", e))
}

#[async_trait::async_trait]
impl ViewTransaction for DynamoViewTx<'_> {
    async fn batch(&mut self, batch_id: &str) -> Result<Option<BatchSummary>, PortError> {
        let summary: Option<BatchSummary> = self
            .read(batch_pk(batch_id), SUMMARY.into())
            .await?
            .map(|item| body(&item))
            .transpose()?;
        self.listed
            .entry(batch_id.to_owned())
            .or_insert_with(|| summary.as_ref().and_then(list_entry));
        Ok(summary)
    }

    async fn put_batch(&mut self, summary: BatchSummary) -> Result<(), PortError> {
        let summary = &summary;
        let entry = list_entry(summary);
        let before = self.listed.get(&summary.batch_id).and_then(Option::as_ref);
        if let Some(entry) = entry.as_ref().filter(|e| Some(*e) != before) {
            // Unconditional: the summary's own condition, in the same
            // transaction, orders writers.
            let mut item = Item::from([
                (
                    "pk".into(),
                    s(listed_pk(&summary.organisation_id, BATCH_KIND)),
                ),
                ("sk".into(), s(&entry.listed)),
                ("batch_id".into(), s(&summary.batch_id)),
                ("status".into(), s(entry.status)),
                ("kind".into(), s(&entry.kind)),
            ]);
            if let Some(user) = &entry.created_by {
                item.insert("created_by".into(), s(user));
            }
            self.put_unconditional(item)?;
        }
        self.listed.insert(summary.batch_id.clone(), entry);
        let mut item = Item::from([
            ("pk".into(), s(batch_pk(&summary.batch_id))),
            ("sk".into(), s(SUMMARY)),
            ("organisation_id".into(), s(&summary.organisation_id)),
            ("status".into(), s(summary.status.label())),
            ("body".into(), s(json(summary)?)),
        ]);
        if summary.is_settled() {
            item.insert("settled".into(), s(SETTLED));
        }
        self.write(item)
    }

    async fn delivery(
        &mut self,
        batch_id: &str,
        row: u64,
    ) -> Result<Option<DeliveryRow>, PortError> {
        self.read(batch_pk(batch_id), row_sk(row))
            .await?
            .map(|item| body(&item))
            .transpose()
    }

    async fn put_delivery(&mut self, row: DeliveryRow) -> Result<(), PortError> {
        let row = &row;
        self.write(Item::from([
            ("pk".into(), s(batch_pk(&row.batch_id))),
            ("sk".into(), s(row_sk(row.row))),
            ("status".into(), s(row.view_status())),
            ("body".into(), s(json(row)?)),
        ]))
    }

    async fn item(&mut self, kind: ItemKind, id: &str) -> Result<Option<WorkspaceItem>, PortError> {
        self.read(item_pk(kind, id), ITEM_SK.into())
            .await?
            .map(|item| body(&item))
            .transpose()
    }

    async fn put_item(&mut self, item: &WorkspaceItem) -> Result<(), PortError> {
        let kind = item.item.kind();
        let row = json(item)?;
        self.write(Item::from([
            ("pk".into(), s(item_pk(kind, &item.id))),
            ("sk".into(), s(ITEM_SK)),
            ("body".into(), s(&row)),
        ]))?;
        let pk = listed_pk(&item.organisation_id, kind.as_str());
        if item.deleted {
            let delete = Delete::builder()
                .table_name(&self.views.table)
                .key("pk", s(pk))
                .key("sk", s(item.listed()))
                .build()
                .map_err(|e| PortError::new("view write", e))?;
            self.writes
                .push(TransactWriteItem::builder().delete(delete).build());
            Ok(())
        } else {
            self.put_unconditional(Item::from([
                ("pk".into(), s(pk)),
                ("sk".into(), s(item.listed())),
                ("body".into(), s(row)),
            ]))
        }
    }

    async fn inbox_row(&mut self, conversation_id: &str) -> Result<Option<InboxRow>, PortError> {
        self.read(inbox_pk(conversation_id), INBOX_SK.into())
            .await?
            .map(|item| body(&item))
            .transpose()
    }

    async fn put_inbox_row(
        &mut self,
        previous: Option<&InboxRow>,
        row: &InboxRow,
    ) -> Result<(), PortError> {
        let body = json(row)?;
        self.write(Item::from([
            ("pk".into(), s(inbox_pk(&row.conversation_id))),
            ("sk".into(), s(INBOX_SK)),
            ("body".into(), s(&body)),
        ]))?;
        // Unconditional: the row's own condition, in the same transaction,
        // orders writers. An entry the row left is deleted; one it is still
        // in is written over (a transaction touches an item once).
        let now = row.entries();
        for (partition, sort) in previous.map(InboxRow::entries).unwrap_or_default() {
            if !now.contains(&(partition.clone(), sort.clone())) {
                let delete = Delete::builder()
                    .table_name(&self.views.table)
                    .key("pk", s(inbox_list_pk(&partition)))
                    .key("sk", s(sort))
                    .build()
                    .map_err(|e| PortError::new("view write", e))?;
                self.writes
                    .push(TransactWriteItem::builder().delete(delete).build());
            }
        }
        for (partition, sort) in now {
            self.put_unconditional(Item::from([
                ("pk".into(), s(inbox_list_pk(&partition))),
                ("sk".into(), s(sort)),
                ("conversation_id".into(), s(&row.conversation_id)),
                ("done".into(), n(u8::from(row.done))),
                ("body".into(), s(&body)),
            ]))?;
        }
        Ok(())
    }

    async fn record_failure(
        &mut self,
        organisation_id: &str,
        fingerprint: &str,
        failed_at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let (pk, sk) = failure_key(organisation_id, fingerprint);
        let previous = self
            .read(pk.clone(), sk.clone())
            .await?
            .map(|item| failed_at_of(&item))
            .transpose()?;
        let latest = previous.map_or(failed_at, |p| p.max(failed_at));
        self.write(Item::from([
            ("pk".into(), s(pk)),
            ("sk".into(), s(sk)),
            ("last_failed_at".into(), s(latest.to_rfc3339())),
        ]))
    }
}

/// Failure history lives beside the batches: one partition per
/// organisation, one item per recipient fingerprint.
fn failure_key(organisation_id: &str, fingerprint: &str) -> (String, String) {
    (
        format!("FAILURES#{organisation_id}"),
        format!("RECIPIENT#{fingerprint}"),
    )
}

fn failed_at_of(item: &Item) -> Result<DateTime<Utc>, PortError> {
    DateTime::parse_from_rfc3339(get_s(item, "last_failed_at")?)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| PortError::new("failure history", e))
}

#[async_trait::async_trait]
impl FailureHistory for DynamoViews {
    async fn last_failure(
        &self,
        organisation_id: &str,
        fingerprint: &str,
    ) -> Result<Option<DateTime<Utc>>, PortError> {
        let (pk, sk) = failure_key(organisation_id, fingerprint);
        self.get(&pk, &sk)
            .await?
            .map(|item| failed_at_of(&item))
            .transpose()
    }
}

/// Links live in the views table under their own partitions (`LINK#<token
/// hash>`), written by fan-out rather than projected; the stream projector
/// never touches them.
fn link_pk(token_sha256: &str) -> String {
    format!("LINK#{token_sha256}")
}
const LINK_SK: &str = "#LINK";
/// BatchWriteItem takes at most 25 items.
const WRITE_BATCH: usize = 25;

#[async_trait::async_trait]
impl LinkDirectory for DynamoViews {
    async fn register(&self, links: Vec<LinkRecord>) -> Result<(), PortError> {
        for chunk in links.chunks(WRITE_BATCH) {
            let requests = chunk
                .iter()
                .map(|link| {
                    let body = serde_json::to_string(link)
                        .map_err(|e| PortError::new("link record", e))?;
                    let put = PutRequest::builder()
                        .item("pk", s(link_pk(&link.token_sha256)))
                        .item("sk", s(LINK_SK))
                        .item("body", s(body))
                        .build()
                        .map_err(|e| PortError::new("link record", e))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, PortError>>()?;
            // A link's item is fixed by its token, so writing it again is
            // harmless.
            batch_write(&self.client, &self.table, requests, "link register").await?;
        }
        Ok(())
    }

    async fn find(&self, token_sha256: &str) -> Result<Option<LinkRecord>, PortError> {
        self.get(&link_pk(token_sha256), LINK_SK)
            .await?
            .map(|item| body(&item))
            .transpose()
    }
}
