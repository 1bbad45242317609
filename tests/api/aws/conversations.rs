//! Conversations on the AWS adapters (issue 18), through the API function
//! and the stream, queue and receipt handlers on moto: a member of a
//! workspace texts a patient, the send job delivered twice still texts them
//! once, the patient replies once through the link API, and the reply
//! reopens the conversation, all in DynamoDB, S3 and SQS.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use domain::jobs::ConversationMessageJob;
use domain::ports::{Clock, FakeClock, QueueName};
use serde_json::{json, Value};

use super::env::AwsTestEnv;
use super::flow::{link, run_functions};
use super::links::{bodies, token};
use super::streams::StreamPoller;
use super::workspace::{call, ANN, OTHER, SAM};

/// A workspace with Sam in it.
async fn team(env: &AwsTestEnv) -> String {
    let (status, made) = call(
        env,
        &ANN,
        "POST",
        "/v1/workspaces",
        Some(json!({"name": "Dermatology"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let id = made["workspace_id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        env,
        &ANN,
        "PUT",
        &format!("/v1/workspaces/{id}/members/sam"),
        Some(json!({"name": "Sam Jones"})),
    )
    .await;
    assert_eq!(status, 200);
    id
}

fn start_body(workspace_id: &str) -> Value {
    json!({
        "workspace_id": workspace_id, "nhs_number": "9990000018", "date_of_birth": "1950-02-01",
        "channel": "sms", "body": "Please call us about your results.", "allow_reply": true,
    })
}

#[tokio::test]
async fn a_member_texts_a_patient_once_and_the_patients_one_reply_reopens_the_conversation() {
    let clock = Arc::new(FakeClock::at(
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
    ));
    let env = AwsTestEnv::with_clock(clock.clone() as Arc<dyn Clock>).await;
    let mut poller = StreamPoller::new(&env);
    let workspace_id = team(&env).await;
    let (status, started) = call(
        &env,
        &SAM,
        "POST",
        "/v1/conversations",
        Some(start_body(&workspace_id)),
    )
    .await;
    assert_eq!(status, 201, "{started}");
    let id = started["conversation_id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        run_functions(&env, &mut poller).await;
    }
    // The send job again, as SQS may deliver it twice: still one text.
    let job = ConversationMessageJob {
        organisation_id: "A12345".into(),
        conversation_id: id.clone(),
        message: 1,
        correlation_id: "again".into(),
    };
    let again = serde_json::to_string(&job).unwrap();
    env.stack
        .app
        .handle_job(QueueName::Send, &again)
        .await
        .unwrap();
    let sent = bodies(&env).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "+447700100901");
    assert!(
        sent[0].1.starts_with("Please call us about your results.\n\nYou can reply once, until 7 December 2026: https://links.test/l/"),
        "{}",
        sent[0].1
    );
    let (_, view) = call(&env, &SAM, "GET", &format!("/v1/conversations/{id}"), None).await;
    assert_eq!(view["messages"][0]["status"], "delivered");
    let (status, problem) = call(
        &env,
        &OTHER,
        "GET",
        &format!("/v1/conversations/{id}"),
        None,
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("conversation_not_found"))
    );

    let (status, done) = call(
        &env,
        &SAM,
        "POST",
        &format!("/v1/conversations/{id}/done"),
        None,
    )
    .await;
    assert_eq!((status, done["state"].as_str()), (200, Some("done")));
    let patient = link(&env, &token(&sent[0].1));
    let session = patient.session("1950-02-01").await;
    let (status, replied) = patient
        .call(
            "POST",
            Some(&session),
            "/reply",
            Some(json!({"text": "I will call tomorrow."})),
        )
        .await;
    assert_eq!(status, 200, "{replied}");
    let (status, refused) = patient
        .call(
            "POST",
            Some(&session),
            "/reply",
            Some(json!({"text": "Again"})),
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("already_replied"))
    );
    for _ in 0..2 {
        run_functions(&env, &mut poller).await;
    }
    let (_, view) = call(&env, &SAM, "GET", &format!("/v1/conversations/{id}"), None).await;
    assert_eq!(view["state"], "open");
    assert_eq!(
        view["messages"][0]["reply"]["text"],
        "I will call tomorrow."
    );
    // Every read model the functions built follows from the events.
    super::audit::assert_verified(&env).await;
}
