//! A batch's attachment: uploaded once, then named when the batch is
//! created (`attachment_id`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use domain::usecases::{AttachmentSummary, MAX_ATTACHMENT_BYTES};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiState, Authenticated, Problem};

#[derive(Debug, Deserialize, IntoParams)]
pub struct AttachmentParams {
    /// The name the patient's browser saves it under, e.g. `Flu leaflet.pdf`.
    file_name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttachmentResponse {
    pub attachment_id: String,
    pub file_name: String,
    /// Found from the file's bytes: `application/pdf`, `image/png` or
    /// `image/jpeg`.
    pub content_type: String,
    pub size: u64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
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
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file itself"),
    responses(
        (status = 201, description = "Kept; name it as `attachment_id` when creating the batch", body = AttachmentResponse),
        (status = 413, description = "Larger than 5 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a PDF, PNG or JPEG file, empty, or a bad file name; `detail` says which", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upload_attachment<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    params: Result<Query<AttachmentParams>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<AttachmentResponse>), Problem> {
    let Query(params) = params.map_err(|_| {
        Problem::invalid_request("file_name: give the attachment a file name".to_owned())
    })?;
    let body = body.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "The file is too large",
            format!("attachment: the largest allowed is {MAX_ATTACHMENT_BYTES} bytes"),
        )
    })?;
    let summary = state
        .app
        .upload_attachment(&caller, &params.file_name, body.to_vec())
        .await?;
    Ok((StatusCode::CREATED, Json(summary.into())))
}
