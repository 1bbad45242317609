//! The simulated message providers: SMS, email and NHS App behind the same
//! ports as GOV.UK Notify and NHS Notify. One outbox keeps every message
//! accepted, keyed by idempotency key: a repeated request returns the first
//! reference and is not a second message, as with the real providers.
//!
//! Outcomes are deterministic per number or address (see
//! [`super::outcome_for`]); a receipt falls due `receipt_delay` after the
//! message was accepted, by the stack's clock, and is handed over by
//! [`SimulatedProviders::take_due_receipts`] as a provider's callback
//! would be.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::ports::{Clock, PortError, ProviderError, Receipt, SystemClock};
use events::Channel;
use serde::Serialize;
use sqlx::{Row, SqlitePool};

use super::{outcome_for, ReceiptSource};
use crate::embedded::Database;

#[derive(Clone)]
pub struct ProviderSimulatorSettings {
    /// How long the simulated provider takes to answer each request.
    pub delay: Duration,
    /// How long after a message is accepted its receipt comes.
    pub receipt_delay: chrono::Duration,
    /// The clock receipts are timed by: the stack's, so tests can move it.
    pub clock: Arc<dyn Clock>,
}

impl Default for ProviderSimulatorSettings {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            receipt_delay: chrono::Duration::zero(),
            clock: Arc::new(SystemClock),
        }
    }
}

pub struct SimulatedProviders {
    pool: SqlitePool,
    settings: ProviderSimulatorSettings,
    /// Accepted messages, written to the outbox in groups.
    accepted: tokio::sync::mpsc::UnboundedSender<Accepted>,
}

/// One message the simulator took, waiting for its outbox row.
struct Accepted {
    idempotency_key: String,
    channel: Channel,
    to: String,
    subject: Option<String>,
    body: String,
    accepted_at: i64,
    receipt: Option<String>,
    receipt_due_at: Option<i64>,
    reply: tokio::sync::oneshot::Sender<Result<String, String>>,
}

/// Writes a group of accepted messages in one statement per 500 and
/// answers each with its outbox reference: the first one's, for a key
/// accepted before (in this group or earlier).
async fn write_accepted(pool: &SqlitePool, group: Vec<Accepted>) {
    let mut first_of_key: HashMap<String, usize> = HashMap::new();
    let mut unique = Vec::new();
    for (i, message) in group.iter().enumerate() {
        if !first_of_key.contains_key(&message.idempotency_key) {
            first_of_key.insert(message.idempotency_key.clone(), i);
            unique.push(message);
        }
    }
    let mut references: HashMap<String, String> = HashMap::new();
    let mut failure = None;
    for chunk in unique.chunks(500) {
        let mut query = sqlx::QueryBuilder::new(
            "INSERT INTO sms_outbox (idempotency_key, reference, channel, to_number, subject, body,
                                     accepted_at, receipt, receipt_due_at) ",
        );
        query.push_values(chunk, |mut row, m| {
            row.push_bind(&m.idempotency_key)
                .push_bind(uuid::Uuid::new_v4().to_string())
                .push_bind(m.channel.as_str())
                .push_bind(&m.to)
                .push_bind(&m.subject)
                .push_bind(&m.body)
                .push_bind(m.accepted_at)
                .push_bind(&m.receipt)
                .push_bind(m.receipt_due_at);
        });
        // A repeated key changes nothing and answers the first reference.
        query.push(
            " ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = idempotency_key
             RETURNING idempotency_key, reference",
        );
        match query
            .build_query_as::<(String, String)>()
            .fetch_all(pool)
            .await
        {
            Ok(rows) => references.extend(rows),
            Err(e) => failure = Some(format!("simulator outbox: {e}")),
        }
    }
    for message in group {
        let answer = match (references.get(&message.idempotency_key), &failure) {
            (Some(reference), _) => Ok(reference.clone()),
            (None, Some(failure)) => Err(failure.clone()),
            (None, None) => Err("simulator outbox: no row for the message".into()),
        };
        let _ = message.reply.send(answer);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxMessage {
    pub reference: String,
    pub idempotency_key: String,
    pub channel: Channel,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub body: String,
    pub accepted_at: DateTime<Utc>,
}

fn channel_named(name: &str) -> Channel {
    match name {
        "email" => Channel::Email,
        "nhs_app" => Channel::NhsApp,
        _ => Channel::Sms,
    }
}

impl SimulatedProviders {
    /// The simulators' database, for the other simulators that keep state.
    pub fn pool(&self) -> SqlitePool {
        self.pool.clone()
    }

    pub async fn open(
        data_dir: &std::path::Path,
        settings: ProviderSimulatorSettings,
    ) -> Result<Self, PortError> {
        let pool = crate::embedded::open_pool(data_dir, Database::Simulators).await?;
        let writes = pool.clone();
        let accepted = crate::embedded::grouped::spawn_grouped(move |group| {
            let pool = writes.clone();
            async move { write_accepted(&pool, group).await }
        });
        Ok(Self {
            pool,
            settings,
            accepted,
        })
    }

    /// Every accepted message, oldest first.
    pub async fn outbox(&self) -> Result<Vec<OutboxMessage>, PortError> {
        let rows = sqlx::query(
            "SELECT reference, idempotency_key, channel, to_number, subject, body, accepted_at
             FROM sms_outbox ORDER BY accepted_at, reference",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| PortError::new("outbox", e))?;
        Ok(rows
            .into_iter()
            .map(|row| OutboxMessage {
                reference: row.get("reference"),
                idempotency_key: row.get("idempotency_key"),
                channel: channel_named(row.get("channel")),
                to: row.get("to_number"),
                subject: row.get("subject"),
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
            .map_err(|e| PortError::new("outbox", e))?;
        Ok(n as u64)
    }

    async fn accept(
        &self,
        channel: Channel,
        idempotency_key: &str,
        to: &str,
        subject: Option<&str>,
        body: &str,
    ) -> Result<String, ProviderError> {
        if !self.settings.delay.is_zero() {
            tokio::time::sleep(self.settings.delay).await;
        }
        let receipt = outcome_for(channel, to)?;
        let now = self.settings.clock.now();
        let receipt_json = receipt.map(|r| serde_json::to_string(&r).expect("receipts serialise"));
        let due = receipt.map(|_| (now + self.settings.receipt_delay).timestamp_millis());
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped = || ProviderError::Unavailable("simulator outbox: its writer stopped".into());
        self.accepted
            .send(Accepted {
                idempotency_key: idempotency_key.to_owned(),
                channel,
                to: to.to_owned(),
                subject: subject.map(str::to_owned),
                body: body.to_owned(),
                accepted_at: now.timestamp_millis(),
                receipt: receipt_json,
                receipt_due_at: due,
                reply,
            })
            .map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(ProviderError::Unavailable)
    }
}

#[async_trait::async_trait]
impl ReceiptSource for SimulatedProviders {
    /// Oldest first.
    async fn take_due_receipts(&self, limit: usize) -> Result<Vec<Receipt>, PortError> {
        let now = self.settings.clock.now();
        let rows = sqlx::query(
            "SELECT idempotency_key, receipt, receipt_due_at FROM sms_outbox
             WHERE receipt_reported = 0 AND receipt_due_at <= ?
             ORDER BY receipt_due_at LIMIT ?",
        )
        .bind(now.timestamp_millis())
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| PortError::new("outbox receipts", e))?;
        rows.into_iter()
            .map(|row| {
                let outcome: String = row.get("receipt");
                Ok(Receipt {
                    reference: row.get("idempotency_key"),
                    outcome: serde_json::from_str(&outcome)
                        .map_err(|e| PortError::new("outbox receipt", e))?,
                    at: DateTime::from_timestamp_millis(row.get("receipt_due_at"))
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn mark_reported(&self, references: &[String]) -> Result<(), PortError> {
        for chunk in references.chunks(500) {
            let mut query = sqlx::QueryBuilder::new(
                "UPDATE sms_outbox SET receipt_reported = 1 WHERE idempotency_key IN ",
            );
            query.push_tuples(chunk, |mut tuple, reference| {
                tuple.push_bind(reference);
            });
            query
                .build()
                .execute(&self.pool)
                .await
                .map_err(|e| PortError::new("outbox receipts", e))?;
        }
        Ok(())
    }
}

crate::simulated_message_ports!(SimulatedProviders);

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ports::{FakeClock, ReceiptOutcome, SmsProvider, SmsRequest};
    use events::DeliveryFailure;

    fn request(key: &str, to: &str) -> SmsRequest {
        SmsRequest {
            idempotency_key: key.into(),
            to: to.into(),
            body: "Hello".into(),
        }
    }

    async fn providers(dir: &tempfile::TempDir) -> (SimulatedProviders, Arc<FakeClock>) {
        let clock = Arc::new(FakeClock::at(
            DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        ));
        let settings = ProviderSimulatorSettings {
            receipt_delay: chrono::Duration::seconds(30),
            clock: clock.clone(),
            ..Default::default()
        };
        (
            SimulatedProviders::open(dir.path(), settings)
                .await
                .unwrap(),
            clock,
        )
    }

    #[tokio::test]
    async fn a_repeated_request_is_one_message_with_one_reference() {
        let dir = tempfile::tempdir().unwrap();
        let (sms, _) = providers(&dir).await;
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
        let (sms, _) = providers(&dir).await;
        assert_eq!(
            sms.send_sms(&request("k1", "+447700100199")).await,
            Err(ProviderError::PermanentFailure)
        );
        assert_eq!(sms.outbox_count().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn receipts_fall_due_after_the_delay_once_each_with_their_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let (sms, clock) = providers(&dir).await;
        sms.send_sms(&request("ok", "+447700100123")).await.unwrap();
        sms.send_sms(&request("temp", "+447700190098"))
            .await
            .unwrap();
        sms.send_sms(&request("silent", "+447700190095"))
            .await
            .unwrap();
        assert!(sms.take_due_receipts(10).await.unwrap().is_empty());
        clock.advance(chrono::Duration::seconds(30));
        let receipts = sms.take_due_receipts(10).await.unwrap();
        let mut outcomes: Vec<_> = receipts
            .iter()
            .map(|r| (r.reference.as_str(), r.outcome))
            .collect();
        outcomes.sort_by_key(|(r, _)| *r);
        assert_eq!(
            outcomes,
            [
                ("ok", ReceiptOutcome::Delivered),
                ("temp", ReceiptOutcome::Failed(DeliveryFailure::Temporary)),
            ]
        );
        let references: Vec<String> = receipts.into_iter().map(|r| r.reference).collect();
        sms.mark_reported(&references).await.unwrap();
        assert!(sms.take_due_receipts(10).await.unwrap().is_empty());
    }
}
