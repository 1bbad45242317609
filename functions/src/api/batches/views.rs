//! The read side of batches: one batch in full, and the "Batch Messages"
//! list, newest first, a page at a time.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use domain::aggregates::{BatchStatus, InviteStatus};
use domain::projection::BatchSummary;
use domain::usecases::BatchFilter;
use events::{BatchKind, Questionnaire};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

use super::super::body::StrictQuery;
use super::super::selfbook::SelfBookRequest;
use super::super::{user, ApiState, Authenticated, Problem, UserResponse};

/// One day of a staggered send.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct StaggerDayResponse {
    /// 1 for the first day.
    pub day: u32,
    /// When that day's messages start.
    pub starts_at: DateTime<Utc>,
    /// How many patients are sent to that day.
    pub patients: u64,
}

pub(super) fn stagger_days(days: Vec<events::StaggerDay>) -> Vec<StaggerDayResponse> {
    days.into_iter()
        .map(|d| StaggerDayResponse {
            day: d.day,
            starts_at: d.starts_at,
            patients: d.recipients,
        })
        .collect()
}

/// A batch: what it sends, to whom, how it was set up, who made it, and
/// where it has got to. Every command on a batch answers with this, as it
/// stands after the command.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    /// The batch's id, for every other batch route.
    pub batch_id: String,
    /// What staff call it.
    pub name: String,
    /// What kind of batch: a message, a Florey questionnaire, the inhaler
    /// series or Self-Book (an attachment batch is a `simple_message` with
    /// an `attachment`).
    pub kind: BatchKind,
    /// Where it has got to. Saving: the messages sent are being saved to
    /// patients' records.
    pub status: BatchStatusName,
    /// The checked list it sends to.
    pub list_id: String,
    /// The message as staff wrote it, placeholders (`((name))`, `((link))`)
    /// and all.
    pub message: String,
    /// The template the message was copied from, when it was.
    pub from_template: Option<TemplateUsedResponse>,
    /// Who created it; absent for batches made before users were known.
    pub created_by: Option<UserResponse>,
    /// When it was created.
    pub created_at: Option<DateTime<Utc>>,
    /// Patients and their outcomes so far.
    pub counts: BatchCounts,
    /// When a scheduled batch starts sending.
    pub send_at: Option<DateTime<Utc>>,
    /// When it started sending.
    pub started_at: Option<DateTime<Utc>>,
    /// When every patient's message had its outcome.
    pub completed_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When the last record was saved.
    pub saved_at: Option<DateTime<Utc>>,
    /// The subject of its emails.
    pub email_subject: Option<String>,
    /// The SNOMED CT concept saved to each patient's record.
    pub snomed_code: Option<String>,
    /// The days of a staggered send: empty when it sends at once.
    pub stagger: Vec<StaggerDayResponse>,
    /// The Florey questionnaire the batch links to, if any.
    pub questionnaire: Option<Questionnaire>,
    /// The file each patient's link opens, if any.
    pub attachment: Option<BatchAttachment>,
    /// What a Self-Book batch's links book, as it was set up.
    pub self_book: Option<SelfBookRequest>,
    /// When staff revoked every link of the batch.
    pub links_revoked_at: Option<DateTime<Utc>>,
}

/// The template a batch's message was copied from, as it was then.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct TemplateUsedResponse {
    /// The template's id (it may since have been edited or deleted).
    pub template_id: String,
    /// Which version of the template was copied: 1 when created, one more
    /// with each edit.
    pub version: u32,
    /// The template's name then.
    pub name: String,
}

/// The file a batch's links open.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct BatchAttachment {
    /// Its id; `GET /v1/attachments/{attachment_id}` returns the file.
    pub attachment_id: String,
    /// The name patients' browsers save it under.
    pub file_name: String,
    /// `application/pdf`, `image/png` or `image/jpeg`, from its bytes.
    pub content_type: String,
    /// In bytes.
    pub size: u64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

/// A batch's patients and their outcomes so far.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct BatchCounts {
    /// Rows on the patient list.
    pub patient_list: u64,
    /// Patients the batch is sent to.
    pub recipients: u64,
    /// Sent, with no final outcome yet.
    pub awaiting_receipt: u64,
    /// Delivered by SMS or NHS App (emails are never counted here).
    pub delivered: u64,
    /// Emails delivered.
    pub emails_delivered: u64,
    /// Patients without a valid mobile number.
    pub without_valid_mobile: u64,
    /// Messages that failed to deliver.
    pub failed_to_deliver: u64,
    /// Messages saved to the patient's record, with the SNOMED CT code.
    pub saved_to_record: u64,
    /// Messages the clinical system would not take (for example, the
    /// patient is no longer registered).
    pub not_saved_to_record: u64,
    /// Patients who answered the questionnaire.
    pub answered: u64,
    /// Patients who opened the attachment.
    pub opened_attachment: u64,
    /// For a Self-Book batch, its invites by status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invites: Option<InviteCounts>,
}

/// A Self-Book batch's invites by status.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct InviteCounts {
    /// Sent; nothing chosen yet.
    pub open: u64,
    /// A time is chosen and the appointment book is being asked.
    pub pending: u64,
    /// Booked in the appointment book.
    pub booked: u64,
    /// The book refused the time chosen; the patient may choose another.
    pub failed: u64,
    /// The patient said "I don't want this".
    pub declined: u64,
    /// The patient cancelled their booking.
    pub cancelled: u64,
    /// The link expired with nothing booked.
    pub timed_out: u64,
}

impl From<BTreeMap<InviteStatus, u64>> for InviteCounts {
    fn from(counts: BTreeMap<InviteStatus, u64>) -> Self {
        let count = |status| counts.get(&status).copied().unwrap_or_default();
        Self {
            open: count(InviteStatus::Open),
            pending: count(InviteStatus::Pending),
            booked: count(InviteStatus::Booked),
            failed: count(InviteStatus::Failed),
            declined: count(InviteStatus::Declined),
            cancelled: count(InviteStatus::Cancelled),
            timed_out: count(InviteStatus::TimedOut),
        }
    }
}

/// A batch's status as staff see it: Draft (created, not sent),
/// Scheduled, Sending, Done (every message has its outcome), Cancelled,
/// Saving (to patients' records) and Saved.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub enum BatchStatusName {
    Draft,
    Scheduled,
    Sending,
    Done,
    Cancelled,
    Saving,
    Saved,
}

impl From<BatchStatus> for BatchStatusName {
    fn from(status: BatchStatus) -> Self {
        match status {
            // A batch that has no events is never shown (`batch` answers
            // 404 for it); were one read, it would be a draft to be.
            BatchStatus::Absent | BatchStatus::Draft => Self::Draft,
            BatchStatus::Scheduled => Self::Scheduled,
            BatchStatus::Sending => Self::Sending,
            BatchStatus::Done => Self::Done,
            BatchStatus::Cancelled => Self::Cancelled,
            BatchStatus::Saving => Self::Saving,
            BatchStatus::Saved => Self::Saved,
        }
    }
}

impl From<BatchStatusName> for BatchStatus {
    fn from(status: BatchStatusName) -> Self {
        match status {
            BatchStatusName::Draft => Self::Draft,
            BatchStatusName::Scheduled => Self::Scheduled,
            BatchStatusName::Sending => Self::Sending,
            BatchStatusName::Done => Self::Done,
            BatchStatusName::Cancelled => Self::Cancelled,
            BatchStatusName::Saving => Self::Saving,
            BatchStatusName::Saved => Self::Saved,
        }
    }
}

fn counts(s: &BatchSummary) -> BatchCounts {
    BatchCounts {
        patient_list: s.patient_count,
        recipients: s.recipient_count,
        awaiting_receipt: s.awaiting_receipt_count,
        delivered: s.delivered_count,
        emails_delivered: s.email_delivered_count,
        without_valid_mobile: s.without_valid_mobile_count,
        failed_to_deliver: s.failed_count,
        saved_to_record: s.saved_to_record_count,
        not_saved_to_record: s.not_saved_to_record_count,
        answered: s.answered_count,
        opened_attachment: s.attachment_opened_count,
        invites: (s.kind == Some(events::BatchKind::SelfBook)).then(|| s.invite_counts().into()),
    }
}

impl From<BatchSummary> for BatchResponse {
    fn from(s: BatchSummary) -> Self {
        Self {
            counts: counts(&s),
            kind: s.kind.unwrap_or(BatchKind::SimpleMessage),
            message: s.message,
            from_template: s.from_template.map(|t| TemplateUsedResponse {
                template_id: t.template_id,
                version: t.version,
                name: t.name,
            }),
            created_by: user(s.created_by, s.created_by_name),
            created_at: s.created_at,
            cancelled_at: s.cancelled_at,
            self_book: s.self_book.map(Into::into),
            batch_id: s.batch_id,
            name: s.name,
            status: s.status.into(),
            list_id: s.list_id,
            send_at: s.send_at,
            started_at: s.started_at,
            completed_at: s.completed_at,
            saved_at: s.saved_at,
            email_subject: s.email_subject,
            snomed_code: s.snomed_code,
            stagger: stagger_days(s.stagger),
            questionnaire: s.questionnaire,
            attachment: s.attachment.map(|a| BatchAttachment {
                attachment_id: a.attachment_id,
                file_name: a.file_name,
                content_type: a.content_type,
                size: a.size,
                sha256: a.sha256,
            }),
            links_revoked_at: s.links_revoked_at,
        }
    }
}

/// A batch as the "Batch Messages" list shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchListEntry {
    /// Open it in full with `GET /v1/batches/{batch_id}` ("View details").
    pub batch_id: String,
    /// What staff call it.
    pub name: String,
    /// What kind of batch it is.
    pub kind: BatchKind,
    /// Where it has got to.
    pub status: BatchStatusName,
    /// Who created it; absent for batches made before users were known.
    pub created_by: Option<UserResponse>,
    /// When it was created.
    pub created_at: Option<DateTime<Utc>>,
    /// When a scheduled batch starts sending.
    pub send_at: Option<DateTime<Utc>>,
    /// The days of a staggered send: empty when it sends at once.
    pub stagger: Vec<StaggerDayResponse>,
    /// Patients and their outcomes so far.
    pub counts: BatchCounts,
}

impl From<BatchSummary> for BatchListEntry {
    fn from(s: BatchSummary) -> Self {
        Self {
            counts: counts(&s),
            kind: s.kind.unwrap_or(BatchKind::SimpleMessage),
            created_by: user(s.created_by, s.created_by_name),
            created_at: s.created_at,
            send_at: s.send_at,
            stagger: stagger_days(s.stagger),
            batch_id: s.batch_id,
            name: s.name,
            status: s.status.into(),
        }
    }
}

/// One page of batches, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchPage {
    /// At most `limit` of them.
    pub batches: Vec<BatchListEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// Which batches to list. Every filter given must match.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BatchListParams {
    /// Only batches with this status.
    #[serde(default)]
    #[param(inline)]
    pub status: Option<BatchStatusName>,
    /// Only batches of this kind.
    #[serde(default)]
    #[param(inline)]
    pub kind: Option<BatchKind>,
    /// Only batches this user created (their `user_id`).
    #[serde(default)]
    pub created_by: Option<String>,
    /// Only batches created at or after this time.
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// Only batches created before this time.
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
    /// The `next` of the page before.
    #[serde(default)]
    pub cursor: Option<String>,
    /// How many to a page: 1 to 100; 25 when left out.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
}

/// The organisation's batches, newest first: the "Batch Messages" page.
#[utoipa::path(
    get, path = "/v1/batches", tag = "batches",
    params(BatchListParams),
    responses(
        (status = 200, body = BatchPage),
        (status = 400, description = "An unknown query parameter, or a bad status, kind or time", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A cursor this API did not give, a limit outside 1 to 100, or `from` not before `to`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_batches<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    StrictQuery(params): StrictQuery<BatchListParams>,
) -> Result<Json<BatchPage>, Problem> {
    let filter = BatchFilter {
        status: params.status.map(Into::into),
        kind: params.kind,
        created_by: params.created_by,
        from: params.from,
        to: params.to,
    };
    let page = state
        .app
        .batches(&caller, filter, params.cursor.as_deref(), params.limit)
        .await?;
    Ok(Json(BatchPage {
        batches: page.items.into_iter().map(Into::into).collect(),
        next: page.next,
    }))
}

/// A batch in full: its message, the template it came from, its set-up,
/// who made it, its status and counts.
#[utoipa::path(
    get, path = "/v1/batches/{batch_id}", tag = "batches",
    params(("batch_id" = String, Path, description = "The batch's id")),
    responses(
        (status = 200, body = BatchResponse),
    )
)]
pub async fn get_batch<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
) -> Result<Json<BatchResponse>, Problem> {
    Ok(Json(state.app.batch(&caller, &batch_id).await?.into()))
}
