//! The organisation's settings.

use axum::extract::State;
use axum::Json;
use cqrs_es::persist::PersistedEventRepository;
use domain::policies::SendingWindow;
use domain::usecases::{OrganisationSettings, PracticeContact, ReplySettings};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::JsonBody;
use super::{ApiState, Authenticated, Problem};

/// What an organisation has chosen.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    /// Mark a mobile `mobile_likely_to_fail` when a message from this
    /// organisation to it failed for good in the last 3 months.
    pub flag_mobiles_likely_to_fail: bool,
    /// When SMS and NHS App messages may leave, as local `HH:MM` times and
    /// an IANA time zone: `{"opens": "08:00", "closes": "20:00",
    /// "time_zone": "Europe/London"}` unless changed. Messages due outside
    /// it wait for it to open; emails are not held.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub sending_window: SendingWindow,
    /// How patients reach the practice, shown on a link that was withdrawn,
    /// has expired or is locked: `{"name": "Riverside Surgery", "phone":
    /// "01632 960000", "website": "https://riverside.example"}`; `phone`
    /// and `website` are optional. `name`: one line, at most 100
    /// characters, no `<` or `>`; `phone`: digits, spaces and `+ ( ) -`, at
    /// most 30; `website`: an `http` or `https` address, at most 200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub contact: Option<PracticeContact>,
    /// Other organisations' sites (ids in the appointment book, such as a
    /// shared hub) Self-Book invites may book into: at most 50, each at
    /// most 64 characters, none twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_sites: Vec<String>,
    /// How patients may reply to a conversation's message that allows a
    /// reply: `{"max_chars": 1000, "valid_for_days": 14}` unless changed.
    /// `max_chars` is the longest reply, from 50 to 5000 characters;
    /// `valid_for_days` how many days after the message a reply is taken,
    /// from 1 to 90.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub replies: ReplySettings,
}

impl From<OrganisationSettings> for SettingsBody {
    fn from(s: OrganisationSettings) -> Self {
        Self {
            flag_mobiles_likely_to_fail: s.flag_mobiles_likely_to_fail,
            sending_window: s.sending_window,
            contact: s.contact,
            other_sites: s.other_sites,
            replies: s.replies,
        }
    }
}

/// The caller's organisation's settings.
#[utoipa::path(
    get, path = "/v1/settings", tag = "settings",
    responses((status = 200, body = SettingsBody))
)]
pub async fn get_settings<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<SettingsBody>, Problem> {
    Ok(Json(state.app.settings(&caller).await?.into()))
}

/// Replace the caller's organisation's settings.
#[utoipa::path(
    put, path = "/v1/settings", tag = "settings",
    request_body = SettingsBody,
    responses(
        (status = 200, body = SettingsBody),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put_settings<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<SettingsBody>,
) -> Result<Json<SettingsBody>, Problem> {
    let settings = OrganisationSettings {
        flag_mobiles_likely_to_fail: body.flag_mobiles_likely_to_fail,
        sending_window: body.sending_window,
        contact: body.contact,
        other_sites: body.other_sites,
        replies: body.replies,
    };
    Ok(Json(
        state.app.update_settings(&caller, settings).await?.into(),
    ))
}

/// Settings: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(super::operation!(get_settings))
        .routes(super::operation!(put_settings))
}
