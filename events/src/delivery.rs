//! Events of the Delivery aggregate: one per patient per batch.
//!
//! A delivery names its patient by `row`, the 1-based patient row of the
//! checked list artifact; contact details are read from the artifact.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::batch::Questionnaire;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// Why a message the provider accepted did not reach the patient, as the
/// provider's receipt said (or did not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryFailure {
    /// The number or address does not exist or is no longer in use.
    Permanent,
    /// The phone was off or the inbox full for the provider's whole retry period.
    Temporary,
    /// A fault at the provider or a network.
    Technical,
    /// No receipt came within 72 hours of sending.
    NoReceipt,
}

impl DeliveryFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permanent => "permanent_failure",
            Self::Temporary => "temporary_failure",
            Self::Technical => "technical_failure",
            Self::NoReceipt => "no_receipt_within_72_hours",
        }
    }

    /// Whether the failure says something about the recipient, and so
    /// belongs in their failure history ("likely to fail").
    pub fn is_the_recipients(self) -> bool {
        !matches!(self, Self::Technical)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
        /// An NHS App message with a mobile to fall back to, and when the
        /// fallback is due if the message is not read by then.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback_due_at: Option<DateTime<Utc>>,
        /// As on `SendFailed`, so a later failure receipt can name the
        /// recipient to failure history.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recipient_fingerprint: Option<String>,
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
        /// An NHS App message refused with a mobile behind it: the SMS
        /// fallback is sent at once, in the next event.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        falls_back_to_sms: bool,
    },
    /// The provider's receipt: the message reached the phone, inbox or app.
    MessageDelivered {
        batch_id: String,
        row: u64,
        channel: Channel,
        delivered_at: DateTime<Utc>,
    },
    /// The patient opened the NHS App message; no fallback is sent.
    MessageRead {
        batch_id: String,
        row: u64,
        channel: Channel,
        read_at: DateTime<Utc>,
    },
    /// The provider took the message but it never arrived.
    DeliveryFailed {
        batch_id: String,
        row: u64,
        channel: Channel,
        failure: DeliveryFailure,
        failed_at: DateTime<Utc>,
        /// As on `SendFailed`; absent for technical failures, which say
        /// nothing about the recipient.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recipient_fingerprint: Option<String>,
    },
    /// The message and the batch's SNOMED CT code are in the patient's
    /// record in the clinical system.
    SavedToRecord {
        batch_id: String,
        row: u64,
        saved_at: DateTime<Utc>,
    },
    /// The clinical system will never take this record (for example, the
    /// patient is no longer registered at the practice).
    RecordNotSaved {
        batch_id: String,
        row: u64,
        reason: String,
        at: DateTime<Utc>,
    },
    /// Staff withdrew this patient's link. Final: nothing re-activates it.
    LinkRevoked {
        batch_id: String,
        row: u64,
        revoked_at: DateTime<Utc>,
    },
    /// Someone holding the link gave the patient's date of birth.
    IdentityVerified {
        batch_id: String,
        row: u64,
        at: DateTime<Utc>,
    },
    /// Someone holding the link gave a wrong date of birth: the `attempts`th
    /// wrong answer. `locked` once there have been too many.
    IdentityCheckFailed {
        batch_id: String,
        row: u64,
        attempts: u32,
        locked: bool,
        at: DateTime<Utc>,
    },
    /// The patient answered the questionnaire. Answers are keyed by question
    /// id (`domain::florey`); they are clinical answers, not identifiers.
    QuestionnaireAnswered {
        batch_id: String,
        row: u64,
        questionnaire: Questionnaire,
        answers: BTreeMap<String, String>,
        answered_at: DateTime<Utc>,
    },
    /// The patient opened the batch's attachment through their link, for
    /// the first time (later opens are not recorded).
    AttachmentOpened {
        batch_id: String,
        row: u64,
        opened_at: DateTime<Utc>,
    },
    /// A reminder to answer went out (`reminder` is 1 for the first). The
    /// step's status is unchanged: a reminder is not the message.
    ReminderSent {
        batch_id: String,
        row: u64,
        reminder: u32,
        channel: Channel,
        provider_reference: String,
        idempotency_key: String,
        sent_at: DateTime<Utc>,
    },
    /// A text of the inhaler series went out (`step` 1 is the first after
    /// the batch's own message).
    SeriesTextSent {
        batch_id: String,
        row: u64,
        step: u32,
        channel: Channel,
        provider_reference: String,
        idempotency_key: String,
        sent_at: DateTime<Utc>,
    },
    /// The provider refused a series text for good; the series goes on.
    SeriesTextNotSent {
        batch_id: String,
        row: u64,
        step: u32,
        reason: SendFailureReason,
        at: DateTime<Utc>,
    },
    /// Staff stopped the series for this patient: no more texts, for good.
    SeriesStopped {
        batch_id: String,
        row: u64,
        stopped_at: DateTime<Utc>,
    },
    /// The provider refused the reminder for good; it is not tried again.
    ReminderNotSent {
        batch_id: String,
        row: u64,
        reminder: u32,
        channel: Channel,
        reason: SendFailureReason,
        at: DateTime<Utc>,
    },
    /// A Self-Book notice went out: a booking confirmed or failed, or an
    /// appointment's reminder. `notice` is the sequence number of the
    /// invite event it tells of, so each event is told once.
    NoticeSent {
        batch_id: String,
        row: u64,
        notice: u64,
        channel: Channel,
        provider_reference: String,
        idempotency_key: String,
        sent_at: DateTime<Utc>,
    },
    /// The provider refused a Self-Book notice for good.
    NoticeNotSent {
        batch_id: String,
        row: u64,
        notice: u64,
        reason: SendFailureReason,
        at: DateTime<Utc>,
    },
}

impl DeliveryEvent {
    /// The patient the event is about: the batch and the list row.
    pub fn recipient(&self) -> (&str, u64) {
        match self {
            Self::MessageSent { batch_id, row, .. }
            | Self::SendFailed { batch_id, row, .. }
            | Self::MessageDelivered { batch_id, row, .. }
            | Self::MessageRead { batch_id, row, .. }
            | Self::DeliveryFailed { batch_id, row, .. }
            | Self::SavedToRecord { batch_id, row, .. }
            | Self::RecordNotSaved { batch_id, row, .. }
            | Self::LinkRevoked { batch_id, row, .. }
            | Self::IdentityVerified { batch_id, row, .. }
            | Self::IdentityCheckFailed { batch_id, row, .. }
            | Self::QuestionnaireAnswered { batch_id, row, .. }
            | Self::AttachmentOpened { batch_id, row, .. }
            | Self::ReminderSent { batch_id, row, .. }
            | Self::ReminderNotSent { batch_id, row, .. }
            | Self::SeriesTextSent { batch_id, row, .. }
            | Self::SeriesTextNotSent { batch_id, row, .. }
            | Self::SeriesStopped { batch_id, row, .. }
            | Self::NoticeSent { batch_id, row, .. }
            | Self::NoticeNotSent { batch_id, row, .. } => (batch_id, *row),
        }
    }
}

impl DomainEvent for DeliveryEvent {
    fn event_type(&self) -> String {
        match self {
            Self::MessageSent { .. } => "MessageSent",
            Self::SendFailed { .. } => "SendFailed",
            Self::MessageDelivered { .. } => "MessageDelivered",
            Self::MessageRead { .. } => "MessageRead",
            Self::DeliveryFailed { .. } => "DeliveryFailed",
            Self::SavedToRecord { .. } => "SavedToRecord",
            Self::RecordNotSaved { .. } => "RecordNotSaved",
            Self::LinkRevoked { .. } => "LinkRevoked",
            Self::IdentityVerified { .. } => "IdentityVerified",
            Self::IdentityCheckFailed { .. } => "IdentityCheckFailed",
            Self::QuestionnaireAnswered { .. } => "QuestionnaireAnswered",
            Self::AttachmentOpened { .. } => "AttachmentOpened",
            Self::ReminderSent { .. } => "ReminderSent",
            Self::ReminderNotSent { .. } => "ReminderNotSent",
            Self::SeriesTextSent { .. } => "SeriesTextSent",
            Self::SeriesTextNotSent { .. } => "SeriesTextNotSent",
            Self::SeriesStopped { .. } => "SeriesStopped",
            Self::NoticeSent { .. } => "NoticeSent",
            Self::NoticeNotSent { .. } => "NoticeNotSent",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}
