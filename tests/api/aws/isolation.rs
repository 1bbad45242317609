//! Isolation by construction on the AWS adapters (issue 16): as
//! `tests/api/isolation.rs`, every id-taking operation in the OpenAPI
//! document, through the API function on DynamoDB and S3, asked by another
//! organisation for the first one's resources: each answer is 404, and no
//! event is written.

use axum::body::Body;
use serde_json::json;

use super::flow::{call, exchange, json_of};
use super::ingest::upload_and_ingest;
use super::links::Sent;
use crate::helpers::{id_operations, nhs_numbers};

async fn events_in(env: &super::env::AwsTestEnv) -> i32 {
    env.dynamo
        .scan()
        .table_name(&env.settings.events_table)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap()
        .count()
}

#[tokio::test]
async fn no_operation_lets_one_organisation_reach_anothers_resource_through_the_api_function() {
    let run = Sent::batch(json!({"name": "Smoking", "questionnaire": "smoking_status",
        "message": "Dear ((name)), please answer: ((link))"}))
    .await;
    let env = &run.env;
    let csv = crate::helpers::clean_list(2);
    let list_id = upload_and_ingest(env, &csv).await;
    let (status, template) = call(
        env,
        "A12345",
        "POST",
        "/v1/templates",
        Some(json!({"name": "Flu", "body": "Dear ((name))"})),
    )
    .await;
    assert_eq!(status, 201, "{template}");
    let response = exchange(
        env,
        "A12345",
        "POST",
        "/v1/attachments?file_name=leaflet.pdf",
        &[("content-type", "application/pdf")],
        Body::from(b"%PDF-1.4\n%%EOF\n".to_vec()),
    )
    .await;
    let (status, attachment) = json_of(response).await;
    assert_eq!(status, 201, "{attachment}");
    let (status, workspace) = call(
        env,
        "A12345",
        "POST",
        "/v1/workspaces",
        Some(json!({"name": "Dermatology"})),
    )
    .await;
    assert_eq!(status, 201, "{workspace}");
    let workspace_id = workspace["workspace_id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        env,
        "A12345",
        "PUT",
        &format!("/v1/workspaces/{workspace_id}/members/sam"),
        Some(json!({"name": "Sam"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        env,
        "A12345",
        "PUT",
        &format!("/v1/workspaces/{workspace_id}/members/user-1"),
        Some(json!({"name": "Jo Bloggs"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, conversation) = call(
        env,
        "A12345",
        "POST",
        "/v1/conversations",
        Some(
            json!({"workspace_id": workspace_id, "nhs_number": "9990000018",
                    "date_of_birth": "1950-02-01", "channel": "sms", "body": "Hello"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{conversation}");
    let ids = [
        ("batch_id", run.batch_id.clone()),
        ("list_id", list_id),
        (
            "template_id",
            template["template_id"].as_str().unwrap().to_owned(),
        ),
        (
            "attachment_id",
            attachment["attachment_id"].as_str().unwrap().to_owned(),
        ),
        ("workspace_id", workspace_id),
        ("user_id", "sam".to_owned()),
        (
            "conversation_id",
            conversation["conversation_id"].as_str().unwrap().to_owned(),
        ),
    ];
    let patient = nhs_numbers(&csv)[0].clone();
    let (status, doc) = call(env, "A12345", "GET", "/openapi.json", None).await;
    assert_eq!(status, 200);
    let before = events_in(env).await;
    let mut tried = 0;
    for op in id_operations(&doc, &ids, &patient) {
        let (status, answer) = call(env, "B67890", &op.method, &op.path, op.body).await;
        let what = format!("{} {}", op.method, op.documented);
        assert_eq!(status, 404, "{what}: {answer}");
        assert!(
            answer["code"].as_str().unwrap().ends_with("_not_found"),
            "{what}: {answer}"
        );
        tried += 1;
    }
    assert_eq!(tried, 27, "every id-taking staff operation was tried");
    assert_eq!(events_in(env).await, before, "nothing was written");
}
