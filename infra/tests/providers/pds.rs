//! The PDS FHIR client against a local fake that answers as PDS documents:
//! a Patient with telecoms (one expired), a deceased patient, a restricted
//! record without contact details, 404 with an OperationOutcome, 429 then
//! success, and a service that stays down. The fake refuses requests
//! without a bearer token or an `X-Request-ID`, as PDS does.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use domain::ports::{Demographics, DemographicsError, DemographicsRecord};
use domain::values::NhsNumber;
use infra::pds::{PdsClient, PdsSettings};
use serde_json::json;

#[derive(Clone, Default)]
struct Fake {
    requests: Arc<Mutex<Vec<(String, Instant)>>>,
}

fn outcome(status: StatusCode, code: &str, display: &str) -> axum::response::Response {
    (
        status,
        Json(json!({
            "resourceType": "OperationOutcome",
            "issue": [{
                "severity": "error",
                "code": if status == StatusCode::NOT_FOUND { "not-found" } else { "processing" },
                "details": {"coding": [{
                    "system": "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode",
                    "version": "1",
                    "code": code,
                    "display": display
                }]}
            }]
        })),
    )
        .into_response()
}

fn patient(id: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut patient = json!({
        "resourceType": "Patient",
        "id": id,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": id}],
        "meta": {"versionId": "2", "security": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
            "code": "U", "display": "unrestricted"
        }]},
        "name": [{"use": "usual", "family": "Smith", "given": ["Jane"]}],
        "gender": "female",
        "birthDate": "2010-10-22"
    });
    let map = patient.as_object_mut().unwrap();
    for (k, v) in extra.as_object().unwrap() {
        map.insert(k.clone(), v.clone());
    }
    patient
}

async fn read(
    State(fake): State<Fake>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> axum::response::Response {
    let attempt = {
        let mut requests = fake.requests.lock().unwrap();
        requests.push((id.clone(), Instant::now()));
        requests.iter().filter(|(r, _)| *r == id).count()
    };
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer t0ken") {
        return outcome(StatusCode::UNAUTHORIZED, "ACCESS_DENIED", "Access Denied");
    }
    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok());
    if request_id
        .and_then(|v| uuid::Uuid::parse_str(v).ok())
        .is_none()
    {
        return outcome(
            StatusCode::BAD_REQUEST,
            "MISSING_VALUE",
            "Required value is missing",
        );
    }
    let body = match id.as_str() {
        "9000000009" => patient(
            &id,
            json!({
                "name": [
                    {"id": "122", "use": "usual", "period": {"start": "2010-01-01", "end": "2019-12-31"},
                     "given": ["Janet"], "family": "Jones"},
                    {"id": "123", "use": "nickname", "given": ["Jan"], "family": "Smith"},
                    {"id": "124", "use": "usual", "period": {"start": "2020-01-01"},
                     "given": ["Jane", "Mary"], "family": "Smith", "prefix": ["Mrs"]}
                ],
                "telecom": [
                {"id": "789", "period": {"start": "2020-01-01", "end": "2021-12-31"},
                 "system": "phone", "use": "mobile", "value": "07700 900111"},
                {"id": "790", "period": {"start": "2022-01-01"},
                 "system": "phone", "use": "mobile", "value": "07700 900123"},
                {"id": "791", "system": "phone", "use": "home", "value": "01632 960587"},
                {"id": "792", "system": "email", "use": "home", "value": "jane.smith@example.com"}
            ]}),
        ),
        "9000000017" => patient(
            &id,
            json!({
                "deceasedDateTime": "2010-10-22T00:00:00+00:00",
                "telecom": [{"system": "phone", "use": "mobile", "value": "07700 900124"}]
            }),
        ),
        "9000000025" => patient(
            &id,
            json!({"meta": {"versionId": "2", "security": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                "code": "R", "display": "restricted"
            }]}}),
        ),
        "9000000041" if attempt == 1 => {
            return outcome(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_REQUESTS",
                "Too many requests",
            );
        }
        "9000000041" => patient(&id, json!({})),
        "9000000068" => {
            return outcome(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "Service unavailable",
            );
        }
        _ => {
            return outcome(
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_FOUND",
                "Resource not found",
            )
        }
    };
    ([("content-type", "application/fhir+json")], Json(body)).into_response()
}

async fn start() -> (Fake, String) {
    let fake = Fake::default();
    let app = Router::new()
        .route("/personal-demographics/FHIR/R4/Patient/{id}", get(read))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "http://{}/personal-demographics/FHIR/R4",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, base)
}

fn client(base: &str, rate: u32) -> PdsClient {
    let mut settings = PdsSettings::new(base, "t0ken");
    settings.requests_per_second = NonZeroU32::new(rate).unwrap();
    settings.attempts = 3;
    settings.backoff = Duration::from_millis(20);
    PdsClient::new(settings)
}

fn nhs(n: &str) -> NhsNumber {
    NhsNumber::parse(n).unwrap()
}

#[tokio::test]
async fn the_client_reads_each_documented_answer() {
    let (fake, base) = start().await;
    let pds = client(&base, 1_000);
    assert_eq!(
        pds.lookup(&nhs("9000000009")).await,
        Ok(DemographicsRecord {
            deceased: false,
            restricted: false,
            // The current mobile, not the expired one or the home phone.
            mobile: Some("07700 900123".into()),
            // The first given name of the current usual name.
            given_name: Some("Jane".into()),
            family_name: Some("Smith".into()),
            birth_date: chrono::NaiveDate::from_ymd_opt(2010, 10, 22),
            email: Some("jane.smith@example.com".into()),
        })
    );
    assert_eq!(
        pds.lookup(&nhs("9000000017")).await,
        Ok(DemographicsRecord {
            deceased: true,
            restricted: false,
            mobile: Some("07700 900124".into()),
            given_name: Some("Jane".into()),
            family_name: Some("Smith".into()),
            birth_date: chrono::NaiveDate::from_ymd_opt(2010, 10, 22),
            email: None,
        })
    );
    assert_eq!(
        pds.lookup(&nhs("9000000025")).await,
        Ok(DemographicsRecord {
            deceased: false,
            restricted: true,
            mobile: None,
            // The name is still given; only contact details are withheld.
            given_name: Some("Jane".into()),
            family_name: Some("Smith".into()),
            birth_date: chrono::NaiveDate::from_ymd_opt(2010, 10, 22),
            email: None,
        })
    );
    assert_eq!(
        pds.lookup(&nhs("9000000033")).await,
        Err(DemographicsError::NotFound)
    );
    // A 429 is waited out and retried.
    assert_eq!(
        pds.lookup(&nhs("9000000041")).await,
        Ok(DemographicsRecord {
            given_name: Some("Jane".into()),
            family_name: Some("Smith".into()),
            birth_date: chrono::NaiveDate::from_ymd_opt(2010, 10, 22),
            ..DemographicsRecord::default()
        })
    );
    // A service that stays down is "unavailable" after every attempt, and
    // the error names no patient.
    assert_eq!(
        pds.lookup(&nhs("9000000068")).await,
        Err(DemographicsError::Unavailable(
            "PDS failed 3 times, last with HTTP 503".into()
        ))
    );
    let requests = fake.requests.lock().unwrap();
    let count = |id: &str| requests.iter().filter(|(r, _)| r == id).count();
    assert_eq!((count("9000000041"), count("9000000068")), (2, 3));
}

#[tokio::test]
async fn a_wrong_token_is_not_mistaken_for_a_missing_patient() {
    let (_, base) = start().await;
    let mut settings = PdsSettings::new(&base, "wrong");
    settings.attempts = 1;
    let pds = PdsClient::new(settings);
    assert_eq!(
        pds.lookup(&nhs("9000000009")).await,
        Err(DemographicsError::Unavailable(
            "PDS answered HTTP 401".into()
        ))
    );
}

#[tokio::test]
async fn lookups_never_exceed_five_a_second() {
    let (fake, base) = start().await;
    let pds = Arc::new(client(&base, 5));
    let lookups: Vec<_> = (0..11)
        .map(|_| {
            let pds = pds.clone();
            tokio::spawn(async move { pds.lookup(&nhs("9000000033")).await })
        })
        .collect();
    for lookup in lookups {
        assert_eq!(lookup.await.unwrap(), Err(DemographicsError::NotFound));
    }
    let mut times: Vec<Instant> = fake
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|(_, t)| *t)
        .collect();
    times.sort();
    assert_eq!(times.len(), 11);
    // Any six consecutive requests span at least a second (less a little
    // for the fake's own clock reading).
    for window in times.windows(6) {
        let span = window[5] - window[0];
        assert!(
            span >= Duration::from_millis(950),
            "six requests within {span:?}"
        );
    }
}
