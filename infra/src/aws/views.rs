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

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{Put, PutRequest, TransactWriteItem, WriteRequest};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use domain::links::LinkRecord;
use domain::ports::{FailureHistory, LinkDirectory, PortError};
use domain::projection::{project, BatchSummary, DeliveryRow, ProjectionError, ViewTransaction};
use domain::usecases::BatchViews;

use super::dynamo::{condition_failed, get_n, get_s, n, query_all, s, scan_all, sdk_error, Item};

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
}

struct DynamoViewTx<'a> {
    views: &'a DynamoViews,
    /// The version each item had when read; `None` when it did not exist.
    versions: HashMap<(String, String), Option<i64>>,
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
        self.read(batch_pk(batch_id), SUMMARY.into())
            .await?
            .map(|item| body(&item))
            .transpose()
    }

    async fn put_batch(&mut self, summary: &BatchSummary) -> Result<(), PortError> {
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

    async fn put_delivery(&mut self, row: &DeliveryRow) -> Result<(), PortError> {
        self.write(Item::from([
            ("pk".into(), s(batch_pk(&row.batch_id))),
            ("sk".into(), s(row_sk(row.row))),
            ("status".into(), s(row.view_status())),
            ("body".into(), s(json(row)?)),
        ]))
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
            let mut requests = chunk
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
            // harmless; items DynamoDB left unprocessed are sent again.
            for attempt in 0u32.. {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(sdk_error("link register"))?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt == 8 {
                    return Err(PortError("DynamoDB kept links unprocessed".into()));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
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
