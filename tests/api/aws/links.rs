//! A Florey questionnaire batch in AWS mode: links registered in the
//! DynamoDB views table by the fan-out worker, the date-of-birth check and
//! answers through the API function, the day-3 reminder from the timer
//! sweeper (on a fake clock), and revoking every link; the inhaler
//! series from the sweeper, stopped for one patient.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use domain::ports::{Clock, FakeClock};
use serde_json::{json, Value};

use super::env::AwsTestEnv;
use super::flow::{call, exchange, run_functions};
use super::ingest::upload_and_ingest;
use super::streams::StreamPoller;
use crate::helpers::clean_list;

const BASE: &str = "https://links.test/l/";

pub(super) async fn bodies(env: &AwsTestEnv) -> Vec<(String, String)> {
    let mut sent: Vec<(String, String)> = env
        .stack
        .sms
        .outbox()
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.to, m.body))
        .collect();
    sent.sort();
    sent
}

pub(super) fn token(body: &str) -> String {
    body.split(BASE).nth(1).expect("a link").to_owned()
}

/// A batch of two patients sent on the AWS adapters, on a fake clock that
/// starts on a Monday at 09:00.
pub(super) struct Sent {
    pub(super) clock: Arc<FakeClock>,
    pub(super) env: AwsTestEnv,
    pub(super) poller: StreamPoller,
    pub(super) batch_id: String,
}

impl Sent {
    /// Creates a batch from `fields` (name, message, kind) and sends it, then
    /// runs the functions until the first messages have gone.
    pub(super) async fn batch(fields: Value) -> Self {
        let clock = Arc::new(FakeClock::at(
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        ));
        let env = AwsTestEnv::with_clock(clock.clone() as Arc<dyn Clock>).await;
        Self::send(clock, env, fields).await
    }

    async fn send(clock: Arc<FakeClock>, env: AwsTestEnv, fields: Value) -> Self {
        let mut poller = StreamPoller::new(&env);
        let mut body = json!({ "list_id": upload_and_ingest(&env, &clean_list(2)).await });
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        let (status, created) = call(&env, "A12345", "POST", "/v1/batches", Some(body)).await;
        assert_eq!(status, 201, "{created}");
        let batch_id = created["batch_id"].as_str().unwrap().to_owned();
        let send = format!("/v1/batches/{batch_id}/send");
        let (status, _) = call(&env, "A12345", "POST", &send, None).await;
        assert_eq!(status, 202);
        for _ in 0..5 {
            run_functions(&env, &mut poller).await;
        }
        Self {
            clock,
            env,
            poller,
            batch_id,
        }
    }

    /// Moves the clock on by `days`, then runs what the timer sweeper and
    /// the other functions do until the work it started is done.
    async fn after_days(&mut self, days: i64) {
        self.clock.advance(Duration::days(days));
        for _ in 0..3 {
            self.env.stack.app.fire_due_timers(1_000).await.unwrap();
            run_functions(&self.env, &mut self.poller).await;
        }
    }
}

#[tokio::test]
async fn a_questionnaire_batch_links_each_patient_checks_their_birth_date_and_reminds_the_silent() {
    let mut run = Sent::batch(json!({"name": "Smoking", "questionnaire": "smoking_status",
                                     "message": "Dear ((name)), tell us: ((link))"}))
    .await;
    let batch_id = run.batch_id.clone();
    let sent = bodies(&run.env).await;
    assert_eq!(sent.len(), 2);
    let (answering, silent) = (token(&sent[0].1), token(&sent[1].1));
    assert_ne!(answering, silent);
    assert_eq!(sent[1].1, format!("Dear Pat, tell us: {BASE}{silent}"));

    // The patient's side: no staff token is involved in what they call.
    let (status, page) = call(
        &run.env,
        "A12345",
        "GET",
        &format!("/v1/links/{silent}"),
        None,
    )
    .await;
    assert_eq!(
        (status, page),
        (200, json!({"state": "open", "contact": null}))
    );
    let (status, wrong) = super::flow::link(&run.env, &silent)
        .verify("1950-02-02")
        .await;
    assert_eq!((status, &wrong["attempts_left"]), (403, &json!(4)));
    let session = super::flow::link(&run.env, &answering)
        .session("1950-02-01")
        .await;
    let session = session.as_str();
    let app = functions::api::router(functions::api::ApiState {
        app: run.env.stack.app.clone(),
        identity: functions::identity::IdentitySource::ApiGatewayJwt(Default::default()),
        outbox: None,
        callbacks: functions::api::CallbackTokens::default(),
    });
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("/v1/links/{answering}/questionnaire"))
        .header("content-type", "application/json")
        .header("link-session", session)
        .body(axum::body::Body::from(
            json!({"answers": {"smoking_status": "ex_smoker"}}).to_string(),
        ))
        .unwrap();
    let response = tower::ServiceExt::oneshot(app, request).await.unwrap();
    assert_eq!(response.status(), 200);

    // Day 3: the timer sweeper reminds only the patient who has not answered.
    run.after_days(3).await;
    let sent = bodies(&run.env).await;
    assert_eq!(sent.len(), 3);
    let reminders: Vec<&(String, String)> = sent
        .iter()
        .filter(|(_, body)| body.starts_with("Reminder: "))
        .collect();
    assert_eq!(reminders.len(), 1);
    assert_eq!(token(&reminders[0].1), silent);

    let (_, batch) = call(
        &run.env,
        "A12345",
        "GET",
        &format!("/v1/batches/{batch_id}"),
        None,
    )
    .await;
    assert_eq!(batch["counts"]["answered"], 1);

    // Revoked for good: the link says so before any check.
    let (status, _) = call(
        &run.env,
        "A12345",
        "POST",
        &format!("/v1/batches/{batch_id}/links/revoke"),
        Some(json!({"all": true})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, page) = call(
        &run.env,
        "A12345",
        "GET",
        &format!("/v1/links/{silent}"),
        None,
    )
    .await;
    assert_eq!((status, &page["state"]), (200, &Value::from("withdrawn")));
    run.after_days(3).await;
    assert_eq!(
        bodies(&run.env).await.len(),
        3,
        "no day-6 reminder after the revoke"
    );
}

#[tokio::test]
async fn the_inhaler_series_texts_go_from_the_timer_sweeper_and_stop_when_asked() {
    let mut run = Sent::batch(json!({"name": "Inhalers", "inhaler_series": true,
                                     "message": "Hi ((name)), inhaler tips follow."}))
    .await;
    let batch_id = run.batch_id.clone();
    assert_eq!(bodies(&run.env).await.len(), 2);
    let nhs_of_second = clean_list(2)
        .lines()
        .nth(2)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    let (status, _) = call(
        &run.env,
        "A12345",
        "POST",
        &format!("/v1/batches/{batch_id}/series/stop"),
        Some(json!({"nhs_number": nhs_of_second})),
    )
    .await;
    assert_eq!(status, 200);

    // Day 2: the first series text, to the patient whose series goes on.
    run.after_days(2).await;
    let sent = bodies(&run.env).await;
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].0, "+447700100001");
    assert!(sent
        .iter()
        .any(|(to, body)| to == "+447700100001"
            && body.starts_with("Hi Pat, your preventer inhaler")));
    assert_eq!(
        sent.iter().filter(|(to, _)| to == "+447700100002").count(),
        1,
        "the stopped patient had only the first message"
    );
}

#[tokio::test]
async fn an_attachment_kept_in_s3_opens_through_each_patients_link_after_the_check() {
    let clock = Arc::new(FakeClock::at(
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
    ));
    let env = AwsTestEnv::with_clock(clock.clone() as Arc<dyn Clock>).await;
    let leaflet = b"%PDF-1.4\n%%EOF\n".to_vec();
    let response = exchange(
        &env,
        "A12345",
        "POST",
        "/v1/attachments?file_name=Leaflet.pdf",
        &[("content-type", "application/pdf")],
        leaflet.clone().into(),
    )
    .await;
    assert_eq!(response.status(), 201);
    let uploaded: Value = serde_json::from_slice(
        &axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap(),
    )
    .unwrap();
    let run = Sent::send(
        clock,
        env,
        json!({"name": "Leaflet", "attachment_id": uploaded["attachment_id"],
               "message": "Dear ((name)), read: ((link))"}),
    )
    .await;
    let sent = bodies(&run.env).await;
    assert_eq!(sent.len(), 2);
    let patient = super::flow::link(&run.env, &token(&sent[0].1));

    let (status, verified) = patient.verify("1950-02-01").await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["attachment"]["file_name"], "Leaflet.pdf");
    let session = verified["session"].as_str().unwrap();
    let file = patient
        .request("GET", Some(session), "/attachment", None)
        .await;
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "application/pdf");
    let bytes = axum::body::to_bytes(file.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), leaflet.as_slice());
}
