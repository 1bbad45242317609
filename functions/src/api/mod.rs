//! The HTTP API: the contract with the staff frontend. One axum router,
//! served by `batchbook serve` locally and by the `api` Lambda on AWS.
//! `/openapi.json` is generated from these handlers.

mod attachments;
mod batches;
/// Strict request bodies and query strings: the one place they are read.
pub mod body;
mod callbacks;
mod dev;
mod invites;
mod links;
mod lists;
mod problem;
mod settings;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use cqrs_es::persist::PersistedEventRepository;
use domain::usecases::IdempotencyKey;
use domain::{Batchbook, Caller};
use infra::simulators::SimulatedProviders;
use utoipa::OpenApi;

use crate::identity::IdentitySource;
pub use callbacks::{CallbackTokens, NhsNotifyCallbackKeys};
pub use problem::Problem;

pub struct ApiState<R: PersistedEventRepository> {
    pub app: Arc<Batchbook<R>>,
    pub identity: IdentitySource,
    /// The simulated providers' outbox, served only by the local runtime.
    pub outbox: Option<Arc<SimulatedProviders>>,
    pub callbacks: CallbackTokens,
}

impl<R: PersistedEventRepository> Clone for ApiState<R> {
    fn clone(&self) -> Self {
        Self {
            app: self.app.clone(),
            identity: self.identity.clone(),
            outbox: self.outbox.clone(),
            callbacks: self.callbacks.clone(),
        }
    }
}

/// The authenticated caller of a request.
pub struct Authenticated(pub Caller);

impl<R: PersistedEventRepository + 'static> FromRequestParts<ApiState<R>> for Authenticated {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState<R>) -> Result<Self, Problem> {
        Ok(Self(state.identity.caller(parts)?))
    }
}

/// The optional `Idempotency-Key` header: a retried request with the same
/// key gets the first result.
pub struct IdempotencyKeyHeader(pub Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKeyHeader {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        match parts.headers.get("idempotency-key") {
            None => Ok(Self(None)),
            Some(value) => {
                let raw = value.to_str().unwrap_or_default();
                Ok(Self(Some(IdempotencyKey::parse(raw)?)))
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Batchbook API", description = "Batch messages and self-booking invites for GP practices. Every request acts for the organisation of the signed-in caller."),
    paths(
        lists::upload_list,
        lists::new_upload,
        lists::get_list,
        lists::list_progress,
        lists::not_contactable,
        settings::get_settings,
        settings::put_settings,
        batches::create_batch,
        batches::preview_batch,
        batches::get_batch,
        batches::send_batch,
        batches::cancel_batch,
        batches::failed_to_deliver,
        batches::revoke_links,
        batches::responses,
        batches::stop_series,
        links::open_link,
        links::verify_link,
        links::get_questionnaire,
        links::answer_questionnaire,
        links::get_attachment,
        invites::get_invite,
        invites::get_offers,
        invites::book,
        invites::decline,
        invites::cancel,
        invites::check_availability,
        invites::invite_patient,
        invites::booked,
        invites::not_booked,
        attachments::upload_attachment,
        callbacks::govuk_notify,
        callbacks::nhs_notify,
        dev::sms_outbox,
    ),
    components(schemas(Problem)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// A report as the API hands it over: the file, or on AWS a redirect to a
/// short-lived link.
pub(crate) fn csv_download(
    download: domain::usecases::Download,
    filename: &str,
) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    match download {
        domain::usecases::Download::Link(link) => {
            axum::response::Redirect::to(&link).into_response()
        }
        domain::usecases::Download::Inline(csv) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{filename}\""),
                ),
            ],
            csv,
        )
            .into_response(),
    }
}

pub fn router<R: PersistedEventRepository + 'static>(state: ApiState<R>) -> Router {
    let routes = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .route(
            "/v1/lists",
            post(lists::upload_list::<R>)
                .layer(DefaultBodyLimit::max(domain::lists::MAX_FILE_BYTES + 1)),
        )
        .route("/v1/lists/uploads", post(lists::new_upload::<R>))
        .route("/v1/lists/{list_id}", get(lists::get_list::<R>))
        .route(
            "/v1/lists/{list_id}/progress",
            get(lists::list_progress::<R>),
        )
        .route(
            "/v1/lists/{list_id}/not-contactable.csv",
            get(lists::not_contactable::<R>),
        )
        .route(
            "/v1/settings",
            get(settings::get_settings::<R>).put(settings::put_settings::<R>),
        )
        .route("/v1/batches", post(batches::create_batch::<R>))
        .route("/v1/batches/preview", post(batches::preview_batch::<R>))
        .route("/v1/batches/{batch_id}", get(batches::get_batch::<R>))
        .route(
            "/v1/batches/{batch_id}/send",
            post(batches::send_batch::<R>),
        )
        .route(
            "/v1/batches/{batch_id}/cancel",
            post(batches::cancel_batch::<R>),
        )
        .route(
            "/v1/batches/{batch_id}/failed-to-deliver.csv",
            get(batches::failed_to_deliver::<R>),
        )
        .route(
            "/v1/batches/{batch_id}/series/stop",
            post(batches::stop_series::<R>),
        )
        .route(
            "/v1/batches/{batch_id}/responses.csv",
            get(batches::responses::<R>),
        )
        .route(
            "/v1/batches/{batch_id}/links/revoke",
            post(batches::revoke_links::<R>),
        )
        .route("/v1/links/{token}", get(links::open_link::<R>))
        .route("/v1/links/{token}/verify", post(links::verify_link::<R>))
        .route(
            "/v1/links/{token}/questionnaire",
            get(links::get_questionnaire::<R>).post(links::answer_questionnaire::<R>),
        )
        .route(
            "/v1/links/{token}/attachment",
            get(links::get_attachment::<R>),
        )
        .route("/v1/links/{token}/invite", get(invites::get_invite::<R>))
        .route("/v1/links/{token}/slots", get(invites::get_offers::<R>))
        .route("/v1/links/{token}/booking", post(invites::book::<R>))
        .route("/v1/links/{token}/decline", post(invites::decline::<R>))
        .route(
            "/v1/links/{token}/booking/cancel",
            post(invites::cancel::<R>),
        )
        .route(
            "/v1/batches/{batch_id}/booked.csv",
            get(invites::booked::<R>),
        )
        .route(
            "/v1/batches/{batch_id}/not-booked.csv",
            get(invites::not_booked::<R>),
        )
        .route("/v1/invites", post(invites::invite_patient::<R>))
        .route(
            "/v1/self-book/availability",
            post(invites::check_availability::<R>),
        )
        .route(
            "/v1/attachments",
            post(attachments::upload_attachment::<R>).layer(DefaultBodyLimit::max(
                domain::usecases::MAX_ATTACHMENT_BYTES + 1,
            )),
        )
        .route(
            "/v1/callbacks/govuk-notify",
            post(callbacks::govuk_notify::<R>),
        )
        .route("/v1/callbacks/nhs-notify", post(callbacks::nhs_notify::<R>))
        .route("/v1/dev/sms-outbox", get(dev::sms_outbox::<R>))
        .fallback(problem::no_such_route)
        .layer(DefaultBodyLimit::max(body::JSON_BODY_LIMIT))
        .with_state(state);
    // Around the whole router, not each route: the framework's own
    // refusals (405 with its `Allow` header) are finished too.
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::map_response(problem::finish))
}
