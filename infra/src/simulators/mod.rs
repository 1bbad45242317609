//! Simulators for the outside services we cannot reach here. Each sits
//! behind the same port as the real client and behaves deterministically.

mod appointment_book;
mod clinical_system;
mod pds;
mod providers;

pub use appointment_book::{
    BookConfig, BookingRows, SimulatedAppointmentBook, SqliteBookingRows, BUNDLED_BOOK,
};
pub use clinical_system::{
    ClinicalSystemPace, RecordStore, SavedEntry, SimulatedClinicalSystem, SqliteRecordStore,
};
pub use pds::{SimulatedPds, SyntheticPatient};
pub use providers::{OutboxMessage, ProviderSimulatorSettings, SimulatedProviders};

use cqrs_es::persist::PersistedEventRepository;
use domain::ports::{PortError, ProviderError, Receipt, ReceiptOutcome};
use domain::usecases::{JobError, ReceiptError};
use domain::Batchbook;
use events::{Channel, DeliveryFailure};
use futures::future::join_all;

/// How many receipts are recorded at once.
const RECEIPT_CONCURRENCY: usize = 2_000;

/// What the simulated providers do with a message, shared by every
/// simulator backend: refuse it (`Err`), or take it and later give this
/// receipt (`None`: never a receipt).
///
/// - SMS: a number ending `99` is refused (no longer in service). In the
///   range `07700 1900xx`, which synthetic lists reach only past 90,000 patients, `98` is a
///   temporary failure, `97` technical, `96` permanent and `95` never gets a
///   receipt. Anything else is delivered.
/// - Email, by the end of the local part: `-bounce` permanent failure,
///   `-full` temporary failure, `-silent` no receipt, `-rejected` refused;
///   anything else delivered.
/// - NHS App, by the NHS number's ninth digit: odd, the patient reads it;
///   even, it is delivered and left unread (so its SMS fallback goes).
pub fn outcome_for(channel: Channel, to: &str) -> Result<Option<ReceiptOutcome>, ProviderError> {
    use ReceiptOutcome::*;
    Ok(Some(match channel {
        Channel::Sms => match to.get(to.len().saturating_sub(2)..) {
            Some("99") => return Err(ProviderError::PermanentFailure),
            Some(end) if to.starts_with("+4477001900") => match end {
                "98" => Failed(DeliveryFailure::Temporary),
                "97" => Failed(DeliveryFailure::Technical),
                "96" => Failed(DeliveryFailure::Permanent),
                "95" => return Ok(None),
                _ => Delivered,
            },
            _ => Delivered,
        },
        Channel::Email => {
            let local = to.split('@').next().unwrap_or_default();
            match local.rsplit('-').next() {
                Some("bounce") => Failed(DeliveryFailure::Permanent),
                Some("full") => Failed(DeliveryFailure::Temporary),
                Some("silent") => return Ok(None),
                Some("rejected") => return Err(ProviderError::Rejected),
                _ => Delivered,
            }
        }
        Channel::NhsApp => match to.as_bytes().get(8) {
            Some(digit) if (digit - b'0') % 2 == 1 => Read,
            _ => Delivered,
        },
    }))
}

/// Where simulated receipts come from: the simulators' outboxes, which hand
/// over due receipts as a provider's callbacks would arrive.
#[async_trait::async_trait]
pub trait ReceiptSource: Send + Sync {
    /// Receipts due by now that have not been handed over.
    async fn take_due_receipts(&self, limit: usize) -> Result<Vec<Receipt>, PortError>;
    async fn mark_reported(&self, references: &[String]) -> Result<(), PortError>;
}

/// Hands due simulated receipts to the receipt use case, then marks them
/// handed over: a crash between the two repeats a receipt, which changes
/// nothing. Returns how many.
pub async fn deliver_receipts<R: PersistedEventRepository>(
    app: &Batchbook<R>,
    source: &dyn ReceiptSource,
    limit: usize,
) -> Result<usize, JobError> {
    let receipts = source.take_due_receipts(limit).await?;
    let references: Vec<String> = receipts.iter().map(|r| r.reference.clone()).collect();
    let mut recorded = Vec::with_capacity(receipts.len());
    for chunk in receipts.chunks(RECEIPT_CONCURRENCY) {
        recorded.extend(join_all(chunk.iter().cloned().map(|r| app.record_receipt(r))).await);
    }
    for result in recorded {
        match result {
            Ok(()) => {}
            Err(ReceiptError::UnknownReference) => {
                tracing::warn!("simulated receipt for a message Batchbook did not send");
            }
            Err(ReceiptError::Retry(e)) => return Err(e),
        }
    }
    source.mark_reported(&references).await?;
    Ok(references.len())
}

/// The simulated SMS provider's refusal for a number, if any.
pub fn refusal_for(to: &str) -> Option<ProviderError> {
    outcome_for(Channel::Sms, to).err()
}

/// The three message ports of a simulated provider whose outbox takes every
/// message through one inherent `accept(channel, key, to, subject, body)`:
/// the local outbox and the sandbox stack's DynamoDB one alike.
#[macro_export]
macro_rules! simulated_message_ports {
    ($outbox:ty) => {
        #[async_trait::async_trait]
        impl domain::ports::SmsProvider for $outbox {
            async fn send_sms(
                &self,
                request: &domain::ports::SmsRequest,
            ) -> Result<String, domain::ports::ProviderError> {
                let key = &request.idempotency_key;
                let sms = events::Channel::Sms;
                self.accept(sms, key, &request.to, None, &request.body)
                    .await
            }
        }

        #[async_trait::async_trait]
        impl domain::ports::EmailProvider for $outbox {
            async fn send_email(
                &self,
                request: &domain::ports::EmailRequest,
            ) -> Result<String, domain::ports::ProviderError> {
                let (key, subject) = (&request.idempotency_key, Some(request.subject.as_str()));
                let email = events::Channel::Email;
                self.accept(email, key, &request.to, subject, &request.body)
                    .await
            }
        }

        #[async_trait::async_trait]
        impl domain::ports::NhsAppProvider for $outbox {
            async fn send_nhs_app(
                &self,
                request: &domain::ports::NhsAppRequest,
            ) -> Result<String, domain::ports::ProviderError> {
                let (key, to) = (&request.idempotency_key, &request.nhs_number);
                let app = events::Channel::NhsApp;
                self.accept(app, key, to, None, &request.body).await
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_simulated_outcome_is_reachable() {
        use ReceiptOutcome::*;
        let cases = [
            (
                Channel::Sms,
                "+447700100199",
                Err(ProviderError::PermanentFailure),
            ),
            (
                Channel::Sms,
                "+447700190098",
                Ok(Some(Failed(DeliveryFailure::Temporary))),
            ),
            (
                Channel::Sms,
                "+447700190097",
                Ok(Some(Failed(DeliveryFailure::Technical))),
            ),
            (
                Channel::Sms,
                "+447700190096",
                Ok(Some(Failed(DeliveryFailure::Permanent))),
            ),
            (Channel::Sms, "+447700190095", Ok(None)),
            (Channel::Sms, "+447700100123", Ok(Some(Delivered))),
            (
                Channel::Email,
                "joe-bounce@example.com",
                Ok(Some(Failed(DeliveryFailure::Permanent))),
            ),
            (
                Channel::Email,
                "joe-full@example.com",
                Ok(Some(Failed(DeliveryFailure::Temporary))),
            ),
            (Channel::Email, "joe-silent@example.com", Ok(None)),
            (
                Channel::Email,
                "joe-rejected@example.com",
                Err(ProviderError::Rejected),
            ),
            (Channel::Email, "joe@example.com", Ok(Some(Delivered))),
            (Channel::NhsApp, "9990000034", Ok(Some(Read))),
            (Channel::NhsApp, "9990000026", Ok(Some(Delivered))),
        ];
        for (channel, to, expected) in cases {
            assert_eq!(outcome_for(channel, to), expected, "{to}");
        }
    }
}
