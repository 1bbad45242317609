//! Saving to the record: one job per patient a batch sent a message to,
//! and the record writer saving each once, with the batch's SNOMED CT code.

use std::collections::HashMap;

use cqrs_es::persist::PersistedEventRepository;

use super::*;
use crate::aggregates::batch::BatchStatus;
use crate::aggregates::{Batch, BatchCommand, DeliveryCommand};
use crate::jobs::{FanOut, SaveToRecord};
use crate::lists::artifact_rows;
use crate::ports::{QueueName, RecordEntry};
use crate::projection::DeliveryRow;
use crate::template::{self};
use crate::usecases::store::CommandError;
use crate::usecases::{Batchbook, BatchbookError, Caller};

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Saving to the record begins: one [`SaveToRecord`] job per patient the
    /// batch sent a message to, read from the delivery view (final once the
    /// batch is Done) and the list (for NHS numbers and names). A Done batch
    /// becomes Saving; a cancelled one saves what it sent and stays
    /// Cancelled. Repeating it repeats jobs, which the Delivery aggregate
    /// makes harmless.
    #[tracing::instrument(skip_all, fields(batch_id = %job.batch_id))]
    pub(in crate::usecases) async fn fan_out_records(
        &self,
        job: FanOut,
        batch: Batch,
    ) -> Result<JobOutcome, JobError> {
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
                .execute(&job.batch_id, command, self.metadata(&caller))
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
    pub(in crate::usecases) async fn save_one(
        &self,
        job: SaveToRecord,
    ) -> Result<JobOutcome, JobError> {
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
            .execute(&id, command, self.metadata(&caller))
            .await
        {
            Ok(()) => Ok(JobOutcome::Done),
            Err(CommandError::Refused(e)) => Err(JobError::Retry(e.to_string())),
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }
}
