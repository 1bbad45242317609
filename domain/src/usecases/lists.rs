//! Patient lists: checked on upload through the API, or by the ingest
//! function when the frontend puts the file straight into the blob store.

use std::time::Duration;

use cqrs_es::persist::PersistedEventRepository;
use sha2::{Digest, Sha256};

use super::{keys, Batchbook, BatchbookError, Caller, IdempotencyKey};
use crate::lists::{check_list, CheckedList, ClinicalSystem, ListError, ListSummary};
use crate::ports::PortError;
use crate::values::OrganisationId;

/// How long a presigned upload URL stays valid.
const UPLOAD_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Where a direct upload stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSlot {
    pub list_id: String,
    /// PUT the CSV here; the list is checked once it lands.
    pub upload_url: String,
}

/// What came of an ingested upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    Checked(ListSummary),
    Refused(ListError),
    /// The notification named an object that is not there (yet, or any more).
    NoSuchUpload,
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Checks a file sent through the API and stores the upload, the checked
    /// list and its summary. A refused file stores nothing. With a key, a
    /// retry gets the same list.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn upload_list(
        &self,
        caller: &Caller,
        csv: Vec<u8>,
        system: Option<ClinicalSystem>,
        key: Option<&IdempotencyKey>,
    ) -> Result<ListSummary, BatchbookError> {
        let mut fingerprint = format!("upload-list\n{system:?}\n").into_bytes();
        fingerprint.extend_from_slice(&csv);
        self.idempotent(caller, key, &fingerprint, || {
            self.upload_list_once(caller, csv, system, key)
        })
        .await
    }

    async fn upload_list_once(
        &self,
        caller: &Caller,
        csv: Vec<u8>,
        system: Option<ClinicalSystem>,
        key: Option<&IdempotencyKey>,
    ) -> Result<ListSummary, BatchbookError> {
        let checked = check_list(&csv, system)?;
        let list_id = match key {
            Some(key) => key.derived_id(caller, "list"),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let org = &caller.organisation_id;
        self.ports
            .blobs
            .put(&keys::upload(org, &list_id), csv)
            .await?;
        Ok(self.store_checked(org, &list_id, &checked).await?)
    }

    /// A presigned URL for the frontend to upload a list straight to the
    /// blob store, where the store offers them.
    pub async fn new_upload(&self, caller: &Caller) -> Result<UploadSlot, BatchbookError> {
        let list_id = uuid::Uuid::new_v4().to_string();
        let key = keys::upload(&caller.organisation_id, &list_id);
        let upload_url = self
            .ports
            .blobs
            .presigned_put(&key, UPLOAD_URL_LIFETIME)
            .await?
            .ok_or_else(|| {
                BatchbookError::InvalidRequest("upload the list to POST /v1/lists instead".into())
            })?;
        Ok(UploadSlot {
            list_id,
            upload_url,
        })
    }

    /// Checks a file that landed in the blob store under `key`. Safe to
    /// repeat: the list id comes from the key, and a repeat writes the same
    /// objects again.
    #[tracing::instrument(skip_all)]
    pub async fn ingest_upload(&self, key: &str) -> Result<Ingested, BatchbookError> {
        let Some((org, list_id)) = keys::parse_upload(key) else {
            return Err(BatchbookError::InvalidRequest("not an upload key".into()));
        };
        let Some(csv) = self.ports.blobs.get(key).await? else {
            return Ok(Ingested::NoSuchUpload);
        };
        match check_list(&csv, None) {
            Ok(checked) => Ok(Ingested::Checked(
                self.store_checked(&org, &list_id, &checked).await?,
            )),
            Err(refusal) => {
                let body =
                    serde_json::to_vec(&refusal).map_err(|e| PortError::new("list refusal", e))?;
                self.ports
                    .blobs
                    .put(&keys::refusal(&org, &list_id), body)
                    .await?;
                // The code only: a refusal's message can quote the file.
                tracing::info!(list_id, reason = refusal.code(), "uploaded list refused");
                Ok(Ingested::Refused(refusal))
            }
        }
    }

    async fn store_checked(
        &self,
        org: &OrganisationId,
        list_id: &str,
        checked: &CheckedList,
    ) -> Result<ListSummary, PortError> {
        let artifact = artifact_bytes(checked);
        let contactable = checked.contactable_count();
        let summary = ListSummary {
            list_id: list_id.to_owned(),
            system: checked.system,
            patient_count: checked.rows.len() as u64,
            contactable_count: contactable,
            not_contactable_count: checked.rows.len() as u64 - contactable,
            without_valid_mobile_count: checked.without_valid_mobile_count(),
            artifact_sha256: hex::encode(Sha256::digest(&artifact)),
        };
        let blobs = &self.ports.blobs;
        blobs.put(&keys::checked(org, list_id), artifact).await?;
        // The summary goes last: a list exists once its summary does.
        let summary_json =
            serde_json::to_vec(&summary).map_err(|e| PortError::new("list summary", e))?;
        blobs
            .put(&keys::summary(org, list_id), summary_json)
            .await?;
        tracing::info!(
            list_id,
            patients = summary.patient_count,
            contactable,
            "patient list checked"
        );
        Ok(summary)
    }

    /// The list's summary; its refusal if the ingest function refused it.
    pub async fn list_summary(
        &self,
        caller: &Caller,
        list_id: &str,
    ) -> Result<ListSummary, BatchbookError> {
        if uuid::Uuid::parse_str(list_id).is_err() {
            return Err(BatchbookError::ListNotFound);
        }
        let org = &caller.organisation_id;
        let blobs = &self.ports.blobs;
        if let Some(bytes) = blobs.get(&keys::summary(org, list_id)).await? {
            return serde_json::from_slice(&bytes)
                .map_err(|e| PortError::new("list summary", e).into());
        }
        if let Some(bytes) = blobs.get(&keys::refusal(org, list_id)).await? {
            let refusal: ListError =
                serde_json::from_slice(&bytes).map_err(|e| PortError::new("list refusal", e))?;
            return Err(refusal.into());
        }
        if blobs.get(&keys::upload(org, list_id)).await?.is_some() {
            return Err(BatchbookError::ListBeingChecked);
        }
        Err(BatchbookError::ListNotFound)
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
