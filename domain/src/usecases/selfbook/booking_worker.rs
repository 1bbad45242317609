//! The booking worker: each claimed slot booked in the appointment book
//! under a key fixed per attempt (or a cancelled appointment cancelled
//! there), and the invite told the outcome.

use cqrs_es::persist::PersistedEventRepository;

use super::*;
use crate::aggregates::invite::InviteStatus;
use crate::aggregates::InviteCommand;
use crate::appointments::{BookError, BookingRequest};
use crate::jobs::{delivery_id, BookingAction, BookingJob};
use crate::lists::artifact_row;
use crate::selfbook::{self};
use crate::usecases::workers::{JobError, JobOutcome};
use crate::usecases::{Batchbook, Caller};
use crate::values::OrganisationId;

impl<R: PersistedEventRepository> Batchbook<R> {
    /// One patient's mobile, from the batch's list.
    pub(in crate::usecases) async fn mobile_of(
        &self,
        batch: &crate::aggregates::Batch,
        row: u64,
    ) -> Result<Option<String>, JobError> {
        Ok(self.patient_row(batch, row).await?.and_then(|r| r.mobile))
    }

    pub(in crate::usecases) async fn patient_row(
        &self,
        batch: &crate::aggregates::Batch,
        row: u64,
    ) -> Result<Option<crate::lists::CheckedRow>, JobError> {
        let artifact = self.list_rows(batch).await?;
        artifact_row(&artifact, row).map_err(|e| JobError::Malformed(e.to_string()))
    }

    /// The booking worker: books a claimed slot in the appointment book,
    /// or cancels a cancelled appointment there and frees its slot.
    #[tracing::instrument(skip_all, fields(batch_id = %job.batch_id, row = job.row, attempt = job.attempt))]
    pub(in crate::usecases) async fn handle_booking(
        &self,
        job: BookingJob,
    ) -> Result<JobOutcome, JobError> {
        let org = OrganisationId::parse(&job.organisation_id)
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        let caller = Caller::system(org, "booking-worker", &job.correlation_id);
        let invite_id = delivery_id(&job.batch_id, job.row);
        let invite = self.load_invite(&job.batch_id, job.row).await?;
        let Some(slot) = invite.slot().cloned() else {
            return Err(JobError::Malformed("the invite has no slot".into()));
        };
        let book = self
            .appointment_book()
            .map_err(|e| JobError::Retry(e.to_string()))?
            .clone();
        if job.action == BookingAction::Cancel {
            let Some(appointment_id) = invite.appointment_id() else {
                return Ok(JobOutcome::Skipped);
            };
            book.cancel(appointment_id)
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?;
            self.release(&job.organisation_id, &slot, &invite_id, &caller)
                .await?;
            tracing::info!("appointment cancelled in the book");
            return Ok(JobOutcome::Done);
        }
        if invite.attempt() != job.attempt {
            return Ok(JobOutcome::Skipped);
        }
        match invite.status() {
            InviteStatus::Pending => {}
            // Failed before a crash: make sure the slot went back.
            InviteStatus::Failed => {
                self.release(&job.organisation_id, &slot, &invite_id, &caller)
                    .await?;
                return Ok(JobOutcome::Skipped);
            }
            _ => return Ok(JobOutcome::Skipped),
        }
        let batch = self.load_batch(&job.batch_id).await?;
        let nhs_number = self
            .patient_row(&batch, job.row)
            .await?
            .and_then(|r| r.nhs_number)
            .ok_or_else(|| JobError::Malformed("the patient's row has no NHS number".into()))?;
        let request = BookingRequest {
            slot: selfbook::slot_of(&slot),
            nhs_number,
            idempotency_key: job.idempotency_key(),
        };
        let now = self.ports.clock.now();
        let command = match book.book(&request).await {
            Ok(booked) => InviteCommand::ConfirmBooking {
                attempt: job.attempt,
                appointment_id: booked.appointment_id,
                now,
            },
            Err(BookError::Unavailable(reason))
                if invite
                    .requested_at()
                    .is_none_or(|at| now < at + BOOKING_DEADLINE) =>
            {
                return Err(JobError::Retry(reason));
            }
            Err(e) => InviteCommand::FailBooking {
                attempt: job.attempt,
                reason: e.to_string(),
                now,
            },
        };
        let failed = matches!(command, InviteCommand::FailBooking { .. });
        self.invites
            .execute(&invite_id, command, self.metadata(&caller))
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        if failed {
            self.release(&job.organisation_id, &slot, &invite_id, &caller)
                .await?;
            tracing::warn!("booking failed; the slot was released");
        } else {
            tracing::info!("booking confirmed");
        }
        Ok(JobOutcome::Done)
    }
}
