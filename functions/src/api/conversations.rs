//! Conversations: staff in a workspace message one patient by SMS or
//! email, optionally letting the patient reply once through a patient
//! page; assign the conversation to a colleague or the team; mark it done
//! or reopen it. Only members of the conversation's workspace see it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use cqrs_es::persist::PersistedEventRepository;
use domain::usecases::conversations::{
    AssignTo, ConversationState, ConversationView, MessageView, NewConversation, NewMessage,
};
use domain::usecases::inbox::{InboxRequest, InboxView};
use events::{Assignee, Channel};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{JsonBody, NoBody};
use super::{ApiState, Authenticated, IdempotencyKeyHeader, Problem};

/// A new conversation with one patient, and its first message.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartConversationRequest {
    /// The workspace the conversation belongs to; the caller must be a
    /// member. Only its members will see the conversation.
    pub workspace_id: String,
    /// The patient's NHS number: ten digits, the last a check digit.
    pub nhs_number: String,
    /// The patient's date of birth, which PDS must hold for that NHS
    /// number: `1947-04-08`, or day first (`08/04/1947`).
    pub date_of_birth: String,
    /// `sms` (to the patient's current mobile in PDS) or `email` (to their
    /// current email address).
    pub channel: Channel,
    /// For an email: one line, at most 200 characters. A text message has
    /// none.
    #[serde(default)]
    pub subject: Option<String>,
    /// The message. A text message, with its reply link when a reply is
    /// allowed, is at most 918 characters (6 fragments); an email at most
    /// 10,000.
    pub body: String,
    /// Let the patient reply once, through a link in the message, after
    /// confirming their date of birth. The reply never shows staff contact
    /// details. How long and how late a reply may be are the organisation's
    /// `replies` settings.
    #[serde(default)]
    pub allow_reply: bool,
    /// An attachment uploaded with `POST /v1/attachments`: the patient
    /// opens it through the message's link for 30 days, after the same
    /// date-of-birth check.
    #[serde(default)]
    pub attachment_id: Option<String>,
}

/// Another message in a conversation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    /// `sms` or `email`, to the patient's current contact details in PDS.
    pub channel: Channel,
    /// For an email: one line, at most 200 characters.
    #[serde(default)]
    pub subject: Option<String>,
    /// The message; as for starting a conversation.
    pub body: String,
    /// Let the patient reply once to this message.
    #[serde(default)]
    pub allow_reply: bool,
    /// An attachment uploaded with `POST /v1/attachments`, opened through
    /// the message's link.
    #[serde(default)]
    pub attachment_id: Option<String>,
}

/// Who to assign a conversation to: give exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// A member of the conversation's workspace, by user id.
    #[serde(default)]
    pub user_id: Option<String>,
    /// `true`: the workspace's team as a whole.
    #[serde(default)]
    pub team: Option<bool>,
}

/// Who a conversation is assigned to.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AssigneeResponse {
    /// `user` or `team`.
    pub kind: String,
    /// For `user`: their id.
    pub user_id: Option<String>,
    /// For `team`: the workspace whose team it is.
    pub workspace_id: Option<String>,
}

/// Who the conversation is about.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ConversationPatientResponse {
    /// Ten digits.
    pub nhs_number: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: chrono::NaiveDate,
    /// As PDS gave it when the conversation started.
    pub given_name: Option<String>,
    /// As PDS gave it when the conversation started.
    pub family_name: Option<String>,
}

/// The patient's reply.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ReplyResponse {
    /// What the patient wrote.
    pub text: String,
    /// When.
    pub replied_at: chrono::DateTime<chrono::Utc>,
}

/// One message to the patient.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct MessageResponse {
    /// Its number in the conversation, from 1.
    pub message: u32,
    /// `sms` or `email`.
    pub channel: Channel,
    /// An email's subject.
    pub subject: Option<String>,
    /// The words staff wrote; the patient's copy also carries the reply
    /// link when a reply is allowed.
    pub body: String,
    /// `not_sent` (waiting to go, or for the sending window), `sent`,
    /// `delivered` or `failed`, as the provider reports.
    pub status: String,
    /// When it was written.
    pub written_at: chrono::DateTime<chrono::Utc>,
    /// When the provider took it.
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether the patient may reply once.
    pub reply_allowed: bool,
    /// When a reply is no longer taken.
    pub reply_until: Option<chrono::DateTime<chrono::Utc>>,
    /// The patient's reply, once they have sent it.
    pub reply: Option<ReplyResponse>,
    /// The attached file's name; `null` when none.
    pub attachment: Option<String>,
    /// The questionnaire batch that sent it, when it is that batch's
    /// message and the reply is the patient's answers; `null` otherwise.
    pub from_batch: Option<String>,
    /// When the patient first opened the attachment.
    pub attachment_opened_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A conversation with one patient.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ConversationResponse {
    /// Name it in the conversation's own routes.
    pub conversation_id: String,
    /// The workspace whose members see it.
    pub workspace_id: String,
    /// Who it is about.
    pub patient: ConversationPatientResponse,
    /// `open` or `done`; a reply from the patient opens it again.
    pub state: String,
    /// Who it is assigned to; `null` until assigned.
    pub assignee: Option<AssigneeResponse>,
    /// When it started.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Every message, first first.
    pub messages: Vec<MessageResponse>,
}

fn status_name(status: domain::aggregates::DeliveryStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl From<MessageView> for MessageResponse {
    fn from(m: MessageView) -> Self {
        Self {
            message: m.message,
            channel: m.channel,
            subject: m.subject,
            body: m.body,
            status: status_name(m.status),
            written_at: m.written_at,
            sent_at: m.sent_at,
            reply_allowed: m.reply_allowed,
            reply_until: m.reply_until,
            reply: m.reply.map(|r| ReplyResponse {
                text: r.text,
                replied_at: r.replied_at,
            }),
            attachment: m.attachment,
            from_batch: m.from_batch,
            attachment_opened_at: m.attachment_opened_at,
        }
    }
}

impl From<ConversationView> for ConversationResponse {
    fn from(c: ConversationView) -> Self {
        Self {
            conversation_id: c.conversation_id,
            workspace_id: c.workspace_id,
            patient: ConversationPatientResponse {
                nhs_number: c.patient.nhs_number,
                date_of_birth: c.patient.date_of_birth,
                given_name: c.patient.given_name,
                family_name: c.patient.family_name,
            },
            state: state_name(c.state),
            assignee: c.assignee.map(assignee_response),
            started_at: c.started_at,
            messages: c.messages.into_iter().map(Into::into).collect(),
        }
    }
}

fn request_bytes(request: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(request).unwrap_or_default()
}

/// Start a conversation with one patient, found in PDS by NHS number and
/// date of birth, with its first message. The message is sent by the
/// workers within the organisation's sending window (emails at once).
#[utoipa::path(
    post, path = "/v1/conversations", tag = "conversations",
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry with the same key to get the same conversation, and the patient messaged once")),
    request_body = StartConversationRequest,
    responses(
        (status = 201, description = "Started: the conversation, as `GET /v1/conversations/{conversation_id}` now shows it", body = ConversationResponse),
        (status = 404, description = "`patient_not_found`: PDS holds no patient with this NHS number and date of birth; `workspace_not_found`: no such workspace in the organisation", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_in_workspace`: the caller is not a member of the workspace", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`detail` names the field and why: `nhs_number`, `date_of_birth`, `channel` (the patient has no mobile or email in PDS), `subject` or `body` (blank, or too long)", body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "`no_demographics`: this deployment has no demographics service", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn start_conversation<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    JsonBody(request): JsonBody<StartConversationRequest>,
) -> Result<(StatusCode, Json<ConversationResponse>), Problem> {
    let bytes = request_bytes(&request);
    let started = state
        .app
        .start_conversation(
            &caller,
            NewConversation {
                workspace_id: request.workspace_id,
                nhs_number: request.nhs_number,
                date_of_birth: request.date_of_birth,
                message: NewMessage {
                    channel: request.channel,
                    subject: request.subject,
                    body: request.body,
                    allow_reply: request.allow_reply,
                    attachment_id: request.attachment_id,
                },
            },
            key.as_ref(),
            &bytes,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(started.into())))
}

/// One conversation, with every message and reply.
#[utoipa::path(
    get, path = "/v1/conversations/{conversation_id}", tag = "conversations",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = ConversationResponse))
)]
pub async fn get_conversation<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(conversation_id): Path<String>,
) -> Result<Json<ConversationResponse>, Problem> {
    Ok(Json(
        state
            .app
            .conversation(&caller, &conversation_id)
            .await?
            .into(),
    ))
}

/// Send another message in a conversation, to the patient's current
/// contact details in PDS.
#[utoipa::path(
    post, path = "/v1/conversations/{conversation_id}/messages", tag = "conversations",
    params(
        ("conversation_id" = String, Path, description = "The conversation's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry with the same key to have the message written, and sent, once"),
    ),
    request_body = MessageRequest,
    responses(
        (status = 201, description = "Written: the conversation with the new message", body = ConversationResponse),
        (status = 422, description = "`detail` names the field and why, as for starting a conversation", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_message<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    Path(conversation_id): Path<String>,
    JsonBody(request): JsonBody<MessageRequest>,
) -> Result<(StatusCode, Json<ConversationResponse>), Problem> {
    let bytes = request_bytes(&request);
    let view = state
        .app
        .continue_conversation(
            &caller,
            &conversation_id,
            NewMessage {
                channel: request.channel,
                subject: request.subject,
                body: request.body,
                allow_reply: request.allow_reply,
                attachment_id: request.attachment_id,
            },
            key.as_ref(),
            &bytes,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// Assign a conversation to a member of its workspace, or to the team.
#[utoipa::path(
    put, path = "/v1/conversations/{conversation_id}/assignee", tag = "conversations",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    request_body = AssignRequest,
    responses(
        (status = 200, body = ConversationResponse),
        (status = 422, description = "Neither or both of `user_id` and `team`, `team` other than `true`, or a `user_id` who is not a member of the workspace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn assign<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(conversation_id): Path<String>,
    JsonBody(request): JsonBody<AssignRequest>,
) -> Result<Json<ConversationResponse>, Problem> {
    let assignee = match (request.user_id, request.team) {
        (Some(user_id), None) => AssignTo::User(user_id),
        (None, Some(true)) => AssignTo::Team,
        (None, Some(false)) => return Err(Problem::invalid_request(
            "team: give `true` to assign the conversation to the team, or give `user_id` instead",
        )),
        _ => {
            return Err(Problem::invalid_request(
                "give exactly one of `user_id` (a member) and `team` (`true`)",
            ))
        }
    };
    Ok(Json(
        state
            .app
            .assign_conversation(&caller, &conversation_id, assignee)
            .await?
            .into(),
    ))
}

/// Mark a conversation done. A reply from the patient opens it again.
#[utoipa::path(
    post, path = "/v1/conversations/{conversation_id}/done", tag = "conversations",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = ConversationResponse))
)]
pub async fn mark_done<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(conversation_id): Path<String>,
    _: NoBody,
) -> Result<Json<ConversationResponse>, Problem> {
    Ok(Json(
        state
            .app
            .set_conversation_done(&caller, &conversation_id, true)
            .await?
            .into(),
    ))
}

/// Reopen a conversation that was marked done.
#[utoipa::path(
    post, path = "/v1/conversations/{conversation_id}/reopen", tag = "conversations",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = ConversationResponse))
)]
pub async fn reopen<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(conversation_id): Path<String>,
    _: NoBody,
) -> Result<Json<ConversationResponse>, Problem> {
    Ok(Json(
        state
            .app
            .set_conversation_done(&caller, &conversation_id, false)
            .await?
            .into(),
    ))
}

/// Which inbox list to read.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InboxListName {
    AssignedToMe,
    SentByMe,
    AssignedTo,
    Team,
    All,
}

/// `open` or `done`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StateFilter {
    Open,
    Done,
}

/// Which conversations of a workspace's inbox to list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboxRequestBody {
    /// `assigned_to_me`, `sent_by_me` (the caller wrote in it),
    /// `assigned_to` (a colleague: give `user_id`), `team` (assigned to
    /// the workspace's team) or `all`.
    pub list: InboxListName,
    /// For `assigned_to`: the colleague, a member of the workspace.
    #[serde(default)]
    pub user_id: Option<String>,
    /// One patient's conversations: with `all` ("All conversations" with
    /// the patient) or `sent_by_me` ("My conversations" with them). In the
    /// body, never the address, so it stays out of logs.
    #[serde(default)]
    pub nhs_number: Option<String>,
    /// Only `open` or only `done` conversations.
    #[serde(default)]
    pub state: Option<StateFilter>,
    /// Only conversations the patient replied to since the caller last read
    /// them.
    #[serde(default)]
    pub unread: bool,
    /// The `next` of the page before.
    #[serde(default)]
    pub cursor: Option<String>,
    /// 1 to 100; 25 unless given.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One conversation as an inbox list shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct InboxEntryResponse {
    /// Its id, for `GET /v1/conversations/{conversation_id}`.
    pub conversation_id: String,
    /// Who it is about.
    pub patient: ConversationPatientResponse,
    /// `open` or `done`.
    pub state: String,
    /// Who it is assigned to; `null` until assigned.
    pub assignee: Option<AssigneeResponse>,
    /// The patient replied since the caller last read it.
    pub unread: bool,
    /// Messages to the patient so far.
    pub messages: u32,
    /// Replies from the patient so far.
    pub replies: u32,
    /// When it started.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// The last message or reply: lists are newest first by this.
    pub last_activity_at: chrono::DateTime<chrono::Utc>,
}

/// A page of an inbox list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InboxResponse {
    /// At most `limit` of them, newest activity first.
    pub conversations: Vec<InboxEntryResponse>,
    /// How many conversations of the whole list (open or done) are unread
    /// for the caller: the count to show beside the list's name.
    pub unread: u64,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next: Option<String>,
}

fn assignee_response(a: Assignee) -> AssigneeResponse {
    match a {
        Assignee::User { user_id } => AssigneeResponse {
            kind: "user".into(),
            user_id: Some(user_id),
            workspace_id: None,
        },
        Assignee::Team { workspace_id } => AssigneeResponse {
            kind: "team".into(),
            user_id: None,
            workspace_id: Some(workspace_id),
        },
    }
}

fn state_name(state: ConversationState) -> String {
    match state {
        ConversationState::Open => "open",
        ConversationState::Done => "done",
    }
    .to_owned()
}

/// One page of a list of the workspace's inbox, for a member: "Assigned to
/// me", "Sent by me", a colleague's, the team's, or all; or a patient's
/// conversations, all or the caller's. A POST, so that an NHS number never
/// sits in an address.
#[utoipa::path(
    post, path = "/v1/workspaces/{workspace_id}/inbox", tag = "conversations",
    params(("workspace_id" = String, Path, description = "The workspace's id")),
    request_body = InboxRequestBody,
    responses(
        (status = 200, body = InboxResponse),
        (status = 403, description = "`not_in_workspace`: the caller is not a member", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`detail` names the field and why: `user_id` missing for `assigned_to` (or given without it, or not a member), `nhs_number` with a list other than `all` or `sent_by_me` or not a valid NHS number, a `cursor` this API did not give, or a `limit` outside 1 to 100", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn inbox<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(workspace_id): Path<String>,
    JsonBody(request): JsonBody<InboxRequestBody>,
) -> Result<Json<InboxResponse>, Problem> {
    let view = match (request.list, request.user_id) {
        (InboxListName::AssignedTo, Some(user)) => InboxView::AssignedTo(user),
        (InboxListName::AssignedTo, None) => {
            return Err(Problem::invalid_request(
                "user_id: give the colleague whose conversations to list",
            ))
        }
        (_, Some(_)) => {
            return Err(Problem::invalid_request(
                "user_id: only with the list `assigned_to`",
            ))
        }
        (InboxListName::AssignedToMe, None) => InboxView::AssignedToMe,
        (InboxListName::SentByMe, None) => InboxView::SentByMe,
        (InboxListName::Team, None) => InboxView::Team,
        (InboxListName::All, None) => InboxView::All,
    };
    let page = state
        .app
        .inbox(
            &caller,
            &workspace_id,
            InboxRequest {
                view,
                nhs_number: request.nhs_number,
                state: request.state.map(|s| match s {
                    StateFilter::Open => ConversationState::Open,
                    StateFilter::Done => ConversationState::Done,
                }),
                unread: request.unread,
                cursor: request.cursor,
                limit: request.limit,
            },
        )
        .await?;
    Ok(Json(InboxResponse {
        conversations: page
            .conversations
            .into_iter()
            .map(|c| InboxEntryResponse {
                conversation_id: c.conversation_id,
                patient: ConversationPatientResponse {
                    nhs_number: c.patient.nhs_number,
                    date_of_birth: c.patient.date_of_birth,
                    given_name: c.patient.given_name,
                    family_name: c.patient.family_name,
                },
                state: state_name(c.state),
                assignee: c.assignee.map(assignee_response),
                unread: c.unread,
                messages: c.messages,
                replies: c.replies,
                started_at: c.started_at,
                last_activity_at: c.last_activity_at,
            })
            .collect(),
        unread: page.unread,
        next: page.next,
    }))
}

/// The caller's unread conversations in a workspace, by list.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct UnreadResponse {
    /// Assigned to the caller, with a reply they have not read.
    pub assigned_to_me: u64,
    /// Ones the caller wrote in, with a reply they have not read.
    pub sent_by_me: u64,
    /// Assigned to the team, with a reply the caller has not read.
    pub team: u64,
}

/// The caller's unread counts in a workspace, for the app to poll: it
/// shows them beside "Assigned to me", "Sent by me" and the team's list.
#[utoipa::path(
    get, path = "/v1/workspaces/{workspace_id}/unread", tag = "conversations",
    params(("workspace_id" = String, Path, description = "The workspace's id")),
    responses(
        (status = 200, body = UnreadResponse),
        (status = 403, description = "`not_in_workspace`: the caller is not a member", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn unread<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(workspace_id): Path<String>,
) -> Result<Json<UnreadResponse>, Problem> {
    let counts = state.app.unread_counts(&caller, &workspace_id).await?;
    Ok(Json(UnreadResponse {
        assigned_to_me: counts.assigned_to_me,
        sent_by_me: counts.sent_by_me,
        team: counts.team,
    }))
}

/// Mark a conversation read for the caller: the patient's replies so far
/// are no longer unread for them (for colleagues they still are).
#[utoipa::path(
    post, path = "/v1/conversations/{conversation_id}/read", tag = "conversations",
    params(("conversation_id" = String, Path, description = "The conversation's id")),
    responses((status = 200, body = ConversationResponse))
)]
pub async fn mark_read<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(conversation_id): Path<String>,
    _: NoBody,
) -> Result<Json<ConversationResponse>, Problem> {
    Ok(Json(
        state
            .app
            .mark_conversation_read(&caller, &conversation_id)
            .await?
            .into(),
    ))
}

/// Conversations: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(super::operation!(start_conversation))
        .routes(super::operation!(get_conversation))
        .routes(super::operation!(add_message))
        .routes(super::operation!(assign))
        .routes(super::operation!(mark_done))
        .routes(super::operation!(reopen))
        .routes(super::operation!(mark_read))
        .routes(super::operation!(inbox))
        .routes(super::operation!(unread))
}
