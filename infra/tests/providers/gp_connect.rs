//! The GP Connect Appointment Management client against a local fake that
//! answers as the GP Connect FHIR STU3 API documents: Spine Secure Proxy
//! headers and the unsigned JWT on every request, slot searches of at most
//! 14 days (longer ones refused with 422), the patient search, booking
//! (409 when the slot is taken), a patient's appointments, and cancelling
//! by `PUT` under the appointment's version.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use domain::appointments::{
    catalogue, AppointmentBook, AppointmentChannel, BookError, BookingRequest, ClinicianEntry,
    LocationEntry, SlotSearch, SlotTypeEntry,
};
use infra::gp_connect::{GpConnectClient, GpConnectSettings};
use infra::http::RetryPolicy;
use serde_json::{json, Value};

const PATIENT: &str = "9434765919";

/// A slot the fake offers: its id, start, and the appointment booked in it.
type FakeSlot = (String, DateTime<Utc>, Option<String>);

#[derive(Default)]
struct Fake {
    slots: Mutex<Vec<FakeSlot>>,
    /// Appointment id → (slot id, status).
    appointments: Mutex<HashMap<String, (String, String)>>,
    /// The windows searched, in days.
    searches: Mutex<Vec<i64>>,
    /// Answers to send before the real one.
    failures: Mutex<u32>,
    /// Requests whose headers or token were wrong.
    refused: Mutex<u32>,
}

fn outcome(status: StatusCode, code: &str) -> Response {
    let body = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid",
        "details": {"coding": [{"system": "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1", "code": code}]}}]});
    (status, Json(body)).into_response()
}

/// The headers the Spine Secure Proxy needs, and the unsigned token.
fn proper(headers: &HeaderMap, interaction: &str) -> bool {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let token = header("authorization")
        .strip_prefix("Bearer ")
        .unwrap_or_default();
    let parts: Vec<&str> = token.split('.').collect();
    let decode = |part: &str| -> Value {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    };
    parts.len() == 3
        && parts[2].is_empty()
        && decode(parts[0])["alg"] == "none"
        && decode(parts[1])["reason_for_request"] == "directcare"
        && uuid::Uuid::parse_str(header("ssp-traceid")).is_ok()
        && header("ssp-from") == "200000001234"
        && header("ssp-to") == "918999198738"
        && header("ssp-interactionid")
            == format!("urn:nhs:names:services:gpconnect:fhir:rest:{interaction}")
}

fn when(value: &str, prefix: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.strip_prefix(prefix)?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

async fn slots(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if !proper(&headers, "search:slot-1") {
        *fake.refused.lock().unwrap() += 1;
        return outcome(StatusCode::BAD_REQUEST, "BAD_REQUEST");
    }
    {
        let mut failures = fake.failures.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            return outcome(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR");
        }
    }
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (Some(from), Some(to)) = (
        param("start").and_then(|v| when(v, "ge")),
        param("end").and_then(|v| when(v, "le")),
    ) else {
        return outcome(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_PARAMETER");
    };
    let days = (to - from).num_days();
    fake.searches.lock().unwrap().push(days);
    if days > 14 || param("status") != Some("free") {
        return outcome(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_PARAMETER");
    }
    let mut entries = vec![
        json!({"resource": {"resourceType": "Schedule", "id": "s-1",
            "actor": [{"reference": "Practitioner/dr-okafor"}, {"reference": "Location/riverside"}]}}),
        json!({"resource": {"resourceType": "Practitioner", "id": "dr-okafor",
            "name": [{"family": "Okafor", "given": ["Ada"], "prefix": ["Dr"]}]}}),
        json!({"resource": {"resourceType": "Location", "id": "riverside", "name": "Riverside Surgery",
            "address": {"line": ["1 High Street", "Riverside"], "postalCode": "RV1 1AA"}}}),
    ];
    for (id, start, booked) in fake.slots.lock().unwrap().iter() {
        if booked.is_none() && *start >= from && *start <= to {
            entries.push(json!({"resource": {"resourceType": "Slot", "id": id, "status": "free",
                "start": start.to_rfc3339(), "end": (*start + chrono::Duration::minutes(15)).to_rfc3339(),
                "schedule": {"reference": "Schedule/s-1"},
                "serviceType": [{"text": "review"}],
                "extension": [{"url": "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-DeliveryChannel-2",
                               "valueCode": "Telephone"}]}}));
        }
    }
    Json(json!({"resourceType": "Bundle", "type": "searchset", "entry": entries})).into_response()
}

async fn patients(headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    if !proper(&headers, "search:patient-1") {
        return outcome(StatusCode::BAD_REQUEST, "BAD_REQUEST");
    }
    let wanted = format!("https://fhir.nhs.uk/Id/nhs-number|{PATIENT}");
    let entry: Vec<Value> = (query.get("identifier") == Some(&wanted))
        .then(|| json!({"resource": {"resourceType": "Patient", "id": "p-1"}}))
        .into_iter()
        .collect();
    Json(json!({"resourceType": "Bundle", "type": "searchset", "entry": entry})).into_response()
}

async fn book(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !proper(&headers, "create:appointment-1")
        || body["participant"][0]["actor"]["reference"] != "Patient/p-1"
    {
        return outcome(StatusCode::BAD_REQUEST, "BAD_REQUEST");
    }
    let slot_id = body["slot"][0]["reference"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("Slot/")
        .to_owned();
    let mut slots = fake.slots.lock().unwrap();
    let Some(slot) = slots.iter_mut().find(|(id, _, _)| *id == slot_id) else {
        return outcome(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_RESOURCE");
    };
    if slot.2.is_some() {
        return outcome(StatusCode::CONFLICT, "DUPLICATE_REJECTED");
    }
    let id = format!("a-{}", fake.appointments.lock().unwrap().len() + 1);
    slot.2 = Some(id.clone());
    fake.appointments
        .lock()
        .unwrap()
        .insert(id.clone(), (slot_id, "booked".into()));
    let mut created = body.clone();
    created["id"] = json!(id);
    (StatusCode::CREATED, Json(created)).into_response()
}

async fn patient_appointments(State(fake): State<Arc<Fake>>, headers: HeaderMap) -> Response {
    if !proper(&headers, "search:patient_appointments-1") {
        return outcome(StatusCode::BAD_REQUEST, "BAD_REQUEST");
    }
    let entry: Vec<Value> = fake
        .appointments
        .lock()
        .unwrap()
        .iter()
        .map(|(id, (slot, status))| {
            json!({"resource": {"resourceType": "Appointment", "id": id,
            "status": status, "slot": [{"reference": format!("Slot/{slot}")}]}})
        })
        .collect();
    Json(json!({"resourceType": "Bundle", "type": "searchset", "entry": entry})).into_response()
}

async fn read(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !proper(&headers, "read:appointment-1") {
        return outcome(StatusCode::BAD_REQUEST, "BAD_REQUEST");
    }
    match fake.appointments.lock().unwrap().get(&id) {
        Some((slot, status)) => (
            [("etag", "W/\"1\"")],
            Json(
                json!({"resourceType": "Appointment", "id": id, "status": status,
                        "slot": [{"reference": format!("Slot/{slot}")}]}),
            ),
        )
            .into_response(),
        None => outcome(StatusCode::NOT_FOUND, "APPOINTMENT_NOT_FOUND"),
    }
}

async fn update(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if !proper(&headers, "update:appointment-1")
        || headers.get("if-match").and_then(|v| v.to_str().ok()) != Some("W/\"1\"")
        || body["status"] != "cancelled"
        || body["extension"][0]["valueString"].as_str().is_none()
    {
        return outcome(StatusCode::BAD_REQUEST, "BAD_REQUEST");
    }
    let mut appointments = fake.appointments.lock().unwrap();
    let Some((slot, status)) = appointments.get_mut(&id) else {
        return outcome(StatusCode::NOT_FOUND, "APPOINTMENT_NOT_FOUND");
    };
    *status = "cancelled".into();
    if let Some(s) = fake
        .slots
        .lock()
        .unwrap()
        .iter_mut()
        .find(|(i, _, _)| i == slot)
    {
        s.2 = None;
    }
    Json(body).into_response()
}

fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap() + chrono::Duration::days(n)
}

async fn harness() -> (Arc<Fake>, GpConnectClient) {
    let fake = Arc::new(Fake::default());
    // One review slot a day at 09:00 for 40 days.
    *fake.slots.lock().unwrap() = (0..40)
        .map(|n| (format!("slot-{n}"), day(n), None))
        .collect();
    let app = Router::new()
        .route("/Slot", get(slots))
        .route("/Patient", get(patients))
        .route("/Appointment", axum::routing::post(book))
        .route("/Appointment/{id}", get(read).put(update))
        .route("/Patient/{id}/Appointment", get(patient_appointments))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = GpConnectClient::new(GpConnectSettings {
        base_url: address,
        from_asid: "200000001234".into(),
        to_asid: "918999198738".into(),
        ods_code: "A12345".into(),
        consumer_ods_code: "X26".into(),
        retry: RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(10),
        },
        timeout: Duration::from_secs(5),
    });
    (fake, client)
}

fn search(from: i64, to: i64) -> SlotSearch {
    SlotSearch {
        slot_type: "review".into(),
        from: day(from) - chrono::Duration::hours(1),
        to: day(to) - chrono::Duration::hours(1),
        clinicians: vec![],
        channel: None,
        location: None,
        other_sites: vec![],
    }
}

#[tokio::test]
async fn a_search_over_more_than_two_weeks_goes_in_pages_of_at_most_14_days() {
    let (fake, client) = harness().await;
    let found = client.search(&search(0, 30)).await.unwrap();
    assert_eq!(
        found.iter().map(|s| &*s.slot_id).collect::<Vec<_>>(),
        (0..30).map(|n| format!("slot-{n}")).collect::<Vec<_>>()
    );
    assert_eq!(*fake.searches.lock().unwrap(), [14, 14, 2]);
    let first = &found[0];
    assert_eq!(
        (first.start, first.end - first.start),
        (day(0), chrono::Duration::minutes(15))
    );
    assert_eq!(
        (
            &*first.clinician,
            &*first.clinician_name,
            &*first.location,
            &*first.location_name,
            first.channel,
            first.busy
        ),
        (
            "dr-okafor",
            "Dr Ada Okafor",
            "riverside",
            "Riverside Surgery, 1 High Street",
            AppointmentChannel::Telephone,
            false
        )
    );
    assert_eq!(
        *fake.refused.lock().unwrap(),
        0,
        "every request had its headers and token"
    );
    // Another slot type finds nothing.
    let mut other = search(0, 30);
    other.slot_type = "flu".into();
    assert!(client.search(&other).await.unwrap().is_empty());
}

/// GP Connect has no catalogue call: the catalogue is read from a search of
/// every free slot over 28 days, in pages of at most 14.
#[tokio::test]
async fn the_catalogue_comes_from_a_free_slot_search_over_the_window() {
    let (fake, client) = harness().await;
    let slots = client
        .slots_between(
            day(0) - chrono::Duration::hours(1),
            day(28) - chrono::Duration::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(slots.len(), 28, "one a day for 28 days");
    assert_eq!(*fake.searches.lock().unwrap(), [14, 14]);
    assert_eq!(
        catalogue(&slots, &[]),
        domain::appointments::Catalogue {
            slot_types: vec![SlotTypeEntry {
                slot_type: "review".into(),
                channels: vec![AppointmentChannel::Telephone],
                bookable: 28,
            }],
            clinicians: vec![ClinicianEntry {
                clinician: "dr-okafor".into(),
                name: "Dr Ada Okafor".into(),
                slot_types: vec!["review".into()],
            }],
            locations: vec![LocationEntry {
                location: "riverside".into(),
                name: "Riverside Surgery, 1 High Street".into(),
                organisation: None,
            }],
        }
    );
}

#[tokio::test]
async fn a_5xx_is_retried_and_after_the_last_attempt_the_book_is_unavailable() {
    let (fake, client) = harness().await;
    *fake.failures.lock().unwrap() = 2;
    assert_eq!(client.search(&search(0, 3)).await.unwrap().len(), 3);
    *fake.failures.lock().unwrap() = 3;
    assert_eq!(
        client.search(&search(0, 3)).await,
        Err(BookError::Unavailable(
            "GP Connect: failed 3 times, last with HTTP 500".into()
        ))
    );
}

#[tokio::test]
async fn a_slot_is_booked_once_a_lost_answer_is_found_again_and_a_cancel_frees_it() {
    let (fake, client) = harness().await;
    let slot = client.search(&search(0, 1)).await.unwrap().remove(0);
    let request = |key: &str| BookingRequest {
        slot: slot.clone(),
        nhs_number: PATIENT.into(),
        idempotency_key: key.into(),
    };
    let booked = client.book(&request("invite-1")).await.unwrap();
    assert_eq!(booked.appointment_id, "a-1");
    assert!(booked.slot.busy);
    // The first answer was lost: the retry gets 409, finds the patient's
    // appointment in that slot, and books nothing more.
    assert_eq!(client.book(&request("invite-1")).await.unwrap(), booked);
    assert_eq!(fake.appointments.lock().unwrap().len(), 1);
    // Someone else's appointment in the slot means it was taken.
    fake.appointments.lock().unwrap().get_mut("a-1").unwrap().1 = "cancelled".into();
    assert_eq!(
        client.book(&request("invite-2")).await,
        Err(BookError::SlotTaken)
    );
    fake.appointments.lock().unwrap().get_mut("a-1").unwrap().1 = "booked".into();

    client.cancel("a-1").await.unwrap();
    client.cancel("a-1").await.unwrap(); // already cancelled: nothing to do
    assert_eq!(
        client.cancel("a-9").await,
        Err(BookError::UnknownAppointment)
    );
    assert_eq!(
        client.search(&search(0, 1)).await.unwrap().len(),
        1,
        "the slot is free again"
    );
    assert_eq!(
        client
            .book(&request("invite-3"))
            .await
            .unwrap()
            .appointment_id,
        "a-2"
    );
}
