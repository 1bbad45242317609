//! Sending one message (`Delivery::Send`, its fallback or a follow-on)
//! through its provider under a fixed idempotency key, and recording the
//! provider's receipts against the delivery they name.

use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use events::Channel;

use super::*;
use crate::aggregates::batch::BatchStatus;
use crate::aggregates::{Batch, DeliveryCommand, DeliveryError, Fallback, Message};
use crate::jobs::{ConversationReference, FollowOn, MessageReference, SendMessage, Step};
use crate::policies::{nhs_app_fallback_after, SendingWindow};
use crate::ports::{recipient_fingerprint, Receipt, Timer, TimerJob};
use crate::usecases::store::CommandError;
use crate::usecases::{Batchbook, Caller};
use crate::values::OrganisationId;

impl<R: PersistedEventRepository> Batchbook<R> {
    #[tracing::instrument(skip_all, fields(batch_id = %job.batch_id, row = job.row))]
    pub(in crate::usecases) async fn send_one(
        &self,
        job: SendMessage,
        batch: &Batch,
    ) -> Result<JobOutcome, JobError> {
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
            .execute(&delivery_id, command, self.metadata(&caller))
            .await
        {
            Ok(()) => Ok(JobOutcome::Done),
            Err(CommandError::Refused(DeliveryError::ProviderUnavailable(reason))) => {
                Err(JobError::Retry(reason))
            }
            Err(CommandError::Refused(e)) => Err(JobError::Malformed(e.to_string())),
            // Another worker sent this delivery at the same moment; the retry
            // will find it sent and do nothing.
            Err(CommandError::Conflict) => {
                Err(JobError::Retry("delivery changed concurrently".into()))
            }
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }

    /// A message that reached a worker outside the sending window waits on
    /// the timer table until it opens.
    pub(in crate::usecases) async fn hold_to_window(
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
        if crate::jobs::is_notice_reference(&receipt.reference) {
            // A staff notice's receipt changes nothing.
            return Ok(());
        }
        let ours = |raw: &str| {
            MessageReference::parse(raw).is_some() || ConversationReference::parse(raw).is_some()
        };
        let raw = if ours(&receipt.reference) {
            receipt.reference.clone()
        } else {
            self.ports
                .references
                .recall(&receipt.reference)
                .await
                .map_err(JobError::from)?
                .filter(|raw| ours(raw))
                .ok_or(ReceiptError::UnknownReference)?
        };
        if let Some(reference) = ConversationReference::parse(&raw) {
            return self.record_conversation_receipt(reference, &receipt).await;
        }
        let reference = MessageReference::parse(&raw).ok_or(ReceiptError::UnknownReference)?;
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
            .execute(&reference.delivery_id(), command, self.metadata(&caller))
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        Ok(())
    }
}
