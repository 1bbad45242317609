//! The embedded event store: grouped reads and a group-commit writer over
//! sqlite-es's table.
//!
//! Every statement sqlx runs is a round trip to SQLite's worker thread,
//! and sqlite-es commits one aggregate at a time (`BEGIN`, an `INSERT` per
//! event, `COMMIT`). A batch send commits tens of thousands of small
//! aggregates, so those round trips, not SQLite, were what limited it. Here
//! concurrent commits queue for one writer task, which writes everything
//! queued in one transaction:
//!
//! 1. one `SELECT` of the latest sequence of every aggregate in the group;
//! 2. each commit whose first event does not follow on is refused with
//!    cqrs-es's optimistic-lock error, exactly as sqlite-es refuses it
//!    (the caller reloads and retries), and so is a later commit in the
//!    group for an aggregate an earlier one just moved on;
//! 3. the rest go in multi-row `INSERT`s, each event hashed onto the
//!    chain (`domain/src/audit/chain.rs`) after the last stored one, then
//!    `COMMIT`.
//!
//! The table's primary key still guards the sequence: if the insert fails
//! anyway (another process wrote first), the whole group is refused and
//! every caller retries. Rows are written as sqlite-es writes them, so
//! sqlite-es reads them back and the event log orders them by rowid.
//!
//! Loading an aggregate is grouped the same way: concurrent loads become
//! one `SELECT … WHERE (aggregate_type, aggregate_id) IN (…)`, and so do
//! the newer events a kept copy asks for (`get_last_events`, which every
//! patient's page makes for their batch): one query for all of them, not
//! one each on the one connection.

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use domain::audit::{event_hash, StoredEvent, GENESIS};
use serde_json::Value;
use sqlite_es::SqliteEventRepository;
use sqlx::{Row, SqlitePool};
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};

use super::grouped::spawn_grouped;
use crate::event_row::EventRow;

/// Rows per `INSERT`: 9 parameters each, under SQLite's 32,766.
const ROWS_PER_INSERT: usize = 500;

/// An event as it is inserted: its JSON text, hashed and stored as is.
struct ChainedRow<'a> {
    kind: &'static str,
    event: &'a SerializedEvent,
    payload: String,
    metadata: String,
    previous: String,
    hash: String,
}

struct Commit {
    aggregate_type: &'static str,
    events: Vec<SerializedEvent>,
    reply: oneshot::Sender<Result<(), PersistenceError>>,
}

struct Load {
    aggregate_type: &'static str,
    aggregate_id: String,
    /// Only the events after this sequence: 0 for all of them, or the
    /// last one a kept copy has seen (`get_last_events`).
    after: usize,
    /// The rows unparsed: the grouped read only fetches, and each caller
    /// parses its own events on its own task, so a group's parsing is
    /// spread over the runtime's threads instead of queued on the reader's.
    reply: oneshot::Sender<Result<Vec<EventRow>, PersistenceError>>,
}

fn stopped() -> PersistenceError {
    PersistenceError::UnknownError("the event store's task has stopped".into())
}

/// The one writer of an events database, and its grouped reader, shared
/// by every repository over it.
#[derive(Clone)]
pub struct GroupWriter {
    queue: mpsc::UnboundedSender<Commit>,
    loads: mpsc::UnboundedSender<Load>,
}

impl GroupWriter {
    /// Starts the writer and reader tasks; they end when every repository
    /// is dropped.
    pub fn start(pool: SqlitePool) -> Self {
        let reads = pool.clone();
        let loads = spawn_grouped(move |group: Vec<Load>| {
            let pool = reads.clone();
            async move {
                match read_group(&pool, &group).await {
                    Ok(mut found) => {
                        // Two callers may load one aggregate in one group
                        // (every patient's page loads their batch): each
                        // gets the events after its own sequence, copied
                        // only for all but the last of them.
                        let mut callers: HashMap<(&'static str, String), usize> = HashMap::new();
                        for load in &group {
                            *callers
                                .entry((load.aggregate_type, load.aggregate_id.clone()))
                                .or_default() += 1;
                        }
                        for load in group {
                            let key = (load.aggregate_type, load.aggregate_id);
                            let left = callers.get_mut(&key).map(|n| {
                                *n -= 1;
                                *n
                            });
                            let after = load.after;
                            let events = if left == Some(0) {
                                found.remove(&key).map(|mut rows| {
                                    rows.retain(|row| row.sequence > after);
                                    rows
                                })
                            } else {
                                found.get(&key).map(|rows| {
                                    rows.iter()
                                        .filter(|row| row.sequence > after)
                                        .cloned()
                                        .collect()
                                })
                            };
                            let _ = load.reply.send(Ok(events.unwrap_or_default()));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "a grouped event read failed; its callers will retry");
                        for load in group {
                            let _ = load.reply.send(Err(PersistenceError::UnknownError(
                                "the grouped event read failed".into(),
                            )));
                        }
                    }
                }
            }
        });
        let queue = spawn_grouped(move |group: Vec<Commit>| {
            let pool = pool.clone();
            async move {
                let outcomes = match write_group(&pool, &group).await {
                    Ok(outcomes) => outcomes,
                    Err(e) => {
                        tracing::warn!(error = %e, commits = group.len(), "a group commit failed; its callers will retry");
                        group.iter().map(|_| Outcome::Failed).collect()
                    }
                };
                for (commit, outcome) in group.into_iter().zip(outcomes) {
                    let result = match outcome {
                        Outcome::Written => Ok(()),
                        Outcome::Conflict => Err(PersistenceError::OptimisticLockError),
                        Outcome::Failed => Err(PersistenceError::UnknownError(
                            "the group commit failed".into(),
                        )),
                    };
                    // A caller that gave up no longer wants the answer.
                    let _ = commit.reply.send(result);
                }
            }
        });
        Self { queue, loads }
    }

    /// The events of one aggregate after sequence `after` (0: all of them),
    /// read in one query with every other load queued beside it.
    async fn load(
        &self,
        aggregate_type: &'static str,
        aggregate_id: &str,
        after: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let (reply, answer) = oneshot::channel();
        self.loads
            .send(Load {
                aggregate_type,
                aggregate_id: aggregate_id.to_owned(),
                after,
                reply,
            })
            .map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())??
            .into_iter()
            .map(|row| {
                row.into_event()
                    .map_err(|e| PersistenceError::DeserializationError(Box::new(e)))
            })
            .collect()
    }

    async fn commit(
        &self,
        aggregate_type: &'static str,
        events: &[SerializedEvent],
    ) -> Result<(), PersistenceError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Commit {
                aggregate_type,
                events: events.to_vec(),
                reply,
            })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Written,
    Conflict,
    Failed,
}

/// Aggregate ids by type, in chunks of 500: `aggregate_type = ? AND
/// aggregate_id IN (…)` is a search of the primary key, where a row-value
/// `IN` would scan the whole table.
fn by_type<'a>(
    keys: impl Iterator<Item = (&'static str, &'a str)>,
) -> Vec<(&'static str, Vec<&'a str>)> {
    let mut by_type: HashMap<&'static str, Vec<&'a str>> = HashMap::new();
    for (kind, id) in keys {
        by_type.entry(kind).or_default().push(id);
    }
    by_type
        .into_iter()
        .flat_map(|(kind, ids)| {
            ids.chunks(ROWS_PER_INSERT)
                .map(|chunk| (kind, chunk.to_vec()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The events of every aggregate asked for, in one query per type and 500
/// aggregates: each aggregate named once, and only the events after the
/// earliest sequence any load of that type asked from (each caller then
/// keeps those after its own).
async fn read_group(
    pool: &SqlitePool,
    group: &[Load],
) -> Result<HashMap<(&'static str, String), Vec<EventRow>>, sqlx::Error> {
    let mut found: HashMap<(&'static str, String), Vec<EventRow>> = HashMap::new();
    let mut after: HashMap<&'static str, usize> = HashMap::new();
    let mut named = std::collections::HashSet::new();
    for load in group {
        let least = after.entry(load.aggregate_type).or_insert(load.after);
        *least = (*least).min(load.after);
        named.insert((load.aggregate_type, load.aggregate_id.as_str()));
    }
    let mut named: Vec<_> = named.into_iter().collect();
    // The same aggregates give the same statement, which SQLite keeps.
    named.sort_unstable();
    for (kind, ids) in by_type(named.into_iter()) {
        let mut query = sqlx::QueryBuilder::new(
            "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
             FROM events WHERE aggregate_type = ",
        );
        query.push_bind(kind).push(" AND aggregate_id IN ");
        query.push_tuples(ids, |mut tuple, id| {
            tuple.push_bind(id);
        });
        let least = after.get(kind).copied().unwrap_or_default();
        query
            .push(" AND sequence > ")
            .push_bind(i64::try_from(least).unwrap_or(i64::MAX));
        query.push(" ORDER BY aggregate_id, sequence");
        for row in query.build().fetch_all(pool).await? {
            let aggregate_id: String = row.try_get("aggregate_id")?;
            let sequence: i64 = row.try_get("sequence")?;
            let event = EventRow {
                aggregate_id: aggregate_id.clone(),
                sequence: sequence as usize,
                aggregate_type: row.try_get("aggregate_type")?,
                event_type: row.try_get("event_type")?,
                event_version: row.try_get("event_version")?,
                payload: row.try_get("payload")?,
                metadata: row.try_get("metadata")?,
            };
            found.entry((kind, aggregate_id)).or_default().push(event);
        }
    }
    Ok(found)
}

async fn write_group(pool: &SqlitePool, group: &[Commit]) -> Result<Vec<Outcome>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut latest: HashMap<(&str, String), usize> = HashMap::new();
    let keys = by_type(
        group
            .iter()
            .filter_map(|c| Some((c.aggregate_type, c.events.first()?.aggregate_id.as_str()))),
    );
    for (kind, ids) in keys {
        let mut query = sqlx::QueryBuilder::new(
            "SELECT aggregate_id, max(sequence) FROM events WHERE aggregate_type = ",
        );
        query.push_bind(kind).push(" AND aggregate_id IN ");
        query.push_tuples(ids, |mut tuple, id| {
            tuple.push_bind(id);
        });
        query.push(" GROUP BY aggregate_id");
        let rows: Vec<(String, i64)> = query.build_query_as().fetch_all(&mut *tx).await?;
        for (id, sequence) in rows {
            latest.insert((kind, id), sequence as usize);
        }
    }
    let mut outcomes = Vec::with_capacity(group.len());
    let mut rows: Vec<(&'static str, &SerializedEvent)> = Vec::new();
    for commit in group {
        let Some(first) = commit.events.first() else {
            outcomes.push(Outcome::Written);
            continue;
        };
        let key = (commit.aggregate_type, first.aggregate_id.clone());
        let current = latest.get(&key).copied().unwrap_or(0);
        if first.sequence != current + 1 {
            outcomes.push(Outcome::Conflict);
            continue;
        }
        let last = commit.events.last().map_or(current, |e| e.sequence);
        latest.insert(key, last);
        rows.extend(commit.events.iter().map(|e| (commit.aggregate_type, e)));
        outcomes.push(Outcome::Written);
    }
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(outcomes);
    }
    // The chain goes on from the last chained event. This transaction read
    // it: if another process commits before the first insert here, SQLite
    // refuses to upgrade the stale read (busy snapshot), the group fails
    // and its callers retry, so no event ever comes between.
    let mut previous: String = sqlx::query_scalar(
        "SELECT hash FROM events WHERE hash IS NOT NULL ORDER BY rowid DESC LIMIT 1",
    )
    .fetch_optional(&mut *tx)
    .await?
    .unwrap_or_else(|| GENESIS.to_owned());
    let chained: Vec<ChainedRow<'_>> = rows
        .iter()
        .map(|&(kind, event)| {
            let payload = event.payload.to_string();
            let metadata = event.metadata.to_string();
            let hash = event_hash(
                &previous,
                &StoredEvent {
                    aggregate_type: kind,
                    aggregate_id: &event.aggregate_id,
                    sequence: event.sequence as u64,
                    event_type: &event.event_type,
                    event_version: &event.event_version,
                    payload: &payload,
                    metadata: &metadata,
                },
            );
            ChainedRow {
                kind,
                event,
                payload,
                metadata,
                previous: std::mem::replace(&mut previous, hash.clone()),
                hash,
            }
        })
        .collect();
    for chunk in chained.chunks(ROWS_PER_INSERT) {
        let mut query = sqlx::QueryBuilder::new(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, previous_hash, hash) ",
        );
        query.push_values(chunk, |mut row, r| {
            row.push_bind(r.kind)
                .push_bind(r.event.aggregate_id.as_str())
                .push_bind(r.event.sequence as i64)
                .push_bind(r.event.event_type.as_str())
                .push_bind(r.event.event_version.as_str())
                .push_bind(r.payload.as_str())
                .push_bind(r.metadata.as_str())
                .push_bind(r.previous.as_str())
                .push_bind(r.hash.as_str());
        });
        query.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Grouped loads (all events, or the last ones) and group commits;
/// sqlite-es for the rest (streams). Snapshots are not used (see ARCHITECTURE.md).
pub struct EmbeddedEventRepository {
    reads: SqliteEventRepository,
    writer: GroupWriter,
}

impl EmbeddedEventRepository {
    pub fn new(pool: SqlitePool, writer: GroupWriter) -> Self {
        Self {
            reads: SqliteEventRepository::new(pool),
            writer,
        }
    }
}

impl PersistedEventRepository for EmbeddedEventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.writer.load(A::TYPE, aggregate_id, 0).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.writer.load(A::TYPE, aggregate_id, last_sequence).await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        self.reads.get_snapshot::<A>(aggregate_id).await
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if snapshot_update.is_some() {
            return Err(PersistenceError::UnknownError(
                "snapshots are not used: cqrs-es 0.5 applies events twice with them".into(),
            ));
        }
        if events.is_empty() {
            return Ok(());
        }
        self.writer.commit(A::TYPE, events).await
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        self.reads.stream_events::<A>(aggregate_id).await
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        self.reads.stream_all_events::<A>().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::{open_pool, Database};
    use domain::aggregates::Delivery;

    fn event(id: &str, sequence: usize) -> SerializedEvent {
        SerializedEvent::new(
            id.to_owned(),
            sequence,
            "Delivery".to_owned(),
            "LinkRevoked".to_owned(),
            "1.0.0".to_owned(),
            serde_json::json!({"n": sequence}),
            serde_json::json!({}),
        )
    }

    /// A repository over a fresh events database in `dir`, with its writer.
    async fn repository(dir: &std::path::Path) -> EmbeddedEventRepository {
        let pool = open_pool(dir, Database::Events).await.unwrap();
        let writer = GroupWriter::start(pool.clone());
        EmbeddedEventRepository::new(pool, writer)
    }

    #[tokio::test]
    async fn concurrent_commits_group_and_each_stale_one_gets_the_optimistic_lock_error() {
        let dir = tempfile::tempdir().unwrap();
        let repo = repository(dir.path()).await;
        // Two commits of sequence 1 to one aggregate, and one to another,
        // all queued together: the first of the pair wins.
        let first = [event("b-1:1", 1), event("b-1:1", 2)];
        let racing = [event("b-1:1", 1)];
        let other = [event("b-1:2", 1)];
        let (a, b, c) = tokio::join!(
            repo.persist::<Delivery>(&first, None),
            repo.persist::<Delivery>(&racing, None),
            repo.persist::<Delivery>(&other, None),
        );
        assert!(a.is_ok() && c.is_ok(), "{a:?} {c:?}");
        assert!(
            matches!(b, Err(PersistenceError::OptimisticLockError)),
            "{b:?}"
        );
        // A commit that does not follow on from what is stored is refused.
        assert!(matches!(
            repo.persist::<Delivery>(&[event("b-1:1", 2)], None).await,
            Err(PersistenceError::OptimisticLockError)
        ));
        repo.persist::<Delivery>(&[event("b-1:1", 3)], None)
            .await
            .unwrap();
        let (one, again, two, none) = tokio::join!(
            repo.get_events::<Delivery>("b-1:1"),
            repo.get_events::<Delivery>("b-1:1"),
            repo.get_events::<Delivery>("b-1:2"),
            repo.get_events::<Delivery>("b-1:3"),
        );
        let sequences =
            |events: Vec<SerializedEvent>| events.iter().map(|e| e.sequence).collect::<Vec<_>>();
        let one = one.unwrap();
        // Each caller parses its own rows: the payloads come back as stored.
        assert_eq!(
            one.iter().map(|e| e.payload.clone()).collect::<Vec<_>>(),
            [1, 2, 3].map(|n| serde_json::json!({ "n": n }))
        );
        assert_eq!(sequences(one), [1, 2, 3]);
        // Loaded twice in one group, both callers get every event.
        assert_eq!(sequences(again.unwrap()), [1, 2, 3]);
        assert_eq!(sequences(two.unwrap()), [1]);
        assert!(none.unwrap().is_empty());
    }

    #[tokio::test]
    async fn last_events_asked_together_are_read_once_and_each_caller_gets_those_after_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let repo = repository(dir.path()).await;
        repo.persist::<Delivery>(&[event("b-1:1", 1), event("b-1:1", 2)], None)
            .await
            .unwrap();
        repo.persist::<Delivery>(&[event("b-1:1", 3)], None)
            .await
            .unwrap();
        repo.persist::<Delivery>(&[event("b-1:2", 1)], None)
            .await
            .unwrap();
        // Kept copies at different sequences of one aggregate, a whole
        // load of it and of another, all in one group.
        let (from_none, from_two, from_last, whole, other_after_its_last, other) = tokio::join!(
            repo.get_last_events::<Delivery>("b-1:1", 0),
            repo.get_last_events::<Delivery>("b-1:1", 2),
            repo.get_last_events::<Delivery>("b-1:1", 3),
            repo.get_events::<Delivery>("b-1:1"),
            repo.get_last_events::<Delivery>("b-1:2", 1),
            repo.get_events::<Delivery>("b-1:2"),
        );
        let sequences = |events: Result<Vec<SerializedEvent>, PersistenceError>| {
            events
                .unwrap()
                .iter()
                .map(|e| e.sequence)
                .collect::<Vec<_>>()
        };
        assert_eq!(sequences(from_none), [1, 2, 3]);
        assert_eq!(sequences(from_two), [3]);
        assert_eq!(sequences(from_last), Vec::<usize>::new());
        assert_eq!(sequences(whole), [1, 2, 3]);
        assert_eq!(sequences(other_after_its_last), Vec::<usize>::new());
        assert_eq!(sequences(other), [1]);
        // Alone, too: the newer events only, with their payloads.
        let newer = repo.get_last_events::<Delivery>("b-1:1", 1).await.unwrap();
        assert_eq!(
            newer.iter().map(|e| e.payload.clone()).collect::<Vec<_>>(),
            [2, 3].map(|n| serde_json::json!({ "n": n }))
        );
    }
}
