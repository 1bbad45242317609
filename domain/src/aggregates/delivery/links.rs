//! The patient's link: revoked by staff, the date-of-birth check (five
//! wrong answers lock it), answers and the attachment, never on a link
//! that cannot be used.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use events::{DeliveryEvent, Questionnaire};

use super::*;
use crate::links::MAX_IDENTITY_ATTEMPTS;

impl Delivery {
    /// Staff withdrew the link, for good.
    pub(super) fn revoke_link(&self, now: DateTime<Utc>) -> Decided {
        let mut events = Vec::new();
        if !self.link_revoked {
            let event = DeliveryEvent::LinkRevoked {
                batch_id: self.batch_id.clone(),
                row: self.row,
                revoked_at: now,
            };
            events.push(event);
        }
        Ok(events)
    }

    /// A date of birth given for the link; the fifth wrong one locks it.
    pub(super) fn check_identity(&self, matches: bool, now: DateTime<Utc>) -> Decided {
        let mut events = Vec::new();
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
        events.push(event);
        Ok(events)
    }

    /// The patient's answers, once, on a link that can be used.
    pub(super) fn answer_questionnaire(
        &self,
        questionnaire: Questionnaire,
        answers: BTreeMap<String, String>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Decided {
        let mut events = Vec::new();
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
        events.push(event);
        Ok(events)
    }

    /// The patient opened the attachment: recorded the first time.
    pub(super) fn open_attachment(&self, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Decided {
        let mut events = Vec::new();
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
            events.push(event);
        }
        Ok(events)
    }
}
