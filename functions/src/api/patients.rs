//! Finding one patient to message: a search of the demographics service
//! (PDS) by NHS number and date of birth. A POST, so that neither ever
//! sits in a URL, a proxy's log or a browser's history.

use axum::extract::State;
use axum::Json;
use cqrs_es::persist::PersistedEventRepository;
use domain::usecases::FoundPatient;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::JsonBody;
use super::{ApiState, Authenticated, Problem};

/// Who to look for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientSearchRequest {
    /// Ten digits, the last a check digit; spaces or hyphens between the
    /// groups are allowed (`943 476 5919`).
    pub nhs_number: String,
    /// `1947-04-08`, or day first as clinical systems write it
    /// (`08/04/1947`, `8 April 1947`).
    pub date_of_birth: String,
}

/// The patient PDS holds with that NHS number and date of birth.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct PatientResponse {
    /// The recorded search this answers: every search is recorded with the
    /// user who made it.
    pub search_id: String,
    /// Ten digits, no spaces.
    pub nhs_number: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: chrono::NaiveDate,
    /// The first given name of the current usual name.
    pub given_name: Option<String>,
    /// The family name of that same name.
    pub family_name: Option<String>,
    /// The current mobile, as PDS writes it; `null` when PDS holds none,
    /// the record is restricted or the patient has died.
    pub mobile: Option<String>,
    /// The current email address; `null` as for `mobile`.
    pub email: Option<String>,
    /// PDS records that the patient has died: do not message them.
    pub deceased: bool,
    /// A restricted (sensitive) record: PDS gives out no contact details.
    pub restricted: bool,
}

impl From<FoundPatient> for PatientResponse {
    fn from(p: FoundPatient) -> Self {
        Self {
            search_id: p.search_id,
            nhs_number: p.nhs_number.as_ref().to_owned(),
            date_of_birth: p.date_of_birth,
            given_name: p.given_name,
            family_name: p.family_name,
            mobile: p.mobile,
            email: p.email,
            deceased: p.deceased,
            restricted: p.restricted,
        }
    }
}

/// Find a patient by NHS number and date of birth. The search is recorded,
/// found or not, with the signed-in user.
#[utoipa::path(
    post, path = "/v1/patients/search", tag = "patients",
    request_body = PatientSearchRequest,
    responses(
        (status = 200, body = PatientResponse),
        (status = 404, description = "`patient_not_found`: PDS holds no patient with this NHS number and this date of birth (which of the two is not said)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`detail` names the field and why: `nhs_number` (length, digits, check digit) or `date_of_birth` (not a date, impossible, in the future)", body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "`no_demographics`: this deployment has no demographics service", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn search_patient<R: PersistedEventRepository + 'static>(
    State(state): State<ApiState<R>>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<PatientSearchRequest>,
) -> Result<Json<PatientResponse>, Problem> {
    Ok(Json(
        state
            .app
            .find_patient(&caller, &request.nhs_number, &request.date_of_birth)
            .await?
            .into(),
    ))
}

/// Patients: this module's routes, each with its OpenAPI operation.
pub(super) fn routes<R: PersistedEventRepository + 'static>(
) -> utoipa_axum::router::OpenApiRouter<ApiState<R>> {
    utoipa_axum::router::OpenApiRouter::new().routes(super::operation!(search_patient))
}
