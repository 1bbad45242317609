//! The NHS Notify client against a local fake that answers as the NHS
//! Notify API and the NHS API platform document: the signed-JWT token
//! exchange, `POST /v1/messages` as JSON:API, de-duplication on
//! `messageReference` (422 for a repeat), and the errors (400, 401, 429 with
//! Retry-After, 5xx), plus an answer slower than the client will wait.
//!
//! `infra/tests/fixtures/nhs_api_test_key.pem` is an RSA key made for these
//! tests only; the fake checks assertions with its public half.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use domain::ports::{NhsAppProvider, NhsAppRequest, PortError, ProviderError, ProviderReferences};
use infra::http::RetryPolicy;
use infra::nhs_auth::NhsAuthSettings;
use infra::nhs_notify::{message_reference, NhsNotifyClient, NhsNotifySettings};
use serde_json::{json, Value};

const PRIVATE_KEY: &str = include_str!("../fixtures/nhs_api_test_key.pem");
const PUBLIC_KEY: &str = include_str!("../fixtures/nhs_api_test_key.pub.pem");
const API_KEY: &str = "batchbook-test-application-api-key";
const KID: &str = "batchbook-test-1";
const ROUTING_PLAN: &str = "b838b13c-f98c-4def-93f0-515d4e4f4ee1";

/// What the fake answers the next message with.
#[derive(Debug, Clone)]
enum Answer {
    Created,
    TooManyRequests {
        retry_after: u64,
    },
    ServerError,
    BadRequest,
    /// The access token is refused (it expired early, say).
    Unauthorised,
    /// Created, but only after this long.
    Slow(Duration),
}

#[derive(Default)]
struct Fake {
    token_url: Mutex<String>,
    script: Mutex<VecDeque<Answer>>,
    tokens: Mutex<Vec<String>>,
    jtis: Mutex<HashSet<String>>,
    /// Message references NHS Notify has, with each request body.
    messages: Mutex<Vec<(String, Value)>>,
    posts: Mutex<u32>,
}

fn errors(status: StatusCode, code: &str, title: &str) -> Response {
    let body = json!({"errors": [{"id": "rrt-1", "code": code, "status": status.as_u16().to_string(),
                                  "title": title, "detail": title}]});
    (
        status,
        [("content-type", "application/vnd.api+json")],
        body.to_string(),
    )
        .into_response()
}

/// The platform's token endpoint: a client assertion signed RS512 with the
/// registered key, `iss` and `sub` the API key, `aud` this URL, a `jti`
/// never seen before and an `exp` at most 5 minutes away.
async fn token(
    State(fake): State<Arc<Fake>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let refuse = |why: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request", "error_description": why})),
        )
            .into_response()
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return refuse("grant_type or client_assertion_type is wrong");
    }
    let assertion = form.get("client_assertion").cloned().unwrap_or_default();
    let Ok(header) = jsonwebtoken::decode_header(&assertion) else {
        return refuse("client_assertion is not a JWT");
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS512);
    validation.set_audience(&[fake.token_url.lock().unwrap().clone()]);
    validation.set_issuer(&[API_KEY]);
    validation.sub = Some(API_KEY.into());
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
    let Ok(data) = jsonwebtoken::decode::<Value>(&assertion, &key, &validation) else {
        return refuse("client_assertion is not signed by the registered key");
    };
    let exp = data.claims["exp"].as_i64().unwrap_or_default();
    let jti = data.claims["jti"].as_str().unwrap_or_default().to_owned();
    if header.kid.as_deref() != Some(KID)
        || exp > chrono::Utc::now().timestamp() + 300
        || !fake.jtis.lock().unwrap().insert(jti)
    {
        return refuse("kid, exp or jti is wrong");
    }
    let access_token = format!("token-{}", uuid::Uuid::new_v4());
    fake.tokens.lock().unwrap().push(access_token.clone());
    Json(json!({"access_token": access_token, "expires_in": "599",
                "token_type": "Bearer", "issued_at": "1732320000000"}))
    .into_response()
}

async fn message(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: String) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    if !fake.tokens.lock().unwrap().contains(&bearer) {
        return errors(StatusCode::UNAUTHORIZED, "CM_DENIED", "Access denied");
    }
    if headers.get("content-type").and_then(|h| h.to_str().ok()) != Some("application/vnd.api+json")
        || headers.get("x-correlation-id").is_none()
    {
        return errors(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "CM_UNSUPPORTED_MEDIA",
            "Unsupported media",
        );
    }
    *fake.posts.lock().unwrap() += 1;
    let answer = fake
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Answer::Created);
    let body: Value = serde_json::from_str(&body).unwrap_or_default();
    match answer {
        Answer::TooManyRequests { retry_after } => {
            let mut response = errors(
                StatusCode::TOO_MANY_REQUESTS,
                "CM_QUOTA",
                "Too many requests",
            );
            response
                .headers_mut()
                .insert("retry-after", retry_after.to_string().parse().unwrap());
            response
        }
        Answer::ServerError => errors(
            StatusCode::INTERNAL_SERVER_ERROR,
            "CM_INTERNAL_ERROR",
            "Error processing request",
        ),
        Answer::BadRequest => errors(
            StatusCode::BAD_REQUEST,
            "CM_INVALID_NHS_NUMBER",
            "Invalid NHS number",
        ),
        Answer::Unauthorised => {
            fake.tokens.lock().unwrap().retain(|t| *t != bearer);
            errors(StatusCode::UNAUTHORIZED, "CM_DENIED", "Access denied")
        }
        Answer::Slow(by) => {
            tokio::time::sleep(by).await;
            created(&fake, body)
        }
        Answer::Created => created(&fake, body),
    }
}

fn created(fake: &Fake, body: Value) -> Response {
    let attributes = &body["data"]["attributes"];
    let reference = attributes["messageReference"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if body["data"]["type"] != "Message"
        || attributes["routingPlanId"] != ROUTING_PLAN
        || uuid::Uuid::parse_str(&reference).is_err()
    {
        return errors(StatusCode::BAD_REQUEST, "CM_INVALID_VALUE", "Invalid value");
    }
    let mut messages = fake.messages.lock().unwrap();
    if messages.iter().any(|(r, _)| *r == reference) {
        return errors(
            StatusCode::UNPROCESSABLE_ENTITY,
            "CM_DUPLICATE_REQUEST",
            "Request already received",
        );
    }
    messages.push((reference.clone(), body.clone()));
    let id = format!("2WL3qFTEFM0qMY8xjRbt1LIKCzM{}", messages.len());
    let answer = json!({"data": {"type": "Message", "id": id, "attributes": {
        "messageReference": reference, "messageStatus": "created",
        "routingPlan": {"id": ROUTING_PLAN, "version": "1"}, "timestamps": {"created": "2026-11-23T10:00:00Z"}},
        "links": {"self": format!("https://api.service.nhs.uk/comms/v1/messages/{id}")}}});
    (
        StatusCode::CREATED,
        [("content-type", "application/vnd.api+json")],
        answer.to_string(),
    )
        .into_response()
}

/// References remembered in memory, as the idempotency table keeps them.
#[derive(Default)]
struct Remembered(Mutex<HashMap<String, String>>);

#[async_trait::async_trait]
impl ProviderReferences for Remembered {
    async fn remember(&self, provider_reference: &str, reference: &str) -> Result<(), PortError> {
        self.0
            .lock()
            .unwrap()
            .insert(provider_reference.into(), reference.into());
        Ok(())
    }
    async fn recall(&self, provider_reference: &str) -> Result<Option<String>, PortError> {
        Ok(self.0.lock().unwrap().get(provider_reference).cloned())
    }
}

struct Harness {
    fake: Arc<Fake>,
    references: Arc<Remembered>,
    client: NhsNotifyClient,
}

async fn harness(script: Vec<Answer>, tune: impl FnOnce(&mut NhsNotifySettings)) -> Harness {
    let fake = Arc::new(Fake::default());
    *fake.script.lock().unwrap() = script.into();
    let app = Router::new()
        .route("/oauth2/token", post(token))
        .route("/comms/v1/messages", post(message))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let token_url = format!("{address}/oauth2/token");
    *fake.token_url.lock().unwrap() = token_url.clone();
    let auth = NhsAuthSettings {
        token_url,
        api_key: API_KEY.into(),
        key_id: KID.into(),
        private_key_pem: PRIVATE_KEY.into(),
    };
    let mut settings = NhsNotifySettings::new(format!("{address}/comms"), auth, ROUTING_PLAN);
    settings.retry = RetryPolicy {
        attempts: 3,
        backoff: Duration::from_millis(10),
    };
    tune(&mut settings);
    let references = Arc::new(Remembered::default());
    Harness {
        client: NhsNotifyClient::new(settings, references.clone()).unwrap(),
        fake,
        references,
    }
}

fn nhs_app(reference: &str) -> NhsAppRequest {
    NhsAppRequest {
        idempotency_key: reference.into(),
        nhs_number: "9990000026".into(),
        body: "Dear Aisha, book your flu jab.".into(),
    }
}

#[tokio::test]
async fn a_message_goes_as_json_api_under_a_uuid_reference_that_receipts_map_back() {
    let h = harness(vec![], |_| {}).await;
    let id = h
        .client
        .send_nhs_app(&nhs_app("A12345:b-1:1:nhs_app"))
        .await
        .unwrap();
    assert_eq!(id, "2WL3qFTEFM0qMY8xjRbt1LIKCzM1");
    let uuid = message_reference("A12345:b-1:1:nhs_app");
    assert_eq!(
        h.fake.messages.lock().unwrap().clone(),
        vec![(
            uuid.clone(),
            json!({"data": {"type": "Message", "attributes": {
                "routingPlanId": ROUTING_PLAN, "messageReference": uuid,
                "recipient": {"nhsNumber": "9990000026"},
                "personalisation": {"body": "Dear Aisha, book your flu jab."}}}})
        )]
    );
    assert_eq!(
        h.references.recall(&uuid).await.unwrap().as_deref(),
        Some("A12345:b-1:1:nhs_app")
    );
}

#[tokio::test]
async fn one_token_serves_many_messages_and_a_refused_token_is_replaced() {
    let h = harness(
        vec![Answer::Created, Answer::Created, Answer::Unauthorised],
        |_| {},
    )
    .await;
    for row in 1..=2 {
        h.client
            .send_nhs_app(&nhs_app(&format!("A12345:b-1:{row}:nhs_app")))
            .await
            .unwrap();
    }
    assert_eq!(h.fake.tokens.lock().unwrap().len(), 1, "one token for both");
    h.client
        .send_nhs_app(&nhs_app("A12345:b-1:3:nhs_app"))
        .await
        .unwrap();
    assert_eq!(
        h.fake.jtis.lock().unwrap().len(),
        2,
        "a second assertion after the 401"
    );
    assert_eq!(h.fake.messages.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_retry_after_a_crash_is_the_same_message_and_nhs_notify_sends_no_second() {
    let h = harness(vec![], |_| {}).await;
    h.client
        .send_nhs_app(&nhs_app("A12345:b-1:1:nhs_app"))
        .await
        .unwrap();
    // Our commit never happened; the job comes back with the same key.
    let again = h
        .client
        .send_nhs_app(&nhs_app("A12345:b-1:1:nhs_app"))
        .await
        .unwrap();
    assert_eq!(again, message_reference("A12345:b-1:1:nhs_app"));
    assert_eq!(
        (
            *h.fake.posts.lock().unwrap(),
            h.fake.messages.lock().unwrap().len()
        ),
        (2, 1)
    );
}

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_says_and_on_every_attempt_is_rate_limited() {
    let h = harness(
        vec![Answer::TooManyRequests { retry_after: 1 }, Answer::Created],
        |_| {},
    )
    .await;
    let started = Instant::now();
    h.client
        .send_nhs_app(&nhs_app("A12345:b-1:1:nhs_app"))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert_eq!(h.fake.messages.lock().unwrap().len(), 1);

    let h = harness(vec![Answer::TooManyRequests { retry_after: 1 }; 3], |s| {
        s.retry.attempts = 2;
    })
    .await;
    assert_eq!(
        h.client
            .send_nhs_app(&nhs_app("A12345:b-1:1:nhs_app"))
            .await,
        Err(ProviderError::RateLimited {
            retry_after_secs: 1
        })
    );
}

#[tokio::test]
async fn a_5xx_is_retried_and_after_the_last_attempt_nhs_notify_is_unavailable() {
    let h = harness(
        vec![Answer::ServerError, Answer::ServerError, Answer::Created],
        |_| {},
    )
    .await;
    h.client
        .send_nhs_app(&nhs_app("A12345:b-1:1:nhs_app"))
        .await
        .unwrap();
    assert_eq!(
        (
            *h.fake.posts.lock().unwrap(),
            h.fake.messages.lock().unwrap().len()
        ),
        (3, 1)
    );
    let h = harness(vec![Answer::ServerError; 3], |_| {}).await;
    assert_eq!(
        h.client
            .send_nhs_app(&nhs_app("A12345:b-1:1:nhs_app"))
            .await,
        Err(ProviderError::Unavailable(
            "NHS Notify failed 3 times, last with HTTP 500".into()
        ))
    );
}

#[tokio::test]
async fn a_timeout_is_retried_under_the_same_reference() {
    let h = harness(vec![Answer::Slow(Duration::from_millis(600))], |s| {
        s.timeout = Duration::from_millis(200);
    })
    .await;
    h.client
        .send_nhs_app(&nhs_app("A12345:b-1:1:nhs_app"))
        .await
        .unwrap();
    let messages = h.fake.messages.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].0, message_reference("A12345:b-1:1:nhs_app"));

    let h = harness(vec![Answer::Slow(Duration::from_secs(2)); 3], |s| {
        s.timeout = Duration::from_millis(100);
        s.retry.attempts = 2;
    })
    .await;
    assert_eq!(
        h.client
            .send_nhs_app(&nhs_app("A12345:b-1:2:nhs_app"))
            .await,
        Err(ProviderError::Unavailable(
            "NHS Notify failed 2 times, last with timed out".into()
        ))
    );
}

#[tokio::test]
async fn a_400_is_a_message_nhs_notify_will_never_take_and_is_not_retried() {
    let h = harness(vec![Answer::BadRequest], |_| {}).await;
    assert_eq!(
        h.client
            .send_nhs_app(&nhs_app("A12345:b-1:1:nhs_app"))
            .await,
        Err(ProviderError::Rejected)
    );
    assert_eq!(*h.fake.posts.lock().unwrap(), 1);
}

#[tokio::test]
async fn requests_are_spaced_under_five_a_second_by_default() {
    let h = harness(vec![], |_| {}).await;
    let started = Instant::now();
    for row in 0..6 {
        h.client
            .send_nhs_app(&nhs_app(&format!("A12345:b-1:{row}:nhs_app")))
            .await
            .unwrap();
    }
    // Six requests at 5 a second, the first at once: at least a second.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1_000), "{took:?}");
    assert_eq!(h.fake.messages.lock().unwrap().len(), 6);
}

#[test]
fn a_key_that_is_not_rsa_pem_is_refused_when_settings_are_read() {
    let auth = NhsAuthSettings {
        token_url: "https://api.service.nhs.uk/oauth2/token".into(),
        api_key: API_KEY.into(),
        key_id: KID.into(),
        private_key_pem: "not a key".into(),
    };
    assert_eq!(
        auth.check(),
        Err("the NHS API private key is not an RSA key in PEM".to_owned())
    );
    assert!(
        !format!("{auth:?}").contains("not a key"),
        "the key is never printed"
    );
}
