//! Message templates ("Manage Templates"): personal ones, and ones shared
//! with the organisation. A batch names one as `template_id` to copy its
//! words.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use domain::template::SmsEncoding;
use domain::usecases::{TemplateDraft, TemplateView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{JsonBody, NoBody};
use super::{ApiState, Authenticated, Problem, UserResponse};

/// A template as staff write it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    /// What staff call it in the dropdown: one line, at most 100 characters.
    pub name: String,
    /// The message. `((name))` becomes the patient's given name and
    /// `((link))` their link; no other placeholder is known. At most 918
    /// characters (6 text fragments) once filled in with a 35-character
    /// name and the link.
    pub body: String,
    /// For patients sent it by email: one line, at most 200 characters.
    #[serde(default)]
    pub email_subject: Option<String>,
    /// "Share template with your organisation": every colleague can use
    /// it, and only admins change it. Sharing needs the admin role; a
    /// shared template stays shared.
    #[serde(default)]
    pub shared: bool,
}

impl TemplateRequest {
    fn draft(self) -> (TemplateDraft, bool) {
        (
            TemplateDraft {
                name: self.name,
                body: self.body,
                email_subject: self.email_subject,
            },
            self.shared,
        )
    }
}

/// A template's length once filled in, as the networks count it.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct TemplateLength {
    /// Any character outside the GSM alphabet (such as the Welsh ŵ) makes
    /// the whole message UCS-2.
    pub encoding: SmsEncoding,
    /// Characters, filled in with a 35-character name and the link.
    pub characters: usize,
    /// Text message fragments: 160 then 153 each in GSM-7; 70 then 67 in
    /// UCS-2.
    pub fragments: usize,
}

/// A template, as "Manage Templates" shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TemplateResponse {
    /// Name it as `template_id` when creating a batch.
    pub template_id: String,
    /// What staff call it.
    pub name: String,
    /// The message, placeholders and all.
    pub body: String,
    /// For patients sent it by email.
    pub email_subject: Option<String>,
    /// Whether it is shared with the organisation.
    pub shared: bool,
    /// Who wrote it.
    pub owner: UserResponse,
    /// 1 when written, one more with each edit; a batch records the version
    /// it copied.
    pub version: u32,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Its length once filled in.
    pub length: TemplateLength,
}

impl From<TemplateView> for TemplateResponse {
    fn from(v: TemplateView) -> Self {
        Self {
            template_id: v.template_id,
            name: v.text.name,
            body: v.text.body,
            email_subject: v.text.email_subject,
            shared: v.shared,
            owner: UserResponse {
                user_id: v.owner,
                name: v.owner_name,
            },
            version: v.version,
            updated_at: v.updated_at,
            length: TemplateLength {
                encoding: v.sms.encoding,
                characters: v.sms.characters,
                fragments: v.sms.fragments,
            },
        }
    }
}

/// "My templates" and "Shared templates".
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TemplateListsResponse {
    /// The caller's personal templates, newest first.
    pub mine: Vec<TemplateResponse>,
    /// The organisation's shared templates, newest first.
    pub shared: Vec<TemplateResponse>,
}

/// The templates the caller can use: their own, and the shared ones.
#[utoipa::path(
    get, path = "/v1/templates", tag = "templates",
    responses((status = 200, body = TemplateListsResponse))
)]
pub async fn list_templates<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<TemplateListsResponse>, Problem> {
    let lists = state.app.templates(&caller).await?;
    Ok(Json(TemplateListsResponse {
        mine: lists.mine.into_iter().map(Into::into).collect(),
        shared: lists.shared.into_iter().map(Into::into).collect(),
    }))
}

/// Write a template: the caller's own, or (admins) shared.
#[utoipa::path(
    post, path = "/v1/templates", tag = "templates",
    request_body = TemplateRequest,
    responses(
        (status = 201, body = TemplateResponse),
        (status = 403, description = "`role_needed`: sharing needs the admin role; an auditor writes none", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`detail` names the field and why: an unknown placeholder, too long once filled in, no name", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_template<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<TemplateRequest>,
) -> Result<(StatusCode, Json<TemplateResponse>), Problem> {
    let (draft, shared) = request.draft();
    let view = state.app.create_template(&caller, draft, shared).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// One template the caller can use.
#[utoipa::path(
    get, path = "/v1/templates/{template_id}", tag = "templates",
    params(("template_id" = String, Path, description = "The template's id")),
    responses(
        (status = 200, body = TemplateResponse),
        (status = 404, description = "No such template of the caller's, or shared with them", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_template<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(template_id): Path<String>,
) -> Result<Json<TemplateResponse>, Problem> {
    Ok(Json(
        state.app.template(&caller, &template_id).await?.into(),
    ))
}

/// Change a template's words (a new version; batches already made keep
/// theirs), or share a personal one.
#[utoipa::path(
    put, path = "/v1/templates/{template_id}", tag = "templates",
    params(("template_id" = String, Path, description = "The template's id")),
    request_body = TemplateRequest,
    responses(
        (status = 200, body = TemplateResponse),
        (status = 403, description = "`not_your_template`: it is a colleague's personal template; `role_needed`: a shared template, or sharing, needs the admin role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such template in the caller's organisation", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`detail` names the field and why: an unknown placeholder, too long once filled in, or unsharing a shared template", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn edit_template<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(template_id): Path<String>,
    JsonBody(request): JsonBody<TemplateRequest>,
) -> Result<Json<TemplateResponse>, Problem> {
    let (draft, shared) = request.draft();
    let view = state
        .app
        .edit_template(&caller, &template_id, draft, shared)
        .await?;
    Ok(Json(view.into()))
}

/// Delete a template. Batches made from it keep their words.
#[utoipa::path(
    delete, path = "/v1/templates/{template_id}", tag = "templates",
    params(("template_id" = String, Path, description = "The template's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`not_your_template`: it is a colleague's personal template; `role_needed`: a shared template needs the admin role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such template in the caller's organisation", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_template<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(template_id): Path<String>,
    _: NoBody,
) -> Result<StatusCode, Problem> {
    state.app.delete_template(&caller, &template_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Templates: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(super::operation!(list_templates))
        .routes(super::operation!(create_template))
        .routes(super::operation!(get_template))
        .routes(super::operation!(edit_template))
        .routes(super::operation!(delete_template))
}
