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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::{open_pool, Database};
    use chrono::TimeZone;
    use domain::ports::TimerJob;

    #[tokio::test]
    async fn timers_fall_due_once_in_due_order_and_scheduling_twice_keeps_one() {
        let dir = tempfile::tempdir().unwrap();
        let timers = SqliteTimers::new(open_pool(dir.path(), Database::Work).await.unwrap());
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let timer = |id: &str, minutes| Timer {
            id: id.into(),
            due_at: t0 + chrono::Duration::minutes(minutes),
            job: TimerJob::StartScheduledSend {
                organisation_id: "A12345".into(),
                batch_id: id.into(),
            },
        };
        timers.schedule(timer("late", 30)).await.unwrap();
        timers.schedule(timer("early", 10)).await.unwrap();
        timers.schedule(timer("early", 99)).await.unwrap();
        assert!(timers.due(t0, 10).await.unwrap().is_empty());
        let due = timers
            .due(t0 + chrono::Duration::hours(1), 10)
            .await
            .unwrap();
        assert_eq!(due, vec![timer("early", 10), timer("late", 30)]);
        timers.complete("early").await.unwrap();
        let due = timers
            .due(t0 + chrono::Duration::hours(1), 10)
            .await
            .unwrap();
        assert_eq!(due, vec![timer("late", 30)]);
    }
}
