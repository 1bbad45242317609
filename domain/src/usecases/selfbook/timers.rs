//! Self-Book's timers: invites timed out when their links expire with
//! nothing booked, and the reminder a day before an appointment.

use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;

use crate::aggregates::batch::BatchStatus;
use crate::aggregates::invite::InviteStatus;
use crate::aggregates::InviteCommand;
use crate::jobs::delivery_id;
use crate::usecases::workers::{JobError, Recurring, FOLLOW_ONS_IDLE};
use crate::usecases::{Batchbook, Caller};
use crate::values::OrganisationId;

impl<R: PersistedEventRepository> Batchbook<R> {
    /// The reminder timer fired: the invite records it (once, and only for
    /// an appointment still booked), and the reactor sends the text.
    pub(in crate::usecases) async fn remind_of_appointment(
        &self,
        organisation_id: &str,
        batch_id: &str,
        row: u64,
        attempt: u32,
        now: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let org = OrganisationId::parse(organisation_id)
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        let caller = Caller::system(org, "timer", batch_id);
        self.invites
            .execute(
                &delivery_id(batch_id, row),
                InviteCommand::RemindOfAppointment { attempt, now },
                self.metadata(&caller),
            )
            .await
            .map_err(|e| JobError::Retry(e.to_string()))
    }

    /// Times out the batch's invites whose links expired with nothing
    /// booked, then books the next look: at the next expiry due, or while
    /// the batch is still sending, within `FOLLOW_ONS_IDLE`.
    #[tracing::instrument(skip_all, fields(batch_id))]
    pub(in crate::usecases) async fn expire_invites(
        &self,
        organisation_id: &str,
        batch_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let batch = self.load_batch(batch_id).await?;
        let Some(expiry) = batch.self_book().and_then(|s| s.expiry.duration()) else {
            return Ok(());
        };
        if batch.organisation_id() != organisation_id {
            return Ok(());
        }
        let org = OrganisationId::parse(organisation_id)
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        let caller = Caller::system(org, "timer", batch_id);
        let mut next = (batch.status() == BatchStatus::Sending).then(|| now + FOLLOW_ONS_IDLE);
        let mut timed_out = 0;
        for row in self.ports.views.deliveries(batch_id).await? {
            let Some(first) = row.first_sent_at else {
                continue;
            };
            let status = row.invite.as_ref().map_or(InviteStatus::Open, |i| i.status);
            if row.link_revoked || !matches!(status, InviteStatus::Open | InviteStatus::Failed) {
                continue;
            }
            let at = first + expiry;
            if at > now {
                next = Some(next.map_or(at, |n| n.min(at)));
                continue;
            }
            let command = InviteCommand::TimeOut {
                batch_id: batch_id.to_owned(),
                row: row.row,
                now,
            };
            // The invite decides: one booked since the read model was
            // written is left alone.
            self.invites
                .execute(
                    &delivery_id(batch_id, row.row),
                    command,
                    self.metadata(&caller),
                )
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?;
            timed_out += 1;
        }
        if let Some(at) = next {
            self.book(Recurring::InviteExpiry, organisation_id, batch_id, at)
                .await?;
        }
        tracing::info!(timed_out, "expired invites timed out");
        Ok(())
    }
}
