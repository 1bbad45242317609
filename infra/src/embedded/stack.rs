//! The whole product on embedded adapters, in one process: the use cases
//! plus the background steps (projector, reactor, timers, queue workers,
//! batch completion) that `batchbook serve` runs in a loop and tests drive
//! step by step.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use domain::appointments::AppointmentBook;
use domain::audit::Checkpoint;
use domain::links::LinkKey;
use domain::ports::{Clock, PatientIndex, PortError, QueueName, SystemClock, WorkQueue};
use domain::usecases::{JobError, Links, Ports};
use domain::Batchbook;
use sqlx::SqlitePool;

use super::db::db_error;
use super::{
    open_pool, open_reader, Database, EmbeddedEventRepository, EventLog, FsBlobStore, GroupWriter,
    SqliteIdempotency, SqlitePatientIndex, SqliteTimers, SqliteViews, SqliteWorkQueue,
};
use crate::simulators::{
    deliver_receipts, BookConfig, ClinicalSystemPace, ProviderSimulatorSettings,
    SimulatedAppointmentBook, SimulatedClinicalSystem, SimulatedPds, SimulatedProviders,
    SqliteBookingRows, SqliteRecordStore, BUNDLED_BOOK,
};

/// Wraps the work queue the use cases see; tests use it to deliver every
/// message twice.
pub type QueueLayer = Box<dyn Fn(Arc<dyn WorkQueue>) -> Arc<dyn WorkQueue> + Send + Sync>;

/// Wraps the appointment book the use cases see; tests use it to slow the
/// book down or lose its answers.
pub type BookLayer =
    Box<dyn Fn(Arc<dyn AppointmentBook>) -> Arc<dyn AppointmentBook> + Send + Sync>;

const REACTOR: &str = "reactor";
/// How often `serve` checkpoints the event chain's head.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);
const PAGE: usize = 1_000;
const SEND_BATCH: usize = 1_000;
const RECEIPTS: usize = 2_000;
/// Bookings a round takes to the appointment book at once.
const BOOKINGS: usize = 50;

pub struct EmbeddedConfig {
    pub data_dir: PathBuf,
    pub clock: Arc<dyn Clock>,
    /// The simulated SMS, email and NHS App providers. Their receipts are
    /// timed by `clock`.
    pub providers: ProviderSimulatorSettings,
    /// The simulated PDS and NHS App reachability.
    pub pds: Arc<SimulatedPds>,
    /// How fast the simulated clinical system saves records.
    pub clinical_system: ClinicalSystemPace,
    pub queue_layer: Option<QueueLayer>,
    /// The page patients' links open, e.g. `https://example.nhs.uk/l`.
    pub link_base_url: String,
    /// The key link tokens come from; by default `link.key` in the data
    /// directory, made at first start.
    pub link_key: Option<LinkKey>,
    /// The simulated appointment book Self-Book books into; by default the
    /// bundled one (`fixtures/appointment_book.toml`).
    pub appointment_book: BookConfig,
    pub book_layer: Option<BookLayer>,
}

impl EmbeddedConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            clock: Arc::new(SystemClock),
            providers: ProviderSimulatorSettings::default(),
            pds: Arc::new(SimulatedPds::bundled()),
            clinical_system: ClinicalSystemPace::default(),
            queue_layer: None,
            link_base_url: DEFAULT_LINK_BASE_URL.to_owned(),
            link_key: None,
            appointment_book: BookConfig::parse(BUNDLED_BOOK)
                .expect("the bundled appointment book is valid"),
            book_layer: None,
        }
    }
}

/// Where links point when nothing else is said: the local server's own
/// patient pages (`batchbook serve` on its default address).
pub const DEFAULT_LINK_BASE_URL: &str = "http://127.0.0.1:8080/l";

/// The deployment's link key: `link.key` in the data directory (64 hex
/// characters, readable by its owner only), made at first start from the
/// operating system's random source.
pub async fn link_key(dir: &Path) -> Result<LinkKey, PortError> {
    let path = dir.join("link.key");
    let problem = |e: std::io::Error| PortError::new("link key file", e);
    loop {
        match tokio::fs::read_to_string(&path).await {
            Ok(hex) => {
                return LinkKey::parse_hex(&hex).map_err(|e| PortError::new("link key file", e))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                getrandom::getrandom(&mut bytes).map_err(|e| PortError::new("random source", e))?;
                let mut options = tokio::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                options.mode(0o600);
                match options.open(&path).await {
                    Ok(mut file) => {
                        use tokio::io::AsyncWriteExt;
                        file.write_all(hex::encode(bytes).as_bytes())
                            .await
                            .map_err(problem)?;
                        file.sync_all().await.map_err(problem)?;
                        return Ok(LinkKey::from_bytes(bytes));
                    }
                    // Another process made it first: read theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(problem(e)),
                }
            }
            Err(e) => return Err(problem(e)),
        }
    }
}

pub struct EmbeddedStack {
    pub app: Arc<Batchbook<EmbeddedEventRepository>>,
    pub providers: Arc<SimulatedProviders>,
    /// What the simulated clinical system has saved to patients' records.
    pub records: Arc<SqliteRecordStore>,
    pub queue: Arc<SqliteWorkQueue>,
    pub views: Arc<SqliteViews>,
    /// The simulated appointment book Self-Book books into.
    pub appointments: Arc<SimulatedAppointmentBook>,
    /// How many record writes a round takes on: as many as the clinical
    /// system takes at once.
    record_batch: usize,
    log: EventLog,
    events: SqlitePool,
    work: SqlitePool,
    data_dir: PathBuf,
}

impl EmbeddedStack {
    pub async fn open(config: EmbeddedConfig) -> Result<Self, PortError> {
        let dir = &config.data_dir;
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| PortError::new("data directory", e))?;
        let events = open_pool(dir, Database::Events).await?;
        let work = open_pool(dir, Database::Work).await?;
        let views = Arc::new(SqliteViews::with_reader(
            open_pool(dir, Database::Views).await?,
            open_reader(dir, Database::Views, 4).await?,
        ));
        let providers = Arc::new(
            SimulatedProviders::open(
                dir,
                ProviderSimulatorSettings {
                    clock: config.clock.clone(),
                    ..config.providers.clone()
                },
            )
            .await?,
        );
        let records = Arc::new(SqliteRecordStore::open(dir).await?);
        let clinical_system = Arc::new(SimulatedClinicalSystem::new(
            records.clone(),
            config.clinical_system,
            config.clock.clone(),
        ));
        let queue = Arc::new(SqliteWorkQueue::new(work.clone(), config.clock.clone()));
        let released = queue.release_in_flight().await?;
        if released > 0 {
            tracing::info!(
                released,
                "work left in flight by an earlier run is visible again"
            );
        }
        let idempotency = Arc::new(SqliteIdempotency::new(work.clone()));
        let patients = Arc::new(SqlitePatientIndex::new(work.clone()));
        // A new data directory has nothing from before the index: it is
        // complete from the start. An older one is completed by
        // `index_patients` (which `serve` runs).
        if !patients.is_complete().await? {
            let any: Option<i64> = sqlx::query_scalar("SELECT rowid FROM events LIMIT 1")
                .fetch_optional(&events)
                .await
                .map_err(db_error("event log"))?;
            if any.is_none() {
                patients.mark_complete().await?;
            }
        }
        let appointments = Arc::new(SimulatedAppointmentBook::new(
            Arc::new(SqliteBookingRows::new(providers.pool())),
            &config.appointment_book,
            config.clock.clone(),
        ));
        let app_queue: Arc<dyn WorkQueue> = match &config.queue_layer {
            Some(layer) => layer(queue.clone()),
            None => queue.clone(),
        };
        let ports = Ports {
            blobs: Arc::new(FsBlobStore::new(dir.join("blobs"))),
            queue: app_queue,
            timers: Arc::new(SqliteTimers::new(work.clone())),
            clock: config.clock.clone(),
            sms: providers.clone(),
            email: providers.clone(),
            nhs_app_sender: providers.clone(),
            record: clinical_system,
            views: views.clone(),
            idempotency: idempotency.clone(),
            references: idempotency,
            demographics: Some(config.pds.clone()),
            nhs_app: Some(config.pds.clone()),
            failures: views.clone(),
            appointments: Some(match &config.book_layer {
                Some(layer) => layer(appointments.clone()),
                None => appointments.clone(),
            }),
            links: Links {
                directory: views.clone(),
                key: match config.link_key.clone() {
                    Some(key) => key,
                    None => link_key(dir).await?,
                },
                base_url: config.link_base_url.clone(),
            },
            history: Some(Arc::new(EventLog::new(events.clone()))),
            patients: patients.clone(),
        };
        let writer = GroupWriter::start(events.clone());
        let app = Arc::new(Batchbook::new(
            || EmbeddedEventRepository::new(events.clone(), writer.clone()),
            ports,
        ));
        Ok(Self {
            app,
            providers,
            records,
            record_batch: config.clinical_system.concurrency.max(1),
            queue,
            views,
            appointments,
            log: EventLog::new(events.clone()),
            events,
            work,
            data_dir: dir.clone(),
        })
    }

    /// One round of every background step. Returns how much it did; zero
    /// means there was nothing to do.
    pub async fn tick(&self) -> Result<usize, JobError> {
        let done = self.send_tick().await?;
        Ok(done + self.record_tick().await?)
    }

    /// Every background step but record writes.
    async fn send_tick(&self) -> Result<usize, JobError> {
        let mut done = self.views.catch_up(&self.log, PAGE).await?;
        done += self.react_catch_up().await?;
        done += self.app.fire_due_timers(PAGE).await?;
        done += self.app.process_queue(QueueName::FanOut, 1).await?;
        done += self.app.process_queue(QueueName::Send, SEND_BATCH).await?;
        done += self.app.process_queue(QueueName::Booking, BOOKINGS).await?;
        done += deliver_receipts(&self.app, self.providers.as_ref(), RECEIPTS).await?;
        // Project the sends just made, so completion sees their counts.
        done += self.views.catch_up(&self.log, PAGE).await?;
        done += self.app.complete_settled_batches(PAGE).await?;
        Ok(done)
    }

    /// One round of record writes. They take seconds each, so `run` gives
    /// them a loop of their own and they never hold up sending.
    async fn record_tick(&self) -> Result<usize, JobError> {
        Ok(self
            .app
            .process_queue(QueueName::Record, self.record_batch)
            .await?)
    }

    /// Runs background steps until there is nothing left to do now. Work
    /// waiting on a timer or a visibility timeout is left for later.
    /// The event log, read in commit order.
    pub fn event_log(&self) -> &EventLog {
        &self.log
    }

    pub async fn run_pending_work(&self) -> Result<(), JobError> {
        while self.tick().await? > 0 {}
        Ok(())
    }

    /// The background loop of `batchbook serve`: runs until `shutdown`.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        let sending = Self::keep_running("background step", || self.send_tick());
        let records = Self::keep_running("record write", || self.record_tick());
        let checkpoints = async {
            // A data directory from before the patient index is indexed
            // once, in the background; histories read the long way until
            // it is done.
            if let Err(e) = self.app.index_patients().await {
                tracing::warn!(error = %e, "the patient index was not completed; histories read every list until it is");
            }
            loop {
                tokio::time::sleep(CHECKPOINT_EVERY).await;
                if let Err(e) = self.checkpoint_chain().await {
                    tracing::warn!(error = %e, "the event chain's head was not checkpointed; trying again later");
                }
            }
        };
        tokio::select! {
            _ = shutdown => {}
            _ = sending => {}
            _ = records => {}
            _ = checkpoints => {}
        }
        // The head at shutdown, so the last events are covered too.
        if let Err(e) = self.checkpoint_chain().await {
            tracing::warn!(error = %e, "the event chain's head was not checkpointed at shutdown");
        }
    }

    /// Appends the event chain's head to `chain-checkpoints.jsonl` when it
    /// moved (see `audit.rs`).
    pub async fn checkpoint_chain(&self) -> Result<Option<Checkpoint>, PortError> {
        super::audit::checkpoint(&self.data_dir, &self.events).await
    }

    /// Runs `step` forever, pausing when it had nothing to do or failed.
    async fn keep_running<F, Fut>(what: &'static str, step: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<usize, JobError>>,
    {
        loop {
            let pause = match step().await {
                Ok(0) => Duration::from_millis(200),
                Ok(_) => Duration::ZERO,
                Err(e) => {
                    tracing::warn!(error = %e, what, "background step failed; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::time::sleep(pause).await;
        }
    }

    /// Drops the read models and rebuilds them from the whole event log.
    pub async fn rebuild_views(&self) -> Result<(), JobError> {
        self.views.reset().await?;
        self.views.catch_up(&self.log, PAGE).await?;
        Ok(())
    }

    /// Feeds newly stored events to the reactor. Its effects (queue
    /// messages, timers) are idempotent, so the position is saved after them.
    async fn react_catch_up(&self) -> Result<usize, JobError> {
        let position: i64 = sqlx::query_scalar("SELECT position FROM positions WHERE name = ?")
            .bind(REACTOR)
            .fetch_optional(&self.work)
            .await
            .map_err(db_error("reactor position"))?
            .unwrap_or(0);
        let events = self.log.read_after(position, PAGE).await?;
        let Some(&(last, _)) = events.last() else {
            return Ok(0);
        };
        let mut acted = 0;
        for (position, event) in events {
            match self.app.react(event).await {
                Ok(true) => acted += 1,
                Ok(false) => {}
                Err(JobError::Malformed(reason)) => {
                    tracing::error!(position, reason, "event skipped by the reactor");
                }
                Err(retry) => return Err(retry),
            }
        }
        sqlx::query("INSERT INTO positions (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position")
            .bind(REACTOR)
            .bind(last)
            .execute(&self.work)
            .await
            .map_err(db_error("reactor position"))?;
        // Reading the log counts as progress only when something happened.
        Ok(acted.max(1))
    }
}
