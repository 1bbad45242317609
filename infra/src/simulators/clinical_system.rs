//! The simulated GP clinical system behind the `PatientRecord` port, where
//! sent messages are saved. Like EMIS or SystmOne it is slow (about 2 s per
//! patient by default) and takes only so many writes at once; it keeps one
//! entry per idempotency key, so a repeated write is not a second entry.
//! Where entries are kept is a [`RecordStore`]: SQLite locally, the
//! simulator outbox table on sandbox stacks.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::ports::{Clock, PatientRecord, PortError, RecordEntry, RecordError};
use serde::Serialize;
use sqlx::{Row, SqlitePool};
use tokio::sync::Semaphore;

/// How the simulated clinical system paces writes.
#[derive(Debug, Clone, Copy)]
pub struct ClinicalSystemPace {
    /// How long one write takes.
    pub delay: Duration,
    /// How many writes it takes at once.
    pub concurrency: usize,
}

impl Default for ClinicalSystemPace {
    fn default() -> Self {
        Self {
            delay: Duration::from_secs(2),
            concurrency: 8,
        }
    }
}

impl ClinicalSystemPace {
    /// No waiting: for tests.
    pub fn instant() -> Self {
        Self {
            delay: Duration::ZERO,
            concurrency: 64,
        }
    }
}

/// An entry as the simulated clinical system keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedEntry {
    pub idempotency_key: String,
    pub organisation_id: String,
    pub nhs_number: String,
    pub snomed_code: Option<String>,
    pub channel: String,
    pub text: String,
    pub saved_at: DateTime<Utc>,
}

/// Where the simulator keeps entries: once per idempotency key.
#[async_trait::async_trait]
pub trait RecordStore: Send + Sync {
    async fn put_once(&self, entry: &RecordEntry, saved_at: DateTime<Utc>)
        -> Result<(), PortError>;
}

pub struct SimulatedClinicalSystem {
    store: Arc<dyn RecordStore>,
    pace: ClinicalSystemPace,
    permits: Semaphore,
    clock: Arc<dyn Clock>,
}

impl SimulatedClinicalSystem {
    pub fn new(
        store: Arc<dyn RecordStore>,
        pace: ClinicalSystemPace,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            permits: Semaphore::new(pace.concurrency.max(1)),
            pace,
            clock,
        }
    }
}

#[async_trait::async_trait]
impl PatientRecord for SimulatedClinicalSystem {
    async fn save(&self, entry: &RecordEntry) -> Result<(), RecordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| RecordError::Unavailable(e.to_string()))?;
        if !self.pace.delay.is_zero() {
            tokio::time::sleep(self.pace.delay).await;
        }
        self.store
            .put_once(entry, self.clock.now())
            .await
            .map_err(|e| RecordError::Unavailable(e.0))
    }
}

/// The local simulator's entries, in `simulators.sqlite`.
pub struct SqliteRecordStore {
    pool: SqlitePool,
}

impl SqliteRecordStore {
    pub async fn open(data_dir: &std::path::Path) -> Result<Self, PortError> {
        let pool =
            crate::embedded::open_pool(data_dir, crate::embedded::Database::Simulators).await?;
        Ok(Self { pool })
    }

    /// Every entry, oldest first.
    pub async fn entries(&self) -> Result<Vec<SavedEntry>, PortError> {
        let rows = sqlx::query(
            "SELECT idempotency_key, organisation_id, nhs_number, snomed_code, channel, text, saved_at
             FROM record_entries ORDER BY saved_at, idempotency_key",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| PortError::new("record entries", e))?;
        Ok(rows
            .into_iter()
            .map(|row| SavedEntry {
                idempotency_key: row.get("idempotency_key"),
                organisation_id: row.get("organisation_id"),
                nhs_number: row.get("nhs_number"),
                snomed_code: row.get("snomed_code"),
                channel: row.get("channel"),
                text: row.get("text"),
                saved_at: DateTime::from_timestamp_millis(row.get("saved_at")).unwrap_or_default(),
            })
            .collect())
    }
}

#[async_trait::async_trait]
impl RecordStore for SqliteRecordStore {
    async fn put_once(
        &self,
        entry: &RecordEntry,
        saved_at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        sqlx::query(
            "INSERT INTO record_entries (idempotency_key, organisation_id, nhs_number, snomed_code,
                                         channel, text, sent_at, saved_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&entry.idempotency_key)
        .bind(&entry.organisation_id)
        .bind(&entry.nhs_number)
        .bind(&entry.snomed_code)
        .bind(entry.channel.as_str())
        .bind(&entry.text)
        .bind(entry.sent_at.timestamp_millis())
        .bind(saved_at.timestamp_millis())
        .execute(&self.pool)
        .await
        .map_err(|e| PortError::new("record entries", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ports::FakeClock;
    use events::Channel;

    fn entry(key: &str) -> RecordEntry {
        RecordEntry {
            idempotency_key: key.into(),
            organisation_id: "A12345".into(),
            nhs_number: "9990000026".into(),
            snomed_code: Some("1240441000000109".into()),
            text: "Dear Aisha".into(),
            channel: Channel::Sms,
            sent_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        }
    }

    #[tokio::test]
    async fn a_repeated_write_is_one_entry_and_writes_wait_their_turn() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteRecordStore::open(dir.path()).await.unwrap());
        let clock = Arc::new(FakeClock::at(
            DateTime::from_timestamp(1_800_000_600, 0).unwrap(),
        ));
        let pace = ClinicalSystemPace {
            delay: Duration::from_millis(50),
            concurrency: 2,
        };
        let system = SimulatedClinicalSystem::new(store.clone(), pace, clock);
        let started = std::time::Instant::now();
        let keys = ["k1", "k2", "k3", "k4", "k1"];
        let results =
            futures::future::join_all(keys.iter().map(|k| async { system.save(&entry(k)).await }))
                .await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        // Five writes, two at a time, 50 ms each: at least three rounds.
        assert!(started.elapsed() >= Duration::from_millis(150));
        let entries = store.entries().await.unwrap();
        let saved: Vec<&str> = entries.iter().map(|e| e.idempotency_key.as_str()).collect();
        assert_eq!(saved, ["k1", "k2", "k3", "k4"]);
        assert_eq!(entries[0].snomed_code.as_deref(), Some("1240441000000109"));
        assert_eq!(entries[0].nhs_number, "9990000026");
    }
}
