//! The timer sweeper's work: each due timer handed to its step, and the
//! batches whose stage has finished moved on (Done, Saved).

use cqrs_es::persist::PersistedEventRepository;

use super::*;
use crate::aggregates::batch::BatchStatus;
use crate::aggregates::BatchCommand;
use crate::jobs::FanOut;
use crate::ports::{QueueName, TimerJob};
use crate::usecases::{Batchbook, BatchbookError, Caller};

impl<R: PersistedEventRepository> Batchbook<R> {
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
                        .execute(
                            batch_id,
                            BatchCommand::StartScheduledSend { now },
                            self.metadata(&caller),
                        )
                        .await
                        .map_err(BatchbookError::from)?;
                }
                TimerJob::FanOut {
                    organisation_id,
                    batch_id,
                    day,
                    skip_email,
                } => {
                    let job =
                        FanOut::sends(organisation_id, batch_id, &timer.id, *day, *skip_email);
                    self.queue_fan_out(job).await?;
                }
                TimerJob::FollowUp {
                    organisation_id,
                    batch_id,
                } => self.follow_up(organisation_id, batch_id, now).await?,
                TimerJob::SaveRecords {
                    organisation_id,
                    batch_id,
                } => {
                    let job = FanOut::records(organisation_id, batch_id, &timer.id);
                    self.queue_fan_out(job).await?;
                }
                TimerJob::Reminders {
                    organisation_id,
                    batch_id,
                } => {
                    self.send_follow_ons(Recurring::Reminders, organisation_id, batch_id, now)
                        .await?
                }
                TimerJob::Series {
                    organisation_id,
                    batch_id,
                } => {
                    self.send_follow_ons(Recurring::Series, organisation_id, batch_id, now)
                        .await?
                }
                TimerJob::ConversationReceiptDeadline {
                    organisation_id,
                    conversation_id,
                    message,
                } => {
                    self.expire_conversation_message(
                        organisation_id,
                        conversation_id,
                        *message,
                        now,
                    )
                    .await?
                }
                TimerJob::ReleaseSend { body } => {
                    self.ports
                        .queue
                        .send(QueueName::Send, vec![body.clone()])
                        .await?;
                }
                TimerJob::InviteExpiry {
                    organisation_id,
                    batch_id,
                } => self.expire_invites(organisation_id, batch_id, now).await?,
                TimerJob::AppointmentReminder {
                    organisation_id,
                    batch_id,
                    row,
                    attempt,
                } => {
                    self.remind_of_appointment(organisation_id, batch_id, *row, *attempt, now)
                        .await?
                }
            }
            self.ports.timers.complete(&timer.id).await?;
        }
        Ok(due.len())
    }

    /// Moves on every batch whose stage has finished: a Sending batch whose
    /// recipients all have an outcome is Done; a Saving batch whose records
    /// are all written is Saved. Derived from the read model each time, so
    /// a crash loses nothing.
    pub async fn complete_settled_batches(&self, limit: usize) -> Result<usize, JobError> {
        let settled = self.ports.views.settled_batches(limit).await?;
        for summary in &settled {
            let caller = Caller::system(
                organisation(&summary.organisation_id)?,
                "completion",
                &summary.batch_id,
            );
            let now = self.ports.clock.now();
            let command = match summary.status {
                BatchStatus::Saving => BatchCommand::FinishSaving { now },
                _ => BatchCommand::Complete { now },
            };
            self.batches
                .execute(&summary.batch_id, command, self.metadata(&caller))
                .await
                .map_err(BatchbookError::from)?;
            tracing::info!(batch_id = %summary.batch_id, from = summary.status.label(), "batch moved on");
        }
        Ok(settled.len())
    }
}
