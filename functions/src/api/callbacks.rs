//! Delivery receipts from the message providers, each authenticated by the
//! provider's own token. A receipt names its message by the reference
//! Batchbook sent it with, so it leads straight to its delivery; repeated
//! and late receipts change nothing. Receipts Batchbook has no use for are
//! acknowledged, so the provider does not retry them.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use cqrs_es::persist::PersistedEventRepository;
use domain::ports::Receipt;
use domain::usecases::ReceiptError;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{ApiState, Problem};

/// The tokens providers put on their callbacks. A provider without one
/// configured has its callbacks refused.
#[derive(Debug, Clone, Default)]
pub struct CallbackTokens {
    /// The bearer token set on the GOV.UK Notify service's callbacks.
    pub govuk_notify: Option<String>,
    /// What NHS Notify signs its callbacks with.
    pub nhs_notify: Option<NhsNotifyCallbackKeys>,
}

/// NHS Notify sends the agreed API key in `x-api-key`, and signs the body:
/// `x-hmac-sha256-signature` is hex HMAC-SHA256 of the body under
/// `{application id}.{API key}`.
#[derive(Debug, Clone)]
pub struct NhsNotifyCallbackKeys {
    pub api_key: String,
    /// The NHS API platform application's id.
    pub application_id: String,
}

impl NhsNotifyCallbackKeys {
    /// The signature NHS Notify puts on `body`.
    pub fn signature(&self, body: &[u8]) -> String {
        hex::encode(self.mac(body).finalize().into_bytes())
    }

    fn mac(&self, body: &[u8]) -> Hmac<Sha256> {
        let secret = format!("{}.{}", self.application_id, self.api_key);
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(body);
        mac
    }

    /// Checks a signature in constant time.
    fn signed(&self, body: &[u8], signature: Option<&str>) -> bool {
        signature
            .and_then(|s| hex::decode(s.trim()).ok())
            .is_some_and(|given| self.mac(body).verify_slice(&given).is_ok())
    }
}

/// Compares digests, so the time taken says nothing about the token.
fn matches(given: Option<&str>, expected: Option<&String>) -> bool {
    match (given, expected) {
        (Some(given), Some(expected)) => {
            Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes())
        }
        _ => false,
    }
}

fn unauthorised() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthorised",
        "Not authorised",
        "the callback's token is missing or wrong",
    )
}

fn bad_callback(detail: &str) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
        "Check your request",
        detail,
    )
}

async fn record<R: PersistedEventRepository + 'static>(
    state: &ApiState<R>,
    receipts: Vec<Receipt>,
) -> Result<StatusCode, Problem> {
    for receipt in receipts {
        match state.app.record_receipt(receipt).await {
            Ok(()) => {}
            Err(ReceiptError::UnknownReference) => {
                tracing::warn!("receipt for a reference Batchbook did not give; ignored");
            }
            Err(ReceiptError::Retry(e)) => {
                return Err(domain::BatchbookError::Unavailable(e.to_string()).into())
            }
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// GOV.UK Notify's delivery receipts for SMS and email.
#[utoipa::path(
    post, path = "/v1/callbacks/govuk-notify", tag = "callbacks",
    request_body(content = Object, description = "GOV.UK Notify's delivery receipt, as Notify posts it: `reference` (the one Batchbook sent the message with), `status` (`delivered`, `permanent-failure`, `temporary-failure` or `technical-failure`; other statuses are not final and change nothing) and `completed_at`. Other fields are ignored"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Recorded, or of no use to Batchbook"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn govuk_notify<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, Problem> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !matches(token, state.callbacks.govuk_notify.as_ref()) {
        return Err(unauthorised());
    }
    let receipt = infra::notify::receipt_from_callback(&body, state.app.now())
        .map_err(|e| bad_callback(&e))?;
    record(&state, receipt.into_iter().collect()).await
}

/// NHS Notify's channel statuses for NHS App messages.
#[utoipa::path(
    post, path = "/v1/callbacks/nhs-notify", tag = "callbacks",
    request_body(content = Object, description = "NHS Notify's callback, a JSON:API document: `data`, a list of items whose `type` is `ChannelStatus` (others are not read) with `attributes.messageReference`, `channelStatus` (`delivered` or `failed`), `supplierStatus` (`read` once the patient opened it) and `timestamp`"),
    params(
        ("x-api-key" = String, Header, description = "The API key agreed with NHS Notify"),
        ("x-hmac-sha256-signature" = String, Header, description = "Hex HMAC-SHA256 of the body under `{application id}.{API key}`"),
    ),
    security(()),
    responses(
        (status = 204, description = "Recorded, or of no use to Batchbook"),
        (status = 401, description = "No API key, or the wrong one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The signature does not match the body", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn nhs_notify<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, Problem> {
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let Some(keys) = state
        .callbacks
        .nhs_notify
        .as_ref()
        .filter(|keys| matches(key, Some(&keys.api_key)))
    else {
        return Err(unauthorised());
    };
    let signature = headers
        .get("x-hmac-sha256-signature")
        .and_then(|v| v.to_str().ok());
    if !keys.signed(&body, signature) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "bad_signature",
            "Not signed by NHS Notify",
            "the callback's x-hmac-sha256-signature does not match its body",
        ));
    }
    let receipts = infra::nhs_notify::receipts_from_callback(&body, state.app.now())
        .map_err(|e| bad_callback(&e))?;
    record(&state, receipts).await
}

/// Provider callbacks: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(super::operation!(govuk_notify))
        .routes(super::operation!(nhs_notify))
}
