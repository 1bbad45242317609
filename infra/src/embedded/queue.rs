//! A durable work queue on SQLite with SQS's semantics: a received message
//! stays invisible for the visibility timeout, comes back if not
//! acknowledged, and moves to a dead-letter state after too many receives.

use std::sync::Arc;
use std::time::Duration;

use domain::ports::{Clock, PortError, QueueName, ReceivedMessage, WorkQueue};
use sqlx::{Row, SqlitePool};

use super::db::db_error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    pub visibility_timeout: Duration,
    /// A message received this many times without being acknowledged is
    /// dead-lettered instead of delivered again.
    pub max_receives: u32,
}

impl QueueSettings {
    pub fn for_queue(queue: QueueName) -> Self {
        match queue {
            QueueName::FanOut => Self {
                visibility_timeout: Duration::from_secs(300),
                max_receives: 5,
            },
            QueueName::Send => Self {
                visibility_timeout: Duration::from_secs(60),
                max_receives: 5,
            },
            // The clinical system is slow and may be down for a while.
            QueueName::Record => Self {
                visibility_timeout: Duration::from_secs(120),
                max_receives: 10,
            },
            // A booking waits at most `BOOKING_DEADLINE` (10 minutes) on a
            // book that does not answer, then fails: retries cover that.
            QueueName::Booking => Self {
                visibility_timeout: Duration::from_secs(30),
                max_receives: 30,
            },
        }
    }
}

pub struct SqliteWorkQueue {
    pool: SqlitePool,
    clock: Arc<dyn Clock>,
}

impl SqliteWorkQueue {
    pub fn new(pool: SqlitePool, clock: Arc<dyn Clock>) -> Self {
        Self { pool, clock }
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Makes every message another process received, and never acknowledged,
    /// visible again now. Only for start-up of the local runtime, which owns
    /// its data directory: whoever received them has died. Handlers are
    /// idempotent, so a message that was in fact handled is harmless.
    pub async fn release_in_flight(&self) -> Result<u64, PortError> {
        let released = sqlx::query(
            "UPDATE queue_messages SET visible_at = ? WHERE state = 'ready' AND visible_at > ?",
        )
        .bind(self.now_ms())
        .bind(self.now_ms())
        .execute(&self.pool)
        .await
        .map_err(db_error("queue release"))?;
        Ok(released.rows_affected())
    }

    /// Messages waiting (ready and not dead), visible or not.
    pub async fn depth(&self, queue: QueueName) -> Result<u64, PortError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM queue_messages WHERE queue = ? AND state = 'ready'",
        )
        .bind(queue.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(db_error("queue depth"))?;
        Ok(n as u64)
    }

    /// Bodies in the dead-letter state, oldest first.
    pub async fn dead_letters(&self, queue: QueueName) -> Result<Vec<String>, PortError> {
        sqlx::query_scalar(
            "SELECT body FROM queue_messages WHERE queue = ? AND state = 'dead' ORDER BY id",
        )
        .bind(queue.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("dead letters"))
    }
}

#[async_trait::async_trait]
impl WorkQueue for SqliteWorkQueue {
    async fn send(&self, queue: QueueName, bodies: Vec<String>) -> Result<(), PortError> {
        if bodies.is_empty() {
            return Ok(());
        }
        let now = self.now_ms();
        let mut tx = self.pool.begin().await.map_err(db_error("queue send"))?;
        for chunk in bodies.chunks(500) {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO queue_messages (queue, body, visible_at, created_at) ",
            );
            query.push_values(chunk, |mut row, body| {
                row.push_bind(queue.as_str())
                    .push_bind(body)
                    .push_bind(now)
                    .push_bind(now);
            });
            query
                .build()
                .execute(&mut *tx)
                .await
                .map_err(db_error("queue send"))?;
        }
        tx.commit().await.map_err(db_error("queue send"))
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        let settings = QueueSettings::for_queue(queue);
        let now = self.now_ms();
        sqlx::query(
            "UPDATE queue_messages SET state = 'dead'
             WHERE queue = ? AND state = 'ready' AND visible_at <= ? AND receive_count >= ?",
        )
        .bind(queue.as_str())
        .bind(now)
        .bind(settings.max_receives)
        .execute(&self.pool)
        .await
        .map_err(db_error("queue receive"))?;
        // One statement, so two consumers never receive the same message at once.
        let rows = sqlx::query(
            "UPDATE queue_messages SET visible_at = ?, receive_count = receive_count + 1
             WHERE id IN (SELECT id FROM queue_messages
                          WHERE queue = ? AND state = 'ready' AND visible_at <= ?
                          ORDER BY id LIMIT ?)
             RETURNING id, body, receive_count",
        )
        .bind(now + settings.visibility_timeout.as_millis() as i64)
        .bind(queue.as_str())
        .bind(now)
        .bind(max as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("queue receive"))?;
        let mut messages: Vec<ReceivedMessage> = rows
            .into_iter()
            .map(|row| {
                let id: i64 = row.get("id");
                let receive_count: i64 = row.get("receive_count");
                ReceivedMessage {
                    body: row.get("body"),
                    receipt: format!("{id}:{receive_count}"),
                    receive_count: receive_count as u32,
                }
            })
            .collect();
        messages.sort_by_key(|m| {
            m.receipt
                .split(':')
                .next()
                .and_then(|id| id.parse::<i64>().ok())
        });
        Ok(messages)
    }

    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), PortError> {
        self.ack_many(queue, &[receipt.to_owned()]).await
    }

    async fn ack_many(&self, _queue: QueueName, receipts: &[String]) -> Result<(), PortError> {
        let parsed = receipts
            .iter()
            .map(|receipt| {
                receipt
                    .split_once(':')
                    .and_then(|(id, count)| {
                        Some((id.parse::<i64>().ok()?, count.parse::<i64>().ok()?))
                    })
                    .ok_or_else(|| PortError(format!("invalid receipt {receipt:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // A receipt from an earlier receive no longer owns the message.
        for chunk in parsed.chunks(500) {
            // `id IN (…)` finds the rows by rowid; the pairs then check that
            // each receipt still owns its message.
            let mut query = sqlx::QueryBuilder::new("DELETE FROM queue_messages WHERE id IN ");
            query.push_tuples(chunk, |mut tuple, (id, _)| {
                tuple.push_bind(*id);
            });
            query.push(" AND (id, receive_count) IN (VALUES ");
            let mut values = query.separated(", ");
            for (id, count) in chunk {
                values.push("(");
                values.push_bind_unseparated(*id);
                values.push_unseparated(", ");
                values.push_bind_unseparated(*count);
                values.push_unseparated(")");
            }
            query.push(")");
            query
                .build()
                .execute(&self.pool)
                .await
                .map_err(db_error("queue ack"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::{open_pool, Database};
    use chrono::{TimeZone, Utc};
    use domain::ports::FakeClock;

    async fn queue() -> (SqliteWorkQueue, Arc<FakeClock>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let pool = open_pool(dir.path(), Database::Work).await.unwrap();
        let clock = Arc::new(FakeClock::at(
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        ));
        (SqliteWorkQueue::new(pool, clock.clone()), clock, dir)
    }

    #[tokio::test]
    async fn a_received_message_is_hidden_until_its_visibility_timeout_ends() {
        let (q, clock, _dir) = queue().await;
        q.send(QueueName::Send, vec!["a".into(), "b".into()])
            .await
            .unwrap();
        let first = q.receive(QueueName::Send, 10).await.unwrap();
        assert_eq!(
            first.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(q.receive(QueueName::Send, 10).await.unwrap().is_empty());
        q.ack(QueueName::Send, &first[0].receipt).await.unwrap();
        clock.advance(chrono::Duration::seconds(61));
        let again = q.receive(QueueName::Send, 10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].body.as_str(), again[0].receive_count), ("b", 2));
    }

    #[tokio::test]
    async fn a_stale_receipt_does_not_delete_a_redelivered_message() {
        let (q, clock, _dir) = queue().await;
        q.send(QueueName::Send, vec!["a".into()]).await.unwrap();
        let first = q.receive(QueueName::Send, 1).await.unwrap();
        clock.advance(chrono::Duration::seconds(61));
        let second = q.receive(QueueName::Send, 1).await.unwrap();
        q.ack(QueueName::Send, &first[0].receipt).await.unwrap();
        assert_eq!(q.depth(QueueName::Send).await.unwrap(), 1);
        q.ack(QueueName::Send, &second[0].receipt).await.unwrap();
        assert_eq!(q.depth(QueueName::Send).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_message_received_too_often_is_dead_lettered() {
        let (q, clock, _dir) = queue().await;
        q.send(QueueName::Send, vec!["poison".into()])
            .await
            .unwrap();
        for attempt in 1..=5 {
            let got = q.receive(QueueName::Send, 1).await.unwrap();
            assert_eq!(got[0].receive_count, attempt);
            clock.advance(chrono::Duration::seconds(61));
        }
        assert!(q.receive(QueueName::Send, 1).await.unwrap().is_empty());
        assert_eq!(q.dead_letters(QueueName::Send).await.unwrap(), ["poison"]);
        assert_eq!(q.depth(QueueName::Send).await.unwrap(), 0);
    }
}
