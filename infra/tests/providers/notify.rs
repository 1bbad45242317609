//! The GOV.UK Notify client against a local fake that answers as Notify's
//! API documents: a JWT per request, the SMS and email endpoints, look-up
//! by reference, and its errors (400 BadRequestError, 429 RateLimitError
//! with Retry-After, 500 Exception), plus an answer slower than the client
//! will wait.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::ports::{EmailProvider, EmailRequest, ProviderError, SmsProvider, SmsRequest};
use infra::http::RetryPolicy;
use infra::notify::{NotifyApiKey, NotifyClient, NotifySettings};
use serde_json::{json, Value};

const SERVICE_ID: &str = "26785a09-ab16-4eb0-8407-a37497a57506";
const SECRET: &str = "3d844edf-8d35-48ac-975b-e847b4f122b0";
const SMS_TEMPLATE: &str = "f33517ff-2a88-4f6e-b855-c550268ce08a";
const EMAIL_TEMPLATE: &str = "b5e7dd55-4b06-4a19-9d0c-86c2d5c8b1a4";

/// What the fake answers the next send with.
#[derive(Debug, Clone)]
enum Answer {
    Created,
    TooManyRequests {
        retry_after: u64,
    },
    ServerError,
    BadRequest,
    /// Created, but only after this long.
    Slow(Duration),
}

#[derive(Default)]
struct Fake {
    script: Mutex<VecDeque<Answer>>,
    /// (reference, id, request body) of every notification Notify has.
    sent: Mutex<Vec<(String, String, Value)>>,
    posts: Mutex<u32>,
    refused_tokens: Mutex<u32>,
}

fn errors(status: StatusCode, error: &str, message: &str) -> Response {
    let body =
        json!({"errors": [{"error": error, "message": message}], "status_code": status.as_u16()});
    (status, Json(body)).into_response()
}

/// Notify checks the token: HS256 with the key's secret, `iss` the service
/// id, `iat` within 30 seconds.
fn authorised(headers: &HeaderMap) -> bool {
    let Some(token) = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
    else {
        return false;
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let Ok(data) = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    ) else {
        return false;
    };
    let iat = data.claims["iat"].as_i64().unwrap_or_default();
    data.claims["iss"] == SERVICE_ID && (chrono::Utc::now().timestamp() - iat).abs() <= 30
}

async fn list(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if !authorised(&headers) {
        *fake.refused_tokens.lock().unwrap() += 1;
        return errors(
            StatusCode::FORBIDDEN,
            "AuthError",
            "Invalid token: signature, api token not found",
        );
    }
    let reference = query.get("reference").cloned().unwrap_or_default();
    let notifications: Vec<Value> = fake
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|(r, _, _)| *r == reference)
        .map(|(r, id, _)| json!({"id": id, "reference": r, "status": "sending"}))
        .collect();
    Json(json!({"notifications": notifications, "links": {}})).into_response()
}

async fn send(fake: Arc<Fake>, headers: HeaderMap, body: Value) -> Response {
    if !authorised(&headers) {
        *fake.refused_tokens.lock().unwrap() += 1;
        return errors(
            StatusCode::FORBIDDEN,
            "AuthError",
            "Invalid token: signature, api token not found",
        );
    }
    *fake.posts.lock().unwrap() += 1;
    let answer = fake
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Answer::Created);
    match answer {
        Answer::TooManyRequests { retry_after } => {
            let mut response = errors(
                StatusCode::TOO_MANY_REQUESTS,
                "RateLimitError",
                "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds",
            );
            response
                .headers_mut()
                .insert("retry-after", retry_after.to_string().parse().unwrap());
            response
        }
        Answer::ServerError => errors(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Exception",
            "Internal server error",
        ),
        Answer::BadRequest => errors(
            StatusCode::BAD_REQUEST,
            "BadRequestError",
            "phone_number Not a UK mobile number",
        ),
        Answer::Slow(by) => {
            tokio::time::sleep(by).await;
            created(&fake, body)
        }
        Answer::Created => created(&fake, body),
    }
}

fn created(fake: &Fake, body: Value) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let reference = body["reference"].as_str().unwrap_or_default().to_owned();
    fake.sent
        .lock()
        .unwrap()
        .push((reference.clone(), id.clone(), body.clone()));
    let answer = json!({
        "id": id,
        "reference": reference,
        "content": {"body": body["personalisation"]["body"], "from_number": "GPSURGERY"},
        "uri": format!("https://api.notifications.service.gov.uk/v2/notifications/{id}"),
        "template": {"id": body["template_id"], "version": 1, "uri": "https://api.notifications.service.gov.uk/v2/template/x"},
    });
    (StatusCode::CREATED, Json(answer)).into_response()
}

struct Harness {
    fake: Arc<Fake>,
    client: NotifyClient,
}

async fn harness(script: Vec<Answer>, tune: impl FnOnce(&mut NotifySettings)) -> Harness {
    let fake = Arc::new(Fake::default());
    *fake.script.lock().unwrap() = script.into();
    let app = Router::new()
        .route("/v2/notifications", get(list))
        .route(
            "/v2/notifications/sms",
            post(|State(f): State<Arc<Fake>>, h: HeaderMap, Json(b): Json<Value>| send(f, h, b)),
        )
        .route(
            "/v2/notifications/email",
            post(|State(f): State<Arc<Fake>>, h: HeaderMap, Json(b): Json<Value>| send(f, h, b)),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let key = NotifyApiKey::parse(&format!("batchbook_test-{SERVICE_ID}-{SECRET}")).unwrap();
    let mut settings = NotifySettings::new(address, key, SMS_TEMPLATE, EMAIL_TEMPLATE);
    settings.retry = RetryPolicy {
        attempts: 3,
        backoff: Duration::from_millis(10),
    };
    tune(&mut settings);
    Harness {
        fake,
        client: NotifyClient::new(settings),
    }
}

fn sms(reference: &str) -> SmsRequest {
    SmsRequest {
        idempotency_key: reference.into(),
        to: "+447700100123".into(),
        body: "Dear Joe, book your flu jab.".into(),
    }
}

#[tokio::test]
async fn an_sms_goes_with_a_signed_token_our_template_and_our_reference() {
    let h = harness(vec![], |_| {}).await;
    let id = h.client.send_sms(&sms("A12345:b-1:1:sms")).await.unwrap();
    let sent = h.fake.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, id);
    assert_eq!(
        sent[0].2,
        json!({"phone_number": "+447700100123", "template_id": SMS_TEMPLATE,
               "personalisation": {"body": "Dear Joe, book your flu jab."},
               "reference": "A12345:b-1:1:sms"})
    );
    assert_eq!(*h.fake.refused_tokens.lock().unwrap(), 0);
}

#[tokio::test]
async fn an_email_goes_with_its_subject_and_body() {
    let h = harness(vec![], |_| {}).await;
    let request = EmailRequest {
        idempotency_key: "A12345:b-1:3:email".into(),
        to: "sam@example.com".into(),
        subject: "Flu clinics".into(),
        body: "Dear Sam, book your flu jab.".into(),
    };
    h.client.send_email(&request).await.unwrap();
    assert_eq!(
        h.fake.sent.lock().unwrap()[0].2,
        json!({"email_address": "sam@example.com", "template_id": EMAIL_TEMPLATE,
               "personalisation": {"subject": "Flu clinics", "body": "Dear Sam, book your flu jab."},
               "reference": "A12345:b-1:3:email"})
    );
}

#[tokio::test]
async fn a_retry_after_a_crash_finds_the_first_message_and_sends_no_second() {
    let h = harness(vec![], |_| {}).await;
    let first = h.client.send_sms(&sms("A12345:b-1:1:sms")).await.unwrap();
    // Our commit never happened; the job comes back.
    let again = h.client.send_sms(&sms("A12345:b-1:1:sms")).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(
        (
            *h.fake.posts.lock().unwrap(),
            h.fake.sent.lock().unwrap().len()
        ),
        (1, 1)
    );
}

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_says_then_sent() {
    let h = harness(
        vec![Answer::TooManyRequests { retry_after: 1 }, Answer::Created],
        |_| {},
    )
    .await;
    let started = Instant::now();
    h.client.send_sms(&sms("A12345:b-1:1:sms")).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert_eq!(
        (
            *h.fake.posts.lock().unwrap(),
            h.fake.sent.lock().unwrap().len()
        ),
        (2, 1)
    );
}

#[tokio::test]
async fn a_429_on_every_attempt_is_rate_limited_for_the_queue_to_retry() {
    let h = harness(vec![Answer::TooManyRequests { retry_after: 1 }; 3], |s| {
        s.retry.attempts = 2;
    })
    .await;
    assert_eq!(
        h.client.send_sms(&sms("A12345:b-1:1:sms")).await,
        Err(ProviderError::RateLimited {
            retry_after_secs: 1
        })
    );
    assert!(h.fake.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_5xx_is_retried_and_after_the_last_attempt_notify_is_unavailable() {
    let h = harness(
        vec![Answer::ServerError, Answer::ServerError, Answer::Created],
        |_| {},
    )
    .await;
    h.client.send_sms(&sms("A12345:b-1:1:sms")).await.unwrap();
    assert_eq!(
        (
            *h.fake.posts.lock().unwrap(),
            h.fake.sent.lock().unwrap().len()
        ),
        (3, 1)
    );

    let h = harness(vec![Answer::ServerError; 3], |_| {}).await;
    assert_eq!(
        h.client.send_sms(&sms("A12345:b-1:1:sms")).await,
        Err(ProviderError::Unavailable(
            "GOV.UK Notify failed 3 times, last with HTTP 500".into()
        ))
    );
}

#[tokio::test]
async fn a_timeout_is_retried_and_the_retry_finds_the_message_the_slow_answer_sent() {
    let h = harness(vec![Answer::Slow(Duration::from_millis(600))], |s| {
        s.timeout = Duration::from_millis(200);
    })
    .await;
    let id = h.client.send_sms(&sms("A12345:b-1:1:sms")).await.unwrap();
    // The client hung up on the slow request, so the fake never finished
    // it; the retry looked the reference up, found nothing and sent once.
    // Had Notify finished it, the look-up would have found it instead.
    let sent = h.fake.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, id);

    let h = harness(vec![Answer::Slow(Duration::from_secs(2)); 3], |s| {
        s.timeout = Duration::from_millis(100);
        s.retry.attempts = 2;
    })
    .await;
    assert_eq!(
        h.client.send_sms(&sms("A12345:b-1:2:sms")).await,
        Err(ProviderError::Unavailable(
            "GOV.UK Notify failed 2 times, last with timed out".into()
        ))
    );
}

#[tokio::test]
async fn a_400_is_a_message_notify_will_never_take_and_is_not_retried() {
    let h = harness(vec![Answer::BadRequest], |_| {}).await;
    assert_eq!(
        h.client.send_sms(&sms("A12345:b-1:1:sms")).await,
        Err(ProviderError::Rejected)
    );
    assert_eq!(*h.fake.posts.lock().unwrap(), 1);
}

#[tokio::test]
async fn requests_are_spaced_under_the_rate_limit() {
    // 600 a minute is one every 100 ms; each send is a look-up and a post.
    let h = harness(vec![], |s| {
        s.requests_per_minute = NonZeroU32::new(600).unwrap();
    })
    .await;
    let started = Instant::now();
    for row in 0..5 {
        h.client
            .send_sms(&sms(&format!("A12345:b-1:{row}:sms")))
            .await
            .unwrap();
    }
    // Ten requests, the first at once: at least 900 ms.
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(h.fake.sent.lock().unwrap().len(), 5);
}
