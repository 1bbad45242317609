//! Reports staff download, built from the read models and the list artifact.

use std::collections::{HashMap, HashSet};

use cqrs_es::persist::PersistedEventRepository;

use super::{keys, Batchbook, BatchbookError, Caller};
use crate::aggregates::invite::InviteStatus;
use crate::lists::{artifact_rows, CheckedRow};
use crate::lists::{ListError, ListReader};
use crate::ports::PortError;
use crate::projection::{BatchSummary, DeliveryRow};
use crate::values::OrganisationId;
use crate::values::UkMobile;

/// A cell a spreadsheet would run as a formula gets a leading apostrophe.
pub fn neutralise_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// How long a report's download link stays valid.
const REPORT_URL_LIFETIME: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// A report, ready to hand to staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Download {
    /// The file itself.
    Inline(Vec<u8>),
    /// A short-lived link to the file in the blob store (S3), for reports
    /// too large to pass through the API.
    Link(String),
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// The failed-to-deliver report, as a link where the blob store gives
    /// them, else inline.
    pub async fn failed_to_deliver_download(
        &self,
        caller: &Caller,
        batch_id: &str,
    ) -> Result<Download, BatchbookError> {
        let csv = self.failed_to_deliver_csv(caller, batch_id).await?;
        self.offer(caller, &format!("{batch_id}/failed-to-deliver"), csv)
            .await
    }

    /// A list's not-contactable patients, as a link or inline.
    pub async fn not_contactable_download(
        &self,
        caller: &Caller,
        list_id: &str,
    ) -> Result<Download, BatchbookError> {
        let csv = self.not_contactable_csv(caller, list_id).await?;
        self.offer(caller, &format!("lists/{list_id}/not-contactable"), csv)
            .await
    }

    /// Stores a report under a fresh name and links to it, where the blob
    /// store gives links; else hands the file over.
    pub(super) async fn offer(
        &self,
        caller: &Caller,
        name: &str,
        csv: Vec<u8>,
    ) -> Result<Download, BatchbookError> {
        let key = keys::report(
            &caller.organisation_id,
            &format!("{name}-{}.csv", uuid::Uuid::new_v4()),
        );
        match self
            .ports
            .blobs
            .presigned_get(&key, REPORT_URL_LIFETIME)
            .await?
        {
            Some(link) => {
                self.ports.blobs.put(&key, csv).await?;
                Ok(Download::Link(link))
            }
            None => Ok(Download::Inline(csv)),
        }
    }

    /// The list's rows for `wanted`, read from the artifact in one pass
    /// (and not at all when nothing is wanted).
    pub(in crate::usecases) async fn patients_by_row(
        &self,
        summary: &BatchSummary,
        wanted: HashSet<u64>,
    ) -> Result<HashMap<u64, CheckedRow>, PortError> {
        let mut patients = HashMap::new();
        if wanted.is_empty() {
            return Ok(patients);
        }
        let artifact = self
            .ports
            .blobs
            .get(&summary.artifact_key)
            .await?
            .ok_or_else(|| PortError("the batch's list artifact is missing".into()))?;
        for row in artifact_rows(&artifact) {
            let row = row.map_err(|e| PortError::new("list artifact", e))?;
            if wanted.contains(&row.row) {
                patients.insert(row.row, row);
            }
        }
        Ok(patients)
    }

    /// A questionnaire batch's answers, as a link or inline.
    pub async fn responses_download(
        &self,
        caller: &Caller,
        batch_id: &str,
    ) -> Result<Download, BatchbookError> {
        let csv = self.responses_csv(caller, batch_id).await?;
        self.offer(caller, &format!("{batch_id}/responses"), csv)
            .await
    }

    /// A questionnaire batch's answers: NHS Number, Answered At, then one
    /// column per question (by id), one row per patient who answered.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id, batch_id))]
    pub async fn responses_csv(
        &self,
        caller: &Caller,
        batch_id: &str,
    ) -> Result<Vec<u8>, BatchbookError> {
        let summary = self.batch(caller, batch_id).await?;
        let questionnaire = summary.questionnaire.ok_or_else(|| {
            BatchbookError::InvalidRequest("this batch sent no questionnaire".into())
        })?;
        let answered: Vec<DeliveryRow> = self
            .ports
            .views
            .deliveries(batch_id)
            .await?
            .into_iter()
            .filter(|d| d.answered_at.is_some())
            .collect();
        let patients = self
            .patients_by_row(&summary, answered.iter().map(|d| d.row).collect())
            .await?;
        let questions = crate::florey::questions(questionnaire);
        let mut out = csv::Writer::from_writer(Vec::new());
        let write_err = |e: csv::Error| PortError::new("responses report", e);
        let header = ["NHS Number", "Answered At"]
            .into_iter()
            .chain(questions.iter().map(|q| q.id));
        out.write_record(header).map_err(write_err)?;
        for delivery in &answered {
            let nhs = patients
                .get(&delivery.row)
                .and_then(|p| p.nhs_number.as_deref())
                .unwrap_or("");
            let at = delivery
                .answered_at
                .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            let answers = questions.iter().map(|q| {
                neutralise_formula(delivery.answers.get(q.id).map_or("", String::as_str))
                    .into_owned()
            });
            let record = [neutralise_formula(nhs).into_owned(), at]
                .into_iter()
                .chain(answers);
            out.write_record(record).map_err(write_err)?;
        }
        out.into_inner()
            .map_err(|e| PortError::new("responses report", e.error()).into())
    }

    /// The batch's failed-to-deliver list: NHS Number, Email Address,
    /// Mobile, Channel, Reason. A patient whose NHS App message fell back
    /// to SMS is listed by the channel that failed last.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id, batch_id))]
    pub async fn failed_to_deliver_csv(
        &self,
        caller: &Caller,
        batch_id: &str,
    ) -> Result<Vec<u8>, BatchbookError> {
        let summary = self.batch(caller, batch_id).await?;
        let failed = self.ports.views.failed_deliveries(batch_id).await?;
        let patients = self
            .patients_by_row(&summary, failed.iter().map(|f| f.row).collect())
            .await?;
        let mut out = csv::Writer::from_writer(Vec::new());
        let write_err = |e: csv::Error| PortError::new("failed-to-deliver report", e);
        out.write_record(["NHS Number", "Email Address", "Mobile", "Channel", "Reason"])
            .map_err(write_err)?;
        for delivery in failed {
            let patient = patients.get(&delivery.row);
            let nhs = patient.and_then(|p| p.nhs_number.as_deref()).unwrap_or("");
            let email = patient.and_then(|p| p.email.as_deref()).unwrap_or("");
            let mobile = patient
                .and_then(|p| p.mobile.as_deref())
                .and_then(|m| UkMobile::parse(m).ok())
                .map(|m| m.national())
                .unwrap_or_default();
            out.write_record([
                neutralise_formula(nhs).as_ref(),
                neutralise_formula(email).as_ref(),
                neutralise_formula(&mobile).as_ref(),
                delivery.channel.as_str(),
                delivery.reason.as_deref().unwrap_or(""),
            ])
            .map_err(write_err)?;
        }
        out.into_inner()
            .map_err(|e| PortError::new("failed-to-deliver report", e.error()).into())
    }

    /// The booked patients (`booked`) or the patients invited who have not
    /// booked, in the columns of the uploaded list plus Status (and, for
    /// the booked, Appointment, in practice time): a file that can be
    /// uploaded again, unchanged, as a new list.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id, batch_id))]
    pub async fn self_book_csv(
        &self,
        caller: &Caller,
        batch_id: &str,
        booked: bool,
    ) -> Result<Vec<u8>, BatchbookError> {
        let summary = self.batch(caller, batch_id).await?;
        if summary.kind != Some(events::BatchKind::SelfBook) {
            return Err(BatchbookError::InvalidRequest(
                "this batch sent no Self-Book invites".into(),
            ));
        }
        let rows: std::collections::HashMap<u64, crate::projection::DeliveryRow> = self
            .ports
            .views
            .deliveries(batch_id)
            .await?
            .into_iter()
            .filter(|d| d.first_sent_at.is_some())
            .map(|d| (d.row, d))
            .collect();
        let extra: &[&str] = if booked {
            &["Status", "Appointment"]
        } else {
            &["Status"]
        };
        self.upload_report(
            &caller.organisation_id,
            &summary.list_id,
            extra,
            |checked| {
                let invite = rows.get(&checked.row)?.invite.as_ref();
                let status = invite.map_or(InviteStatus::Open, |i| i.status);
                if (status == InviteStatus::Booked) != booked {
                    return None;
                }
                let appointment = invite
                    .and_then(|i| i.appointment_at)
                    .map(|at| {
                        at.with_timezone(&chrono_tz::Europe::London)
                            .format("%Y-%m-%d %H:%M")
                            .to_string()
                    })
                    .unwrap_or_default();
                Some(vec![status.label().to_owned(), appointment])
            },
        )
        .await
    }

    /// The booked or not-booked report, as a link or inline.
    pub async fn self_book_download(
        &self,
        caller: &Caller,
        batch_id: &str,
        booked: bool,
    ) -> Result<super::Download, BatchbookError> {
        let csv = self.self_book_csv(caller, batch_id, booked).await?;
        let name = if booked { "booked" } else { "not-booked" };
        self.offer(caller, &format!("{batch_id}/{name}"), csv).await
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
    pub(in crate::usecases) async fn upload_report(
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(
            neutralise_formula("=HYPERLINK(\"x\")"),
            "'=HYPERLINK(\"x\")"
        );
        assert_eq!(neutralise_formula("+447700100123"), "'+447700100123");
        assert_eq!(neutralise_formula("9434765919"), "9434765919");
    }
}
