//! The auditor's read-only routes: an exported event history, written as
//! `batchbook audit history` writes it (`crate::audit::write_history`).
//! Only the auditor role may use them, and each export is recorded.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use domain::ports::HistorySubject;
use domain::usecases::audit::HistoryRequest;
use domain::values::NhsNumber;
use domain::BatchbookError;
use serde::Deserialize;
use utoipa::ToSchema;

use super::body::JsonBody;
use super::{ApiState, Authenticated, Problem};
use crate::audit::{
    write_history, write_subject_access, AccessFormat, HistoryFormat, SubjectAccessResponse,
};

/// What to export: exactly one of `batch_id`, `invite_id`,
/// `conversation_id`, `user_id` and `nhs_number`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryRequestBody {
    /// A batch: its own events and every recipient's delivery and invite.
    pub batch_id: Option<String>,
    /// One Self-Book invite, `<batch id>:<row>`.
    pub invite_id: Option<String>,
    /// A conversation and each of its messages.
    pub conversation_id: Option<String>,
    /// Everything one user of the organisation did.
    pub user_id: Option<String>,
    /// Everything about one patient: each batch that sent to them (its own
    /// events, and their delivery and invite), their conversations and
    /// each search for them. Ten digits; spaces between the groups are
    /// allowed.
    pub nhs_number: Option<String>,
    /// Events at or after this time only.
    pub from: Option<DateTime<Utc>>,
    /// Events before this time only; later than `from`.
    pub to: Option<DateTime<Utc>>,
    /// `jsonl` (the default) or `csv`.
    #[serde(default)]
    pub format: HistoryFormat,
    /// Join each delivery's and invite's patient (NHS number, name, date of
    /// birth, mobile, email) from the batch's list artifact.
    #[serde(default)]
    pub patient_details: bool,
}

impl HistoryRequestBody {
    fn request(self) -> Result<HistoryRequest, BatchbookError> {
        let named = [
            self.batch_id.is_some(),
            self.invite_id.is_some(),
            self.conversation_id.is_some(),
            self.user_id.is_some(),
            self.nhs_number.is_some(),
        ];
        if named.iter().filter(|n| **n).count() != 1 {
            return Err(BatchbookError::InvalidRequest(
                "batch_id, invite_id, conversation_id, user_id, nhs_number: name exactly one"
                    .into(),
            ));
        }
        let id = |field: &str, id: String| {
            if id.trim().is_empty() {
                Err(BatchbookError::InvalidRequest(format!("{field}: is empty")))
            } else {
                Ok(id)
            }
        };
        let subject = if let Some(batch) = self.batch_id {
            HistorySubject::Batch(id("batch_id", batch)?)
        } else if let Some(invite) = self.invite_id {
            HistorySubject::Invite(id("invite_id", invite)?)
        } else if let Some(conversation) = self.conversation_id {
            HistorySubject::Conversation(id("conversation_id", conversation)?)
        } else if let Some(user) = self.user_id {
            HistorySubject::User(id("user_id", user)?)
        } else {
            let raw = self.nhs_number.unwrap_or_default();
            HistorySubject::Patient(
                NhsNumber::parse(&raw)
                    .map_err(|e| BatchbookError::InvalidRequest(format!("nhs_number: {e}")))?,
            )
        };
        Ok(HistoryRequest {
            subject,
            from: self.from,
            to: self.to,
            patient_details: self.patient_details,
        })
    }
}

/// Export the event history of a batch, an invite, a conversation, a user
/// or a patient, in commit order: type, version, time, actor, correlation id,
/// aggregate, sequence and payload of every event, and with
/// `patient_details` the patient each delivery and invite is about. The
/// export is recorded as an event (`HistoryExported`) with the auditor.
#[utoipa::path(
    post, path = "/v1/audit/history", tag = "audit",
    request_body = HistoryRequestBody,
    responses(
        (status = 200, description = "When `format` is `jsonl`, one JSON object an event, in commit order; when `csv`, a header, then one row an event. Its record's id is in `Audit-Export-Id`", content((String = "application/x-ndjson"), (String = "text/csv"))),
        (status = 403, description = "`role_needed`: only the auditor role exports the history", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`detail` says what is wrong: not exactly one subject, an empty id, an `nhs_number` that is not one, or `to` not later than `from`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export_history<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<HistoryRequestBody>,
) -> Result<Response, Problem> {
    let format = body.format;
    let request = body.request()?;
    let history = state.app.audit_history(&caller, &request).await?;
    let mut bytes = Vec::new();
    write_history(
        &history.entries,
        format,
        request.patient_details,
        &mut bytes,
    )
    .map_err(|e| BatchbookError::Unavailable(e.to_string()))?;
    Ok(exported(format.content_type(), history.export_id, bytes))
}

/// Whose subject access request to answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectAccessBody {
    /// The patient's NHS number: ten digits; spaces between the groups
    /// are allowed.
    pub nhs_number: String,
    /// `html` (the default), a readable document, or `json`.
    #[serde(default)]
    pub format: AccessFormat,
}

/// Answer a patient's subject access request: everything held about them
/// across batches, invites and conversations (who the lists said they
/// were; each message's words, channel and delivery; links opened, answers,
/// bookings, declines and replies; each search for them). Recorded as an
/// export with the auditor.
#[utoipa::path(
    post, path = "/v1/audit/subject-access", tag = "audit",
    request_body = SubjectAccessBody,
    responses(
        (status = 200, description = "A readable document when `format` is `html`; the same as JSON when `json`. Its record's id is in `Audit-Export-Id`", content((String = "text/html"), (SubjectAccessResponse = "application/json"))),
        (status = 403, description = "`role_needed`: only the auditor role answers subject access requests", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`detail` says why `nhs_number` is not an NHS number", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn subject_access<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<SubjectAccessBody>,
) -> Result<Response, Problem> {
    let nhs_number = NhsNumber::parse(&body.nhs_number)
        .map_err(|e| BatchbookError::InvalidRequest(format!("nhs_number: {e}")))?;
    let access = SubjectAccessResponse::from(state.app.subject_access(&caller, &nhs_number).await?);
    let bytes = write_subject_access(&access, body.format)
        .map_err(|e| BatchbookError::Unavailable(e.to_string()))?;
    Ok(exported(
        body.format.content_type(),
        access.export_id,
        bytes,
    ))
}

/// An export's bytes, with the id it was recorded under in
/// `Audit-Export-Id`.
fn exported(content_type: &'static str, export_id: String, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::HeaderName::from_static("audit-export-id"),
                export_id,
            ),
        ],
        bytes,
    )
        .into_response()
}

/// Audit: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(super::operation!(export_history))
        .routes(super::operation!(subject_access))
}
