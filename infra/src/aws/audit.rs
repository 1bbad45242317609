//! Tamper evidence on DynamoDB: each aggregate's events are a hash chain
//! of their own (the writer, `event_store.rs::DynamoEventRepository::item`,
//! hashes each event after the one before it in its aggregate).
//! [`AwsAudit::checkpoint`] reads every aggregate's head and writes them
//! as one object under `chain-checkpoints/` in a bucket with S3 Object Lock
//! in compliance mode, so no one, the stack's own roles included, can
//! change or delete a checkpoint before its retention ends.
//! [`AwsAudit::verify`] reads every event and every version of every
//! checkpoint, names what was changed, deleted, inserted or reordered
//! (`domain::audit::StreamsVerifier`), and replays the events into fresh
//! read models in memory (`domain::audit::ReplayedViews`) to compare with
//! the live ones: an auditor's read-only credentials make no scratch table.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use domain::audit::{
    HeadsCheckpoint, ReplayedViews, StoredEvent, StreamHead, StreamsReport, StreamsVerifier,
    ViewComparison,
};
use domain::ports::PortError;
use serde::Serialize;

use super::{DynamoEventRepository, DynamoViews};

use super::blobs::s3_error;
use super::dynamo::{get_n, get_s, scan_all, Item};

/// Where the checkpoints are, one object each.
pub const CHECKPOINT_PREFIX: &str = "chain-checkpoints/";

/// The events table, and the Object Lock bucket its checkpoints go to.
pub struct AwsAudit {
    dynamo: aws_sdk_dynamodb::Client,
    events_table: String,
    views: Arc<DynamoViews>,
    s3: aws_sdk_s3::Client,
    checkpoint_bucket: String,
}

/// What `audit verify --aws` found.
#[derive(Debug, Clone, Serialize)]
pub struct AwsVerifyReport {
    pub chain: StreamsReport,
    /// Events replayed into fresh read models (in memory).
    pub replayed: u64,
    /// Why the replay could not finish, when it could not: the read
    /// models were then not compared.
    pub replay_stopped: Option<String>,
    pub views: ViewComparison,
}

impl AwsVerifyReport {
    /// Nothing tampered, nothing drifted, and no live row behind: DynamoDB
    /// offers no snapshot, so a row missing from the live read models is a
    /// row still being projected or a row deleted, and only a run on a
    /// quiet stack tells them apart.
    pub fn is_clean(&self) -> bool {
        self.chain.is_clean()
            && self.replay_stopped.is_none()
            && self.views.drift.is_empty()
            && self.views.behind.is_empty()
    }
}

impl AwsAudit {
    pub fn new(
        dynamo: aws_sdk_dynamodb::Client,
        events_table: impl Into<String>,
        views: Arc<DynamoViews>,
        s3: aws_sdk_s3::Client,
        checkpoint_bucket: impl Into<String>,
    ) -> Self {
        Self {
            dynamo,
            events_table: events_table.into(),
            views,
            s3,
            checkpoint_bucket: checkpoint_bucket.into(),
        }
    }

    /// Reads every aggregate's head (a scan of the events table's keys and
    /// hashes) and writes them as the checkpoint taken `at`. Aggregates
    /// stored wholly before the chain existed have no head.
    pub async fn checkpoint(&self, at: DateTime<Utc>) -> Result<HeadsCheckpoint, PortError> {
        let scan = self
            .dynamo
            .scan()
            .table_name(&self.events_table)
            .consistent_read(true)
            .projection_expression("#aggregate, #sequence, #hash")
            .expression_attribute_names("#aggregate", "aggregate")
            .expression_attribute_names("#sequence", "sequence")
            .expression_attribute_names("#hash", "hash");
        let items = scan_all(scan, "chain checkpoint").await?;
        let mut heads: BTreeMap<String, (u64, Option<String>)> = BTreeMap::new();
        for item in &items {
            let aggregate = get_s(item, "aggregate")?;
            let sequence = get_n(item, "sequence")? as u64;
            let hash = get_s(item, "hash").ok().map(str::to_owned);
            match heads.get_mut(aggregate) {
                Some(head) if head.0 >= sequence => {}
                Some(head) => *head = (sequence, hash),
                None => {
                    heads.insert(aggregate.to_owned(), (sequence, hash));
                }
            }
        }
        let checkpoint = HeadsCheckpoint {
            at,
            events: items.len() as u64,
            heads: heads
                .into_iter()
                .filter_map(|(aggregate, (sequence, hash))| {
                    Some(StreamHead {
                        aggregate,
                        sequence,
                        hash: hash?,
                    })
                })
                .collect(),
        };
        let body =
            serde_json::to_vec(&checkpoint).map_err(|e| PortError::new("chain checkpoint", e))?;
        // The bucket's default retention (compliance mode) locks it; the
        // SDK's checksum satisfies Object Lock's integrity header.
        self.s3
            .put_object()
            .bucket(&self.checkpoint_bucket)
            .key(format!(
                "{CHECKPOINT_PREFIX}{}.json",
                at.format("%Y-%m-%dT%H-%M-%S%.6fZ")
            ))
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(s3_error("chain checkpoint put"))?;
        Ok(checkpoint)
    }

    /// Every checkpoint ever written, every version of every object, in the
    /// order taken: a checkpoint overwritten or hidden by a delete marker is
    /// still read.
    pub async fn checkpoints(&self) -> Result<Vec<HeadsCheckpoint>, PortError> {
        let mut versions = Vec::new();
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let page = self
                .s3
                .list_object_versions()
                .bucket(&self.checkpoint_bucket)
                .prefix(CHECKPOINT_PREFIX)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(s3_error("chain checkpoint list"))?;
            for version in page.versions() {
                if let Some(key) = version.key() {
                    versions.push((key.to_owned(), version.version_id().map(str::to_owned)));
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
        let mut checkpoints = Vec::with_capacity(versions.len());
        for (key, version) in versions {
            let object = self
                .s3
                .get_object()
                .bucket(&self.checkpoint_bucket)
                .key(&key)
                .set_version_id(version)
                .send()
                .await
                .map_err(s3_error("chain checkpoint get"))?;
            let bytes = object
                .body
                .collect()
                .await
                .map_err(|e| PortError::new("chain checkpoint get", e))?
                .into_bytes();
            checkpoints.push(
                serde_json::from_slice::<HeadsCheckpoint>(&bytes).map_err(|e| {
                    PortError(format!("the checkpoint {key} is not a checkpoint: {e}"))
                })?,
            );
        }
        checkpoints.sort_by_key(|c| c.at);
        Ok(checkpoints)
    }

    /// Reads the live read models, then every event (consistent scans,
    /// held in memory by aggregate) and every checkpoint. Checks each
    /// aggregate's chain, replays the events into fresh read models and
    /// compares them with the live ones, field by field. The live rows are
    /// read first, so a row can lag the events read after it (reported as
    /// behind) but never lead them.
    pub async fn verify(&self) -> Result<AwsVerifyReport, PortError> {
        let live = self.views.live_rows().await?;
        let checkpoints = self.checkpoints().await?;
        let items = self.event_items().await?;
        let aggregates = by_aggregate(&items)?;
        let chain = check_chains(&aggregates, &checkpoints);
        let (replayed, replay_stopped, views) = match replay(&aggregates).await {
            Ok(replay) => (
                replay.events,
                None,
                domain::audit::compare(live, replay.rows()?),
            ),
            Err((events, e)) => (
                events,
                Some(format!("the replay stopped after {events} events: {e}")),
                ViewComparison::default(),
            ),
        };
        Ok(AwsVerifyReport {
            chain,
            replayed,
            replay_stopped,
            views,
        })
    }

    /// The chain check alone.
    pub async fn verify_chain(&self) -> Result<StreamsReport, PortError> {
        let checkpoints = self.checkpoints().await?;
        let items = self.event_items().await?;
        Ok(check_chains(&by_aggregate(&items)?, &checkpoints))
    }

    async fn event_items(&self) -> Result<Vec<Item>, PortError> {
        let scan = self
            .dynamo
            .scan()
            .table_name(&self.events_table)
            .consistent_read(true);
        scan_all(scan, "audit verify").await
    }
}

/// Each aggregate's event items with their sequence numbers, in sequence
/// order, by aggregate (`<type>#<id>`).
type Aggregates<'a> = BTreeMap<&'a str, Vec<(u64, &'a Item)>>;

fn by_aggregate(items: &[Item]) -> Result<Aggregates<'_>, PortError> {
    let mut aggregates = Aggregates::new();
    for item in items {
        aggregates
            .entry(get_s(item, "aggregate")?)
            .or_default()
            .push((get_n(item, "sequence")? as u64, item));
    }
    for events in aggregates.values_mut() {
        events.sort_by_key(|(sequence, _)| *sequence);
    }
    Ok(aggregates)
}

fn check_chains(aggregates: &Aggregates<'_>, checkpoints: &[HeadsCheckpoint]) -> StreamsReport {
    let mut verifier = StreamsVerifier::new(checkpoints);
    for (aggregate, events) in aggregates {
        verifier.push_aggregate(
            aggregate,
            events
                .iter()
                .map(|&(sequence, item)| stored(aggregate, sequence, item)),
        );
    }
    verifier.finish()
}

/// Replays every aggregate's events into fresh read models: each
/// aggregate in sequence, the aggregates interleaved by when their events
/// say they occurred, as the stream delivered them. An event too damaged
/// to read stops it: answers how many were applied, and why.
async fn replay(aggregates: &Aggregates<'_>) -> Result<ReplayedViews, (u64, String)> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    let upcasters = events::upcast::all();
    let mut views = ReplayedViews::new();
    let streams: Vec<&Vec<(u64, &Item)>> = aggregates.values().collect();
    let mut next = vec![0usize; streams.len()];
    let occurred = |item: &Item| -> Option<DateTime<Utc>> {
        #[derive(serde::Deserialize)]
        struct When {
            occurred_at: DateTime<Utc>,
        }
        serde_json::from_str::<When>(get_s(item, "metadata").ok()?)
            .ok()
            .map(|w| w.occurred_at)
    };
    let mut heads: BinaryHeap<Reverse<(Option<DateTime<Utc>>, usize)>> = streams
        .iter()
        .enumerate()
        .map(|(i, events)| Reverse((occurred(events[0].1), i)))
        .collect();
    while let Some(Reverse((_, i))) = heads.pop() {
        let (_, item) = streams[i][next[i]];
        next[i] += 1;
        if let Some(&(_, following)) = streams[i].get(next[i]) {
            heads.push(Reverse((occurred(following), i)));
        }
        let event =
            DynamoEventRepository::decode_item(item).map_err(|e| (views.events, e.to_string()))?;
        views
            .apply(event, &upcasters)
            .await
            .map_err(|e| (views.events, e.to_string()))?;
    }
    Ok(views)
}

/// An event item as the chain hashed it. A missing attribute reads as
/// empty, so the hash check names the event as changed.
fn stored<'a>(
    aggregate: &str,
    sequence: u64,
    item: &'a Item,
) -> (StoredEvent<'a>, Option<&'a str>, Option<&'a str>) {
    let text = |name: &str| get_s(item, name).unwrap_or_default();
    let event = StoredEvent {
        aggregate_type: text("aggregate_type"),
        aggregate_id: text("aggregate_id"),
        sequence,
        event_type: text("event_type"),
        event_version: text("event_version"),
        payload: text("payload"),
        metadata: text("metadata"),
    };
    let mut hash = get_s(item, "hash").ok();
    // An item whose attributes name another aggregate than its key (one
    // copied from elsewhere) was changed, whatever its hash says: a hash
    // that is not one makes the check say so.
    if hash.is_some() && format!("{}#{}", event.aggregate_type, event.aggregate_id) != aggregate {
        hash = Some("its attributes name another aggregate than its key");
    }
    (event, get_s(item, "previous_hash").ok(), hash)
}
