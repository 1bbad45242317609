//! Read models on SQLite, and the projector that builds them from the event
//! log. The projector writes a page of view rows and its position in one
//! transaction: a crash leaves both as they were, so each event is applied
//! exactly once, and a rebuild from position 0 gives the same rows.

use chrono::{DateTime, Utc};
use cqrs_es::persist::EventUpcaster;
use domain::links::LinkRecord;
use domain::ports::{FailureHistory, LinkDirectory, PortError};
use domain::projection::{project, BatchSummary, DeliveryRow, ProjectionError, ViewTransaction};
use domain::usecases::BatchViews;
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::db::db_error;
use super::event_log::EventLog;

const PROJECTOR: &str = "batch_views";

pub struct SqliteViews {
    pool: SqlitePool,
    upcasters: Vec<Box<dyn EventUpcaster>>,
}

impl SqliteViews {
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            upcasters: events::upcast::all(),
        }
    }

    /// Applies the events committed since the last run, a page at a time.
    /// Returns how many events were read.
    pub async fn catch_up(&self, log: &EventLog, page: usize) -> Result<usize, ProjectionError> {
        let mut read = 0;
        loop {
            let position: i64 = sqlx::query_scalar("SELECT position FROM positions WHERE name = ?")
                .bind(PROJECTOR)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error("projector position"))?
                .unwrap_or(0);
            let events = log.read_after(position, page).await?;
            let Some(&(last, _)) = events.last() else {
                return Ok(read);
            };
            read += events.len();
            let mut tx = SqliteViewTx {
                tx: self.pool.begin().await.map_err(db_error("projector"))?,
            };
            for (_, event) in events {
                project(&mut tx, event, &self.upcasters).await?;
            }
            sqlx::query("INSERT INTO positions (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position")
                .bind(PROJECTOR)
                .bind(last)
                .execute(&mut *tx.tx)
                .await
                .map_err(db_error("projector position"))?;
            tx.tx.commit().await.map_err(db_error("projector"))?;
        }
    }

    /// Forgets every view row and the position, so the next catch-up
    /// rebuilds the views from the whole event log.
    pub async fn reset(&self) -> Result<(), PortError> {
        let mut tx = self.pool.begin().await.map_err(db_error("views reset"))?;
        for statement in [
            "DELETE FROM batch_summaries",
            "DELETE FROM deliveries",
            "DELETE FROM recipient_failures",
            "DELETE FROM positions",
        ] {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(db_error("views reset"))?;
        }
        tx.commit().await.map_err(db_error("views reset"))
    }

    /// Every view row, in a stable order: for comparing a rebuilt model with
    /// the live one.
    pub async fn dump(&self) -> Result<(Vec<BatchSummary>, Vec<DeliveryRow>), PortError> {
        let summaries: Vec<String> =
            sqlx::query_scalar("SELECT body FROM batch_summaries ORDER BY batch_id")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error("views dump"))?;
        let deliveries: Vec<String> =
            sqlx::query_scalar("SELECT body FROM deliveries ORDER BY batch_id, row")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error("views dump"))?;
        Ok((decode_all(summaries)?, decode_all(deliveries)?))
    }
}

fn decode_all<T: serde::de::DeserializeOwned>(bodies: Vec<String>) -> Result<Vec<T>, PortError> {
    bodies
        .iter()
        .map(|b| serde_json::from_str(b).map_err(|e| PortError::new("view row", e)))
        .collect()
}

#[async_trait::async_trait]
impl BatchViews for SqliteViews {
    async fn batch(&self, batch_id: &str) -> Result<Option<BatchSummary>, PortError> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM batch_summaries WHERE batch_id = ?")
                .bind(batch_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error("batch view"))?;
        Ok(decode_all(body.into_iter().collect())?.pop())
    }

    async fn failed_deliveries(&self, batch_id: &str) -> Result<Vec<DeliveryRow>, PortError> {
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM deliveries WHERE batch_id = ? AND status = 'failed' ORDER BY row",
        )
        .bind(batch_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("delivery view"))?;
        decode_all(bodies)
    }

    async fn open_deliveries(&self, batch_id: &str) -> Result<Vec<DeliveryRow>, PortError> {
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM deliveries WHERE batch_id = ? AND status = 'open' ORDER BY row",
        )
        .bind(batch_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("delivery view"))?;
        decode_all(bodies)
    }

    async fn deliveries(&self, batch_id: &str) -> Result<Vec<DeliveryRow>, PortError> {
        let bodies: Vec<String> =
            sqlx::query_scalar("SELECT body FROM deliveries WHERE batch_id = ? ORDER BY row")
                .bind(batch_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error("delivery view"))?;
        decode_all(bodies)
    }

    async fn settled_batches(&self, limit: usize) -> Result<Vec<BatchSummary>, PortError> {
        let bodies: Vec<String> =
            sqlx::query_scalar("SELECT body FROM batch_summaries WHERE settled = 1 LIMIT ?")
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error("batch view"))?;
        decode_all(bodies)
    }
}

struct SqliteViewTx {
    tx: Transaction<'static, Sqlite>,
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, PortError> {
    serde_json::to_string(value).map_err(|e| PortError::new("view row", e))
}

#[async_trait::async_trait]
impl ViewTransaction for SqliteViewTx {
    async fn batch(&mut self, batch_id: &str) -> Result<Option<BatchSummary>, PortError> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM batch_summaries WHERE batch_id = ?")
                .bind(batch_id)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(db_error("batch view"))?;
        Ok(decode_all(body.into_iter().collect())?.pop())
    }

    async fn put_batch(&mut self, summary: &BatchSummary) -> Result<(), PortError> {
        sqlx::query(
            "INSERT INTO batch_summaries (batch_id, organisation_id, status, settled, body, last_sequence)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (batch_id) DO UPDATE SET organisation_id = excluded.organisation_id,
               status = excluded.status, settled = excluded.settled, body = excluded.body,
               last_sequence = excluded.last_sequence",
        )
        .bind(&summary.batch_id)
        .bind(&summary.organisation_id)
        .bind(summary.status.label())
        .bind(summary.is_settled())
        .bind(to_json(summary)?)
        .bind(summary.last_sequence as i64)
        .execute(&mut *self.tx)
        .await
        .map_err(db_error("batch view"))?;
        Ok(())
    }

    async fn delivery(
        &mut self,
        batch_id: &str,
        row: u64,
    ) -> Result<Option<DeliveryRow>, PortError> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM deliveries WHERE batch_id = ? AND row = ?")
                .bind(batch_id)
                .bind(row as i64)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(db_error("delivery view"))?;
        Ok(decode_all(body.into_iter().collect())?.pop())
    }

    async fn put_delivery(&mut self, row: &DeliveryRow) -> Result<(), PortError> {
        sqlx::query(
            "INSERT INTO deliveries (batch_id, row, status, body, last_sequence) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (batch_id, row) DO UPDATE SET status = excluded.status, body = excluded.body,
               last_sequence = excluded.last_sequence",
        )
        .bind(&row.batch_id)
        .bind(row.row as i64)
        .bind(row.view_status())
        .bind(to_json(row)?)
        .bind(row.last_sequence as i64)
        .execute(&mut *self.tx)
        .await
        .map_err(db_error("delivery view"))?;
        Ok(())
    }

    async fn record_failure(
        &mut self,
        organisation_id: &str,
        fingerprint: &str,
        failed_at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        sqlx::query(
            "INSERT INTO recipient_failures (organisation_id, fingerprint, last_failed_at) VALUES (?, ?, ?)
             ON CONFLICT (organisation_id, fingerprint) DO UPDATE
               SET last_failed_at = max(last_failed_at, excluded.last_failed_at)",
        )
        .bind(organisation_id)
        .bind(fingerprint)
        .bind(failed_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .execute(&mut *self.tx)
        .await
        .map_err(db_error("failure history"))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl FailureHistory for SqliteViews {
    async fn last_failure(
        &self,
        organisation_id: &str,
        fingerprint: &str,
    ) -> Result<Option<DateTime<Utc>>, PortError> {
        let at: Option<String> = sqlx::query_scalar(
            "SELECT last_failed_at FROM recipient_failures WHERE organisation_id = ? AND fingerprint = ?",
        )
        .bind(organisation_id)
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("failure history"))?;
        at.map(|at| {
            DateTime::parse_from_rfc3339(&at)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|e| PortError::new("failure history", e))
        })
        .transpose()
    }
}

#[async_trait::async_trait]
impl LinkDirectory for SqliteViews {
    async fn register(&self, links: Vec<LinkRecord>) -> Result<(), PortError> {
        if links.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(db_error("links"))?;
        for link in &links {
            sqlx::query(
                "INSERT INTO links (token_sha256, body) VALUES (?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(&link.token_sha256)
            .bind(to_json(link)?)
            .execute(&mut *tx)
            .await
            .map_err(db_error("links"))?;
        }
        tx.commit().await.map_err(db_error("links"))
    }

    async fn find(&self, token_sha256: &str) -> Result<Option<LinkRecord>, PortError> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM links WHERE token_sha256 = ?")
                .bind(token_sha256)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error("links"))?;
        body.map(|b| serde_json::from_str(&b).map_err(|e| PortError::new("link record", e)))
            .transpose()
    }
}
