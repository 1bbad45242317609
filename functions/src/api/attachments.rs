//! A batch's attachment: uploaded once, then named when the batch is
//! created (`attachment_id`).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use domain::usecases::AttachmentSummary;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::body::{FileBody, StrictQuery};
use super::with_limit;
use super::{ApiState, Authenticated, Problem};

/// What a file arrives as: its own type, or plain bytes. Its real type is
/// found from its bytes either way.
const FILE_TYPES: [&str; 4] = [
    "application/octet-stream",
    "application/pdf",
    "image/png",
    "image/jpeg",
];

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AttachmentParams {
    /// The name the patient's browser saves it under, e.g. `Flu leaflet.pdf`:
    /// UTF-8 text, percent-encoded, at most 100 characters, with no `/`,
    /// `\\`, `"` or control characters.
    file_name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttachmentResponse {
    /// Name it as `attachment_id` when creating the batch.
    pub attachment_id: String,
    /// The name patients' browsers save it under.
    pub file_name: String,
    /// Found from the file's bytes: `application/pdf`, `image/png` or
    /// `image/jpeg`.
    pub content_type: String,
    /// In bytes.
    pub size: u64,
    /// Hex SHA-256 of the file: what an auditor checks the sent file by.
    pub sha256: String,
    /// When it was kept.
    pub uploaded_at: DateTime<Utc>,
}

impl From<AttachmentSummary> for AttachmentResponse {
    fn from(s: AttachmentSummary) -> Self {
        Self {
            attachment_id: s.attachment_id,
            file_name: s.file_name,
            content_type: s.content_type,
            size: s.size,
            sha256: s.sha256,
            uploaded_at: s.uploaded_at,
        }
    }
}

/// Upload a file (PDF, PNG or JPEG, at most 5 MiB) for a batch's patients
/// to open through their links.
#[utoipa::path(
    post, path = "/v1/attachments", tag = "batches",
    params(AttachmentParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file itself, sent as `application/octet-stream` or as its own type (`application/pdf`, `image/png`, `image/jpeg`)"),
    responses(
        (status = 201, description = "Kept; name it as `attachment_id` when creating the batch", body = AttachmentResponse),
        (status = 400, description = "No `file_name`, one that is not UTF-8, or an unknown query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 5 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not sent as a file", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a PDF, PNG or JPEG file, empty, or a bad file name; `detail` says which", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upload_attachment<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    StrictQuery(params): StrictQuery<AttachmentParams>,
    request: Request,
) -> Result<(StatusCode, Json<AttachmentResponse>), Problem> {
    let file = FileBody::read(request, &state, &FILE_TYPES, || {
        Problem::from(domain::BatchbookError::AttachmentTooLarge)
    })
    .await?;
    let summary = state
        .app
        .upload_attachment(&caller, &params.file_name, file.bytes.to_vec())
        .await?;
    Ok((StatusCode::CREATED, Json(summary.into())))
}

/// Attachments: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new().routes(with_limit(
        super::operation!(upload_attachment),
        domain::usecases::MAX_ATTACHMENT_BYTES + 1,
    ))
}
