//! A batch's attachment (issue 5): uploaded once, then opened by each
//! patient through their own link after the date-of-birth check. Every
//! refusal is asserted exactly.

use chrono::Duration;
use serde_json::{json, Value};

use crate::helpers::{clean_list, problem, spawn_app, start_of_test, TestApp, ORG};

/// The smallest file a PDF reader opens; what matters here is the bytes.
const LEAFLET: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
const BORN: &str = "1950-02-01";

impl TestApp {
    async fn upload_attachment_as(
        &self,
        org: &str,
        file_name: Option<&str>,
        bytes: Vec<u8>,
    ) -> reqwest::Response {
        let mut request = self.as_org(
            self.client.post(format!("{}/v1/attachments", self.address)),
            org,
        );
        if let Some(name) = file_name {
            request = request.query(&[("file_name", name)]);
        }
        request
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    /// Uploads the leaflet and returns its id.
    async fn leaflet(&self, org: &str) -> String {
        let response = self
            .upload_attachment_as(org, Some("Flu leaflet.pdf"), LEAFLET.to_vec())
            .await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        body["attachment_id"].as_str().unwrap().to_owned()
    }

    async fn create_with(&self, list_id: &Value, extra: Value) -> reqwest::Response {
        let mut body = json!({"name": "Flu leaflet", "list_id": list_id,
                              "message": "Dear ((name)), our flu leaflet: ((link))"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.request(reqwest::Method::POST, "/v1/batches")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn download(&self, token: &str, session: Option<&str>) -> reqwest::Response {
        self.link(token)
            .request(reqwest::Method::GET, session, "/attachment", None)
            .await
    }
}

#[tokio::test]
async fn an_upload_is_refused_with_its_reason_and_nothing_is_kept() {
    let app = spawn_app().await;
    let refused = |response: reqwest::Response| problem(response);
    assert_eq!(
        refused(
            app.upload_attachment_as(ORG, Some("notes.txt"), b"plain words".to_vec())
                .await
        )
        .await,
        (422, "attachment: must be a PDF, PNG or JPEG file".into())
    );
    assert_eq!(
        refused(
            app.upload_attachment_as(ORG, Some("empty.pdf"), vec![])
                .await
        )
        .await,
        (422, "attachment: the file is empty".into())
    );
    assert_eq!(
        refused(app.upload_attachment_as(ORG, None, LEAFLET.to_vec()).await).await,
        (400, "file_name: is required".into())
    );
    assert_eq!(
        refused(
            app.upload_attachment_as(ORG, Some("  "), LEAFLET.to_vec())
                .await
        )
        .await,
        (422, "file_name: give the attachment a file name".into())
    );
    let raw = |query: &'static str, content_type: &'static str| {
        app.request(reqwest::Method::POST, &format!("/v1/attachments?{query}"))
            .header("content-type", content_type)
            .body(LEAFLET.to_vec())
            .send()
    };
    let cases = [
        // A name percent-encoded from bytes that are not UTF-8 (Latin-1 "é").
        ("file_name=Caf%E9.pdf", "application/pdf", 400,
            "file_name: is not UTF-8 text; percent-encode the UTF-8 bytes of the value"),
        ("file_name=a.pdf&filename=a.pdf", "application/pdf", 400,
            "unknown query parameter `filename`; did you mean `file_name`?"),
        ("file_name=a.pdf", "application/json", 415,
            "send this request's body with Content-Type: application/octet-stream (or application/pdf, image/png, image/jpeg); it was sent as application/json"),
    ];
    for (query, content_type, status, detail) in cases {
        assert_eq!(
            refused(raw(query, content_type).await.unwrap()).await,
            (status, detail.to_owned()),
            "{query} as {content_type}"
        );
    }
    // One byte over, or fifty megabytes over: the same refusal.
    for size in [
        domain::usecases::MAX_ATTACHMENT_BYTES + 1,
        domain::usecases::MAX_ATTACHMENT_BYTES + 2,
        50 * 1024 * 1024,
    ] {
        let mut big = LEAFLET.to_vec();
        big.resize(size, b' ');
        assert_eq!(
            refused(app.upload_attachment_as(ORG, Some("big.pdf"), big).await).await,
            (
                413,
                "attachment: the file is larger than 5 MiB (5242880 bytes), the largest allowed"
                    .into()
            ),
            "{size} bytes"
        );
    }
    assert!(
        !app.data.path().join("blobs/attachments").exists(),
        "a refused file is never kept"
    );
    // Exactly the limit is taken: the route's own limit, not the 64 KiB of
    // JSON bodies.
    let mut largest = LEAFLET.to_vec();
    largest.resize(domain::usecases::MAX_ATTACHMENT_BYTES, b' ');
    let response = app
        .upload_attachment_as(ORG, Some("largest.pdf"), largest)
        .await;
    assert_eq!(response.status(), 201);

    let response = app
        .upload_attachment_as(ORG, Some("Flu leaflet.pdf"), LEAFLET.to_vec())
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["file_name"], "Flu leaflet.pdf");
    assert_eq!(body["content_type"], "application/pdf");
    assert_eq!(body["size"], LEAFLET.len());
    assert_eq!(
        body["sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(LEAFLET))
    );
}

#[tokio::test]
async fn a_batch_names_one_attachment_of_its_own_organisation_and_its_message_carries_the_link() {
    let app = spawn_app().await;
    let list: Value = app.upload_list(&clean_list(1)).await.json().await.unwrap();
    let ours = app.leaflet(ORG).await;
    let theirs = app.leaflet("B81001").await;
    let cases = [
        (
            json!({"attachment_id": theirs}),
            "attachment_id: there is no attachment with this id",
        ),
        (
            json!({"attachment_id": "not-an-id"}),
            "attachment_id: there is no attachment with this id",
        ),
        (
            json!({"attachment_id": ours, "questionnaire": "smoking_status"}),
            "a batch is one kind: a questionnaire, an attachment, the inhaler series or Self-Book, never two",
        ),
        (
            json!({"attachment_id": ours, "inhaler_series": true}),
            "a batch is one kind: a questionnaire, an attachment, the inhaler series or Self-Book, never two",
        ),
        (
            json!({"attachment_id": ours, "message": "Dear ((name)), see our leaflet"}),
            "a batch with a questionnaire, an attachment or a Self-Book invite needs ((link)) in its message, where each patient's own link goes",
        ),
    ];
    for (extra, detail) in cases {
        let response = app.create_with(&list["list_id"], extra.clone()).await;
        assert_eq!(problem(response).await, (422, detail.to_owned()), "{extra}");
    }
    let created = app
        .create_with(&list["list_id"], json!({"attachment_id": ours}))
        .await;
    assert_eq!(created.status(), 201);
    let batch_id = created.json::<Value>().await.unwrap()["batch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.run_pending_work().await;
    let batch = app.batch(&batch_id).await;
    assert_eq!(batch["attachment"]["attachment_id"], ours);
    assert_eq!(batch["attachment"]["file_name"], "Flu leaflet.pdf");
    assert_eq!(batch["counts"]["opened_attachment"], 0);
}

#[tokio::test]
async fn each_patient_opens_the_file_after_the_date_of_birth_check_until_revoked_or_expired() {
    let app = spawn_app().await;
    let list: Value = app.upload_list(&clean_list(2)).await.json().await.unwrap();
    let attachment_id = app.leaflet(ORG).await;
    let batch_id = app
        .send_batch_from(json!({"name": "Flu leaflet", "list_id": list["list_id"],
                                "attachment_id": attachment_id,
                                "message": "Dear ((name)), our flu leaflet: ((link))"}))
        .await;
    assert_eq!(app.outbox().await.len(), 2);
    // Sends run concurrently, so each patient's link is found by number.
    let first = app.tokens_sent_to("+447700100001").await.remove(0);
    let second = app.tokens_sent_to("+447700100002").await.remove(0);
    assert_ne!(first, second, "each patient has their own link");

    // Before the check: only whether it can be used; no file without a session.
    assert_eq!(
        app.open_link(&first).await,
        (200, json!({"state": "open", "contact": null}))
    );
    let (status, body) = problem(app.download(&first, None).await).await;
    assert_eq!(
        (status, body.as_str()),
        (401, "confirm your date of birth again")
    );
    assert_eq!(
        app.verify(&first, "1950-02-02").await.0,
        403,
        "a wrong date opens nothing"
    );

    let (status, verified) = app.verify(&first, BORN).await;
    assert_eq!(status, 200);
    assert_eq!(
        verified["attachment"],
        json!({"file_name": "Flu leaflet.pdf", "content_type": "application/pdf",
               "size": LEAFLET.len(),
               "expires_at": (start_of_test() + Duration::days(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)})
    );
    assert!(verified.get("questionnaire").is_none());
    let session = verified["session"].as_str().unwrap().to_owned();

    for _ in 0..2 {
        let file = app.download(&first, Some(&session)).await;
        assert_eq!(file.status(), 200);
        assert_eq!(file.headers()["content-type"], "application/pdf");
        assert_eq!(
            file.headers()["content-disposition"],
            "attachment; filename=\"Flu leaflet.pdf\""
        );
        assert_eq!(file.headers()["cache-control"], "private, no-store");
        assert_eq!(file.bytes().await.unwrap().as_ref(), LEAFLET);
    }
    // This session is for this link only, and a questionnaire is not behind it.
    assert_eq!(
        problem(app.download(&second, Some(&session)).await).await,
        (401, "confirm your date of birth again".into())
    );
    let questionnaire = app
        .link(&first)
        .request(reqwest::Method::GET, Some(&session), "/questionnaire", None)
        .await;
    assert_eq!(
        problem(questionnaire).await,
        (404, "there is no such link".into())
    );

    app.run_pending_work().await;
    assert_eq!(
        app.batch(&batch_id).await["counts"]["opened_attachment"],
        1,
        "two downloads by one patient count once"
    );

    // Revoking the first patient's link closes it, session and all.
    let nhs_first = clean_list(1).lines().nth(1).unwrap()[..10].to_owned();
    assert_eq!(
        app.revoke(&batch_id, json!({"nhs_number": nhs_first}))
            .await
            .0,
        200
    );
    let (status, body) = problem(app.download(&first, Some(&session)).await).await;
    assert_eq!((status, body.as_str()), (410, "this link cannot be used"));

    // The second patient's link lasts 30 days from the message.
    app.clock.advance(Duration::days(30) - Duration::seconds(1));
    assert_eq!(app.open_link(&second).await.1["state"], "open");
    app.clock.advance(Duration::seconds(1));
    assert_eq!(app.open_link(&second).await.1["state"], "expired");
    assert_eq!(app.verify(&second, BORN).await.0, 410);
}
