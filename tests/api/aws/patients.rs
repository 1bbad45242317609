//! Finding a patient on the AWS adapters (issue 18), through the API
//! function on moto: the stack's PDS (the simulator when no PDS is
//! configured) answers, and the search is recorded in DynamoDB with the
//! user who made it.

use axum::body::Body;
use cqrs_es::persist::PersistedEventRepository;
use domain::aggregates::PatientSearch;
use infra::aws::DynamoEventRepository;
use serde_json::{json, Value};
use sha2::Digest;

use super::env::AwsTestEnv;
use super::flow::{exchange_as, json_of, Signer};

const SAM: Signer = Signer {
    org: "A12345",
    user: "sam",
    name: "Sam Jones",
    role: "staff",
};

async fn search(env: &AwsTestEnv, body: Value) -> (u16, Value) {
    let headers = [("content-type", "application/json")];
    json_of(
        exchange_as(
            env,
            &SAM,
            "POST",
            "/v1/patients/search",
            &headers,
            Body::from(body.to_string()),
        )
        .await,
    )
    .await
}

#[tokio::test]
async fn a_patient_search_answers_from_pds_and_is_recorded_in_dynamodb() {
    let env = AwsTestEnv::new().await;
    let (status, found) = search(
        &env,
        json!({"nhs_number": "9990000093", "date_of_birth": "1980-01-31"}),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(
        (&found["given_name"], &found["family_name"], &found["email"]),
        (
            &json!("Priya"),
            &json!("Patel"),
            &json!("priya.patel@example.com")
        )
    );
    let search_id = found["search_id"].as_str().unwrap();
    let repo = DynamoEventRepository::new(env.dynamo.clone(), &env.settings.events_table);
    let events = repo.get_events::<PatientSearch>(search_id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "PatientSearched");
    assert_eq!(events[0].metadata["actor"], "user:sam");
    assert_eq!(
        events[0].payload["PatientSearched"]["patient"],
        hex::encode(sha2::Sha256::digest("A12345:9990000093"))
    );
    assert_eq!(events[0].payload["PatientSearched"]["outcome"], "found");

    let (status, problem) = search(
        &env,
        json!({"nhs_number": "9990000093", "date_of_birth": "1980-01-30"}),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("patient_not_found"))
    );
}
