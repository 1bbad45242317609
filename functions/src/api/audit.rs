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
use domain::BatchbookError;
use serde::Deserialize;
use utoipa::ToSchema;

use super::body::JsonBody;
use super::{ApiState, Authenticated, Problem};
use crate::audit::{write_history, HistoryFormat};

/// What to export: exactly one of `batch_id`, `invite_id`,
/// `conversation_id` and `user_id`.
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
        let subjects = [
            self.batch_id.map(HistorySubject::Batch),
            self.invite_id.map(HistorySubject::Invite),
            self.conversation_id.map(HistorySubject::Conversation),
            self.user_id.map(HistorySubject::User),
        ];
        let mut named = subjects.into_iter().flatten();
        let (Some(subject), None) = (named.next(), named.next()) else {
            return Err(BatchbookError::InvalidRequest(
                "batch_id, invite_id, conversation_id, user_id: name exactly one".into(),
            ));
        };
        let (HistorySubject::Batch(id)
        | HistorySubject::Invite(id)
        | HistorySubject::Conversation(id)
        | HistorySubject::User(id)) = &subject;
        if id.trim().is_empty() {
            return Err(BatchbookError::InvalidRequest(
                "the subject's id is empty".into(),
            ));
        }
        Ok(HistoryRequest {
            subject,
            from: self.from,
            to: self.to,
            patient_details: self.patient_details,
        })
    }
}

/// Export the event history of a batch, an invite, a conversation or a
/// user, in commit order: type, version, time, actor, correlation id,
/// aggregate, sequence and payload of every event, and with
/// `patient_details` the patient each delivery and invite is about. The
/// export is recorded as an event (`HistoryExported`) with the auditor.
#[utoipa::path(
    post, path = "/v1/audit/history", tag = "audit",
    request_body = HistoryRequestBody,
    responses(
        (status = 200, content_type = "application/x-ndjson", body = String, description = "One JSON object an event, in commit order, when `format` is `jsonl`"),
        (status = 200, content_type = "text/csv", body = String, description = "A header, then one row an event, when `format` is `csv`"),
        (status = 403, description = "`role_needed`: only the auditor role exports the history", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`detail` says what is wrong: not exactly one subject, an empty id, or `to` not later than `from`", body = Problem, content_type = "application/problem+json"),
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
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::HeaderName::from_static("audit-export-id"),
                history.export_id,
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Audit: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new().routes(super::operation!(export_history))
}
