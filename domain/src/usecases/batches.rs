//! Create, send and cancel batches.

use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use events::ListAttached;

use super::{keys, Batchbook, BatchbookError, Caller, IdempotencyKey};
use crate::aggregates::{BatchCommand, BatchError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateBatch {
    pub name: String,
    pub list_id: String,
    pub template: String,
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Creates a batch from a checked list. With a key, a retry gets the
    /// same batch.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn create_batch(
        &self,
        caller: &Caller,
        request: CreateBatch,
        key: Option<&IdempotencyKey>,
    ) -> Result<String, BatchbookError> {
        let fingerprint = format!(
            "create-batch\n{}\n{}\n{}",
            request.name, request.list_id, request.template
        );
        self.idempotent(caller, key, fingerprint.as_bytes(), || {
            self.create_batch_once(caller, request, key)
        })
        .await
    }

    async fn create_batch_once(
        &self,
        caller: &Caller,
        request: CreateBatch,
        key: Option<&IdempotencyKey>,
    ) -> Result<String, BatchbookError> {
        let name = request.name.trim();
        if name.is_empty() {
            return Err(BatchbookError::InvalidRequest(
                "give the batch a name".into(),
            ));
        }
        if request.template.trim().is_empty() {
            return Err(BatchbookError::InvalidRequest(
                "the message is empty".into(),
            ));
        }
        let list = self.list_summary(caller, &request.list_id).await?;
        // Until the email and NHS App senders exist (issue 5), a batch that
        // could not reach these patients is refused rather than left stuck.
        if list.email_only_count + list.nhs_app_only_count > 0 {
            return Err(BatchbookError::InvalidRequest(format!(
                "{} patients on this list can be contacted only by email and {} only by the NHS App; \
                 sending by email and NHS App is not available yet, so remove them or give them a mobile",
                list.email_only_count, list.nhs_app_only_count
            )));
        }
        let batch_id = match key {
            Some(key) => key.derived_id(caller, "batch"),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let command = BatchCommand::Create {
            batch_id: batch_id.clone(),
            organisation_id: caller.organisation_id.to_string(),
            name: name.to_owned(),
            template: request.template,
            list: ListAttached {
                artifact_key: keys::checked(&caller.organisation_id, &list.list_id),
                list_id: list.list_id,
                artifact_sha256: list.artifact_sha256,
                patient_count: list.patient_count,
                contactable_count: list.contactable_count,
                without_valid_mobile_count: list.without_valid_mobile_count,
                not_contactable_count: list.not_contactable_count,
            },
        };
        match self
            .batches
            .execute_with_metadata(&batch_id, command, self.metadata(caller))
            .await
        {
            Ok(()) => tracing::info!(batch_id, "batch created"),
            // A keyed request re-run after its first run died: same batch.
            Err(cqrs_es::AggregateError::UserError(BatchError::AlreadyExists)) if key.is_some() => {
            }
            Err(e) => return Err(e.into()),
        }
        Ok(batch_id)
    }

    /// Sends now, or schedules the send for `send_at`. With a key, a retry
    /// gets the first answer instead of "already sent".
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id, batch_id))]
    pub async fn send_batch(
        &self,
        caller: &Caller,
        batch_id: &str,
        send_at: Option<DateTime<Utc>>,
        key: Option<&IdempotencyKey>,
    ) -> Result<(), BatchbookError> {
        let fingerprint = format!("send-batch\n{batch_id}\n{send_at:?}");
        self.idempotent(caller, key, fingerprint.as_bytes(), || {
            self.send_batch_once(caller, batch_id, send_at)
        })
        .await
    }

    async fn send_batch_once(
        &self,
        caller: &Caller,
        batch_id: &str,
        send_at: Option<DateTime<Utc>>,
    ) -> Result<(), BatchbookError> {
        let command = BatchCommand::Send {
            organisation_id: caller.organisation_id.to_string(),
            now: self.ports.clock.now(),
            send_at,
        };
        self.batches
            .execute_with_metadata(batch_id, command, self.metadata(caller))
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id, batch_id))]
    pub async fn cancel_batch(
        &self,
        caller: &Caller,
        batch_id: &str,
    ) -> Result<(), BatchbookError> {
        let command = BatchCommand::Cancel {
            organisation_id: caller.organisation_id.to_string(),
            now: self.ports.clock.now(),
        };
        self.batches
            .execute_with_metadata(batch_id, command, self.metadata(caller))
            .await?;
        Ok(())
    }
}
