//! Patient list upload and summary.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use cqrs_es::persist::PersistedEventRepository;
use domain::lists::{ClinicalSystem, ListError, ListSummary, MAX_FILE_BYTES};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiState, Authenticated, IdempotencyKeyHeader, Problem};

#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadParams {
    /// The clinical system that exported the file; detected from the headers when absent.
    #[param(value_type = Option<String>, example = "systmone")]
    system: Option<ClinicalSystem>,
}

/// A checked list's counts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListResponse {
    pub list_id: String,
    /// `emis` or `systmone`.
    pub system: String,
    pub patient_count: u64,
    pub contactable_count: u64,
    pub not_contactable_count: u64,
    pub without_valid_mobile_count: u64,
}

impl From<ListSummary> for ListResponse {
    fn from(s: ListSummary) -> Self {
        Self {
            list_id: s.list_id,
            system: serde_json::to_value(s.system)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            patient_count: s.patient_count,
            contactable_count: s.contactable_count,
            not_contactable_count: s.not_contactable_count,
            without_valid_mobile_count: s.without_valid_mobile_count,
        }
    }
}

/// Upload a patient list exported from EMIS or SystmOne, and check it.
#[utoipa::path(
    post, path = "/v1/lists", tag = "lists",
    params(UploadParams, ("Idempotency-Key" = Option<String>, Header, description = "Retry with the same key to get the same list")),
    request_body(content = String, content_type = "text/csv", description = "The exported CSV file, at most 10 MB"),
    responses(
        (status = 201, description = "Checked and stored", body = ListResponse),
        (status = 413, description = "Larger than 10 MB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The file cannot be used; `detail` says why", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upload_list<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Query(params): Query<UploadParams>,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ListResponse>), Problem> {
    let body = body.map_err(|_| {
        Problem::from(domain::BatchbookError::List(ListError::TooLarge {
            limit_mb: MAX_FILE_BYTES / (1024 * 1024),
        }))
    })?;
    let summary = state
        .app
        .upload_list(&caller, body.to_vec(), params.system, key.as_ref())
        .await?;
    Ok((StatusCode::CREATED, Json(summary.into())))
}

/// A checked list's counts; the reason, if the list was refused.
#[utoipa::path(
    get, path = "/v1/lists/{list_id}", tag = "lists",
    params(("list_id" = String, Path)),
    responses(
        (status = 200, body = ListResponse),
        (status = 409, description = "Still being checked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The uploaded file was refused; `detail` says why", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_list<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(list_id): Path<String>,
) -> Result<Json<ListResponse>, Problem> {
    Ok(Json(
        state.app.list_summary(&caller, &list_id).await?.into(),
    ))
}

/// Where to upload a list directly.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UploadSlotResponse {
    /// The list's id once checked: poll `GET /v1/lists/{list_id}`.
    pub list_id: String,
    /// PUT the CSV here, with `Content-Type: text/csv`, within 15 minutes.
    pub upload_url: String,
}

/// Ask for a URL to upload a list straight to storage; it is checked as soon
/// as it lands. On the local runtime, upload to `POST /v1/lists` instead.
#[utoipa::path(
    post, path = "/v1/lists/uploads", tag = "lists",
    responses(
        (status = 201, body = UploadSlotResponse),
        (status = 422, description = "Direct uploads are not offered here", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn new_upload<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
) -> Result<(StatusCode, Json<UploadSlotResponse>), Problem> {
    let slot = state.app.new_upload(&caller).await?;
    Ok((
        StatusCode::CREATED,
        Json(UploadSlotResponse {
            list_id: slot.list_id,
            upload_url: slot.upload_url,
        }),
    ))
}
