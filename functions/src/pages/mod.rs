//! The patient's pages (issue 17): what a patient sees after tapping the
//! link in their text, server-rendered HTML on the same use cases as the
//! JSON link API (`api/links.rs`), served by `batchbook serve` and by the
//! API function on AWS, under `/l/{token}`.
//!
//! - Nothing about the patient before the date-of-birth check; after it,
//!   only what they need (their appointment).
//! - The session is an HttpOnly, SameSite=Strict cookie scoped to the
//!   link's path (Secure behind HTTPS); every form carries a CSRF token
//!   that must match a cookie of its own (double submit).
//! - Every page works without JavaScript (there is none), uses the NHS.UK
//!   frontend's styles (vendored, `functions/pages/vendor`), and takes every
//!   word from the message catalogue (`messages.rs`).

mod messages;
mod views;

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Path, Query, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use cqrs_es::persist::PersistedEventRepository;
use domain::aggregates::{InviteError, InviteStatus};
use domain::usecases::{LinkError, LinkPage, LinkState};

use messages::catalogues;
pub use messages::Messages;
use views::{Page, Shown};

use crate::api::ApiState;

/// Every date-of-birth check takes at least this long, right or wrong, as
/// through the API.
const CHECK_FLOOR: Duration = Duration::from_millis(400);
const SESSION_COOKIE: &str = "bb_session";
const CSRF_COOKIE: &str = "bb_csrf";
/// How long the session cookie lasts: the session's own 30 minutes.
const SESSION_SECONDS: u32 = 30 * 60;
/// The stylesheet's path names its version, so it can be kept for a year.
pub const STYLESHEET: &str = "/l/assets/nhsuk-frontend-10.6.1.min.css";
const STYLES: &str = include_str!("../../pages/vendor/nhsuk-frontend/nhsuk-frontend.min.css");

/// The pages' routes, for `api::router` to serve beside the API.
pub fn routes<R: PersistedEventRepository + 'static>() -> Router<ApiState<R>> {
    Router::new()
        .route(STYLESHEET, get(stylesheet))
        .route("/l/assets/images/{name}", get(image))
        .route("/l/{token}", get(landing::<R>).post(check::<R>))
        .route(
            "/l/{token}/questionnaire",
            get(questionnaire::<R>).post(answer::<R>),
        )
        .route("/l/{token}/reply", get(reply::<R>).post(send_reply::<R>))
        .route("/l/{token}/attachment", get(attachment::<R>))
        .route("/l/{token}/attachment/file", get(attachment_file::<R>))
        .route("/l/{token}/invite", get(invite::<R>))
        .route("/l/{token}/slots", get(slots::<R>).post(choose::<R>))
        .route("/l/{token}/confirm", get(confirm::<R>).post(book::<R>))
        .route("/l/{token}/decline", get(decline::<R>).post(declined::<R>))
        .route("/l/{token}/cancel", get(cancel::<R>).post(cancelled::<R>))
        // Phones on slow networks: pages go compressed (Brotli or gzip, as
        // the browser accepts) at the fastest level, each page a few KB; the
        // stylesheet comes compressed already.
        .layer(
            tower_http::compression::CompressionLayer::new()
                .quality(tower_http::compression::CompressionLevel::Fastest),
        )
}

/// The stylesheet, gzipped at the best level by `build.rs`: compressing its
/// 270 KB for a visit, or lazily for the first (which held every first
/// visit that came with it, and the runtime threads they waited on), would
/// take the CPU from the pages.
const GZIPPED_STYLES: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/nhsuk-frontend.min.css.gz"));

async fn stylesheet(headers: HeaderMap) -> Response {
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let kept = [
        (header::CONTENT_TYPE, "text/css; charset=utf-8"),
        (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        (header::VARY, "accept-encoding"),
    ];
    if gzip {
        let mut response = (kept, GZIPPED_STYLES).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        (kept, STYLES).into_response()
    }
}

async fn image(Path(name): Path<String>) -> Response {
    let svg = match name.as_str() {
        "nhsuk-icon-arrow-down.svg" => {
            include_str!("../../pages/vendor/nhsuk-frontend/images/nhsuk-icon-arrow-down.svg")
        }
        "nhsuk-icon-arrow-up-down.svg" => {
            include_str!("../../pages/vendor/nhsuk-frontend/images/nhsuk-icon-arrow-up-down.svg")
        }
        "nhsuk-icon-arrow-up.svg" => {
            include_str!("../../pages/vendor/nhsuk-frontend/images/nhsuk-icon-arrow-up.svg")
        }
        "nhsuk-icon-cross.svg" => {
            include_str!("../../pages/vendor/nhsuk-frontend/images/nhsuk-icon-cross.svg")
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        svg,
    )
        .into_response()
}

/// One patient's visit to their link: the token, the cookies they hold,
/// and whether the page is reached over HTTPS (on AWS, always).
pub struct Visit {
    token: String,
    cookies: HashMap<String, String>,
    secure: bool,
    /// A CSRF token to set, when the patient holds none yet.
    new_csrf: Option<String>,
    /// The words of the language the patient's browser asks for, among
    /// those the pages speak; English otherwise.
    m: &'static Messages,
}

impl<S: Send + Sync> FromRequestParts<S> for Visit {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let token = params.get("token").cloned().unwrap_or_default();
        let cookies = cookies(&parts.headers);
        let secure = parts
            .extensions
            .get::<lambda_http::request::RequestContext>()
            .is_some()
            || parts
                .headers
                .get("x-forwarded-proto")
                .is_some_and(|v| v.as_bytes() == b"https");
        let new_csrf =
            (!cookies.contains_key(CSRF_COOKIE)).then(|| uuid::Uuid::new_v4().simple().to_string());
        let m = catalogues().choose(
            parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        );
        Ok(Self {
            token,
            cookies,
            secure,
            new_csrf,
            m,
        })
    }
}

/// The fields a page's form sends, besides its CSRF token.
pub trait Fields {
    /// Each field's name.
    const NAMES: &'static [&'static str];
    /// Fields named by this and a question's id (the questionnaire's).
    const PREFIX: Option<&'static str> = None;
}

/// The date-of-birth check's form.
pub struct DateOfBirth;
impl Fields for DateOfBirth {
    const NAMES: &'static [&'static str] = &["day", "month", "year"];
}

/// A form that names the time chosen (choose, confirm); the slots page
/// also sends the first day of the page of times it showed (`from`).
pub struct Chosen;
impl Fields for Chosen {
    const NAMES: &'static [&'static str] = &["offer", "from"];
}

/// A reply to a conversation's message.
pub struct ReplyText;
impl Fields for ReplyText {
    const NAMES: &'static [&'static str] = &["reply"];
}

/// A form that is only a button (decline, cancel).
pub struct Button;
impl Fields for Button {
    const NAMES: &'static [&'static str] = &[];
}

/// A questionnaire's answers, one field per question (`q-<id>`); the use
/// case refuses an id the questionnaire does not ask.
pub struct Answers;
impl Fields for Answers {
    const NAMES: &'static [&'static str] = &[];
    const PREFIX: Option<&'static str> = Some("q-");
}

/// A form posted from one of the patient's own pages: its fields, once the
/// CSRF token it carries matches the patient's cookie and it holds only the
/// page's own fields `F`, each once. Any other form is answered "this page
/// has expired" (a field the page does not have is named), and its handler
/// never runs, so it changes nothing.
pub struct OurForm<F>(HashMap<String, String>, std::marker::PhantomData<F>);

impl<S: Send + Sync, F: Fields> FromRequest<S> for OurForm<F> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let visit = Visit::from_request_parts(&mut parts, state).await?;
        let Form(sent) =
            Form::<Vec<(String, String)>>::from_request(Request::from_parts(parts, body), state)
                .await
                .map_err(IntoResponse::into_response)?;
        let mut form = HashMap::with_capacity(sent.len());
        let mut wrong = None;
        for (name, value) in sent {
            let known = name == "csrf"
                || F::NAMES.contains(&name.as_str())
                || F::PREFIX.is_some_and(|p| name.starts_with(p));
            if !known || form.contains_key(&name) {
                wrong = wrong.or(Some((name, known)));
            } else {
                form.insert(name, value);
            }
        }
        if !visit.form_is_ours(&form) {
            return Err(visit.forged(visit.m));
        }
        match wrong {
            None => Ok(Self(form, std::marker::PhantomData)),
            Some((name, known)) => Err(visit.answer(
                StatusCode::BAD_REQUEST,
                Page::bad_field(visit.m, &visit, &name, known),
                None,
            )),
        }
    }
}

fn cookies(headers: &HeaderMap) -> HashMap<String, String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

impl Visit {
    fn base(&self) -> String {
        format!("/l/{}", self.token)
    }

    fn path(&self, rest: &str) -> String {
        format!("/l/{}{rest}", self.token)
    }

    fn session(&self) -> &str {
        self.cookies
            .get(SESSION_COOKIE)
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// The CSRF token the page's forms carry.
    fn csrf(&self) -> String {
        self.new_csrf
            .clone()
            .or_else(|| self.cookies.get(CSRF_COOKIE).cloned())
            .unwrap_or_default()
    }

    /// Whether a form came from one of the patient's own pages.
    fn form_is_ours(&self, form: &HashMap<String, String>) -> bool {
        match (self.cookies.get(CSRF_COOKIE), form.get("csrf")) {
            (Some(cookie), Some(field)) => !cookie.is_empty() && cookie == field,
            _ => false,
        }
    }

    fn cookie(&self, name: &str, value: &str, max_age: u32) -> String {
        format!(
            "{name}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
            self.base(),
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// `page` as the answer, with the cookies the visit needs set.
    fn answer(&self, status: StatusCode, page: Shown, session: Option<&str>) -> Response {
        let mut response = (status, page.0).into_response();
        let headers = response.headers_mut();
        page_headers(headers);
        if let Some(csrf) = &self.new_csrf {
            append_cookie(headers, &self.cookie(CSRF_COOKIE, csrf, SESSION_SECONDS));
        }
        if let Some(session) = session {
            append_cookie(
                headers,
                &self.cookie(SESSION_COOKIE, session, SESSION_SECONDS),
            );
        }
        response
    }

    /// A 303 to `to` on the patient's link, with the cookies the visit needs.
    fn see(&self, to: &str, session: Option<&str>) -> Response {
        let mut response =
            (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response();
        let headers = response.headers_mut();
        page_headers(headers);
        if let Some(session) = session {
            append_cookie(
                headers,
                &self.cookie(SESSION_COOKIE, session, SESSION_SECONDS),
            );
        }
        response
    }

    /// The answer to a refusal from the link's use cases.
    fn refusal(&self, m: &Messages, e: LinkError) -> Response {
        match e {
            LinkError::NotFound => self.answer(StatusCode::NOT_FOUND, Page::unknown(m), None),
            LinkError::Unusable(page) => self.state(m, &page),
            // The session ended: the date-of-birth check again.
            LinkError::SessionExpired => self.see(&self.base(), None),
            LinkError::Invite(InviteError::TooLateToCancel) => {
                self.answer(StatusCode::CONFLICT, Page::too_late(m, self), None)
            }
            // What the invite is now says the rest (booked, declined, …).
            LinkError::Invite(_) | LinkError::DeclineNotOffered => {
                self.see(&self.path("/invite"), None)
            }
            LinkError::Unavailable(_) => {
                self.answer(StatusCode::SERVICE_UNAVAILABLE, Page::busy(m), None)
            }
            LinkError::AlreadyReplied | LinkError::Reply(_) => self.see(&self.path("/reply"), None),
            LinkError::UnreadableDateOfBirth
            | LinkError::WrongDateOfBirth { .. }
            | LinkError::AlreadyAnswered
            | LinkError::Answers(_)
            | LinkError::SlotTaken
            | LinkError::NoSuchOffer => self.see(&self.base(), None),
        }
    }

    /// A link that cannot be used: expired, withdrawn or locked.
    fn state(&self, m: &Messages, page: &LinkPage) -> Response {
        let status = match page.state {
            LinkState::Open => StatusCode::OK,
            LinkState::Expired | LinkState::Withdrawn => StatusCode::GONE,
            LinkState::Locked => StatusCode::LOCKED,
        };
        self.answer(status, Page::state(m, page), None)
    }

    fn forged(&self, m: &Messages) -> Response {
        self.answer(StatusCode::FORBIDDEN, Page::form_expired(m, self), None)
    }

    /// After a form that changes the invite (decline, cancel): the invite
    /// page, which says what it now is.
    async fn invite_form<F, A>(&self, act: A) -> Response
    where
        A: FnOnce() -> F,
        F: std::future::Future<Output = Result<domain::usecases::InviteView, LinkError>>,
    {
        match act().await {
            Ok(_) => self.see(&self.path("/invite"), None),
            Err(e) => self.refusal(self.m, e),
        }
    }
}

fn append_cookie(headers: &mut HeaderMap, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        headers.append(header::SET_COOKIE, value);
    }
}

/// The headers every page leaves with: nothing from another origin, no
/// script at all, never framed, no referrer (the token is in the URL), and
/// never kept by a cache.
fn page_headers(headers: &mut HeaderMap) {
    let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::CACHE_CONTROL, "no-store");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
}

// ---- The date-of-birth check ------------------------------------------

async fn landing<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
) -> Response {
    let m = visit.m;
    match state.app.open_link(&visit.token).await {
        Ok(page) if page.state == LinkState::Open => visit.answer(
            StatusCode::OK,
            Page::check(m, &visit, views::DateEntry::default(), None),
            None,
        ),
        Ok(page) => visit.state(m, &page),
        Err(e) => visit.refusal(m, e),
    }
}

async fn check<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
    OurForm(form, _): OurForm<DateOfBirth>,
) -> Response {
    let m = visit.m;
    let entry = views::DateEntry::from_form(&form);
    let today = state
        .app
        .now()
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive();
    let date = match entry.date(m, today) {
        Ok(date) => date,
        Err(error) => {
            return visit.answer(
                StatusCode::UNPROCESSABLE_ENTITY,
                Page::check(m, &visit, entry, Some(error)),
                None,
            )
        }
    };
    let started = tokio::time::Instant::now();
    let result = state
        .app
        .verify_link(&visit.token, &date.format("%Y-%m-%d").to_string())
        .await;
    tokio::time::sleep_until(started + CHECK_FLOOR).await;
    match result {
        Ok(verified) => {
            let next = if verified.questionnaire.is_some() {
                "/questionnaire"
            } else if verified.reply.is_some() {
                "/reply"
            } else if verified.attachment.is_some() {
                "/attachment"
            } else {
                "/invite"
            };
            visit.see(&visit.path(next), Some(&verified.session))
        }
        Err(LinkError::WrongDateOfBirth { attempts_left }) => {
            let error = views::DateError::wrong(m, attempts_left);
            visit.answer(
                StatusCode::FORBIDDEN,
                Page::check(m, &visit, entry, Some(error)),
                None,
            )
        }
        Err(e) => visit.refusal(m, e),
    }
}

// ---- Questionnaires ----------------------------------------------------

async fn questionnaire<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
) -> Response {
    let m = visit.m;
    match state
        .app
        .link_questionnaire(&visit.token, visit.session())
        .await
    {
        Ok(form) if form.answered => visit.answer(StatusCode::OK, Page::answered(m), None),
        Ok(form) => visit.answer(
            StatusCode::OK,
            Page::questionnaire(m, &visit, &form, &HashMap::new(), &[]),
            None,
        ),
        Err(e) => visit.refusal(m, e),
    }
}

async fn answer<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
    OurForm(form, _): OurForm<Answers>,
) -> Response {
    let m = visit.m;
    let answers = views::answers_from(&form);
    match state
        .app
        .answer_questionnaire(&visit.token, visit.session(), &answers)
        .await
    {
        Ok(_) | Err(LinkError::AlreadyAnswered) => visit.see(&visit.path("/questionnaire"), None),
        Err(LinkError::Answers(refused)) => {
            let shown = match state
                .app
                .link_questionnaire(&visit.token, visit.session())
                .await
            {
                Ok(asked) => asked,
                Err(e) => return visit.refusal(m, e),
            };
            // A field naming no question of this questionnaire: not ours.
            if let Some(stray) = refused
                .0
                .iter()
                .find(|p| !shown.questions.iter().any(|q| q.id == p.question))
            {
                let name = format!("{}{}", Answers::PREFIX.unwrap_or_default(), stray.question);
                return visit.answer(
                    StatusCode::BAD_REQUEST,
                    Page::bad_field(m, &visit, &name, false),
                    None,
                );
            }
            let wrong: Vec<String> = refused.0.iter().map(|p| p.question.clone()).collect();
            visit.answer(
                StatusCode::UNPROCESSABLE_ENTITY,
                Page::questionnaire(m, &visit, &shown, &form, &wrong),
                None,
            )
        }
        Err(e) => visit.refusal(m, e),
    }
}

// ---- Replies -----------------------------------------------------------

async fn reply<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
) -> Response {
    let m = visit.m;
    match state.app.link_reply(&visit.token, visit.session()).await {
        Ok(form) if form.replied_at.is_some() => {
            visit.answer(StatusCode::OK, Page::already_replied(m), None)
        }
        Ok(form) => visit.answer(
            StatusCode::OK,
            Page::reply(m, &visit, &form, "", None),
            None,
        ),
        Err(e) => visit.refusal(m, e),
    }
}

async fn send_reply<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
    OurForm(form, _): OurForm<ReplyText>,
) -> Response {
    let m = visit.m;
    let text = form.get("reply").map(String::as_str).unwrap_or_default();
    match state
        .app
        .reply_to_message(&visit.token, visit.session(), text)
        .await
    {
        Ok(_) => visit.answer(StatusCode::OK, Page::reply_sent(m), None),
        Err(LinkError::AlreadyReplied) => {
            visit.answer(StatusCode::CONFLICT, Page::already_replied(m), None)
        }
        Err(LinkError::Reply(problem)) => {
            match state.app.link_reply(&visit.token, visit.session()).await {
                Ok(shown) => visit.answer(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Page::reply(m, &visit, &shown, text, Some(&problem)),
                    None,
                ),
                Err(e) => visit.refusal(m, e),
            }
        }
        Err(e) => visit.refusal(m, e),
    }
}

// ---- Attachments -------------------------------------------------------

async fn attachment<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
) -> Response {
    let m = visit.m;
    match state
        .app
        .link_attachment_offer(&visit.token, visit.session())
        .await
    {
        Ok(offer) => visit.answer(StatusCode::OK, Page::attachment(m, &visit, &offer), None),
        Err(e) => visit.refusal(m, e),
    }
}

async fn attachment_file<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
) -> Response {
    let m = visit.m;
    match state
        .app
        .link_attachment(&visit.token, visit.session())
        .await
    {
        Ok(file) => {
            let mut response = (
                [
                    (header::CONTENT_TYPE, file.content_type),
                    (
                        header::CONTENT_DISPOSITION,
                        crate::api::content_disposition(&file.file_name),
                    ),
                ],
                file.bytes,
            )
                .into_response();
            page_headers(response.headers_mut());
            response
        }
        Err(e) => visit.refusal(m, e),
    }
}

// ---- Self-Book ---------------------------------------------------------

async fn invite<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
) -> Response {
    let m = visit.m;
    match state.app.link_invite(&visit.token, visit.session()).await {
        Ok(view) => visit.answer(StatusCode::OK, Page::invite(m, &visit, &view), None),
        Err(e) => visit.refusal(m, e),
    }
}

/// The page of times offered that holds `from` (see [`Page::slots`]);
/// `taken`, just refused as taken, is left out even while the book still
/// shows it free (the winner's booking is being made).
async fn show_slots<R: PersistedEventRepository + 'static>(
    state: &ApiState<R>,
    visit: &Visit,
    status: StatusCode,
    error: Option<&str>,
    taken: Option<&str>,
    from: Option<chrono::NaiveDate>,
) -> Response {
    let m = visit.m;
    let offers = state
        .app
        .link_offers(&visit.token, visit.session())
        .await
        .map(|offers| {
            offers
                .into_iter()
                .filter(|o| Some(&*o.offer_id) != taken)
                .collect::<Vec<_>>()
        });
    match offers {
        Ok(offers) if offers.is_empty() => visit.answer(status, Page::no_times(m, visit), None),
        Ok(offers) => visit.answer(status, Page::slots(m, visit, &offers, error, from), None),
        Err(e) => visit.refusal(m, e),
    }
}

/// The slots page; `?from=YYYY-MM-DD` asks for the page of times holding
/// that day. Any other part of the address, or a `from` that is not a
/// date, is refused by name.
async fn slots<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
    RawQuery(query): RawQuery,
) -> Response {
    let m = visit.m;
    let mut from = None;
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let refused = |known| {
            visit.answer(
                StatusCode::BAD_REQUEST,
                Page::bad_query(m, &visit, &name, known),
                None,
            )
        };
        if name != "from" {
            return refused(false);
        }
        match chrono::NaiveDate::parse_from_str(&value, "%Y-%m-%d") {
            Ok(day) if from.is_none() => from = Some(day),
            _ => return refused(true),
        }
    }
    show_slots(&state, &visit, StatusCode::OK, None, None, from).await
}

/// The first day of the page of times a form was sent from, if it says.
fn form_from(form: &HashMap<String, String>) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(form.get("from")?, "%Y-%m-%d").ok()
}

async fn choose<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
    OurForm(form, _): OurForm<Chosen>,
) -> Response {
    let m = visit.m;
    match form.get("offer").filter(|o| !o.is_empty()) {
        Some(offer) => {
            let to = format!(
                "{}?offer={}",
                visit.path("/confirm"),
                percent_encoding::utf8_percent_encode(offer, percent_encoding::NON_ALPHANUMERIC)
            );
            visit.see(&to, None)
        }
        None => {
            show_slots(
                &state,
                &visit,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&m.invite.choose_error),
                None,
                form_from(&form),
            )
            .await
        }
    }
}

async fn confirm<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let m = visit.m;
    let wanted = query.get("offer").cloned().unwrap_or_default();
    match state.app.link_offers(&visit.token, visit.session()).await {
        Ok(offers) => match offers.iter().find(|o| *o.offer_id == *wanted) {
            Some(offer) => visit.answer(StatusCode::OK, Page::confirm(m, &visit, offer), None),
            None => {
                show_slots(
                    &state,
                    &visit,
                    StatusCode::CONFLICT,
                    Some(&m.invite.not_offered),
                    None,
                    None,
                )
                .await
            }
        },
        Err(e) => visit.refusal(m, e),
    }
}

async fn book<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
    OurForm(form, _): OurForm<Chosen>,
) -> Response {
    let m = visit.m;
    let offer = form.get("offer").cloned().unwrap_or_default();
    match state
        .app
        .book_offer(&visit.token, visit.session(), &offer)
        .await
    {
        Ok(_) => visit.see(&visit.path("/invite"), None),
        Err(LinkError::SlotTaken) => {
            show_slots(
                &state,
                &visit,
                StatusCode::CONFLICT,
                Some(&m.invite.taken),
                Some(&offer),
                None,
            )
            .await
        }
        Err(LinkError::NoSuchOffer) => {
            show_slots(
                &state,
                &visit,
                StatusCode::CONFLICT,
                Some(&m.invite.not_offered),
                Some(&offer),
                None,
            )
            .await
        }
        Err(e) => visit.refusal(m, e),
    }
}

async fn decline<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
) -> Response {
    let m = visit.m;
    match state.app.link_invite(&visit.token, visit.session()).await {
        Ok(view) if view.status == InviteStatus::Open || view.status == InviteStatus::Failed => {
            match view.decline {
                Some(words) => visit.answer(StatusCode::OK, Page::decline(m, &visit, &words), None),
                None => visit.see(&visit.path("/invite"), None),
            }
        }
        Ok(_) => visit.see(&visit.path("/invite"), None),
        Err(e) => visit.refusal(m, e),
    }
}

async fn declined<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
    OurForm(..): OurForm<Button>,
) -> Response {
    let act = || state.app.decline_invite(&visit.token, visit.session());
    visit.invite_form(act).await
}

async fn cancel<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
) -> Response {
    let m = visit.m;
    match state.app.link_invite(&visit.token, visit.session()).await {
        Ok(view) if view.status == InviteStatus::Booked => {
            visit.answer(StatusCode::OK, Page::cancel(m, &visit, &view), None)
        }
        Ok(_) => visit.see(&visit.path("/invite"), None),
        Err(e) => visit.refusal(m, e),
    }
}

async fn cancelled<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    visit: Visit,
    OurForm(..): OurForm<Button>,
) -> Response {
    let act = || state.app.cancel_booking(&visit.token, visit.session());
    visit.invite_form(act).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stylesheet_path_names_the_vendored_version() {
        let version = include_str!("../../pages/vendor/nhsuk-frontend/VERSION").trim();
        assert_eq!(
            STYLESHEET,
            format!("/l/assets/nhsuk-frontend-{version}.min.css")
        );
    }
}
