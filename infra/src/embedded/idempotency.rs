//! Idempotency records on SQLite. A claim is one upsert, so two requests
//! with the same key never both win.

use chrono::{DateTime, Utc};
use domain::ports::{IdempotencyClaim, IdempotencyRecords, PortError, ProviderReferences};
use sqlx::{Row, SqlitePool};

use super::db::db_error;

pub struct SqliteIdempotency {
    pool: SqlitePool,
}

impl SqliteIdempotency {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

#[async_trait::async_trait]
impl IdempotencyRecords for SqliteIdempotency {
    async fn claim(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        stale_after: chrono::Duration,
        expires_at: DateTime<Utc>,
    ) -> Result<IdempotencyClaim, PortError> {
        let now_ms = now.timestamp_millis();
        let claimed = sqlx::query(
            "INSERT INTO idempotency (scope, key, fingerprint, state, result, claimed_at, expires_at)
             VALUES (?1, ?2, ?3, 'claimed', NULL, ?4, ?5)
             ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'claimed',
               result = NULL, claimed_at = excluded.claimed_at, expires_at = excluded.expires_at
             WHERE idempotency.expires_at <= ?4
                OR (idempotency.state = 'claimed' AND idempotency.claimed_at <= ?6 AND idempotency.fingerprint = ?3)
             RETURNING key",
        )
        .bind(scope)
        .bind(key)
        .bind(fingerprint)
        .bind(now_ms)
        .bind(expires_at.timestamp_millis())
        .bind(now_ms - stale_after.num_milliseconds())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("idempotency claim"))?;
        if claimed.is_some() {
            return Ok(IdempotencyClaim::Claimed);
        }
        let row = sqlx::query(
            "SELECT fingerprint, state, result FROM idempotency WHERE scope = ? AND key = ?",
        )
        .bind(scope)
        .bind(key)
        .fetch_one(&self.pool)
        .await
        .map_err(db_error("idempotency claim"))?;
        let existing: String = row.get("fingerprint");
        let state: String = row.get("state");
        Ok(if existing != fingerprint {
            IdempotencyClaim::Mismatch
        } else if state == "done" {
            IdempotencyClaim::Done(row.get::<Option<String>, _>("result").unwrap_or_default())
        } else {
            IdempotencyClaim::InProgress
        })
    }

    async fn complete(&self, scope: &str, key: &str, result: &str) -> Result<(), PortError> {
        sqlx::query(
            "UPDATE idempotency SET state = 'done', result = ? WHERE scope = ? AND key = ?",
        )
        .bind(result)
        .bind(scope)
        .bind(key)
        .execute(&self.pool)
        .await
        .map_err(db_error("idempotency complete"))?;
        Ok(())
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), PortError> {
        sqlx::query("DELETE FROM idempotency WHERE scope = ? AND key = ? AND state = 'claimed'")
            .bind(scope)
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(db_error("idempotency release"))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl ProviderReferences for SqliteIdempotency {
    async fn remember(&self, provider_reference: &str, reference: &str) -> Result<(), PortError> {
        sqlx::query(
            "INSERT INTO provider_references (provider_reference, reference) VALUES (?, ?)
             ON CONFLICT (provider_reference) DO NOTHING",
        )
        .bind(provider_reference)
        .bind(reference)
        .execute(&self.pool)
        .await
        .map_err(db_error("provider reference"))?;
        Ok(())
    }

    async fn recall(&self, provider_reference: &str) -> Result<Option<String>, PortError> {
        sqlx::query_scalar("SELECT reference FROM provider_references WHERE provider_reference = ?")
            .bind(provider_reference)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("provider reference"))
    }
}
