//! Batch messages: create, send, read, cancel, and the failed-to-deliver report.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use domain::aggregates::{BatchStatus, InviteStatus};
use domain::content::BatchContent;
use domain::policies::{SendPlan, SendStart};
use domain::projection::BatchSummary;
use domain::template::SmsEncoding;
use domain::usecases::{Content, CreateBatch, RevokeScope};
use domain::values::NhsNumber;
use events::Questionnaire;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::body::{JsonBody, NoBody, OptionalJsonBody};
use super::{csv_download, ApiState, Authenticated, IdempotencyKeyHeader, Problem};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBatchRequest {
    /// What staff call this batch: one line, at most 100 characters.
    pub name: String,
    /// A list uploaded with `POST /v1/lists`.
    pub list_id: String,
    /// The message: SMS and NHS App text, and the body of emails.
    /// `((name))` becomes the patient's given name. At most 918 characters
    /// once filled in.
    pub message: String,
    /// Needed when any patient on the list has an email address. One
    /// line, at most 200 characters.
    #[serde(default)]
    pub email_subject: Option<String>,
    /// The SNOMED CT concept saved to each patient's record, e.g. `73211009`.
    #[serde(default)]
    pub snomed_code: Option<String>,
    /// Makes this a Florey questionnaire batch: each patient's message
    /// carries their own link (`((link))`, which the message must contain)
    /// to this questionnaire, valid 7 days (4 for `blood_pressure_4_day`),
    /// with reminders on days 3 and 6 while unanswered.
    #[serde(default)]
    #[schema(example = "blood_pressure_7_day")]
    pub questionnaire: Option<Questionnaire>,
    /// Makes this the inhaler-adherence series: this message, then 22 more
    /// texts over 26 weeks (two or three a week at first, then about two a
    /// month), by SMS only to the patients with a mobile. Stop it for one
    /// patient with `POST /v1/batches/{batch_id}/series/stop`.
    #[serde(default)]
    pub inhaler_series: bool,
    /// An attachment uploaded with `POST /v1/attachments`: each patient's
    /// message carries their own link (`((link))`, which the message must
    /// contain) that opens it after a date-of-birth check, for 30 days.
    /// Not with a questionnaire or the inhaler series.
    #[serde(default)]
    pub attachment_id: Option<String>,
    /// Makes this a Batch Self-Book: each patient's message carries their
    /// own link (`((link))`, which the message must contain) to book one
    /// appointment as configured here, or decline it. SMS only, to the
    /// patients with a mobile, in at most 2 text message fragments; check
    /// availability first (`POST /v1/self-book/availability`): an invite
    /// with nothing bookable is refused.
    #[serde(default)]
    pub self_book: Option<super::selfbook::SelfBookRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub list_id: String,
    pub message: String,
    #[serde(default)]
    pub email_subject: Option<String>,
    /// As for creating: the length counts the link in.
    #[serde(default)]
    #[schema(example = "smoking_status")]
    pub questionnaire: Option<Questionnaire>,
    /// As for creating: everyone with a mobile gets a text, nobody an email.
    #[serde(default)]
    pub inhaler_series: bool,
    /// As for creating: the length counts the link in.
    #[serde(default)]
    pub attachment_id: Option<String>,
    /// As for creating: SMS only, at most 2 fragments, the link counted in.
    #[serde(default)]
    pub self_book: Option<super::selfbook::SelfBookRequest>,
    /// Show how a stagger over this many days (1 to 28) would split the
    /// patients.
    #[serde(default)]
    pub stagger_days: Option<u32>,
    /// With `stagger_days`: the stagger starts then (in the future, within
    /// a year) instead of now.
    #[serde(default)]
    pub send_at: Option<DateTime<Utc>>,
}

/// What staff see before sending.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PreviewResponse {
    /// Any character outside the GSM alphabet (such as the Welsh ŵ) makes
    /// the whole message UCS-2.
    pub encoding: SmsEncoding,
    /// The longest the text can be once filled in for this list.
    pub characters: usize,
    /// Text message fragments: 160 then 153 each in GSM-7; 70 then 67 in UCS-2.
    pub fragments: usize,
    pub email_recipients: u64,
    pub nhs_app_recipients: u64,
    pub sms_recipients: u64,
    pub stagger: Vec<StaggerDayResponse>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct StaggerDayResponse {
    pub day: u32,
    pub starts_at: DateTime<Utc>,
    pub patients: u64,
}

fn stagger_days(days: Vec<events::StaggerDay>) -> Vec<StaggerDayResponse> {
    days.into_iter()
        .map(|d| StaggerDayResponse {
            day: d.day,
            starts_at: d.starts_at,
            patients: d.recipients,
        })
        .collect()
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedBatch {
    pub batch_id: String,
}

/// When to send. Exactly one of `now` and `send_at`, so that a misspelt
/// time is never read as "now":
///
/// | body | sends |
/// | --- | --- |
/// | empty, or `{"now": true}` | to every patient now |
/// | `{"send_at": "2027-03-01T09:00:00Z"}` | to every patient then (in the future, within a year) |
/// | `{"now": true, "stagger_days": 5}` | spread over 5 days (1 to 28), from now |
/// | `{"send_at": "…", "stagger_days": 5}` | spread over 5 days, from then |
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// `true`: start sending now. Only `true` is a value here.
    #[serde(default)]
    pub now: Option<bool>,
    /// Start sending at this time instead: in the future, within a year.
    #[serde(default)]
    pub send_at: Option<DateTime<Utc>>,
    /// Spread the patients evenly over this many days (1 to 28).
    #[serde(default)]
    pub stagger_days: Option<u32>,
}

impl SendRequest {
    /// The plan this body asks for; an empty body is "now".
    fn plan(self, empty: bool) -> Result<SendPlan, Problem> {
        let start = match (self.now, self.send_at) {
            (Some(true), None) => SendStart::Now,
            (None, Some(at)) => SendStart::At(at),
            (None, None) if empty => SendStart::Now,
            (Some(true), Some(_)) => {
                return Err(Problem::invalid_request(
                    "now and send_at: give one of them, not both",
                ))
            }
            (Some(false), _) => {
                return Err(Problem::invalid_request(
                    "now: only true is a value here; to schedule the send, leave now out and give send_at",
                ))
            }
            (None, None) => {
                return Err(Problem::invalid_request(
                    "say when to send: {\"now\": true}, or \"send_at\" with a time to come",
                ))
            }
        };
        Ok(SendPlan {
            start,
            stagger_days: self.stagger_days,
        })
    }
}

/// A batch's status and counts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    pub batch_id: String,
    pub name: String,
    /// Saving: the messages sent are being saved to patients' records.
    pub status: BatchStatusName,
    pub list_id: String,
    pub counts: BatchCounts,
    pub send_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// When the last record was saved.
    pub saved_at: Option<DateTime<Utc>>,
    pub email_subject: Option<String>,
    pub snomed_code: Option<String>,
    /// The days of a staggered send.
    pub stagger: Vec<StaggerDayResponse>,
    /// The Florey questionnaire the batch links to, if any.
    pub questionnaire: Option<Questionnaire>,
    /// The file each patient's link opens, if any.
    pub attachment: Option<BatchAttachment>,
    /// When staff revoked every link of the batch.
    pub links_revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct BatchAttachment {
    pub attachment_id: String,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

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
    pub booked: u64,
    /// The book refused the time chosen; the patient may choose another.
    pub failed: u64,
    pub declined: u64,
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

/// A batch's status as staff see it.
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

impl From<BatchSummary> for BatchResponse {
    fn from(s: BatchSummary) -> Self {
        Self {
            counts: BatchCounts {
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
                invites: (s.kind == Some(events::BatchKind::SelfBook))
                    .then(|| s.invite_counts().into()),
            },
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

/// The one kind of content a request's fields ask for.
fn content(
    questionnaire: Option<Questionnaire>,
    attachment_id: Option<String>,
    inhaler_series: bool,
    self_book: Option<super::selfbook::SelfBookRequest>,
) -> Result<BatchContent<String>, Problem> {
    BatchContent::from_fields(
        questionnaire,
        attachment_id,
        inhaler_series,
        self_book.map(Into::into),
    )
    .map_err(|e| Problem::invalid_request(e.to_string()))
}

/// Create an SMS batch from an uploaded list.
#[utoipa::path(
    post, path = "/v1/batches", tag = "batches",
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry with the same key to get the same batch")),
    request_body = CreateBatchRequest,
    responses(
        (status = 201, body = CreatedBatch),
        (status = 404, description = "No such list", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_batch<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    JsonBody(request): JsonBody<CreateBatchRequest>,
) -> Result<(StatusCode, Json<CreatedBatch>), Problem> {
    let content = content(
        request.questionnaire,
        request.attachment_id,
        request.inhaler_series,
        request.self_book,
    )?;
    let batch_id = state
        .app
        .create_batch(
            &caller,
            CreateBatch {
                name: request.name,
                list_id: request.list_id,
                template: request.message,
                email_subject: request.email_subject,
                snomed_code: request.snomed_code,
                content,
            },
            key.as_ref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedBatch { batch_id })))
}

/// The length of a message for a list (worst case over the list's names),
/// who gets it by which channel, and how a stagger would split the days.
#[utoipa::path(
    post, path = "/v1/batches/preview", tag = "batches",
    request_body = PreviewRequest,
    responses(
        (status = 200, body = PreviewResponse),
        (status = 404, description = "No such list", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn preview_batch<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<PreviewRequest>,
) -> Result<Json<PreviewResponse>, Problem> {
    let stagger = match (request.stagger_days, request.send_at) {
        (Some(days), at) => Some(SendPlan {
            start: at.map_or(SendStart::Now, SendStart::At),
            stagger_days: Some(days),
        }),
        (None, Some(_)) => return Err(Problem::invalid_request(
            "send_at: only with stagger_days; a preview shows the days of a stagger starting then",
        )),
        (None, None) => None,
    };
    let kind = content(
        request.questionnaire,
        request.attachment_id,
        request.inhaler_series,
        request.self_book,
    )?;
    let preview = state
        .app
        .preview_batch(
            &caller,
            &request.list_id,
            Content {
                template: &request.message,
                email_subject: request.email_subject.as_deref(),
                kind: &kind,
            },
            stagger,
        )
        .await?;
    Ok(Json(PreviewResponse {
        encoding: preview.sms.encoding,
        characters: preview.sms.characters,
        fragments: preview.sms.fragments,
        email_recipients: preview.email_recipients,
        nhs_app_recipients: preview.nhs_app_recipients,
        sms_recipients: preview.sms_recipients,
        stagger: stagger_days(preview.stagger),
    }))
}

/// A batch's status and counts.
#[utoipa::path(
    get, path = "/v1/batches/{batch_id}", tag = "batches",
    params(("batch_id" = String, Path)),
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

/// Send a batch now, or schedule it.
#[utoipa::path(
    post, path = "/v1/batches/{batch_id}/send", tag = "batches",
    params(("batch_id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Retry with the same key to get the first answer")),
    request_body(content = Option<SendRequest>, description = "Empty or `{\"now\": true}` to send now; `{\"send_at\": …}` to schedule; either with `stagger_days`"),
    responses(
        (status = 202, description = "Sending, or scheduled"),
        (status = 409, description = "Already sent, or cancelled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown field, neither or both of `now` and `send_at`, a `send_at` past or over a year away, or `stagger_days` outside 1 to 28", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn send_batch<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    OptionalJsonBody(request): OptionalJsonBody<Option<SendRequest>>,
) -> Result<StatusCode, Problem> {
    let empty = request.is_none();
    let plan = request.unwrap_or_default().plan(empty)?;
    state
        .app
        .send_batch(&caller, &batch_id, plan, key.as_ref())
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Cancel a batch that has not started sending, or a staggered batch before
/// its last day starts: messages not yet sent are never sent.
#[utoipa::path(
    post, path = "/v1/batches/{batch_id}/cancel", tag = "batches",
    params(("batch_id" = String, Path)),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cancel_batch<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
    _: NoBody,
) -> Result<StatusCode, Problem> {
    state.app.cancel_batch(&caller, &batch_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The patients whose message failed to deliver, as CSV.
#[utoipa::path(
    get, path = "/v1/batches/{batch_id}/failed-to-deliver.csv", tag = "batches",
    params(("batch_id" = String, Path)),
    responses(
        (status = 200, content_type = "text/csv", body = String, description = "NHS Number, Email Address, Mobile, Channel, Reason"),
        (status = 303, description = "On AWS: a short-lived link to the file, in `Location`"),
    )
)]
pub async fn failed_to_deliver<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    let download = state
        .app
        .failed_to_deliver_download(&caller, &batch_id)
        .await?;
    Ok(csv_download(
        download,
        &format!("failed-to-deliver-{batch_id}.csv"),
    ))
}

/// Whose links to revoke, said explicitly: `{"all": true}` for every link
/// the batch sent, or `{"nhs_number": "…"}` for one patient's. Anything
/// else is refused, so that no typo withdraws every link.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// `true`: every link the batch sent. Only `true` is a value here.
    #[serde(default)]
    pub all: Option<bool>,
    /// Only this patient's link.
    #[serde(default)]
    pub nhs_number: Option<String>,
}

impl RevokeRequest {
    fn scope(self) -> Result<RevokeScope, Problem> {
        match (self.all, self.nhs_number) {
            (Some(true), None) => Ok(RevokeScope::EveryLink),
            (None, Some(nhs)) => NhsNumber::parse(&nhs)
                .map(RevokeScope::Patient)
                .map_err(|e| Problem::invalid_request(format!("nhs_number: {e}"))),
            (Some(true), Some(_)) => Err(Problem::invalid_request(
                "all and nhs_number: give one of them, not both",
            )),
            (Some(false), _) => Err(Problem::invalid_request(
                "all: only true is a value here; to revoke one patient's link, leave all out and give nhs_number",
            )),
            (None, None) => Err(Problem::invalid_request(
                "say whose links to revoke: {\"all\": true} for every link of the batch, or {\"nhs_number\": \"…\"} for one patient's",
            )),
        }
    }
}

/// Revoke links for good: every link a batch sent, or one patient's. A
/// revoked link shows that it was withdrawn and how to contact the
/// practice; nothing re-activates it.
#[utoipa::path(
    post, path = "/v1/batches/{batch_id}/links/revoke", tag = "batches",
    params(("batch_id" = String, Path)),
    request_body(content = RevokeRequest, description = "`{\"all\": true}` to revoke every link of the batch; `{\"nhs_number\": \"…\"}` for one patient's"),
    responses(
        (status = 204, description = "Revoked (revoking again changes nothing)"),
        (status = 409, description = "The batch has no links, or has sent none yet", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither or both of `all` and `nhs_number`, an unknown field, a bad NHS number, or one not in the batch", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_links<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
    JsonBody(request): JsonBody<RevokeRequest>,
) -> Result<StatusCode, Problem> {
    let scope = request.scope()?;
    state.app.revoke_links(&caller, &batch_id, scope).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A questionnaire batch's answers, as CSV: NHS Number, Answered At, then
/// one column per question id.
#[utoipa::path(
    get, path = "/v1/batches/{batch_id}/responses.csv", tag = "batches",
    params(("batch_id" = String, Path)),
    responses(
        (status = 200, content_type = "text/csv", body = String, description = "NHS Number, Answered At, then each question's id"),
        (status = 303, description = "On AWS: a short-lived link to the file, in `Location`"),
        (status = 422, description = "The batch sent no questionnaire", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn responses<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    let download = state.app.responses_download(&caller, &batch_id).await?;
    Ok(csv_download(download, &format!("responses-{batch_id}.csv")))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopSeriesRequest {
    /// The patient whose series stops.
    pub nhs_number: String,
}

/// Stop the inhaler series for one patient: no more texts, for good.
#[utoipa::path(
    post, path = "/v1/batches/{batch_id}/series/stop", tag = "batches",
    params(("batch_id" = String, Path)),
    request_body = StopSeriesRequest,
    responses(
        (status = 204, description = "Stopped (stopping again changes nothing)"),
        (status = 422, description = "A bad NHS number, one not in the batch, or a batch that is not a series", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stop_series<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
    JsonBody(request): JsonBody<StopSeriesRequest>,
) -> Result<StatusCode, Problem> {
    let nhs_number = NhsNumber::parse(&request.nhs_number)
        .map_err(|e| Problem::invalid_request(format!("nhs_number: {e}")))?;
    state
        .app
        .stop_series(&caller, &batch_id, &nhs_number)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Batches: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(super::operation!(create_batch))
        .routes(super::operation!(preview_batch))
        .routes(super::operation!(get_batch))
        .routes(super::operation!(send_batch))
        .routes(super::operation!(cancel_batch))
        .routes(super::operation!(failed_to_deliver))
        .routes(super::operation!(stop_series))
        .routes(super::operation!(responses))
        .routes(super::operation!(revoke_links))
}
