//! A simulated SMS provider. It keeps an outbox of every message it
//! accepted, keyed by idempotency key: a repeated request returns the first
//! reference and is not a second message, as with GOV.UK Notify.
//!
//! Deterministic outcomes by number: a number ending in `99` is refused as a
//! permanent failure (a number no longer in service).

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::ports::{PortError, ProviderError, SmsProvider, SmsRequest};
use serde::Serialize;
use sqlx::{Row, SqlitePool};

use crate::embedded::Database;

#[derive(Debug, Clone, Default)]
pub struct SmsSimulatorSettings {
    /// How long the simulated provider takes to answer each request.
    pub delay: Duration,
}

pub struct SimulatedSms {
    pool: SqlitePool,
    settings: SmsSimulatorSettings,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxMessage {
    pub reference: String,
    pub idempotency_key: String,
    pub to: String,
    pub body: String,
    pub accepted_at: DateTime<Utc>,
}

impl SimulatedSms {
    pub async fn open(
        data_dir: &std::path::Path,
        settings: SmsSimulatorSettings,
    ) -> Result<Self, PortError> {
        let pool = crate::embedded::open_pool(data_dir, Database::Simulators).await?;
        Ok(Self { pool, settings })
    }

    /// Every accepted message, oldest first.
    pub async fn outbox(&self) -> Result<Vec<OutboxMessage>, PortError> {
        let rows = sqlx::query("SELECT reference, idempotency_key, to_number, body, accepted_at FROM sms_outbox ORDER BY accepted_at, reference")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| PortError::new("sms outbox", e))?;
        Ok(rows
            .into_iter()
            .map(|row| OutboxMessage {
                reference: row.get("reference"),
                idempotency_key: row.get("idempotency_key"),
                to: row.get("to_number"),
                body: row.get("body"),
                accepted_at: DateTime::from_timestamp_millis(row.get("accepted_at"))
                    .unwrap_or_default(),
            })
            .collect())
    }

    pub async fn outbox_count(&self) -> Result<u64, PortError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sms_outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| PortError::new("sms outbox", e))?;
        Ok(n as u64)
    }
}

#[async_trait::async_trait]
impl SmsProvider for SimulatedSms {
    async fn send_sms(&self, request: &SmsRequest) -> Result<String, ProviderError> {
        if !self.settings.delay.is_zero() {
            tokio::time::sleep(self.settings.delay).await;
        }
        if let Some(refusal) = super::refusal_for(&request.to) {
            return Err(refusal);
        }
        let unavailable =
            |e: sqlx::Error| ProviderError::Unavailable(format!("simulator outbox: {e}"));
        sqlx::query(
            "INSERT INTO sms_outbox (idempotency_key, reference, to_number, body, accepted_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&request.idempotency_key)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&request.to)
        .bind(&request.body)
        .bind(Utc::now().timestamp_millis())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        sqlx::query_scalar("SELECT reference FROM sms_outbox WHERE idempotency_key = ?")
            .bind(&request.idempotency_key)
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: &str, to: &str) -> SmsRequest {
        SmsRequest {
            idempotency_key: key.into(),
            to: to.into(),
            body: "Hello".into(),
        }
    }

    #[tokio::test]
    async fn a_repeated_request_is_one_message_with_one_reference() {
        let dir = tempfile::tempdir().unwrap();
        let sms = SimulatedSms::open(dir.path(), Default::default())
            .await
            .unwrap();
        let first = sms.send_sms(&request("k1", "+447700100123")).await.unwrap();
        let again = sms.send_sms(&request("k1", "+447700100123")).await.unwrap();
        let other = sms.send_sms(&request("k2", "+447700100123")).await.unwrap();
        assert_eq!(first, again);
        assert_ne!(first, other);
        assert_eq!(sms.outbox_count().await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_number_ending_in_99_fails_permanently_and_is_not_in_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let sms = SimulatedSms::open(dir.path(), Default::default())
            .await
            .unwrap();
        assert_eq!(
            sms.send_sms(&request("k1", "+447700100199")).await,
            Err(ProviderError::PermanentFailure)
        );
        assert_eq!(sms.outbox_count().await.unwrap(), 0);
    }
}
