//! Events of the Delivery aggregate: one per patient per batch.
//!
//! A delivery names its patient by `row`, the 1-based patient row of the
//! checked list artifact; contact details are read from the artifact.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Email,
    NhsApp,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
            Self::NhsApp => "nhs_app",
        }
    }
}

/// Why a provider would not take, or could not deliver, a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendFailureReason {
    /// The provider says the number or address can never receive messages.
    PermanentFailure,
    /// The provider refused the request as invalid (for example, a bad number).
    Rejected,
}

impl SendFailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PermanentFailure => "permanent_failure",
            Self::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DeliveryEvent {
    /// The provider accepted the message. `idempotency_key` is the key the
    /// provider was called with, so a retried call is provably the same one.
    MessageSent {
        batch_id: String,
        row: u64,
        channel: Channel,
        provider_reference: String,
        idempotency_key: String,
        sent_at: DateTime<Utc>,
    },
    SendFailed {
        batch_id: String,
        row: u64,
        channel: Channel,
        reason: SendFailureReason,
        failed_at: DateTime<Utc>,
        /// The recipient as failure history keeps it (a SHA-256 fingerprint,
        /// never the number). Absent from events recorded before it existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recipient_fingerprint: Option<String>,
    },
}

impl DomainEvent for DeliveryEvent {
    fn event_type(&self) -> String {
        match self {
            Self::MessageSent { .. } => "MessageSent",
            Self::SendFailed { .. } => "SendFailed",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}
