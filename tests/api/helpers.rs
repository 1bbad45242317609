//! `spawn_app()` and the test app's helpers.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use domain::ports::{Clock, FakeClock, PortError, QueueName, ReceivedMessage, WorkQueue};
use domain::values::OrganisationId;
use functions::api::{router, ApiState, CallbackTokens};
use functions::identity::IdentitySource;
use infra::embedded::{EmbeddedConfig, EmbeddedStack, QueueLayer, DEFAULT_LINK_BASE_URL};
use infra::simulators::ClinicalSystemPace;
use serde_json::{json, Value};

pub const ORG: &str = "A12345";
/// The tokens the test providers put on their callbacks.
pub const NOTIFY_TOKEN: &str = "notify-callback-token-for-tests";
pub const NHS_NOTIFY_KEY: &str = "nhs-notify-api-key-for-tests";

/// The keys NHS Notify signs the test app's callbacks with.
pub fn nhs_notify_keys() -> functions::api::NhsNotifyCallbackKeys {
    functions::api::NhsNotifyCallbackKeys {
        api_key: NHS_NOTIFY_KEY.into(),
        application_id: "nhs-notify-application-for-tests".into(),
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub stack: Arc<EmbeddedStack>,
    pub clock: Arc<FakeClock>,
    pub data: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub fn start_of_test() -> DateTime<Utc> {
    // A Monday morning in term time.
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(None, tempfile::tempdir().unwrap()).await
}

/// Spawns the app over `data`, with the work queue wrapped by `layer`.
pub async fn spawn_app_with(layer: Option<QueueLayer>, data: tempfile::TempDir) -> TestApp {
    let clock = Arc::new(FakeClock::at(start_of_test()));
    let mut config = EmbeddedConfig::new(data.path());
    config.clock = clock.clone() as Arc<dyn Clock>;
    config.queue_layer = layer;
    config.clinical_system = ClinicalSystemPace::instant();
    let stack = Arc::new(EmbeddedStack::open(config).await.expect("the stack opens"));
    let app = router(ApiState {
        app: stack.app.clone(),
        identity: IdentitySource::Development {
            default_organisation: Some(OrganisationId::parse(ORG).unwrap()),
        },
        outbox: Some(stack.providers.clone()),
        callbacks: CallbackTokens {
            govuk_notify: Some(NOTIFY_TOKEN.into()),
            nhs_notify: Some(nhs_notify_keys()),
        },
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    TestApp {
        address,
        client: reqwest::Client::new(),
        stack,
        clock,
        data,
        server,
    }
}

impl TestApp {
    pub async fn run_pending_work(&self) {
        self.stack
            .run_pending_work()
            .await
            .expect("background work runs");
    }

    pub fn as_org(&self, builder: reqwest::RequestBuilder, org: &str) -> reqwest::RequestBuilder {
        builder.header("authorization", format!("Bearer dev:{org}"))
    }

    /// A request to `path` on behalf of staff of the test organisation.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.as_org(
            self.client
                .request(method, format!("{}{path}", self.address)),
            ORG,
        )
    }

    /// The JSON answer of a GET of `path`, as staff of the test organisation.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.request(reqwest::Method::GET, path).send().await;
        response.unwrap().json().await.unwrap()
    }

    /// A POST of `body` as JSON to `path`, as staff of the test organisation.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.request(reqwest::Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn upload_list_as(&self, org: &str, csv: &str) -> reqwest::Response {
        self.as_org(self.client.post(format!("{}/v1/lists", self.address)), org)
            .header("content-type", "text/csv")
            .body(csv.to_owned())
            .send()
            .await
            .unwrap()
    }

    pub async fn upload_list(&self, csv: &str) -> reqwest::Response {
        self.upload_list_as(ORG, csv).await
    }

    pub async fn create_batch_as(&self, org: &str, list_id: &str) -> reqwest::Response {
        self.as_org(self.client.post(format!("{}/v1/batches", self.address)), org)
            .json(&json!({"name": "Flu clinic", "list_id": list_id, "message": "Dear ((name)), book your flu jab."}))
            .send()
            .await
            .unwrap()
    }

    pub async fn send_batch_as(&self, org: &str, batch_id: &str, body: Value) -> reqwest::Response {
        self.as_org(
            self.client
                .post(format!("{}/v1/batches/{batch_id}/send", self.address)),
            org,
        )
        .json(&body)
        .send()
        .await
        .unwrap()
    }

    pub async fn get_batch_as(&self, org: &str, batch_id: &str) -> reqwest::Response {
        self.as_org(
            self.client
                .get(format!("{}/v1/batches/{batch_id}", self.address)),
            org,
        )
        .send()
        .await
        .unwrap()
    }

    pub async fn batch(&self, batch_id: &str) -> Value {
        let response = self.get_batch_as(ORG, batch_id).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Uploads `csv` and creates a batch from it.
    pub async fn create_batch_from(&self, csv: &str) -> String {
        let list: Value = self.upload_list(csv).await.json().await.unwrap();
        let created = self
            .create_batch_as(ORG, list["list_id"].as_str().unwrap())
            .await;
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.unwrap();
        created["batch_id"].as_str().unwrap().to_owned()
    }

    /// Creates a batch from `body` (its name, list, message and kind), sends
    /// it now and runs the sends.
    pub async fn send_batch_from(&self, body: Value) -> String {
        let created = self
            .request(reqwest::Method::POST, "/v1/batches")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.unwrap();
        let batch_id = created["batch_id"].as_str().unwrap().to_owned();
        assert_eq!(
            self.send_batch_as(ORG, &batch_id, json!({"now": true}))
                .await
                .status(),
            202
        );
        self.run_pending_work().await;
        batch_id
    }

    /// Uploads `csv`, creates a batch from it and sends it now.
    pub async fn send_list(&self, csv: &str) -> String {
        let batch_id = self.create_batch_from(csv).await;
        assert_eq!(
            self.send_batch_as(ORG, &batch_id, json!({"now": true}))
                .await
                .status(),
            202
        );
        batch_id
    }

    /// The link token in every message sent to `to`, in order.
    pub async fn tokens_sent_to(&self, to: &str) -> Vec<String> {
        self.outbox()
            .await
            .iter()
            .filter(|m| m["to"] == to)
            .map(|m| token_in(m["body"].as_str().unwrap()))
            .collect()
    }

    /// A patient's link, as their page uses it.
    pub fn link(&self, token: &str) -> PatientLink<'_> {
        PatientLink {
            app: self,
            token: token.to_owned(),
        }
    }

    pub async fn open_link(&self, token: &str) -> (u16, Value) {
        self.link(token).open().await
    }

    pub async fn verify(&self, token: &str, date_of_birth: &str) -> (u16, Value) {
        self.link(token).verify(date_of_birth).await
    }

    pub async fn revoke(&self, batch_id: &str, body: Value) -> (u16, Value) {
        let response = self
            .request(
                reqwest::Method::POST,
                &format!("/v1/batches/{batch_id}/links/revoke"),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn outbox(&self) -> Vec<Value> {
        self.outbox_as(ORG).await
    }

    /// The messages the simulated providers took for `org`'s patients.
    pub async fn outbox_as(&self, org: &str) -> Vec<Value> {
        self.as_org(
            self.client
                .get(format!("{}/v1/dev/sms-outbox", self.address)),
            org,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
    }

    /// What a refused request must leave as it was: every event, every
    /// message sent (for any organisation), and every file kept.
    pub async fn snapshot(&self) -> Snapshot {
        self.run_pending_work().await;
        let mut files = Vec::new();
        let mut dirs = vec![self.data.path().join("blobs")];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let entry = entry.unwrap();
                let meta = entry.metadata().unwrap();
                if meta.is_dir() {
                    dirs.push(entry.path());
                } else {
                    files.push((entry.path().display().to_string(), meta.len()));
                }
            }
        }
        files.sort();
        Snapshot {
            events: self.stack.event_log().count().await.unwrap(),
            messages: self.stack.providers.outbox_count().await.unwrap(),
            files,
        }
    }
}

/// See [`TestApp::snapshot`].
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub events: u64,
    pub messages: u64,
    pub files: Vec<(String, u64)>,
}

/// A patient's link on the test app: opened, checked with a date of
/// birth, then used with the session the check gave (no staff sign-in).
pub struct PatientLink<'a> {
    app: &'a TestApp,
    pub token: String,
}

impl PatientLink<'_> {
    /// What the page may show before the date-of-birth check.
    pub async fn open(&self) -> (u16, Value) {
        self.call(reqwest::Method::GET, None, "", None).await
    }

    /// The date-of-birth check, as given.
    pub async fn verify(&self, date_of_birth: &str) -> (u16, Value) {
        self.call(
            reqwest::Method::POST,
            None,
            "/verify",
            Some(json!({ "date_of_birth": date_of_birth })),
        )
        .await
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
        method: reqwest::Method,
        session: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let url = format!("{}/v1/links/{}{path}", self.app.address, self.token);
        let mut request = self.app.client.request(method, url);
        if let Some(session) = session {
            request = request.header("link-session", session);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// As [`Self::request`], answering with the status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        session: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let response = self.request(method, session, path, body).await;
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

/// The token at the end of a message's link.
pub fn token_in(body: &str) -> String {
    let prefix = format!("{DEFAULT_LINK_BASE_URL}/");
    let at = body.find(&prefix).expect("the message carries a link") + prefix.len();
    body[at..].split_whitespace().next().unwrap().to_owned()
}

/// A refusal's status and `detail`.
pub async fn problem(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["detail"].as_str().unwrap().to_owned())
}

/// A SystmOne list of `n` contactable patients with distinct mobiles, none
/// of which the simulator fails (none ends in 99).
pub fn clean_list(n: usize) -> String {
    let mut csv = String::from("NHS Number,Given Name,Telecom Number,Date of Birth\n");
    let mut first_nine = 600_000_000;
    let mut mobile = 100_000;
    for _ in 0..n {
        let nhs = loop {
            first_nine += 1;
            if let Some(n) = domain::values::NhsNumber::from_first_nine(first_nine) {
                break n;
            }
        };
        mobile += 1;
        if mobile % 100 == 99 {
            mobile += 1;
        }
        csv.push_str(&format!("{nhs},Pat,07700 {mobile:06},01/02/1950\n"));
    }
    csv
}

/// The NHS numbers of a list's patients, in row order (its first column).
pub fn nhs_numbers(csv: &str) -> Vec<String> {
    csv.lines()
        .skip(1)
        .map(|row| row.split(',').next().unwrap_or_default().to_owned())
        .collect()
}

/// Asserts the outbox holds exactly one message for each of `expected` numbers.
pub fn assert_one_message_each(outbox: &[Value], expected: usize) {
    let mut numbers: Vec<&str> = outbox.iter().map(|m| m["to"].as_str().unwrap()).collect();
    numbers.sort_unstable();
    let total = numbers.len();
    numbers.dedup();
    assert_eq!(
        total,
        numbers.len(),
        "some patient got more than one message"
    );
    assert_eq!(numbers.len(), expected, "some patient got no message");
}

/// Sends every queue message twice, as an at-least-once queue may.
pub struct DuplicatingQueue(pub Arc<dyn WorkQueue>);

#[async_trait::async_trait]
impl WorkQueue for DuplicatingQueue {
    async fn send(&self, queue: QueueName, bodies: Vec<String>) -> Result<(), PortError> {
        let twice = bodies.iter().flat_map(|b| [b.clone(), b.clone()]).collect();
        self.0.send(queue, twice).await
    }
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        self.0.receive(queue, max).await
    }
    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), PortError> {
        self.0.ack(queue, receipt).await
    }
}

impl TestApp {
    /// A conversation in `workspace_id` started by the default sign-in
    /// (`dev-user`, added to the workspace first), with Joe Bloggs of the
    /// simulated PDS.
    pub async fn conversation_in(&self, workspace_id: &str) -> String {
        let (status, body) = TestApp::reply(
            self.request(
                reqwest::Method::PUT,
                &format!("/v1/workspaces/{workspace_id}/members/dev-user"),
            )
            .json(&json!({"name": "Dev User"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = TestApp::reply(
            self.request(reqwest::Method::POST, "/v1/conversations")
                .json(&json!({
                    "workspace_id": workspace_id, "nhs_number": "9990000018",
                    "date_of_birth": "1950-02-01", "channel": "sms", "body": "Hello",
                    "allow_reply": true,
                })),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        body["conversation_id"].as_str().unwrap().to_owned()
    }

    /// A request to `path` as `who`, a development sign-in after `dev:`:
    /// `A12345:sam` (staff), `A12345:ann:admin`, `A12345:ida:auditor`.
    pub fn request_as(
        &self,
        who: &str,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.as_org(
            self.client
                .request(method, format!("{}{path}", self.address)),
            who,
        )
    }

    /// The status and JSON body (`null` when none) of `request`.
    pub async fn reply(request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Uploads `csv` as `who` and answers the checked list's id.
    pub async fn list_as(&self, who: &str, csv: &str) -> String {
        let response = self.upload_list_as(who, csv).await;
        assert_eq!(response.status(), 201);
        let list: Value = response.json().await.unwrap();
        list["list_id"].as_str().unwrap().to_owned()
    }
}

/// One operation of the OpenAPI document that takes an id: its method, its
/// path as documented, the path with `ids` put in, and a body the owner's
/// request would be accepted with (so that only the organisation differs).
pub struct IdOperation {
    pub method: String,
    pub documented: String,
    pub path: String,
    pub body: Option<Value>,
}

/// Every operation in `doc` that takes an id, each with the resource of
/// `ids` (name, id) it names. A patient's link is reached by its secret
/// token, never by an organisation's sign-in, so `/v1/links/{token}` is
/// left to the link tests. Panics on an id no resource was made for, so a
/// route added later cannot be missed.
pub fn id_operations(doc: &Value, ids: &[(&str, String)], patient: &str) -> Vec<IdOperation> {
    let body_for = |path: &str| match path {
        "/v1/batches/{batch_id}/send" => json!({"now": true}),
        "/v1/batches/{batch_id}/links/revoke" => json!({"all": true}),
        "/v1/batches/{batch_id}/series/stop" => json!({ "nhs_number": patient }),
        "/v1/templates/{template_id}" => json!({"name": "Mine", "body": "Hello"}),
        "/v1/workspaces/{workspace_id}/members/{user_id}" => json!({"name": "Sam"}),
        "/v1/conversations/{conversation_id}/messages" => json!({"channel": "sms", "body": "Hi"}),
        "/v1/conversations/{conversation_id}/assignee" => json!({"team": true}),
        "/v1/workspaces/{workspace_id}/inbox" => json!({"list": "all"}),
        _ => json!({}),
    };
    let mut found = Vec::new();
    for (documented, operations) in doc["paths"].as_object().unwrap() {
        if !documented.contains('{') || documented.starts_with("/v1/links/{token}") {
            continue;
        }
        let mut path = documented.clone();
        for (name, id) in ids {
            path = path.replace(&format!("{{{name}}}"), id);
        }
        assert!(
            !path.contains('{'),
            "{documented} takes an id this test has no resource for; make one"
        );
        for method in operations.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            let body = (method != "GET" && method != "DELETE").then(|| body_for(documented));
            found.push(IdOperation {
                method,
                documented: documented.clone(),
                path: path.clone(),
                body,
            });
        }
    }
    found
}

impl TestApp {
    /// Sends `body` (a batch whose message starts "Dear ((name))") to `n`
    /// patients: their links' tokens, from the batch's own messages (the
    /// outbox also holds other batches' texts and confirmations, in no
    /// particular order).
    pub async fn linked_batch(&self, n: usize, body: Value) -> Vec<String> {
        self.linked_batch_of(n, body).await.1
    }

    /// As [`Self::linked_batch`], with the batch's id.
    pub async fn linked_batch_of(&self, n: usize, body: Value) -> (String, Vec<String>) {
        let list: Value = self.upload_list(&clean_list(n)).await.json().await.unwrap();
        let mut body = body;
        body["list_id"] = list["list_id"].clone();
        let batch_id = self.send_batch_from(body).await;
        let tokens: Vec<String> = self
            .outbox()
            .await
            .iter()
            .filter(|m| m["idempotency_key"].as_str().unwrap().contains(&batch_id))
            .filter(|m| m["body"].as_str().unwrap().starts_with("Dear "))
            .map(|m| token_in(m["body"].as_str().unwrap()))
            .collect();
        assert_eq!(tokens.len(), n, "one message for each patient");
        (batch_id, tokens)
    }
}
