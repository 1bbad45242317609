//! The patient's record in the GP clinical system, where sent messages
//! are saved with the batch's SNOMED CT code.

use chrono::{DateTime, Utc};

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
