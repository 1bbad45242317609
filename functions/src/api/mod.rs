//! The HTTP API: the contract with the staff frontend. One axum router,
//! served by `batchbook serve` locally and by the `api` Lambda on AWS.
//! `/openapi.json` is generated from these handlers.

mod attachments;
mod audit;
mod batches;
/// Strict request bodies and query strings: the one place they are read.
pub mod body;
mod callbacks;
mod contract;
pub(crate) mod conversations;
mod dev;
mod links;
mod lists;
mod patients;
mod problem;
mod selfbook;
mod settings;
mod templates;
mod workspaces;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use cqrs_es::persist::PersistedEventRepository;
use domain::usecases::IdempotencyKey;
use domain::{Batchbook, Caller};
use infra::simulators::SimulatedProviders;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::identity::IdentitySource;
pub use callbacks::{CallbackTokens, NhsNotifyCallbackKeys};
pub(crate) use links::content_disposition;
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

/// A person signed in to Batchbook.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct UserResponse {
    /// Their stable id, from their sign-in; filter batches by it with
    /// `created_by`.
    pub user_id: String,
    /// Their name as their sign-in gives it.
    pub name: String,
}

pub(crate) fn user(id: Option<String>, name: Option<String>) -> Option<UserResponse> {
    id.map(|user_id| UserResponse {
        name: name.unwrap_or_else(|| user_id.clone()),
        user_id,
    })
}

/// A page of a list: where to start, and how many.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// The `next` of the page before.
    #[serde(default)]
    pub cursor: Option<String>,
    /// How many to a page: 1 to 100; 25 when left out.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
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

/// One operation: its handler, routed at the method and path its own
/// `#[utoipa::path]` declares, and that declaration added to the OpenAPI
/// document. A route and its documentation are one thing, so they cannot
/// drift. (utoipa-axum's `routes!` cannot name a generic handler.)
pub(crate) fn operation_route<P, H, T, S>(handler: H) -> UtoipaMethodRouter<S>
where
    P: utoipa::Path + utoipa::__dev::SchemaReferences + utoipa::__dev::Tags<'static>,
    H: axum::handler::Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    use utoipa_axum::PathItemExt;
    let mut schemas = Vec::new();
    P::schemas(&mut schemas);
    let methods = P::methods();
    let mut operation = P::operation();
    let writes = methods
        .iter()
        .any(|m| !matches!(m, utoipa::openapi::HttpMethod::Get));
    problem::document_refusals(&mut operation, writes);
    let tags = P::tags();
    if !tags.is_empty() {
        operation
            .tags
            .get_or_insert_with(Vec::new)
            .extend(tags.iter().map(ToString::to_string));
    }
    let router = methods
        .iter()
        .fold(axum::routing::MethodRouter::new(), |router, method| {
            router.on(method.to_method_filter(), handler.clone())
        });
    let mut paths = utoipa::openapi::path::Paths::new();
    paths.add_path_operation(P::path(), methods, operation);
    (schemas, paths, router)
}

/// `operation!(handler)`: [`operation_route`] for a handler of this module,
/// generic over the event repository `R` in scope.
macro_rules! operation {
    ($handler:ident) => {
        paste::paste! {
            $crate::api::operation_route::<[<__path_ $handler>], _, _, _>($handler::<R>)
        }
    };
}
pub(crate) use operation;

/// An operation whose body may be larger than a JSON body: a file.
pub(crate) fn with_limit<S>(
    (schemas, paths, router): UtoipaMethodRouter<S>,
    limit: usize,
) -> UtoipaMethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    (schemas, paths, router.layer(DefaultBodyLimit::max(limit)))
}

/// The API's routes, each module's own, and the OpenAPI document they make.
pub fn routes<R: PersistedEventRepository + 'static>(
) -> (Router<ApiState<R>>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(lists::routes())
        .merge(audit::routes())
        .merge(settings::routes())
        .merge(batches::routes())
        .merge(links::routes())
        .merge(selfbook::routes())
        .merge(attachments::routes())
        .merge(templates::routes())
        .merge(patients::routes())
        .merge(workspaces::routes())
        .merge(conversations::routes())
        .merge(callbacks::routes())
        .merge(dev::routes())
        .split_for_parts()
}

/// `listener` with Nagle's algorithm off on every connection it accepts,
/// for `batchbook serve`. A page goes out compressed, in chunks, and with
/// Nagle's algorithm on, its last small chunk waits until the patient's
/// phone acknowledges the one before, which a phone may hold back for its
/// delayed-ACK time (40 ms on Linux) on every page.
pub fn without_delay(
    listener: tokio::net::TcpListener,
) -> impl axum::serve::Listener<Io = tokio::net::TcpStream, Addr = std::net::SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|connection| {
        if let Err(e) = connection.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY could not be set on a connection");
        }
    })
}

pub fn router<R: PersistedEventRepository + 'static>(state: ApiState<R>) -> Router {
    let (routes, openapi) = routes::<R>();
    let openapi = std::sync::Arc::new(contract::document(&openapi));
    let routes = routes
        .route("/health", get(|| async { "ok" }))
        .route(
            "/openapi.json",
            get(move || {
                let openapi = openapi.clone();
                async move { Json(openapi.as_ref().clone()) }
            }),
        )
        .merge(crate::pages::routes())
        .fallback(problem::no_such_route)
        .layer(DefaultBodyLimit::max(body::JSON_BODY_LIMIT))
        .with_state(state);
    // Around the whole router, not each route: the framework's own
    // refusals (405 with its `Allow` header) are finished too.
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::map_response(problem::finish))
}
