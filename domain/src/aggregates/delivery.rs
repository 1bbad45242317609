//! The Delivery aggregate: one per patient per batch. Its optimistic lock and
//! the provider's idempotency key together make a send happen once, however
//! often the queue delivers the message.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use events::{Channel, DeliveryEvent, SendFailureReason};
use serde::{Deserialize, Serialize};

use crate::ports::{ProviderError, SmsProvider, SmsRequest};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    #[default]
    NotSent,
    Sent,
    Failed,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Delivery {
    status: DeliveryStatus,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryCommand {
    Send {
        delivery_id: String,
        batch_id: String,
        row: u64,
        channel: Channel,
        to: String,
        /// `to` as failure history keeps it: see `ports::recipient_fingerprint`.
        recipient_fingerprint: String,
        body: String,
        now: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying later: the message stays on the queue.
    #[error("the provider could not take the message now: {0}")]
    ProviderUnavailable(String),
    #[error("channel {0} is not available yet")]
    ChannelNotSupported(&'static str),
}

/// What the Delivery aggregate calls out to.
pub struct DeliveryServices {
    pub sms: Arc<dyn SmsProvider>,
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
        let DeliveryCommand::Send {
            delivery_id,
            batch_id,
            row,
            channel,
            to,
            recipient_fingerprint,
            body,
            now,
        } = command;
        if self.status != DeliveryStatus::NotSent {
            // A redelivered message: the patient has their outcome already.
            return Ok(());
        }
        if channel != Channel::Sms {
            return Err(DeliveryError::ChannelNotSupported(channel.as_str()));
        }
        // The key is fixed per delivery, so a retry after a crash between the
        // provider's answer and our commit reaches the provider as a repeat.
        let idempotency_key = format!("{delivery_id}:sms");
        let request = SmsRequest {
            idempotency_key: idempotency_key.clone(),
            to,
            body,
        };
        let event = match services.sms.send_sms(&request).await {
            Ok(provider_reference) => DeliveryEvent::MessageSent {
                batch_id,
                row,
                channel,
                provider_reference,
                idempotency_key,
                sent_at: now,
            },
            Err(failure @ (ProviderError::PermanentFailure | ProviderError::Rejected)) => {
                DeliveryEvent::SendFailed {
                    batch_id,
                    row,
                    channel,
                    reason: match failure {
                        ProviderError::PermanentFailure => SendFailureReason::PermanentFailure,
                        _ => SendFailureReason::Rejected,
                    },
                    failed_at: now,
                    recipient_fingerprint: Some(recipient_fingerprint),
                }
            }
            Err(other) => return Err(DeliveryError::ProviderUnavailable(other.to_string())),
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.status = match event {
            DeliveryEvent::MessageSent { .. } => DeliveryStatus::Sent,
            DeliveryEvent::SendFailed { .. } => DeliveryStatus::Failed,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;
    use std::sync::Mutex;

    /// Answers each send with a scripted result and records every request.
    struct ScriptedSms {
        answer: Result<String, ProviderError>,
        requests: Mutex<Vec<SmsRequest>>,
    }

    #[async_trait::async_trait]
    impl SmsProvider for ScriptedSms {
        async fn send_sms(&self, request: &SmsRequest) -> Result<String, ProviderError> {
            self.requests.lock().unwrap().push(request.clone());
            self.answer.clone()
        }
    }

    fn services(answer: Result<String, ProviderError>) -> (DeliveryServices, Arc<ScriptedSms>) {
        let sms = Arc::new(ScriptedSms {
            answer,
            requests: Mutex::new(vec![]),
        });
        (DeliveryServices { sms: sms.clone() }, sms)
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
    }

    fn send() -> DeliveryCommand {
        DeliveryCommand::Send {
            delivery_id: "b-1:7".into(),
            batch_id: "b-1".into(),
            row: 7,
            channel: Channel::Sms,
            to: "+447700100123".into(),
            recipient_fingerprint: "f1".into(),
            body: "Hello".into(),
            now: now(),
        }
    }

    fn sent() -> DeliveryEvent {
        DeliveryEvent::MessageSent {
            batch_id: "b-1".into(),
            row: 7,
            channel: Channel::Sms,
            provider_reference: "ref-1".into(),
            idempotency_key: "b-1:7:sms".into(),
            sent_at: now(),
        }
    }

    #[test]
    fn a_new_delivery_is_sent_with_a_fixed_idempotency_key() {
        let (services, sms) = services(Ok("ref-1".into()));
        TestFramework::<Delivery>::with(services)
            .given_no_previous_events()
            .when(send())
            .then_expect_events(vec![sent()]);
        let requests = sms.requests.lock().unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].idempotency_key, "b-1:7:sms");
    }

    #[test]
    fn a_sent_delivery_is_never_sent_again() {
        let (services, sms) = services(Ok("ref-2".into()));
        TestFramework::<Delivery>::with(services)
            .given(vec![sent()])
            .when(send())
            .then_expect_events(vec![]);
        assert!(sms.requests.lock().unwrap().is_empty());
    }

    #[test]
    fn a_permanent_failure_is_recorded_not_retried() {
        let (services, _) = services(Err(ProviderError::PermanentFailure));
        TestFramework::<Delivery>::with(services)
            .given_no_previous_events()
            .when(send())
            .then_expect_events(vec![DeliveryEvent::SendFailed {
                batch_id: "b-1".into(),
                row: 7,
                channel: Channel::Sms,
                reason: SendFailureReason::PermanentFailure,
                failed_at: now(),
                recipient_fingerprint: Some("f1".into()),
            }]);
    }

    #[test]
    fn an_unavailable_provider_is_an_error_so_the_message_is_retried() {
        let (services, _) = services(Err(ProviderError::Unavailable("HTTP 503".into())));
        TestFramework::<Delivery>::with(services)
            .given_no_previous_events()
            .when(send())
            .then_expect_error(DeliveryError::ProviderUnavailable(
                "the provider is unavailable: HTTP 503".into(),
            ));
    }
}
