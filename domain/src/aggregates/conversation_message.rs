//! The ConversationMessage aggregate: one per message of a conversation
//! (id `<conversation>:<n>`). It is written, then sent once through its
//! provider under a fixed idempotency key; it takes the provider's
//! receipts; and, when a reply is allowed, it holds the reply link's
//! date-of-birth checks (locked after five wrong) and the patient's one
//! reply. Its size is fixed, so a conversation's hundredth message costs
//! what its first did.

use chrono::{DateTime, Utc};
use events::{Channel, ConversationMessageEvent, DeliveryFailure};
use serde::{Deserialize, Serialize};

use super::delivery::sending::{answer, call_provider, Answer};
use super::{DeliveryError, DeliveryServices, DeliveryStatus};
use crate::links::MAX_IDENTITY_ATTEMPTS;
use crate::ports::ReceiptOutcome;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConversationMessage {
    conversation_id: String,
    message: u32,
    channel: Option<Channel>,
    content_key: String,
    written_at: Option<DateTime<Utc>>,
    status: DeliveryStatus,
    sent_at: Option<DateTime<Utc>>,
    reply_until: Option<DateTime<Utc>>,
    reply_max_chars: Option<u32>,
    failed_checks: u32,
    replied_at: Option<DateTime<Utc>>,
    reply_key: Option<String>,
    attachment: Option<events::Attachment>,
    attachment_opened_at: Option<DateTime<Utc>>,
    /// Saved to the patient's record, or refused for good: either way,
    /// never written again.
    record_written: bool,
    /// A questionnaire batch's message: sent by the batch, not here.
    from_batch: Option<String>,
}

/// The message as its provider is asked to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The idempotency key, which the provider's receipts quote back.
    pub reference: String,
    pub to: String,
    pub recipient_fingerprint: String,
    pub subject: Option<String>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ConversationMessageCommand {
    /// Records what staff wrote; written already records nothing.
    Write {
        conversation_id: String,
        message: u32,
        channel: Channel,
        content_key: String,
        content_sha256: String,
        reply_until: Option<DateTime<Utc>>,
        reply_max_chars: Option<u32>,
        attachment: Option<events::Attachment>,
        now: DateTime<Utc>,
    },
    /// Saves the message sent to the patient's record, once; nothing if it
    /// was saved already or never sent.
    SaveToRecord {
        entry: Box<crate::ports::RecordEntry>,
        now: DateTime<Utc>,
    },
    /// The patient opened the attachment: recorded the first time.
    OpenAttachment { now: DateTime<Utc> },
    /// A questionnaire batch's message and the patient's answers to it, as
    /// the inbox keeps them: written and answered at once; once only.
    RecordAnswers {
        conversation_id: String,
        message: u32,
        channel: Channel,
        content_key: String,
        content_sha256: String,
        batch_id: String,
        reply_key: String,
        reply_sha256: String,
        chars: u32,
        answered_at: DateTime<Utc>,
    },
    /// Sends it, once: a redelivered job finds it sent and does nothing.
    Send {
        outgoing: Box<Outgoing>,
        now: DateTime<Utc>,
    },
    /// A provider's receipt; repeated and late ones change nothing.
    RecordReceipt {
        outcome: ReceiptOutcome,
        at: DateTime<Utc>,
    },
    /// The 72-hour rule: a message still only "sent" fails.
    ExpireUnconfirmed { now: DateTime<Utc> },
    /// Someone holding the reply link gave a date of birth.
    CheckIdentity { matches: bool, now: DateTime<Utc> },
    /// The patient's reply, its words already kept at `reply_key`.
    Reply {
        reply_key: String,
        reply_sha256: String,
        chars: u32,
        now: DateTime<Utc>,
    },
}

/// Why a reply link cannot be used, or a reply was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversationMessageError {
    #[error("there is no such message")]
    NotWritten,
    #[error("the provider could not take the message now: {0}")]
    ProviderUnavailable(String),
    #[error("an email needs a subject")]
    EmailWithoutSubject,
    #[error("this message does not take a reply")]
    NoReplyAllowed,
    #[error("this message has no attachment")]
    NoAttachment,
    /// Worth retrying later: the job stays on the queue.
    #[error("the clinical system could not take the record now: {0}")]
    RecordUnavailable(String),
    #[error("this message's link has expired")]
    LinkExpired,
    #[error("this message was never sent")]
    NeverSent,
    #[error("the time to reply to this message has passed")]
    ReplyExpired,
    #[error("this link is locked after too many wrong dates of birth")]
    Locked,
    #[error("this message has already been replied to")]
    AlreadyReplied,
    #[error("a reply is at most {max} characters; this one is {given}")]
    TooLong { max: u32, given: u32 },
    #[error("a reply needs some words")]
    EmptyReply,
}

impl From<DeliveryError> for ConversationMessageError {
    fn from(e: DeliveryError) -> Self {
        match e {
            DeliveryError::EmailWithoutSubject => Self::EmailWithoutSubject,
            other => Self::ProviderUnavailable(other.to_string()),
        }
    }
}

type Decided = Result<Vec<ConversationMessageEvent>, ConversationMessageError>;

impl ConversationMessage {
    pub fn written(&self) -> bool {
        self.written_at.is_some()
    }

    pub fn conversation_id(&self) -> &str {
        &self.conversation_id
    }

    pub fn message(&self) -> u32 {
        self.message
    }

    pub fn channel(&self) -> Option<Channel> {
        self.channel
    }

    pub fn content_key(&self) -> &str {
        &self.content_key
    }

    pub fn written_at(&self) -> Option<DateTime<Utc>> {
        self.written_at
    }

    pub fn status(&self) -> DeliveryStatus {
        self.status
    }

    pub fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.sent_at
    }

    pub fn reply_until(&self) -> Option<DateTime<Utc>> {
        self.reply_until
    }

    pub fn reply_max_chars(&self) -> Option<u32> {
        self.reply_max_chars
    }

    pub fn replied_at(&self) -> Option<DateTime<Utc>> {
        self.replied_at
    }

    pub fn reply_key(&self) -> Option<&str> {
        self.reply_key.as_deref()
    }

    pub fn failed_checks(&self) -> u32 {
        self.failed_checks
    }

    pub fn locked(&self) -> bool {
        self.failed_checks >= MAX_IDENTITY_ATTEMPTS
    }

    pub fn attachment(&self) -> Option<&events::Attachment> {
        self.attachment.as_ref()
    }

    /// The questionnaire batch whose message this is, if it is one.
    pub fn from_batch(&self) -> Option<&str> {
        self.from_batch.as_deref()
    }

    pub fn record_written(&self) -> bool {
        self.record_written
    }

    pub fn attachment_opened_at(&self) -> Option<DateTime<Utc>> {
        self.attachment_opened_at
    }

    /// Until when the attachment opens: as a batch's, for
    /// `ATTACHMENT_LINK_DAYS` from the message.
    pub fn attachment_until(&self) -> Option<DateTime<Utc>> {
        self.attachment.as_ref()?;
        Some(self.sent_at? + chrono::Duration::days(crate::links::ATTACHMENT_LINK_DAYS))
    }

    /// When the message's link stops opening: when neither its reply nor
    /// its attachment is open any longer. Replied to, a reply-only link
    /// still opens, to say it was replied to.
    pub fn link_until(&self) -> Option<DateTime<Utc>> {
        if self.replied_at.is_some() && self.attachment.is_none() {
            return None;
        }
        let reply = self.reply_until.filter(|_| self.replied_at.is_none());
        reply.max(self.attachment_until())
    }

    /// Why the message's link cannot be used now, if it cannot.
    pub fn link_refusal(&self, now: DateTime<Utc>) -> Option<ConversationMessageError> {
        if !self.written() {
            Some(ConversationMessageError::NotWritten)
        } else if self.reply_until.is_none() && self.attachment.is_none() {
            Some(ConversationMessageError::NoReplyAllowed)
        } else if self.sent_at.is_none() {
            Some(ConversationMessageError::NeverSent)
        } else if self.link_until().is_some_and(|until| now >= until) {
            Some(ConversationMessageError::LinkExpired)
        } else if self.locked() {
            Some(ConversationMessageError::Locked)
        } else {
            None
        }
    }

    fn reply_refusal(&self, chars: u32, now: DateTime<Utc>) -> Option<ConversationMessageError> {
        if let Some(refused) = self.link_refusal(now) {
            return Some(refused);
        }
        match self.reply_until {
            None => return Some(ConversationMessageError::NoReplyAllowed),
            Some(_) if self.replied_at.is_some() => {
                return Some(ConversationMessageError::AlreadyReplied)
            }
            Some(until) if now >= until => return Some(ConversationMessageError::ReplyExpired),
            Some(_) => {}
        }
        if chars == 0 {
            return Some(ConversationMessageError::EmptyReply);
        }
        match self.reply_max_chars {
            Some(max) if chars > max => {
                Some(ConversationMessageError::TooLong { max, given: chars })
            }
            _ => None,
        }
    }

    /// Whether a reply of `chars` characters would be taken now, and why not.
    pub fn would_take_reply(
        &self,
        chars: u32,
        now: DateTime<Utc>,
    ) -> Result<(), ConversationMessageError> {
        self.reply_refusal(chars, now).map_or(Ok(()), Err)
    }

    async fn decide(
        &mut self,
        command: ConversationMessageCommand,
        services: &DeliveryServices,
    ) -> Decided {
        let (conversation_id, message) = (self.conversation_id.clone(), self.message);
        Ok(match command {
            ConversationMessageCommand::Write {
                conversation_id,
                message,
                channel,
                content_key,
                content_sha256,
                reply_until,
                reply_max_chars,
                attachment,
                now,
            } => {
                if self.written() {
                    return Ok(vec![]);
                }
                vec![ConversationMessageEvent::ConversationMessageWritten {
                    conversation_id,
                    message,
                    channel,
                    content_key,
                    content_sha256,
                    reply_until,
                    reply_max_chars,
                    attachment,
                    from_batch: None,
                    written_at: now,
                }]
            }
            ConversationMessageCommand::RecordAnswers {
                conversation_id,
                message,
                channel,
                content_key,
                content_sha256,
                batch_id,
                reply_key,
                reply_sha256,
                chars,
                answered_at,
            } => {
                if self.written() {
                    return Ok(vec![]);
                }
                vec![
                    ConversationMessageEvent::ConversationMessageWritten {
                        conversation_id: conversation_id.clone(),
                        message,
                        channel,
                        content_key,
                        content_sha256,
                        reply_until: None,
                        reply_max_chars: None,
                        attachment: None,
                        from_batch: Some(batch_id),
                        written_at: answered_at,
                    },
                    ConversationMessageEvent::PatientReplied {
                        conversation_id,
                        message,
                        reply_key,
                        reply_sha256,
                        chars,
                        replied_at: answered_at,
                    },
                ]
            }
            ConversationMessageCommand::SaveToRecord { entry, now } => {
                if self.record_written || self.sent_at.is_none() {
                    return Ok(vec![]);
                }
                // The key is fixed per message, so a retry after a crash
                // between the write and our commit is one entry, not two.
                vec![match services.record.save(&entry).await {
                    Ok(()) => ConversationMessageEvent::ConversationMessageSavedToRecord {
                        conversation_id,
                        message,
                        saved_at: now,
                    },
                    Err(crate::ports::RecordError::NotRegistered) => {
                        ConversationMessageEvent::ConversationMessageNotSaved {
                            conversation_id,
                            message,
                            reason: crate::ports::RecordError::NotRegistered.to_string(),
                            at: now,
                        }
                    }
                    Err(crate::ports::RecordError::Unavailable(reason)) => {
                        return Err(ConversationMessageError::RecordUnavailable(reason))
                    }
                }]
            }
            ConversationMessageCommand::OpenAttachment { now } => {
                if let Some(refused) = self.link_refusal(now) {
                    return Err(refused);
                }
                match self.attachment_until() {
                    None => return Err(ConversationMessageError::NoAttachment),
                    Some(until) if now >= until => {
                        return Err(ConversationMessageError::LinkExpired)
                    }
                    Some(_) => {}
                }
                if self.attachment_opened_at.is_some() {
                    return Ok(vec![]);
                }
                vec![ConversationMessageEvent::ConversationAttachmentOpened {
                    conversation_id,
                    message,
                    opened_at: now,
                }]
            }
            ConversationMessageCommand::Send { outgoing, now } => {
                let channel = self.channel.ok_or(ConversationMessageError::NotWritten)?;
                if self.status != DeliveryStatus::NotSent {
                    // A redelivered job: the patient has the message already.
                    return Ok(vec![]);
                }
                let Outgoing {
                    reference,
                    to,
                    recipient_fingerprint,
                    subject,
                    body,
                } = *outgoing;
                // The key is fixed per message, so a retry after a crash
                // between the provider's answer and our commit reaches the
                // provider as a repeat, not a second message.
                let answered = match channel {
                    Channel::NhsApp => {
                        // Conversations go by SMS or email; one written for
                        // the NHS App is refused as the provider would.
                        answer(Err(crate::ports::ProviderError::Rejected))?
                    }
                    _ => call_provider(services, channel, &reference, to, subject, body).await?,
                };
                vec![match answered {
                    Answer::Sent(provider_reference) => {
                        ConversationMessageEvent::ConversationMessageSent {
                            conversation_id,
                            message,
                            channel,
                            provider_reference,
                            idempotency_key: reference,
                            recipient_fingerprint,
                            sent_at: now,
                        }
                    }
                    Answer::Refused(reason) => {
                        ConversationMessageEvent::ConversationMessageNotSent {
                            conversation_id,
                            message,
                            channel,
                            reason,
                            failed_at: now,
                        }
                    }
                }]
            }
            ConversationMessageCommand::RecordReceipt { outcome, at } => {
                match (self.status, outcome) {
                    (DeliveryStatus::Sent, ReceiptOutcome::Delivered) => {
                        vec![ConversationMessageEvent::ConversationMessageDelivered {
                            conversation_id,
                            message,
                            delivered_at: at,
                        }]
                    }
                    (DeliveryStatus::Sent, ReceiptOutcome::Failed(failure)) => {
                        vec![ConversationMessageEvent::ConversationMessageFailed {
                            conversation_id,
                            message,
                            failure,
                            failed_at: at,
                        }]
                    }
                    _ => vec![],
                }
            }
            ConversationMessageCommand::ExpireUnconfirmed { now } => {
                let expired = self
                    .sent_at
                    .is_some_and(|at| now >= at + crate::policies::RECEIPT_DEADLINE);
                if self.status != DeliveryStatus::Sent || !expired {
                    return Ok(vec![]);
                }
                vec![ConversationMessageEvent::ConversationMessageFailed {
                    conversation_id,
                    message,
                    failure: DeliveryFailure::NoReceipt,
                    failed_at: now,
                }]
            }
            ConversationMessageCommand::CheckIdentity { matches, now } => {
                if let Some(refused) = self.link_refusal(now) {
                    return Err(refused);
                }
                vec![if matches {
                    ConversationMessageEvent::ReplyIdentityVerified {
                        conversation_id,
                        message,
                        verified_at: now,
                    }
                } else {
                    ConversationMessageEvent::ReplyIdentityCheckFailed {
                        conversation_id,
                        message,
                        attempts: self.failed_checks + 1,
                        failed_at: now,
                    }
                }]
            }
            ConversationMessageCommand::Reply {
                reply_key,
                reply_sha256,
                chars,
                now,
            } => {
                if let Some(refused) = self.reply_refusal(chars, now) {
                    return Err(refused);
                }
                vec![ConversationMessageEvent::PatientReplied {
                    conversation_id,
                    message,
                    reply_key,
                    reply_sha256,
                    chars,
                    replied_at: now,
                }]
            }
        })
    }

    fn apply_event(&mut self, event: ConversationMessageEvent) {
        let (conversation_id, message) = event.message();
        self.conversation_id = conversation_id.to_owned();
        self.message = message;
        match event {
            ConversationMessageEvent::ConversationMessageWritten {
                channel,
                content_key,
                reply_until,
                reply_max_chars,
                attachment,
                from_batch,
                written_at,
                ..
            } => {
                self.from_batch = from_batch;
                self.channel = Some(channel);
                self.content_key = content_key;
                self.reply_until = reply_until;
                self.reply_max_chars = reply_max_chars;
                self.attachment = attachment;
                self.written_at = Some(written_at);
            }
            ConversationMessageEvent::ConversationAttachmentOpened { opened_at, .. } => {
                self.attachment_opened_at = Some(opened_at)
            }
            ConversationMessageEvent::ConversationMessageSavedToRecord { .. }
            | ConversationMessageEvent::ConversationMessageNotSaved { .. } => {
                self.record_written = true
            }
            ConversationMessageEvent::ConversationMessageSent { sent_at, .. } => {
                self.status = DeliveryStatus::Sent;
                self.sent_at = Some(sent_at);
            }
            ConversationMessageEvent::ConversationMessageNotSent { .. }
            | ConversationMessageEvent::ConversationMessageFailed { .. } => {
                self.status = DeliveryStatus::Failed
            }
            ConversationMessageEvent::ConversationMessageDelivered { .. } => {
                self.status = DeliveryStatus::Delivered
            }
            ConversationMessageEvent::ReplyIdentityVerified { .. } => {}
            ConversationMessageEvent::ReplyIdentityCheckFailed { attempts, .. } => {
                self.failed_checks = attempts
            }
            ConversationMessageEvent::PatientReplied {
                reply_key,
                replied_at,
                ..
            } => {
                self.replied_at = Some(replied_at);
                self.reply_key = Some(reply_key);
            }
        }
    }
}

aggregate!(
    ConversationMessage,
    "ConversationMessage",
    ConversationMessageCommand,
    ConversationMessageEvent,
    ConversationMessageError,
    DeliveryServices
);

/// The aggregate id of a conversation's message `n`.
pub fn conversation_message_id(conversation_id: &str, message: u32) -> String {
    format!("{conversation_id}:{message}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregates::delivery::tests::{providers, sms_ok};
    use crate::ports::ProviderError;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
    }

    async fn run(
        m: &mut ConversationMessage,
        services: &DeliveryServices,
        command: ConversationMessageCommand,
    ) -> Result<Vec<ConversationMessageEvent>, ConversationMessageError> {
        let events = m.decide(command, services).await?;
        events.iter().cloned().for_each(|e| m.apply_event(e));
        Ok(events)
    }

    fn write(reply: bool) -> ConversationMessageCommand {
        ConversationMessageCommand::Write {
            conversation_id: "c1".into(),
            message: 1,
            channel: Channel::Sms,
            content_key: "k".into(),
            content_sha256: "d".into(),
            reply_until: reply.then(|| now() + Duration::days(14)),
            reply_max_chars: reply.then_some(10),
            attachment: None,
            now: now(),
        }
    }

    fn send() -> ConversationMessageCommand {
        ConversationMessageCommand::Send {
            outgoing: Box::new(Outgoing {
                reference: "A12345:conversation:c1:1:sms".into(),
                to: "+447700100123".into(),
                recipient_fingerprint: "f".into(),
                subject: None,
                body: "Hello".into(),
            }),
            now: now(),
        }
    }

    fn reply(chars: u32, at: DateTime<Utc>) -> ConversationMessageCommand {
        ConversationMessageCommand::Reply {
            reply_key: "r".into(),
            reply_sha256: "rd".into(),
            chars,
            now: at,
        }
    }

    #[tokio::test]
    async fn a_message_is_sent_once_under_its_key_however_often_the_job_comes() {
        let (services, scripted) = sms_ok();
        let mut m = ConversationMessage::default();
        assert_eq!(
            run(&mut m, &services, send()).await,
            Err(ConversationMessageError::NotWritten)
        );
        assert_eq!(run(&mut m, &services, write(false)).await.unwrap().len(), 1);
        assert!(run(&mut m, &services, write(false))
            .await
            .unwrap()
            .is_empty());
        let sent = run(&mut m, &services, send()).await.unwrap();
        assert!(matches!(
            &sent[..],
            [ConversationMessageEvent::ConversationMessageSent { provider_reference, idempotency_key, .. }]
                if provider_reference == "ref-1" && idempotency_key == "A12345:conversation:c1:1:sms"
        ));
        assert!(run(&mut m, &services, send()).await.unwrap().is_empty());
        assert_eq!(
            *scripted.keys.lock().unwrap(),
            vec!["A12345:conversation:c1:1:sms".to_owned()]
        );
        let delivered = ConversationMessageCommand::RecordReceipt {
            outcome: ReceiptOutcome::Delivered,
            at: now(),
        };
        assert_eq!(
            run(&mut m, &services, delivered.clone())
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(run(&mut m, &services, delivered).await.unwrap().is_empty());
        assert_eq!(m.status(), DeliveryStatus::Delivered);
    }

    #[tokio::test]
    async fn a_provider_that_is_down_leaves_the_message_to_be_tried_again() {
        let (services, _) = providers(
            Err(ProviderError::Unavailable("down".into())),
            Ok("x".into()),
        );
        let mut m = ConversationMessage::default();
        run(&mut m, &services, write(false)).await.unwrap();
        assert!(matches!(
            run(&mut m, &services, send()).await,
            Err(ConversationMessageError::ProviderUnavailable(_))
        ));
        assert_eq!(m.status(), DeliveryStatus::NotSent);
    }

    #[tokio::test]
    async fn one_reply_within_its_time_and_length_and_none_without_leave() {
        let (services, _) = sms_ok();
        let mut m = ConversationMessage::default();
        run(&mut m, &services, write(false)).await.unwrap();
        run(&mut m, &services, send()).await.unwrap();
        assert_eq!(
            run(&mut m, &services, reply(3, now())).await,
            Err(ConversationMessageError::NoReplyAllowed)
        );

        let mut m = ConversationMessage::default();
        run(&mut m, &services, write(true)).await.unwrap();
        assert_eq!(
            run(&mut m, &services, reply(3, now())).await,
            Err(ConversationMessageError::NeverSent)
        );
        run(&mut m, &services, send()).await.unwrap();
        assert_eq!(
            run(&mut m, &services, reply(11, now())).await,
            Err(ConversationMessageError::TooLong { max: 10, given: 11 })
        );
        assert_eq!(
            run(&mut m, &services, reply(0, now())).await,
            Err(ConversationMessageError::EmptyReply)
        );
        let late = now() + Duration::days(14);
        assert_eq!(
            run(&mut m, &services, reply(3, late)).await,
            Err(ConversationMessageError::LinkExpired)
        );
        assert_eq!(
            run(&mut m, &services, reply(10, now()))
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            run(&mut m, &services, reply(3, now())).await,
            Err(ConversationMessageError::AlreadyReplied)
        );
        // Replied: the link still opens, to say so, even past its time.
        assert_eq!(m.link_refusal(late), None);
    }

    #[tokio::test]
    async fn a_message_with_no_receipt_in_72_hours_fails_and_a_delivered_one_stays_delivered() {
        let (services, _) = sms_ok();
        let expire = |hours| ConversationMessageCommand::ExpireUnconfirmed {
            now: now() + Duration::hours(hours),
        };
        let mut m = ConversationMessage::default();
        run(&mut m, &services, write(false)).await.unwrap();
        assert!(
            run(&mut m, &services, expire(100))
                .await
                .unwrap()
                .is_empty(),
            "never sent"
        );
        run(&mut m, &services, send()).await.unwrap();
        assert!(run(&mut m, &services, expire(71)).await.unwrap().is_empty());
        let failed = run(&mut m, &services, expire(72)).await.unwrap();
        assert!(matches!(
            &failed[..],
            [ConversationMessageEvent::ConversationMessageFailed {
                failure: DeliveryFailure::NoReceipt,
                ..
            }]
        ));
        assert_eq!(m.status(), DeliveryStatus::Failed);

        let mut m = ConversationMessage::default();
        run(&mut m, &services, write(false)).await.unwrap();
        run(&mut m, &services, send()).await.unwrap();
        let delivered = ConversationMessageCommand::RecordReceipt {
            outcome: ReceiptOutcome::Delivered,
            at: now(),
        };
        run(&mut m, &services, delivered).await.unwrap();
        assert!(run(&mut m, &services, expire(72)).await.unwrap().is_empty());
        assert_eq!(m.status(), DeliveryStatus::Delivered);
    }

    #[tokio::test]
    async fn five_wrong_dates_of_birth_lock_the_reply_link() {
        let (services, _) = sms_ok();
        let mut m = ConversationMessage::default();
        run(&mut m, &services, write(true)).await.unwrap();
        run(&mut m, &services, send()).await.unwrap();
        let check = |matches| ConversationMessageCommand::CheckIdentity {
            matches,
            now: now(),
        };
        for _ in 0..MAX_IDENTITY_ATTEMPTS {
            run(&mut m, &services, check(false)).await.unwrap();
        }
        assert_eq!(
            run(&mut m, &services, check(true)).await,
            Err(ConversationMessageError::Locked)
        );
        assert_eq!(
            run(&mut m, &services, reply(3, now())).await,
            Err(ConversationMessageError::Locked)
        );
    }
}
