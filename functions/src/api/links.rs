//! The patient's side of a link: what the link page calls. No staff
//! sign-in: the token in the path is the only key, and before the
//! date-of-birth check a link says nothing but whether it can be used.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use domain::usecases::{
    AttachmentOffer, LinkError, LinkPage, LinkState, PracticeContact, QuestionnaireForm,
};
use events::Questionnaire;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::JsonBody;
use super::{ApiState, Problem};

/// Every date-of-birth check takes at least this long, right or wrong, so
/// its timing says nothing.
const CHECK_FLOOR: Duration = Duration::from_millis(400);
/// The header a page sends its session in.
const SESSION_HEADER: &str = "link-session";

/// Whether a link can be used, and if not, how to reach the practice.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LinkPageResponse {
    /// Whether the link can be used, and if not why: expired, withdrawn or
    /// locked.
    pub state: LinkState,
    /// The practice's name, phone and website, when the link cannot be used.
    #[schema(value_type = Option<Object>)]
    pub contact: Option<PracticeContact>,
}

impl From<LinkPage> for LinkPageResponse {
    fn from(page: LinkPage) -> Self {
        Self {
            state: page.state,
            contact: page.contact,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
}

/// A questionnaire as the page asks it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuestionnaireResponse {
    /// Which questionnaire this is.
    pub questionnaire: Questionnaire,
    /// Its title, as the page shows it.
    pub title: String,
    /// Each with `id`, `text`, `required` and `answer`: a number (`min`,
    /// `max`, `decimals`, `unit`) or a choice (`options`).
    #[schema(value_type = Vec<Object>)]
    pub questions: serde_json::Value,
    /// Answered already: the page thanks the patient instead.
    pub answered: bool,
    /// When the link expires.
    pub expires_at: DateTime<Utc>,
}

impl From<QuestionnaireForm> for QuestionnaireResponse {
    fn from(form: QuestionnaireForm) -> Self {
        Self {
            questionnaire: form.questionnaire,
            title: form.title.to_owned(),
            questions: serde_json::to_value(&form.questions).unwrap_or_default(),
            answered: form.answered,
            expires_at: form.expires_at,
        }
    }
}

/// A passed check: send `session` in the `Link-Session` header until it
/// expires.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VerifiedResponse {
    /// Send this as the `Link-Session` header on the link's other requests.
    pub session: String,
    /// When the session ends; the patient checks their date of birth again
    /// after.
    pub session_expires_at: DateTime<Utc>,
    /// For a questionnaire link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub questionnaire: Option<QuestionnaireResponse>,
    /// For an attachment link: what `GET /v1/links/{token}/attachment`
    /// gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentOfferResponse>,
    /// For a Self-Book link: the invite, as `GET /v1/links/{token}/invite`
    /// gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<super::selfbook::InviteResponse>,
    /// For a conversation's reply link: the reply form, as `GET
    /// /v1/links/{token}/reply` gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyFormResponse>,
}

/// The file behind an attachment link.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttachmentOfferResponse {
    /// The file's name, as staff uploaded it.
    pub file_name: String,
    /// `application/pdf`, `image/png` or `image/jpeg`.
    pub content_type: String,
    /// In bytes.
    pub size: u64,
    /// When the link expires.
    pub expires_at: DateTime<Utc>,
}

impl From<AttachmentOffer> for AttachmentOfferResponse {
    fn from(offer: AttachmentOffer) -> Self {
        Self {
            file_name: offer.file_name,
            content_type: offer.content_type,
            size: offer.size,
            expires_at: offer.expires_at,
        }
    }
}

/// A conversation's message the patient may reply to once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReplyFormResponse {
    /// The words of the message being replied to.
    pub message: String,
    /// The longest reply, in characters.
    pub max_chars: u32,
    /// When a reply is no longer taken.
    pub reply_until: DateTime<Utc>,
    /// When the patient replied; `null` until they have. A message takes
    /// one reply.
    pub replied_at: Option<DateTime<Utc>>,
    /// The message's attachment, opened with `GET
    /// /v1/links/{token}/attachment`; `null` when it has none.
    pub attachment: Option<AttachmentOfferResponse>,
}

impl From<domain::usecases::ReplyForm> for ReplyFormResponse {
    fn from(form: domain::usecases::ReplyForm) -> Self {
        Self {
            message: form.message,
            max_chars: form.max_chars,
            reply_until: form.reply_until,
            replied_at: form.replied_at,
            attachment: form.attachment.map(Into::into),
        }
    }
}

/// The patient's reply.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    /// What the patient writes: text, at most the form's `max_chars`
    /// characters once trimmed.
    pub text: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswersRequest {
    /// Answers by question id, as text: `{"systolic_average": "132"}`.
    pub answers: BTreeMap<String, String>,
}

/// A refusal, as problem+json with what the page needs: the link's state
/// and the practice's contact, the attempts left, or each bad answer.
#[derive(Debug, Serialize)]
struct LinkProblem {
    #[serde(flatten)]
    problem: Problem,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<LinkState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<PracticeContact>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts_left: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problems: Option<Vec<domain::florey::AnswerProblem>>,
}

pub struct LinkRefusal(LinkError);

impl From<LinkError> for LinkRefusal {
    fn from(e: LinkError) -> Self {
        Self(e)
    }
}

impl IntoResponse for LinkRefusal {
    fn into_response(self) -> Response {
        let detail = self.0.to_string();
        let (mut state, mut contact, mut attempts_left, mut problems) = (None, None, None, None);
        let (status, code, title) = match self.0 {
            LinkError::NotFound => (StatusCode::NOT_FOUND, "link_not_found", "Link not found"),
            LinkError::Unusable(page) => {
                state = Some(page.state);
                contact = page.contact;
                match page.state {
                    LinkState::Locked => (StatusCode::LOCKED, "link_locked", "This link is locked"),
                    LinkState::Expired => {
                        (StatusCode::GONE, "link_expired", "This link has expired")
                    }
                    _ => (
                        StatusCode::GONE,
                        "link_withdrawn",
                        "This link was withdrawn",
                    ),
                }
            }
            LinkError::UnreadableDateOfBirth => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_date_of_birth",
                "Check the date",
            ),
            LinkError::WrongDateOfBirth {
                attempts_left: left,
            } => {
                attempts_left = Some(left);
                (
                    StatusCode::FORBIDDEN,
                    "date_of_birth_mismatch",
                    "That date of birth does not match",
                )
            }
            LinkError::SessionExpired => (
                StatusCode::UNAUTHORIZED,
                "session_expired",
                "Confirm your date of birth again",
            ),
            LinkError::AlreadyAnswered => {
                (StatusCode::CONFLICT, "already_answered", "Already answered")
            }
            LinkError::AlreadyReplied => {
                (StatusCode::CONFLICT, "already_replied", "Already replied")
            }
            LinkError::Reply(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_reply",
                "Check your reply",
            ),
            LinkError::Answers(refused) => {
                problems = Some(refused.0);
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_answers",
                    "Check your answers",
                )
            }
            LinkError::SlotTaken => (
                StatusCode::CONFLICT,
                "slot_taken",
                "That time was just taken",
            ),
            LinkError::NoSuchOffer => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_such_offer",
                "Choose one of the times offered",
            ),
            LinkError::DeclineNotOffered => (
                StatusCode::CONFLICT,
                "decline_not_offered",
                "This invitation cannot be declined online",
            ),
            LinkError::Invite(e) => (StatusCode::CONFLICT, invite_code(&e), "Not possible now"),
            LinkError::Unavailable(cause) => {
                tracing::error!(cause, "a link request failed on a dependency");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Try again shortly",
                )
            }
        };
        let body = LinkProblem {
            problem: Problem::new(status, code, title, detail),
            state,
            contact,
            attempts_left,
            problems,
        };
        let json = serde_json::to_vec(&body).expect("a problem serialises");
        (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
            json,
        )
            .into_response()
    }
}

/// A patient's link, and the session its page holds (the `Link-Session`
/// header the date-of-birth check gave). A request without one is told to
/// confirm the date of birth again.
pub struct LinkSession {
    pub token: String,
    pub session: String,
}

impl utoipa::IntoParams for LinkSession {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{Required, Type};
        let text = || Some(utoipa::openapi::schema::Object::with_type(Type::String));
        vec![
            ParameterBuilder::new()
                .name("token")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("The link's token, as in the patient's text"))
                .schema(text())
                .build(),
            ParameterBuilder::new()
                .name("Link-Session")
                .parameter_in(ParameterIn::Header)
                .required(Required::True)
                .description(Some("The session the date-of-birth check gave"))
                .schema(text())
                .build(),
        ]
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for LinkSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Response> {
        let Path(token) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let session = parts
            .headers
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| LinkRefusal(LinkError::SessionExpired).into_response())?
            .to_owned();
        Ok(Self { token, session })
    }
}

fn invite_code(e: &domain::aggregates::InviteError) -> &'static str {
    use domain::aggregates::InviteError;
    match e {
        InviteError::LinkExpired => "link_expired",
        InviteError::LinkWithdrawn => "link_withdrawn",
        InviteError::LinkLocked => "link_locked",
        InviteError::AlreadyBooked => "already_booked",
        InviteError::BookingPending => "booking_pending",
        InviteError::Declined => "declined",
        InviteError::Cancelled => "cancelled",
        InviteError::TimedOut => "timed_out",
        InviteError::NotBooked => "not_booked",
        InviteError::TooLateToCancel => "too_late_to_cancel",
    }
}

/// Open a link: whether it can be used. Says nothing about the patient.
#[utoipa::path(
    get, path = "/v1/links/{token}", tag = "patient links", security(()),
    params(("token" = String, Path, description = "The link token: the last part of the link in the patient's message")),
    responses(
        (status = 200, body = LinkPageResponse),
    )
)]
pub async fn open_link<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Path(token): Path<String>,
) -> Result<Json<LinkPageResponse>, LinkRefusal> {
    Ok(Json(state.app.open_link(&token).await?.into()))
}

/// The date-of-birth check. Five wrong answers lock the link for good.
#[utoipa::path(
    post, path = "/v1/links/{token}/verify", tag = "patient links", security(()),
    params(("token" = String, Path, description = "The link token: the last part of the link in the patient's message")),
    request_body = VerifyRequest,
    responses(
        (status = 200, body = VerifiedResponse),
        (status = 403, description = "Wrong date of birth; `attempts_left` says how many remain", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Expired or withdrawn; `contact` says how to reach the practice", body = Problem, content_type = "application/problem+json"),
        (status = 423, description = "Locked after too many wrong answers", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn verify_link<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Path(token): Path<String>,
    request: Result<JsonBody<VerifyRequest>, Problem>,
) -> Response {
    let started = tokio::time::Instant::now();
    let response = match request {
        Err(refusal) => refusal.into_response(),
        Ok(JsonBody(request)) => {
            match state.app.verify_link(&token, &request.date_of_birth).await {
                Ok(verified) => Json(VerifiedResponse {
                    session: verified.session,
                    session_expires_at: verified.session_expires_at,
                    questionnaire: verified.questionnaire.map(Into::into),
                    attachment: verified.attachment.map(Into::into),
                    invite: verified.invite.map(Into::into),
                    reply: verified.reply.map(Into::into),
                })
                .into_response(),
                Err(e) => LinkRefusal(e).into_response(),
            }
        }
    };
    tokio::time::sleep_until(started + CHECK_FLOOR).await;
    response
}

/// The questionnaire behind the link, for a page holding a session.
#[utoipa::path(
    get, path = "/v1/links/{token}/questionnaire", tag = "patient links", security(()),
    params(LinkSession),
    responses(
        (status = 200, body = QuestionnaireResponse),
        (status = 401, description = "No session, or it expired", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_questionnaire<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    link: LinkSession,
) -> Result<Json<QuestionnaireResponse>, LinkRefusal> {
    let form = state
        .app
        .link_questionnaire(&link.token, &link.session)
        .await?;
    Ok(Json(form.into()))
}

/// Answer the questionnaire, once.
#[utoipa::path(
    post, path = "/v1/links/{token}/questionnaire", tag = "patient links", security(()),
    params(LinkSession),
    request_body = AnswersRequest,
    responses(
        (status = 200, body = QuestionnaireResponse),
        (status = 409, description = "Answered already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`problems` names each bad answer and why", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn answer_questionnaire<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    link: LinkSession,
    JsonBody(request): JsonBody<AnswersRequest>,
) -> Result<Json<QuestionnaireResponse>, LinkRefusal> {
    let form = state
        .app
        .answer_questionnaire(&link.token, &link.session, &request.answers)
        .await?;
    Ok(Json(form.into()))
}

/// The attachment behind the link, for a page holding a session. The first
/// download is recorded on the patient's delivery.
#[utoipa::path(
    get, path = "/v1/links/{token}/attachment", tag = "patient links", security(()),
    params(LinkSession),
    responses(
        (status = 200, description = "The file, with its type and name", content_type = "application/octet-stream"),
        (status = 401, description = "No session, or it expired", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such link, or it opens no attachment", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_attachment<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    link: LinkSession,
) -> Result<Response, LinkRefusal> {
    use axum::http::header;
    let file = state
        .app
        .link_attachment(&link.token, &link.session)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type),
            (
                header::CONTENT_DISPOSITION,
                content_disposition(&file.file_name),
            ),
            // A patient's file: never kept by a shared cache.
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        file.bytes,
    )
        .into_response())
}

/// `attachment` with the file's name: plain ASCII in `filename` (anything
/// else becomes `_`) and the whole name in `filename*` (RFC 6266), so a
/// Welsh or accented name reaches the patient's browser intact.
pub(crate) fn content_disposition(file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '_'
            }
        })
        .collect();
    if ascii == file_name {
        return format!("attachment; filename=\"{file_name}\"");
    }
    let encoded = percent_encoding::utf8_percent_encode(file_name, RFC5987);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// What RFC 5987 lets through unencoded in `filename*`.
const RFC5987: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// Patient links: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(super::operation!(open_link))
        .routes(super::operation!(verify_link))
        .routes(super::operation!(get_questionnaire))
        .routes(super::operation!(answer_questionnaire))
        .routes(super::operation!(get_attachment))
        .routes(super::operation!(get_reply))
        .routes(super::operation!(reply))
}

/// The reply form behind a conversation's reply link, for a page holding a
/// session.
#[utoipa::path(
    get, path = "/v1/links/{token}/reply", tag = "patient links", security(()),
    params(LinkSession),
    responses(
        (status = 200, body = ReplyFormResponse),
        (status = 401, description = "No session, or it expired", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The time to reply has passed (`link_expired`); `contact` says how to reach the practice", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_reply<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    link: LinkSession,
) -> Result<Json<ReplyFormResponse>, LinkRefusal> {
    let form = state.app.link_reply(&link.token, &link.session).await?;
    Ok(Json(form.into()))
}

/// Reply to the message, once.
#[utoipa::path(
    post, path = "/v1/links/{token}/reply", tag = "patient links", security(()),
    params(LinkSession),
    request_body = ReplyRequest,
    responses(
        (status = 200, body = ReplyFormResponse),
        (status = 409, description = "`already_replied`: the message took its one reply", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The time to reply has passed (`link_expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_reply`: empty, or longer than `max_chars`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reply<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    link: LinkSession,
    JsonBody(request): JsonBody<ReplyRequest>,
) -> Result<Json<ReplyFormResponse>, LinkRefusal> {
    let form = state
        .app
        .reply_to_message(&link.token, &link.session, &request.text)
        .await?;
    Ok(Json(form.into()))
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn a_file_name_outside_ascii_goes_in_filename_star_with_an_ascii_fallback() {
        assert_eq!(
            content_disposition("Flu leaflet.pdf"),
            "attachment; filename=\"Flu leaflet.pdf\""
        );
        assert_eq!(
            content_disposition("Taflen ŵ.pdf"),
            "attachment; filename=\"Taflen _.pdf\"; filename*=UTF-8''Taflen%20%C5%B5.pdf"
        );
    }
}
