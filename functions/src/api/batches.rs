//! Batch messages: create, send, read, cancel, and the failed-to-deliver report.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use domain::projection::BatchSummary;
use domain::usecases::CreateBatch;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{csv_download, ApiState, Authenticated, IdempotencyKeyHeader, Problem};

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateBatchRequest {
    /// What staff call this batch.
    pub name: String,
    /// A list uploaded with `POST /v1/lists`.
    pub list_id: String,
    /// The SMS text. `((name))` becomes the patient's given name.
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedBatch {
    pub batch_id: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SendRequest {
    /// Send at this time instead of now.
    pub send_at: Option<DateTime<Utc>>,
}

/// A batch's status and counts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    pub batch_id: String,
    pub name: String,
    /// Draft, Scheduled, Sending, Done or Cancelled.
    pub status: String,
    pub list_id: String,
    pub counts: BatchCounts,
    pub send_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct BatchCounts {
    /// Rows on the patient list.
    pub patient_list: u64,
    /// Patients the batch is sent to.
    pub recipients: u64,
    /// Messages the provider accepted.
    pub sent: u64,
    /// Patients without a valid mobile number.
    pub without_valid_mobile: u64,
    /// Messages that failed to deliver.
    pub failed_to_deliver: u64,
}

impl From<BatchSummary> for BatchResponse {
    fn from(s: BatchSummary) -> Self {
        Self {
            counts: BatchCounts {
                patient_list: s.patient_count,
                recipients: s.contactable_count,
                sent: s.sent_count,
                without_valid_mobile: s.without_valid_mobile_count,
                failed_to_deliver: s.failed_count,
            },
            batch_id: s.batch_id,
            name: s.name,
            status: s.status.label().to_owned(),
            list_id: s.list_id,
            send_at: s.send_at,
            started_at: s.started_at,
            completed_at: s.completed_at,
        }
    }
}

fn json_problem(e: JsonRejection) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
        "Check your request",
        e.body_text(),
    )
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
    request: Result<Json<CreateBatchRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedBatch>), Problem> {
    let Json(request) = request.map_err(json_problem)?;
    let batch_id = state
        .app
        .create_batch(
            &caller,
            CreateBatch {
                name: request.name,
                list_id: request.list_id,
                template: request.message,
            },
            key.as_ref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedBatch { batch_id })))
}

/// A batch's status and counts.
#[utoipa::path(
    get, path = "/v1/batches/{batch_id}", tag = "batches",
    params(("batch_id" = String, Path)),
    responses(
        (status = 200, body = BatchResponse),
        (status = 404, body = Problem, content_type = "application/problem+json"),
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
    request_body(content = Option<SendRequest>, description = "Empty to send now"),
    responses(
        (status = 202, description = "Sending, or scheduled"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already sent, or cancelled", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn send_batch<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    body: axum::body::Bytes,
) -> Result<StatusCode, Problem> {
    let request: SendRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SendRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                "Check your request",
                e.to_string(),
            )
        })?
    };
    state
        .app
        .send_batch(&caller, &batch_id, request.send_at, key.as_ref())
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Cancel a batch that has not started sending.
#[utoipa::path(
    post, path = "/v1/batches/{batch_id}/cancel", tag = "batches",
    params(("batch_id" = String, Path)),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cancel_batch<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
) -> Result<StatusCode, Problem> {
    state.app.cancel_batch(&caller, &batch_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The patients whose message failed to deliver, as CSV.
#[utoipa::path(
    get, path = "/v1/batches/{batch_id}/failed-to-deliver.csv", tag = "batches",
    params(("batch_id" = String, Path)),
    responses(
        (status = 200, content_type = "text/csv", body = String, description = "NHS Number, Mobile, Channel, Reason"),
        (status = 303, description = "On AWS: a short-lived link to the file, in `Location`"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
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
