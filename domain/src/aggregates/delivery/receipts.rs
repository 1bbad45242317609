//! Receipts: what the provider says became of the message, and the
//! 72-hour rule for messages it never confirmed.

use chrono::{DateTime, Utc};
use events::{Channel, DeliveryEvent, DeliveryFailure};

use super::*;
use crate::policies::RECEIPT_DEADLINE;
use crate::ports::ReceiptOutcome;

impl Delivery {
    /// A provider's receipt for the current step; late and repeated ones
    /// change nothing.
    pub(super) fn record_receipt(
        &self,
        channel: Channel,
        outcome: ReceiptOutcome,
        at: DateTime<Utc>,
    ) -> Decided {
        let mut events = Vec::new();
        if self.channel != Some(channel) {
            // A late receipt for a step the patient has moved past.
            return Ok(events);
        }
        let (batch_id, row) = (self.batch_id.clone(), self.row);
        let event = match (self.status, outcome) {
            (DeliveryStatus::Sent, ReceiptOutcome::Delivered) => DeliveryEvent::MessageDelivered {
                batch_id,
                row,
                channel,
                delivered_at: at,
            },
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
            _ => return Ok(events),
        };
        events.push(event);
        Ok(events)
    }

    /// The 72-hour rule: a message still only "sent" fails.
    pub(super) fn expire_unconfirmed(&self, now: DateTime<Utc>) -> Decided {
        let mut events = Vec::new();
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
            events.push(event);
        }
        Ok(events)
    }
}
