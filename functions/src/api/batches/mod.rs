//! Batch messages: create, send, cancel and revoke (each answering with the
//! batch as it then stands), and the reports. Reading them is in `views`.

mod views;

pub use views::BatchResponse;
use views::{__path_get_batch, __path_list_batches};
use views::{get_batch, list_batches, stagger_days, StaggerDayResponse};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use domain::content::BatchContent;
use domain::policies::{SendPlan, SendStart};
use domain::template::SmsEncoding;
use domain::usecases::{Content, CreateBatch, RevokeScope};
use domain::values::NhsNumber;
use events::Questionnaire;
use serde::{Deserialize, Serialize};
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
    /// once filled in. Leave it out to copy it from `template_id`.
    #[serde(default)]
    pub message: Option<String>,
    /// Copy the message (and its email subject, unless one is given here)
    /// from this template, one of the caller's own or shared with the
    /// organisation, as it is now: later edits of the template change no
    /// batch already made. Not with `message`.
    #[serde(default)]
    pub template_id: Option<String>,
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
    /// For a questionnaire batch: a workspace of the caller's whose inbox
    /// each patient's answers come back to, as a conversation with them.
    #[serde(default)]
    pub workspace_id: Option<String>,
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
    /// The checked list the batch would go to.
    pub list_id: String,
    /// The message, as for creating a batch.
    pub message: String,
    /// The email's subject, as for creating a batch.
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
    /// Patients who would get an email (no mobile, an email address).
    pub email_recipients: u64,
    /// Patients who would get an NHS App message first.
    pub nhs_app_recipients: u64,
    /// Patients who would get a text.
    pub sms_recipients: u64,
    /// With `stagger_days`: how many patients each day would get, and when.
    pub stagger: Vec<StaggerDayResponse>,
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
        (status = 201, description = "Created: the batch, as `GET /v1/batches/{batch_id}` now shows it", body = BatchResponse),
        (status = 404, description = "No such list", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`detail` names the field and why: for example both or neither of `message` and `template_id`, or a template that is not the caller's", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_batch<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    JsonBody(request): JsonBody<CreateBatchRequest>,
) -> Result<(StatusCode, Json<BatchResponse>), Problem> {
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
                template: request.message.unwrap_or_default(),
                template_id: request.template_id,
                email_subject: request.email_subject,
                snomed_code: request.snomed_code,
                content,
                workspace_id: request.workspace_id,
            },
            key.as_ref(),
        )
        .await?;
    let batch = state.app.batch(&caller, &batch_id).await?;
    Ok((StatusCode::CREATED, Json(batch.into())))
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

/// Send a batch now, or schedule it.
#[utoipa::path(
    post, path = "/v1/batches/{batch_id}/send", tag = "batches",
    params(("batch_id" = String, Path, description = "The batch's id, as `POST /v1/batches` answered it"), ("Idempotency-Key" = Option<String>, Header, description = "Retry with the same key to get the first answer")),
    request_body(content = Option<SendRequest>, description = "Empty or `{\"now\": true}` to send now; `{\"send_at\": …}` to schedule; either with `stagger_days`"),
    responses(
        (status = 202, description = "Sending, or scheduled: the batch as it now stands", body = BatchResponse),
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
) -> Result<(StatusCode, Json<BatchResponse>), Problem> {
    let empty = request.is_none();
    let plan = request.unwrap_or_default().plan(empty)?;
    state
        .app
        .send_batch(&caller, &batch_id, plan, key.as_ref())
        .await?;
    let batch = state.app.batch(&caller, &batch_id).await?;
    Ok((StatusCode::ACCEPTED, Json(batch.into())))
}

/// Cancel a batch that has not started sending, or a staggered batch before
/// its last day starts: messages not yet sent are never sent.
#[utoipa::path(
    post, path = "/v1/batches/{batch_id}/cancel", tag = "batches",
    params(("batch_id" = String, Path, description = "The batch's id, as `POST /v1/batches` answered it")),
    responses(
        (status = 200, description = "Cancelled: the batch as it now stands", body = BatchResponse),
        (status = 409, description = "It has started sending, or was cancelled already", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cancel_batch<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
    _: NoBody,
) -> Result<Json<BatchResponse>, Problem> {
    state.app.cancel_batch(&caller, &batch_id).await?;
    Ok(Json(state.app.batch(&caller, &batch_id).await?.into()))
}

/// The patients whose message failed to deliver, as CSV.
#[utoipa::path(
    get, path = "/v1/batches/{batch_id}/failed-to-deliver.csv", tag = "batches",
    params(("batch_id" = String, Path, description = "The batch's id, as `POST /v1/batches` answered it")),
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
    params(("batch_id" = String, Path, description = "The batch's id, as `POST /v1/batches` answered it")),
    request_body(content = RevokeRequest, description = "`{\"all\": true}` to revoke every link of the batch; `{\"nhs_number\": \"…\"}` for one patient's"),
    responses(
        (status = 200, description = "Revoked (revoking again changes nothing): the batch as it now stands", body = BatchResponse),
        (status = 403, description = "`role_needed`: revoking every link of a batch needs the admin role", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The batch has no links, or has sent none yet", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither or both of `all` and `nhs_number`, an unknown field, a bad NHS number, or one not in the batch", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_links<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
    JsonBody(request): JsonBody<RevokeRequest>,
) -> Result<Json<BatchResponse>, Problem> {
    let scope = request.scope()?;
    state.app.revoke_links(&caller, &batch_id, scope).await?;
    Ok(Json(state.app.batch(&caller, &batch_id).await?.into()))
}

/// A questionnaire batch's answers, as CSV: NHS Number, Answered At, then
/// one column per question id.
#[utoipa::path(
    get, path = "/v1/batches/{batch_id}/responses.csv", tag = "batches",
    params(("batch_id" = String, Path, description = "The batch's id, as `POST /v1/batches` answered it")),
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
    params(("batch_id" = String, Path, description = "The batch's id, as `POST /v1/batches` answered it")),
    request_body = StopSeriesRequest,
    responses(
        (status = 200, description = "Stopped (stopping again changes nothing): the batch as it now stands", body = BatchResponse),
        (status = 422, description = "A bad NHS number, one not in the batch, or a batch that is not a series", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stop_series<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
    JsonBody(request): JsonBody<StopSeriesRequest>,
) -> Result<Json<BatchResponse>, Problem> {
    let nhs_number = NhsNumber::parse(&request.nhs_number)
        .map_err(|e| Problem::invalid_request(format!("nhs_number: {e}")))?;
    state
        .app
        .stop_series(&caller, &batch_id, &nhs_number)
        .await?;
    Ok(Json(state.app.batch(&caller, &batch_id).await?.into()))
}

/// Batches: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(super::operation!(create_batch))
        .routes(super::operation!(preview_batch))
        .routes(super::operation!(get_batch))
        .routes(super::operation!(list_batches))
        .routes(super::operation!(send_batch))
        .routes(super::operation!(cancel_batch))
        .routes(super::operation!(failed_to_deliver))
        .routes(super::operation!(stop_series))
        .routes(super::operation!(responses))
        .routes(super::operation!(revoke_links))
}
