//! What outside services know of a patient: the demographics service
//! (PDS), NHS App reachability, and this organisation's failed deliveries.

use chrono::{DateTime, NaiveDate, Utc};

use super::PortError;
use crate::values::NhsNumber;

/// What the demographics service (PDS) holds for one patient.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DemographicsRecord {
    pub deceased: bool,
    /// A restricted (sensitive) record: PDS gives out no contact details.
    pub restricted: bool,
    /// The current mobile, as PDS writes it.
    pub mobile: Option<String>,
    /// The first given name of the patient's current usual name: what
    /// `((name))` becomes when the list has no name column.
    pub given_name: Option<String>,
    /// The family name of that same name.
    pub family_name: Option<String>,
    /// The date of birth PDS holds, which a patient search must match.
    pub birth_date: Option<NaiveDate>,
    /// The current email address, as PDS writes it.
    pub email: Option<String>,
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
