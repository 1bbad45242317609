//! The auditor's history export on the AWS adapters (issue 19), through the
//! API function on moto: a batch's events read from DynamoDB, its patients
//! joined from the list artifact in S3, and the export recorded in
//! DynamoDB with the auditor who made it.

use axum::body::Body;
use serde_json::{json, Value};

use super::env::AwsTestEnv;
use super::flow::{exchange_as, Signer};
use super::links::Sent;
use crate::helpers::{clean_list, nhs_numbers};

const IDA: Signer = Signer {
    org: "A12345",
    user: "ida",
    name: "Ida Price",
    role: "auditor",
};

async fn export(env: &AwsTestEnv, who: &Signer<'_>, body: Value) -> (u16, Vec<Value>) {
    let response = exchange_as(
        env,
        who,
        "POST",
        "/v1/audit/history",
        &[("content-type", "application/json")],
        Body::from(body.to_string()),
    )
    .await;
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    if status != 200 {
        return (status, vec![serde_json::from_str(&text).unwrap()]);
    }
    (
        status,
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

#[tokio::test]
async fn an_auditor_exports_a_batch_from_dynamodb_with_its_patients_and_the_export_is_recorded() {
    let run = Sent::batch(json!({"name": "Smoking", "questionnaire": "smoking_status",
                                 "message": "Please answer: ((link))"}))
    .await;
    let (status, events) = export(
        &run.env,
        &IDA,
        json!({"batch_id": run.batch_id, "patient_details": true}),
    )
    .await;
    assert_eq!(status, 200, "{events:?}");
    assert_eq!(events[0]["event_type"], "BatchDrafted");
    let positions: Vec<i64> = events
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, (1..=events.len() as i64).collect::<Vec<_>>());
    let mut sent: Vec<String> = events
        .iter()
        .filter(|e| e["event_type"] == "MessageSent")
        .map(|e| e["patient"]["nhs_number"].as_str().unwrap().to_owned())
        .collect();
    sent.sort();
    assert_eq!(sent, nhs_numbers(&clean_list(2)));

    // Staff cannot, and the export is in the auditor's own history.
    let sam = Signer {
        org: "A12345",
        user: "sam",
        name: "Sam Jones",
        role: "staff",
    };
    let (status, refused) = export(&run.env, &sam, json!({"batch_id": run.batch_id})).await;
    assert_eq!(status, 403);
    assert_eq!(refused[0]["detail"], "this needs the auditor role");
    let (status, own) = export(&run.env, &IDA, json!({"user_id": "ida"})).await;
    assert_eq!(status, 200);
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0]["event_type"], "HistoryExported");
    assert_eq!(
        own[0]["payload"]["HistoryExported"]["subject"],
        format!("batch:{}", run.batch_id)
    );
    assert_eq!(own[0]["payload"]["HistoryExported"]["events"], events.len());

    // A subject access request for the first patient, from DynamoDB and S3.
    let first = &nhs_numbers(&clean_list(2))[0];
    let response = exchange_as(
        &run.env,
        &IDA,
        "POST",
        "/v1/audit/subject-access",
        &[("content-type", "application/json")],
        Body::from(json!({"nhs_number": first, "format": "json"}).to_string()),
    )
    .await;
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let access: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(access["held"][0]["nhs_number"], first.as_str());
    assert_eq!(access["batches"].as_array().unwrap().len(), 1);
    assert_eq!(access["batches"][0]["batch_id"], run.batch_id);
    assert_eq!(
        access["batches"][0]["message"],
        "Please answer: [your link]"
    );
    assert_eq!(access["conversations"], json!([]));
}
