//! Batch messages on every channel (issue 5): routing to email, NHS App and
//! SMS; the NHS App fallback and its cancellation by a read receipt; the
//! sending window; staggered sends and cancelling one midway; the 72-hour
//! rule; provider callbacks; content checks and the preview staff see.
//! Time moves on the fake clock only.

use chrono::Duration;
use serde_json::{json, Value};

use crate::helpers::{
    clean_list, nhs_notify_keys, problem, spawn_app, TestApp, NHS_NOTIFY_KEY, NOTIFY_TOKEN, ORG,
};

/// Two NHS App users (Aisha never reads, Priya does; both have a mobile),
/// one patient with an email address and one with only a mobile.
const MIXED: &str = "NHS Number,Given Name,Telecom Number,Date of Birth,Email Address\n\
    9990000026,Aisha,07700 100902,01/02/1950,\n\
    9990000093,Priya,07700 100910,01/02/1950,\n\
    7000000015,Joe,07700 100920,01/02/1950,joe@example.com\n\
    7000000023,Sam,07700 100930,01/02/1950,\n";

impl TestApp {
    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.as_org(self.client.post(format!("{}{path}", self.address)), ORG)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn list_id(&self, csv: &str) -> String {
        let list: Value = self.upload_list(csv).await.json().await.unwrap();
        list["list_id"].as_str().unwrap().to_owned()
    }

    /// Creates a batch with `extra` fields, expecting success.
    async fn create(&self, csv: &str, extra: Value) -> String {
        let mut body = json!({"name": "Flu", "list_id": self.list_id(csv).await,
                              "message": "Dear ((name)), book your flu jab."});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let created = self.post("/v1/batches", body).await;
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.unwrap();
        created["batch_id"].as_str().unwrap().to_owned()
    }

    async fn send(&self, batch_id: &str, body: Value) {
        let sent = self
            .post(&format!("/v1/batches/{batch_id}/send"), body)
            .await;
        assert_eq!(sent.status(), 202);
    }

    /// (channel, to) of every message the simulated providers took.
    async fn sent_to(&self) -> Vec<(String, String)> {
        let mut sent: Vec<(String, String)> = self
            .outbox()
            .await
            .iter()
            .map(|m| {
                (
                    m["channel"].as_str().unwrap().to_owned(),
                    m["to"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        sent.sort();
        sent
    }

    async fn wait(&self, by: Duration) {
        self.clock.advance(by);
        self.run_pending_work().await;
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut list: Vec<_> = list
        .iter()
        .map(|(c, t)| (c.to_string(), t.to_string()))
        .collect();
    list.sort();
    list
}

#[tokio::test]
async fn each_patient_gets_their_channel_and_an_unread_nhs_app_message_falls_back_after_24_hours() {
    let app = spawn_app().await;
    let batch_id = app
        .create(MIXED, json!({"email_subject": "Flu clinics"}))
        .await;
    app.send(&batch_id, json!({"now": true})).await;
    app.run_pending_work().await;

    assert_eq!(
        app.sent_to().await,
        pairs(&[
            ("email", "joe@example.com"),
            ("nhs_app", "9990000026"),
            ("nhs_app", "9990000093"),
            ("sms", "+447700100930"),
        ])
    );
    let email = app
        .outbox()
        .await
        .into_iter()
        .find(|m| m["channel"] == "email")
        .unwrap();
    assert_eq!(
        (email["subject"].as_str(), email["body"].as_str()),
        (Some("Flu clinics"), Some("Dear Joe, book your flu jab."))
    );
    let batch = app.batch(&batch_id).await;
    assert_eq!(batch["status"], "Sending");
    assert_eq!(
        batch["counts"],
        json!({"patient_list": 4, "recipients": 4, "awaiting_receipt": 1, "delivered": 2,
               "emails_delivered": 1, "without_valid_mobile": 0, "failed_to_deliver": 0,
               "saved_to_record": 0, "not_saved_to_record": 0, "answered": 0, "opened_attachment": 0})
    );

    // A minute before 24 hours: no fallback yet.
    app.wait(Duration::hours(24) - Duration::minutes(1)).await;
    assert_eq!(app.outbox().await.len(), 4);

    // At 24 hours Aisha, who never read hers, gets the SMS; Priya, who
    // read hers, gets nothing more.
    app.wait(Duration::minutes(1)).await;
    let fallback: Vec<Value> = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m["channel"] == "sms" && m["to"] == "+447700100902")
        .collect();
    assert_eq!(fallback.len(), 1);
    assert_eq!(fallback[0]["body"], "Dear Aisha, book your flu jab.");
    assert_eq!(app.outbox().await.len(), 5);
    let batch = app.batch(&batch_id).await;
    assert_eq!(batch["status"], "Saved");
    assert_eq!(batch["counts"]["delivered"], 3);
    assert_eq!(batch["counts"]["awaiting_receipt"], 0);

    // Later follow-ups send nothing more.
    app.wait(Duration::days(3)).await;
    assert_eq!(app.outbox().await.len(), 5);
}

#[tokio::test]
async fn a_read_receipt_from_nhs_notify_cancels_the_fallback() {
    let app = spawn_app().await;
    let batch_id = app.create(MIXED, json!({"email_subject": "Flu"})).await;
    app.send(&batch_id, json!({"now": true})).await;
    app.run_pending_work().await;
    let reference = app
        .outbox()
        .await
        .into_iter()
        .find(|m| m["to"] == "9990000026")
        .unwrap()["idempotency_key"]
        .as_str()
        .unwrap()
        .to_owned();
    // NHS Notify knows the message by the UUID its client derived and
    // remembered (as the real client does before sending).
    let uuid = infra::nhs_notify::message_reference(&reference);
    let work = infra::embedded::open_pool(app.data.path(), infra::embedded::Database::Work)
        .await
        .unwrap();
    domain::ports::ProviderReferences::remember(
        &infra::embedded::SqliteIdempotency::new(work),
        &uuid,
        &reference,
    )
    .await
    .unwrap();
    let callback = json!({"data": [{"type": "ChannelStatus", "attributes": {
        "messageReference": uuid, "channel": "nhsapp", "channelStatus": "delivered",
        "supplierStatus": "read", "timestamp": "2026-11-23T10:00:00Z"}}]})
    .to_string();
    let signature = nhs_notify_keys().signature(callback.as_bytes());
    let url = format!("{}/v1/callbacks/nhs-notify", app.address);
    let post = |key: &str, signature: Option<&str>, body: &str| {
        let mut request = app
            .client
            .post(&url)
            .header("x-api-key", key)
            .header("content-type", "application/vnd.api+json")
            .body(body.to_owned());
        if let Some(signature) = signature {
            request = request.header("x-hmac-sha256-signature", signature);
        }
        request.send()
    };
    assert_eq!(
        problem(post("wrong", Some(&signature), &callback).await.unwrap()).await,
        (401, "the callback's token is missing or wrong".into())
    );
    let not_signed = "the callback's x-hmac-sha256-signature does not match its body";
    assert_eq!(
        problem(post(NHS_NOTIFY_KEY, None, &callback).await.unwrap()).await,
        (403, not_signed.into())
    );
    // Signed, but not this body: a tampered callback.
    let tampered = callback.replace("read", "unread");
    assert_eq!(
        problem(
            post(NHS_NOTIFY_KEY, Some(&signature), &tampered)
                .await
                .unwrap()
        )
        .await,
        (403, not_signed.into())
    );
    let accepted = post(NHS_NOTIFY_KEY, Some(&signature), &callback)
        .await
        .unwrap();
    assert_eq!(accepted.status(), 204);
    app.wait(Duration::hours(25)).await;
    assert_eq!(app.outbox().await.len(), 4, "no fallback after a read");
    let batch = app.batch(&batch_id).await;
    assert_eq!(
        (batch["status"].as_str(), &batch["counts"]["delivered"]),
        (Some("Saved"), &json!(3))
    );
}

#[tokio::test]
async fn a_govuk_notify_receipt_needs_its_token_and_settles_the_message() {
    let app = spawn_app().await;
    // The simulated provider never answers for 07700 190095.
    let csv = "NHS Number,Given Name,Telecom Number,Date of Birth\n\
               7000000015,Joe,07700 190095,01/02/1950\n";
    let batch_id = app.create(csv, json!({})).await;
    app.send(&batch_id, json!({"now": true})).await;
    app.run_pending_work().await;
    assert_eq!(app.batch(&batch_id).await["counts"]["awaiting_receipt"], 1);
    let reference = app.outbox().await[0]["idempotency_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{}/v1/callbacks/govuk-notify", app.address);
    let receipt = |reference: &str| {
        json!({"id": "3d1ce039-5476-414c-99b2-fac1e6add62c", "reference": reference,
               "to": "07700190095", "status": "delivered",
               "created_at": "2026-11-23T09:00:00Z", "completed_at": "2026-11-23T09:00:05Z",
               "sent_at": "2026-11-23T09:00:01Z", "notification_type": "sms",
               "template_id": "f33517ff-2a88-4f6e-b855-c550268ce08a", "template_version": 1})
    };
    for auth in [None, Some("Bearer nope")] {
        let mut request = app.client.post(&url).json(&receipt(&reference));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        assert_eq!(
            problem(request.send().await.unwrap()).await,
            (401, "the callback's token is missing or wrong".into())
        );
    }
    let post = |body: Value| {
        app.client
            .post(&url)
            .header("authorization", format!("Bearer {NOTIFY_TOKEN}"))
            .json(&body)
            .send()
    };
    let (status, detail) = problem(post(json!({"reference": reference})).await.unwrap()).await;
    assert_eq!(status, 422);
    assert!(
        detail.starts_with("not a GOV.UK Notify receipt: missing field `status`"),
        "{detail}"
    );
    // A reference Batchbook never gave is acknowledged and ignored.
    assert_eq!(post(receipt("not-ours")).await.unwrap().status(), 204);
    assert_eq!(post(receipt(&reference)).await.unwrap().status(), 204);
    // Notify retries callbacks: a repeat changes nothing.
    assert_eq!(post(receipt(&reference)).await.unwrap().status(), 204);
    app.run_pending_work().await;
    let batch = app.batch(&batch_id).await;
    assert_eq!(batch["status"], "Saved");
    assert_eq!(
        (
            &batch["counts"]["delivered"],
            &batch["counts"]["awaiting_receipt"]
        ),
        (&json!(1), &json!(0))
    );
}

#[tokio::test]
async fn a_message_with_no_receipt_after_72_hours_has_failed() {
    let app = spawn_app().await;
    let csv = "NHS Number,Given Name,Telecom Number,Date of Birth\n\
               7000000015,Joe,07700 190095,01/02/1950\n\
               7000000023,Sam,07700 100930,01/02/1950\n";
    let batch_id = app.create(csv, json!({})).await;
    app.send(&batch_id, json!({"now": true})).await;
    app.run_pending_work().await;
    app.wait(Duration::hours(72) - Duration::minutes(1)).await;
    let batch = app.batch(&batch_id).await;
    assert_eq!(
        (
            batch["status"].as_str(),
            &batch["counts"]["awaiting_receipt"]
        ),
        (Some("Sending"), &json!(1))
    );
    app.wait(Duration::minutes(1)).await;
    let batch = app.batch(&batch_id).await;
    assert_eq!(batch["status"], "Saved");
    assert_eq!(
        (
            &batch["counts"]["delivered"],
            &batch["counts"]["failed_to_deliver"]
        ),
        (&json!(1), &json!(1))
    );
    let report = app
        .as_org(
            app.client.get(format!(
                "{}/v1/batches/{batch_id}/failed-to-deliver.csv",
                app.address
            )),
            ORG,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        report.text().await.unwrap(),
        "NHS Number,Email Address,Mobile,Channel,Reason\n\
         7000000015,,07700190095,sms,no_receipt_within_72_hours\n"
    );
}

#[tokio::test]
async fn texts_wait_for_the_sending_window_but_emails_do_not() {
    let app = spawn_app().await;
    let batch_id = app
        .create(MIXED, json!({"email_subject": "Flu clinics"}))
        .await;
    // 21:00 on Monday, London time.
    app.clock.advance(Duration::hours(12));
    app.send(&batch_id, json!({"now": true})).await;
    app.run_pending_work().await;
    assert_eq!(app.sent_to().await, pairs(&[("email", "joe@example.com")]));
    app.wait(Duration::hours(11) - Duration::minutes(1)).await;
    assert_eq!(app.outbox().await.len(), 1, "07:59: still held");
    app.wait(Duration::minutes(1)).await;
    assert_eq!(app.outbox().await.len(), 4, "08:00: the texts go");
}

#[tokio::test]
async fn an_organisation_can_move_its_window_and_a_backwards_one_is_refused() {
    let app = spawn_app().await;
    let put = |window: Value| {
        app.as_org(app.client.put(format!("{}/v1/settings", app.address)), ORG)
            .json(&json!({"flag_mobiles_likely_to_fail": false, "sending_window": window}))
            .send()
    };
    let refused = put(json!({"opens": "20:00", "closes": "08:00"}))
        .await
        .unwrap();
    assert_eq!(
        problem(refused).await,
        (
            422,
            "the sending window must open before it closes, on the same day".into()
        )
    );
    let saved = put(json!({"opens": "10:00", "closes": "16:00"}))
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let saved: Value = saved.json().await.unwrap();
    assert_eq!(
        saved["sending_window"],
        json!({"opens": "10:00", "closes": "16:00", "time_zone": "Europe/London"})
    );
    // 09:00: an hour before this organisation's window opens.
    app.send(
        &app.create(&clean_list(2), json!({})).await,
        json!({"now": true}),
    )
    .await;
    app.run_pending_work().await;
    assert!(app.outbox().await.is_empty());
    app.wait(Duration::hours(1)).await;
    assert_eq!(app.outbox().await.len(), 2);
}

#[tokio::test]
async fn a_stagger_sends_each_days_share_and_cancelling_midway_sends_no_more() {
    let app = spawn_app().await;
    let list_id = app.list_id(&clean_list(10)).await;
    let preview = app
        .post(
            "/v1/batches/preview",
            json!({"list_id": list_id, "message": "Dear ((name)), book now.", "stagger_days": 3}),
        )
        .await;
    assert_eq!(preview.status(), 200);
    let preview: Value = preview.json().await.unwrap();
    let plan = json!([
        {"day": 0, "starts_at": "2026-11-23T09:00:00Z", "patients": 4},
        {"day": 1, "starts_at": "2026-11-24T08:00:00Z", "patients": 3},
        {"day": 2, "starts_at": "2026-11-25T08:00:00Z", "patients": 3},
    ]);
    assert_eq!(preview["stagger"], plan);

    let batch_id = app.create(&clean_list(10), json!({})).await;
    app.send(&batch_id, json!({"now": true, "stagger_days": 3}))
        .await;
    app.run_pending_work().await;
    assert_eq!(app.outbox().await.len(), 4);
    assert_eq!(app.batch(&batch_id).await["stagger"], plan);

    app.wait(Duration::hours(23) - Duration::minutes(1)).await;
    assert_eq!(app.outbox().await.len(), 4, "day 1 has not begun");
    app.wait(Duration::minutes(1)).await;
    assert_eq!(app.outbox().await.len(), 7);

    let cancelled = app
        .post(&format!("/v1/batches/{batch_id}/cancel"), json!({}))
        .await;
    assert_eq!(cancelled.status(), 200);
    app.wait(Duration::days(2)).await;
    assert_eq!(app.outbox().await.len(), 7, "day 2 never goes");
    let batch = app.batch(&batch_id).await;
    assert_eq!(batch["status"], "Cancelled");
    assert_eq!(batch["counts"]["delivered"], 7);
    // What was sent is in the patients' records; what was not, is not.
    assert_eq!(batch["counts"]["saved_to_record"], 7);
    assert_eq!(app.stack.records.entries().await.unwrap().len(), 7);
}

#[tokio::test]
async fn each_message_sent_is_saved_to_the_patients_record_with_the_snomed_code_then_the_batch_is_saved(
) {
    let app = spawn_app().await;
    // Ann's number is refused by the provider: nothing was sent to her, so
    // nothing goes in her record.
    let csv = "NHS Number,Given Name,Telecom Number,Date of Birth,Email Address\n\
               9434765919,Joe,07700 100123,01/02/1950,\n\
               4010232137,Ann,07700 100199,01/02/1950,\n\
               7000000015,Sam,07700 100920,01/02/1950,sam@example.com\n";
    let batch_id = app
        .create(
            csv,
            json!({"email_subject": "Flu clinics", "snomed_code": "1239511000000100"}),
        )
        .await;
    app.send(&batch_id, json!({"now": true})).await;
    app.run_pending_work().await;

    let batch = app.batch(&batch_id).await;
    assert_eq!(batch["status"], "Saved");
    assert_eq!(batch["saved_at"], "2026-11-23T09:00:00Z");
    assert_eq!(
        (
            &batch["counts"]["saved_to_record"],
            &batch["counts"]["not_saved_to_record"]
        ),
        (&json!(2), &json!(0))
    );
    let entries: Vec<(String, Option<String>, String, String, String)> = app
        .stack
        .records
        .entries()
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            (
                e.nhs_number,
                e.snomed_code,
                e.channel,
                e.text,
                e.idempotency_key,
            )
        })
        .collect();
    let key = |row| format!("{ORG}:{batch_id}:{row}:record");
    let code = Some("1239511000000100".to_owned());
    assert_eq!(
        entries,
        [
            (
                "9434765919".into(),
                code.clone(),
                "sms".into(),
                "Dear Joe, book your flu jab.".into(),
                key(1)
            ),
            (
                "7000000015".into(),
                code,
                "email".into(),
                "Dear Sam, book your flu jab.".into(),
                key(3)
            ),
        ]
    );
}

#[tokio::test]
async fn a_stagger_cannot_be_cancelled_once_its_last_day_has_started() {
    let app = spawn_app().await;
    // The day-1 patient's number (07700 190095) never gets a receipt, so the batch is
    // still Sending once its last day has started.
    let csv = "NHS Number,Given Name,Telecom Number,Date of Birth\n\
               7000000015,Joe,07700 100120,01/02/1950\n\
               7000000023,Sam,07700 190095,01/02/1950\n";
    let batch_id = app.create(csv, json!({})).await;
    app.send(&batch_id, json!({"now": true, "stagger_days": 2}))
        .await;
    app.wait(Duration::days(1)).await;
    assert_eq!(app.outbox().await.len(), 2);
    assert_eq!(app.batch(&batch_id).await["status"], "Sending");
    let refused = app
        .post(&format!("/v1/batches/{batch_id}/cancel"), json!({}))
        .await;
    assert_eq!(
        problem(refused).await,
        (409, "every day of this staggered batch has started sending, so it can no longer be cancelled; its links can be revoked instead".into())
    );
    let refused = app
        .post(
            &format!(
                "/v1/batches/{}/send",
                app.create(&clean_list(1), json!({})).await
            ),
            json!({"now": true, "stagger_days": 29}),
        )
        .await;
    assert_eq!(
        problem(refused).await,
        (
            422,
            "a send can be staggered over 1 to 28 days, not 29".into()
        )
    );
}

#[tokio::test]
async fn content_is_checked_with_the_reason_before_a_batch_is_made() {
    let app = spawn_app().await;
    let list_id = app.list_id(MIXED).await;
    let cases = [
        (
            json!({"message": "Dear ((first name))"}),
            "the message has a placeholder Batchbook cannot fill: ((first name)); the placeholders are ((name)) and ((link))",
        ),
        (
            json!({"message": "a".repeat(919), "email_subject": "Flu"}),
            "the message is 919 characters long once filled in; a text message can be at most 918",
        ),
        (
            json!({"message": "Hello"}),
            "1 patients on this list will get this message by email, so it needs an email subject",
        ),
        (
            json!({"message": "Hello", "email_subject": "Flu", "snomed_code": "73211008"}),
            "this SNOMED CT code's check digit is wrong; check that it was copied correctly",
        ),
        (
            json!({"message": "Hello", "email_subject": "Flu", "snomed_code": "41398015"}),
            "this SNOMED CT identifier is not a concept: its partition identifier is 01, and a concept's is 00 or 10",
        ),
        (
            json!({"message": "Answer at ((link))", "email_subject": "Flu"}),
            "the message has ((link)), but this batch has no link to give (no questionnaire, attachment or Self-Book invite)",
        ),
    ];
    for (fields, reason) in cases {
        let mut body = json!({"name": "Flu", "list_id": list_id});
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        assert_eq!(
            problem(app.post("/v1/batches", body).await).await,
            (422, reason.to_owned())
        );
    }
    let made = app
        .post(
            "/v1/batches",
            json!({"name": "Flu", "list_id": list_id, "message": "Hello",
                   "email_subject": "Flu", "snomed_code": "1239511000000100"}),
        )
        .await;
    assert_eq!(made.status(), 201);
}

#[tokio::test]
async fn the_preview_counts_fragments_for_the_longest_name_on_the_list() {
    let app = spawn_app().await;
    let list_id = app.list_id(MIXED).await;
    let preview = |message: String| {
        app.post(
            "/v1/batches/preview",
            json!({"list_id": list_id, "message": message, "email_subject": "Flu"}),
        )
    };
    // "Dear " + the longest name, counted as at least the 7 of the
    // "patient" stand-in, + 148 = 160: one fragment.
    let body: Value = preview(format!("Dear ((name)){}", "a".repeat(148)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body,
        json!({"encoding": "gsm7", "characters": 160, "fragments": 1,
               "email_recipients": 1, "nhs_app_recipients": 2, "sms_recipients": 1,
               "stagger": []})
    );
    let body: Value = preview(format!("Croeso ŵyr ((name)){}", "a".repeat(60)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&body["encoding"], &body["characters"], &body["fragments"]),
        (&json!("ucs2"), &json!(78), &json!(2))
    );
}
