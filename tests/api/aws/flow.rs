//! The whole flow in AWS mode, every handler invoked with a real Lambda
//! event shape: a CSV put in S3 (through a presigned URL from the API)
//! becomes a batch that reaches Done, with exactly one message per patient;
//! then the whole stream is replayed and nothing changes.

use std::time::{Duration, Instant};

use aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
    ApiGatewayV2httpRequestContext,
};
use axum::body::Body;
use domain::ports::QueueName;
use functions::api::{router, ApiState, CallbackTokens};
use functions::identity::IdentitySource;
use lambda_http::request::RequestContext;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::env::{delete_handled, receive_sqs_event, AwsTestEnv};
use super::ingest::ingest_until_seen;
use super::streams::{project, StreamPoller};
use crate::helpers::{assert_one_message_each, clean_list};

const PATIENTS: usize = 40;

/// Calls the API router as API Gateway would after its JWT authorizer
/// accepted a token for `org`.
pub async fn call(
    env: &AwsTestEnv,
    org: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (u16, Value) {
    json_of(respond(env, org, method, uri, body).await).await
}

/// An answer's status and JSON body (`null` when it has none).
pub async fn json_of(response: axum::response::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A patient's link through the API function: the date-of-birth check,
/// then requests with the session it gave.
pub struct AwsLink<'a> {
    pub env: &'a AwsTestEnv,
    pub token: String,
}

impl AwsLink<'_> {
    pub async fn verify(&self, date_of_birth: &str) -> (u16, Value) {
        let body = json!({ "date_of_birth": date_of_birth });
        self.call("POST", None, "/verify", Some(body)).await
    }

    /// The session a right date of birth opens.
    pub async fn session(&self, date_of_birth: &str) -> String {
        let (status, verified) = self.verify(date_of_birth).await;
        assert_eq!(status, 200, "{verified}");
        verified["session"].as_str().unwrap().to_owned()
    }

    /// A request to `path` under the link, with `session` if given.
    pub async fn request(
        &self,
        method: &str,
        session: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> axum::response::Response {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(session.map(|s| ("link-session", s)));
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let uri = format!("/v1/links/{}{path}", self.token);
        exchange(self.env, "A12345", method, &uri, &headers, body).await
    }

    /// As [`Self::request`], answering with the status and JSON body.
    pub async fn call(
        &self,
        method: &str,
        session: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        json_of(self.request(method, session, path, body).await).await
    }
}

pub fn link<'a>(env: &'a AwsTestEnv, token: &str) -> AwsLink<'a> {
    AwsLink {
        env,
        token: token.to_owned(),
    }
}

/// A GET whose answer is a redirect: its status and `Location`.
pub(super) async fn call_raw(env: &AwsTestEnv, org: &str, uri: &str) -> (u16, String) {
    let response = respond(env, org, "GET", uri, None).await;
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), location)
}

async fn respond(
    env: &AwsTestEnv,
    org: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> axum::response::Response {
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    exchange(
        env,
        org,
        method,
        uri,
        &[("content-type", "application/json")],
        body,
    )
    .await
}

/// One request through the API function as API Gateway hands it over,
/// signed in as a member of `org`.
pub async fn exchange(
    env: &AwsTestEnv,
    org: &str,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> axum::response::Response {
    let who = Signer {
        org,
        user: "user-1",
        name: "Jo Bloggs",
        role: "admin",
    };
    exchange_as(env, &who, method, uri, headers, body).await
}

/// Who a request is signed in as: the claims API Gateway's JWT authorizer
/// hands over.
pub struct Signer<'a> {
    pub org: &'a str,
    pub user: &'a str,
    pub name: &'a str,
    pub role: &'a str,
}

/// As [`exchange`], signed in as `who`.
pub async fn exchange_as(
    env: &AwsTestEnv,
    who: &Signer<'_>,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> axum::response::Response {
    let app = router(ApiState {
        app: env.stack.app.clone(),
        identity: IdentitySource::ApiGatewayJwt(Default::default()),
        outbox: None,
        callbacks: CallbackTokens {
            govuk_notify: Some(crate::helpers::NOTIFY_TOKEN.into()),
            nhs_notify: None,
        },
    });
    let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
    jwt.claims.insert("ods".into(), who.org.into());
    jwt.claims.insert("sub".into(), who.user.into());
    jwt.claims.insert("name".into(), who.name.into());
    jwt.claims.insert("batchbook_role".into(), who.role.into());
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    authorizer.jwt = Some(jwt);
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.authorizer = Some(authorizer);
    let mut request = http::Request::builder()
        .method(method)
        .uri(uri)
        .extension(RequestContext::ApiGatewayV2(context));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(body).unwrap();
    app.oneshot(request).await.unwrap()
}

/// One round of what the deployed functions do: the projector over new
/// stream records, then the fan-out and send workers over their queues.
pub async fn run_functions(env: &AwsTestEnv, poller: &mut StreamPoller) -> usize {
    let mut done = project(env, poller.poll().await).await;
    for (queue, url) in [
        (QueueName::FanOut, &env.settings.fan_out_queue_url),
        (QueueName::Send, &env.settings.send_queue_url),
        (QueueName::Record, &env.settings.record_queue_url),
        (QueueName::Booking, &env.settings.booking_queue_url),
    ] {
        loop {
            let (event, receipts) = receive_sqs_event(&env.sqs, url).await;
            if receipts.is_empty() {
                break;
            }
            let response = functions::sqs::handle_sqs_event(&env.stack.app, queue, event).await;
            assert!(
                response.batch_item_failures.is_empty(),
                "a {} job failed",
                queue.as_str()
            );
            done += delete_handled(&env.sqs, url, &receipts, &response).await;
        }
    }
    // What the sweeper does on a sandbox stack: the simulated providers'
    // receipts, as their callbacks would arrive.
    done += env.stack.deliver_simulated_receipts(1_000).await.unwrap();
    done
}

#[tokio::test]
async fn a_csv_put_in_s3_becomes_a_batch_that_reaches_done_with_one_message_per_patient() {
    let env = AwsTestEnv::new().await;
    let mut poller = StreamPoller::new(&env);
    // The test runs on the real clock: texts may go at any hour.
    let (status, _) = call(
        &env,
        "A12345",
        "PUT",
        "/v1/settings",
        Some(json!({"flag_mobiles_likely_to_fail": false,
                    "sending_window": {"opens": "00:00", "closes": "00:00"}})),
    )
    .await;
    assert_eq!(status, 200);

    // The frontend asks for an upload URL and puts the file there.
    let (status, slot) = call(&env, "A12345", "POST", "/v1/lists/uploads", None).await;
    assert_eq!(status, 201, "{slot}");
    let list_id = slot["list_id"].as_str().unwrap().to_owned();
    let put = reqwest::Client::new()
        .put(slot["upload_url"].as_str().unwrap())
        .header("content-type", "text/csv")
        .body(clean_list(PATIENTS))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "presigned PUT: {}", put.status());
    ingest_until_seen(&env, &format!("uploads/A12345/{list_id}.csv")).await;

    let (status, list) = call(&env, "A12345", "GET", &format!("/v1/lists/{list_id}"), None).await;
    assert_eq!(
        (status, &list["contactable_count"]),
        (200, &json!(PATIENTS))
    );
    let (status, created) = call(
        &env,
        "A12345",
        "POST",
        "/v1/batches",
        Some(json!({"name": "Flu", "list_id": list_id, "message": "Dear ((name)), book now."})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let batch_id = created["batch_id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &env,
        "A12345",
        "POST",
        &format!("/v1/batches/{batch_id}/send"),
        None,
    )
    .await;
    assert_eq!(status, 202);

    let started = Instant::now();
    let batch = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the batch never finished"
        );
        run_functions(&env, &mut poller).await;
        let (_, batch) = call(
            &env,
            "A12345",
            "GET",
            &format!("/v1/batches/{batch_id}"),
            None,
        )
        .await;
        if batch["status"] == "Saved" {
            break batch;
        }
    };
    assert_eq!(
        batch["counts"],
        json!({"patient_list": PATIENTS, "recipients": PATIENTS, "awaiting_receipt": 0,
               "delivered": PATIENTS, "emails_delivered": 0,
               "without_valid_mobile": 0, "failed_to_deliver": 0,
               "saved_to_record": PATIENTS, "not_saved_to_record": 0, "answered": 0, "opened_attachment": 0})
    );
    // Each message is in its patient's record once.
    let entries = env.stack.sms.record_entries().await.unwrap();
    assert_eq!(entries.len(), PATIENTS);
    assert!(entries.iter().all(|e| e.text == "Dear Pat, book now."));
    let outbox: Vec<Value> = super::links::bodies(&env)
        .await
        .into_iter()
        .map(|(to, body)| json!({"to": to, "body": body}))
        .collect();
    assert_one_message_each(&outbox, PATIENTS);
    assert!(outbox.iter().all(|m| m["body"] == "Dear Pat, book now."));

    // The report comes as a short-lived link to S3.
    let (status, location) = call_raw(
        &env,
        "A12345",
        &format!("/v1/batches/{batch_id}/failed-to-deliver.csv"),
    )
    .await;
    assert_eq!(status, 303);
    let report = reqwest::get(location).await.unwrap();
    assert_eq!(report.status(), 200);
    assert_eq!(
        report.text().await.unwrap(),
        "NHS Number,Email Address,Mobile,Channel,Reason\n"
    );

    // Another organisation sees nothing.
    let (status, _) = call(
        &env,
        "B99999",
        "GET",
        &format!("/v1/batches/{batch_id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);

    // The stream delivers everything again, and the workers run again.
    let views = env.stack.views.dump().await.unwrap();
    let replayed = project(&env, StreamPoller::new(&env).poll().await).await;
    assert!(replayed > PATIENTS, "the replay covers every event");
    while run_functions(&env, &mut poller).await > 0 {}
    assert_eq!(
        env.stack.views.dump().await.unwrap(),
        views,
        "a replay changed the read models"
    );
    assert_eq!(
        env.stack.sms.outbox().await.unwrap().len(),
        PATIENTS,
        "a replay sent a message"
    );
    assert_eq!(
        env.stack.sms.record_entries().await.unwrap().len(),
        PATIENTS,
        "a replay saved a record again"
    );
}
