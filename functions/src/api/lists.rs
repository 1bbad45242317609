//! Patient list upload, progress, summary and the not-contactable report.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::Json;
use cqrs_es::persist::PersistedEventRepository;
use domain::lists::{ClinicalSystem, ListError, ListSummary, MAX_FILE_BYTES};
use domain::usecases::{ListProgress, ListState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::body::{FileBody, NoBody, StrictQuery};
use super::with_limit;
use super::{
    csv_download, user, ApiState, Authenticated, IdempotencyKeyHeader, PageParams, Problem,
    UserResponse,
};
use chrono::{DateTime, Utc};
use domain::projection::{ItemBody, ItemKind};

/// What a CSV export arrives as: browsers on Windows call a `.csv` file
/// `application/vnd.ms-excel`, and some tools send plain text or bytes.
const CSV_TYPES: [&str; 5] = [
    "text/csv",
    "application/csv",
    "application/vnd.ms-excel",
    "text/plain",
    "application/octet-stream",
];

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadParams {
    /// The clinical system that exported the file (`emis`, `systmone` or
    /// `vision`); detected from the headers when absent.
    #[param(example = "systmone")]
    #[serde(default)]
    system: Option<ClinicalSystem>,
}

/// A checked list's counts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListResponse {
    /// Name it as `list_id` when creating a batch.
    pub list_id: String,
    /// The clinical system that exported the file, as named or as detected
    /// from its headers.
    pub system: ClinicalSystem,
    /// Patient rows on the list.
    pub patient_count: u64,
    /// Patients who can be sent a message, each by their own channel.
    pub contactable_count: u64,
    /// Patients who cannot; `not-contactable.csv` gives each one's reason.
    pub not_contactable_count: u64,
    /// Of those, the ones without a valid UK mobile.
    pub without_valid_mobile_count: u64,
}

impl From<ListSummary> for ListResponse {
    fn from(s: ListSummary) -> Self {
        Self {
            list_id: s.list_id,
            system: s.system,
            patient_count: s.patient_count,
            contactable_count: s.contactable_count,
            not_contactable_count: s.not_contactable_count,
            without_valid_mobile_count: s.without_valid_mobile_count,
        }
    }
}

/// Upload a patient list exported from EMIS, SystmOne or Vision, and check it.
#[utoipa::path(
    post, path = "/v1/lists", tag = "lists",
    params(UploadParams, ("Idempotency-Key" = Option<String>, Header, description = "Retry with the same key to get the same list")),
    request_body(content = String, content_type = "text/csv", description = "The exported CSV file, at most 10 MB and 1,000 characters a cell. Sent as `text/csv` (or `application/csv`, `application/vnd.ms-excel`, `text/plain`, `application/octet-stream`)"),
    responses(
        (status = 201, description = "Checked and stored", body = ListResponse),
        (status = 400, description = "A bad query string: an unknown parameter, or a `system` that is not `emis`, `systmone` or `vision`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 10 MB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not sent as CSV", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The file cannot be used; `detail` says why", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upload_list<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    StrictQuery(params): StrictQuery<UploadParams>,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    request: Request,
) -> Result<(StatusCode, Json<ListResponse>), Problem> {
    let file = FileBody::read(request, &state, &CSV_TYPES, || {
        Problem::from(domain::BatchbookError::List(ListError::TooLarge {
            limit_mb: MAX_FILE_BYTES / (1024 * 1024),
        }))
    })
    .await?;
    let summary = state
        .app
        .upload_list(&caller, file.bytes.to_vec(), params.system, key.as_ref())
        .await?;
    Ok((StatusCode::CREATED, Json(summary.into())))
}

/// A checked list's counts; the reason, if the list was refused.
#[utoipa::path(
    get, path = "/v1/lists/{list_id}", tag = "lists",
    params(("list_id" = String, Path, description = "The list's id, as `POST /v1/lists` answered it")),
    responses(
        (status = 200, body = ListResponse),
        (status = 409, description = "Still being checked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The uploaded file was refused; `detail` says why", body = Problem, content_type = "application/problem+json"),
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

/// A checked list as the lists page shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListEntry {
    /// Name it as `list_id` when creating a batch.
    pub list_id: String,
    /// The clinical system that exported the file.
    pub system: ClinicalSystem,
    /// Patient rows on the list.
    pub patient_count: u64,
    /// Patients who can be sent a message.
    pub contactable_count: u64,
    /// Patients who cannot; `not-contactable.csv` gives each one's reason.
    pub not_contactable_count: u64,
    /// When it was checked.
    pub checked_at: DateTime<Utc>,
    /// Who uploaded it; absent for a list uploaded straight to storage.
    pub uploaded_by: Option<UserResponse>,
}

/// One page of checked lists, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListPage {
    /// At most `limit` of them.
    pub lists: Vec<ListEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// The organisation's checked lists, newest first. Lists that were refused
/// are not among them.
#[utoipa::path(
    get, path = "/v1/lists", tag = "lists",
    params(PageParams),
    responses(
        (status = 200, body = ListPage),
        (status = 400, description = "An unknown query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A cursor this API did not give, or a limit outside 1 to 100", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_lists<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    StrictQuery(params): StrictQuery<PageParams>,
) -> Result<Json<ListPage>, Problem> {
    let page = state
        .app
        .workspace_items(
            &caller,
            ItemKind::List,
            params.cursor.as_deref(),
            params.limit,
        )
        .await?;
    let lists = page
        .items
        .into_iter()
        .filter_map(|item| match item.item {
            ItemBody::List(list) => Some(ListEntry {
                list_id: item.id,
                system: ClinicalSystem::parse(&list.system)?,
                patient_count: list.patient_count,
                contactable_count: list.contactable_count,
                not_contactable_count: list.not_contactable_count,
                checked_at: item.created_at,
                uploaded_by: user(item.created_by, item.created_by_name),
            }),
            _ => None,
        })
        .collect();
    Ok(Json(ListPage {
        lists,
        next: page.next,
    }))
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
    _: NoBody,
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

/// How far a list's check has got.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProgressResponse {
    /// The list being checked.
    pub list_id: String,
    /// `refused`: `GET /v1/lists/{list_id}` says why.
    pub state: ListState,
    /// Patient rows checked so far.
    pub rows_checked: u64,
    /// Bytes of the file read so far, while checking; 0 otherwise.
    pub bytes_checked: u64,
    /// The file's size, while checking; 0 otherwise.
    pub total_bytes: u64,
}

impl From<ListProgress> for ProgressResponse {
    fn from(p: ListProgress) -> Self {
        Self {
            list_id: p.list_id,
            state: p.state,
            rows_checked: p.rows_checked,
            bytes_checked: p.bytes_checked,
            total_bytes: p.total_bytes,
        }
    }
}

/// Rows checked so far, for a progress bar while a large list is checked.
#[utoipa::path(
    get, path = "/v1/lists/{list_id}/progress", tag = "lists",
    params(("list_id" = String, Path, description = "The list's id, as `POST /v1/lists` answered it")),
    responses(
        (status = 200, body = ProgressResponse),
    )
)]
pub async fn list_progress<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(list_id): Path<String>,
) -> Result<Json<ProgressResponse>, Problem> {
    Ok(Json(
        state.app.list_progress(&caller, &list_id).await?.into(),
    ))
}

/// The patients who cannot be contacted, as uploaded: every uploaded column,
/// then Reason (a code such as `invalid_nhs_number`). Cells a spreadsheet
/// would run as formulas begin with an apostrophe.
#[utoipa::path(
    get, path = "/v1/lists/{list_id}/not-contactable.csv", tag = "lists",
    params(("list_id" = String, Path, description = "The list's id, as `POST /v1/lists` answered it")),
    responses(
        (status = 200, content_type = "text/csv", body = String, description = "The uploaded columns, then Reason"),
        (status = 303, description = "On AWS: a short-lived link to the file, in `Location`"),
        (status = 409, description = "Still being checked", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn not_contactable<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(list_id): Path<String>,
) -> Result<axum::response::Response, Problem> {
    let download = state
        .app
        .not_contactable_download(&caller, &list_id)
        .await?;
    Ok(csv_download(
        download,
        &format!("not-contactable-{list_id}.csv"),
    ))
}

/// Patient lists: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(with_limit(
            super::operation!(upload_list),
            domain::lists::MAX_FILE_BYTES + 1,
        ))
        .routes(super::operation!(new_upload))
        .routes(super::operation!(get_list))
        .routes(super::operation!(list_lists))
        .routes(super::operation!(list_progress))
        .routes(super::operation!(not_contactable))
}
