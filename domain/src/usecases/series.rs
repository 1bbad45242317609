//! The inhaler-adherence series, as staff steer it: stopping it for one
//! patient, for good. (The texts and their days are `crate::series`; the
//! follow-on timer that sends them is `workers/follow_ons.rs`.)

use cqrs_es::persist::PersistedEventRepository;

use crate::usecases::Role;

use super::{Batchbook, BatchbookError, Caller, CommandError};
use crate::aggregates::DeliveryCommand;
use crate::jobs::delivery_id;
use crate::values::NhsNumber;

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Stops the inhaler series for the patient with this NHS number: no
    /// more texts, for good.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id, batch_id))]
    pub async fn stop_series(
        &self,
        caller: &Caller,
        batch_id: &str,
        nhs_number: &NhsNumber,
    ) -> Result<(), BatchbookError> {
        caller.require(Role::Staff)?;
        let (batch, row) = self.patient_in(caller, batch_id, nhs_number).await?;
        if batch.kind() != events::BatchKind::InhalerSeries {
            return Err(BatchbookError::InvalidRequest(
                "this batch is not a series, so there is nothing to stop".into(),
            ));
        }
        let now = self.ports.clock.now();
        self.on_delivery(caller, batch_id, row, DeliveryCommand::StopSeries { now })
            .await?;
        tracing::info!(row, "one patient's series stopped");
        Ok(())
    }

    pub(in crate::usecases) async fn on_delivery(
        &self,
        caller: &Caller,
        batch_id: &str,
        row: u64,
        command: DeliveryCommand,
    ) -> Result<(), BatchbookError> {
        let id = delivery_id(batch_id, row);
        self.deliveries
            .execute(&id, command, self.metadata(caller))
            .await
            .map_err(|e| match e {
                CommandError::Conflict => BatchbookError::Conflict,
                other => BatchbookError::Unavailable(other.to_string()),
            })?;
        self.refresh_views(&self.deliveries, &id).await
    }
}
