//! The port traits the logic needs. Each has an embedded adapter and an AWS
//! adapter in `infra`; simulators stand in for outside services behind the
//! same traits. Errors that cross a port never carry patient data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::values::NhsNumber;

/// A failure of infrastructure behind a port (a disk, a database, a network).
/// The message is for operators and never contains patient data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PortError(pub String);

impl PortError {
    pub fn new(context: &str, err: impl std::fmt::Display) -> Self {
        Self(format!("{context}: {err}"))
    }
}

/// Where time comes from, so that every timer can be tested without waiting.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until a test moves it.
pub struct FakeClock(std::sync::Mutex<DateTime<Utc>>);

impl FakeClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        Self(std::sync::Mutex::new(now))
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

/// Files: uploaded lists, checked-list artifacts, reports.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync {
    /// Writes the whole object; a reader sees the old one or the new one.
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), PortError>;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PortError>;

    /// Whether an object is there, without reading it. Stores override this
    /// with a cheap check (a file's metadata, an S3 HEAD).
    async fn exists(&self, key: &str) -> Result<bool, PortError> {
        Ok(self.get(key).await?.is_some())
    }

    /// A URL the frontend can PUT an object to directly, where the store
    /// offers one (S3); `None` where uploads go through the API instead.
    async fn presigned_put(
        &self,
        _key: &str,
        _expires: std::time::Duration,
    ) -> Result<Option<String>, PortError> {
        Ok(None)
    }

    /// A URL to download an object directly, where the store offers one.
    async fn presigned_get(
        &self,
        _key: &str,
        _expires: std::time::Duration,
    ) -> Result<Option<String>, PortError> {
        Ok(None)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueName {
    /// One message per batch send: read the list, enqueue one send per patient.
    FanOut,
    /// One message per patient message to send.
    Send,
    /// One message per patient record to write in the clinical system. Its
    /// own queue, because the clinical system is slow (seconds per patient)
    /// and limits concurrency: record writes must never hold up sends.
    Record,
    /// One message per Self-Book booking or cancellation to make in the
    /// appointment book: its own queue, so a slow book never holds up sends.
    Booking,
}

impl QueueName {
    pub const ALL: [QueueName; 4] = [
        QueueName::FanOut,
        QueueName::Send,
        QueueName::Record,
        QueueName::Booking,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FanOut => "fan-out",
            Self::Send => "send",
            Self::Record => "record",
            Self::Booking => "booking",
        }
    }
}

/// A message received from a queue. It stays invisible to other consumers
/// until its visibility timeout ends; `ack` removes it for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub body: String,
    /// Opaque; valid only for this receipt, like an SQS receipt handle.
    pub receipt: String,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
}

/// At-least-once work queues: a message may arrive twice, so every consumer
/// is idempotent.
#[async_trait::async_trait]
pub trait WorkQueue: Send + Sync {
    async fn send(&self, queue: QueueName, bodies: Vec<String>) -> Result<(), PortError>;
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
    ) -> Result<Vec<ReceivedMessage>, PortError>;
    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), PortError>;
    /// Acknowledges many at once; adapters that can do it in one call do.
    async fn ack_many(&self, queue: QueueName, receipts: &[String]) -> Result<(), PortError> {
        for receipt in receipts {
            self.ack(queue, receipt).await?;
        }
        Ok(())
    }
}

/// A job the timer sweeper runs when it falls due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum TimerJob {
    StartScheduledSend {
        organisation_id: String,
        batch_id: String,
    },
    /// Put a fan-out on the queue: one day of a staggered send, or the SMS
    /// and NHS App messages held to the sending window.
    FanOut {
        organisation_id: String,
        batch_id: String,
        #[serde(default)]
        day: Option<u32>,
        #[serde(default)]
        skip_email: bool,
    },
    /// NHS App fallbacks and the 72-hour rule for one batch's messages.
    FollowUp {
        organisation_id: String,
        batch_id: String,
    },
    /// A message that reached a worker outside the sending window goes back
    /// on the send queue when the window opens.
    ReleaseSend { body: String },
    /// Save to the record the messages a cancelled batch did send, once
    /// the sends in flight at the cancel have landed.
    SaveRecords {
        organisation_id: String,
        batch_id: String,
    },
    /// Questionnaire reminders due for one batch (days 3 and 6).
    Reminders {
        organisation_id: String,
        batch_id: String,
    },
    /// The inhaler series' texts due for one batch.
    Series {
        organisation_id: String,
        batch_id: String,
    },
    /// Self-Book invites of one batch whose links have expired with
    /// nothing booked: each is Timed Out.
    InviteExpiry {
        organisation_id: String,
        batch_id: String,
    },
    /// A day before a booked appointment: remind the patient.
    AppointmentReminder {
        organisation_id: String,
        batch_id: String,
        row: u64,
        attempt: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    /// Deterministic, so scheduling the same timer twice keeps one.
    pub id: String,
    pub due_at: DateTime<Utc>,
    pub job: TimerJob,
}

/// The timer table.
#[async_trait::async_trait]
pub trait Timers: Send + Sync {
    /// Idempotent by timer id.
    async fn schedule(&self, timer: Timer) -> Result<(), PortError>;
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Timer>, PortError>;
    async fn complete(&self, timer_id: &str) -> Result<(), PortError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRequest {
    /// The same key for every attempt at one message: the provider keeps one.
    pub idempotency_key: String,
    pub to: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider says this recipient can never receive messages")]
    PermanentFailure,
    #[error("the provider refused the request as invalid")]
    Rejected,
    #[error("the provider asked us to slow down")]
    RateLimited { retry_after_secs: u64 },
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

/// An SMS provider (GOV.UK Notify in production, a simulator locally).
#[async_trait::async_trait]
pub trait SmsProvider: Send + Sync {
    /// Returns the provider's reference for the message.
    async fn send_sms(&self, request: &SmsRequest) -> Result<String, ProviderError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRequest {
    /// As for SMS; also the reference the provider's receipts quote back.
    pub idempotency_key: String,
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// An email provider (GOV.UK Notify in production, a simulator locally).
#[async_trait::async_trait]
pub trait EmailProvider: Send + Sync {
    async fn send_email(&self, request: &EmailRequest) -> Result<String, ProviderError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NhsAppRequest {
    pub idempotency_key: String,
    /// NHS App messages are addressed by NHS number.
    pub nhs_number: String,
    pub body: String,
}

/// An NHS App message provider (NHS Notify in production, a simulator
/// locally).
#[async_trait::async_trait]
pub trait NhsAppProvider: Send + Sync {
    async fn send_nhs_app(&self, request: &NhsAppRequest) -> Result<String, ProviderError>;
}

/// One entry in a patient's record: a message the practice sent them, with
/// the batch's SNOMED CT code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEntry {
    /// The same key for every attempt at one entry: the clinical system
    /// keeps one (`<org>:<batch>:<row>:record`).
    pub idempotency_key: String,
    pub organisation_id: String,
    pub nhs_number: String,
    pub snomed_code: Option<String>,
    /// The message as the patient got it.
    pub text: String,
    pub channel: events::Channel,
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The clinical system has no record to write to for this patient at
    /// this practice: retrying will not help.
    #[error("the patient is not registered at this practice in the clinical system")]
    NotRegistered,
    #[error("the clinical system is unavailable: {0}")]
    Unavailable(String),
}

/// Writes to patients' records in the GP clinical system (EMIS, SystmOne,
/// Vision); a simulator locally and on sandbox stacks.
#[async_trait::async_trait]
pub trait PatientRecord: Send + Sync {
    async fn save(&self, entry: &RecordEntry) -> Result<(), RecordError>;
}

/// Where patient links are registered (by token hash) and found again.
#[async_trait::async_trait]
pub trait LinkDirectory: Send + Sync {
    /// Registers links. Registering one again changes nothing: a link's
    /// record is fixed by its token.
    async fn register(&self, links: Vec<crate::links::LinkRecord>) -> Result<(), PortError>;
    async fn find(&self, token_sha256: &str)
        -> Result<Option<crate::links::LinkRecord>, PortError>;
}

/// What a provider's receipt says happened to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptOutcome {
    Delivered,
    /// The patient opened it (NHS App).
    Read,
    Failed(events::DeliveryFailure),
}

/// A provider's receipt for one message, named by the reference Batchbook
/// sent it with (the idempotency key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub reference: String,
    pub outcome: ReceiptOutcome,
    pub at: DateTime<Utc>,
}

/// What the demographics service (PDS) holds for one patient.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DemographicsRecord {
    pub deceased: bool,
    /// A restricted (sensitive) record: PDS gives out no contact details.
    pub restricted: bool,
    /// The current mobile, as PDS writes it.
    pub mobile: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DemographicsError {
    #[error("no record was found for this patient")]
    NotFound,
    #[error("the demographics service is unavailable: {0}")]
    Unavailable(String),
}

/// The demographics service (PDS), for contact details and the deceased flag.
#[async_trait::async_trait]
pub trait Demographics: Send + Sync {
    async fn lookup(&self, nhs_number: &NhsNumber)
        -> Result<DemographicsRecord, DemographicsError>;
}

/// Whether a patient can receive NHS App messages (has the app, with
/// notifications on).
#[async_trait::async_trait]
pub trait NhsAppReachability: Send + Sync {
    async fn can_receive(&self, nhs_number: &NhsNumber) -> Result<bool, PortError>;
}

/// Recipients whose messages failed, per organisation, as the projection
/// recorded them from `SendFailed` events. Recipients are kept as
/// [`recipient_fingerprint`]s, never as numbers.
#[async_trait::async_trait]
pub trait FailureHistory: Send + Sync {
    /// When a message to this recipient last failed for good, if ever.
    async fn last_failure(
        &self,
        organisation_id: &str,
        fingerprint: &str,
    ) -> Result<Option<DateTime<Utc>>, PortError>;
}

/// A recipient (E.164 mobile or email) as failure history keeps it: SHA-256
/// over the organisation and the address, hex.
pub fn recipient_fingerprint(organisation_id: &str, address: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(
        format!("{organisation_id}:{address}").as_bytes(),
    ))
}

/// References a provider made up for Batchbook's messages: NHS Notify takes
/// only a UUID as a message's reference, so its client sends one derived
/// from Batchbook's and remembers which, and receipts quoting it are
/// mapped back. Kept beside the idempotency records, so a views rebuild
/// never loses them.
#[async_trait::async_trait]
pub trait ProviderReferences: Send + Sync {
    /// Remembers that `provider_reference` stands for `reference`. Repeats
    /// are harmless.
    async fn remember(&self, provider_reference: &str, reference: &str) -> Result<(), PortError>;
    async fn recall(&self, provider_reference: &str) -> Result<Option<String>, PortError>;
}

/// What claiming an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// Ours now: do the work, then complete or release the claim.
    Claimed,
    /// Done before: here is the saved result.
    Done(String),
    /// Another request with this key is being handled now.
    InProgress,
    /// The key was used before for a different request.
    Mismatch,
}

/// Idempotency records: a request key claimed for a while, then completed
/// with its result, so a retried request gets the first answer. Records
/// expire (DynamoDB TTL on AWS).
#[async_trait::async_trait]
pub trait IdempotencyRecords: Send + Sync {
    /// Claims `key` within `scope` (the organisation) for a request whose
    /// fingerprint is `fingerprint`. A claim older than `stale_after` that
    /// was never completed (its holder died) may be claimed again by the
    /// same request.
    async fn claim(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        stale_after: chrono::Duration,
        expires_at: DateTime<Utc>,
    ) -> Result<IdempotencyClaim, PortError>;
    async fn complete(&self, scope: &str, key: &str, result: &str) -> Result<(), PortError>;
    /// Gives a claim up (the work failed), so a retry can try again.
    async fn release(&self, scope: &str, key: &str) -> Result<(), PortError>;
}
