//! Events about looking a patient up: staff searching the demographics
//! service (PDS) for one patient by NHS number and date of birth. Looking
//! a patient up is itself something auditors ask about, so every search
//! is recorded, found or not, with the user who made it (the event's
//! metadata).
//!
//! The patient is named by a fingerprint, never by their NHS number: the
//! hex SHA-256 of `<organisation id>:<NHS number>`, as failure history
//! names a recipient. An auditor who holds the NHS number computes the same
//! fingerprint to find the searches for that patient.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

/// What a search found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchOutcome {
    /// PDS holds the patient with that date of birth; staff were shown
    /// them.
    Found,
    /// PDS holds no patient with that NHS number.
    NotFound,
    /// PDS holds the NHS number with another date of birth. Staff were
    /// told only "not found", so that a search never confirms an NHS
    /// number to someone who does not know the patient's date of birth.
    DateOfBirthDiffers,
}

/// Events of one patient search (one aggregate per search).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum PatientSearchEvent {
    /// A member of staff searched for a patient.
    PatientSearched {
        search_id: String,
        organisation_id: String,
        /// Hex SHA-256 of `<organisation id>:<NHS number>`.
        patient: String,
        outcome: SearchOutcome,
        searched_at: DateTime<Utc>,
    },
}

impl DomainEvent for PatientSearchEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PatientSearched { .. } => "PatientSearched",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}
