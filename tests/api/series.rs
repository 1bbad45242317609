//! The inhaler-adherence SMS series (issue 5): the batch's message, then 22
//! more texts over 26 weeks on the fake clock, by SMS only, stoppable per
//! patient, each exactly once though the queue delivers every job twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use domain::ports::WorkQueue;
use serde_json::{json, Value};

use crate::helpers::{problem, spawn_app_with, start_of_test, DuplicatingQueue, TestApp};

/// Ann and Bob have mobiles; Joe has only an email address, so an SMS-only
/// series does not reach him.
const LIST: &str = "NHS Number,Given Name,Telecom Number,Date of Birth,Email Address\n\
    9434765919,Ann,07700 100001,01/02/1950,\n\
    7000000023,Bob,07700 100002,01/02/1950,\n\
    7000000015,Joe,,01/02/1950,joe@example.com\n";

/// The days (from the first message) each text is due: the batch's own
/// message, then the series.
const DAYS: [i64; 23] = [
    0, 2, 4, 7, 9, 11, 14, 16, 18, 21, 23, 25, 28, 42, 56, 70, 84, 98, 112, 126, 140, 161, 182,
];

impl TestApp {
    /// Asks to stop `batch_id`'s series for the patient with `nhs_number`.
    async fn stop_series(&self, batch_id: &str, nhs_number: &str) -> reqwest::Response {
        self.request(
            reqwest::Method::POST,
            &format!("/v1/batches/{batch_id}/series/stop"),
        )
        .json(&json!({ "nhs_number": nhs_number }))
        .send()
        .await
        .unwrap()
    }

    /// The days on which each number was sent a text, and every key used.
    async fn texts_by_number(&self) -> (BTreeMap<String, Vec<i64>>, Vec<String>) {
        let mut days: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut keys = Vec::new();
        for message in self.outbox().await {
            assert_eq!(message["channel"], "sms");
            let at: DateTime<Utc> = serde_json::from_value(message["accepted_at"].clone()).unwrap();
            days.entry(message["to"].as_str().unwrap().to_owned())
                .or_default()
                .push((at - start_of_test()).num_days());
            keys.push(message["idempotency_key"].as_str().unwrap().to_owned());
        }
        (days, keys)
    }
}

#[tokio::test]
async fn the_series_sends_23_texts_over_26_weeks_once_each_and_stops_for_a_patient_when_asked() {
    let twice: infra::embedded::QueueLayer =
        Box::new(|queue| Arc::new(DuplicatingQueue(queue)) as Arc<dyn WorkQueue>);
    let app = spawn_app_with(Some(twice), tempfile::tempdir().unwrap()).await;
    let list: Value = app.upload_list(LIST).await.json().await.unwrap();
    let batch_id = app
        .send_batch_from(json!({"name": "Inhalers", "list_id": list["list_id"], "inhaler_series": true,
                      "message": "Hi ((name)), over the next 6 months we will text you tips on your inhaler."}))
        .await;

    let batch = app.batch(&batch_id).await;
    assert_eq!(
        batch["counts"]["recipients"], 2,
        "only the patients with a mobile"
    );
    assert_eq!(batch["status"], "Saved");

    for day in 1..=190 {
        app.clock.advance(Duration::days(1));
        app.run_pending_work().await;
        if day == 15 {
            let stop = app.stop_series(&batch_id, "7000000023").await;
            assert_eq!(stop.status(), 200);
        }
    }

    let (days, keys) = app.texts_by_number().await;
    assert_eq!(
        days["+447700100001"], DAYS,
        "Ann gets all 23, on their days"
    );
    assert_eq!(
        days["+447700100002"],
        DAYS[..7],
        "Bob's stop on day 15 ends his series after the day-14 text"
    );
    assert_eq!(days.len(), 2, "Joe, with no mobile, gets nothing");
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        keys.len(),
        "a duplicated job sent a text twice"
    );
    let ann: Vec<Value> = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m["to"] == "+447700100001")
        .collect();
    assert_eq!(
        ann[1]["body"],
        "Hi Ann, your preventer inhaler works best taken every day, even when you feel well. Try keeping it by your toothbrush."
    );
    assert!(ann[1]["idempotency_key"]
        .as_str()
        .unwrap()
        .ends_with(":sms:series-1"));
    assert_eq!(
        ann[22]["body"],
        "This is the last text in the series, Ann. Keep taking your preventer every day, and thank you."
    );

    // Stopping needs a patient of this batch, and a series.
    assert_eq!(
        problem(app.stop_series(&batch_id, "9990000026").await).await,
        (
            422,
            "nhs_number: no patient with this NHS number is in this batch".into()
        )
    );
}

#[tokio::test]
async fn only_a_series_can_be_stopped_and_a_batch_is_not_both_a_series_and_a_questionnaire() {
    let app = spawn_app_with(None, tempfile::tempdir().unwrap()).await;
    let without_joe: String = LIST.lines().take(3).map(|l| format!("{l}\n")).collect();
    let plain = app.send_list(&without_joe).await;
    app.run_pending_work().await;
    assert_eq!(
        problem(app.stop_series(&plain, "9434765919").await).await,
        (
            422,
            "this batch is not a series, so there is nothing to stop".into()
        )
    );

    let list: Value = app.upload_list(LIST).await.json().await.unwrap();
    let response = app
        .request(reqwest::Method::POST, "/v1/batches")
        .json(
            &json!({"name": "Both", "list_id": list["list_id"], "inhaler_series": true,
                      "questionnaire": "smoking_status", "message": "Hi ((link))"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(response).await,
        (
            422,
            "a batch is a questionnaire or an inhaler series, not both".into()
        )
    );
}
