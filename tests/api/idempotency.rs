//! `Idempotency-Key` over HTTP: a retried request gets the first answer.

use chrono::Duration;
use serde_json::{json, Value};

use crate::helpers::*;

async fn create(app: &TestApp, key: &str, list_id: &str, message: &str) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/v1/batches", app.address))
        .header("idempotency-key", key)
        .json(&json!({"name": "Flu", "list_id": list_id, "message": message}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn list_id(app: &TestApp) -> String {
    let list: Value = app.upload_list(&clean_list(3)).await.json().await.unwrap();
    list["list_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_retried_create_gets_the_same_batch_and_a_reused_key_is_refused() {
    let app = spawn_app().await;
    let list_id = list_id(&app).await;
    let (status, first) = create(&app, "retry-1", &list_id, "Hello").await;
    assert_eq!(status, 201);
    let (status, again) = create(&app, "retry-1", &list_id, "Hello").await;
    assert_eq!((status, &again), (201, &first));

    let (status, problem) = create(&app, "retry-1", &list_id, "A different message").await;
    assert_eq!(status, 422);
    assert_eq!(
        problem["detail"],
        "this Idempotency-Key was already used for a different request"
    );

    app.run_pending_work().await;
    let (summaries, _) = app.stack.views.dump().await.unwrap();
    assert_eq!(
        summaries.len(),
        1,
        "one batch, however often the request came"
    );
}

#[tokio::test]
async fn a_retried_send_gets_202_again_and_sends_once() {
    let app = spawn_app().await;
    let list_id = list_id(&app).await;
    let (_, created) = create(&app, "create-1", &list_id, "Hello").await;
    let batch_id = created["batch_id"].as_str().unwrap();
    for _ in 0..2 {
        let response = app
            .client
            .post(format!("{}/v1/batches/{batch_id}/send", app.address))
            .header("idempotency-key", "send-1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    app.run_pending_work().await;
    assert_one_message_each(&app.outbox().await, 3);
}

#[tokio::test]
async fn after_the_record_is_gone_a_rerun_of_the_same_request_lands_on_the_same_batch() {
    let app = spawn_app().await;
    let list_id = list_id(&app).await;
    let (_, first) = create(&app, "long-ago", &list_id, "Hello").await;
    // As if the first run died before completing its record, and the record
    // then expired: the re-run derives the same batch id.
    app.clock.advance(Duration::hours(25));
    let (status, again) = create(&app, "long-ago", &list_id, "Hello").await;
    assert_eq!((status, &again), (201, &first));
}

#[tokio::test]
async fn a_malformed_key_is_refused_with_its_reason() {
    let app = spawn_app().await;
    let list_id = list_id(&app).await;
    let (status, problem) = create(&app, &"k".repeat(129), &list_id, "Hello").await;
    assert_eq!(
        (status, problem["detail"].as_str()),
        (
            422,
            Some("an Idempotency-Key is 1 to 128 printable characters")
        )
    );
}
