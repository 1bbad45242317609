//! The Delivery aggregate: one per patient per batch, through each channel
//! step: the first message (email, NHS App or SMS), then for an unread NHS
//! App message the SMS fallback. Its optimistic lock and the provider's
//! idempotency key (one per step) together make each step happen once,
//! however often the queue delivers the work.
//!
//! `handle` dispatches each command to its own method, one file per step:
//! `sending.rs`, `receipts.rs`, `records.rs`, `links.rs`.

mod links;
mod receipts;
mod records;
pub(crate) mod sending;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use events::{Channel, DeliveryEvent, Questionnaire, SendFailureReason};
use serde::{Deserialize, Serialize};

use crate::jobs::FollowOn;
use crate::links::MAX_IDENTITY_ATTEMPTS;
use crate::ports::{
    EmailProvider, EmailRequest, NhsAppProvider, NhsAppRequest, PatientRecord, ProviderError,
    ReceiptOutcome, RecordEntry, SmsProvider, SmsRequest,
};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    #[default]
    NotSent,
    /// The provider took the message; no receipt yet.
    Sent,
    Delivered,
    Read,
    Failed,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Delivery {
    batch_id: String,
    row: u64,
    /// The status of the current step.
    status: DeliveryStatus,
    /// The channel of the current step.
    channel: Option<Channel>,
    sent_at: Option<DateTime<Utc>>,
    /// Set on an NHS App step that has a mobile to fall back to.
    fallback_due_at: Option<DateTime<Utc>>,
    recipient_fingerprint: Option<String>,
    /// Saved to the patient's record, or refused for good by the clinical
    /// system: either way, never written again.
    record_written: bool,
    /// When the first message went: a link's validity runs from here.
    #[serde(default)]
    first_sent_at: Option<DateTime<Utc>>,
    #[serde(default)]
    link_revoked: bool,
    /// Wrong dates of birth given so far.
    #[serde(default)]
    failed_identity_checks: u32,
    #[serde(default)]
    answered: bool,
    /// When the patient first opened the batch's attachment.
    #[serde(default)]
    attachment_opened_at: Option<DateTime<Utc>>,
    /// Reminders sent or refused for good, by number.
    #[serde(default)]
    reminders: Vec<u32>,
    /// Series texts sent or refused for good, by step.
    #[serde(default)]
    series: Vec<u32>,
    #[serde(default)]
    series_stopped: bool,
    /// Self-Book notices sent or refused for good, by invite event.
    #[serde(default)]
    notices: Vec<u64>,
}

/// The SMS an NHS App message falls back to.
#[derive(Debug, Clone, PartialEq)]
pub struct Fallback {
    pub reference: String,
    pub to: String,
    pub recipient_fingerprint: String,
    pub body: String,
}

/// The first message to one patient.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub batch_id: String,
    pub row: u64,
    pub channel: Channel,
    /// The idempotency key, which the provider's receipts quote back.
    pub reference: String,
    /// A mobile (E.164), an email address or an NHS number, by channel.
    pub to: String,
    /// `to` as failure history keeps it: see `ports::recipient_fingerprint`.
    pub recipient_fingerprint: String,
    pub subject: Option<String>,
    pub body: String,
    /// For an NHS App message: the SMS to send if it is not read by
    /// `fallback_due_at`, or at once if the NHS App refuses it.
    pub fallback: Option<(Fallback, DateTime<Utc>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryCommand {
    Send {
        message: Box<Message>,
        now: DateTime<Utc>,
    },
    /// The NHS App message was not read in time, or failed: send the SMS.
    /// Does nothing if it was read, or the fallback was sent already.
    FallBack {
        fallback: Box<Fallback>,
        now: DateTime<Utc>,
    },
    RecordReceipt {
        channel: Channel,
        outcome: ReceiptOutcome,
        at: DateTime<Utc>,
    },
    /// The 72-hour rule: a message still only "sent" becomes Failed.
    ExpireUnconfirmed { now: DateTime<Utc> },
    /// Save the message sent to the patient's record. Does nothing if it
    /// was saved already, or if no message was ever sent.
    SaveToRecord {
        entry: Box<RecordEntry>,
        now: DateTime<Utc>,
    },
    /// Staff withdrew the patient's link. Final; repeats are harmless.
    RevokeLink { now: DateTime<Utc> },
    /// Someone holding the link gave a date of birth; `matches` says whether
    /// it was the patient's. Refused once the link is locked.
    CheckIdentity { matches: bool, now: DateTime<Utc> },
    /// The patient's answers, already checked against the questionnaire.
    AnswerQuestionnaire {
        questionnaire: Questionnaire,
        answers: BTreeMap<String, String>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    /// The patient opened the batch's attachment. Recorded the first time;
    /// refused on a link that cannot be used.
    OpenAttachment {
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    /// A reminder to answer, or the next series text. A reminder does
    /// nothing once answered, revoked or locked; a series text once the
    /// series is stopped; either if it, or a later one, went already.
    SendFollowOn {
        follow_on: FollowOn,
        message: Box<Message>,
        now: DateTime<Utc>,
    },
    /// Staff stopped the series for this patient. Final; repeats are harmless.
    StopSeries { now: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying later: the message stays on the queue.
    #[error("the provider could not take the message now: {0}")]
    ProviderUnavailable(String),
    #[error("an email needs a subject")]
    EmailWithoutSubject,
    /// Worth retrying later: the job stays on the queue.
    #[error("the clinical system could not take the record now: {0}")]
    RecordUnavailable(String),
    #[error("this link was withdrawn")]
    LinkWithdrawn,
    #[error("this link has expired")]
    LinkExpired,
    #[error("this link is locked after too many wrong dates of birth")]
    LinkLocked,
    #[error("this questionnaire has already been answered")]
    AlreadyAnswered,
    #[error("no message with this link was ever sent")]
    NeverSent,
}

/// What the Delivery aggregate calls out to.
#[derive(Clone)]
pub struct DeliveryServices {
    pub sms: Arc<dyn SmsProvider>,
    pub email: Arc<dyn EmailProvider>,
    pub nhs_app: Arc<dyn NhsAppProvider>,
    pub record: Arc<dyn PatientRecord>,
}

/// What a command decides: the events to record, or why it refused.
type Decided = Result<Vec<DeliveryEvent>, DeliveryError>;

impl Delivery {
    pub fn status(&self) -> DeliveryStatus {
        self.status
    }

    /// When the first message went, if it did.
    pub fn first_sent_at(&self) -> Option<DateTime<Utc>> {
        self.first_sent_at
    }

    pub fn link_revoked(&self) -> bool {
        self.link_revoked
    }

    /// Wrong dates of birth given so far.
    pub fn failed_checks(&self) -> u32 {
        self.failed_identity_checks
    }

    pub fn locked(&self) -> bool {
        self.failed_identity_checks >= MAX_IDENTITY_ATTEMPTS
    }

    pub fn answered(&self) -> bool {
        self.answered
    }

    pub fn attachment_opened_at(&self) -> Option<DateTime<Utc>> {
        self.attachment_opened_at
    }

    /// Why the link cannot be used now, if it cannot: withdrawn, expired
    /// (at `expires_at`), or never sent.
    pub fn link_refusal(
        &self,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DeliveryError> {
        if self.link_revoked {
            Some(DeliveryError::LinkWithdrawn)
        } else if self.first_sent_at.is_none() {
            Some(DeliveryError::NeverSent)
        } else if expires_at.is_some_and(|at| now >= at) {
            Some(DeliveryError::LinkExpired)
        } else {
            None
        }
    }
}

aggregate!(
    Delivery,
    "Delivery",
    DeliveryCommand,
    DeliveryEvent,
    DeliveryError,
    DeliveryServices
);

impl Delivery {
    async fn decide(
        &mut self,
        command: DeliveryCommand,
        services: &DeliveryServices,
    ) -> Result<Vec<DeliveryEvent>, DeliveryError> {
        let events = match command {
            DeliveryCommand::Send { message, now } => self.send(services, message, now).await?,
            DeliveryCommand::FallBack { fallback, now } => {
                self.fall_back(services, fallback, now).await?
            }
            DeliveryCommand::SendFollowOn {
                follow_on,
                message,
                now,
            } => {
                self.send_follow_on(services, follow_on, message, now)
                    .await?
            }
            DeliveryCommand::StopSeries { now } => self.stop_series(now)?,
            DeliveryCommand::RecordReceipt {
                channel,
                outcome,
                at,
            } => self.record_receipt(channel, outcome, at)?,
            DeliveryCommand::ExpireUnconfirmed { now } => self.expire_unconfirmed(now)?,
            DeliveryCommand::SaveToRecord { entry, now } => {
                self.save_to_record(services, entry, now).await?
            }
            DeliveryCommand::RevokeLink { now } => self.revoke_link(now)?,
            DeliveryCommand::CheckIdentity { matches, now } => self.check_identity(matches, now)?,
            DeliveryCommand::AnswerQuestionnaire {
                questionnaire,
                answers,
                expires_at,
                now,
            } => self.answer_questionnaire(questionnaire, answers, expires_at, now)?,
            DeliveryCommand::OpenAttachment { expires_at, now } => {
                self.open_attachment(expires_at, now)?
            }
        };
        Ok(events)
    }

    fn apply_event(&mut self, event: DeliveryEvent) {
        let (batch_id, row) = event.recipient();
        self.batch_id = batch_id.to_owned();
        self.row = row;
        match event {
            DeliveryEvent::MessageSent {
                channel,
                sent_at,
                fallback_due_at,
                recipient_fingerprint,
                ..
            } => {
                self.status = DeliveryStatus::Sent;
                self.channel = Some(channel);
                self.sent_at = Some(sent_at);
                self.first_sent_at.get_or_insert(sent_at);
                self.fallback_due_at = fallback_due_at;
                self.recipient_fingerprint = recipient_fingerprint;
            }
            DeliveryEvent::SendFailed { channel, .. } => {
                self.status = DeliveryStatus::Failed;
                self.channel = Some(channel);
                // A refused step has nothing to wait for.
                self.fallback_due_at = None;
            }
            DeliveryEvent::MessageDelivered { .. } => self.status = DeliveryStatus::Delivered,
            DeliveryEvent::MessageRead { .. } => self.status = DeliveryStatus::Read,
            DeliveryEvent::DeliveryFailed { .. } => self.status = DeliveryStatus::Failed,
            DeliveryEvent::SavedToRecord { .. } | DeliveryEvent::RecordNotSaved { .. } => {
                self.record_written = true
            }
            DeliveryEvent::LinkRevoked { .. } => self.link_revoked = true,
            DeliveryEvent::IdentityVerified { .. } => {}
            DeliveryEvent::IdentityCheckFailed { attempts, .. } => {
                self.failed_identity_checks = attempts
            }
            DeliveryEvent::QuestionnaireAnswered { .. } => self.answered = true,
            DeliveryEvent::AttachmentOpened { opened_at, .. } => {
                self.attachment_opened_at = Some(opened_at)
            }
            DeliveryEvent::ReminderSent { reminder, .. }
            | DeliveryEvent::ReminderNotSent { reminder, .. } => self.reminders.push(reminder),
            DeliveryEvent::SeriesTextSent { step, .. }
            | DeliveryEvent::SeriesTextNotSent { step, .. } => self.series.push(step),
            DeliveryEvent::SeriesStopped { .. } => self.series_stopped = true,
            DeliveryEvent::NoticeSent { notice, .. }
            | DeliveryEvent::NoticeNotSent { notice, .. } => self.notices.push(notice),
        }
    }
}
