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
    /// A short summary of the kind of problem, the same for every instance of
    /// it.
    pub title: String,
    /// The HTTP status code.
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

/// Adds to an operation's OpenAPI responses the refusals every operation
/// of its kind can give, each as a problem, unless the operation documents
/// its own: 400 (an unreadable path or query), 503 (a dependency down),
/// 401 and 403 for staff routes (no sign-in, or a token naming no
/// organisation), 404, 410 and 423 for a patient's link, 401 for a link's
/// session, and 413, 415 and 422 where there is a request body.
/// `writes`: the operation changes something (any method but GET).
pub fn document_refusals(operation: &mut utoipa::openapi::path::Operation, writes: bool) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let staff = operation
        .security
        .as_ref()
        .is_none_or(|schemes| schemes.iter().any(|s| s != &Default::default()));
    let body = operation.request_body.is_some();
    let mut refusals = vec![
        (
            "400",
            "The path or query string could not be read; `detail` says which part",
        ),
        (
            "503",
            "A service Batchbook depends on is unavailable; try again shortly",
        ),
    ];
    let parameter = |name: &str| {
        operation
            .parameters
            .iter()
            .flatten()
            .any(|p| p.name.eq_ignore_ascii_case(name))
    };
    if staff {
        refusals.push(("401", "Not signed in"));
        refusals.push((
            "403",
            "`no_role` or `no_organisation`: the sign-in names no valid role or organisation; `role_needed`: the caller's role does not allow this, and `detail` says which role does",
        ));
    }
    let names_a_resource = operation
        .parameters
        .iter()
        .flatten()
        .any(|p| p.name.ends_with("_id"));
    if names_a_resource {
        refusals.push((
            "404",
            "There is no such resource in your organisation (another organisation's looks the same)",
        ));
    }
    if parameter("token") {
        refusals.push(("404", "There is no such link"));
        refusals.push((
            "410",
            "The link has expired or was withdrawn; `state` says which and `contact` how to reach the practice",
        ));
        refusals.push(("423", "The link is locked after five wrong dates of birth"));
    }
    if parameter("Link-Session") {
        refusals.push((
            "401",
            "No session, or it has expired: confirm the date of birth again",
        ));
    }
    if writes && staff {
        refusals.push((
            "409",
            "`conflict`: someone else changed this at the same moment; try again",
        ));
    }
    if body {
        refusals.push(("413", "The body is larger than this request takes"));
        refusals.push(("415", "The body is not in the type this request takes"));
        refusals.push((
            "422",
            "The body cannot be used: an unknown field (with the field meant), a `null`, a missing or bad value; `detail` names it",
        ));
    }
    for (status, description) in refusals {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build()
                    .into()
            });
    }
}

/// A route that does not exist.
pub async fn no_such_route(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "no_such_route",
        "Not found",
        format!(
            "there is no {method} {}; the API description is at /openapi.json",
            uri.path()
        ),
    )
}

/// What every response leaves with: no cache keeps it (answers carry
/// patient links, sessions and reports), no browser guesses its type, and
/// a refusal that did not come from a `Problem` (the framework's own 405,
/// a path it could not read) is turned into one, so that every refusal has
/// one shape.
pub async fn finish(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let headers = &mut parts.headers;
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(header::HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    // A patient's page says what went wrong in words of its own.
    let is_problem = headers.get(header::CONTENT_TYPE).is_some_and(|t| {
        t.as_bytes().starts_with(b"application/problem+json")
            || t.as_bytes().starts_with(b"text/html")
    });
    if parts.status.as_u16() < 400 || is_problem {
        return Response::from_parts(parts, body);
    }
    // The framework's own refusals are short plain text.
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    let problem = framework_problem(parts.status, &parts.headers, text);
    let mut response = problem.into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

fn framework_problem(status: StatusCode, headers: &header::HeaderMap, text: String) -> Problem {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            Problem::new(
                status,
                "method_not_allowed",
                "Method not allowed",
                format!("this route does not take that method; it takes {allowed}"),
            )
        }
        StatusCode::NOT_FOUND => Problem::new(
            status,
            "no_such_route",
            "Not found",
            "there is no such route; the API description is at /openapi.json",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => super::body::body_too_large(),
        StatusCode::BAD_REQUEST => Problem::new(
            status,
            "bad_request",
            "Check your request",
            if text.is_empty() {
                "the request could not be read".to_owned()
            } else {
                text
            },
        ),
        status if status.is_server_error() => Problem::new(
            status,
            "unavailable",
            "Try again shortly",
            "something went wrong on our side; try again shortly",
        ),
        status => Problem::new(
            status,
            "refused",
            status.canonical_reason().unwrap_or("Refused"),
            if text.is_empty() {
                status.canonical_reason().unwrap_or("refused").to_owned()
            } else {
                text
            },
        ),
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
            IdentityError::NoRole => Problem::new(
                StatusCode::FORBIDDEN,
                "no_role",
                "No Batchbook role",
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
        BatchError::Policy(_) => "invalid_request",
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
            BatchbookError::RoleNeeded(_) => Problem::new(
                StatusCode::FORBIDDEN,
                "role_needed",
                "Your role does not allow this",
                detail,
            ),
            BatchbookError::AttachmentNotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "attachment_not_found",
                "Attachment not found",
                detail,
            ),
            BatchbookError::TemplateNotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "template_not_found",
                "Template not found",
                detail,
            ),
            BatchbookError::NotYourTemplate(_) => Problem::new(
                StatusCode::FORBIDDEN,
                "not_your_template",
                "This template is someone else's",
                detail,
            ),
            BatchbookError::AttachmentTooLarge => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "file_too_large",
                "The file is too large",
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
            BatchbookError::WorkspaceNotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "workspace_not_found",
                "Workspace not found",
                detail,
            ),
            BatchbookError::ConversationNotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "conversation_not_found",
                "Conversation not found",
                detail,
            ),
            BatchbookError::NotInWorkspace => Problem::new(
                StatusCode::FORBIDDEN,
                "not_in_workspace",
                "Not a member of this workspace",
                detail,
            ),
            BatchbookError::NotAMember(_) => Problem::new(
                StatusCode::NOT_FOUND,
                "not_a_member",
                "Not a member",
                detail,
            ),
            BatchbookError::PatientNotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "patient_not_found",
                "Patient not found",
                detail,
            ),
            BatchbookError::NoDemographics => Problem::new(
                StatusCode::NOT_IMPLEMENTED,
                "no_demographics",
                "Finding a patient is not available",
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
