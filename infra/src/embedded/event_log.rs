//! Reading the SQLite event store in commit order, for the projector and the
//! reactor. Their positions are rowids (see the events migration).

use cqrs_es::persist::SerializedEvent;
use domain::ports::{EventHistory, HistoryEvent, HistorySelection, PortError, StreamId};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use super::db::db_error;
use crate::event_row::EventRow;

#[derive(Clone)]
pub struct EventLog {
    pool: SqlitePool,
}

impl EventLog {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// How many events the store holds.
    pub async fn count(&self) -> Result<u64, PortError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error("event log"))?;
        Ok(count as u64)
    }

    /// Up to `limit` events after `position`, each with its own position.
    pub async fn read_after(
        &self,
        position: i64,
        limit: usize,
    ) -> Result<Vec<(i64, SerializedEvent)>, PortError> {
        let rows = sqlx::query(
            "SELECT rowid, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
             FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?",
        )
        .bind(position)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("event log"))?;
        rows.iter().map(positioned).collect()
    }
}

/// A row of `SELECT rowid, aggregate_type, aggregate_id, sequence,
/// event_type, event_version, payload, metadata`: its position and event.
fn positioned(row: &SqliteRow) -> Result<(i64, SerializedEvent), PortError> {
    let sequence: i64 = row.get("sequence");
    let event = EventRow {
        aggregate_id: row.get("aggregate_id"),
        sequence: sequence as usize,
        aggregate_type: row.get("aggregate_type"),
        event_type: row.get("event_type"),
        event_version: row.get("event_version"),
        payload: row.get("payload"),
        metadata: row.get("metadata"),
    }
    .into_event()
    .map_err(|e| PortError::new("event log", e))?;
    Ok((row.get::<i64, _>("rowid"), event))
}

/// The first id after every id that starts with `prefix`: the prefix with
/// its last character moved on by one (`b-1:` gives `b-1;`).
fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.to_owned();
    if let Some(last) = end.pop() {
        end.push(char::from_u32(last as u32 + 1).unwrap_or(char::MAX));
    }
    end
}

#[async_trait::async_trait]
impl EventHistory for EventLog {
    /// Each stream is a search of the primary key (type, id, sequence); an
    /// actor's events are a scan of the log's metadata.
    async fn events(&self, selection: &HistorySelection) -> Result<Vec<HistoryEvent>, PortError> {
        const COLUMNS: &str = "SELECT rowid, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata FROM events";
        let mut rows = Vec::new();
        match selection {
            HistorySelection::Streams(streams) => {
                let exact = format!("{COLUMNS} WHERE aggregate_type = ? AND aggregate_id = ?");
                let of_type = format!("{COLUMNS} WHERE aggregate_type = ?");
                let prefixed = format!(
                    "{COLUMNS} WHERE aggregate_type = ? AND aggregate_id >= ? AND aggregate_id < ?"
                );
                for stream in streams {
                    let query = match &stream.id {
                        StreamId::Exact(id) => sqlx::query(&exact)
                            .bind(stream.aggregate_type)
                            .bind(id.clone()),
                        StreamId::Prefix(prefix) if prefix.is_empty() => {
                            sqlx::query(&of_type).bind(stream.aggregate_type)
                        }
                        StreamId::Prefix(prefix) => sqlx::query(&prefixed)
                            .bind(stream.aggregate_type)
                            .bind(prefix.clone())
                            .bind(prefix_end(prefix)),
                    };
                    rows.extend(
                        query
                            .fetch_all(&self.pool)
                            .await
                            .map_err(db_error("event history"))?,
                    );
                }
            }
            HistorySelection::Actor(actor) => {
                rows = sqlx::query(&format!(
                    "{COLUMNS} WHERE json_extract(metadata, '$.actor') = ?"
                ))
                .bind(actor)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error("event history"))?;
            }
        }
        let mut events = rows
            .iter()
            .map(|row| {
                let (position, event) = positioned(row)?;
                HistoryEvent::from_stored(position, event)
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        events.sort_by_key(|e| e.position);
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::{open_pool, Database};
    use cqrs_es::persist::PersistedEventStore;
    use cqrs_es::{AggregateContext, EventStore};
    use domain::aggregates::batch::BatchStatus;
    use domain::aggregates::Batch;
    use sqlite_es::SqliteEventRepository;

    /// An event as release 0 wrote it: `BatchDrafted` 1.0 had `message`, no `kind`.
    async fn store_version_1_draft(pool: &SqlitePool) {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             VALUES ('Batch', 'b-old', 1, 'BatchDrafted', '1.0', ?, ?)",
        )
        .bind(r#"{"BatchDrafted":{"batch_id":"b-old","organisation_id":"A12345","name":"Old","message":"Dear ((name))"}}"#)
        .bind(r#"{"organisation_id":"A12345","actor":"user:1","correlation_id":"c","occurred_at":"2025-01-06T09:00:00+00:00"}"#)
        .execute(pool)
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn an_aggregate_stored_by_an_older_release_loads_through_the_upcaster() {
        let dir = tempfile::tempdir().unwrap();
        let pool = open_pool(dir.path(), Database::Events).await.unwrap();
        store_version_1_draft(&pool).await;
        let store =
            PersistedEventStore::<_, Batch>::new_event_store(SqliteEventRepository::new(pool))
                .with_upcasters(events::upcast::all());
        let mut context = store.load_aggregate("b-old").await.unwrap();
        let batch = context.aggregate();
        assert_eq!(batch.status(), BatchStatus::Draft);
        assert_eq!(batch.template(), "Dear ((name))");
    }

    #[tokio::test]
    async fn the_log_reads_in_commit_order_from_a_position() {
        let dir = tempfile::tempdir().unwrap();
        let pool = open_pool(dir.path(), Database::Events).await.unwrap();
        store_version_1_draft(&pool).await;
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             VALUES ('Batch', 'a-new', 1, 'BatchCancelled', '1.0', '{}', '{}')",
        )
        .execute(&pool)
        .await
        .unwrap();
        let log = EventLog::new(pool);
        let all = log.read_after(0, 10).await.unwrap();
        let ids: Vec<(i64, &str)> = all
            .iter()
            .map(|(p, e)| (*p, e.aggregate_id.as_str()))
            .collect();
        assert_eq!(ids, [(1, "b-old"), (2, "a-new")]);
        let rest = log.read_after(1, 10).await.unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].1.aggregate_id, "a-new");
    }
}
