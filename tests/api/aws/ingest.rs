//! An S3 put of a CSV reaches the ingest function through the bucket's
//! notification to SQS.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use domain::lists::ListError;
use domain::values::OrganisationId;
use domain::{BatchbookError, Caller};

use super::env::{delete_handled, receive_sqs_event, AwsTestEnv};

pub fn caller(org: &str) -> Caller {
    Caller::user(
        OrganisationId::parse(org).unwrap(),
        "test-user",
        "Test user",
        domain::Role::Admin,
        "aws-test",
    )
}

/// Runs the ingest handler over the ingest queue until `key` has been seen.
pub async fn ingest_until_seen(env: &AwsTestEnv, key: &str) {
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no notification for {key}"
        );
        let (event, receipts) = receive_sqs_event(&env.sqs, &env.ingest_queue_url).await;
        let bodies: Vec<String> = event
            .records
            .iter()
            .filter_map(|r| r.body.clone())
            .collect();
        let response = functions::ingest::handle_ingest_event(&env.stack.app, event).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "ingest failed on {bodies:?}"
        );
        delete_handled(&env.sqs, &env.ingest_queue_url, &receipts, &response).await;
        let seen = bodies.iter().any(|b| {
            functions::ingest::keys_in(b)
                .unwrap_or_default()
                .iter()
                .any(|k| k == key)
        });
        if seen {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Puts `csv` where a presigned upload for A12345 would, and runs the ingest
/// function until it is checked. Returns the list id.
pub async fn upload_and_ingest(env: &AwsTestEnv, csv: &str) -> String {
    let list_id = uuid::Uuid::new_v4().to_string();
    let key = format!("uploads/A12345/{list_id}.csv");
    put(env, &key, csv).await;
    ingest_until_seen(env, &key).await;
    list_id
}

async fn put(env: &AwsTestEnv, key: &str, csv: &str) {
    env.s3
        .put_object()
        .bucket(&env.settings.bucket)
        .key(key)
        .body(ByteStream::from(csv.as_bytes().to_vec()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_csv_put_in_s3_is_checked_by_the_ingest_function() {
    let env = AwsTestEnv::new().await;
    let list_id = uuid::Uuid::new_v4().to_string();
    let key = format!("uploads/A12345/{list_id}.csv");
    put(
        &env,
        &key,
        "NHS Number,Telecom Number,DOB\n9434765919,07700 100123,01/02/1950\n4010232137,020 7946 0123,01/02/1950\n",
    )
    .await;
    ingest_until_seen(&env, &key).await;

    let summary = env
        .stack
        .app
        .list_summary(&caller("A12345"), &list_id)
        .await
        .unwrap();
    assert_eq!(
        (
            summary.patient_count,
            summary.contactable_count,
            summary.without_valid_mobile_count
        ),
        (2, 1, 1)
    );
    // Another organisation cannot name it.
    assert!(matches!(
        env.stack
            .app
            .list_summary(&caller("B99999"), &list_id)
            .await,
        Err(BatchbookError::ListNotFound)
    ));
}

#[tokio::test]
async fn an_unusable_csv_in_s3_is_refused_with_its_reason() {
    let env = AwsTestEnv::new().await;
    let list_id = uuid::Uuid::new_v4().to_string();
    let key = format!("uploads/A12345/{list_id}.csv");
    put(&env, &key, "Name,Telecom Number\nJoe,07700 100123\n").await;
    ingest_until_seen(&env, &key).await;

    match env
        .stack
        .app
        .list_summary(&caller("A12345"), &list_id)
        .await
    {
        Err(BatchbookError::List(refusal)) => assert_eq!(
            refusal,
            ListError::MissingColumn {
                missing: "NHS Number".into(),
                found: vec!["Name".into(), "Telecom Number".into()],
            }
        ),
        other => panic!("expected the refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_redelivered_notification_checks_the_same_list_again_without_harm() {
    let env = AwsTestEnv::new().await;
    let list_id = uuid::Uuid::new_v4().to_string();
    let key = format!("uploads/A12345/{list_id}.csv");
    put(
        &env,
        &key,
        "NHS Number,Telecom Number,DOB\n9434765919,07700 100123,01/02/1950\n",
    )
    .await;
    let body = format!(
        r#"{{"Records":[{{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-2","eventTime":"2026-11-22T10:00:00.000Z","eventName":"ObjectCreated:Put","s3":{{"s3SchemaVersion":"1.0","configurationId":"c","bucket":{{"name":"{}","arn":"arn:aws:s3:::b"}},"object":{{"key":"{}","size":50}}}}}}]}}"#,
        env.settings.bucket,
        key.replace('/', "%2F")
    );
    let event: aws_lambda_events::sqs::SqsEvent = serde_json::from_value(serde_json::json!({
        "Records": [{"messageId": "m1", "body": body}, {"messageId": "m2", "body": body}]
    }))
    .unwrap();
    let response = functions::ingest::handle_ingest_event(&env.stack.app, event).await;
    assert!(response.batch_item_failures.is_empty());
    let summary = env
        .stack
        .app
        .list_summary(&caller("A12345"), &list_id)
        .await
        .unwrap();
    assert_eq!(
        (summary.list_id.as_str(), summary.contactable_count),
        (list_id.as_str(), 1)
    );
}
