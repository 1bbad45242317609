//! The timer table on SQLite: due timers are found by an index on due time.

use chrono::{DateTime, Utc};
use domain::ports::{PortError, Timer, Timers};
use sqlx::{Row, SqlitePool};

use super::db::db_error;

pub struct SqliteTimers {
    pool: SqlitePool,
}

impl SqliteTimers {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

#[async_trait::async_trait]
impl Timers for SqliteTimers {
    async fn schedule(&self, timer: Timer) -> Result<(), PortError> {
        let job = serde_json::to_string(&timer.job).map_err(|e| PortError::new("timer", e))?;
        sqlx::query(
            "INSERT INTO timers (id, due_at, job) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&timer.id)
        .bind(timer.due_at.timestamp_millis())
        .bind(job)
        .execute(&self.pool)
        .await
        .map_err(db_error("timer schedule"))?;
        Ok(())
    }

    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Timer>, PortError> {
        let rows = sqlx::query(
            "SELECT id, due_at, job FROM timers WHERE state = 'pending' AND due_at <= ? ORDER BY due_at, id LIMIT ?",
        )
        .bind(now.timestamp_millis())
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("timers due"))?;
        rows.into_iter()
            .map(|row| {
                let job: String = row.get("job");
                Ok(Timer {
                    id: row.get("id"),
                    due_at: DateTime::from_timestamp_millis(row.get("due_at")).unwrap_or_default(),
                    job: serde_json::from_str(&job).map_err(|e| PortError::new("timer job", e))?,
                })
            })
            .collect()
    }

    async fn complete(&self, timer_id: &str) -> Result<(), PortError> {
        sqlx::query("UPDATE timers SET state = 'done' WHERE id = ?")
            .bind(timer_id)
            .execute(&self.pool)
            .await
            .map_err(db_error("timer complete"))?;
        Ok(())
    }
}
