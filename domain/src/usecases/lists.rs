//! Patient lists: checked on upload through the API, or by the ingest
//! function when the frontend puts the file straight into the blob store.
//! Rows are checked as they are read, then looked up (PDS, NHS App, failure
//! history) where ports are configured, and written to the checked-list
//! artifact one line at a time.

use std::time::Duration;

use cqrs_es::persist::PersistedEventRepository;

use crate::usecases::Role;
use events::Channel;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{keys, Batchbook, BatchbookError, Caller, IdempotencyKey, OrganisationSettings};
use crate::lists::{
    CheckedRow, ClinicalSystem, Column, ListChecker, ListCounts, ListError, ListSummary,
    NotContactableReason, Outcome,
};
use crate::ports::{recipient_fingerprint, DemographicsError, PortError};
use crate::values::{NhsNumber, OrganisationId, UkMobile};

/// How long a presigned upload URL stays valid.
const UPLOAD_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The ingest function records its progress every this many rows.
const PROGRESS_EVERY: u64 = 5_000;
/// A mobile whose messages failed within this many months is "likely to fail".
const LIKELY_TO_FAIL_MONTHS: u32 = 3;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListState {
    Checking,
    Checked,
    Refused,
}

/// How far the check of a list has got, for the frontend's progress bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListProgress {
    pub list_id: String,
    pub state: ListState,
    pub rows_checked: u64,
    pub bytes_checked: u64,
    pub total_bytes: u64,
}
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
        caller.require(Role::Staff)?;
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
        let list_id = match key {
            Some(key) => key.derived_id(caller, "list"),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let org = &caller.organisation_id;
        let summary = self
            .check_and_store(caller, &list_id, &csv, system, false)
            .await??;
        // The upload is kept for the not-contactable report; the summary,
        // written before it, is what makes the list exist.
        self.ports
            .blobs
            .put(&keys::upload(org, &list_id), csv)
            .await?;
        Ok(summary)
    }

    /// A presigned URL for the frontend to upload a list straight to the
    /// blob store, where the store offers them.
    pub async fn new_upload(&self, caller: &Caller) -> Result<UploadSlot, BatchbookError> {
        caller.require(Role::Staff)?;
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
        // Uploaded straight to the bucket: nobody signed in is known.
        let caller = Caller::system(org.clone(), "ingest", &list_id);
        match self
            .check_and_store(&caller, &list_id, &csv, None, true)
            .await?
        {
            Ok(summary) => Ok(Ingested::Checked(summary)),
            Err(refusal) => {
                self.put_json(&keys::refusal(&org, &list_id), &refusal)
                    .await?;
                // The code only: a refusal's message can quote the file.
                tracing::info!(list_id, reason = refusal.code(), "uploaded list refused");
                Ok(Ingested::Refused(refusal))
            }
        }
    }

    /// Checks a list row by row, looks each row up, and stores the checked
    /// list and then its summary. A refused file stores nothing but, for the
    /// ingest function, its progress so far.
    async fn check_and_store(
        &self,
        caller: &Caller,
        list_id: &str,
        csv: &[u8],
        system: Option<ClinicalSystem>,
        record_progress: bool,
    ) -> Result<Result<ListSummary, ListError>, BatchbookError> {
        let org = &caller.organisation_id;
        let today = self.ports.clock.now().date_naive();
        let settings = self.settings_of(org).await?;
        let mut checker = match ListChecker::open(csv, system, today) {
            Ok(checker) => checker,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let mobile_column = Column::Mobile.label(checker.system());
        let mut artifact = Vec::with_capacity(csv.len() * 2);
        let mut counts = ListCounts::default();
        let mut mentions = Vec::new();
        loop {
            let mut row = match checker.next_row() {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(refusal) => return Ok(Err(refusal)),
            };
            self.look_up(org, &settings, mobile_column, &mut row)
                .await?;
            counts.add(&row);
            if let Some(nhs_number) = row.nhs_number.as_deref() {
                mentions.push((
                    crate::ports::recipient_fingerprint(org.as_ref(), nhs_number),
                    crate::ports::Mention::ListRow {
                        list_id: list_id.to_owned(),
                        row: row.row,
                    },
                ));
            }
            serde_json::to_writer(&mut artifact, &row).map_err(|e| PortError::new("list", e))?;
            artifact.push(b'\n');
            if record_progress && counts.patients % PROGRESS_EVERY == 0 {
                let progress = ListProgress {
                    list_id: list_id.to_owned(),
                    state: ListState::Checking,
                    rows_checked: counts.patients,
                    bytes_checked: checker.bytes_read(),
                    total_bytes: csv.len() as u64,
                };
                self.put_json(&keys::progress(org, list_id), &progress)
                    .await?;
            }
        }
        let summary = ListSummary {
            list_id: list_id.to_owned(),
            system: checker.system(),
            patient_count: counts.patients,
            contactable_count: counts.contactable,
            not_contactable_count: counts.not_contactable(),
            without_valid_mobile_count: counts.without_valid_mobile,
            email_only_count: counts.email_only,
            nhs_app_only_count: counts.nhs_app_only,
            nhs_app_count: counts.nhs_app,
            mobile_count: Some(counts.with_mobile),
            longest_given_name: counts.longest_given_name,
            artifact_sha256: hex::encode(Sha256::digest(&artifact)),
        };
        let blobs = &self.ports.blobs;
        blobs.put(&keys::checked(org, list_id), artifact).await?;
        let index = &self.ports.patients;
        index.add(org.as_ref(), &mentions).await?;
        index.list_indexed(org.as_ref(), list_id).await?;
        // The summary goes last: a list exists once its summary does.
        self.put_json(&keys::summary(org, list_id), &summary)
            .await?;
        self.record_upload(
            caller,
            events::UploadEvent::ListChecked {
                list_id: list_id.to_owned(),
                organisation_id: org.to_string(),
                system: summary.system.as_str().to_owned(),
                patient_count: summary.patient_count,
                contactable_count: summary.contactable_count,
                not_contactable_count: summary.not_contactable_count,
                artifact_sha256: summary.artifact_sha256.clone(),
                checked_at: self.ports.clock.now(),
            },
        )
        .await?;
        tracing::info!(
            list_id,
            patients = summary.patient_count,
            contactable = summary.contactable_count,
            "patient list checked"
        );
        Ok(Ok(summary))
    }

    /// What only outside services know about a row: PDS's contact details
    /// and deceased flag, NHS App reachability, and this organisation's
    /// failed deliveries. Rows already refused for their NHS number or date
    /// of birth are left as they are.
    async fn look_up(
        &self,
        org: &OrganisationId,
        settings: &OrganisationSettings,
        mobile_column: &str,
        row: &mut CheckedRow,
    ) -> Result<(), PortError> {
        use NotContactableReason::*;
        let Some(nhs) = row
            .nhs_number
            .as_deref()
            .and_then(|n| NhsNumber::parse(n).ok())
        else {
            return Ok(());
        };
        if matches!(row.reason, Some(DuplicateNhsNumber | InvalidDateOfBirth)) {
            return Ok(());
        }
        let lacks_contact = row.reason == Some(ContactDetailsNotProvided);
        if let Some(pds) = &self.ports.demographics {
            let record = pds.lookup(&nhs).await;
            // A list of NHS numbers alone still greets each patient by name.
            if let Ok(found) = &record {
                if row.given_name.is_none() {
                    row.given_name = found.given_name.as_deref().and_then(pds_given_name);
                }
            }
            match record {
                Ok(record) if record.deceased => {
                    row.refuse(Deceased, None);
                    return Ok(());
                }
                Ok(record) if lacks_contact && record.restricted => {
                    row.refuse(UnableToRetrieveContactDetails, Some(mobile_column));
                }
                Ok(record) if lacks_contact => match record.mobile.map(|m| UkMobile::parse(&m)) {
                    Some(Ok(mobile)) => {
                        row.mobile = Some(mobile.to_string());
                        row.contact_by(Channel::Sms);
                    }
                    Some(Err(_)) => row.refuse(NotUkMobile, Some(mobile_column)),
                    None => {}
                },
                Ok(_) => {}
                Err(DemographicsError::NotFound) if lacks_contact => {
                    row.refuse(UnableToRetrieveContactDetails, Some(mobile_column));
                }
                Err(DemographicsError::NotFound) => {}
                Err(DemographicsError::Unavailable(reason)) => {
                    return Err(PortError::new("demographics", reason));
                }
            }
        }
        // The NHS App needs no mobile; an email given (good or bad) is the
        // channel, with no fallback.
        let app_may_reach = row.outcome == Outcome::Contactable
            && row.channel == Some(Channel::Sms)
            || matches!(
                row.reason,
                Some(ContactDetailsNotProvided | NotUkMobile | UnableToRetrieveContactDetails)
            );
        if app_may_reach {
            if let Some(app) = &self.ports.nhs_app {
                if app.can_receive(&nhs).await? {
                    row.contact_by(Channel::NhsApp);
                    return Ok(());
                }
            }
        }
        if settings.flag_mobiles_likely_to_fail && row.channel == Some(Channel::Sms) {
            let mobile = row.mobile.as_deref().unwrap_or_default();
            let fingerprint = recipient_fingerprint(org.as_ref(), mobile);
            let since = self
                .ports
                .clock
                .now()
                .checked_sub_months(chrono::Months::new(LIKELY_TO_FAIL_MONTHS))
                .expect("three months ago is a date");
            if let Some(failed_at) = self
                .ports
                .failures
                .last_failure(org.as_ref(), &fingerprint)
                .await?
            {
                if failed_at >= since {
                    row.refuse(MobileLikelyToFail, Some(mobile_column));
                }
            }
        }
        Ok(())
    }

    pub(in crate::usecases) async fn put_json<T: Serialize>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), PortError> {
        let bytes = serde_json::to_vec(value).map_err(|e| PortError::new("blob", e))?;
        self.ports.blobs.put(key, bytes).await
    }

    pub(in crate::usecases) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, PortError> {
        self.ports
            .blobs
            .get(key)
            .await?
            .map(|bytes| serde_json::from_slice(&bytes).map_err(|e| PortError::new("blob", e)))
            .transpose()
    }

    /// How far the check of a list has got.
    pub async fn list_progress(
        &self,
        caller: &Caller,
        list_id: &str,
    ) -> Result<ListProgress, BatchbookError> {
        let settled = |state, rows_checked| ListProgress {
            list_id: list_id.to_owned(),
            state,
            rows_checked,
            bytes_checked: 0,
            total_bytes: 0,
        };
        match self.list_summary(caller, list_id).await {
            Ok(summary) => Ok(settled(ListState::Checked, summary.patient_count)),
            Err(BatchbookError::List(_)) => Ok(settled(ListState::Refused, 0)),
            // Recorded every few thousand rows; none yet at the start.
            Err(BatchbookError::ListBeingChecked) => Ok(self
                .get_json(&keys::progress(&caller.organisation_id, list_id))
                .await?
                .unwrap_or_else(|| settled(ListState::Checking, 0))),
            Err(other) => Err(other),
        }
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
        if let Some(summary) = self.get_json(&keys::summary(org, list_id)).await? {
            return Ok(summary);
        }
        if let Some(refusal) = self
            .get_json::<ListError>(&keys::refusal(org, list_id))
            .await?
        {
            return Err(refusal.into());
        }
        // Polled while a list is checked: ask whether the upload is there
        // without reading up to 10 MB of it.
        if self.ports.blobs.exists(&keys::upload(org, list_id)).await? {
            return Err(BatchbookError::ListBeingChecked);
        }
        Err(BatchbookError::ListNotFound)
    }
}

/// A given name from PDS, fit for a text: one line, at most the longest
/// given name the NHS Data Dictionary allows (35 characters).
fn pds_given_name(name: &str) -> Option<String> {
    let name = name.split_whitespace().next()?;
    (name.chars().count() <= super::TEMPLATE_NAME_LENGTH && !name.chars().any(char::is_control))
        .then(|| name.to_owned())
}
