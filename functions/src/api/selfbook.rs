//! Self-Book: staff check availability and configure invites (the
//! `self_book` of a batch); patients, through their link, see the times
//! offered, book one, decline, or cancel.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use domain::aggregates::InviteStatus;
use domain::selfbook::{DayWindow, Offer};
use domain::usecases::{AppointmentView, InviteView};
use events::{AppointmentChannel, DeclineOption, LinkExpiry, SelfBook, Timing};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::body::{JsonBody, NoBody};
use super::links::{LinkRefusal, LinkSession};
use super::{ApiState, Authenticated, Problem};

/// What a Self-Book invite books.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfBookRequest {
    /// `in_person`, `telephone` or `video`: which slots are offered.
    #[schema(example = "telephone")]
    pub appointment_type: AppointmentChannel,
    /// The slot type in the practice's appointment book, e.g. `flu`; at
    /// most 64 characters.
    pub slot_type: String,
    /// `exact_time` (the default): the patient picks a slot's time.
    /// `time_window` (telephone only): the patient picks a morning
    /// (08:00–13:00) or afternoon (13:00–18:30) and is called within it.
    #[serde(default)]
    #[schema(example = "time_window")]
    pub timing: Timing,
    /// Only these clinicians' slots (their ids in the book, each at most 64
    /// characters; at most 20); empty for any.
    #[serde(default)]
    pub clinicians: Vec<String>,
    /// Only slots at this site (its id in the appointment book). Another
    /// organisation's site only if it is in the settings' `other_sites`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Only slots within this many days (1 to 90) of when the patient
    /// looks; 28 when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_days: Option<u32>,
    /// Let the patient say "I don't want this"; left out, they can only book.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline: Option<DeclineRequest>,
    /// How long the link works from the first message: `24h`, `48h`, `7d`,
    /// `14d` (the default), `30d` or `never`. A booked appointment's link
    /// works until the appointment, so it can be cancelled.
    #[serde(default)]
    #[schema(example = "14d")]
    pub expiry: LinkExpiry,
}

/// "I don't want this", as staff word it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineRequest {
    /// Saved when the patient declines, e.g. `73211009`.
    pub snomed_code: String,
    /// What the patient chooses, e.g. "I don't want a flu jab": one line,
    /// at most 100 characters.
    pub wording: String,
}

impl From<SelfBookRequest> for SelfBook {
    fn from(r: SelfBookRequest) -> Self {
        Self {
            appointment_type: r.appointment_type,
            slot_type: r.slot_type,
            timing: r.timing,
            clinicians: r.clinicians,
            location: r.location,
            within_days: r.within_days,
            decline: r.decline.map(|d| DeclineOption {
                snomed_code: d.snomed_code,
                wording: d.wording,
            }),
            expiry: r.expiry,
        }
    }
}

impl From<SelfBook> for SelfBookRequest {
    fn from(s: SelfBook) -> Self {
        Self {
            appointment_type: s.appointment_type,
            slot_type: s.slot_type,
            timing: s.timing,
            clinicians: s.clinicians,
            location: s.location,
            within_days: s.within_days,
            decline: s.decline.map(|d| DeclineRequest {
                snomed_code: d.snomed_code,
                wording: d.wording,
            }),
            expiry: s.expiry,
        }
    }
}

/// Bookable slots an invite would offer now.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AvailabilityResponse {
    /// Free, not blocked and not embargoed.
    pub bookable: u64,
    /// The same, per clinician id.
    pub by_clinician: BTreeMap<String, u64>,
}

/// "Check availability": how many slots an invite configured like this
/// would offer patients now, in all and per clinician. Blocked and
/// embargoed slots never count.
#[utoipa::path(
    post, path = "/v1/self-book/availability", tag = "self-book",
    request_body = SelfBookRequest,
    responses(
        (status = 200, body = AvailabilityResponse),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "No appointment book is configured", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn check_availability<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<SelfBookRequest>,
) -> Result<Json<AvailabilityResponse>, Problem> {
    let found = state
        .app
        .check_availability(&caller, &request.into())
        .await?;
    Ok(Json(AvailabilityResponse {
        bookable: found.bookable,
        by_clinician: found.by_clinician,
    }))
}

/// A slot type in the appointment book.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SlotTypeResponse {
    /// Name it as `self_book.slot_type`.
    pub slot_type: String,
    /// How its slots are held: in person, by telephone or by video.
    pub channels: Vec<AppointmentChannel>,
    /// Of its slots in the window, those anyone may book now.
    pub bookable: u64,
}

/// A clinician in the appointment book.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClinicianResponse {
    /// Name it in `self_book.clinicians`.
    pub clinician_id: String,
    /// As patients are told: "Nurse Patel".
    pub name: String,
    /// The slot types they hold in the window.
    pub slot_types: Vec<String>,
}

/// A site in the appointment book.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LocationResponse {
    /// Name it as `self_book.location`.
    pub location_id: String,
    /// As patients are told: "Riverside Surgery, 1 High Street".
    pub name: String,
    /// The ODS code of the organisation it belongs to, when it is not the
    /// caller's own: only sites in the settings' `other_sites` are listed.
    pub organisation: Option<String>,
}

/// What the appointment book holds, to set up Self-Book from.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CatalogueResponse {
    /// Every slot type with slots in the window, by name.
    pub slot_types: Vec<SlotTypeResponse>,
    /// Every clinician with slots in the window, by name.
    pub clinicians: Vec<ClinicianResponse>,
    /// Every site with slots in the window, by name.
    pub locations: Vec<LocationResponse>,
    /// The start of the window the book was searched over (now).
    pub from: DateTime<Utc>,
    /// The end of that window: 28 days on.
    pub to: DateTime<Utc>,
    /// When the book was read: the answer is kept for 5 minutes.
    pub read_at: DateTime<Utc>,
}

/// The appointment book's slot types, clinicians and locations ("from your
/// clinical system"), read from its slots over the next 28 days. GP
/// Connect has no catalogue call, so this comes from a slot search, kept
/// for 5 minutes.
#[utoipa::path(
    get, path = "/v1/self-book/catalogue", tag = "self-book",
    responses(
        (status = 200, body = CatalogueResponse),
        (status = 501, description = "No appointment book is configured", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn catalogue<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<CatalogueResponse>, Problem> {
    let view = state.app.catalogue(&caller).await?;
    let found = view.catalogue;
    Ok(Json(CatalogueResponse {
        slot_types: found
            .slot_types
            .into_iter()
            .map(|t| SlotTypeResponse {
                slot_type: t.slot_type,
                channels: t.channels,
                bookable: t.bookable,
            })
            .collect(),
        clinicians: found
            .clinicians
            .into_iter()
            .map(|c| ClinicianResponse {
                clinician_id: c.clinician,
                name: c.name,
                slot_types: c.slot_types,
            })
            .collect(),
        locations: found
            .locations
            .into_iter()
            .map(|l| LocationResponse {
                location_id: l.location,
                name: l.name,
                organisation: l.organisation,
            })
            .collect(),
        from: view.from,
        to: view.to,
        read_at: view.read_at,
    }))
}

/// One time the patient may choose.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OfferResponse {
    /// Send this back to book it.
    pub offer_id: String,
    /// When the appointment starts (for a part of the day, when the window
    /// opens).
    pub start: DateTime<Utc>,
    /// When it ends (for a part of the day, when the window closes).
    pub end: DateTime<Utc>,
    /// For a part of the day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<DayWindow>,
    /// In person, by telephone or by video.
    pub appointment_type: AppointmentChannel,
    /// Who the patient will see; absent for a part of the day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clinician: Option<String>,
    /// Where, as patients are told: "Riverside Surgery, 1 High Street".
    pub location: String,
}

impl From<Offer> for OfferResponse {
    fn from(o: Offer) -> Self {
        Self {
            offer_id: o.offer_id.to_string(),
            start: o.start,
            end: o.end,
            window: o.window,
            appointment_type: o.appointment_type,
            clinician: o.clinician.as_deref().map(str::to_owned),
            location: o.location.to_string(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OffersResponse {
    /// What the patient may book now, soonest first.
    pub offers: Vec<OfferResponse>,
}

/// The chosen appointment.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AppointmentResponse {
    /// When the appointment starts (for a part of the day, when the window
    /// opens).
    pub start: DateTime<Utc>,
    /// When it ends (for a part of the day, when the window closes).
    pub end: DateTime<Utc>,
    /// For a part of the day: `morning` or `afternoon`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<DayWindow>,
    /// e.g. "Tuesday 1 December 2026 at 9:05am", in practice time.
    pub when: String,
    /// In person, by telephone or by video.
    pub appointment_type: AppointmentChannel,
    /// Who the patient will see, as patients are told: "Nurse Patel".
    pub clinician: String,
    /// Where, as patients are told: "Riverside Surgery, 1 High Street".
    pub location: String,
    /// While booked: the last moment it can be cancelled online.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellable_until: Option<DateTime<Utc>>,
}

impl From<AppointmentView> for AppointmentResponse {
    fn from(a: AppointmentView) -> Self {
        Self {
            start: a.start,
            end: a.end,
            window: a.window,
            when: a.when,
            appointment_type: a.appointment_type,
            clinician: a.clinician,
            location: a.location,
            cancellable_until: a.cancellable_until,
        }
    }
}

/// A Self-Book invite as its page shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InviteResponse {
    /// `pending`: the booking is being made; `failed`: choose another time.
    pub status: InviteStatus,
    /// In person, by telephone or by video.
    pub appointment_type: AppointmentChannel,
    /// The slot type in the appointment book, e.g. `flu`.
    pub slot_type: String,
    /// `exact_time`: a slot's time; `time_window`: a morning or afternoon.
    pub timing: Timing,
    /// The words of "I don't want this", while the patient may decline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline: Option<String>,
    /// The appointment, once one is booked or being booked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment: Option<AppointmentResponse>,
    /// Why the last booking failed, in words for the patient; they may choose
    /// another time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// When the link stops working; absent for never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<InviteView> for InviteResponse {
    fn from(v: InviteView) -> Self {
        Self {
            status: v.status,
            appointment_type: v.appointment_type,
            slot_type: v.slot_type,
            timing: v.timing,
            decline: v.decline,
            appointment: v.appointment.map(Into::into),
            failure: v.failure,
            expires_at: v.expires_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookRequest {
    /// One of the offers from `GET /v1/links/{token}/slots`.
    pub offer_id: String,
}

/// The invite behind the link, for a page holding a session.
#[utoipa::path(
    get, path = "/v1/links/{token}/invite", tag = "patient links", security(()),
    params(LinkSession),
    responses(
        (status = 200, body = InviteResponse),
        (status = 401, description = "No session, or it expired", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_invite<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    link: LinkSession,
) -> Result<Json<InviteResponse>, LinkRefusal> {
    let view = state.app.link_invite(&link.token, &link.session).await?;
    Ok(Json(view.into()))
}

/// The times the patient may choose now, earliest first.
#[utoipa::path(
    get, path = "/v1/links/{token}/slots", tag = "patient links", security(()),
    params(LinkSession),
    responses(
        (status = 200, body = OffersResponse),
    )
)]
pub async fn get_offers<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    link: LinkSession,
) -> Result<Json<OffersResponse>, LinkRefusal> {
    let offers = state.app.link_offers(&link.token, &link.session).await?;
    Ok(Json(OffersResponse {
        offers: offers.into_iter().map(Into::into).collect(),
    }))
}

/// Book the chosen time. The answer is `pending` until the practice's
/// appointment book confirms; poll `GET /v1/links/{token}/invite`, and a
/// text confirms it too.
#[utoipa::path(
    post, path = "/v1/links/{token}/booking", tag = "patient links", security(()),
    params(LinkSession),
    request_body = BookRequest,
    responses(
        (status = 202, body = InviteResponse),
        (status = 409, description = "`slot_taken`: someone just took it, choose another; or the invite is already pending, booked, declined, cancelled or timed out", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not one of the offered times", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn book<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    link: LinkSession,
    JsonBody(request): JsonBody<BookRequest>,
) -> Result<(axum::http::StatusCode, Json<InviteResponse>), LinkRefusal> {
    let view = state
        .app
        .book_offer(&link.token, &link.session, &request.offer_id)
        .await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(view.into())))
}

/// "I don't want this": the invite is declined, for good.
#[utoipa::path(
    post, path = "/v1/links/{token}/decline", tag = "patient links", security(()),
    params(LinkSession),
    responses(
        (status = 200, body = InviteResponse),
        (status = 409, description = "Declining is not offered, or the invite is pending or booked", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn decline<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    link: LinkSession,
    _: NoBody,
) -> Result<Json<InviteResponse>, LinkRefusal> {
    let view = state.app.decline_invite(&link.token, &link.session).await?;
    Ok(Json(view.into()))
}

/// Cancel the booked appointment, up to 1 hour before it starts.
#[utoipa::path(
    post, path = "/v1/links/{token}/booking/cancel", tag = "patient links", security(()),
    params(LinkSession),
    responses(
        (status = 200, body = InviteResponse),
        (status = 409, description = "Nothing booked, or less than an hour to go", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cancel<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    link: LinkSession,
    _: NoBody,
) -> Result<Json<InviteResponse>, LinkRefusal> {
    let view = state.app.cancel_booking(&link.token, &link.session).await?;
    Ok(Json(view.into()))
}

/// The booked patients of a Self-Book batch, in the uploaded list's own
/// columns plus Status and Appointment: it can be uploaded again as a list.
#[utoipa::path(
    get, path = "/v1/batches/{batch_id}/booked.csv", tag = "self-book",
    params(("batch_id" = String, Path, description = "The batch's id, as `POST /v1/batches` answered it")),
    responses(
        (status = 200, content_type = "text/csv", body = String, description = "The upload's columns, then Status (Booked) and Appointment (practice time, YYYY-MM-DD HH:MM)"),
        (status = 303, description = "On AWS: a short-lived link to the file, in `Location`"),
        (status = 422, description = "Not a Self-Book batch", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn booked<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
) -> Result<Response, Problem> {
    let download = state
        .app
        .self_book_download(&caller, &batch_id, true)
        .await?;
    Ok(super::csv_download(
        download,
        &format!("booked-{batch_id}.csv"),
    ))
}

/// The patients of a Self-Book batch who were invited and have not booked,
/// in the uploaded list's own columns plus Status: upload it again to
/// invite them again.
#[utoipa::path(
    get, path = "/v1/batches/{batch_id}/not-booked.csv", tag = "self-book",
    params(("batch_id" = String, Path, description = "The batch's id, as `POST /v1/batches` answered it")),
    responses(
        (status = 200, content_type = "text/csv", body = String, description = "The upload's columns, then Status: Open, Pending, Failed, Declined, Cancelled or Timed Out"),
        (status = 303, description = "On AWS: a short-lived link to the file, in `Location`"),
        (status = 422, description = "Not a Self-Book batch", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn not_booked<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    Path(batch_id): Path<String>,
) -> Result<Response, Problem> {
    let download = state
        .app
        .self_book_download(&caller, &batch_id, false)
        .await?;
    Ok(super::csv_download(
        download,
        &format!("not-booked-{batch_id}.csv"),
    ))
}

/// The one patient of an individual invite.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientRequest {
    /// The patient's 10-digit NHS number.
    pub nhs_number: String,
    /// A UK mobile: the invite goes by SMS.
    pub mobile: String,
    /// `YYYY-MM-DD`: the patient proves who they are with it.
    pub date_of_birth: String,
    /// `((name))` in the message; one line, at most 100 characters.
    #[serde(default)]
    pub given_name: Option<String>,
}

/// Invite one patient to book: the same invite as a Self-Book batch, for
/// a single patient, usually at a named site (`self_book.location`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitePatientRequest {
    /// What staff call it (one line, at most 100 characters); "Invite:
    /// <slot type>" when left out.
    #[serde(default)]
    pub name: Option<String>,
    /// The one patient to invite.
    pub patient: PatientRequest,
    /// The text, with `((link))`; at most 2 SMS fragments.
    pub message: String,
    /// What they may book, as for a Self-Book batch.
    pub self_book: SelfBookRequest,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InvitedResponse {
    /// The invite's batch: its status, counts and reports are the batch's.
    pub batch_id: String,
    /// The one-patient list the invite was made from.
    pub list_id: String,
}

/// Invite one patient to book an appointment, now. The patient is checked
/// as a one-row list would be; the invite is then a Self-Book batch of one.
#[utoipa::path(
    post, path = "/v1/invites", tag = "self-book",
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry with the same key to get the same invite")),
    request_body = InvitePatientRequest,
    responses(
        (status = 201, body = InvitedResponse),
        (status = 422, description = "`detail` names the field and why, e.g. `patient.mobile: …`", body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "No appointment book is configured", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn invite_patient<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    super::IdempotencyKeyHeader(key): super::IdempotencyKeyHeader,
    JsonBody(request): JsonBody<InvitePatientRequest>,
) -> Result<(axum::http::StatusCode, Json<InvitedResponse>), Problem> {
    let invited = state
        .app
        .invite_patient(
            &caller,
            domain::usecases::PatientInvite {
                name: request.name,
                nhs_number: request.patient.nhs_number,
                mobile: request.patient.mobile,
                date_of_birth: request.patient.date_of_birth,
                given_name: request.patient.given_name,
                message: request.message,
                self_book: request.self_book.into(),
            },
            key.as_ref(),
        )
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(InvitedResponse {
            batch_id: invited.batch_id,
            list_id: invited.list_id,
        }),
    ))
}

/// Self-Book: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(super::operation!(check_availability))
        .routes(super::operation!(catalogue))
        .routes(super::operation!(invite_patient))
        .routes(super::operation!(booked))
        .routes(super::operation!(not_booked))
        .routes(super::operation!(get_invite))
        .routes(super::operation!(get_offers))
        .routes(super::operation!(book))
        .routes(super::operation!(decline))
        .routes(super::operation!(cancel))
}
