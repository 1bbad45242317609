//! Events of conversations: staff messaging one patient, and the patient's
//! replies, in a workspace's shared inbox.
//!
//! Two aggregates, so that a long conversation never makes a command
//! slower: the Conversation (who it is about, who it is assigned to, open
//! or done, one small event per message) and one ConversationMessage per
//! message (its sending, receipts, the reply link's checks and the reply).
//!
//! As everywhere in the log, patient data stays out: the patient's details,
//! each message's words and destination, and each reply's words live in
//! the blob store, and the events hold their keys and SHA-256 digests.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::delivery::{Channel, DeliveryFailure, SendFailureReason};

/// Who a conversation is assigned to.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Assignee {
    /// A member of the workspace, by the id their sign-in gives.
    User { user_id: String },
    /// The workspace's team as a whole: any member may pick it up.
    Team { workspace_id: String },
}

/// Events of one conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum ConversationEvent {
    /// A member of staff started a conversation with one patient.
    ConversationStarted {
        conversation_id: String,
        organisation_id: String,
        workspace_id: String,
        /// SHA-256 of the organisation and NHS number: the same patient's
        /// conversations share it, and it names nobody.
        patient: String,
        /// The blob holding who the patient is (NHS number, date of birth,
        /// name), as PDS gave them when the conversation started.
        patient_key: String,
        patient_sha256: String,
        started_at: DateTime<Utc>,
    },
    /// A message to the patient was written: message `message` (from 1) of
    /// the conversation, whose own ConversationMessage holds the rest.
    ConversationMessageAdded {
        conversation_id: String,
        message: u32,
        /// The id of the request that wrote it, so a retried request finds
        /// its message rather than adding another.
        request: String,
        channel: Channel,
        reply_allowed: bool,
        added_at: DateTime<Utc>,
    },
    /// The patient replied to message `message`. The conversation is open
    /// again, if it was done.
    ConversationReplied {
        conversation_id: String,
        message: u32,
        replied_at: DateTime<Utc>,
    },
    /// Staff assigned the conversation to a colleague or the team.
    ConversationAssigned {
        conversation_id: String,
        assignee: Assignee,
        assigned_at: DateTime<Utc>,
    },
    /// Staff marked the conversation done.
    ConversationDone {
        conversation_id: String,
        done_at: DateTime<Utc>,
    },
    /// Staff reopened a conversation that was done.
    ConversationReopened {
        conversation_id: String,
        reopened_at: DateTime<Utc>,
    },
    /// The member the conversation is assigned to was emailed that the
    /// patient replied to message `message`: once per reply.
    AssigneeNotified {
        conversation_id: String,
        message: u32,
        user_id: String,
        /// The email provider's reference.
        provider_reference: String,
        notified_at: DateTime<Utc>,
    },
    /// A member read the conversation up to its `replies`th reply from the
    /// patient: it is no longer unread for them.
    ConversationRead {
        conversation_id: String,
        user_id: String,
        replies: u32,
        read_at: DateTime<Utc>,
    },
}

impl DomainEvent for ConversationEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ConversationStarted { .. } => "ConversationStarted",
            Self::ConversationMessageAdded { .. } => "ConversationMessageAdded",
            Self::ConversationReplied { .. } => "ConversationReplied",
            Self::ConversationAssigned { .. } => "ConversationAssigned",
            Self::ConversationDone { .. } => "ConversationDone",
            Self::ConversationReopened { .. } => "ConversationReopened",
            Self::ConversationRead { .. } => "ConversationRead",
            Self::AssigneeNotified { .. } => "AssigneeNotified",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

/// Events of one message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum ConversationMessageEvent {
    /// Staff wrote the message; it waits to be sent.
    ConversationMessageWritten {
        conversation_id: String,
        message: u32,
        channel: Channel,
        /// The blob holding the message's words, subject and destination.
        content_key: String,
        content_sha256: String,
        /// When the patient may reply until; `None` when no reply is allowed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_until: Option<DateTime<Utc>>,
        /// The longest reply, in characters, when a reply is allowed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_max_chars: Option<u32>,
        /// A file the patient opens through the message's link.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attachment: Option<crate::batch::Attachment>,
        /// The questionnaire batch that sent it, when the message is the
        /// batch's (its sending is that batch's delivery; this one is the
        /// inbox's copy, never sent again).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from_batch: Option<String>,
        written_at: DateTime<Utc>,
    },
    /// The provider took the message.
    ConversationMessageSent {
        conversation_id: String,
        message: u32,
        channel: Channel,
        provider_reference: String,
        idempotency_key: String,
        recipient_fingerprint: String,
        sent_at: DateTime<Utc>,
    },
    /// The provider refused the message for good.
    ConversationMessageNotSent {
        conversation_id: String,
        message: u32,
        channel: Channel,
        reason: SendFailureReason,
        failed_at: DateTime<Utc>,
    },
    /// The provider's receipt: the message reached the patient.
    ConversationMessageDelivered {
        conversation_id: String,
        message: u32,
        delivered_at: DateTime<Utc>,
    },
    /// The provider's receipt (or its absence for 72 hours): it did not.
    ConversationMessageFailed {
        conversation_id: String,
        message: u32,
        failure: DeliveryFailure,
        failed_at: DateTime<Utc>,
    },
    /// Someone holding the reply link gave the patient's date of birth.
    ReplyIdentityVerified {
        conversation_id: String,
        message: u32,
        verified_at: DateTime<Utc>,
    },
    /// Someone holding the reply link gave a wrong date of birth;
    /// `attempts` so far. The link locks at five.
    ReplyIdentityCheckFailed {
        conversation_id: String,
        message: u32,
        attempts: u32,
        failed_at: DateTime<Utc>,
    },
    /// The message, as the patient got it, was saved to their record in
    /// the clinical system.
    ConversationMessageSavedToRecord {
        conversation_id: String,
        message: u32,
        saved_at: DateTime<Utc>,
    },
    /// The clinical system refused the record for good (the patient is not
    /// registered there): it is not tried again.
    ConversationMessageNotSaved {
        conversation_id: String,
        message: u32,
        reason: String,
        at: DateTime<Utc>,
    },
    /// The patient opened the message's attachment (the first time).
    ConversationAttachmentOpened {
        conversation_id: String,
        message: u32,
        opened_at: DateTime<Utc>,
    },
    /// The patient replied, once.
    PatientReplied {
        conversation_id: String,
        message: u32,
        /// The blob holding the reply's words.
        reply_key: String,
        reply_sha256: String,
        chars: u32,
        replied_at: DateTime<Utc>,
    },
}

impl ConversationMessageEvent {
    /// The conversation and message number the event is about.
    pub fn message(&self) -> (&str, u32) {
        match self {
            Self::ConversationMessageWritten {
                conversation_id,
                message,
                ..
            }
            | Self::ConversationMessageSent {
                conversation_id,
                message,
                ..
            }
            | Self::ConversationMessageNotSent {
                conversation_id,
                message,
                ..
            }
            | Self::ConversationMessageDelivered {
                conversation_id,
                message,
                ..
            }
            | Self::ConversationMessageFailed {
                conversation_id,
                message,
                ..
            }
            | Self::ReplyIdentityVerified {
                conversation_id,
                message,
                ..
            }
            | Self::ReplyIdentityCheckFailed {
                conversation_id,
                message,
                ..
            }
            | Self::PatientReplied {
                conversation_id,
                message,
                ..
            }
            | Self::ConversationAttachmentOpened {
                conversation_id,
                message,
                ..
            }
            | Self::ConversationMessageSavedToRecord {
                conversation_id,
                message,
                ..
            }
            | Self::ConversationMessageNotSaved {
                conversation_id,
                message,
                ..
            } => (conversation_id, *message),
        }
    }
}

impl DomainEvent for ConversationMessageEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ConversationMessageWritten { .. } => "ConversationMessageWritten",
            Self::ConversationMessageSent { .. } => "ConversationMessageSent",
            Self::ConversationMessageNotSent { .. } => "ConversationMessageNotSent",
            Self::ConversationMessageDelivered { .. } => "ConversationMessageDelivered",
            Self::ConversationMessageFailed { .. } => "ConversationMessageFailed",
            Self::ReplyIdentityVerified { .. } => "ReplyIdentityVerified",
            Self::ReplyIdentityCheckFailed { .. } => "ReplyIdentityCheckFailed",
            Self::PatientReplied { .. } => "PatientReplied",
            Self::ConversationAttachmentOpened { .. } => "ConversationAttachmentOpened",
            Self::ConversationMessageSavedToRecord { .. } => "ConversationMessageSavedToRecord",
            Self::ConversationMessageNotSaved { .. } => "ConversationMessageNotSaved",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}
