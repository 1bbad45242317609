//! The reactor: each stored event turned into the work it calls for
//! (fan-outs, timers, Self-Book bookings and texts). Driven from the event
//! log, so a crash after a commit never loses the follow-up.

use chrono::Duration;
use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use events::BatchEvent;

use super::*;
use crate::florey;
use crate::jobs::FanOut;
use crate::ports::{Timer, TimerJob};
use crate::projection::{decode, RecordedEvent};
use crate::series;
use crate::usecases::Batchbook;

/// The first follow-up of a batch (fallbacks, 72-hour rule) comes this
/// long after sending starts: the shortest NHS App fallback.
pub(in crate::usecases) const FIRST_FOLLOW_UP: Duration = Duration::hours(3);

/// A cancelled batch's sent messages are saved to records this long after
/// the cancel, when any send that was in flight has landed.
pub(in crate::usecases) const SAVE_AFTER_CANCEL: Duration = Duration::minutes(15);

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Turns a stored event into the work it calls for. Driven from the
    /// event log (or a DynamoDB stream), so a crash after a commit never loses
    /// the follow-up; repeats are harmless because the work is idempotent.
    pub async fn react(&self, event: SerializedEvent) -> Result<bool, JobError> {
        let batch_id = event.aggregate_id.clone();
        let sequence = event.sequence as u64;
        let (decoded, metadata) = decode(event, &events::upcast::all())?;
        let organisation_id = metadata.organisation_id;
        match decoded {
            RecordedEvent::Batch(BatchEvent::SendingStarted {
                stagger,
                started_at,
                ..
            }) => {
                if stagger.is_empty() {
                    let job = FanOut::sends(
                        &organisation_id,
                        &batch_id,
                        &metadata.correlation_id,
                        None,
                        false,
                    );
                    self.queue_fan_out(job).await?;
                }
                for day in &stagger {
                    let timer = Timer {
                        id: format!("batch:{batch_id}:day:{}", day.day),
                        due_at: day.starts_at,
                        job: TimerJob::FanOut {
                            organisation_id: organisation_id.clone(),
                            batch_id: batch_id.clone(),
                            day: Some(day.day),
                            skip_email: false,
                        },
                    };
                    self.ports.timers.schedule(timer).await?;
                }
                self.book(
                    Recurring::FollowUp,
                    &organisation_id,
                    &batch_id,
                    started_at + FIRST_FOLLOW_UP,
                )
                .await?;
                let batch = self.load_batch(&batch_id).await?;
                if let Some(expiry) = batch.self_book().and_then(|s| s.expiry.duration()) {
                    self.book(
                        Recurring::InviteExpiry,
                        &organisation_id,
                        &batch_id,
                        started_at + expiry,
                    )
                    .await?;
                }
                if let Some(first) = batch
                    .questionnaire()
                    .and_then(|q| florey::reminders_after(q).first().copied())
                {
                    self.book(
                        Recurring::Reminders,
                        &organisation_id,
                        &batch_id,
                        started_at + first,
                    )
                    .await?;
                }
                if let Some(first) = series::due_after(1).filter(|_| batch.sms_only()) {
                    self.book(
                        Recurring::Series,
                        &organisation_id,
                        &batch_id,
                        started_at + first,
                    )
                    .await?;
                }
                Ok(true)
            }
            RecordedEvent::Batch(BatchEvent::BatchCompleted { .. }) => {
                let job = FanOut::records(&organisation_id, &batch_id, &metadata.correlation_id);
                self.queue_fan_out(job).await?;
                Ok(true)
            }
            RecordedEvent::Batch(BatchEvent::BatchCancelled { cancelled_at }) => {
                // What a cancelled batch did send is saved too, once the
                // sends in flight at the cancel have landed.
                let timer = Timer {
                    id: format!("batch:{batch_id}:save-records"),
                    due_at: cancelled_at + SAVE_AFTER_CANCEL,
                    job: TimerJob::SaveRecords {
                        organisation_id,
                        batch_id,
                    },
                };
                self.ports.timers.schedule(timer).await?;
                Ok(true)
            }
            RecordedEvent::Batch(BatchEvent::SendScheduled { send_at, .. }) => {
                let timer = Timer {
                    id: format!("batch:{batch_id}:start"),
                    due_at: send_at,
                    job: TimerJob::StartScheduledSend {
                        organisation_id,
                        batch_id,
                    },
                };
                self.ports.timers.schedule(timer).await?;
                Ok(true)
            }
            RecordedEvent::Delivery(events::DeliveryEvent::QuestionnaireAnswered {
                batch_id,
                row,
                questionnaire,
                answers,
                answered_at,
            }) => {
                self.answers_to_inbox(
                    &batch_id,
                    row,
                    questionnaire,
                    &answers,
                    answered_at,
                    &organisation_id,
                    &metadata.correlation_id,
                )
                .await
            }
            RecordedEvent::Conversation(event) => {
                self.react_to_conversation(event, &organisation_id, &metadata.correlation_id)
                    .await
            }
            RecordedEvent::ConversationMessage(event) => {
                self.react_to_conversation_message(
                    event,
                    &organisation_id,
                    &metadata.correlation_id,
                )
                .await
            }
            RecordedEvent::Invite(event) => {
                self.react_to_invite(event, sequence, &organisation_id, &metadata.correlation_id)
                    .await
            }
            _ => Ok(false),
        }
    }
}
