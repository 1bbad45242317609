//! Saving the message sent to the patient's record, once.

use chrono::{DateTime, Utc};
use events::DeliveryEvent;

use super::*;
use crate::ports::{RecordEntry, RecordError};

impl Delivery {
    /// Saves the message sent to the patient's record, once.
    pub(super) async fn save_to_record(
        &self,
        services: &DeliveryServices,
        entry: Box<RecordEntry>,
        now: DateTime<Utc>,
    ) -> Decided {
        let mut events = Vec::new();
        if self.record_written || self.sent_at.is_none() {
            return Ok(events);
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
        events.push(event);
        Ok(events)
    }
}
