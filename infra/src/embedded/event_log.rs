//! Reading the SQLite event store in commit order, for the projector and the
//! reactor. Their positions are rowids (see the events migration).

use cqrs_es::persist::SerializedEvent;
use domain::ports::PortError;
use sqlx::{Row, SqlitePool};

use super::db::db_error;

#[derive(Clone)]
pub struct EventLog {
    pool: SqlitePool,
}

impl EventLog {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// Up to `limit` events after `position`, each with its own position.
    pub async fn read_after(&self, position: i64, limit: usize) -> Result<Vec<(i64, SerializedEvent)>, PortError> {
        let rows = sqlx::query(
            "SELECT rowid, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
             FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?",
        )
        .bind(position)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("event log"))?;
        rows.into_iter()
            .map(|row| {
                let json = |column: &str| -> Result<serde_json::Value, PortError> {
                    let text: String = row.get(column);
                    serde_json::from_str(&text).map_err(|e| PortError::new("event log", e))
                };
                let sequence: i64 = row.get("sequence");
                Ok((
                    row.get::<i64, _>("rowid"),
                    SerializedEvent::new(
                        row.get("aggregate_id"),
                        sequence as usize,
                        row.get("aggregate_type"),
                        row.get("event_type"),
                        row.get("event_version"),
                        json("payload")?,
                        json("metadata")?,
                    ),
                ))
            })
            .collect()
    }
}
