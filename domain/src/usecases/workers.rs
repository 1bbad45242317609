//! Background work: reactions to stored events, queue consumers, timers and
//! batch completion. Every step here is safe to repeat: queues deliver at
//! least once and processes die.

use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use cqrs_es::{AggregateContext, AggregateError, EventStore};
use events::{BatchEvent, Channel};
use futures::future::join_all;

use super::{Batchbook, BatchbookError, Caller};
use crate::aggregates::batch::BatchStatus;
use crate::aggregates::{BatchCommand, DeliveryCommand, DeliveryError};
use crate::jobs::{FanOut, SendMessage};
use crate::lists::{CheckedRow, Outcome};
use crate::ports::{PortError, QueueName, Timer, TimerJob};
use crate::projection::{decode, ProjectionError, RecordedEvent};
use crate::template;
use crate::values::OrganisationId;

/// How many send messages go to the queue in one call.
const FAN_OUT_CHUNK: usize = 500;

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
fn unreadable(what: &str, e: &serde_json::Error) -> JobError {
    JobError::Malformed(format!(
        "{what} is not valid ({:?} error at line {} column {})",
        e.classify(),
        e.line(),
        e.column()
    ))
}

fn organisation(raw: &str) -> Result<OrganisationId, JobError> {
    OrganisationId::parse(raw).map_err(|e| JobError::Malformed(e.to_string()))
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Turns a stored event into the work it calls for. Driven from the
    /// event log (or a DynamoDB stream), so a crash after a commit never loses
    /// the follow-up; repeats are harmless because the work is idempotent.
    pub async fn react(&self, event: SerializedEvent) -> Result<bool, JobError> {
        let batch_id = event.aggregate_id.clone();
        let (decoded, metadata) = decode(event, &events::upcast::all())?;
        match decoded {
            RecordedEvent::Batch(BatchEvent::SendingStarted { .. }) => {
                let job = FanOut {
                    organisation_id: metadata.organisation_id,
                    batch_id,
                    correlation_id: metadata.correlation_id,
                };
                let body = serde_json::to_string(&job).expect("jobs serialise");
                self.ports.queue.send(QueueName::FanOut, vec![body]).await?;
                Ok(true)
            }
            RecordedEvent::Batch(BatchEvent::SendScheduled { send_at }) => {
                let timer = Timer {
                    id: format!("batch:{batch_id}:start"),
                    due_at: send_at,
                    job: TimerJob::StartScheduledSend {
                        organisation_id: metadata.organisation_id,
                        batch_id,
                    },
                };
                self.ports.timers.schedule(timer).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Receives up to `max` messages from `queue`, handles them concurrently
    /// and acknowledges each one handled. Returns how many were received.
    pub async fn process_queue(&self, queue: QueueName, max: usize) -> Result<usize, PortError> {
        let messages = self.ports.queue.receive(queue, max).await?;
        let received = messages.len();
        let handled = join_all(messages.into_iter().map(|message| async move {
            let result = self.handle_job(queue, &message.body).await;
            (message, result)
        }))
        .await;
        for (message, result) in handled {
            match result {
                Ok(_) => self.ports.queue.ack(queue, &message.receipt).await?,
                Err(JobError::Malformed(reason)) => {
                    tracing::error!(
                        queue = queue.as_str(),
                        reason,
                        "malformed job left for the dead-letter queue"
                    );
                }
                Err(JobError::Retry(reason)) => {
                    tracing::warn!(
                        queue = queue.as_str(),
                        receive_count = message.receive_count,
                        reason,
                        "job will be retried"
                    );
                }
            }
        }
        Ok(received)
    }

    /// Handles one queue message body: the entry point of the queue Lambdas.
    pub async fn handle_job(&self, queue: QueueName, body: &str) -> Result<JobOutcome, JobError> {
        let malformed = |e: serde_json::Error| unreadable("the job", &e);
        match queue {
            QueueName::FanOut => {
                self.fan_out(serde_json::from_str(body).map_err(malformed)?)
                    .await
            }
            QueueName::Send => {
                self.send_one(serde_json::from_str(body).map_err(malformed)?)
                    .await
            }
        }
    }

    #[tracing::instrument(skip_all, fields(batch_id = %job.batch_id))]
    async fn fan_out(&self, job: FanOut) -> Result<JobOutcome, JobError> {
        let mut context = self
            .batch_store
            .load_aggregate(&job.batch_id)
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        let batch = context.aggregate();
        if batch.status() != BatchStatus::Sending || batch.organisation_id() != job.organisation_id
        {
            return Ok(JobOutcome::Skipped);
        }
        let artifact = self
            .ports
            .blobs
            .get(batch.artifact_key())
            .await?
            .ok_or_else(|| JobError::Malformed("the batch's list artifact is missing".into()))?;
        let mut chunk = Vec::with_capacity(FAN_OUT_CHUNK);
        let mut queued = 0usize;
        for line in artifact.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let row: CheckedRow =
                serde_json::from_slice(line).map_err(|e| unreadable("a list artifact line", &e))?;
            let (Outcome::Contactable, Some(channel), Some(mobile)) =
                (row.outcome, row.channel, row.mobile)
            else {
                continue;
            };
            // The NHS App sender arrives with issue 5; until then its
            // patients get the SMS it would fall back to.
            let channel = match channel {
                Channel::NhsApp => Channel::Sms,
                other => other,
            };
            let message = SendMessage {
                organisation_id: job.organisation_id.clone(),
                batch_id: job.batch_id.clone(),
                row: row.row,
                channel,
                to: mobile,
                body: template::render(batch.template(), row.given_name.as_deref()),
                correlation_id: job.correlation_id.clone(),
            };
            chunk.push(serde_json::to_string(&message).expect("jobs serialise"));
            if chunk.len() == FAN_OUT_CHUNK {
                queued += chunk.len();
                self.ports
                    .queue
                    .send(QueueName::Send, std::mem::take(&mut chunk))
                    .await?;
            }
        }
        queued += chunk.len();
        if !chunk.is_empty() {
            self.ports.queue.send(QueueName::Send, chunk).await?;
        }
        tracing::info!(queued, "batch fanned out");
        Ok(JobOutcome::Done)
    }

    #[tracing::instrument(skip_all, fields(batch_id = %job.batch_id, row = job.row))]
    async fn send_one(&self, job: SendMessage) -> Result<JobOutcome, JobError> {
        let caller = Caller::system(
            organisation(&job.organisation_id)?,
            "send-worker",
            &job.correlation_id,
        );
        if job.channel != Channel::Sms {
            return Err(JobError::Malformed(format!(
                "channel {} is not supported yet",
                job.channel.as_str()
            )));
        }
        let delivery_id = job.delivery_id();
        let command = DeliveryCommand::Send {
            delivery_id: delivery_id.clone(),
            batch_id: job.batch_id,
            row: job.row,
            channel: job.channel,
            recipient_fingerprint: crate::ports::recipient_fingerprint(
                caller.organisation_id.as_ref(),
                &job.to,
            ),
            to: job.to,
            body: job.body,
            now: self.ports.clock.now(),
        };
        match self
            .deliveries
            .execute_with_metadata(&delivery_id, command, self.metadata(&caller))
            .await
        {
            Ok(()) => Ok(JobOutcome::Done),
            Err(AggregateError::UserError(DeliveryError::ProviderUnavailable(reason))) => {
                Err(JobError::Retry(reason))
            }
            Err(AggregateError::UserError(e)) => Err(JobError::Malformed(e.to_string())),
            // Another worker sent this delivery at the same moment; the retry
            // will find it sent and do nothing.
            Err(AggregateError::AggregateConflict) => {
                Err(JobError::Retry("delivery changed concurrently".into()))
            }
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }

    /// Runs the timers that are due. Returns how many ran.
    pub async fn fire_due_timers(&self, limit: usize) -> Result<usize, JobError> {
        let now = self.ports.clock.now();
        let due = self.ports.timers.due(now, limit).await?;
        for timer in &due {
            match &timer.job {
                TimerJob::StartScheduledSend {
                    organisation_id,
                    batch_id,
                } => {
                    let caller = Caller::system(organisation(organisation_id)?, "timer", &timer.id);
                    self.batches
                        .execute_with_metadata(
                            batch_id,
                            BatchCommand::StartScheduledSend { now },
                            self.metadata(&caller),
                        )
                        .await
                        .map_err(BatchbookError::from)?;
                }
            }
            self.ports.timers.complete(&timer.id).await?;
        }
        Ok(due.len())
    }

    /// Marks Done every Sending batch whose recipients all have an outcome.
    /// Derived from the read model each time, so a crash loses nothing.
    pub async fn complete_settled_batches(&self, limit: usize) -> Result<usize, JobError> {
        let settled = self.ports.views.settled_sending_batches(limit).await?;
        for summary in &settled {
            let caller = Caller::system(
                organisation(&summary.organisation_id)?,
                "completion",
                &summary.batch_id,
            );
            let command = BatchCommand::Complete {
                now: self.ports.clock.now(),
            };
            self.batches
                .execute_with_metadata(&summary.batch_id, command, self.metadata(&caller))
                .await
                .map_err(BatchbookError::from)?;
            tracing::info!(batch_id = %summary.batch_id, "batch done");
        }
        Ok(settled.len())
    }
}
