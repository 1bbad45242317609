//! The event store on DynamoDB: cqrs-es's persisted event repository,
//! written for this project because dynamo-es 0.5 reads only the first 1 MB
//! of an aggregate's events and refuses commits of more than 25 events.
//!
//! One item per event: partition key `aggregate` (`<type>#<id>`), sort key
//! `sequence`. A commit is one conditional put (or, for several events, one
//! transaction of up to 100 conditional puts): two writers of the same
//! sequence get one success and one optimistic-lock error. Loads follow
//! `LastEvaluatedKey` to the end. Each aggregate's events form a hash chain
//! of their own (`previous_hash`, `hash`: `domain::audit::chain`), since
//! DynamoDB keeps no order across partitions; `infra/src/aws/audit.rs`
//! checkpoints and verifies it. The table's stream (NEW_IMAGE) feeds the
//! projector; [`DynamoEventRepository::decode_item`] reads its records.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use domain::audit::{event_hash, StoredEvent, GENESIS};
use domain::ports::{EventHistory, HistoryEvent, HistorySelection, PortError, StreamId};
use serde_json::Value;

use super::dynamo::{condition_failed, get_n, get_s, n, query_all, s, scan_all, sdk_error, Item};

/// DynamoDB's limit on the items of one transaction.
pub const MAX_EVENTS_PER_COMMIT: usize = 100;

const NOT_YET_WRITTEN: &str = "attribute_not_exists(#aggregate)";

#[derive(Clone)]
pub struct DynamoEventRepository {
    client: Client,
    table: String,
}

fn unknown(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> PersistenceError {
    PersistenceError::UnknownError(e.into())
}

impl DynamoEventRepository {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// An event's item, hashed onto its aggregate's chain after
    /// `previous` (the hash of the event before it in the aggregate, or
    /// [`GENESIS`]). Answers the item and its hash.
    fn item(event: &SerializedEvent, previous: &str) -> Result<(Item, String), PersistenceError> {
        let aggregate = format!("{}#{}", event.aggregate_type, event.aggregate_id);
        let payload = serde_json::to_string(&event.payload)?;
        let metadata = serde_json::to_string(&event.metadata)?;
        let hash = event_hash(
            previous,
            &StoredEvent {
                aggregate_type: &event.aggregate_type,
                aggregate_id: &event.aggregate_id,
                sequence: event.sequence as u64,
                event_type: &event.event_type,
                event_version: &event.event_version,
                payload: &payload,
                metadata: &metadata,
            },
        );
        let item = Item::from([
            ("aggregate".into(), s(aggregate)),
            ("sequence".into(), n(event.sequence)),
            ("aggregate_type".into(), s(&event.aggregate_type)),
            ("aggregate_id".into(), s(&event.aggregate_id)),
            ("event_type".into(), s(&event.event_type)),
            ("event_version".into(), s(&event.event_version)),
            ("payload".into(), s(payload)),
            ("metadata".into(), s(metadata)),
            ("previous_hash".into(), s(previous)),
            ("hash".into(), s(&hash)),
        ]);
        Ok((item, hash))
    }

    /// The hash of the event an aggregate holds at `sequence`: what the
    /// next event is chained after. [`GENESIS`] before the first event,
    /// and after events stored before the chain existed (their aggregate's
    /// chain starts again from the genesis).
    async fn hash_at(&self, aggregate: &str, sequence: usize) -> Result<String, PersistenceError> {
        if sequence == 0 {
            return Ok(GENESIS.to_owned());
        }
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .key("aggregate", s(aggregate))
            .key("sequence", n(sequence))
            .projection_expression("#hash")
            .expression_attribute_names("#hash", "hash")
            .send()
            .await
            .map_err(|e| {
                PersistenceError::ConnectionError(Box::new(sdk_error("event chain")(
                    e.into_service_error(),
                )))
            })?;
        Ok(found
            .item()
            .and_then(|item| get_s(item, "hash").ok())
            .unwrap_or(GENESIS)
            .to_owned())
    }

    /// Reads an event item: from a query, or a stream record's NEW_IMAGE.
    pub fn decode_item(item: &Item) -> Result<SerializedEvent, PortError> {
        let json = |name: &str| -> Result<Value, PortError> {
            serde_json::from_str(get_s(item, name)?)
                .map_err(|e| PortError::new(name_static(name), e))
        };
        Ok(SerializedEvent::new(
            get_s(item, "aggregate_id")?.to_owned(),
            get_n(item, "sequence")? as usize,
            get_s(item, "aggregate_type")?.to_owned(),
            get_s(item, "event_type")?.to_owned(),
            get_s(item, "event_version")?.to_owned(),
            json("payload")?,
            json("metadata")?,
        ))
    }

    async fn query<A: Aggregate>(
        &self,
        aggregate_id: &str,
        after: Option<usize>,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .expression_attribute_names("#aggregate", "aggregate")
            .expression_attribute_values(":aggregate", s(format!("{}#{aggregate_id}", A::TYPE)));
        let query = match after {
            Some(sequence) => query
                .key_condition_expression("#aggregate = :aggregate AND #sequence > :after")
                .expression_attribute_names("#sequence", "sequence")
                .expression_attribute_values(":after", n(sequence)),
            None => query.key_condition_expression("#aggregate = :aggregate"),
        };
        let items = query_all(query, "event query")
            .await
            .map_err(|e| PersistenceError::ConnectionError(Box::new(e)))?;
        decode_all(&items)
    }

    async fn scan_type(
        &self,
        aggregate_type: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let scan = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .filter_expression("aggregate_type = :type")
            .expression_attribute_values(":type", s(aggregate_type));
        let items = scan_all(scan, "event scan")
            .await
            .map_err(|e| PersistenceError::ConnectionError(Box::new(e)))?;
        let mut events = decode_all(&items)?;
        events.sort_by(|a, b| (&a.aggregate_id, a.sequence).cmp(&(&b.aggregate_id, b.sequence)));
        Ok(events)
    }

    async fn put_one(&self, item: Item) -> Result<(), PersistenceError> {
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(NOT_YET_WRITTEN)
            .expression_attribute_names("#aggregate", "aggregate")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => {
                    Err(PersistenceError::OptimisticLockError)
                }
                other => Err(PersistenceError::ConnectionError(Box::new(sdk_error(
                    "event put",
                )(
                    other
                )))),
            },
        }
    }

    async fn put_many(&self, items: Vec<Item>) -> Result<(), PersistenceError> {
        let writes = items
            .into_iter()
            .map(|item| {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression(NOT_YET_WRITTEN)
                    .expression_attribute_names("#aggregate", "aggregate")
                    .build()
                    .map_err(unknown)?;
                Ok(TransactWriteItem::builder().put(put).build())
            })
            .collect::<Result<Vec<_>, PersistenceError>>()?;
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.into_service_error() {
                cancelled if condition_failed(&cancelled) => {
                    Err(PersistenceError::OptimisticLockError)
                }
                other => Err(PersistenceError::ConnectionError(Box::new(sdk_error(
                    "event commit",
                )(
                    other
                )))),
            },
        }
    }
}

fn decode_all(items: &[Item]) -> Result<Vec<SerializedEvent>, PersistenceError> {
    items
        .iter()
        .map(|item| {
            DynamoEventRepository::decode_item(item)
                .map_err(|e| PersistenceError::DeserializationError(Box::new(e)))
        })
        .collect()
}

fn name_static(name: &str) -> &'static str {
    match name {
        "payload" => "event payload",
        _ => "event metadata",
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a commit of {0} events is more than DynamoDB's {MAX_EVENTS_PER_COMMIT} per transaction")]
pub struct TooManyEvents(pub usize);

#[derive(Debug, thiserror::Error)]
#[error("this event store keeps no snapshots; use the plain event-store mode")]
pub struct SnapshotsUnsupported;

impl PersistedEventRepository for DynamoEventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.query::<A>(aggregate_id, None).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.query::<A>(aggregate_id, Some(last_sequence)).await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        Ok(None)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if snapshot_update.is_some() {
            return Err(unknown(SnapshotsUnsupported));
        }
        if events.len() > MAX_EVENTS_PER_COMMIT {
            return Err(unknown(TooManyEvents(events.len())));
        }
        let Some(first) = events.first() else {
            return Ok(());
        };
        // The events before this commit are immutable, so the hash read
        // here is the one a racing writer reads too; the conditional write
        // lets one of them through.
        let mut previous = self
            .hash_at(
                &format!("{}#{}", first.aggregate_type, first.aggregate_id),
                first.sequence.saturating_sub(1),
            )
            .await?;
        let mut items = Vec::with_capacity(events.len());
        for event in events {
            let (item, hash) = Self::item(event, &previous)?;
            items.push(item);
            previous = hash;
        }
        match items.len() {
            0 => Ok(()),
            1 => self.put_one(items.pop().expect("one item")).await,
            _ => self.put_many(items).await,
        }
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        replay(self.query::<A>(aggregate_id, None).await?).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        replay(self.scan_type(A::TYPE).await?).await
    }
}

async fn replay(events: Vec<SerializedEvent>) -> Result<ReplayStream, PersistenceError> {
    let (mut feed, stream) = ReplayStream::new(events.len().max(1));
    for event in events {
        feed.push(Ok(event)).await?;
    }
    Ok(stream)
}

/// The event history on DynamoDB. One aggregate is a query of its
/// partition; a batch's deliveries and invites, and a user's events, are a
/// scan with a filter, which an auditor's occasional export can afford
/// (and which reads the whole table, 1 MB a page). DynamoDB keeps no order
/// across partitions: the events come in the order they occurred, each
/// aggregate's in sequence.
#[async_trait::async_trait]
impl EventHistory for DynamoEventRepository {
    async fn events(&self, selection: &HistorySelection) -> Result<Vec<HistoryEvent>, PortError> {
        let mut items = Vec::new();
        let mut actor = None;
        match selection {
            HistorySelection::Streams(streams) => {
                for stream in streams {
                    match &stream.id {
                        StreamId::Exact(id) => {
                            let query = self
                                .client
                                .query()
                                .table_name(&self.table)
                                .consistent_read(true)
                                .key_condition_expression("#aggregate = :aggregate")
                                .expression_attribute_names("#aggregate", "aggregate")
                                .expression_attribute_values(
                                    ":aggregate",
                                    s(format!("{}#{id}", stream.aggregate_type)),
                                );
                            items.extend(query_all(query, "event history").await?);
                        }
                        StreamId::Prefix(prefix) => {
                            let scan = self
                                .client
                                .scan()
                                .table_name(&self.table)
                                .consistent_read(true)
                                .filter_expression("begins_with(#aggregate, :prefix)")
                                .expression_attribute_names("#aggregate", "aggregate")
                                .expression_attribute_values(
                                    ":prefix",
                                    s(format!("{}#{prefix}", stream.aggregate_type)),
                                );
                            items.extend(scan_all(scan, "event history").await?);
                        }
                    }
                }
            }
            HistorySelection::Actor(wanted) => {
                // The metadata is JSON text: the filter narrows the scan,
                // and the parsed actor decides.
                let scan = self
                    .client
                    .scan()
                    .table_name(&self.table)
                    .consistent_read(true)
                    .filter_expression("contains(metadata, :actor)")
                    .expression_attribute_values(
                        ":actor",
                        s(serde_json::to_string(wanted)
                            .map_err(|e| PortError::new("event history", e))?),
                    );
                items = scan_all(scan, "event history").await?;
                actor = Some(wanted);
            }
        }
        let mut events = Vec::with_capacity(items.len());
        for item in &items {
            // Positions are given once the events are in order, below.
            let event = HistoryEvent::from_stored(0, Self::decode_item(item)?)?;
            if actor.is_some_and(|a| *a != event.metadata.actor) {
                continue;
            }
            events.push(event);
        }
        events.sort_by(|a, b| {
            (
                a.metadata.occurred_at,
                &a.aggregate_type,
                &a.aggregate_id,
                a.sequence,
            )
                .cmp(&(
                    b.metadata.occurred_at,
                    &b.aggregate_type,
                    &b.aggregate_id,
                    b.sequence,
                ))
        });
        for (n, event) in events.iter_mut().enumerate() {
            event.position = n as i64 + 1;
        }
        Ok(events)
    }
}
