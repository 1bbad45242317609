//! A scheduled send in AWS mode: the projector schedules the timer in the
//! DynamoDB timer table, and the timer sweeper starts the batch when the
//! (fake) clock reaches it, not before.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use domain::ports::{Clock, FakeClock};
use serde_json::json;

use super::env::AwsTestEnv;
use super::flow::{call, run_functions};
use super::ingest::{caller, upload_and_ingest};
use super::streams::StreamPoller;
use crate::helpers::clean_list;

#[tokio::test]
async fn the_timer_sweeper_starts_a_scheduled_batch_when_it_falls_due() {
    let clock = Arc::new(FakeClock::at(
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
    ));
    let env = AwsTestEnv::with_clock(clock.clone() as Arc<dyn Clock>).await;
    let mut poller = StreamPoller::new(&env);
    let list_id = upload_and_ingest(&env, &clean_list(3)).await;
    let (_, created) = call(
        &env,
        "A12345",
        "POST",
        "/v1/batches",
        Some(json!({"name": "Later", "list_id": list_id, "message": "Hi"})),
    )
    .await;
    let batch_id = created["batch_id"].as_str().unwrap().to_owned();
    let send_at = clock.now() + Duration::hours(3);
    let (status, _) = call(
        &env,
        "A12345",
        "POST",
        &format!("/v1/batches/{batch_id}/send"),
        Some(json!({"send_at": send_at})),
    )
    .await;
    assert_eq!(status, 202);

    // What the sweeper Lambda does each minute.
    let sweep = || async { env.stack.app.fire_due_timers(1_000).await.unwrap() };
    run_functions(&env, &mut poller).await;
    assert_eq!(sweep().await, 0);
    clock.advance(Duration::minutes(179));
    assert_eq!(sweep().await, 0, "a minute early");
    let batch = || async {
        let app = &env.stack.app;
        app.batch(&caller("A12345"), &batch_id).await.unwrap()
    };
    assert_eq!(batch().await.status.label(), "Scheduled");

    clock.advance(Duration::minutes(1));
    assert_eq!(sweep().await, 1);
    assert_eq!(sweep().await, 0, "a fired timer does not fire again");
    while run_functions(&env, &mut poller).await > 0 {}
    let batch = batch().await;
    assert_eq!((batch.status.label(), batch.delivered_count), ("Saved", 3));
    assert_eq!(env.stack.sms.outbox().await.unwrap().len(), 3);
}
