//! Finding a patient (issue 18): a search of the simulated PDS by NHS
//! number and date of birth, with exact answers and refusals, each search
//! PDS answered recorded with the user who made it and naming the patient
//! only by a fingerprint.

use reqwest::Method;
use serde_json::{json, Value};
use sha2::Digest;

use crate::helpers::{spawn_app, TestApp};

const SAM: &str = "A12345:sam";
const AUDITOR: &str = "A12345:ida:auditor";
const OTHER_ORG: &str = "B81001:bo";

impl TestApp {
    async fn search_as(&self, who: &str, body: Value) -> (u16, Value) {
        TestApp::reply(
            self.request_as(who, Method::POST, "/v1/patients/search")
                .json(&body),
        )
        .await
    }

    /// Every recorded search: organisation, actor, patient fingerprint and
    /// outcome, in the order made.
    async fn searches(&self) -> Vec<(String, String, String, String)> {
        let events = self.stack.event_log().read_after(0, 10_000).await.unwrap();
        events
            .iter()
            .filter(|(_, e)| e.event_type == "PatientSearched")
            .map(|(_, e)| {
                let searched = &e.payload["PatientSearched"];
                (
                    searched["organisation_id"].as_str().unwrap().to_owned(),
                    e.metadata["actor"].as_str().unwrap().to_owned(),
                    searched["patient"].as_str().unwrap().to_owned(),
                    searched["outcome"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

fn fingerprint(org: &str, nhs_number: &str) -> String {
    hex::encode(sha2::Sha256::digest(format!("{org}:{nhs_number}")))
}

#[tokio::test]
async fn a_patient_is_found_by_nhs_number_and_date_of_birth_and_the_search_is_recorded() {
    let app = spawn_app().await;
    let (status, mut found) = app
        .search_as(
            SAM,
            json!({"nhs_number": "999 000 0018", "date_of_birth": "01/02/1950"}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let search_id = found["search_id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&search_id).is_ok(), "{search_id}");
    found.as_object_mut().unwrap().remove("search_id");
    assert_eq!(
        found,
        json!({"nhs_number": "9990000018", "date_of_birth": "1950-02-01",
               "given_name": "Joe", "family_name": "Bloggs",
               "mobile": "07700 100901", "email": "joe.bloggs@example.com",
               "deceased": false, "restricted": false})
    );
    assert_eq!(
        app.searches().await,
        [(
            "A12345".to_owned(),
            "user:sam".to_owned(),
            fingerprint("A12345", "9990000018"),
            "found".to_owned()
        )]
    );
    // The event log names the patient by the fingerprint alone.
    let log = app.stack.event_log().read_after(0, 10_000).await.unwrap();
    let text =
        serde_json::to_string(&log.iter().map(|(_, e)| &e.payload).collect::<Vec<_>>()).unwrap();
    for detail in [
        "9990000018",
        "1950-02-01",
        "Joe",
        "Bloggs",
        "07700",
        "example.com",
    ] {
        assert!(!text.contains(detail), "{detail} is in the event log");
    }
}

#[tokio::test]
async fn a_patient_who_died_or_has_a_restricted_record_is_found_without_contact_details() {
    let app = spawn_app().await;
    let (status, died) = app
        .search_as(
            SAM,
            json!({"nhs_number": "9990000042", "date_of_birth": "1931-05-09"}),
        )
        .await;
    assert_eq!(status, 200, "{died}");
    assert_eq!(
        (
            &died["deceased"],
            &died["mobile"],
            &died["email"],
            &died["given_name"]
        ),
        (&json!(true), &Value::Null, &Value::Null, &json!("Mary"))
    );
    let (status, restricted) = app
        .search_as(
            SAM,
            json!({"nhs_number": "9990000050", "date_of_birth": "1975-03-22"}),
        )
        .await;
    assert_eq!(status, 200, "{restricted}");
    assert_eq!(
        (
            &restricted["restricted"],
            &restricted["mobile"],
            &restricted["email"],
            &restricted["family_name"]
        ),
        (&json!(true), &Value::Null, &Value::Null, &json!("Shah"))
    );
}

#[tokio::test]
async fn an_unknown_number_and_a_wrong_date_of_birth_get_the_same_answer_and_the_record_says_which()
{
    let app = spawn_app().await;
    let not_found = json!({
        "type": "urn:batchbook:problem:patient_not_found",
        "code": "patient_not_found",
        "title": "Patient not found",
        "status": 404,
        "detail": "there is no patient with this NHS number and date of birth",
    });
    let (status, unknown) = app
        .search_as(
            SAM,
            json!({"nhs_number": "9434765919", "date_of_birth": "1950-02-01"}),
        )
        .await;
    assert_eq!((status, &unknown), (404, &not_found));
    let (status, wrong_birthday) = app
        .search_as(
            SAM,
            json!({"nhs_number": "9990000018", "date_of_birth": "1950-02-02"}),
        )
        .await;
    assert_eq!((status, &wrong_birthday), (404, &not_found));
    let outcomes: Vec<(String, String)> = app
        .searches()
        .await
        .into_iter()
        .map(|(_, _, patient, outcome)| (patient, outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            (fingerprint("A12345", "9434765919"), "not_found".to_owned()),
            (
                fingerprint("A12345", "9990000018"),
                "date_of_birth_differs".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn a_bad_search_is_refused_by_field_and_records_nothing() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"nhs_number": "12345", "date_of_birth": "1950-02-01"}),
            422,
            "nhs_number: an NHS number has 10 digits",
        ),
        (
            json!({"nhs_number": "9990000019", "date_of_birth": "1950-02-01"}),
            422,
            "nhs_number: the NHS number's check digit is wrong",
        ),
        (
            json!({"nhs_number": "", "date_of_birth": "1950-02-01"}),
            422,
            "nhs_number: no NHS number was given",
        ),
        (
            json!({"nhs_number": "9990000018", "date_of_birth": "31/02/1950"}),
            422,
            "date_of_birth: the date of birth does not exist in the calendar",
        ),
        (
            json!({"nhs_number": "9990000018", "date_of_birth": "2999-01-01"}),
            422,
            "date_of_birth: the date of birth is in the future",
        ),
        (
            json!({"nhs_number": "9990000018", "date_of_birth": "soon"}),
            422,
            "date_of_birth: the date of birth is not written as a date (for example 08/04/1947)",
        ),
        (
            json!({"nhs_number": "9990000018", "dob": "1950-02-01"}),
            422,
            "unknown field `dob`; the fields are `nhs_number`, `date_of_birth`",
        ),
        (
            json!({"nhs_number": "9990000018"}),
            422,
            "date_of_birth: is required",
        ),
    ];
    for (body, status, detail) in cases {
        let (got, problem) = app.search_as(SAM, body.clone()).await;
        assert_eq!(
            (got, problem["detail"].as_str().unwrap_or_default()),
            (status, detail),
            "{body}"
        );
    }
    // An auditor only reads the record; looking a patient up is not theirs.
    let (status, problem) = app
        .search_as(
            AUDITOR,
            json!({"nhs_number": "9990000018", "date_of_birth": "1950-02-01"}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str(), problem["detail"].as_str()),
        (
            403,
            Some("role_needed"),
            Some("this needs the staff or admin role; an auditor can only read")
        )
    );
    assert_eq!(app.searches().await, []);
}

#[tokio::test]
async fn a_search_is_recorded_for_the_searching_organisation_alone() {
    let app = spawn_app().await;
    let body = json!({"nhs_number": "9990000018", "date_of_birth": "1950-02-01"});
    assert_eq!(app.search_as(SAM, body.clone()).await.0, 200);
    assert_eq!(app.search_as(OTHER_ORG, body).await.0, 200);
    assert_eq!(
        app.searches().await,
        [
            (
                "A12345".to_owned(),
                "user:sam".to_owned(),
                fingerprint("A12345", "9990000018"),
                "found".to_owned()
            ),
            (
                "B81001".to_owned(),
                "user:bo".to_owned(),
                fingerprint("B81001", "9990000018"),
                "found".to_owned()
            ),
        ]
    );
}
