//! The Batch's commands, one method each: what each decides, and the
//! events it gives.

use chrono::{DateTime, Utc};
use events::{BatchEvent, StaggerDay};

use super::{recipients, Batch, BatchError, BatchStatus, NewBatch};
use crate::content::BatchContent;
use crate::policies::{stagger, SendPlan, SendingWindow};

type Decided = Result<Vec<BatchEvent>, BatchError>;

impl Batch {
    /// Commands from staff name their organisation; another organisation's
    /// batch looks exactly like a batch that does not exist.
    fn owned_by(&self, organisation_id: &str) -> Result<(), BatchError> {
        if self.status == BatchStatus::Absent || self.organisation_id != organisation_id {
            return Err(BatchError::NotFound);
        }
        Ok(())
    }

    fn start_sending(&self, now: DateTime<Utc>, stagger: Vec<StaggerDay>) -> BatchEvent {
        BatchEvent::SendingStarted {
            recipient_count: self.recipients(),
            started_at: now,
            stagger,
        }
    }

    pub(super) fn create(&self, new: NewBatch) -> Decided {
        let NewBatch {
            batch_id,
            organisation_id,
            name,
            template,
            email_subject,
            snomed_code,
            content,
            list,
            from_template,
            workspace_id,
        } = new;
        if self.status != BatchStatus::Absent {
            return Err(BatchError::AlreadyExists);
        }
        let kind = content.kind();
        if recipients(kind, list.contactable_count, list.mobile_count) == 0 {
            return Err(BatchError::NobodyToContact);
        }
        let questionnaire = content.questionnaire();
        let (attachment, self_book) = match content {
            BatchContent::Attachment(a) => (Some(a), None),
            BatchContent::SelfBook(s) => (None, Some(s)),
            _ => (None, None),
        };
        Ok(vec![
            BatchEvent::BatchDrafted {
                batch_id,
                organisation_id,
                name,
                kind,
                template,
                email_subject,
                snomed_code,
                questionnaire,
                attachment,
                self_book,
                from_template: from_template.map(Box::new),
                workspace_id,
            },
            BatchEvent::PatientListAttached(list),
        ])
    }

    /// Sends now, or schedules the send; all at once, or staggered (see
    /// `policies::stagger`). A start that has passed, or is more than a
    /// year away, is refused (`SendPlan::scheduled_for`).
    pub(super) fn send(
        &self,
        organisation_id: &str,
        now: DateTime<Utc>,
        plan: SendPlan,
        window: &SendingWindow,
    ) -> Decided {
        self.owned_by(organisation_id)?;
        match self.status {
            BatchStatus::Draft => {}
            BatchStatus::Cancelled => return Err(BatchError::Cancelled),
            _ => return Err(BatchError::AlreadySent),
        }
        let start = plan.scheduled_for(now)?;
        let stagger = match plan.stagger_days {
            Some(days) => stagger(self.recipients(), days, start.unwrap_or(now), window)?,
            None => vec![],
        };
        Ok(vec![match start {
            Some(send_at) => BatchEvent::SendScheduled { send_at, stagger },
            None => self.start_sending(now, stagger),
        }])
    }

    /// The timer for a scheduled send fired. Repeats are harmless.
    pub(super) fn start_scheduled_send(&self, now: DateTime<Utc>) -> Vec<BatchEvent> {
        if self.status != BatchStatus::Scheduled {
            return vec![];
        }
        vec![self.start_sending(now, self.stagger.clone())]
    }

    /// Every recipient has a final outcome. Repeats are harmless.
    pub(super) fn complete(&self, now: DateTime<Utc>) -> Vec<BatchEvent> {
        if self.status != BatchStatus::Sending {
            return vec![];
        }
        vec![BatchEvent::BatchCompleted { completed_at: now }]
    }

    /// Saving to records began; only a Done batch starts saving.
    pub(super) fn start_saving(&self, records: u64, now: DateTime<Utc>) -> Vec<BatchEvent> {
        if self.status != BatchStatus::Done {
            return vec![];
        }
        vec![BatchEvent::SavingStarted {
            records,
            started_at: now,
        }]
    }

    /// Every record is written (or refused for good).
    pub(super) fn finish_saving(&self, now: DateTime<Utc>) -> Vec<BatchEvent> {
        if self.status != BatchStatus::Saving {
            return vec![];
        }
        vec![BatchEvent::RecordsSaved { saved_at: now }]
    }

    /// A batch not yet sending, or a staggered one before its last day
    /// starts, is cancelled: what was not sent is never sent.
    pub(super) fn cancel(&self, organisation_id: &str, now: DateTime<Utc>) -> Decided {
        self.owned_by(organisation_id)?;
        let cancelled = BatchEvent::BatchCancelled { cancelled_at: now };
        match self.status {
            BatchStatus::Draft | BatchStatus::Scheduled => Ok(vec![cancelled]),
            BatchStatus::Cancelled => Ok(vec![]),
            // A staggered send can be stopped until its last day starts.
            BatchStatus::Sending if !self.stagger.is_empty() => {
                if self.stagger.iter().all(|day| day.starts_at <= now) {
                    return Err(BatchError::StaggerFinished);
                }
                Ok(vec![cancelled])
            }
            _ => Err(BatchError::CannotCancelWhileSending),
        }
    }

    /// Withdraws every link the batch sent. Final; repeats are harmless.
    pub(super) fn revoke_links(&self, organisation_id: &str, now: DateTime<Utc>) -> Decided {
        self.owned_by(organisation_id)?;
        if self.link_purpose().is_none() {
            return Err(BatchError::NoLinks);
        }
        if matches!(self.status, BatchStatus::Draft | BatchStatus::Scheduled) {
            return Err(BatchError::NothingSentYet);
        }
        if self.links_revoked {
            return Ok(vec![]);
        }
        Ok(vec![BatchEvent::LinksRevoked { revoked_at: now }])
    }
}
