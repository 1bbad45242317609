//! Scheduled sends, driven by the timer table and a fake clock.

use chrono::Duration;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_scheduled_batch_sends_when_its_time_comes_and_not_before() {
    let app = spawn_app().await;
    let batch_id = &app.create_batch_from(&clean_list(5)).await;
    let send_at = start_of_test() + Duration::hours(2);
    let response = app
        .send_batch_as(ORG, batch_id, json!({"send_at": send_at}))
        .await;
    assert_eq!(response.status(), 202);

    app.run_pending_work().await;
    let batch = app.batch(batch_id).await;
    assert_eq!(batch["status"], "Scheduled");
    assert_eq!(batch["send_at"], json!(send_at));
    assert!(app.outbox().await.is_empty());

    app.clock.advance(Duration::minutes(119));
    app.run_pending_work().await;
    assert!(
        app.outbox().await.is_empty(),
        "one minute early is too early"
    );

    app.clock.advance(Duration::minutes(1));
    app.run_pending_work().await;
    assert_eq!(app.batch(batch_id).await["status"], "Saved");
    assert_one_message_each(&app.outbox().await, 5);
}

#[tokio::test]
async fn a_cancelled_scheduled_batch_never_sends() {
    let app = spawn_app().await;
    let batch_id = &app.create_batch_from(&clean_list(5)).await;
    app.send_batch_as(
        ORG,
        batch_id,
        json!({"send_at": start_of_test() + Duration::hours(1)}),
    )
    .await;
    app.run_pending_work().await;
    let cancel = app
        .client
        .post(format!("{}/v1/batches/{batch_id}/cancel", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    // The answer is the batch as it now stands.
    let answer: serde_json::Value = cancel.json().await.unwrap();
    assert_eq!(answer["status"], "Cancelled");

    app.clock.advance(Duration::hours(2));
    app.run_pending_work().await;
    assert_eq!(app.batch(batch_id).await["status"], "Cancelled");
    assert!(app.outbox().await.is_empty());
}
