//! What Self-Book's stored events set going: bookings and cancellations
//! for the booking worker, the texts that tell the patient, the reminder
//! timer, and a decline saved to the patient's record.

use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use events::InviteEvent;

use super::*;
use crate::aggregates::InviteCommand;
use crate::jobs::{delivery_id, BookingAction, BookingJob, FollowOn, SendMessage, Step};
use crate::links::{self, LinkPurpose};
use crate::ports::{QueueName, Timer, TimerJob};
use crate::selfbook::{self};
use crate::usecases::workers::{to_json, JobError, JobOutcome};
use crate::usecases::{Batchbook, Caller};

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Reacts to a stored invite event: book or cancel in the appointment
    /// book, or tell the patient the outcome.
    pub(in crate::usecases) async fn react_to_invite(
        &self,
        event: InviteEvent,
        sequence: u64,
        organisation_id: &str,
        correlation_id: &str,
    ) -> Result<bool, JobError> {
        let (batch_id, row) = event.recipient();
        let (batch_id, row) = (batch_id.to_owned(), row);
        let booking = |attempt, action| BookingJob {
            organisation_id: organisation_id.to_owned(),
            batch_id: batch_id.clone(),
            row,
            attempt,
            action,
            correlation_id: correlation_id.to_owned(),
        };
        let job = match &event {
            InviteEvent::BookingRequested { attempt, .. } => booking(*attempt, BookingAction::Book),
            InviteEvent::BookingCancelled { attempt, .. } => {
                booking(*attempt, BookingAction::Cancel)
            }
            InviteEvent::BookingConfirmed {
                attempt,
                confirmed_at,
                ..
            } => {
                self.schedule_reminder(organisation_id, &batch_id, row, *attempt, *confirmed_at)
                    .await?;
                return self
                    .queue_notice(&event, sequence, organisation_id, correlation_id)
                    .await;
            }
            InviteEvent::BookingFailed { .. } | InviteEvent::AppointmentReminderDue { .. } => {
                return self
                    .queue_notice(&event, sequence, organisation_id, correlation_id)
                    .await
            }
            InviteEvent::InviteDeclined {
                snomed_code,
                declined_at,
                ..
            } => {
                return self
                    .queue_decline_record(
                        organisation_id,
                        &batch_id,
                        row,
                        snomed_code,
                        *declined_at,
                        correlation_id,
                    )
                    .await
            }
            InviteEvent::InviteTimedOut { .. } | InviteEvent::DeclineRecorded { .. } => {
                return Ok(false)
            }
        };
        self.ports
            .queue
            .send(QueueName::Booking, vec![to_json(&job)])
            .await?;
        Ok(true)
    }

    /// Queues the text telling the patient a booking's outcome: sent once
    /// per invite event, keyed by its sequence.
    pub(in crate::usecases) async fn queue_notice(
        &self,
        event: &InviteEvent,
        sequence: u64,
        organisation_id: &str,
        correlation_id: &str,
    ) -> Result<bool, JobError> {
        let (batch_id, row) = event.recipient();
        let batch = self.load_batch(batch_id).await?;
        let invite = self.load_invite(batch_id, row).await?;
        let token = self
            .ports
            .links
            .key
            .token(organisation_id, batch_id, row, LinkPurpose::Invite);
        let link = links::url(&self.ports.links.base_url, &token);
        let body = match (event, invite.slot()) {
            (InviteEvent::BookingConfirmed { .. }, Some(slot)) => {
                selfbook::confirmation(slot, &link)
            }
            (InviteEvent::AppointmentReminderDue { .. }, Some(slot)) => {
                selfbook::reminder(slot, &link)
            }
            _ => selfbook::failure(&link),
        };
        let Some(mobile) = self.mobile_of(&batch, row).await? else {
            return Ok(false);
        };
        let job = SendMessage {
            organisation_id: organisation_id.to_owned(),
            batch_id: batch_id.to_owned(),
            row,
            channel: events::Channel::Sms,
            to: mobile,
            body,
            correlation_id: correlation_id.to_owned(),
            subject: None,
            fallback_to: None,
            step: Step::FollowOn(FollowOn::Notice(sequence)),
            window: None,
        };
        self.ports
            .queue
            .send(QueueName::Send, vec![to_json(&job)])
            .await?;
        Ok(true)
    }

    /// Queues the decline, with its SNOMED CT code, for the patient's record
    /// in the clinical system, as the record writer saves sent messages.
    pub(in crate::usecases) async fn queue_decline_record(
        &self,
        organisation_id: &str,
        batch_id: &str,
        row: u64,
        snomed_code: &str,
        declined_at: DateTime<Utc>,
        correlation_id: &str,
    ) -> Result<bool, JobError> {
        let batch = self.load_batch(batch_id).await?;
        let Some(nhs_number) = self
            .patient_row(&batch, row)
            .await?
            .and_then(|r| r.nhs_number)
        else {
            return Ok(false);
        };
        let wording = batch
            .self_book()
            .and_then(|s| s.decline.as_ref())
            .map_or("declined", |d| d.wording.as_str());
        let job = crate::jobs::SaveToRecord {
            organisation_id: organisation_id.to_owned(),
            batch_id: batch_id.to_owned(),
            row,
            nhs_number,
            channel: events::Channel::Sms,
            text: format!("Self-Book invitation declined: {wording}"),
            snomed_code: Some(snomed_code.to_owned()),
            sent_at: declined_at,
            correlation_id: correlation_id.to_owned(),
            decline: true,
        };
        self.ports
            .queue
            .send(QueueName::Record, vec![to_json(&job)])
            .await?;
        Ok(true)
    }

    /// Writes a decline to the patient's record (the key makes a retry the
    /// same entry), then records on the invite that it is there.
    pub(in crate::usecases) async fn record_decline(
        &self,
        caller: &Caller,
        batch_id: &str,
        row: u64,
        entry: crate::ports::RecordEntry,
    ) -> Result<JobOutcome, JobError> {
        let saved = match self.ports.record.save(&entry).await {
            Ok(()) => true,
            Err(crate::ports::RecordError::NotRegistered) => false,
            Err(e) => return Err(JobError::Retry(e.to_string())),
        };
        let command = InviteCommand::RecordDecline {
            saved,
            now: self.ports.clock.now(),
        };
        self.invites
            .execute(&delivery_id(batch_id, row), command, self.metadata(caller))
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        Ok(JobOutcome::Done)
    }

    /// Books the reminder a day before a confirmed appointment, unless the
    /// booking came later than that.
    pub(in crate::usecases) async fn schedule_reminder(
        &self,
        organisation_id: &str,
        batch_id: &str,
        row: u64,
        attempt: u32,
        confirmed_at: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let invite = self.load_invite(batch_id, row).await?;
        let Some(slot) = invite.slot().filter(|_| invite.attempt() == attempt) else {
            return Ok(());
        };
        let due_at = selfbook::expected_start(slot) - REMINDER_BEFORE;
        if due_at <= confirmed_at {
            return Ok(());
        }
        let timer = Timer {
            id: format!("invite:{batch_id}:{row}:reminder:{attempt}"),
            due_at,
            job: TimerJob::AppointmentReminder {
                organisation_id: organisation_id.to_owned(),
                batch_id: batch_id.to_owned(),
                row,
                attempt,
            },
        };
        Ok(self.ports.timers.schedule(timer).await?)
    }
}
