//! Background work: reactions to stored events, queue consumers, timers and
//! batch completion. Every step here is safe to repeat: queues deliver at
//! least once and processes die.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use cqrs_es::AggregateError;
use events::{BatchEvent, BatchKind, Channel};
use futures::future::join_all;

use super::links::link_record;
use super::{Batchbook, BatchbookError, Caller};
use crate::aggregates::batch::BatchStatus;
use crate::aggregates::delivery::DeliveryStatus;
use crate::aggregates::{Batch, BatchCommand, DeliveryCommand, DeliveryError, Fallback, Message};
use crate::florey;
use crate::jobs::{FanOut, FollowOn, MessageReference, SaveToRecord, SendMessage, Step};
use crate::links::{self, LinkRecord};
use crate::lists::{artifact_rows, CheckedRow, Outcome};
use crate::policies::{nhs_app_fallback_after, stagger_day_of, SendingWindow, RECEIPT_DEADLINE};
use crate::ports::{
    recipient_fingerprint, PortError, QueueName, Receipt, RecordEntry, Timer, TimerJob,
};
use crate::projection::{decode, DeliveryRow, ProjectionError, RecordedEvent};
use crate::series;
use crate::template::{self, REMINDER_PREFIX};
use crate::values::OrganisationId;

/// How many send messages go to the queue in one call.
const FAN_OUT_CHUNK: usize = 500;
/// The first follow-up of a batch (fallbacks, 72-hour rule) comes this
/// long after sending starts: the shortest NHS App fallback.
const FIRST_FOLLOW_UP: Duration = Duration::hours(3);
/// Follow-ups never come closer together than this.
const FOLLOW_UP_GAP: Duration = Duration::minutes(5);
/// While a batch still has patients to send to (a stagger, a held window),
/// it is followed up at least this often.
const FOLLOW_UP_IDLE: Duration = Duration::hours(1);
/// How many deliveries one follow-up changes at once.
const FOLLOW_UP_CONCURRENCY: usize = 32;
/// A cancelled batch's sent messages are saved to records this long after
/// the cancel, when any send that was in flight has landed.
const SAVE_AFTER_CANCEL: Duration = Duration::minutes(15);
/// While a batch with reminders or a series is still sending (a stagger, a
/// held window), its follow-ons are looked at least this often.
pub(super) const FOLLOW_ONS_IDLE: Duration = Duration::hours(6);

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

pub(super) fn to_json<T: serde::Serialize>(job: &T) -> String {
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
pub(super) enum Recurring {
    /// NHS App fallbacks and the 72-hour rule.
    FollowUp,
    /// Questionnaire reminders.
    Reminders,
    /// The inhaler series' texts.
    Series,
    /// Self-Book links expiring with nothing booked.
    InviteExpiry,
}

/// What the jobs of one queue round share: each batch, loaded once. A round
/// is a moment's work, so a batch cancelled during it stops the sends of
/// the next round (as a cancel landing just after a send would).
#[derive(Default)]
struct Round {
    batches: std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Batch>>>>,
}

impl Round {
    async fn batch<R: PersistedEventRepository>(
        &self,
        app: &Batchbook<R>,
        batch_id: &str,
    ) -> Result<Batch, JobError> {
        let cell = self
            .batches
            .lock()
            .expect("the round's batch cache is never poisoned")
            .entry(batch_id.to_owned())
            .or_default()
            .clone();
        Ok(cell
            .get_or_try_init(|| app.load_batch(batch_id))
            .await?
            .clone())
    }
}

/// When a delivery row next needs following up: its fallback, or its
/// 72-hour deadline.
fn follow_up_due(row: &DeliveryRow) -> Option<DateTime<Utc>> {
    match (row.channel, row.fallback_due_at) {
        (Channel::NhsApp, Some(due)) => Some(due),
        _ => row.sent_at.map(|sent| sent + RECEIPT_DEADLINE),
    }
}

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
                    let job = FanOut {
                        organisation_id: organisation_id.clone(),
                        batch_id: batch_id.clone(),
                        correlation_id: metadata.correlation_id,
                        day: None,
                        skip_email: false,
                        records: false,
                    };
                    self.ports
                        .queue
                        .send(QueueName::FanOut, vec![to_json(&job)])
                        .await?;
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
                let job = FanOut {
                    organisation_id,
                    batch_id,
                    correlation_id: metadata.correlation_id,
                    day: None,
                    skip_email: false,
                    records: true,
                };
                self.ports
                    .queue
                    .send(QueueName::FanOut, vec![to_json(&job)])
                    .await?;
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
            RecordedEvent::Invite(event) => {
                self.react_to_invite(event, sequence, &organisation_id, &metadata.correlation_id)
                    .await
            }
            _ => Ok(false),
        }
    }

    /// Books one of a batch's recurring timers for `due_at`. Timers are
    /// kept once run, so each booking has its own id.
    pub(super) async fn book(
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

    /// The link in one patient's message, for a batch that sends links: its
    /// URL and what the link directory keeps about it. The same every time
    /// (see `links`), so the first message, its fallback, its reminders and
    /// the record all carry one link.
    fn patient_link(
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
    fn message_for(
        &self,
        template: &template::Template,
        batch: &Batch,
        batch_id: &str,
        row: &CheckedRow,
    ) -> String {
        let link = self.patient_link(batch, batch_id, row).map(|(url, _)| url);
        template.render(row.given_name.as_deref(), link.as_deref())
    }

    /// Receives up to `max` messages from `queue`, handles them concurrently
    /// and acknowledges each one handled. Returns how many were received.
    pub async fn process_queue(&self, queue: QueueName, max: usize) -> Result<usize, PortError> {
        let messages = self.ports.queue.receive(queue, max).await?;
        let received = messages.len();
        let round = Round::default();
        let handled = join_all(messages.into_iter().map(|message| {
            let round = &round;
            async move {
                let result = self.handle_job_in(queue, &message.body, round).await;
                (message, result)
            }
        }))
        .await;
        let mut done = Vec::with_capacity(handled.len());
        for (message, result) in handled {
            match result {
                Ok(_) => done.push(message.receipt),
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
        self.ports.queue.ack_many(queue, &done).await?;
        Ok(received)
    }

    /// Handles one queue message body: the entry point of the queue Lambdas.
    pub async fn handle_job(&self, queue: QueueName, body: &str) -> Result<JobOutcome, JobError> {
        self.handle_job_in(queue, body, &Round::default()).await
    }

    async fn handle_job_in(
        &self,
        queue: QueueName,
        body: &str,
        round: &Round,
    ) -> Result<JobOutcome, JobError> {
        let malformed = |e: serde_json::Error| unreadable("the job", &e);
        match queue {
            QueueName::FanOut => {
                self.fan_out(serde_json::from_str(body).map_err(malformed)?)
                    .await
            }
            QueueName::Send => {
                let job: SendMessage = serde_json::from_str(body).map_err(malformed)?;
                let batch = round.batch(self, &job.batch_id).await?;
                self.send_one(job, &batch).await
            }
            QueueName::Record => {
                self.save_one(serde_json::from_str(body).map_err(malformed)?)
                    .await
            }
            QueueName::Booking => {
                self.handle_booking(serde_json::from_str(body).map_err(malformed)?)
                    .await
            }
        }
    }

    pub(super) async fn load_batch(&self, batch_id: &str) -> Result<Batch, JobError> {
        Ok(super::current(&self.batch_store, batch_id).await?)
    }

    /// The checked list of a batch, one row at a time.
    pub(super) async fn list_rows(&self, batch: &Batch) -> Result<Vec<u8>, JobError> {
        self.ports
            .blobs
            .get(batch.artifact_key())
            .await?
            .ok_or_else(|| JobError::Malformed("the batch's list artifact is missing".into()))
    }

    #[tracing::instrument(skip_all, fields(batch_id = %job.batch_id, day = ?job.day))]
    async fn fan_out(&self, job: FanOut) -> Result<JobOutcome, JobError> {
        let batch = self.load_batch(&job.batch_id).await?;
        if job.records {
            return self.fan_out_records(job, batch).await;
        }
        if batch.status() != BatchStatus::Sending || batch.organisation_id() != job.organisation_id
        {
            return Ok(JobOutcome::Skipped);
        }
        let org = organisation(&job.organisation_id)?;
        let window = self.settings_of(&org).await?.sending_window;
        let now = self.ports.clock.now();
        // Outside the window only the emails go now; the rest wait for it.
        let held = !window.is_open(now);
        if held {
            let opens = window.next_open(now);
            let day = job.day.map_or("all".to_owned(), |d| d.to_string());
            let timer = Timer {
                id: format!("batch:{}:held:{day}:{}", job.batch_id, opens.timestamp()),
                due_at: opens,
                job: TimerJob::FanOut {
                    organisation_id: job.organisation_id.clone(),
                    batch_id: job.batch_id.clone(),
                    day: job.day,
                    skip_email: true,
                },
            };
            self.ports.timers.schedule(timer).await?;
            if job.skip_email {
                return Ok(JobOutcome::Skipped);
            }
        }
        let template = template::Template::parse(batch.template())
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        let artifact = self.list_rows(&batch).await?;
        let mut chunk = Vec::with_capacity(FAN_OUT_CHUNK);
        let mut link_chunk = Vec::new();
        let mut queued = 0usize;
        let mut index = 0u64;
        for row in artifact_rows(&artifact) {
            let row = row.map_err(|e| unreadable("a list artifact line", &e))?;
            let Some(channel) = row.channel.filter(|_| row.outcome == Outcome::Contactable) else {
                continue;
            };
            // An SMS-only batch reaches the patients with a mobile, by SMS.
            let channel = match (batch.sms_only(), &row.mobile) {
                (false, _) => channel,
                (true, Some(_)) => Channel::Sms,
                (true, None) => continue,
            };
            let this = index;
            index += 1;
            if let Some(day) = job.day {
                if stagger_day_of(batch.stagger(), this) != Some(day) {
                    continue;
                }
            }
            let is_email = channel == Channel::Email;
            if (is_email && job.skip_email) || (!is_email && held) {
                continue;
            }
            let to = match channel {
                Channel::Email => row.email.clone(),
                Channel::NhsApp => row.nhs_number.clone(),
                Channel::Sms => row.mobile.clone(),
            };
            let Some(to) = to else {
                return Err(JobError::Malformed(format!(
                    "row {} of the list artifact has no address for its channel",
                    row.row
                )));
            };
            let link = self.patient_link(&batch, &job.batch_id, &row);
            let url = link.as_ref().map(|(url, _)| url.as_str());
            let body = template.render(row.given_name.as_deref(), url);
            link_chunk.extend(link.map(|(_, record)| record));
            let message = SendMessage {
                organisation_id: job.organisation_id.clone(),
                batch_id: job.batch_id.clone(),
                row: row.row,
                channel,
                to,
                body,
                correlation_id: job.correlation_id.clone(),
                subject: batch
                    .email_subject()
                    .filter(|_| is_email)
                    .map(str::to_owned),
                fallback_to: row.mobile.clone().filter(|_| channel == Channel::NhsApp),
                step: Step::First,
                window: (!is_email).then_some(window),
            };
            chunk.push(to_json(&message));
            if chunk.len() == FAN_OUT_CHUNK {
                queued += chunk.len();
                // Links are registered before the messages carrying them go.
                self.ports
                    .links
                    .directory
                    .register(std::mem::take(&mut link_chunk))
                    .await?;
                self.ports
                    .queue
                    .send(QueueName::Send, std::mem::take(&mut chunk))
                    .await?;
            }
        }
        queued += chunk.len();
        if !link_chunk.is_empty() {
            self.ports.links.directory.register(link_chunk).await?;
        }
        if !chunk.is_empty() {
            self.ports.queue.send(QueueName::Send, chunk).await?;
        }
        tracing::info!(queued, held, "batch fanned out");
        Ok(JobOutcome::Done)
    }

    #[tracing::instrument(skip_all, fields(batch_id = %job.batch_id, row = job.row))]
    async fn send_one(&self, job: SendMessage, batch: &Batch) -> Result<JobOutcome, JobError> {
        let caller = Caller::system(
            organisation(&job.organisation_id)?,
            "send-worker",
            &job.correlation_id,
        );
        let wanted = match job.step {
            Step::First | Step::Fallback => {
                matches!(batch.status(), BatchStatus::Sending | BatchStatus::Done)
            }
            // Follow-ons run on after the batch is Done and saved.
            Step::FollowOn(follow_on) => {
                !(batch.links_revoked() && matches!(follow_on, FollowOn::Reminder(_)))
                    && matches!(
                        batch.status(),
                        BatchStatus::Sending
                            | BatchStatus::Done
                            | BatchStatus::Saving
                            | BatchStatus::Saved
                    )
            }
        };
        if batch.organisation_id() != job.organisation_id || !wanted {
            // Cancelled: what was not sent is never sent.
            return Ok(JobOutcome::Skipped);
        }
        let now = self.ports.clock.now();
        if let Some(window) = job.window.filter(|w| !w.is_open(now)) {
            return self.hold_to_window(&job, &window, now).await;
        }
        let delivery_id = job.delivery_id();
        let org = caller.organisation_id.as_ref();
        let reference = |channel| {
            MessageReference {
                organisation_id: org.to_owned(),
                batch_id: job.batch_id.clone(),
                row: job.row,
                channel,
                follow_on: None,
            }
            .to_string()
        };
        let command = match job.step {
            Step::First => {
                let fallback = job
                    .fallback_to
                    .as_ref()
                    .filter(|_| job.channel == Channel::NhsApp)
                    .map(|mobile| {
                        let fallback = Fallback {
                            reference: reference(Channel::Sms),
                            to: mobile.clone(),
                            recipient_fingerprint: recipient_fingerprint(org, mobile),
                            body: job.body.clone(),
                        };
                        let after = nhs_app_fallback_after(batch.kind(), batch.questionnaire());
                        (fallback, now + after)
                    });
                DeliveryCommand::Send {
                    message: Box::new(Message {
                        batch_id: job.batch_id.clone(),
                        row: job.row,
                        channel: job.channel,
                        reference: reference(job.channel),
                        recipient_fingerprint: recipient_fingerprint(org, &job.to),
                        to: job.to,
                        subject: job.subject,
                        body: job.body,
                        fallback,
                    }),
                    now,
                }
            }
            Step::Fallback => DeliveryCommand::FallBack {
                fallback: Box::new(Fallback {
                    reference: reference(Channel::Sms),
                    recipient_fingerprint: recipient_fingerprint(org, &job.to),
                    to: job.to,
                    body: job.body,
                }),
                now,
            },
            Step::FollowOn(follow_on) => DeliveryCommand::SendFollowOn {
                follow_on,
                message: Box::new(Message {
                    batch_id: job.batch_id.clone(),
                    row: job.row,
                    channel: job.channel,
                    reference: MessageReference {
                        organisation_id: org.to_owned(),
                        batch_id: job.batch_id.clone(),
                        row: job.row,
                        channel: job.channel,
                        follow_on: Some(follow_on),
                    }
                    .to_string(),
                    recipient_fingerprint: recipient_fingerprint(org, &job.to),
                    to: job.to,
                    subject: job.subject,
                    body: job.body,
                    fallback: None,
                }),
                now,
            },
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

    /// A message that reached a worker outside the sending window waits on
    /// the timer table until it opens.
    async fn hold_to_window(
        &self,
        job: &SendMessage,
        window: &SendingWindow,
        now: DateTime<Utc>,
    ) -> Result<JobOutcome, JobError> {
        let opens = window.next_open(now);
        let step = match job.step {
            Step::First => job.channel.as_str().to_owned(),
            Step::Fallback => "fallback".to_owned(),
            Step::FollowOn(follow_on) => follow_on.key(),
        };
        let timer = Timer {
            id: format!("send:{}:{step}:{}", job.delivery_id(), opens.timestamp()),
            due_at: opens,
            job: TimerJob::ReleaseSend { body: to_json(job) },
        };
        self.ports.timers.schedule(timer).await?;
        tracing::info!(%opens, "message held to the sending window");
        Ok(JobOutcome::Skipped)
    }

    /// Records a provider's receipt against the delivery its reference
    /// names. Repeated and late receipts change nothing.
    #[tracing::instrument(skip_all)]
    pub async fn record_receipt(&self, receipt: Receipt) -> Result<(), ReceiptError> {
        let reference = match MessageReference::parse(&receipt.reference) {
            Some(reference) => reference,
            None => self
                .ports
                .references
                .recall(&receipt.reference)
                .await
                .map_err(JobError::from)?
                .as_deref()
                .and_then(MessageReference::parse)
                .ok_or(ReceiptError::UnknownReference)?,
        };
        if reference.follow_on.is_some() {
            // A follow-on's receipt changes nothing: the message's own does.
            return Ok(());
        }
        let org = OrganisationId::parse(&reference.organisation_id)
            .map_err(|_| ReceiptError::UnknownReference)?;
        let caller = Caller::system(org, "receipts", &receipt.reference);
        let command = DeliveryCommand::RecordReceipt {
            channel: reference.channel,
            outcome: receipt.outcome,
            at: receipt.at,
        };
        self.deliveries
            .execute_with_metadata(&reference.delivery_id(), command, self.metadata(&caller))
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        Ok(())
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
                TimerJob::FanOut {
                    organisation_id,
                    batch_id,
                    day,
                    skip_email,
                } => {
                    let job = FanOut {
                        organisation_id: organisation_id.clone(),
                        batch_id: batch_id.clone(),
                        correlation_id: timer.id.clone(),
                        day: *day,
                        skip_email: *skip_email,
                        records: false,
                    };
                    self.ports
                        .queue
                        .send(QueueName::FanOut, vec![to_json(&job)])
                        .await?;
                }
                TimerJob::FollowUp {
                    organisation_id,
                    batch_id,
                } => self.follow_up(organisation_id, batch_id, now).await?,
                TimerJob::SaveRecords {
                    organisation_id,
                    batch_id,
                } => {
                    let job = FanOut {
                        organisation_id: organisation_id.clone(),
                        batch_id: batch_id.clone(),
                        correlation_id: timer.id.clone(),
                        day: None,
                        skip_email: false,
                        records: true,
                    };
                    self.ports
                        .queue
                        .send(QueueName::FanOut, vec![to_json(&job)])
                        .await?;
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

    /// Sends the SMS fallbacks that are due and fails messages still only
    /// "sent" after 72 hours, then books the next follow-up while the batch
    /// has messages in flight or patients still to send to.
    #[tracing::instrument(skip_all, fields(batch_id))]
    async fn follow_up(
        &self,
        organisation_id: &str,
        batch_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let batch = self.load_batch(batch_id).await?;
        let open = self.ports.views.open_deliveries(batch_id).await?;
        let cancelled = batch.status() == BatchStatus::Cancelled;
        let (due, waiting): (Vec<DeliveryRow>, Vec<DeliveryRow>) = open
            .into_iter()
            .partition(|row| follow_up_due(row).is_some_and(|at| at <= now));
        let (fallbacks, expiries): (Vec<DeliveryRow>, Vec<DeliveryRow>) = due
            .into_iter()
            .partition(|row| row.channel == Channel::NhsApp && row.fallback_due_at.is_some());
        // A cancelled batch sends nothing more, fallbacks included.
        if !fallbacks.is_empty() && !cancelled {
            self.queue_fallbacks(organisation_id, &batch, &fallbacks)
                .await?;
        }
        let caller = Caller::system(organisation(organisation_id)?, "follow-up", batch_id);
        for chunk in expiries.chunks(FOLLOW_UP_CONCURRENCY) {
            let ids: Vec<String> = chunk
                .iter()
                .map(|row| crate::jobs::delivery_id(&row.batch_id, row.row))
                .collect();
            let expired = join_all(ids.iter().map(|id| {
                self.deliveries.execute_with_metadata(
                    id,
                    DeliveryCommand::ExpireUnconfirmed { now },
                    self.metadata(&caller),
                )
            }))
            .await;
            if let Some(Err(e)) = expired.into_iter().find(Result::is_err) {
                return Err(JobError::Retry(e.to_string()));
            }
        }
        // The next row to fall due (always after now); soon again if
        // fallbacks were just queued; and while patients are still to be
        // sent to (a stagger, a held window), at least hourly.
        let still_sending = batch.status() == BatchStatus::Sending;
        let next = [
            waiting.iter().filter_map(follow_up_due).min(),
            (!fallbacks.is_empty() && !cancelled).then(|| now + FOLLOW_UP_GAP),
            still_sending.then(|| now + FOLLOW_UP_IDLE),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(at) = next {
            self.book(Recurring::FollowUp, organisation_id, batch_id, at)
                .await?;
        }
        tracing::info!(
            fallbacks = fallbacks.len(),
            expired = expiries.len(),
            "batch followed up"
        );
        Ok(())
    }

    /// Queues the SMS fallback of each row, reading the list once for their
    /// mobiles and names.
    async fn queue_fallbacks(
        &self,
        organisation_id: &str,
        batch: &Batch,
        rows: &[DeliveryRow],
    ) -> Result<(), JobError> {
        let org = organisation(organisation_id)?;
        let window = self.settings_of(&org).await?.sending_window;
        let template = template::Template::parse(batch.template())
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        let wanted: HashMap<u64, &DeliveryRow> = rows.iter().map(|r| (r.row, r)).collect();
        let artifact = self.list_rows(batch).await?;
        let mut messages = Vec::with_capacity(rows.len());
        for row in artifact_rows(&artifact) {
            let row = row.map_err(|e| unreadable("a list artifact line", &e))?;
            let (Some(delivery), Some(mobile)) = (wanted.get(&row.row), row.mobile.clone()) else {
                continue;
            };
            messages.push(to_json(&SendMessage {
                organisation_id: organisation_id.to_owned(),
                batch_id: delivery.batch_id.clone(),
                row: row.row,
                channel: Channel::Sms,
                to: mobile,
                body: self.message_for(&template, batch, &delivery.batch_id, &row),
                correlation_id: format!("fallback:{}", delivery.batch_id),
                subject: None,
                fallback_to: None,
                step: Step::Fallback,
                window: Some(window),
            }));
        }
        self.queue_sends(messages).await
    }

    /// Queues send jobs, `FAN_OUT_CHUNK` to a call.
    async fn queue_sends(&self, messages: Vec<String>) -> Result<(), JobError> {
        for chunk in messages.chunks(FAN_OUT_CHUNK) {
            self.ports
                .queue
                .send(QueueName::Send, chunk.to_vec())
                .await?;
        }
        Ok(())
    }

    /// Sends the follow-on messages that are due: questionnaire reminders
    /// (days 3 and 6 after each patient's first message, while the link is
    /// valid, not revoked and the questionnaire unanswered) or the inhaler
    /// series' texts (until stopped for the patient). One missed while the
    /// sweeper was down gives way to the next rather than both going. Then
    /// books the next look.
    #[tracing::instrument(skip_all, fields(batch_id, ?recurring))]
    async fn send_follow_ons(
        &self,
        recurring: Recurring,
        organisation_id: &str,
        batch_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let batch = self.load_batch(batch_id).await?;
        if batch.status() == BatchStatus::Cancelled || batch.organisation_id() != organisation_id {
            return Ok(());
        }
        let (schedule, valid_for) = match (recurring, batch.questionnaire()) {
            (Recurring::Reminders, Some(q)) if !batch.links_revoked() => {
                (florey::reminders_after(q), Some(florey::valid_for(q)))
            }
            (Recurring::Series, _) if batch.kind() == BatchKind::InhalerSeries => {
                (series::schedule(), None)
            }
            _ => return Ok(()),
        };
        let mut due: HashMap<u64, (FollowOn, DeliveryRow)> = HashMap::new();
        let mut next = (batch.status() == BatchStatus::Sending).then(|| now + FOLLOW_ONS_IDLE);
        for row in self.ports.views.deliveries(batch_id).await? {
            let Some(first) = row.first_sent_at else {
                continue;
            };
            let (done, sent) = match recurring {
                Recurring::Reminders => (
                    row.answered_at.is_some() || row.link_revoked,
                    &row.reminders,
                ),
                _ => (row.series_stopped, &row.series),
            };
            if done || row.status == DeliveryStatus::Failed {
                continue;
            }
            let latest_sent = sent.iter().max().copied().unwrap_or(0);
            for (number, after) in (1u32..).zip(&schedule) {
                let at = first + *after;
                if number <= latest_sent || valid_for.is_some_and(|v| at >= first + v) {
                    continue;
                }
                if at <= now {
                    let follow_on = match recurring {
                        Recurring::Reminders => FollowOn::Reminder(number),
                        _ => FollowOn::Series(number),
                    };
                    due.insert(row.row, (follow_on, row.clone()));
                } else {
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
        }
        if !due.is_empty() {
            self.queue_follow_ons(organisation_id, &batch, batch_id, &due)
                .await?;
        }
        if let Some(at) = next {
            self.book(recurring, organisation_id, batch_id, at).await?;
        }
        tracing::info!(queued = due.len(), "follow-on messages queued");
        Ok(())
    }

    /// Queues one follow-on per row, on the channel its message reached the
    /// patient by, reading the list once for addresses and names.
    async fn queue_follow_ons(
        &self,
        organisation_id: &str,
        batch: &Batch,
        batch_id: &str,
        due: &HashMap<u64, (FollowOn, DeliveryRow)>,
    ) -> Result<(), JobError> {
        let org = organisation(organisation_id)?;
        let window = self.settings_of(&org).await?.sending_window;
        let template = template::Template::parse(batch.template())
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        let artifact = self.list_rows(batch).await?;
        let mut messages = Vec::with_capacity(due.len());
        for row in artifact_rows(&artifact) {
            let row = row.map_err(|e| unreadable("a list artifact line", &e))?;
            let Some((follow_on, delivery)) = due.get(&row.row) else {
                continue;
            };
            let to = match delivery.channel {
                Channel::Email => row.email.clone(),
                Channel::NhsApp => row.nhs_number.clone(),
                Channel::Sms => row.mobile.clone(),
            };
            let Some(to) = to else {
                continue;
            };
            let is_email = delivery.channel == Channel::Email;
            let (body, subject) = match follow_on {
                FollowOn::Reminder(_) => (
                    format!(
                        "{REMINDER_PREFIX}{}",
                        self.message_for(&template, batch, batch_id, &row)
                    ),
                    batch
                        .email_subject()
                        .filter(|_| is_email)
                        .map(|s| format!("{REMINDER_PREFIX}{s}")),
                ),
                FollowOn::Notice(_) => continue,
                FollowOn::Series(step) => {
                    let text = series::text(*step).ok_or_else(|| {
                        JobError::Malformed(format!("the series has no step {step}"))
                    })?;
                    (
                        template::render(text, row.given_name.as_deref(), None),
                        None,
                    )
                }
            };
            messages.push(to_json(&SendMessage {
                organisation_id: organisation_id.to_owned(),
                batch_id: batch_id.to_owned(),
                row: row.row,
                channel: delivery.channel,
                to,
                body,
                correlation_id: format!("{}:{batch_id}", follow_on.key()),
                subject,
                fallback_to: None,
                step: Step::FollowOn(*follow_on),
                window: (!is_email).then_some(window),
            }));
        }
        self.queue_sends(messages).await
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
                .execute_with_metadata(&summary.batch_id, command, self.metadata(&caller))
                .await
                .map_err(BatchbookError::from)?;
            tracing::info!(batch_id = %summary.batch_id, from = summary.status.label(), "batch moved on");
        }
        Ok(settled.len())
    }

    /// Saving to the record begins: one [`SaveToRecord`] job per patient the
    /// batch sent a message to, read from the delivery view (final once the
    /// batch is Done) and the list (for NHS numbers and names). A Done batch
    /// becomes Saving; a cancelled one saves what it sent and stays
    /// Cancelled. Repeating it repeats jobs, which the Delivery aggregate
    /// makes harmless.
    #[tracing::instrument(skip_all, fields(batch_id = %job.batch_id))]
    async fn fan_out_records(&self, job: FanOut, batch: Batch) -> Result<JobOutcome, JobError> {
        if batch.organisation_id() != job.organisation_id
            || !matches!(
                batch.status(),
                BatchStatus::Done | BatchStatus::Saving | BatchStatus::Cancelled
            )
        {
            return Ok(JobOutcome::Skipped);
        }
        let sent: HashMap<u64, DeliveryRow> = self
            .ports
            .views
            .deliveries(&job.batch_id)
            .await?
            .into_iter()
            .filter(|row| row.sent_at.is_some())
            .map(|row| (row.row, row))
            .collect();
        if batch.status() == BatchStatus::Done {
            let caller = Caller::system(
                organisation(&job.organisation_id)?,
                "records",
                &job.correlation_id,
            );
            let command = BatchCommand::StartSaving {
                records: sent.len() as u64,
                now: self.ports.clock.now(),
            };
            self.batches
                .execute_with_metadata(&job.batch_id, command, self.metadata(&caller))
                .await
                .map_err(BatchbookError::from)?;
        }
        let template = template::Template::parse(batch.template())
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        let artifact = self.list_rows(&batch).await?;
        let mut jobs = Vec::with_capacity(sent.len());
        for row in artifact_rows(&artifact) {
            let row = row.map_err(|e| unreadable("a list artifact line", &e))?;
            let (Some(delivery), Some(nhs_number)) = (sent.get(&row.row), row.nhs_number.clone())
            else {
                continue;
            };
            if delivery.record.is_some() {
                continue;
            }
            jobs.push(to_json(&SaveToRecord {
                organisation_id: job.organisation_id.clone(),
                batch_id: job.batch_id.clone(),
                row: row.row,
                nhs_number,
                channel: delivery.channel,
                text: self.message_for(&template, &batch, &job.batch_id, &row),
                snomed_code: batch.snomed_code().map(str::to_owned),
                sent_at: delivery.sent_at.unwrap_or_default(),
                correlation_id: job.correlation_id.clone(),
                decline: false,
            }));
        }
        for chunk in jobs.chunks(FAN_OUT_CHUNK) {
            self.ports
                .queue
                .send(QueueName::Record, chunk.to_vec())
                .await?;
        }
        tracing::info!(records = jobs.len(), "records queued");
        Ok(JobOutcome::Done)
    }

    #[tracing::instrument(skip_all, fields(batch_id = %job.batch_id, row = job.row))]
    async fn save_one(&self, job: SaveToRecord) -> Result<JobOutcome, JobError> {
        let caller = Caller::system(
            organisation(&job.organisation_id)?,
            "record-writer",
            &job.correlation_id,
        );
        let decline = job.decline;
        let (batch_id, row) = (job.batch_id.clone(), job.row);
        let entry = RecordEntry {
            idempotency_key: job.idempotency_key(),
            organisation_id: job.organisation_id.clone(),
            nhs_number: job.nhs_number,
            snomed_code: job.snomed_code,
            text: job.text,
            channel: job.channel,
            sent_at: job.sent_at,
        };
        if decline {
            return self.record_decline(&caller, &batch_id, row, entry).await;
        }
        let command = DeliveryCommand::SaveToRecord {
            entry: Box::new(entry),
            now: self.ports.clock.now(),
        };
        let id = crate::jobs::delivery_id(&job.batch_id, job.row);
        match self
            .deliveries
            .execute_with_metadata(&id, command, self.metadata(&caller))
            .await
        {
            Ok(()) => Ok(JobOutcome::Done),
            Err(AggregateError::UserError(e)) => Err(JobError::Retry(e.to_string())),
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }
}
