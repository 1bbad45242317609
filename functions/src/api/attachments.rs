//! A batch's attachment: uploaded once, then named when the batch is
//! created (`attachment_id`).

use axum::extract::{Path, Request, State};
use axum::http::header;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use domain::usecases::AttachmentSummary;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::body::{FileBody, StrictQuery};
use super::with_limit;
use super::{user, ApiState, Authenticated, PageParams, Problem, UserResponse};
use domain::projection::{ItemBody, ItemKind};

/// What a file arrives as: its own type, or plain bytes. Its real type is
/// found from its bytes either way.
const FILE_TYPES: [&str; 4] = [
    "application/octet-stream",
    "application/pdf",
    "image/png",
    "image/jpeg",
];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
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

/// An attachment as the attachments page shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttachmentEntry {
    /// Name it as `attachment_id` when creating a batch; `GET
    /// /v1/attachments/{attachment_id}` returns the file.
    pub attachment_id: String,
    /// The name patients' browsers save it under.
    pub file_name: String,
    /// `application/pdf`, `image/png` or `image/jpeg`, from its bytes.
    pub content_type: String,
    /// In bytes.
    pub size: u64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    /// When it was kept.
    pub uploaded_at: DateTime<Utc>,
    /// Who uploaded it.
    pub uploaded_by: Option<UserResponse>,
}

/// One page of attachments, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttachmentPage {
    /// At most `limit` of them.
    pub attachments: Vec<AttachmentEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// The organisation's attachments, newest first.
#[utoipa::path(
    get, path = "/v1/attachments", tag = "batches",
    params(PageParams),
    responses(
        (status = 200, body = AttachmentPage),
        (status = 400, description = "An unknown query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A cursor this API did not give, or a limit outside 1 to 100", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_attachments<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    StrictQuery(params): StrictQuery<PageParams>,
) -> Result<Json<AttachmentPage>, Problem> {
    let page = state
        .app
        .workspace_items(
            &caller,
            ItemKind::Attachment,
            params.cursor.as_deref(),
            params.limit,
        )
        .await?;
    let attachments = page
        .items
        .into_iter()
        .filter_map(|item| match item.item {
            ItemBody::Attachment(file) => Some(AttachmentEntry {
                attachment_id: item.id,
                file_name: file.file_name,
                content_type: file.content_type,
                size: file.size,
                sha256: file.sha256,
                uploaded_at: item.created_at,
                uploaded_by: user(item.created_by, item.created_by_name),
            }),
            _ => None,
        })
        .collect();
    Ok(Json(AttachmentPage {
        attachments,
        next: page.next,
    }))
}

/// The attachment's file itself, for staff to check before sending. It is
/// served as a download-safe copy: its own type, never sniffed, and
/// sandboxed so a crafted file cannot run script in the API's origin.
#[utoipa::path(
    get, path = "/v1/attachments/{attachment_id}", tag = "batches",
    params(("attachment_id" = String, Path, description = "The attachment's id")),
    responses(
        (status = 200, description = "The file, as `application/pdf`, `image/png` or `image/jpeg`", content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"))),
        (status = 404, description = "No such attachment in the caller's organisation", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_attachment<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(attachment_id): Path<String>,
) -> Result<Response, Problem> {
    let file = state.app.attachment_file(&caller, &attachment_id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "inline; filename*=UTF-8''{}",
                    percent_encoding::utf8_percent_encode(
                        &file.file_name,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                ),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'".to_owned(),
            ),
        ],
        file.bytes,
    )
        .into_response())
}

/// Attachments: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(with_limit(
            super::operation!(upload_attachment),
            domain::usecases::MAX_ATTACHMENT_BYTES + 1,
        ))
        .routes(super::operation!(list_attachments))
        .routes(super::operation!(get_attachment))
}
