//! The send-worker Lambda's handler, fed a canned SQS event in AWS's shape.

use aws_lambda_events::sqs::SqsEvent;
use domain::ports::QueueName;

use crate::helpers::spawn_app;

/// The canned event, its jobs addressed to `batch_id`.
fn fixture(batch_id: &str) -> SqsEvent {
    serde_json::from_str(
        &include_str!("../fixtures/sqs_send_event.json").replace("b-fixture", batch_id),
    )
    .unwrap()
}

#[tokio::test]
async fn only_the_malformed_record_is_reported_failed_and_a_redelivered_event_sends_nothing_new() {
    let app = spawn_app().await;
    // A batch that has started sending, whose fan-out has not run yet.
    let batch_id = app
        .send_list(
            "NHS Number,Given Name,Telecom Number,Date of Birth\n\
             7000000015,Joe,07700 100123,01/02/1950\n\
             7000000023,Ann,07700 100199,01/02/1950\n",
        )
        .await;
    let fixture = || fixture(&batch_id);
    let response =
        functions::sqs::handle_sqs_event(&app.stack.app, QueueName::Send, fixture()).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["7c1a4f1b-1d6e-4b7a-9a55-3f1e0c2b9d10"]);
    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0]["to"], "+447700100123");
    assert_eq!(
        outbox[0]["idempotency_key"],
        format!("A12345:{batch_id}:1:sms")
    );

    // SQS delivers the whole event again.
    let again = functions::sqs::handle_sqs_event(&app.stack.app, QueueName::Send, fixture()).await;
    assert_eq!(again.batch_item_failures.len(), 1);
    assert_eq!(app.outbox().await.len(), 1);

    app.run_pending_work().await;
    let (_, deliveries) = app.stack.views.dump().await.unwrap();
    let outcomes: Vec<(u64, String)> = deliveries
        .iter()
        .map(|d| {
            (
                d.row,
                serde_json::to_value(d.status)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [(1, "delivered".to_owned()), (2, "failed".to_owned())]
    );
}

#[tokio::test]
async fn a_malformed_job_is_refused_without_quoting_patient_data() {
    let app = spawn_app().await;
    // The mobile number lands in a field that wants a row number.
    let body = r#"{"organisation_id":"A12345","batch_id":"b","row":"07700100123","channel":"sms","to":"x","body":"y","correlation_id":"c"}"#;
    match app.stack.app.handle_job(QueueName::Send, body).await {
        Err(domain::usecases::JobError::Malformed(reason)) => {
            assert_eq!(
                reason,
                "the job is not valid (Data error at line 1 column 62)"
            );
        }
        other => panic!("expected a malformed job, got {other:?}"),
    }
    assert!(app.outbox().await.is_empty());
}
