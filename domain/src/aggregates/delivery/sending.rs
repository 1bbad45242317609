//! Sending: the first message, its SMS fallback (`fallback_is_due`
//! decides when), and follow-ons (reminders, series texts, Self-Book
//! notices), each through its provider under a fixed idempotency key.

use chrono::{DateTime, Utc};
use events::{Channel, DeliveryEvent};

use super::*;
use crate::jobs::FollowOn;

/// A provider's answer to one send, as the event that records it.
pub(crate) enum Answer {
    Sent(String),
    Refused(SendFailureReason),
}

pub(crate) fn answer(result: Result<String, ProviderError>) -> Result<Answer, DeliveryError> {
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
pub(crate) async fn call_provider(
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

    /// The first message, once: a redelivered job finds it sent. An NHS App
    /// message the app refuses falls back to SMS at once.
    pub(super) async fn send(
        &self,
        services: &DeliveryServices,
        message: Box<Message>,
        now: DateTime<Utc>,
    ) -> Decided {
        let mut events = Vec::new();
        if self.status != DeliveryStatus::NotSent {
            // A redelivered message: the patient has their outcome already.
            return Ok(events);
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
                events.push(event);
                events.push(then);
            }
            _ => events.push(event),
        }
        Ok(events)
    }

    /// The SMS fallback of an NHS App message, when `fallback_is_due`.
    pub(super) async fn fall_back(
        &self,
        services: &DeliveryServices,
        fallback: Box<Fallback>,
        now: DateTime<Utc>,
    ) -> Decided {
        let mut events = Vec::new();
        if !self.fallback_is_due(now) {
            return Ok(events);
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
        events.push(event);
        Ok(events)
    }

    /// A reminder, a series text or a Self-Book notice, each once.
    pub(super) async fn send_follow_on(
        &self,
        services: &DeliveryServices,
        follow_on: FollowOn,
        message: Box<Message>,
        now: DateTime<Utc>,
    ) -> Decided {
        let mut events = Vec::new();
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
            FollowOn::Notice(n) => self.first_sent_at.is_some() && !self.notices.contains(&n),
        };
        if !wanted {
            return Ok(events);
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
        let answer = call_provider(services, channel, &reference, to, subject, body).await?;
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
            (FollowOn::Series(step), Answer::Refused(reason)) => DeliveryEvent::SeriesTextNotSent {
                batch_id,
                row,
                step,
                reason,
                at: now,
            },
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
            (FollowOn::Notice(notice), Answer::Refused(reason)) => DeliveryEvent::NoticeNotSent {
                batch_id,
                row,
                notice,
                reason,
                at: now,
            },
        };
        events.push(event);
        Ok(events)
    }

    /// Staff stopped the series for this patient, for good.
    pub(super) fn stop_series(&self, now: DateTime<Utc>) -> Decided {
        let mut events = Vec::new();
        if !self.series_stopped {
            let event = DeliveryEvent::SeriesStopped {
                batch_id: self.batch_id.clone(),
                row: self.row,
                stopped_at: now,
            };
            events.push(event);
        }
        Ok(events)
    }
}
