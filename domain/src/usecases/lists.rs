//! Patient lists: checked on upload through the API, or by the ingest
//! function when the frontend puts the file straight into the blob store.
//! Rows are checked as they are read, then looked up (PDS, NHS App, failure
//! history) where ports are configured, and written to the checked-list
//! artifact one line at a time.

use std::time::Duration;

use cqrs_es::persist::PersistedEventRepository;
use events::Channel;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{keys, Batchbook, BatchbookError, Caller, IdempotencyKey};
use crate::lists::{
    artifact_rows, CheckedRow, ClinicalSystem, Column, ListChecker, ListCounts, ListError,
    ListReader, ListSummary, NotContactableReason, Outcome,
};
use crate::policies::SendingWindow;
use crate::ports::{recipient_fingerprint, DemographicsError, PortError};
use crate::usecases::reports::neutralise_formula;
use crate::values::{one_line, text, NhsNumber, OrganisationId, UkMobile};

/// How long a presigned upload URL stays valid.
const UPLOAD_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The ingest function records its progress every this many rows.
const PROGRESS_EVERY: u64 = 5_000;
/// A mobile whose messages failed within this many months is "likely to fail".
const LIKELY_TO_FAIL_MONTHS: u32 = 3;

/// An organisation's choices about its lists and its sending.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganisationSettings {
    /// Refuse mobiles whose messages from this organisation failed for good
    /// in the last 3 months, as `mobile_likely_to_fail`.
    #[serde(default)]
    pub flag_mobiles_likely_to_fail: bool,
    /// When SMS and NHS App messages may leave (08:00 to 20:00
    /// Europe/London unless changed).
    #[serde(default)]
    pub sending_window: SendingWindow,
    /// How patients reach the practice: shown on a link that was withdrawn,
    /// has expired or is locked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<PracticeContact>,
    /// Other organisations' sites (ids in the appointment book, such as a
    /// shared hub) Self-Book invites may book into.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_sites: Vec<String>,
}

impl OrganisationSettings {
    /// The settings as they are kept: each text trimmed, or the field that
    /// cannot be kept named with the reason.
    pub fn checked(mut self) -> Result<Self, String> {
        self.sending_window = self.sending_window.check().map_err(|e| e.to_string())?;
        if let Some(contact) = self.contact.take() {
            self.contact = Some(contact.checked()?);
        }
        if self.other_sites.len() > text::MAX_OTHER_SITES {
            return Err(format!(
                "other_sites: at most {} sites",
                text::MAX_OTHER_SITES
            ));
        }
        let mut sites = Vec::with_capacity(self.other_sites.len());
        for (n, site) in self.other_sites.iter().enumerate() {
            let site = one_line(site, text::BOOK_ID_CHARS)
                .map_err(|e| format!("other_sites[{n}]: {e}"))?;
            if site.is_empty() {
                return Err(format!("other_sites[{n}]: give the site's id"));
            }
            if sites.iter().any(|s: &String| s == site) {
                return Err(format!("other_sites[{n}]: \"{site}\" is listed twice"));
            }
            sites.push(site.to_owned());
        }
        self.other_sites = sites;
        Ok(self)
    }
}

impl PracticeContact {
    /// Shown to patients on withdrawn, expired and locked links, so each
    /// part is checked: a name, a phone number of digits, and a website
    /// that is a web address (never `javascript:` or the like).
    pub fn checked(self) -> Result<Self, String> {
        let name = one_line(&self.name, text::CONTACT_NAME_CHARS)
            .map_err(|e| format!("contact.name: {e}"))?;
        if name.is_empty() {
            return Err("contact.name: give the name patients know the practice by".into());
        }
        if name.contains(['<', '>']) {
            return Err("contact.name: may not contain < or >".into());
        }
        let phone = match self.phone.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(phone) => {
                one_line(phone, text::CONTACT_PHONE_CHARS)
                    .map_err(|e| format!("contact.phone: {e}"))?;
                let allowed = |c: char| c.is_ascii_digit() || " +()-".contains(c);
                if !phone.chars().all(allowed)
                    || phone.chars().filter(char::is_ascii_digit).count() < 3
                {
                    return Err(
                        "contact.phone: write the number with digits, spaces and + ( ) - only, such as 01632 960000".into(),
                    );
                }
                Some(phone.to_owned())
            }
        };
        let website = match self.website.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(website) => {
                one_line(website, text::WEBSITE_CHARS)
                    .map_err(|e| format!("contact.website: {e}"))?;
                let web = url::Url::parse(website)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
                if web.is_none() {
                    return Err(
                        "contact.website: must be an http or https address, such as https://riverside.example".into(),
                    );
                }
                Some(website.to_owned())
            }
        };
        Ok(Self {
            name: name.to_owned(),
            phone,
            website,
        })
    }
}

/// How patients reach the practice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeContact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

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
            .check_and_store(org, &list_id, &csv, system, false)
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
        match self
            .check_and_store(&org, &list_id, &csv, None, true)
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
        org: &OrganisationId,
        list_id: &str,
        csv: &[u8],
        system: Option<ClinicalSystem>,
        record_progress: bool,
    ) -> Result<Result<ListSummary, ListError>, BatchbookError> {
        let today = self.ports.clock.now().date_naive();
        let settings = self.settings_of(org).await?;
        let mut checker = match ListChecker::open(csv, system, today) {
            Ok(checker) => checker,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let mobile_column = Column::Mobile.label(checker.system());
        let mut artifact = Vec::with_capacity(csv.len() * 2);
        let mut counts = ListCounts::default();
        loop {
            let mut row = match checker.next_row() {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(refusal) => return Ok(Err(refusal)),
            };
            self.look_up(org, &settings, mobile_column, &mut row)
                .await?;
            counts.add(&row);
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
        // The summary goes last: a list exists once its summary does.
        self.put_json(&keys::summary(org, list_id), &summary)
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
            match pds.lookup(&nhs).await {
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

    async fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), PortError> {
        let bytes = serde_json::to_vec(value).map_err(|e| PortError::new("blob", e))?;
        self.ports.blobs.put(key, bytes).await
    }

    pub(super) async fn get_json<T: serde::de::DeserializeOwned>(
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

    pub(super) async fn settings_of(
        &self,
        org: &OrganisationId,
    ) -> Result<OrganisationSettings, PortError> {
        Ok(self
            .get_json(&keys::settings(org))
            .await?
            .unwrap_or_default())
    }

    /// The caller's organisation's settings.
    pub async fn settings(&self, caller: &Caller) -> Result<OrganisationSettings, BatchbookError> {
        Ok(self.settings_of(&caller.organisation_id).await?)
    }

    /// Replaces the caller's organisation's settings.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id, actor = %caller.actor))]
    pub async fn update_settings(
        &self,
        caller: &Caller,
        settings: OrganisationSettings,
    ) -> Result<OrganisationSettings, BatchbookError> {
        let settings = settings.checked().map_err(BatchbookError::InvalidRequest)?;
        self.put_json(&keys::settings(&caller.organisation_id), &settings)
            .await?;
        tracing::info!(
            flag_mobiles_likely_to_fail = settings.flag_mobiles_likely_to_fail,
            opens = %settings.sending_window.opens,
            closes = %settings.sending_window.closes,
            time_zone = %settings.sending_window.time_zone,
            "organisation settings changed"
        );
        Ok(settings)
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

    /// The not-contactable patients as staff uploaded them: every uploaded
    /// column, then Reason.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn not_contactable_csv(
        &self,
        caller: &Caller,
        list_id: &str,
    ) -> Result<Vec<u8>, BatchbookError> {
        self.list_summary(caller, list_id).await?;
        self.upload_report(&caller.organisation_id, list_id, &["Reason"], |row| {
            row.reason.map(|reason| vec![reason.as_str().to_owned()])
        })
        .await
    }

    /// A report in the list's own columns, so it can be uploaded again as
    /// it is: each row `pick` keeps, with the values of `extra` columns
    /// (which replace columns of the same name, or are added at the end).
    /// Cells a spreadsheet would run as formulas are neutralised. Built by
    /// reading the upload and the checked list side by side, one row at a
    /// time.
    pub(super) async fn upload_report(
        &self,
        org: &OrganisationId,
        list_id: &str,
        extra: &[&str],
        mut pick: impl FnMut(&CheckedRow) -> Option<Vec<String>>,
    ) -> Result<Vec<u8>, BatchbookError> {
        let missing = || PortError("the list's upload or checked rows are missing".into());
        let upload = match self
            .ports
            .blobs
            .get(&keys::kept_upload(org, list_id))
            .await?
        {
            Some(kept) => kept,
            None => self
                .ports
                .blobs
                .get(&keys::upload(org, list_id))
                .await?
                .ok_or_else(missing)?,
        };
        let checked = self
            .ports
            .blobs
            .get(&keys::checked(org, list_id))
            .await?
            .ok_or_else(missing)?;
        let unreadable = |e: ListError| PortError::new("stored upload", e.code());
        let mut reader = ListReader::open(&upload[..]).map_err(unreadable)?;
        let write_err = |e: csv::Error| PortError::new("report", e);
        let mut header: Vec<String> = reader
            .headers()
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_owned())
            .collect();
        let width = header.len();
        // Where each extra column goes: over a column of its name, else at the end.
        let places: Vec<usize> = extra
            .iter()
            .map(|name| {
                header
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(name))
                    .unwrap_or_else(|| {
                        header.push((*name).to_owned());
                        header.len() - 1
                    })
            })
            .collect();
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record(header.iter().map(|h| neutralise_formula(h).into_owned()))
            .map_err(write_err)?;
        let mut rows = artifact_rows(&checked);
        while let Some(record) = reader.next_record().map_err(unreadable)? {
            let row = rows
                .next()
                .ok_or_else(missing)?
                .map_err(|e| PortError::new("list artifact", e))?;
            if row.row != record.row {
                return Err(PortError("the checked rows do not match the upload".into()).into());
            }
            let Some(values) = pick(&row) else { continue };
            let mut cells = record.cells(width);
            cells.resize(header.len(), String::new());
            for (place, value) in places.iter().zip(values) {
                cells[*place] = value;
            }
            out.write_record(cells.iter().map(|c| neutralise_formula(c).into_owned()))
                .map_err(write_err)?;
        }
        Ok(out
            .into_inner()
            .map_err(|e| PortError::new("report", e.error()))?)
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
