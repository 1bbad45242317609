//! The Batch aggregate: one per batch message, from draft to Saved. It
//! knows its list by key and counts, never by rows. `handle` dispatches
//! each command to its own method (`commands.rs`); the state and what the
//! events do to it live here.

mod commands;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use events::{
    Attachment, BatchEvent, BatchKind, ListAttached, Questionnaire, SelfBook, StaggerDay,
};
use serde::{Deserialize, Serialize};

use crate::content::BatchContent;
use crate::links::LinkPurpose;
use crate::policies::{PolicyError, SendPlan, SendingWindow};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// No events yet: the batch does not exist.
    #[default]
    Absent,
    Draft,
    Scheduled,
    Sending,
    Done,
    Cancelled,
    /// Done, and the messages sent are being saved to patients' records.
    Saving,
    Saved,
}

impl BatchStatus {
    /// The status name staff see.
    pub fn label(self) -> &'static str {
        match self {
            Self::Absent => "Absent",
            Self::Draft => "Draft",
            Self::Scheduled => "Scheduled",
            Self::Sending => "Sending",
            Self::Done => "Done",
            Self::Cancelled => "Cancelled",
            Self::Saving => "Saving",
            Self::Saved => "Saved",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Batch {
    status: BatchStatus,
    organisation_id: String,
    content: BatchContent,
    template: String,
    email_subject: Option<String>,
    snomed_code: Option<String>,
    artifact_key: String,
    contactable_count: u64,
    /// Contactable patients with a mobile: an SMS-only batch's recipients.
    mobile_count: Option<u64>,
    stagger: Vec<StaggerDay>,
    /// Every link the batch sent is withdrawn, for good.
    links_revoked: bool,
    /// The workspace whose inbox its questionnaire answers come back to.
    #[serde(default)]
    workspace_id: Option<String>,
}

/// A batch as staff create it: its name, message and content, and the
/// checked list it goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBatch {
    pub batch_id: String,
    pub organisation_id: String,
    pub name: String,
    pub template: String,
    pub email_subject: Option<String>,
    pub snomed_code: Option<String>,
    /// What it sends: one kind of content.
    pub content: BatchContent,
    pub list: ListAttached,
    /// The template its message was copied from, if it was.
    pub from_template: Option<events::TemplateUsed>,
    /// The workspace whose inbox its questionnaire answers come back to.
    pub workspace_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BatchCommand {
    Create(Box<NewBatch>),
    /// Send now, or at `send_at` when that is in the future; all at once, or
    /// staggered over `stagger_days` days (see `policies::stagger`).
    /// Send now, or schedule the send; all at once, or staggered. A start
    /// that has passed, or is more than a year away, is refused.
    Send {
        organisation_id: String,
        now: DateTime<Utc>,
        plan: SendPlan,
        window: SendingWindow,
    },
    /// The timer for a scheduled send fired. Repeats are harmless.
    StartScheduledSend {
        now: DateTime<Utc>,
    },
    /// Every recipient has a final outcome. Repeats are harmless.
    Complete {
        now: DateTime<Utc>,
    },
    /// Saving to records began: `records` patients were sent a message.
    /// Only a Done batch starts saving; repeats are harmless.
    StartSaving {
        records: u64,
        now: DateTime<Utc>,
    },
    /// Every record is written (or refused for good). Repeats are harmless.
    FinishSaving {
        now: DateTime<Utc>,
    },
    Cancel {
        organisation_id: String,
        now: DateTime<Utc>,
    },
    /// Withdraw every link the batch sent. Final; repeats are harmless.
    RevokeLinks {
        organisation_id: String,
        now: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("there is no such batch")]
    NotFound,
    #[error("this batch already exists")]
    AlreadyExists,
    #[error("the list has no contactable patients, so there is nothing to send")]
    NobodyToContact,
    #[error("this batch has already been sent")]
    AlreadySent,
    #[error("this batch was cancelled")]
    Cancelled,
    #[error(
        "a batch that has started sending cannot be cancelled; its links can be revoked instead"
    )]
    CannotCancelWhileSending,
    #[error(
        "every day of this staggered batch has started sending, so it can no longer be cancelled; its links can be revoked instead"
    )]
    StaggerFinished,
    #[error("this batch's messages have no links to revoke")]
    NoLinks,
    #[error(
        "this batch has not sent anything yet, so it has no links to revoke; cancel it instead"
    )]
    NothingSentYet,
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

impl Batch {
    pub fn status(&self) -> BatchStatus {
        self.status
    }

    pub fn organisation_id(&self) -> &str {
        &self.organisation_id
    }

    pub fn template(&self) -> &str {
        &self.template
    }

    /// What the batch sends.
    pub fn content(&self) -> &BatchContent {
        &self.content
    }

    pub fn kind(&self) -> BatchKind {
        self.content.kind()
    }

    pub fn email_subject(&self) -> Option<&str> {
        self.email_subject.as_deref()
    }

    /// The questionnaire a Florey batch links to.
    /// The workspace whose inbox its questionnaire answers come back to.
    pub fn workspace_id(&self) -> Option<&str> {
        self.workspace_id.as_deref()
    }

    pub fn questionnaire(&self) -> Option<Questionnaire> {
        self.content.questionnaire()
    }

    /// Sent by SMS only, to the patients with a mobile (the inhaler series
    /// and Self-Book).
    pub fn sms_only(&self) -> bool {
        self.content.sms_only()
    }

    /// What a Self-Book batch's links book.
    pub fn self_book(&self) -> Option<&SelfBook> {
        self.content.self_book()
    }

    /// How many patients the batch sends to.
    pub fn recipients(&self) -> u64 {
        recipients(self.kind(), self.contactable_count, self.mobile_count)
    }

    /// The file a batch's links open.
    pub fn attachment(&self) -> Option<&Attachment> {
        self.content.attachment()
    }

    /// What each patient's link opens, for a batch whose messages carry one.
    pub fn link_purpose(&self) -> Option<LinkPurpose> {
        self.content.link_purpose()
    }

    /// Whether staff withdrew every link the batch sent.
    pub fn links_revoked(&self) -> bool {
        self.links_revoked
    }

    /// The SNOMED CT concept saved to each patient's record with the message.
    pub fn snomed_code(&self) -> Option<&str> {
        self.snomed_code.as_deref()
    }

    /// The days of a staggered send; empty when it all goes at once.
    pub fn stagger(&self) -> &[StaggerDay] {
        &self.stagger
    }

    /// Where the checked list is in the blob store.
    pub fn artifact_key(&self) -> &str {
        &self.artifact_key
    }
}

/// Who a batch of `kind` sends to: every contactable patient, or for an
/// SMS-only kind (the inhaler series, Self-Book) those with a mobile. Lists
/// checked before mobiles were counted give `None`, and count everyone.
pub fn recipients(kind: BatchKind, contactable: u64, with_mobile: Option<u64>) -> u64 {
    match with_mobile {
        Some(with_mobile) if crate::content::sms_only(kind) => with_mobile,
        _ => contactable,
    }
}

aggregate!(Batch, "Batch", BatchCommand, BatchEvent, BatchError, ());

impl Batch {
    async fn decide(
        &mut self,
        command: BatchCommand,
        _services: &(),
    ) -> Result<Vec<BatchEvent>, BatchError> {
        let events = match command {
            BatchCommand::Create(new) => self.create(*new)?,
            BatchCommand::Send {
                organisation_id,
                now,
                plan,
                window,
            } => self.send(&organisation_id, now, plan, &window)?,
            BatchCommand::StartScheduledSend { now } => self.start_scheduled_send(now),
            BatchCommand::Complete { now } => self.complete(now),
            BatchCommand::StartSaving { records, now } => self.start_saving(records, now),
            BatchCommand::FinishSaving { now } => self.finish_saving(now),
            BatchCommand::Cancel {
                organisation_id,
                now,
            } => self.cancel(&organisation_id, now)?,
            BatchCommand::RevokeLinks {
                organisation_id,
                now,
            } => self.revoke_links(&organisation_id, now)?,
        };
        Ok(events)
    }

    fn apply_event(&mut self, event: BatchEvent) {
        match event {
            BatchEvent::BatchDrafted {
                organisation_id,
                kind,
                template,
                email_subject,
                snomed_code,
                questionnaire,
                attachment,
                self_book,
                workspace_id,
                ..
            } => {
                self.workspace_id = workspace_id;
                self.status = BatchStatus::Draft;
                self.content = BatchContent::drafted(kind, questionnaire, attachment, self_book);
                self.organisation_id = organisation_id;
                self.template = template;
                self.email_subject = email_subject;
                self.snomed_code = snomed_code;
            }
            BatchEvent::PatientListAttached(list) => {
                self.contactable_count = list.contactable_count;
                self.mobile_count = list.mobile_count;
                self.artifact_key = list.artifact_key;
            }
            BatchEvent::SendScheduled { stagger, .. } => {
                self.status = BatchStatus::Scheduled;
                self.stagger = stagger;
            }
            BatchEvent::SendingStarted { stagger, .. } => {
                self.status = BatchStatus::Sending;
                self.stagger = stagger;
            }
            BatchEvent::BatchCompleted { .. } => self.status = BatchStatus::Done,
            BatchEvent::BatchCancelled { .. } => self.status = BatchStatus::Cancelled,
            BatchEvent::SavingStarted { .. } => self.status = BatchStatus::Saving,
            BatchEvent::RecordsSaved { .. } => self.status = BatchStatus::Saved,
            BatchEvent::LinksRevoked { .. } => self.links_revoked = true,
        }
    }
}
