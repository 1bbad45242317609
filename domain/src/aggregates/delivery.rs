//! The Delivery aggregate: one per patient per batch, through each channel
//! step: the first message (email, NHS App or SMS), then for an unread NHS
//! App message the SMS fallback. Its optimistic lock and the provider's
//! idempotency key (one per step) together make each step happen once,
//! however often the queue delivers the work.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use events::{Channel, DeliveryEvent, DeliveryFailure, Questionnaire, SendFailureReason};
use serde::{Deserialize, Serialize};

use crate::jobs::FollowOn;
use crate::links::MAX_IDENTITY_ATTEMPTS;
use crate::policies::RECEIPT_DEADLINE;
use crate::ports::{
    EmailProvider, EmailRequest, NhsAppProvider, NhsAppRequest, PatientRecord, ProviderError,
    ReceiptOutcome, RecordEntry, RecordError, SmsProvider, SmsRequest,
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
pub struct DeliveryServices {
    pub sms: Arc<dyn SmsProvider>,
    pub email: Arc<dyn EmailProvider>,
    pub nhs_app: Arc<dyn NhsAppProvider>,
    pub record: Arc<dyn PatientRecord>,
}

/// A provider's answer to one send, as the event that records it.
enum Answer {
    Sent(String),
    Refused(SendFailureReason),
}

fn answer(result: Result<String, ProviderError>) -> Result<Answer, DeliveryError> {
    match result {
        Ok(reference) => Ok(Answer::Sent(reference)),
        Err(ProviderError::PermanentFailure) => {
            Ok(Answer::Refused(SendFailureReason::PermanentFailure))
        }
        Err(ProviderError::Rejected) => Ok(Answer::Refused(SendFailureReason::Rejected)),
        Err(other) => Err(DeliveryError::ProviderUnavailable(other.to_string())),
    }
}

/// Calls the provider of `channel` with one message.
async fn call_provider(
    services: &DeliveryServices,
    channel: Channel,
    reference: &str,
    to: String,
    subject: Option<String>,
    body: String,
) -> Result<Answer, DeliveryError> {
    let idempotency_key = reference.to_owned();
    let result = match channel {
        Channel::Sms => {
            let request = SmsRequest {
                idempotency_key,
                to,
                body,
            };
            services.sms.send_sms(&request).await
        }
        Channel::Email => {
            let request = EmailRequest {
                idempotency_key,
                to,
                subject: subject.ok_or(DeliveryError::EmailWithoutSubject)?,
                body,
            };
            services.email.send_email(&request).await
        }
        Channel::NhsApp => {
            let request = NhsAppRequest {
                idempotency_key,
                nhs_number: to,
                body,
            };
            services.nhs_app.send_nhs_app(&request).await
        }
    };
    answer(result)
}

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

    async fn send_sms(
        &self,
        services: &DeliveryServices,
        fallback: &Fallback,
    ) -> Result<Answer, DeliveryError> {
        let request = SmsRequest {
            idempotency_key: fallback.reference.clone(),
            to: fallback.to.clone(),
            body: fallback.body.clone(),
        };
        answer(services.sms.send_sms(&request).await)
    }

    #[allow(clippy::too_many_arguments)]
    fn outcome(
        &self,
        batch_id: &str,
        row: u64,
        channel: Channel,
        reference: &str,
        fingerprint: &str,
        answer: Answer,
        fallback_due_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> DeliveryEvent {
        match answer {
            Answer::Sent(provider_reference) => DeliveryEvent::MessageSent {
                batch_id: batch_id.to_owned(),
                row,
                channel,
                provider_reference,
                idempotency_key: reference.to_owned(),
                sent_at: now,
                fallback_due_at,
                recipient_fingerprint: Some(fingerprint.to_owned()),
            },
            Answer::Refused(reason) => DeliveryEvent::SendFailed {
                batch_id: batch_id.to_owned(),
                row,
                channel,
                reason,
                failed_at: now,
                recipient_fingerprint: Some(fingerprint.to_owned()),
                falls_back_to_sms: channel == Channel::NhsApp && fallback_due_at.is_some(),
            },
        }
    }

    /// The fallback may go: an NHS App step with a mobile behind it, not
    /// read, not fallen back yet, and either failed or unread past its time.
    fn fallback_is_due(&self, now: DateTime<Utc>) -> bool {
        self.channel == Some(Channel::NhsApp)
            && match (self.status, self.fallback_due_at) {
                (DeliveryStatus::Failed, Some(_)) => true,
                (DeliveryStatus::Sent | DeliveryStatus::Delivered, Some(due)) => now >= due,
                _ => false,
            }
    }
}

impl Aggregate for Delivery {
    const TYPE: &'static str = "Delivery";
    type Command = DeliveryCommand;
    type Event = DeliveryEvent;
    type Error = DeliveryError;
    type Services = DeliveryServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            DeliveryCommand::Send { message, now } => {
                if self.status != DeliveryStatus::NotSent {
                    // A redelivered message: the patient has their outcome already.
                    return Ok(());
                }
                let Message {
                    batch_id,
                    row,
                    channel,
                    reference,
                    to,
                    recipient_fingerprint,
                    subject,
                    body,
                    fallback,
                } = *message;
                // The key is fixed per step, so a retry after a crash between
                // the provider's answer and our commit reaches the provider
                // as a repeat, not a second message.
                let first = call_provider(services, channel, &reference, to, subject, body).await?;
                let refused = matches!(first, Answer::Refused(_));
                let due = fallback.as_ref().map(|(_, due)| *due);
                let event = self.outcome(
                    &batch_id,
                    row,
                    channel,
                    &reference,
                    &recipient_fingerprint,
                    first,
                    due,
                    now,
                );
                match fallback {
                    // The NHS App would not take it: the SMS goes at once.
                    Some((fallback, _)) if refused && channel == Channel::NhsApp => {
                        let second = self.send_sms(services, &fallback).await?;
                        let then = self.outcome(
                            &batch_id,
                            row,
                            Channel::Sms,
                            &fallback.reference,
                            &fallback.recipient_fingerprint,
                            second,
                            None,
                            now,
                        );
                        sink.write(event, self).await;
                        sink.write(then, self).await;
                    }
                    _ => sink.write(event, self).await,
                }
            }
            DeliveryCommand::FallBack { fallback, now } => {
                if !self.fallback_is_due(now) {
                    return Ok(());
                }
                let answer = self.send_sms(services, &fallback).await?;
                let event = self.outcome(
                    &self.batch_id,
                    self.row,
                    Channel::Sms,
                    &fallback.reference,
                    &fallback.recipient_fingerprint,
                    answer,
                    None,
                    now,
                );
                sink.write(event, self).await;
            }
            DeliveryCommand::RecordReceipt {
                channel,
                outcome,
                at,
            } => {
                if self.channel != Some(channel) {
                    // A late receipt for a step the patient has moved past.
                    return Ok(());
                }
                let (batch_id, row) = (self.batch_id.clone(), self.row);
                let event = match (self.status, outcome) {
                    (DeliveryStatus::Sent, ReceiptOutcome::Delivered) => {
                        DeliveryEvent::MessageDelivered {
                            batch_id,
                            row,
                            channel,
                            delivered_at: at,
                        }
                    }
                    (DeliveryStatus::Sent | DeliveryStatus::Delivered, ReceiptOutcome::Read)
                        if channel == Channel::NhsApp =>
                    {
                        DeliveryEvent::MessageRead {
                            batch_id,
                            row,
                            channel,
                            read_at: at,
                        }
                    }
                    (DeliveryStatus::Sent, ReceiptOutcome::Failed(failure)) => {
                        DeliveryEvent::DeliveryFailed {
                            batch_id,
                            row,
                            channel,
                            failure,
                            failed_at: at,
                            recipient_fingerprint: self
                                .recipient_fingerprint
                                .clone()
                                .filter(|_| failure.is_the_recipients()),
                        }
                    }
                    // Repeated or out-of-order receipts change nothing.
                    _ => return Ok(()),
                };
                sink.write(event, self).await;
            }
            DeliveryCommand::ExpireUnconfirmed { now } => {
                let waiting_for_fallback =
                    self.channel == Some(Channel::NhsApp) && self.fallback_due_at.is_some();
                let expired = self
                    .sent_at
                    .is_some_and(|sent_at| now >= sent_at + RECEIPT_DEADLINE);
                if self.status == DeliveryStatus::Sent && expired && !waiting_for_fallback {
                    let event = DeliveryEvent::DeliveryFailed {
                        batch_id: self.batch_id.clone(),
                        row: self.row,
                        channel: self.channel.unwrap_or(Channel::Sms),
                        failure: DeliveryFailure::NoReceipt,
                        failed_at: now,
                        recipient_fingerprint: self.recipient_fingerprint.clone(),
                    };
                    sink.write(event, self).await;
                }
            }
            DeliveryCommand::SaveToRecord { entry, now } => {
                if self.record_written || self.sent_at.is_none() {
                    return Ok(());
                }
                // The key is fixed per delivery, so a retry after a crash
                // between the write and our commit is one entry, not two.
                let (batch_id, row) = (self.batch_id.clone(), self.row);
                let event = match services.record.save(&entry).await {
                    Ok(()) => DeliveryEvent::SavedToRecord {
                        batch_id,
                        row,
                        saved_at: now,
                    },
                    Err(RecordError::NotRegistered) => DeliveryEvent::RecordNotSaved {
                        batch_id,
                        row,
                        reason: RecordError::NotRegistered.to_string(),
                        at: now,
                    },
                    Err(RecordError::Unavailable(reason)) => {
                        return Err(DeliveryError::RecordUnavailable(reason))
                    }
                };
                sink.write(event, self).await;
            }
            DeliveryCommand::RevokeLink { now } => {
                if !self.link_revoked {
                    let event = DeliveryEvent::LinkRevoked {
                        batch_id: self.batch_id.clone(),
                        row: self.row,
                        revoked_at: now,
                    };
                    sink.write(event, self).await;
                }
            }
            DeliveryCommand::CheckIdentity { matches, now } => {
                if self.locked() {
                    return Err(DeliveryError::LinkLocked);
                }
                let (batch_id, row) = (self.batch_id.clone(), self.row);
                let event = if matches {
                    DeliveryEvent::IdentityVerified {
                        batch_id,
                        row,
                        at: now,
                    }
                } else {
                    let attempts = self.failed_identity_checks + 1;
                    DeliveryEvent::IdentityCheckFailed {
                        batch_id,
                        row,
                        attempts,
                        locked: attempts >= MAX_IDENTITY_ATTEMPTS,
                        at: now,
                    }
                };
                sink.write(event, self).await;
            }
            DeliveryCommand::AnswerQuestionnaire {
                questionnaire,
                answers,
                expires_at,
                now,
            } => {
                if let Some(refusal) = self.link_refusal(Some(expires_at), now) {
                    return Err(refusal);
                }
                if self.locked() {
                    return Err(DeliveryError::LinkLocked);
                }
                if self.answered {
                    return Err(DeliveryError::AlreadyAnswered);
                }
                let event = DeliveryEvent::QuestionnaireAnswered {
                    batch_id: self.batch_id.clone(),
                    row: self.row,
                    questionnaire,
                    answers,
                    answered_at: now,
                };
                sink.write(event, self).await;
            }
            DeliveryCommand::OpenAttachment { expires_at, now } => {
                if let Some(refusal) = self.link_refusal(Some(expires_at), now) {
                    return Err(refusal);
                }
                if self.locked() {
                    return Err(DeliveryError::LinkLocked);
                }
                if self.attachment_opened_at.is_none() {
                    let event = DeliveryEvent::AttachmentOpened {
                        batch_id: self.batch_id.clone(),
                        row: self.row,
                        opened_at: now,
                    };
                    sink.write(event, self).await;
                }
            }
            DeliveryCommand::SendFollowOn {
                follow_on,
                message,
                now,
            } => {
                let wanted = match follow_on {
                    FollowOn::Reminder(n) => {
                        self.link_refusal(None, now).is_none()
                            && !self.locked()
                            && !self.answered
                            && self.reminders.iter().all(|sent| *sent < n)
                    }
                    FollowOn::Series(n) => {
                        self.first_sent_at.is_some()
                            && !self.series_stopped
                            && self.series.iter().all(|sent| *sent < n)
                    }
                    // Each tells of its own invite event: none supersedes another.
                    FollowOn::Notice(n) => {
                        self.first_sent_at.is_some() && !self.notices.contains(&n)
                    }
                };
                if !wanted {
                    return Ok(());
                }
                let Message {
                    channel,
                    reference,
                    to,
                    subject,
                    body,
                    ..
                } = *message;
                let (batch_id, row) = (self.batch_id.clone(), self.row);
                let answer =
                    call_provider(services, channel, &reference, to, subject, body).await?;
                let event = match (follow_on, answer) {
                    (FollowOn::Reminder(reminder), Answer::Sent(provider_reference)) => {
                        DeliveryEvent::ReminderSent {
                            batch_id,
                            row,
                            reminder,
                            channel,
                            provider_reference,
                            idempotency_key: reference,
                            sent_at: now,
                        }
                    }
                    (FollowOn::Reminder(reminder), Answer::Refused(reason)) => {
                        DeliveryEvent::ReminderNotSent {
                            batch_id,
                            row,
                            reminder,
                            channel,
                            reason,
                            at: now,
                        }
                    }
                    (FollowOn::Series(step), Answer::Sent(provider_reference)) => {
                        DeliveryEvent::SeriesTextSent {
                            batch_id,
                            row,
                            step,
                            channel,
                            provider_reference,
                            idempotency_key: reference,
                            sent_at: now,
                        }
                    }
                    (FollowOn::Series(step), Answer::Refused(reason)) => {
                        DeliveryEvent::SeriesTextNotSent {
                            batch_id,
                            row,
                            step,
                            reason,
                            at: now,
                        }
                    }
                    (FollowOn::Notice(notice), Answer::Sent(provider_reference)) => {
                        DeliveryEvent::NoticeSent {
                            batch_id,
                            row,
                            notice,
                            channel,
                            provider_reference,
                            idempotency_key: reference,
                            sent_at: now,
                        }
                    }
                    (FollowOn::Notice(notice), Answer::Refused(reason)) => {
                        DeliveryEvent::NoticeNotSent {
                            batch_id,
                            row,
                            notice,
                            reason,
                            at: now,
                        }
                    }
                };
                sink.write(event, self).await;
            }
            DeliveryCommand::StopSeries { now } => {
                if !self.series_stopped {
                    let event = DeliveryEvent::SeriesStopped {
                        batch_id: self.batch_id.clone(),
                        row: self.row,
                        stopped_at: now,
                    };
                    sink.write(event, self).await;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use cqrs_es::test::TestFramework;

    type DeliveryTest = TestFramework<Delivery>;
    use std::sync::Mutex;

    /// Answers each send with a scripted result per channel and records the
    /// idempotency key of every request.
    struct Scripted {
        sms: Result<String, ProviderError>,
        nhs_app: Result<String, ProviderError>,
        record: Result<(), RecordError>,
        keys: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl PatientRecord for Scripted {
        async fn save(&self, entry: &RecordEntry) -> Result<(), RecordError> {
            self.keys
                .lock()
                .unwrap()
                .push(entry.idempotency_key.clone());
            self.record.clone()
        }
    }

    #[async_trait::async_trait]
    impl SmsProvider for Scripted {
        async fn send_sms(&self, request: &SmsRequest) -> Result<String, ProviderError> {
            self.keys
                .lock()
                .unwrap()
                .push(request.idempotency_key.clone());
            self.sms.clone()
        }
    }

    #[async_trait::async_trait]
    impl EmailProvider for Scripted {
        async fn send_email(&self, request: &EmailRequest) -> Result<String, ProviderError> {
            self.keys
                .lock()
                .unwrap()
                .push(request.idempotency_key.clone());
            Ok("email-ref".into())
        }
    }

    #[async_trait::async_trait]
    impl NhsAppProvider for Scripted {
        async fn send_nhs_app(&self, request: &NhsAppRequest) -> Result<String, ProviderError> {
            self.keys
                .lock()
                .unwrap()
                .push(request.idempotency_key.clone());
            self.nhs_app.clone()
        }
    }

    fn providers(
        sms: Result<String, ProviderError>,
        nhs_app: Result<String, ProviderError>,
    ) -> (DeliveryServices, Arc<Scripted>) {
        let scripted = Arc::new(Scripted {
            sms,
            nhs_app,
            record: Ok(()),
            keys: Mutex::new(vec![]),
        });
        let services = DeliveryServices {
            sms: scripted.clone(),
            email: scripted.clone(),
            nhs_app: scripted.clone(),
            record: scripted.clone(),
        };
        (services, scripted)
    }

    fn sms_ok() -> (DeliveryServices, Arc<Scripted>) {
        providers(Ok("ref-1".into()), Ok("app-ref".into()))
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
    }

    fn message(channel: Channel) -> Message {
        Message {
            batch_id: "b-1".into(),
            row: 7,
            channel,
            reference: format!("A12345:b-1:7:{}", channel.as_str()),
            to: "+447700100123".into(),
            recipient_fingerprint: "f1".into(),
            subject: None,
            body: "Hello".into(),
            fallback: None,
        }
    }

    fn fallback() -> Fallback {
        Fallback {
            reference: "A12345:b-1:7:sms".into(),
            to: "+447700100123".into(),
            recipient_fingerprint: "f2".into(),
            body: "Hello".into(),
        }
    }

    fn send(message: Message) -> DeliveryCommand {
        DeliveryCommand::Send {
            message: Box::new(message),
            now: now(),
        }
    }

    fn app_with_fallback() -> Message {
        Message {
            to: "9990000026".into(),
            fallback: Some((fallback(), now() + Duration::hours(24))),
            ..message(Channel::NhsApp)
        }
    }

    fn sent(
        channel: Channel,
        at: DateTime<Utc>,
        fallback_due_at: Option<DateTime<Utc>>,
    ) -> DeliveryEvent {
        DeliveryEvent::MessageSent {
            batch_id: "b-1".into(),
            row: 7,
            channel,
            provider_reference: match channel {
                Channel::NhsApp => "app-ref".into(),
                _ => "ref-1".into(),
            },
            idempotency_key: format!("A12345:b-1:7:{}", channel.as_str()),
            sent_at: at,
            fallback_due_at,
            recipient_fingerprint: Some("f1".into()),
        }
    }

    /// The fallback SMS, as sent at `at`.
    fn fell_back(at: DateTime<Utc>) -> DeliveryEvent {
        DeliveryEvent::MessageSent {
            batch_id: "b-1".into(),
            row: 7,
            channel: Channel::Sms,
            provider_reference: "ref-1".into(),
            idempotency_key: "A12345:b-1:7:sms".into(),
            sent_at: at,
            fallback_due_at: None,
            recipient_fingerprint: Some("f2".into()),
        }
    }

    fn receipt(channel: Channel, outcome: ReceiptOutcome) -> DeliveryCommand {
        DeliveryCommand::RecordReceipt {
            channel,
            outcome,
            at: now() + Duration::minutes(1),
        }
    }

    #[test]
    fn a_new_delivery_is_sent_with_a_fixed_idempotency_key() {
        let (services, providers) = sms_ok();
        TestFramework::<Delivery>::with(services)
            .given_no_previous_events()
            .when(send(message(Channel::Sms)))
            .then_expect_events(vec![sent(Channel::Sms, now(), None)]);
        assert_eq!(*providers.keys.lock().unwrap(), ["A12345:b-1:7:sms"]);
    }

    #[test]
    fn a_sent_delivery_is_never_sent_again() {
        let (services, providers) = sms_ok();
        TestFramework::<Delivery>::with(services)
            .given(vec![sent(Channel::Sms, now(), None)])
            .when(send(message(Channel::Sms)))
            .then_expect_events(vec![]);
        assert!(providers.keys.lock().unwrap().is_empty());
    }

    #[test]
    fn a_permanent_failure_is_recorded_not_retried() {
        let (services, _) = providers(Err(ProviderError::PermanentFailure), Ok("x".into()));
        TestFramework::<Delivery>::with(services)
            .given_no_previous_events()
            .when(send(message(Channel::Sms)))
            .then_expect_events(vec![DeliveryEvent::SendFailed {
                batch_id: "b-1".into(),
                row: 7,
                channel: Channel::Sms,
                reason: SendFailureReason::PermanentFailure,
                failed_at: now(),
                recipient_fingerprint: Some("f1".into()),
                falls_back_to_sms: false,
            }]);
    }

    #[test]
    fn an_unavailable_or_throttling_provider_is_an_error_so_the_message_is_retried() {
        let (services, _) = providers(
            Err(ProviderError::Unavailable("HTTP 503".into())),
            Ok("x".into()),
        );
        TestFramework::<Delivery>::with(services)
            .given_no_previous_events()
            .when(send(message(Channel::Sms)))
            .then_expect_error(DeliveryError::ProviderUnavailable(
                "the provider is unavailable: HTTP 503".into(),
            ));
        let (services, _) = providers(
            Err(ProviderError::RateLimited {
                retry_after_secs: 3,
            }),
            Ok("x".into()),
        );
        TestFramework::<Delivery>::with(services)
            .given_no_previous_events()
            .when(send(message(Channel::Sms)))
            .then_expect_error(DeliveryError::ProviderUnavailable(
                "the provider asked us to slow down".into(),
            ));
    }

    #[test]
    fn an_email_without_a_subject_is_refused() {
        let (services, _) = sms_ok();
        TestFramework::<Delivery>::with(services)
            .given_no_previous_events()
            .when(send(message(Channel::Email)))
            .then_expect_error(DeliveryError::EmailWithoutSubject);
    }

    #[test]
    fn an_nhs_app_message_the_app_refuses_falls_back_to_sms_at_once() {
        let (services, providers) = providers(Ok("ref-1".into()), Err(ProviderError::Rejected));
        TestFramework::<Delivery>::with(services)
            .given_no_previous_events()
            .when(send(app_with_fallback()))
            .then_expect_events(vec![
                DeliveryEvent::SendFailed {
                    batch_id: "b-1".into(),
                    row: 7,
                    channel: Channel::NhsApp,
                    reason: SendFailureReason::Rejected,
                    failed_at: now(),
                    recipient_fingerprint: Some("f1".into()),
                    falls_back_to_sms: true,
                },
                fell_back(now()),
            ]);
        assert_eq!(
            *providers.keys.lock().unwrap(),
            ["A12345:b-1:7:nhs_app", "A12345:b-1:7:sms"]
        );
    }

    fn fall_back(at: DateTime<Utc>) -> DeliveryCommand {
        DeliveryCommand::FallBack {
            fallback: Box::new(fallback()),
            now: at,
        }
    }

    #[test]
    fn an_unread_nhs_app_message_falls_back_only_once_its_time_has_come() {
        let due = now() + Duration::hours(24);
        let app_sent = sent(Channel::NhsApp, now(), Some(due));
        let (services, providers) = sms_ok();
        TestFramework::<Delivery>::with(services)
            .given(vec![app_sent.clone()])
            .when(fall_back(due - Duration::seconds(1)))
            .then_expect_events(vec![]);
        assert!(providers.keys.lock().unwrap().is_empty());
        let (services, _) = sms_ok();
        TestFramework::<Delivery>::with(services)
            .given(vec![app_sent.clone()])
            .when(fall_back(due))
            .then_expect_events(vec![fell_back(due)]);
    }

    #[test]
    fn a_read_receipt_cancels_the_fallback_and_a_fallback_goes_once() {
        let due = now() + Duration::hours(24);
        let app_sent = sent(Channel::NhsApp, now(), Some(due));
        let read = DeliveryEvent::MessageRead {
            batch_id: "b-1".into(),
            row: 7,
            channel: Channel::NhsApp,
            read_at: now() + Duration::hours(1),
        };
        let (services, providers) = sms_ok();
        TestFramework::<Delivery>::with(services)
            .given(vec![app_sent.clone(), read])
            .when(fall_back(due))
            .then_expect_events(vec![]);
        assert!(providers.keys.lock().unwrap().is_empty());
        let (services, providers) = sms_ok();
        TestFramework::<Delivery>::with(services)
            .given(vec![app_sent, sent(Channel::Sms, due, None)])
            .when(fall_back(due + Duration::hours(1)))
            .then_expect_events(vec![]);
        assert!(providers.keys.lock().unwrap().is_empty());
    }

    #[test]
    fn a_failed_nhs_app_message_falls_back_without_waiting() {
        let app_sent = sent(Channel::NhsApp, now(), Some(now() + Duration::hours(24)));
        let failed = DeliveryEvent::DeliveryFailed {
            batch_id: "b-1".into(),
            row: 7,
            channel: Channel::NhsApp,
            failure: DeliveryFailure::Technical,
            failed_at: now(),
            recipient_fingerprint: None,
        };
        let (services, _) = sms_ok();
        TestFramework::<Delivery>::with(services)
            .given(vec![app_sent, failed])
            .when(fall_back(now()))
            .then_expect_events(vec![fell_back(now())]);
    }

    #[test]
    fn receipts_record_delivery_once_and_failures_with_the_recipient() {
        let (services, _) = sms_ok();
        TestFramework::<Delivery>::with(services)
            .given(vec![sent(Channel::Sms, now(), None)])
            .when(receipt(Channel::Sms, ReceiptOutcome::Delivered))
            .then_expect_events(vec![DeliveryEvent::MessageDelivered {
                batch_id: "b-1".into(),
                row: 7,
                channel: Channel::Sms,
                delivered_at: now() + Duration::minutes(1),
            }]);
        let delivered = DeliveryEvent::MessageDelivered {
            batch_id: "b-1".into(),
            row: 7,
            channel: Channel::Sms,
            delivered_at: now(),
        };
        let (services, _) = sms_ok();
        TestFramework::<Delivery>::with(services)
            .given(vec![sent(Channel::Sms, now(), None), delivered])
            .when(receipt(Channel::Sms, ReceiptOutcome::Delivered))
            .then_expect_events(vec![]);
        for (failure, fingerprint) in [
            (DeliveryFailure::Permanent, Some("f1".to_owned())),
            (DeliveryFailure::Temporary, Some("f1".to_owned())),
            (DeliveryFailure::Technical, None),
        ] {
            let (services, _) = sms_ok();
            TestFramework::<Delivery>::with(services)
                .given(vec![sent(Channel::Sms, now(), None)])
                .when(receipt(Channel::Sms, ReceiptOutcome::Failed(failure)))
                .then_expect_events(vec![DeliveryEvent::DeliveryFailed {
                    batch_id: "b-1".into(),
                    row: 7,
                    channel: Channel::Sms,
                    failure,
                    failed_at: now() + Duration::minutes(1),
                    recipient_fingerprint: fingerprint,
                }]);
        }
    }

    #[test]
    fn a_receipt_for_a_step_the_patient_moved_past_is_ignored() {
        let due = now() + Duration::hours(24);
        let (services, _) = sms_ok();
        TestFramework::<Delivery>::with(services)
            .given(vec![
                sent(Channel::NhsApp, now(), Some(due)),
                sent(Channel::Sms, due, None),
            ])
            .when(receipt(Channel::NhsApp, ReceiptOutcome::Read))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_message_still_only_sent_after_72_hours_fails() {
        let expire = |at| DeliveryCommand::ExpireUnconfirmed { now: at };
        let deadline = now() + Duration::hours(72);
        let (services, _) = sms_ok();
        TestFramework::<Delivery>::with(services)
            .given(vec![sent(Channel::Sms, now(), None)])
            .when(expire(deadline - Duration::seconds(1)))
            .then_expect_events(vec![]);
        let (services, _) = sms_ok();
        TestFramework::<Delivery>::with(services)
            .given(vec![sent(Channel::Sms, now(), None)])
            .when(expire(deadline))
            .then_expect_events(vec![DeliveryEvent::DeliveryFailed {
                batch_id: "b-1".into(),
                row: 7,
                channel: Channel::Sms,
                failure: DeliveryFailure::NoReceipt,
                failed_at: deadline,
                recipient_fingerprint: Some("f1".into()),
            }]);
        let delivered = DeliveryEvent::MessageDelivered {
            batch_id: "b-1".into(),
            row: 7,
            channel: Channel::Sms,
            delivered_at: now(),
        };
        let (services, _) = sms_ok();
        TestFramework::<Delivery>::with(services)
            .given(vec![sent(Channel::Sms, now(), None), delivered])
            .when(expire(deadline))
            .then_expect_events(vec![]);
    }

    fn save_to_record() -> DeliveryCommand {
        DeliveryCommand::SaveToRecord {
            entry: Box::new(RecordEntry {
                idempotency_key: "A12345:b-1:7:record".into(),
                organisation_id: "A12345".into(),
                nhs_number: "9990000026".into(),
                snomed_code: Some("1240441000000109".into()),
                text: "Dear Joe".into(),
                channel: Channel::Sms,
                sent_at: now(),
            }),
            now: now() + Duration::hours(1),
        }
    }

    fn recording(record: Result<(), RecordError>) -> (DeliveryServices, Arc<Scripted>) {
        let (services, _) = sms_ok();
        let scripted = Arc::new(Scripted {
            sms: Ok("ref-1".into()),
            nhs_app: Ok("app-ref".into()),
            record,
            keys: Mutex::new(vec![]),
        });
        (
            DeliveryServices {
                record: scripted.clone(),
                ..services
            },
            scripted,
        )
    }

    #[test]
    fn a_sent_message_is_saved_to_the_record_once_with_a_fixed_key() {
        let saved = DeliveryEvent::SavedToRecord {
            batch_id: "b-1".into(),
            row: 7,
            saved_at: now() + Duration::hours(1),
        };
        let (services, record) = recording(Ok(()));
        TestFramework::<Delivery>::with(services)
            .given(vec![sent(Channel::Sms, now(), None)])
            .when(save_to_record())
            .then_expect_events(vec![saved.clone()]);
        assert_eq!(*record.keys.lock().unwrap(), ["A12345:b-1:7:record"]);
        let (services, record) = recording(Ok(()));
        TestFramework::<Delivery>::with(services)
            .given(vec![sent(Channel::Sms, now(), None), saved])
            .when(save_to_record())
            .then_expect_events(vec![]);
        assert!(record.keys.lock().unwrap().is_empty(), "saved twice");
    }

    #[test]
    fn a_message_never_sent_is_never_saved_to_the_record() {
        let refused = DeliveryEvent::SendFailed {
            batch_id: "b-1".into(),
            row: 7,
            channel: Channel::Sms,
            reason: SendFailureReason::PermanentFailure,
            failed_at: now(),
            recipient_fingerprint: None,
            falls_back_to_sms: false,
        };
        let (services, record) = recording(Ok(()));
        TestFramework::<Delivery>::with(services)
            .given(vec![refused])
            .when(save_to_record())
            .then_expect_events(vec![]);
        assert!(record.keys.lock().unwrap().is_empty());
    }

    #[test]
    fn the_clinical_system_refusing_for_good_is_recorded_and_its_outage_retried() {
        let (services, _) = recording(Err(RecordError::NotRegistered));
        TestFramework::<Delivery>::with(services)
            .given(vec![sent(Channel::Sms, now(), None)])
            .when(save_to_record())
            .then_expect_events(vec![DeliveryEvent::RecordNotSaved {
                batch_id: "b-1".into(),
                row: 7,
                reason: "the patient is not registered at this practice in the clinical system"
                    .into(),
                at: now() + Duration::hours(1),
            }]);
        let (services, _) = recording(Err(RecordError::Unavailable("timeout".into())));
        TestFramework::<Delivery>::with(services)
            .given(vec![sent(Channel::Sms, now(), None)])
            .when(save_to_record())
            .then_expect_error(DeliveryError::RecordUnavailable("timeout".into()));
    }

    fn checked(attempts: u32) -> DeliveryEvent {
        DeliveryEvent::IdentityCheckFailed {
            batch_id: "b-1".into(),
            row: 7,
            attempts,
            locked: attempts >= MAX_IDENTITY_ATTEMPTS,
            at: now(),
        }
    }

    #[test]
    fn wrong_dates_of_birth_count_up_and_the_fifth_locks_the_link() {
        let check = |matches| DeliveryCommand::CheckIdentity {
            matches,
            now: now(),
        };
        DeliveryTest::with(sms_ok().0)
            .given(vec![sent(Channel::Sms, now(), None), checked(1)])
            .when(check(false))
            .then_expect_events(vec![checked(2)]);
        DeliveryTest::with(sms_ok().0)
            .given(vec![sent(Channel::Sms, now(), None), checked(1)])
            .when(check(true))
            .then_expect_events(vec![DeliveryEvent::IdentityVerified {
                batch_id: "b-1".into(),
                row: 7,
                at: now(),
            }]);
        let four: Vec<DeliveryEvent> = std::iter::once(sent(Channel::Sms, now(), None))
            .chain((1..=4).map(checked))
            .collect();
        DeliveryTest::with(sms_ok().0)
            .given(four.clone())
            .when(check(false))
            .then_expect_events(vec![checked(5)]);
        let mut five = four;
        five.push(checked(5));
        DeliveryTest::with(sms_ok().0)
            .given(five)
            .when(check(true))
            .then_expect_error(DeliveryError::LinkLocked);
    }

    fn answer(expires_at: DateTime<Utc>) -> DeliveryCommand {
        DeliveryCommand::AnswerQuestionnaire {
            questionnaire: Questionnaire::SmokingStatus,
            answers: BTreeMap::from([("smoking_status".to_owned(), "ex_smoker".to_owned())]),
            expires_at,
            now: now(),
        }
    }

    fn answered() -> DeliveryEvent {
        DeliveryEvent::QuestionnaireAnswered {
            batch_id: "b-1".into(),
            row: 7,
            questionnaire: Questionnaire::SmokingStatus,
            answers: BTreeMap::from([("smoking_status".to_owned(), "ex_smoker".to_owned())]),
            answered_at: now(),
        }
    }

    fn revoked() -> DeliveryEvent {
        DeliveryEvent::LinkRevoked {
            batch_id: "b-1".into(),
            row: 7,
            revoked_at: now(),
        }
    }

    #[test]
    fn an_attachment_is_recorded_opened_once_and_never_opens_on_a_dead_link() {
        let later = now() + Duration::days(30);
        let open = |expires_at| DeliveryCommand::OpenAttachment {
            expires_at,
            now: now(),
        };
        let opened = DeliveryEvent::AttachmentOpened {
            batch_id: "b-1".into(),
            row: 7,
            opened_at: now(),
        };
        DeliveryTest::with(sms_ok().0)
            .given(vec![sent(Channel::Sms, now(), None)])
            .when(open(later))
            .then_expect_events(vec![opened.clone()]);
        DeliveryTest::with(sms_ok().0)
            .given(vec![sent(Channel::Sms, now(), None), opened])
            .when(open(later))
            .then_expect_events(vec![]);
        refused_on_dead_links(open, later);
    }

    /// `command` (given when the link expires) is refused, with the reason,
    /// on a revoked, expired, never-sent and locked link.
    fn refused_on_dead_links(
        command: impl Fn(DateTime<Utc>) -> DeliveryCommand,
        later: DateTime<Utc>,
    ) {
        DeliveryTest::with(sms_ok().0)
            .given(vec![sent(Channel::Sms, now(), None), revoked()])
            .when(command(later))
            .then_expect_error(DeliveryError::LinkWithdrawn);
        DeliveryTest::with(sms_ok().0)
            .given(vec![sent(Channel::Sms, now(), None)])
            .when(command(now()))
            .then_expect_error(DeliveryError::LinkExpired);
        DeliveryTest::with(sms_ok().0)
            .given_no_previous_events()
            .when(command(later))
            .then_expect_error(DeliveryError::NeverSent);
        let locked: Vec<DeliveryEvent> = std::iter::once(sent(Channel::Sms, now(), None))
            .chain((1..=5).map(checked))
            .collect();
        DeliveryTest::with(sms_ok().0)
            .given(locked)
            .when(command(later))
            .then_expect_error(DeliveryError::LinkLocked);
    }

    #[test]
    fn a_questionnaire_is_answered_once_and_never_on_a_dead_link() {
        let later = now() + Duration::days(7);
        DeliveryTest::with(sms_ok().0)
            .given(vec![sent(Channel::Sms, now(), None)])
            .when(answer(later))
            .then_expect_events(vec![answered()]);
        DeliveryTest::with(sms_ok().0)
            .given(vec![sent(Channel::Sms, now(), None), answered()])
            .when(answer(later))
            .then_expect_error(DeliveryError::AlreadyAnswered);
        refused_on_dead_links(answer, later);
    }

    #[test]
    fn a_link_is_revoked_once() {
        DeliveryTest::with(sms_ok().0)
            .given(vec![sent(Channel::Sms, now(), None)])
            .when(DeliveryCommand::RevokeLink { now: now() })
            .then_expect_events(vec![revoked()]);
        DeliveryTest::with(sms_ok().0)
            .given(vec![sent(Channel::Sms, now(), None), revoked()])
            .when(DeliveryCommand::RevokeLink { now: now() })
            .then_expect_events(vec![]);
    }

    /// A reminder or series text by SMS, with its own key.
    fn follow_on(follow_on: FollowOn) -> DeliveryCommand {
        DeliveryCommand::SendFollowOn {
            follow_on,
            message: Box::new(Message {
                reference: format!("A12345:b-1:7:sms:{}", follow_on.key()),
                body: "Follow-on".into(),
                ..message(Channel::Sms)
            }),
            now: now(),
        }
    }

    /// `command` on a delivery with `given` history calls no provider and
    /// records nothing.
    fn sends_nothing(given: Vec<DeliveryEvent>, command: DeliveryCommand) {
        let (services, scripted) = sms_ok();
        DeliveryTest::with(services)
            .given(given)
            .when(command)
            .then_expect_events(vec![]);
        assert!(scripted.keys.lock().unwrap().is_empty());
    }

    fn reminded(number: u32) -> DeliveryEvent {
        DeliveryEvent::ReminderSent {
            batch_id: "b-1".into(),
            row: 7,
            reminder: number,
            channel: Channel::Sms,
            provider_reference: "ref-1".into(),
            idempotency_key: format!("A12345:b-1:7:sms:reminder-{number}"),
            sent_at: now(),
        }
    }

    #[test]
    fn each_reminder_goes_once_with_its_own_key_and_never_after_an_answer_or_a_revoke() {
        let (services, scripted) = sms_ok();
        DeliveryTest::with(services)
            .given(vec![sent(Channel::Sms, now(), None)])
            .when(follow_on(FollowOn::Reminder(1)))
            .then_expect_events(vec![reminded(1)]);
        assert_eq!(
            *scripted.keys.lock().unwrap(),
            ["A12345:b-1:7:sms:reminder-1"]
        );
        for given in [
            vec![sent(Channel::Sms, now(), None), reminded(1)],
            vec![sent(Channel::Sms, now(), None), reminded(2)],
            vec![sent(Channel::Sms, now(), None), answered()],
            vec![sent(Channel::Sms, now(), None), revoked()],
            vec![],
        ] {
            sends_nothing(given, follow_on(FollowOn::Reminder(1)));
        }
        let (services, _) = providers(Err(ProviderError::PermanentFailure), Ok("x".into()));
        DeliveryTest::with(services)
            .given(vec![sent(Channel::Sms, now(), None), reminded(1)])
            .when(follow_on(FollowOn::Reminder(2)))
            .then_expect_events(vec![DeliveryEvent::ReminderNotSent {
                batch_id: "b-1".into(),
                row: 7,
                reminder: 2,
                channel: Channel::Sms,
                reason: SendFailureReason::PermanentFailure,
                at: now(),
            }]);
    }

    fn series_sent(step: u32) -> DeliveryEvent {
        DeliveryEvent::SeriesTextSent {
            batch_id: "b-1".into(),
            row: 7,
            step,
            channel: Channel::Sms,
            provider_reference: "ref-1".into(),
            idempotency_key: format!("A12345:b-1:7:sms:series-{step}"),
            sent_at: now(),
        }
    }

    fn stopped() -> DeliveryEvent {
        DeliveryEvent::SeriesStopped {
            batch_id: "b-1".into(),
            row: 7,
            stopped_at: now(),
        }
    }

    #[test]
    fn each_series_text_goes_once_and_none_after_the_series_is_stopped() {
        let (services, scripted) = sms_ok();
        DeliveryTest::with(services)
            .given(vec![sent(Channel::Sms, now(), None), series_sent(1)])
            .when(follow_on(FollowOn::Series(2)))
            .then_expect_events(vec![series_sent(2)]);
        assert_eq!(
            *scripted.keys.lock().unwrap(),
            ["A12345:b-1:7:sms:series-2"]
        );
        for given in [
            vec![sent(Channel::Sms, now(), None), series_sent(2)],
            vec![sent(Channel::Sms, now(), None), series_sent(3)],
            vec![sent(Channel::Sms, now(), None), stopped()],
            vec![],
        ] {
            sends_nothing(given, follow_on(FollowOn::Series(2)));
        }
        DeliveryTest::with(sms_ok().0)
            .given(vec![sent(Channel::Sms, now(), None)])
            .when(DeliveryCommand::StopSeries { now: now() })
            .then_expect_events(vec![stopped()]);
        DeliveryTest::with(sms_ok().0)
            .given(vec![sent(Channel::Sms, now(), None), stopped()])
            .when(DeliveryCommand::StopSeries { now: now() })
            .then_expect_events(vec![]);
    }

    fn noticed(notice: u64) -> DeliveryEvent {
        DeliveryEvent::NoticeSent {
            batch_id: "b-1".into(),
            row: 7,
            notice,
            channel: Channel::Sms,
            provider_reference: "ref-1".into(),
            idempotency_key: format!("A12345:b-1:7:sms:notice-{notice}"),
            sent_at: now(),
        }
    }

    #[test]
    fn each_self_book_notice_goes_once_and_an_earlier_one_is_not_superseded() {
        let (services, scripted) = sms_ok();
        DeliveryTest::with(services)
            .given(vec![sent(Channel::Sms, now(), None), noticed(3)])
            .when(follow_on(FollowOn::Notice(2)))
            .then_expect_events(vec![noticed(2)]);
        assert_eq!(
            *scripted.keys.lock().unwrap(),
            ["A12345:b-1:7:sms:notice-2"]
        );
        for given in [vec![sent(Channel::Sms, now(), None), noticed(2)], vec![]] {
            sends_nothing(given, follow_on(FollowOn::Notice(2)));
        }
    }
}
