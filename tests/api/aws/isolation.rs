//! Isolation by construction on the AWS adapters (issue 16): as
//! `tests/api/isolation.rs`, every id-taking operation in the OpenAPI
//! document, through the API function on DynamoDB and S3, asked by another
//! organisation for the first one's resources: each answer is 404, and no
//! event is written.

use axum::body::Body;
use serde_json::{json, Value};

use super::flow::{call, exchange, json_of};
use super::ingest::upload_and_ingest;
use super::links::Sent;
use crate::helpers::nhs_numbers;

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
    ];
    let patient = nhs_numbers(&csv)[0].clone();
    let body_for = |path: &str| -> Value {
        match path {
            "/v1/batches/{batch_id}/send" => json!({"now": true}),
            "/v1/batches/{batch_id}/links/revoke" => json!({"all": true}),
            "/v1/batches/{batch_id}/series/stop" => json!({"nhs_number": patient}),
            "/v1/templates/{template_id}" => json!({"name": "Mine", "body": "Hello"}),
            _ => json!({}),
        }
    };
    let (status, doc) = call(env, "A12345", "GET", "/openapi.json", None).await;
    assert_eq!(status, 200);
    let before = events_in(env).await;
    let mut tried = 0;
    for (template_path, operations) in doc["paths"].as_object().unwrap() {
        // A patient's link is reached by its token, never by a sign-in.
        if !template_path.contains('{') || template_path.starts_with("/v1/links/{token}") {
            continue;
        }
        let mut path = template_path.clone();
        for (name, id) in &ids {
            path = path.replace(&format!("{{{name}}}"), id);
        }
        assert!(
            !path.contains('{'),
            "{template_path}: no resource made for it"
        );
        for method in operations.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            let body = (method != "GET" && method != "DELETE").then(|| body_for(template_path));
            let (status, answer) = call(env, "B67890", &method, &path, body).await;
            assert_eq!(status, 404, "{method} {template_path}: {answer}");
            assert!(
                answer["code"].as_str().unwrap().ends_with("_not_found"),
                "{method} {template_path}: {answer}"
            );
            tried += 1;
        }
    }
    assert_eq!(tried, 16, "every id-taking staff operation was tried");
    assert_eq!(events_in(env).await, before, "nothing was written");
}
