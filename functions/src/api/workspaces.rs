//! Workspaces: teams inside an organisation whose approved members share
//! one inbox. Admins create them and approve and remove members; staff see
//! every workspace of their organisation, whether they are a member, and
//! switch between those they belong to by naming one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use cqrs_es::persist::PersistedEventRepository;
use domain::usecases::WorkspaceView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{JsonBody, NoBody, StrictQuery};
use super::{ApiState, Authenticated, PageParams, Problem};

/// A new workspace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceRequest {
    /// What the team is called, e.g. `Dermatology`: one line, at most 100
    /// characters.
    pub name: String,
}

/// A member to approve.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRequest {
    /// Their name as colleagues see it: one line, at most 100 characters.
    pub name: String,
    /// Where they are emailed when a patient replies to a conversation
    /// assigned to them; without it they are told in the app only.
    #[serde(default)]
    pub email: Option<String>,
}

/// A member of a workspace.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct MemberResponse {
    /// Their id, as their sign-in gives it.
    pub user_id: String,
    /// Their name as colleagues see it.
    pub name: String,
    /// Where they are emailed of patients' replies; absent when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A workspace and its members.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct WorkspaceResponse {
    /// Name it in the workspace's own routes to work in it.
    pub workspace_id: String,
    /// What the team is called.
    pub name: String,
    /// By user id.
    pub members: Vec<MemberResponse>,
    /// Whether the caller is a member, and so sees its inbox.
    pub is_member: bool,
}

impl From<WorkspaceView> for WorkspaceResponse {
    fn from(w: WorkspaceView) -> Self {
        Self {
            workspace_id: w.workspace_id,
            name: w.name,
            members: w
                .members
                .into_iter()
                .map(|(user_id, name)| MemberResponse {
                    email: w.emails.get(&user_id).cloned(),
                    user_id,
                    name,
                })
                .collect(),
            is_member: w.is_member,
        }
    }
}

/// A page of workspaces, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkspacePage {
    /// At most `limit` of them.
    pub workspaces: Vec<WorkspaceResponse>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next: Option<String>,
}

/// Create a workspace (admins only). Its creator is not a member until
/// added.
#[utoipa::path(
    post, path = "/v1/workspaces", tag = "workspaces",
    request_body = WorkspaceRequest,
    responses(
        (status = 201, body = WorkspaceResponse),
        (status = 422, description = "`detail` names the field and why: a `name` that is blank, more than one line or longer than 100 characters", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_workspace<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<WorkspaceRequest>,
) -> Result<(StatusCode, Json<WorkspaceResponse>), Problem> {
    let made = state.app.create_workspace(&caller, &request.name).await?;
    Ok((StatusCode::CREATED, Json(made.into())))
}

/// The organisation's workspaces, newest first, each saying whether the
/// caller is a member.
#[utoipa::path(
    get, path = "/v1/workspaces", tag = "workspaces",
    params(PageParams),
    responses(
        (status = 200, body = WorkspacePage),
        (status = 422, description = "A cursor this API did not give, or a limit outside 1 to 100", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_workspaces<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    StrictQuery(params): StrictQuery<PageParams>,
) -> Result<Json<WorkspacePage>, Problem> {
    let page = state
        .app
        .workspaces(&caller, params.cursor.as_deref(), params.limit)
        .await?;
    Ok(Json(WorkspacePage {
        workspaces: page.items.into_iter().map(Into::into).collect(),
        next: page.next,
    }))
}

/// One workspace of the organisation, with its members.
#[utoipa::path(
    get, path = "/v1/workspaces/{workspace_id}", tag = "workspaces",
    params(("workspace_id" = String, Path, description = "The workspace's id")),
    responses((status = 200, body = WorkspaceResponse))
)]
pub async fn get_workspace<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(workspace_id): Path<String>,
) -> Result<Json<WorkspaceResponse>, Problem> {
    Ok(Json(
        state.app.workspace(&caller, &workspace_id).await?.into(),
    ))
}

/// Approve a member of a workspace (admins only); one already a member is
/// left as they are, so a retried request adds them once.
#[utoipa::path(
    put, path = "/v1/workspaces/{workspace_id}/members/{user_id}", tag = "workspaces",
    params(
        ("workspace_id" = String, Path, description = "The workspace's id"),
        ("user_id" = String, Path, description = "The member's id, as their sign-in gives it: 1 to 64 letters, digits, `.`, `_`, `@` or `-`"),
    ),
    request_body = MemberRequest,
    responses(
        (status = 200, body = WorkspaceResponse),
        (status = 422, description = "`detail` names the field and why: a `user_id` a sign-in would not give, a `name` that is blank, more than one line or too long, or an `email` that is not an email address", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_member<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path((workspace_id, user_id)): Path<(String, String)>,
    JsonBody(request): JsonBody<MemberRequest>,
) -> Result<Json<WorkspaceResponse>, Problem> {
    Ok(Json(
        state
            .app
            .add_member(
                &caller,
                &workspace_id,
                &user_id,
                &request.name,
                request.email.as_deref(),
            )
            .await?
            .into(),
    ))
}

/// Remove a member of a workspace (admins only).
#[utoipa::path(
    delete, path = "/v1/workspaces/{workspace_id}/members/{user_id}", tag = "workspaces",
    params(
        ("workspace_id" = String, Path, description = "The workspace's id"),
        ("user_id" = String, Path, description = "The member's id"),
    ),
    responses(
        (status = 200, body = WorkspaceResponse),
        (status = 422, description = "A `user_id` a sign-in would not give", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_member<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path((workspace_id, user_id)): Path<(String, String)>,
    _: NoBody,
) -> Result<Json<WorkspaceResponse>, Problem> {
    Ok(Json(
        state
            .app
            .remove_member(&caller, &workspace_id, &user_id)
            .await?
            .into(),
    ))
}

/// Workspaces: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(super::operation!(create_workspace))
        .routes(super::operation!(list_workspaces))
        .routes(super::operation!(get_workspace))
        .routes(super::operation!(add_member))
        .routes(super::operation!(remove_member))
}
