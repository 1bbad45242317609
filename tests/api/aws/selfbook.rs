//! Self-Book on the AWS adapters against moto: check availability through
//! the API function, an invite batch sent by the fan-out and send workers,
//! a patient's booking through the router, the booking worker (over its
//! SQS queue, fed by the projector's reactions to the stream) booking the
//! sandbox's simulated book in DynamoDB, the confirmation text, the counts
//! and the booked report from S3, and a cancel freeing the slot.

use infra::aws::DynamoBookingRows;
use infra::simulators::BookingRows;
use serde_json::{json, Value};

use super::env::AwsTestEnv;
use super::flow::{call, call_raw, link, run_functions};
use super::links::{bodies, token, Sent};

const FIRST_FREE: &str = "2026-11-23-1005-nurse-patel-flu";

async fn patient(
    env: &AwsTestEnv,
    method: &str,
    uri: &str,
    session: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let token = uri.strip_prefix("/v1/links/").unwrap();
    let (token, path) = token.split_at(token.find('/').unwrap_or(token.len()));
    link(env, token)
        .call(method, Some(session), path, body)
        .await
}

async fn session(env: &AwsTestEnv, token: &str) -> String {
    link(env, token).session("1950-02-01").await
}

#[tokio::test]
async fn a_self_book_invite_is_booked_confirmed_reported_and_cancelled_on_the_aws_adapters() {
    let self_book = json!({"appointment_type": "in_person", "slot_type": "flu"});
    let mut run = Sent::batch(
        json!({"name": "Flu", "message": "Book your flu jab: ((link))",
        "self_book": self_book}),
    )
    .await;
    let env = &run.env;
    let (status, found) = call(
        env,
        "A12345",
        "POST",
        "/v1/self-book/availability",
        Some(json!({"appointment_type": "in_person", "slot_type": "flu", "within_days": 7})),
    )
    .await;
    assert_eq!(
        (status, found),
        (
            200,
            json!({"bookable": 48, "by_clinician": {"nurse-patel": 48}})
        )
    );
    let sent = bodies(env).await;
    assert_eq!(sent.len(), 2);
    let (first, second) = (token(&sent[0].1), token(&sent[1].1));
    let (one, two) = (session(env, &first).await, session(env, &second).await);

    let (status, offers) =
        patient(env, "GET", &format!("/v1/links/{first}/slots"), &one, None).await;
    assert_eq!(status, 200);
    assert_eq!(offers["offers"][0]["offer_id"], FIRST_FREE);
    let choose = json!({"offer_id": FIRST_FREE});
    let (status, pending) = patient(
        env,
        "POST",
        &format!("/v1/links/{first}/booking"),
        &one,
        Some(choose.clone()),
    )
    .await;
    assert_eq!((status, &pending["status"]), (202, &json!("pending")));
    let (status, taken) = patient(
        env,
        "POST",
        &format!("/v1/links/{second}/booking"),
        &two,
        Some(choose),
    )
    .await;
    assert_eq!((status, &taken["code"]), (409, &json!("slot_taken")));

    for _ in 0..4 {
        run_functions(&run.env, &mut run.poller).await;
    }
    let env = &run.env;
    let (_, invite) = patient(env, "GET", &format!("/v1/links/{first}/invite"), &one, None).await;
    assert_eq!(invite["status"], "booked");
    let book = DynamoBookingRows::new(env.dynamo.clone(), &env.settings.sms_outbox_table);
    let booked = book.all().await.unwrap();
    assert_eq!(booked.len(), 1);
    assert_eq!(booked[0].0, FIRST_FREE);
    let sent = bodies(env).await;
    let confirmations: Vec<&String> = sent
        .iter()
        .map(|(_, body)| body)
        .filter(|body| {
            body.starts_with("Your appointment is booked for Monday 23 November 2026 at 10:05am")
        })
        .collect();
    assert_eq!(confirmations.len(), 1, "{sent:?}");
    assert_eq!(token(confirmations[0]), first);

    let batch_id = run.batch_id.clone();
    let (_, batch) = call(
        env,
        "A12345",
        "GET",
        &format!("/v1/batches/{batch_id}"),
        None,
    )
    .await;
    assert_eq!(batch["counts"]["invites"]["booked"], 1);
    assert_eq!(batch["counts"]["invites"]["open"], 1);
    let (status, location) =
        call_raw(env, "A12345", &format!("/v1/batches/{batch_id}/booked.csv")).await;
    assert_eq!(status, 303);
    let report = reqwest::get(&location).await.unwrap().text().await.unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(
        lines[0],
        "NHS Number,Given Name,Telecom Number,Date of Birth,Status,Appointment"
    );
    assert_eq!(lines.len(), 2);
    assert!(lines[1].ends_with(",Booked,2026-11-23 10:05"), "{report}");

    let (status, cancelled) = patient(
        env,
        "POST",
        &format!("/v1/links/{first}/booking/cancel"),
        &one,
        None,
    )
    .await;
    assert_eq!((status, &cancelled["status"]), (200, &json!("cancelled")));
    for _ in 0..3 {
        run_functions(&run.env, &mut run.poller).await;
    }
    assert!(book.all().await.unwrap().is_empty());
    // Every read model the functions built follows from the events.
    super::audit::assert_verified(&run.env).await;
}
