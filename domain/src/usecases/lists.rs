//! Upload and check a patient list; read its summary.

use sha2::{Digest, Sha256};

use super::{keys, Batchbook, BatchbookError, Caller};
use crate::lists::{check_list, CheckedList, ClinicalSystem, ListSummary};
use crate::ports::PortError;
use cqrs_es::persist::PersistedEventRepository;

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Checks an uploaded file and stores the upload, the checked list and
    /// its summary. A refused file stores nothing.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn upload_list(
        &self,
        caller: &Caller,
        csv: Vec<u8>,
        system: Option<ClinicalSystem>,
    ) -> Result<ListSummary, BatchbookError> {
        let checked = check_list(&csv, system)?;
        let list_id = uuid::Uuid::new_v4().to_string();
        let artifact = artifact_bytes(&checked);
        let org = &caller.organisation_id;
        let summary = ListSummary {
            list_id: list_id.clone(),
            system: checked.system,
            patient_count: checked.rows.len() as u64,
            contactable_count: checked.contactable_count(),
            not_contactable_count: checked.rows.len() as u64 - checked.contactable_count(),
            without_valid_mobile_count: checked.without_valid_mobile_count(),
            artifact_sha256: hex::encode(Sha256::digest(&artifact)),
        };
        let blobs = &self.ports.blobs;
        blobs.put(&keys::upload(org, &list_id), csv).await?;
        blobs.put(&keys::checked(org, &list_id), artifact).await?;
        // The summary goes last: a list exists once its summary does.
        let summary_json =
            serde_json::to_vec(&summary).map_err(|e| PortError::new("list summary", e))?;
        blobs
            .put(&keys::summary(org, &list_id), summary_json)
            .await?;
        tracing::info!(
            list_id,
            patients = summary.patient_count,
            contactable = summary.contactable_count,
            "patient list checked"
        );
        Ok(summary)
    }

    pub async fn list_summary(
        &self,
        caller: &Caller,
        list_id: &str,
    ) -> Result<ListSummary, BatchbookError> {
        if uuid::Uuid::parse_str(list_id).is_err() {
            return Err(BatchbookError::ListNotFound);
        }
        let bytes = self
            .ports
            .blobs
            .get(&keys::summary(&caller.organisation_id, list_id))
            .await?
            .ok_or(BatchbookError::ListNotFound)?;
        serde_json::from_slice(&bytes).map_err(|e| PortError::new("list summary", e).into())
    }
}

/// The checked list as JSON Lines, one patient row a line, in input order.
pub(crate) fn artifact_bytes(list: &CheckedList) -> Vec<u8> {
    let mut out = Vec::with_capacity(list.rows.len() * 128);
    for row in &list.rows {
        serde_json::to_writer(&mut out, row).expect("a checked row always serialises");
        out.push(b'\n');
    }
    out
}
