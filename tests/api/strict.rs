//! A typo never acts (issue 14): every write route refuses an unknown
//! field, a misspelt one, a `null`, the wrong content type and an
//! over-long value, each with its exact status and detail, and changes
//! nothing. Actions that reach every patient must say so; the framework's
//! own refusals are problems too; and every response carries the headers
//! that keep it out of caches and type-sniffing.

use chrono::Duration;
use serde_json::{json, Value};

use crate::helpers::{clean_list, spawn_app, start_of_test, TestApp, ORG};

const DOB: &str = "1950-02-01";

/// One request that must be refused.
struct Refused {
    method: reqwest::Method,
    path: String,
    /// `None` sends no `Content-Type`.
    content_type: Option<&'static str>,
    body: String,
    status: u16,
    detail: String,
}

fn refused(
    method: reqwest::Method,
    path: impl Into<String>,
    content_type: Option<&'static str>,
    body: impl Into<String>,
    status: u16,
    detail: impl Into<String>,
) -> Refused {
    Refused {
        method,
        path: path.into(),
        content_type,
        body: body.into(),
        status,
        detail: detail.into(),
    }
}

const JSON: Option<&str> = Some("application/json");
const TEXT: Option<&str> = Some("text/plain");
const POST: reqwest::Method = reqwest::Method::POST;

fn json_415(given: &str) -> String {
    format!("send this request's body with Content-Type: application/json; it was sent as {given}")
}

fn null_at(path: &str) -> String {
    format!("{path}: null is not a value here; leave the field out, or give it a value")
}

/// What the refusals run against: a list, a draft batch, a sent
/// questionnaire batch with its two links (one verified), a sent series
/// and a sent Self-Book invite (verified).
struct World {
    list_id: String,
    draft: String,
    questionnaire: String,
    links: Vec<String>,
    session: String,
    series: String,
    invite_token: String,
    invite_session: String,
}

async fn world(app: &TestApp) -> World {
    let list: Value = app.upload_list(&clean_list(2)).await.json().await.unwrap();
    let list_id = list["list_id"].as_str().unwrap().to_owned();
    let draft = app.create_batch_from(&clean_list(2)).await;
    let questionnaire = app
        .send_batch_from(json!({"name": "Smoking", "list_id": list_id,
            "questionnaire": "smoking_status", "message": "Tell us: ((link))"}))
        .await;
    let links = {
        let mut tokens = Vec::new();
        for m in app.outbox().await {
            tokens.push(crate::helpers::token_in(m["body"].as_str().unwrap()));
        }
        tokens
    };
    assert_eq!(links.len(), 2);
    let (status, verified) = app.verify(&links[0], DOB).await;
    assert_eq!(status, 200, "{verified}");
    let series_list: Value = app.upload_list(&clean_list(1)).await.json().await.unwrap();
    let series = app
        .send_batch_from(
            json!({"name": "Inhalers", "list_id": series_list["list_id"],
            "inhaler_series": true, "message": "Your inhaler"}),
        )
        .await;
    let invite_list: Value = app.upload_list(&clean_list(1)).await.json().await.unwrap();
    app.send_batch_from(json!({"name": "Flu", "list_id": invite_list["list_id"],
        "message": "Book: ((link))",
        "self_book": {"appointment_type": "in_person", "slot_type": "flu"}}))
        .await;
    let invite_token = app
        .outbox()
        .await
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .find(|b| b.starts_with("Book: "))
        .map(|b| crate::helpers::token_in(&b))
        .unwrap();
    let (status, invite) = app.verify(&invite_token, DOB).await;
    assert_eq!(status, 200, "{invite}");
    World {
        list_id,
        draft,
        questionnaire,
        links,
        session: verified["session"].as_str().unwrap().to_owned(),
        series,
        invite_token,
        invite_session: invite["session"].as_str().unwrap().to_owned(),
    }
}

async fn send(app: &TestApp, case: &Refused, session: Option<&str>) -> (u16, Value, String) {
    let mut request = app
        .request(case.method.clone(), &case.path)
        .body(case.body.clone());
    if let Some(content_type) = case.content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(session) = session {
        request = request.header("link-session", session);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, response.json().await.unwrap(), content_type)
}

/// Sends each case, asserts its exact refusal, then that nothing changed.
async fn assert_all_refused(app: &TestApp, cases: Vec<Refused>, session: Option<&str>) {
    let before = app.snapshot().await;
    for case in &cases {
        let (status, body, content_type) = send(app, case, session).await;
        assert_eq!(
            (status, body["detail"].as_str().unwrap_or_default()),
            (case.status, case.detail.as_str()),
            "{} {} with {:?}",
            case.method,
            case.path,
            case.body
        );
        assert_eq!(content_type, "application/problem+json", "{}", case.path);
        assert_eq!(body["status"], case.status);
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused request changed something"
    );
}

#[tokio::test]
async fn staff_write_routes_refuse_unknown_misspelt_null_mistyped_and_overlong_fields_changing_nothing(
) {
    let app = spawn_app().await;
    let w = world(&app).await;
    let (list_id, draft) = (&w.list_id, &w.draft);
    let long = |n: usize| "x".repeat(n);
    let batch = |extra: Value| {
        let mut body = json!({"name": "Flu", "list_id": list_id, "message": "Dear ((name))"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body.to_string()
    };
    let settings = |extra: Value| {
        let mut body = json!({"flag_mobiles_likely_to_fail": false});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body.to_string()
    };
    let self_book = |extra: Value| {
        let mut body = json!({"appointment_type": "in_person", "slot_type": "flu"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let invite = |patient: Value, extra: Value| {
        let mut body = json!({"patient": patient, "message": "Book: ((link))",
            "self_book": self_book(json!({}))});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body.to_string()
    };
    let patient = json!({"nhs_number": "943 476 5919", "mobile": "07700 100001",
        "date_of_birth": "1950-02-01"});
    let send_path = format!("/v1/batches/{draft}/send");
    let revoke = format!("/v1/batches/{}/links/revoke", w.questionnaire);
    let stop = format!("/v1/batches/{}/series/stop", w.series);
    let cancel = format!("/v1/batches/{draft}/cancel");
    let cases = vec![
        // POST /v1/lists: a file, its query string read strictly.
        refused(POST, "/v1/lists", JSON, clean_list(1), 415,
            "send this request's body with Content-Type: text/csv (or application/csv, application/vnd.ms-excel, text/plain, application/octet-stream); it was sent as application/json"),
        refused(POST, "/v1/lists", None, clean_list(1), 415,
            "send this request's body with Content-Type: text/csv (or application/csv, application/vnd.ms-excel, text/plain, application/octet-stream); it was sent with none"),
        refused(POST, "/v1/lists?system=foo", Some("text/csv"), clean_list(1), 400,
            "system: `foo` is not one of `emis`, `systmone`, `vision`"),
        refused(POST, "/v1/lists?sytem=emis", Some("text/csv"), clean_list(1), 400,
            "unknown query parameter `sytem`; did you mean `system`?"),
        refused(POST, "/v1/lists", Some("text/csv"),
            format!("NHS Number,Given Name,Telecom Number,Date of Birth\n9434765919,{},07700 100001,01/02/1950\n", long(1001)),
            422, "row 1, column \"Given Name\": the cell is longer than 1000 characters; check the export"),
        // POST /v1/lists/uploads takes no body.
        refused(POST, "/v1/lists/uploads", JSON, r#"{"list_id":"x"}"#, 422,
            "unknown field `list_id`; this takes no fields"),
        // PUT /v1/settings.
        refused(reqwest::Method::PUT, "/v1/settings", JSON, settings(json!({"colour": "blue"})), 422,
            "unknown field `colour`; the fields are `flag_mobiles_likely_to_fail`, `sending_window`, `contact`, `other_sites`, `replies`"),
        refused(reqwest::Method::PUT, "/v1/settings", JSON, r#"{"flag_mobile_likely_to_fail":true}"#, 422,
            "unknown field `flag_mobile_likely_to_fail`; did you mean `flag_mobiles_likely_to_fail`?"),
        refused(reqwest::Method::PUT, "/v1/settings", JSON, settings(json!({"contact": null})), 422,
            null_at("contact")),
        refused(reqwest::Method::PUT, "/v1/settings", TEXT, settings(json!({})), 415, json_415("text/plain")),
        refused(reqwest::Method::PUT, "/v1/settings", JSON, settings(json!({"contact": {"name": long(101)}})), 422,
            "contact.name: is longer than 100 characters"),
        refused(reqwest::Method::PUT, "/v1/settings", JSON, settings(json!({"contact": {"name": "<script>alert(1)</script>"}})), 422,
            "contact.name: may not contain < or >"),
        refused(reqwest::Method::PUT, "/v1/settings", JSON, settings(json!({"contact": {"name": "Riverside", "website": "javascript:alert(1)"}})), 422,
            "contact.website: must be an http or https address, such as https://riverside.example"),
        refused(reqwest::Method::PUT, "/v1/settings", JSON, settings(json!({"contact": {"name": "Riverside", "phone": "call us"}})), 422,
            "contact.phone: write the number with digits, spaces and + ( ) - only, such as 01632 960000"),
        refused(reqwest::Method::PUT, "/v1/settings", JSON, settings(json!({"contact": {"name": "Riverside", "website": format!("https://{}.example", long(200))}})), 422,
            "contact.website: is longer than 200 characters"),
        refused(reqwest::Method::PUT, "/v1/settings", JSON,
            settings(json!({"other_sites": (0..51).map(|n| format!("site-{n}")).collect::<Vec<_>>()})), 422,
            "other_sites: at most 50 sites"),
        refused(reqwest::Method::PUT, "/v1/settings", JSON, settings(json!({"other_sites": ["hub", long(65)]})), 422,
            "other_sites[1]: is longer than 64 characters"),
        refused(reqwest::Method::PUT, "/v1/settings", JSON, settings(json!({"other_sites": ["hub", "hub"]})), 422,
            "other_sites[1]: \"hub\" is listed twice"),
        // POST /v1/batches.
        refused(POST, "/v1/batches", JSON, batch(json!({"snomedCode": "73211009"})), 422,
            "unknown field `snomedCode`; did you mean `snomed_code`?"),
        refused(POST, "/v1/batches", JSON, batch(json!({"colour": "blue"})), 422,
            "unknown field `colour`; the fields are `name`, `list_id`, `message`, `template_id`, `email_subject`, `snomed_code`, `questionnaire`, `workspace_id`, `inhaler_series`, `attachment_id`, `self_book`"),
        refused(POST, "/v1/batches", JSON, batch(json!({"email_subject": null})), 422, null_at("email_subject")),
        refused(POST, "/v1/batches", TEXT, batch(json!({})), 415, json_415("text/plain")),
        refused(POST, "/v1/batches", None, batch(json!({})), 415,
            "send this request's body with Content-Type: application/json; it was sent with none"),
        refused(POST, "/v1/batches", JSON, batch(json!({"name": long(101)})), 422,
            "name: is longer than 100 characters"),
        refused(POST, "/v1/batches", JSON, batch(json!({"name": "Flu\nclinic"})), 422,
            "name: must be one line, without control characters"),
        refused(POST, "/v1/batches", JSON, batch(json!({"email_subject": long(201)})), 422,
            "email_subject: is longer than 200 characters"),
        refused(POST, "/v1/batches", JSON, batch(json!({"self_book": self_book(json!({"withinDays": 7}))})), 422,
            "self_book: unknown field `withinDays`; did you mean `within_days`?"),
        refused(POST, "/v1/batches", JSON, "", 422,
            "the request needs a JSON body; see the API description for its fields"),
        // POST /v1/batches/preview.
        refused(POST, "/v1/batches/preview", JSON, json!({"list_id": list_id, "message": "Hi", "staggerDays": 3}).to_string(), 422,
            "unknown field `staggerDays`; did you mean `stagger_days`?"),
        refused(POST, "/v1/batches/preview", JSON, json!({"list_id": list_id, "message": "Hi", "stagger_days": null}).to_string(), 422,
            null_at("stagger_days")),
        refused(POST, "/v1/batches/preview", TEXT, json!({"list_id": list_id, "message": "Hi"}).to_string(), 415, json_415("text/plain")),
        refused(POST, "/v1/batches/preview", JSON, json!({"list_id": list_id, "message": "Hi", "email_subject": long(201)}).to_string(), 422,
            "email_subject: is longer than 200 characters"),
        refused(POST, "/v1/batches/preview", JSON, json!({"list_id": list_id, "message": "Hi", "send_at": start_of_test() + Duration::days(1)}).to_string(), 422,
            "send_at: only with stagger_days; a preview shows the days of a stagger starting then"),
        // POST /v1/batches/{id}/send: "now" and "all at once" are said, never implied.
        refused(POST, &send_path, JSON, r#"{"sendAt":"2027-03-01T09:00:00Z"}"#, 422,
            "unknown field `sendAt`; did you mean `send_at`?"),
        refused(POST, &send_path, JSON, r#"{"stagger":14}"#, 422,
            "unknown field `stagger`; the fields are `now`, `send_at`, `stagger_days`"),
        refused(POST, &send_path, JSON, r#"{"send_at":null}"#, 422, null_at("send_at")),
        refused(POST, &send_path, JSON, "{}", 422,
            "say when to send: {\"now\": true}, or \"send_at\" with a time to come"),
        refused(POST, &send_path, JSON, r#"{"now":false}"#, 422,
            "now: only true is a value here; to schedule the send, leave now out and give send_at"),
        refused(POST, &send_path, JSON, json!({"now": true, "send_at": start_of_test() + Duration::hours(1)}).to_string(), 422,
            "now and send_at: give one of them, not both"),
        refused(POST, &send_path, TEXT, r#"{"now":true}"#, 415, json_415("text/plain")),
        refused(POST, &send_path, JSON, r#"{"send_at":"1970-01-01T00:00:00Z"}"#, 422,
            "send_at: must be in the future; to send now, send {\"now\": true} instead"),
        refused(POST, &send_path, JSON, r#"{"send_at":"+262000-01-01T00:00:00Z"}"#, 422,
            "send_at: must be within a year from now"),
        refused(POST, &send_path, JSON, r#"{"now":true,"stagger_days":0}"#, 422,
            "a send can be staggered over 1 to 28 days, not 0"),
        refused(POST, &send_path, JSON, format!(r#"{{"now":true,"pad":"{}"}}"#, long(70 * 1024)), 413,
            "the request body is larger than 64 KiB, the most any of these requests needs"),
        // POST /v1/batches/{id}/cancel takes no body.
        refused(POST, &cancel, JSON, r#"{"nhs_number":"9434765919"}"#, 422,
            "unknown field `nhs_number`; this takes no fields"),
        refused(POST, &cancel, TEXT, "please", 415, json_415("text/plain")),
        // POST /v1/batches/{id}/links/revoke: every link, or one, said explicitly.
        refused(POST, &revoke, JSON, r#"{"nhsNumber":"4857770008"}"#, 422,
            "unknown field `nhsNumber`; did you mean `nhs_number`?"),
        refused(POST, &revoke, JSON, r#"{"nhs_number":null}"#, 422, null_at("nhs_number")),
        refused(POST, &revoke, JSON, "{}", 422,
            "say whose links to revoke: {\"all\": true} for every link of the batch, or {\"nhs_number\": \"…\"} for one patient's"),
        refused(POST, &revoke, JSON, "", 422,
            "the request needs a JSON body; see the API description for its fields"),
        refused(POST, &revoke, JSON, r#"{"all":false}"#, 422,
            "all: only true is a value here; to revoke one patient's link, leave all out and give nhs_number"),
        refused(POST, &revoke, JSON, r#"{"all":true,"nhs_number":"9434765919"}"#, 422,
            "all and nhs_number: give one of them, not both"),
        refused(POST, &revoke, JSON, r#"{"all":"yes"}"#, 422,
            "all: expected a boolean, not string \"yes\""),
        refused(POST, &revoke, TEXT, r#"{"all":true}"#, 415, json_415("text/plain")),
        refused(POST, &revoke, JSON, json!({"nhs_number": "1".repeat(100)}).to_string(), 422,
            "nhs_number: an NHS number has 10 digits"),
        refused(POST, &revoke, JSON, format!(r#"{{"all":true,"pad":"{}"}}"#, long(70 * 1024)), 413,
            "the request body is larger than 64 KiB, the most any of these requests needs"),
        // POST /v1/batches/{id}/series/stop.
        refused(POST, &stop, JSON, r#"{"nhsNumber":"9434765919"}"#, 422,
            "unknown field `nhsNumber`; did you mean `nhs_number`?"),
        refused(POST, &stop, JSON, r#"{"nhs_number":null}"#, 422, null_at("nhs_number")),
        refused(POST, &stop, TEXT, r#"{"nhs_number":"9434765919"}"#, 415, json_415("text/plain")),
        refused(POST, &stop, JSON, json!({"nhs_number": "1".repeat(100)}).to_string(), 422,
            "nhs_number: an NHS number has 10 digits"),
        // POST /v1/self-book/availability.
        refused(POST, "/v1/self-book/availability", JSON, self_book(json!({"withinDays": 7})).to_string(), 422,
            "unknown field `withinDays`; did you mean `within_days`?"),
        refused(POST, "/v1/self-book/availability", JSON, self_book(json!({"location": null})).to_string(), 422,
            null_at("location")),
        refused(POST, "/v1/self-book/availability", TEXT, self_book(json!({})).to_string(), 415, json_415("text/plain")),
        refused(POST, "/v1/self-book/availability", JSON, self_book(json!({"slot_type": long(65)})).to_string(), 422,
            "self_book.slot_type: is longer than 64 characters"),
        refused(POST, "/v1/self-book/availability", JSON, self_book(json!({"appointment_type": "in-person"})).to_string(), 422,
            "appointment_type: `in-person` is not one of `in_person`, `telephone`, `video`; did you mean `in_person`?"),
        // POST /v1/invites: checked whole before anything is kept.
        refused(POST, "/v1/invites", JSON, invite(json!({"nhsNumber": "943 476 5919", "mobile": "07700 100001", "date_of_birth": "1950-02-01"}), json!({})), 422,
            "patient: unknown field `nhsNumber`; did you mean `nhs_number`?"),
        refused(POST, "/v1/invites", JSON, invite(patient.clone(), json!({"name": null})), 422, null_at("name")),
        refused(POST, "/v1/invites", TEXT, invite(patient.clone(), json!({})), 415, json_415("text/plain")),
        refused(POST, "/v1/invites", JSON, invite(patient.clone(), json!({"name": long(101)})), 422,
            "name: is longer than 100 characters"),
        refused(POST, "/v1/invites", JSON, invite(json!({"nhs_number": "943 476 5919", "mobile": "07700 100001", "date_of_birth": "1950-02-01", "given_name": long(101)}), json!({})), 422,
            "patient.given_name: is longer than 100 characters"),
        refused(POST, "/v1/invites", JSON, invite(patient.clone(), json!({"self_book": self_book(json!({"within_days": 0}))})), 422,
            "self_book.within_days: must be from 1 to 90"),
        refused(POST, "/v1/invites", JSON, invite(patient.clone(), json!({"message": "Book a time"})), 422,
            "a batch with a questionnaire, an attachment or a Self-Book invite needs ((link)) in its message, where each patient's own link goes"),
        // POST /v1/attachments: a file.
        refused(POST, "/v1/attachments?file_name=a.pdf", JSON, "%PDF-1.4", 415,
            "send this request's body with Content-Type: application/octet-stream (or application/pdf, image/png, image/jpeg); it was sent as application/json"),
    ];
    assert_all_refused(&app, cases, None).await;

    // After a refused send the batch is still a draft and nothing has left.
    assert_eq!(app.batch(draft).await["status"], "Draft");
    // After a refused revoke every link still opens.
    for token in &w.links {
        assert_eq!(
            app.open_link(token).await,
            (200, json!({"state": "open", "contact": null}))
        );
    }
}

#[tokio::test]
async fn patient_link_routes_refuse_unknown_null_and_mistyped_bodies_changing_nothing() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let link = |token: &str, path: &str| format!("/v1/links/{token}{path}");
    let questionnaire = link(&w.links[0], "/questionnaire");
    let cases = vec![
        refused(
            POST,
            link(&w.links[1], "/verify"),
            JSON,
            r#"{"dob":"1950-02-01"}"#,
            422,
            "unknown field `dob`; the fields are `date_of_birth`",
        ),
        refused(
            POST,
            link(&w.links[1], "/verify"),
            JSON,
            r#"{"dateOfBirth":"1950-02-01"}"#,
            422,
            "unknown field `dateOfBirth`; did you mean `date_of_birth`?",
        ),
        refused(
            POST,
            link(&w.links[1], "/verify"),
            JSON,
            r#"{"date_of_birth":null}"#,
            422,
            null_at("date_of_birth"),
        ),
        refused(
            POST,
            link(&w.links[1], "/verify"),
            TEXT,
            r#"{"date_of_birth":"1950-02-01"}"#,
            415,
            json_415("text/plain"),
        ),
        refused(
            POST,
            &questionnaire,
            JSON,
            r#"{"answer":{"smoker":"never"}}"#,
            422,
            "unknown field `answer`; did you mean `answers`?",
        ),
        refused(
            POST,
            &questionnaire,
            JSON,
            r#"{"answers":{"smoker":null}}"#,
            422,
            null_at("answers.smoker"),
        ),
        refused(
            POST,
            &questionnaire,
            TEXT,
            r#"{"answers":{}}"#,
            415,
            json_415("text/plain"),
        ),
    ];
    assert_all_refused(&app, cases, Some(&w.session)).await;
    let booking = link(&w.invite_token, "/booking");
    let cases = vec![
        refused(
            POST,
            &booking,
            JSON,
            r#"{"offerId":"x"}"#,
            422,
            "unknown field `offerId`; did you mean `offer_id`?",
        ),
        refused(
            POST,
            &booking,
            JSON,
            r#"{"offer_id":null}"#,
            422,
            null_at("offer_id"),
        ),
        refused(
            POST,
            &booking,
            TEXT,
            r#"{"offer_id":"x"}"#,
            415,
            json_415("text/plain"),
        ),
        refused(
            POST,
            link(&w.invite_token, "/decline"),
            JSON,
            r#"{"reason":"busy"}"#,
            422,
            "unknown field `reason`; this takes no fields",
        ),
        refused(
            POST,
            link(&w.invite_token, "/booking/cancel"),
            JSON,
            r#"{"offer_id":"x"}"#,
            422,
            "unknown field `offer_id`; this takes no fields",
        ),
    ];
    assert_all_refused(&app, cases, Some(&w.invite_session)).await;
    // No wrong answer was counted: the unverified link takes five still.
    let (status, wrong) = app.verify(&w.links[1], "1960-01-01").await;
    assert_eq!((status, &wrong["attempts_left"]), (403, &json!(4)));
}

#[tokio::test]
async fn sending_and_revoking_say_who_they_reach() {
    let app = spawn_app().await;
    // An empty body, or {"now": true}, sends now.
    for body in [None, Some(json!({"now": true}))] {
        let batch_id = app.create_batch_from(&clean_list(1)).await;
        let mut request = app.request(POST, &format!("/v1/batches/{batch_id}/send"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        assert_eq!(request.send().await.unwrap().status(), 202);
        app.run_pending_work().await;
        assert_eq!(app.batch(&batch_id).await["status"], "Saved");
    }
    // A time to come schedules it; a stagger from a time to come too.
    let scheduled = app.create_batch_from(&clean_list(1)).await;
    let at = start_of_test() + Duration::days(365);
    let sent = app
        .post_json(
            &format!("/v1/batches/{scheduled}/send"),
            &json!({"send_at": at, "stagger_days": 2}),
        )
        .await;
    assert_eq!(sent.status(), 202);
    app.run_pending_work().await;
    let batch = app.batch(&scheduled).await;
    assert_eq!(
        (&batch["status"], &batch["send_at"]),
        (&json!("Scheduled"), &json!(at))
    );

    // Revoking one patient leaves the other's link open; "all" reaches both.
    let questionnaire = app
        .send_batch_from(json!({"name": "Smoking",
            "list_id": app.upload_list(&clean_list(2)).await.json::<Value>().await.unwrap()["list_id"],
            "questionnaire": "smoking_status", "message": "Tell us: ((link))"}))
        .await;
    let messages = app.outbox().await;
    let first_nhs = crate::helpers::nhs_numbers(&clean_list(1)).remove(0);
    let token_of = |to: &str| {
        messages
            .iter()
            .filter(|m| m["to"] == to && m["body"].as_str().unwrap().starts_with("Tell us"))
            .map(|m| crate::helpers::token_in(m["body"].as_str().unwrap()))
            .next()
            .unwrap()
    };
    let (first, second) = (token_of("+447700100001"), token_of("+447700100002"));
    assert_eq!(
        app.revoke(&questionnaire, json!({"nhs_number": first_nhs}))
            .await
            .0,
        200
    );
    assert_eq!(app.open_link(&first).await.1["state"], "withdrawn");
    assert_eq!(app.open_link(&second).await.1["state"], "open");
    let (status, revoked) = app.revoke(&questionnaire, json!({"all": true})).await;
    assert_eq!(status, 200);
    assert!(revoked["links_revoked_at"].is_string(), "{revoked}");
    assert_eq!(app.open_link(&second).await.1["state"], "withdrawn");
}

#[tokio::test]
async fn the_frameworks_own_refusals_are_problems_too() {
    let app = spawn_app().await;
    let cases = [
        (
            reqwest::Method::GET,
            "/v1/nothing-here",
            404,
            "no_such_route",
            "there is no GET /v1/nothing-here; the API description is at /openapi.json",
        ),
        (
            reqwest::Method::DELETE,
            "/v1/batches",
            405,
            "method_not_allowed",
            "this route does not take that method; it takes POST,GET,HEAD",
        ),
        (
            reqwest::Method::GET,
            "/v1/batches/%FF",
            400,
            "bad_request",
            "Invalid URL: Invalid UTF-8 in `batch_id`",
        ),
        // An unknown id is the use case's own 404, in the same shape.
        (
            reqwest::Method::GET,
            "/v1/batches/no-such-batch",
            404,
            "batch_not_found",
            "there is no such batch",
        ),
    ];
    for (method, path, status, code, detail) in cases {
        let response = app.request(method.clone(), path).send().await.unwrap();
        let headers = response.headers().clone();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            headers["content-type"], "application/problem+json",
            "{path}"
        );
        assert_eq!(
            (&body["status"], &body["code"], &body["detail"]),
            (&json!(status), &json!(code), &json!(detail)),
            "{method} {path}"
        );
        if status == 405 {
            assert_eq!(headers["allow"], "POST,GET,HEAD");
        }
    }
}

#[tokio::test]
async fn every_answer_is_kept_out_of_caches_and_type_sniffing() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let response = app
        .client
        .post(format!("{}/v1/links/{}/verify", app.address, w.links[1]))
        .json(&json!({"date_of_birth": DOB}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    for path in [
        "/openapi.json".to_owned(),
        format!("/v1/batches/{}", w.draft),
        "/v1/nothing".into(),
    ] {
        let response = app
            .request(reqwest::Method::GET, &path)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_development_outbox_shows_only_the_callers_organisation() {
    let app = spawn_app().await;
    app.send_list(&clean_list(2)).await;
    let theirs: Value = app
        .upload_list_as("B81001", &clean_list(1))
        .await
        .json()
        .await
        .unwrap();
    let created: Value = app
        .create_batch_as("B81001", theirs["list_id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let sent = app
        .send_batch_as(
            "B81001",
            created["batch_id"].as_str().unwrap(),
            json!({"now": true}),
        )
        .await;
    assert_eq!(sent.status(), 202);
    app.run_pending_work().await;
    let ours = app.outbox_as(ORG).await;
    let theirs = app.outbox_as("B81001").await;
    assert_eq!((ours.len(), theirs.len()), (2, 1));
    assert!(ours.iter().all(|m| m["idempotency_key"]
        .as_str()
        .unwrap()
        .starts_with("A12345:")));
    assert!(theirs[0]["idempotency_key"]
        .as_str()
        .unwrap()
        .starts_with("B81001:"));
}
