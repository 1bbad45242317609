//! Errors as `application/problem+json` (RFC 9457), mapped from use-case
//! errors in this one place. Details are written for staff; infrastructure
//! failures are logged, never echoed.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::aggregates::BatchError;
use domain::lists::ListError;
use domain::BatchbookError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::identity::IdentityError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:batchbook:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong, and what to do about it.
    pub detail: String,
    /// A stable code for the frontend.
    pub code: String,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:batchbook:problem:{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
        }
    }
}

impl Problem {
    /// A request body that could not be read, with the reason.
    pub fn invalid_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "Check your request",
            detail,
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).expect("a problem serialises");
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

impl From<IdentityError> for Problem {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Unauthenticated => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Not signed in",
                e.to_string(),
            ),
            IdentityError::BadOrganisation => Problem::new(
                StatusCode::FORBIDDEN,
                "no_organisation",
                "No organisation",
                e.to_string(),
            ),
        }
    }
}

fn batch_code(e: &BatchError) -> &'static str {
    match e {
        BatchError::NotFound => "batch_not_found",
        BatchError::AlreadyExists => "batch_exists",
        BatchError::NobodyToContact => "nobody_to_contact",
        BatchError::AlreadySent => "already_sent",
        BatchError::Cancelled => "batch_cancelled",
        BatchError::CannotCancelWhileSending => "cannot_cancel_while_sending",
        BatchError::StaggerFinished => "stagger_finished",
        BatchError::NoLinks => "no_links",
        BatchError::NothingSentYet => "nothing_sent_yet",
        BatchError::Policy(_) | BatchError::TwoKindsOfLink => "invalid_request",
    }
}

impl From<BatchbookError> for Problem {
    fn from(e: BatchbookError) -> Self {
        let detail = e.to_string();
        match &e {
            BatchbookError::List(ListError::TooLarge { .. }) => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "file_too_large",
                "The file is too large",
                detail,
            ),
            BatchbookError::List(list) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                list.code(),
                "The patient list cannot be used",
                detail,
            ),
            BatchbookError::ListBeingChecked => Problem::new(
                StatusCode::CONFLICT,
                "list_being_checked",
                "Still checking",
                detail,
            ),
            BatchbookError::ListNotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "list_not_found",
                "Patient list not found",
                detail,
            ),
            BatchbookError::BatchNotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "batch_not_found",
                "Batch not found",
                detail,
            ),
            BatchbookError::Batch(BatchError::NobodyToContact) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "nobody_to_contact",
                "Nobody to contact",
                detail,
            ),
            BatchbookError::Batch(BatchError::Policy(_)) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                "Check your request",
                detail,
            ),
            BatchbookError::Batch(batch) => Problem::new(
                StatusCode::CONFLICT,
                batch_code(batch),
                "The batch cannot do that now",
                detail,
            ),
            BatchbookError::InvalidRequest(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                "Check your request",
                detail,
            ),
            BatchbookError::NoAppointmentBook => Problem::new(
                StatusCode::NOT_IMPLEMENTED,
                "no_appointment_book",
                "Self-Book is not available",
                detail,
            ),
            BatchbookError::RequestInProgress => Problem::new(
                StatusCode::CONFLICT,
                "request_in_progress",
                "Still working on it",
                detail,
            ),
            BatchbookError::Conflict => Problem::new(
                StatusCode::CONFLICT,
                "conflict",
                "Changed at the same moment",
                detail,
            ),
            BatchbookError::Unavailable(cause) => {
                tracing::error!(cause, "request failed on a dependency");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Try again shortly",
                    detail,
                )
            }
        }
    }
}
