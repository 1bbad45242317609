//! Florey questionnaire batches (issue 5) and the patient links they send:
//! one link per patient, the date-of-birth check and its lockout, answers
//! recorded once, expiry and reminders on the fake clock, the 3-hour NHS
//! App fallback of the blood-pressure questionnaires, and revoking links.

use std::time::Instant;

use chrono::Duration;
use infra::embedded::DEFAULT_LINK_BASE_URL;
use serde_json::{json, Value};

use crate::helpers::{clean_list, problem, spawn_app, start_of_test, token_in, TestApp};

/// Aisha uses the NHS App and never reads it; she has a mobile behind it.
const AISHA: &str = "NHS Number,Given Name,Telecom Number,Date of Birth\n\
    9990000026,Aisha,07700 100902,01/02/1950\n";
/// Every patient on `clean_list` was born on 1 February 1950.
const BORN: &str = "1950-02-01";

impl TestApp {
    /// Creates and sends a questionnaire batch, and runs the sends.
    async fn send_questionnaire(&self, csv: &str, questionnaire: &str) -> String {
        let list: Value = self.upload_list(csv).await.json().await.unwrap();
        self.send_batch_from(json!({"name": "Readings", "list_id": list["list_id"],
                                    "questionnaire": questionnaire,
                                    "message": "Dear ((name)), please answer: ((link))"}))
            .await
    }

    async fn answer(&self, token: &str, session: &str, answers: Value) -> (u16, Value) {
        let body = json!({ "answers": answers });
        self.link(token)
            .call(
                reqwest::Method::POST,
                Some(session),
                "/questionnaire",
                Some(body),
            )
            .await
    }

    async fn set_contact(&self) {
        let response = self
            .request(reqwest::Method::PUT, "/v1/settings")
            .json(&json!({"flag_mobiles_likely_to_fail": false,
                          "contact": {"name": "Riverside Surgery", "phone": "01632 960000"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn each_patient_gets_their_own_link_which_opens_after_the_date_of_birth_check_and_takes_answers_once(
) {
    let app = spawn_app().await;
    let batch_id = app
        .send_questionnaire(&clean_list(3), "blood_pressure_7_day")
        .await;

    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), 3);
    let tokens: Vec<String> = outbox
        .iter()
        .map(|m| token_in(m["body"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outbox[0]["body"],
        format!(
            "Dear Pat, please answer: {DEFAULT_LINK_BASE_URL}/{}",
            tokens[0]
        )
    );
    let mut distinct = tokens.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "one link per patient");
    assert!(tokens.iter().all(|t| t.len() == 22));
    // The first patient on the list, whatever order the sends went in.
    let token = &app.tokens_sent_to("+447700100001").await[0];
    let second = &app.tokens_sent_to("+447700100002").await[0];

    // Before the check, the link says only that it is open.
    assert_eq!(
        app.open_link(token).await,
        (200, json!({"state": "open", "contact": null}))
    );
    let (status, body) = app.open_link("AAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("link_not_found"))
    );

    let (status, body) = app.verify(token, "1950-02-02").await;
    assert_eq!(status, 403);
    assert_eq!(body["code"], "date_of_birth_mismatch");
    assert_eq!(body["attempts_left"], 4);
    assert_eq!(
        body["detail"],
        "that date of birth does not match; 4 attempt(s) left"
    );
    let (status, body) = app.verify(token, "01/02/1950").await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (
            422,
            Some("the date of birth must be a date written as YYYY-MM-DD")
        )
    );

    let (status, verified) = app.verify(token, BORN).await;
    assert_eq!(status, 200);
    let form = &verified["questionnaire"];
    assert_eq!(form["questionnaire"], "blood_pressure_7_day");
    assert_eq!(form["title"], "Blood pressure (7 days of home readings)");
    assert_eq!(form["answered"], false);
    assert_eq!(
        form["expires_at"],
        json!(start_of_test() + Duration::days(7))
    );
    let ids: Vec<&str> = form["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "systolic_average",
            "diastolic_average",
            "readings_taken",
            "arm"
        ]
    );
    let session = verified["session"].as_str().unwrap();

    // Another patient's link does not take this session.
    let (status, _) = app
        .answer(second, session, json!({"systolic_average": "130"}))
        .await;
    assert_eq!(status, 401);

    let (status, refused) = app
        .answer(
            token,
            session,
            json!({"systolic_average": "300", "diastolic_average": "80", "pulse": "70"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        refused["problems"],
        json!([
            {"question": "pulse", "reason": "is not a question in this questionnaire"},
            {"question": "systolic_average", "reason": "must be a whole number from 60 to 260, not \"300\""},
            {"question": "readings_taken", "reason": "needs an answer"},
        ])
    );

    let good =
        json!({"systolic_average": "132", "diastolic_average": "84", "readings_taken": "28"});
    let (status, answered) = app.answer(token, session, good.clone()).await;
    assert_eq!((status, &answered["answered"]), (200, &json!(true)));
    let (status, again) = app.answer(token, session, good).await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("already_answered"))
    );

    app.run_pending_work().await;
    assert_eq!(app.batch(&batch_id).await["counts"]["answered"], 1);
    let csv = app
        .request(
            reqwest::Method::GET,
            &format!("/v1/batches/{batch_id}/responses.csv"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let nhs_of_first = crate::helpers::nhs_numbers(&clean_list(1)).remove(0);
    assert_eq!(
        csv,
        format!(
            "NHS Number,Answered At,systolic_average,diastolic_average,readings_taken,arm\n\
             {nhs_of_first},2026-11-23T09:00:00Z,132,84,28,\n"
        )
    );
    // Another organisation cannot read them; a plain batch has none.
    let other = app
        .as_org(
            app.client.get(format!(
                "{}/v1/batches/{batch_id}/responses.csv",
                app.address
            )),
            "B99999",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    let plain = app.send_list(&clean_list(1)).await;
    app.run_pending_work().await;
    let response = app
        .request(
            reqwest::Method::GET,
            &format!("/v1/batches/{plain}/responses.csv"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(response).await,
        (422, "this batch sent no questionnaire".into())
    );
}

#[tokio::test]
async fn five_wrong_dates_of_birth_lock_the_link_for_good_and_right_and_wrong_take_as_long() {
    let app = spawn_app().await;
    app.set_contact().await;
    app.send_questionnaire(&clean_list(1), "smoking_status")
        .await;
    let token = &app.tokens_sent_to("+447700100001").await[0];

    let started = Instant::now();
    let (status, _) = app.verify(token, BORN).await;
    let right = started.elapsed();
    assert_eq!(status, 200);
    for attempt in 1..=4u32 {
        let started = Instant::now();
        let (status, body) = app.verify(token, "1960-01-01").await;
        let wrong = started.elapsed();
        assert_eq!((status, &body["attempts_left"]), (403, &json!(5 - attempt)));
        // Both answers wait out the same floor, so neither is quicker.
        assert!(right >= std::time::Duration::from_millis(400), "{right:?}");
        assert!(wrong >= std::time::Duration::from_millis(400), "{wrong:?}");
    }
    let (status, body) = app.verify(token, "1960-01-01").await;
    assert_eq!(status, 423);
    assert_eq!(body["code"], "link_locked");
    assert_eq!(body["state"], "locked");
    assert_eq!(
        body["contact"],
        json!({"name": "Riverside Surgery", "phone": "01632 960000"})
    );
    // The right date no longer opens it.
    let (status, body) = app.verify(token, BORN).await;
    assert_eq!((status, body["code"].as_str()), (423, Some("link_locked")));
    assert_eq!(app.open_link(token).await.1["state"], "locked");
}

#[tokio::test]
async fn unanswered_questionnaires_are_reminded_on_days_3_and_6_and_expire_on_day_7() {
    let app = spawn_app().await;
    app.set_contact().await;
    app.send_questionnaire(&clean_list(2), "smoking_status")
        .await;
    let answers = app.tokens_sent_to("+447700100001").await;
    let silent = app.tokens_sent_to("+447700100002").await;
    let (_, verified) = app.verify(&answers[0], BORN).await;
    let (status, _) = app
        .answer(
            &answers[0],
            verified["session"].as_str().unwrap(),
            json!({"smoking_status": "never_smoked"}),
        )
        .await;
    assert_eq!(status, 200);
    app.run_pending_work().await;

    app.clock.advance(Duration::days(3) - Duration::minutes(1));
    app.run_pending_work().await;
    assert_eq!(app.outbox().await.len(), 2, "no reminder before day 3");

    app.clock.advance(Duration::minutes(1));
    app.run_pending_work().await;
    app.run_pending_work().await;
    let reminders: Vec<Value> = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m["body"].as_str().unwrap().starts_with("Reminder: "))
        .collect();
    assert_eq!(reminders.len(), 1, "only the patient who has not answered");
    assert_eq!(reminders[0]["to"], "+447700100002");
    assert_eq!(
        reminders[0]["body"],
        format!(
            "Reminder: Dear Pat, please answer: {DEFAULT_LINK_BASE_URL}/{}",
            silent[0]
        )
    );
    assert_eq!(
        reminders[0]["idempotency_key"]
            .as_str()
            .unwrap()
            .rsplit(':')
            .next(),
        Some("reminder-1")
    );

    app.clock.advance(Duration::days(3));
    app.run_pending_work().await;
    app.run_pending_work().await;
    assert_eq!(
        app.tokens_sent_to("+447700100002").await,
        vec![silent[0].clone(); 3],
        "the message, then reminders on days 3 and 6, all with one link"
    );
    assert_eq!(app.tokens_sent_to("+447700100001").await.len(), 1);
    assert_eq!(app.open_link(&silent[0]).await.1["state"], "open");

    // Day 7: expired. Before the check it says so, and how to reach the
    // practice; nothing more goes out.
    app.clock.advance(Duration::days(1));
    app.run_pending_work().await;
    assert_eq!(
        app.open_link(&silent[0]).await,
        (
            200,
            json!({"state": "expired",
                   "contact": {"name": "Riverside Surgery", "phone": "01632 960000"}})
        )
    );
    let (status, body) = app.verify(&silent[0], BORN).await;
    assert_eq!((status, body["code"].as_str()), (410, Some("link_expired")));
    app.clock.advance(Duration::days(7));
    app.run_pending_work().await;
    assert_eq!(app.outbox().await.len(), 4);
}

#[tokio::test]
async fn the_4_day_blood_pressure_link_expires_on_day_4_after_one_reminder() {
    let app = spawn_app().await;
    app.send_questionnaire(&clean_list(1), "blood_pressure_4_day")
        .await;
    let token = app.tokens_sent_to("+447700100001").await[0].clone();
    app.clock.advance(Duration::days(3));
    app.run_pending_work().await;
    app.run_pending_work().await;
    assert_eq!(
        app.outbox().await.len(),
        2,
        "the message and the day-3 reminder"
    );

    app.clock.advance(Duration::days(1) - Duration::seconds(1));
    app.run_pending_work().await;
    assert_eq!(app.open_link(&token).await.1["state"], "open");
    app.clock.advance(Duration::seconds(1));
    app.run_pending_work().await;
    assert_eq!(app.open_link(&token).await.1["state"], "expired");
    app.clock.advance(Duration::days(4));
    app.run_pending_work().await;
    assert_eq!(
        app.outbox().await.len(),
        2,
        "no day-6 reminder after expiry"
    );
}

#[tokio::test]
async fn an_unread_blood_pressure_nhs_app_message_falls_back_after_3_hours_with_the_same_link() {
    let app = spawn_app().await;
    app.send_questionnaire(AISHA, "blood_pressure_7_day").await;
    let first = app.outbox().await;
    assert_eq!(
        (first.len(), first[0]["channel"].as_str()),
        (1, Some("nhs_app"))
    );
    let token = token_in(first[0]["body"].as_str().unwrap());

    app.clock.advance(Duration::hours(3) - Duration::minutes(1));
    app.run_pending_work().await;
    assert_eq!(app.outbox().await.len(), 1);
    app.clock.advance(Duration::minutes(1));
    app.run_pending_work().await;
    app.run_pending_work().await;
    let sms = app.tokens_sent_to("+447700100902").await;
    assert_eq!(
        sms,
        vec![token.clone()],
        "the fallback carries the same link"
    );
    // The link's week runs from the first message, not the fallback.
    let (_, verified) = app.verify(&token, "1950-02-01").await;
    assert_eq!(
        verified["questionnaire"]["expires_at"],
        json!(start_of_test() + Duration::days(7))
    );
}

#[tokio::test]
async fn revoked_links_say_they_were_withdrawn_for_good_and_get_no_reminders() {
    let app = spawn_app().await;
    app.set_contact().await;
    let batch_id = app
        .send_questionnaire(&clean_list(3), "height_and_weight")
        .await;
    let one = app.tokens_sent_to("+447700100001").await[0].clone();
    let two = app.tokens_sent_to("+447700100002").await[0].clone();
    let (_, verified) = app.verify(&two, BORN).await;
    let session = verified["session"].as_str().unwrap().to_owned();

    // One patient's link, by NHS number.
    let nhs_of_first = crate::helpers::nhs_numbers(&clean_list(1)).remove(0);
    let (status, batch) = app
        .revoke(&batch_id, json!({"nhs_number": nhs_of_first}))
        .await;
    // The batch as it now stands: one patient's link does not withdraw all.
    assert_eq!(
        (status, &batch["batch_id"], &batch["links_revoked_at"]),
        (200, &json!(batch_id), &Value::Null)
    );
    assert_eq!(
        app.open_link(&one).await,
        (
            200,
            json!({"state": "withdrawn",
                   "contact": {"name": "Riverside Surgery", "phone": "01632 960000"}})
        )
    );
    let (status, body) = app.verify(&one, BORN).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (410, Some("link_withdrawn"))
    );
    assert_eq!(app.open_link(&two).await.1["state"], "open");

    let (status, body) = app
        .revoke(&batch_id, json!({"nhs_number": "943 476 5919"}))
        .await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (
            422,
            Some("nhs_number: no patient with this NHS number is in this batch")
        )
    );
    let (status, body) = app.revoke(&batch_id, json!({"nhs_number": "123"})).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (422, Some("nhs_number: an NHS number has 10 digits"))
    );

    // The whole batch: even a session opened before is refused.
    let (status, revoked) = app.revoke(&batch_id, json!({"all": true})).await;
    assert_eq!(status, 200);
    let revoked_at = revoked["links_revoked_at"].clone();
    assert!(revoked_at.is_string(), "{revoked}");
    // Revoking again changes nothing, not even when it was.
    let (status, again) = app.revoke(&batch_id, json!({"all": true})).await;
    assert_eq!((status, &again["links_revoked_at"]), (200, &revoked_at));
    let (status, body) = app
        .answer(
            &two,
            &session,
            json!({"height_cm": "170", "weight_kg": "70"}),
        )
        .await;
    assert_eq!((status, body["state"].as_str()), (410, Some("withdrawn")));
    assert_eq!(app.open_link(&two).await.1["state"], "withdrawn");
    app.run_pending_work().await;
    assert!(app.batch(&batch_id).await["links_revoked_at"].is_string());

    app.clock.advance(Duration::days(6));
    app.run_pending_work().await;
    app.run_pending_work().await;
    assert_eq!(
        app.outbox().await.len(),
        3,
        "no reminders for revoked links"
    );

    // A batch without links has none to revoke.
    let plain = app.send_list(&clean_list(1)).await;
    let (status, body) = app.revoke(&plain, json!({"all": true})).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (409, Some("this batch's messages have no links to revoke"))
    );
}

#[tokio::test]
async fn a_questionnaire_message_needs_its_link_and_a_plain_one_may_not_have_one() {
    let app = spawn_app().await;
    let list: Value = app.upload_list(&clean_list(1)).await.json().await.unwrap();
    for (body, detail) in [
        (
            json!({"name": "BP", "list_id": list["list_id"], "questionnaire": "blood_pressure_4_day",
                   "message": "Please send your readings"}),
            "a batch with a questionnaire, an attachment or a Self-Book invite needs ((link)) in its message, where each patient's own link goes",
        ),
        (
            json!({"name": "Flu", "list_id": list["list_id"], "message": "Book at ((link))"}),
            "the message has ((link)), but this batch has no link to give (no questionnaire, attachment or Self-Book invite)",
        ),
    ] {
        let response = app
            .request(reqwest::Method::POST, "/v1/batches")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(problem(response).await, (422, detail.into()));
    }
    // Reminders put "Reminder: " (10 characters) in front of the message,
    // so they too must fit in 918 once filled in.
    let link = DEFAULT_LINK_BASE_URL.len() + 1 + 22;
    let message = |length: usize| format!("((link)) {}", "a".repeat(length - link - 1));
    let create = |message: String| {
        app.request(reqwest::Method::POST, "/v1/batches")
            .json(&json!({"name": "BP", "list_id": list["list_id"],
                          "questionnaire": "smoking_status", "message": message}))
            .send()
    };
    assert_eq!(
        problem(create(message(909)).await.unwrap()).await,
        (
            422,
            "with \"Reminder: \" in front, this questionnaire's reminders would be 919 characters long once filled in; a text message can be at most 918".into()
        )
    );
    assert_eq!(create(message(908)).await.unwrap().status(), 201);

    let response = app
        .request(reqwest::Method::POST, "/v1/batches")
        .json(
            &json!({"name": "BP", "list_id": list["list_id"], "questionnaire": "blood_pressure",
                      "message": "Readings: ((link))"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(response).await,
        (
            422,
            "questionnaire: `blood_pressure` is not one of `blood_pressure_4_day`, \
             `blood_pressure_7_day`, `smoking_status`, `height_and_weight`"
                .into()
        )
    );

    // A practice contact without a name is refused, and nothing is kept.
    let response = app
        .request(reqwest::Method::PUT, "/v1/settings")
        .json(&json!({"flag_mobiles_likely_to_fail": false, "contact": {"name": "  ", "phone": "01632 960000"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(response).await,
        (
            422,
            "contact.name: give the name patients know the practice by".into()
        )
    );
    let settings: Value = app.get_json("/v1/settings").await;
    assert_eq!(settings.get("contact"), None);

    // The preview counts the link in: 22 characters of token after the base.
    let response = app
        .request(reqwest::Method::POST, "/v1/batches/preview")
        .json(
            &json!({"list_id": list["list_id"], "questionnaire": "smoking_status",
                      "message": "((link))"}),
        )
        .send()
        .await
        .unwrap();
    let preview: Value = response.json().await.unwrap();
    assert_eq!(preview["characters"], DEFAULT_LINK_BASE_URL.len() + 1 + 22);
}
