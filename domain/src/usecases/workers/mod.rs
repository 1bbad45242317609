//! Background work, one file per step of the flow: the queue round, the
//! reactor, fan-out, send and receipts, the follow-up sweep (NHS App
//! fallback, the 72-hour rule), follow-ons (reminders, series), timers and
//! completion, and records. Every step is safe to repeat: queues deliver at
//! least once and processes die. This file holds what the steps share.

mod conversations;
mod fan_out;
mod follow_ons;
mod follow_up;
mod queue;
mod reactor;
mod records;
mod send;
mod timers;

pub(in crate::usecases) use follow_ons::FOLLOW_ONS_IDLE;

use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;

use crate::aggregates::Batch;
use crate::links::{self, LinkRecord};
use crate::lists::CheckedRow;
use crate::ports::{PortError, QueueName, Timer, TimerJob};
use crate::projection::ProjectionError;
use crate::template::{self};
use crate::usecases::links::link_record;
use crate::usecases::{Batchbook, BatchbookError};
use crate::values::OrganisationId;

/// How many send messages go to the queue in one call.
pub(in crate::usecases) const FAN_OUT_CHUNK: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    Done,
    /// Nothing to do: the work was done before, or is no longer wanted.
    Skipped,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The message can never be handled; it goes to the dead-letter queue.
    #[error("malformed job: {0}")]
    Malformed(String),
    /// Worth retrying: the message stays on the queue.
    #[error("{0}")]
    Retry(String),
}

impl From<PortError> for JobError {
    fn from(e: PortError) -> Self {
        Self::Retry(e.0)
    }
}

impl From<ProjectionError> for JobError {
    fn from(e: ProjectionError) -> Self {
        match e {
            ProjectionError::Store(e) => e.into(),
            other => Self::Malformed(other.to_string()),
        }
    }
}

impl From<BatchbookError> for JobError {
    fn from(e: BatchbookError) -> Self {
        Self::Retry(e.to_string())
    }
}

/// A job or artifact line that cannot be read. serde's own message can quote
/// the offending value (a phone number, say), so only where it went wrong
/// is kept.
pub(in crate::usecases) fn unreadable(what: &str, e: &serde_json::Error) -> JobError {
    JobError::Malformed(format!(
        "{what} is not valid ({:?} error at line {} column {})",
        e.classify(),
        e.line(),
        e.column()
    ))
}

pub(in crate::usecases) fn organisation(raw: &str) -> Result<OrganisationId, JobError> {
    OrganisationId::parse(raw).map_err(|e| JobError::Malformed(e.to_string()))
}

pub(in crate::usecases) fn to_json<T: serde::Serialize>(job: &T) -> String {
    serde_json::to_string(job).expect("jobs serialise")
}

/// Why a provider's receipt was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// Not a reference Batchbook gives: the provider should not retry.
    #[error("the receipt's reference is not one Batchbook gave")]
    UnknownReference,
    #[error(transparent)]
    Retry(#[from] JobError),
}

/// A batch's timers that book themselves again while there is work ahead.
#[derive(Debug, Clone, Copy)]
pub(in crate::usecases) enum Recurring {
    /// NHS App fallbacks and the 72-hour rule.
    FollowUp,
    /// Questionnaire reminders.
    Reminders,
    /// The inhaler series' texts.
    Series,
    /// Self-Book links expiring with nothing booked.
    InviteExpiry,
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Puts a fan-out on its queue.
    pub(in crate::usecases) async fn queue_fan_out(
        &self,
        job: crate::jobs::FanOut,
    ) -> Result<(), PortError> {
        self.ports
            .queue
            .send(QueueName::FanOut, vec![to_json(&job)])
            .await
    }

    /// Books one of a batch's recurring timers for `due_at`. Timers are
    /// kept once run, so each booking has its own id.
    pub(in crate::usecases) async fn book(
        &self,
        recurring: Recurring,
        organisation_id: &str,
        batch_id: &str,
        due_at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let (organisation_id, batch_id) = (organisation_id.to_owned(), batch_id.to_owned());
        let (name, job) = match recurring {
            Recurring::FollowUp => (
                "follow-up",
                TimerJob::FollowUp {
                    organisation_id,
                    batch_id: batch_id.clone(),
                },
            ),
            Recurring::Reminders => (
                "reminders",
                TimerJob::Reminders {
                    organisation_id,
                    batch_id: batch_id.clone(),
                },
            ),
            Recurring::Series => (
                "series",
                TimerJob::Series {
                    organisation_id,
                    batch_id: batch_id.clone(),
                },
            ),
            Recurring::InviteExpiry => (
                "invite-expiry",
                TimerJob::InviteExpiry {
                    organisation_id,
                    batch_id: batch_id.clone(),
                },
            ),
        };
        let timer = Timer {
            id: format!("batch:{batch_id}:{name}:{}", due_at.timestamp()),
            due_at,
            job,
        };
        self.ports.timers.schedule(timer).await
    }

    pub(in crate::usecases) async fn load_batch(&self, batch_id: &str) -> Result<Batch, JobError> {
        Ok(self.batches.load(batch_id).await?)
    }

    /// The checked list of a batch, one row at a time.
    pub(in crate::usecases) async fn list_rows(&self, batch: &Batch) -> Result<Vec<u8>, JobError> {
        self.ports
            .blobs
            .get(batch.artifact_key())
            .await?
            .ok_or_else(|| JobError::Malformed("the batch's list artifact is missing".into()))
    }

    /// The link in one patient's message, for a batch that sends links: its
    /// URL and what the link directory keeps about it. The same every time
    /// (see `links`), so the first message, its fallback, its reminders and
    /// the record all carry one link.
    pub(in crate::usecases) fn patient_link(
        &self,
        batch: &Batch,
        batch_id: &str,
        row: &CheckedRow,
    ) -> Option<(String, LinkRecord)> {
        let (token, record) = link_record(
            &self.ports.links.key,
            batch.organisation_id(),
            batch_id,
            row.row,
            batch.link_purpose()?,
            row.date_of_birth.as_deref(),
        );
        Some((links::url(&self.ports.links.base_url, &token), record))
    }

    /// One patient's message, as the template renders it for them.
    pub(in crate::usecases) fn message_for(
        &self,
        template: &template::Template,
        batch: &Batch,
        batch_id: &str,
        row: &CheckedRow,
    ) -> String {
        let link = self.patient_link(batch, batch_id, row).map(|(url, _)| url);
        template.render(row.given_name.as_deref(), link.as_deref())
    }

    /// Queues send jobs, `FAN_OUT_CHUNK` to a call.
    pub(in crate::usecases) async fn queue_sends(
        &self,
        messages: Vec<String>,
    ) -> Result<(), JobError> {
        for chunk in messages.chunks(FAN_OUT_CHUNK) {
            self.ports
                .queue
                .send(QueueName::Send, chunk.to_vec())
                .await?;
        }
        Ok(())
    }
}
