//! Local-only endpoints: the simulated providers' outboxes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use cqrs_es::persist::PersistedEventRepository;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiState, Authenticated, Problem};

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxEntry {
    /// The simulated provider's own id for the message, as a provider
    /// answers a send with one (GOV.UK Notify's notification `id`).
    pub reference: String,
    /// Batchbook's reference for the message, `<org>:<batch>:<row>:<channel>`:
    /// a retry with it sends nothing new, and a delivery callback quotes it
    /// (GOV.UK Notify's `reference`; NHS Notify's `messageReference` is a
    /// UUID derived from it).
    pub idempotency_key: String,
    /// SMS, email or the NHS App.
    pub channel: events::Channel,
    /// A mobile, an email address or an NHS number, by channel.
    pub to: String,
    /// The email's subject; absent for SMS and the NHS App.
    pub subject: Option<String>,
    /// The message as the patient received it, with their name and link
    /// filled in.
    pub body: String,
    /// When the provider accepted it.
    pub accepted_at: chrono::DateTime<chrono::Utc>,
}

/// Every message the simulated providers accepted for the caller's
/// organisation: SMS, email and NHS App (local runtime only). Messages
/// carry live links, so another organisation's are never shown.
#[utoipa::path(
    get, path = "/v1/dev/sms-outbox", tag = "local",
    responses(
        (status = 200, body = Vec<OutboxEntry>),
        (status = 404, description = "Not the local runtime", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sms_outbox<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Vec<OutboxEntry>>, Problem> {
    let not_here = || {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not found",
            "there is no simulated outbox here",
        )
    };
    let outbox = state.outbox.as_ref().ok_or_else(not_here)?;
    let messages = outbox
        .outbox()
        .await
        .map_err(domain::BatchbookError::from)?;
    // Every message is sent under a key that starts with its organisation.
    let ours = format!("{}:", caller.organisation_id);
    Ok(Json(
        messages
            .into_iter()
            .filter(|m| m.idempotency_key.starts_with(&ours))
            .map(|m| OutboxEntry {
                reference: m.reference,
                idempotency_key: m.idempotency_key,
                channel: m.channel,
                to: m.to,
                subject: m.subject,
                body: m.body,
                accepted_at: m.accepted_at,
            })
            .collect(),
    ))
}

/// Local-only: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new().routes(super::operation!(sms_outbox))
}
