//! A typo never acts on the AWS adapters either (issue 14): through the
//! API function on moto, refused sends and revokes change nothing, the
//! framework's own refusals are problems, and two practices racing for one
//! shared hub slot get one booking and one "just taken".

use axum::body::Body;
use serde_json::{json, Value};

use super::env::AwsTestEnv;
use super::flow::{call, exchange, json_of, link, run_functions};
use super::ingest::upload_and_ingest;
use super::links::{bodies, token, Sent};
use crate::helpers::clean_list;

/// A request and its refusal: method, path, headers, body, status, detail.
type Case<'a> = (
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    &'a str,
    u16,
    &'a str,
);

async fn raw(
    env: &AwsTestEnv,
    org: &str,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value, axum::http::HeaderMap) {
    let response = exchange(env, org, method, uri, headers, Body::from(body.to_owned())).await;
    let headers = response.headers().clone();
    let (status, json) = json_of(response).await;
    (status, json, headers)
}

#[tokio::test]
async fn refused_sends_and_revokes_change_nothing_through_the_api_function() {
    let mut run = Sent::batch(json!({"name": "Smoking", "questionnaire": "smoking_status",
        "message": "Tell us: ((link))"}))
    .await;
    let sent = bodies(&run.env).await;
    assert_eq!(sent.len(), 2);
    let links: Vec<String> = sent.iter().map(|(_, body)| token(body)).collect();
    let env = &run.env;
    let revoke = format!("/v1/batches/{}/links/revoke", run.batch_id);
    let list_id = upload_and_ingest(env, &clean_list(1)).await;
    let (status, created) = call(
        env,
        "A12345",
        "POST",
        "/v1/batches",
        Some(json!({"name": "Flu", "list_id": list_id, "message": "Book now"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let draft = created["batch_id"].as_str().unwrap().to_owned();
    let send = format!("/v1/batches/{draft}/send");
    let json = [("content-type", "application/json")];
    let cases: Vec<Case> = vec![
        ("POST", &revoke, &json, r#"{"nhsNumber":"4857770008"}"#, 422,
            "unknown field `nhsNumber`; did you mean `nhs_number`?"),
        ("POST", &revoke, &json, r#"{"nhs_number":null}"#, 422,
            "nhs_number: null is not a value here; leave the field out, or give it a value"),
        ("POST", &revoke, &json, "{}", 422,
            "say whose links to revoke: {\"all\": true} for every link of the batch, or {\"nhs_number\": \"…\"} for one patient's"),
        ("POST", &send, &json, r#"{"sendAt":"2027-03-01T09:00:00Z"}"#, 422,
            "unknown field `sendAt`; did you mean `send_at`?"),
        ("POST", &send, &json, r#"{"stagger":14}"#, 422,
            "unknown field `stagger`; the fields are `now`, `send_at`, `stagger_days`"),
        ("POST", &send, &[("content-type", "text/plain")], r#"{"now":true}"#, 415,
            "send this request's body with Content-Type: application/json; it was sent as text/plain"),
        ("POST", &send, &json, r#"{"send_at":"1970-01-01T00:00:00Z"}"#, 422,
            "send_at: must be in the future; to send now, send {\"now\": true} instead"),
        ("GET", "/v1/nothing-here", &[], "", 404,
            "there is no GET /v1/nothing-here; the API description is at /openapi.json"),
        ("DELETE", "/v1/batches", &[], "", 405,
            "this route does not take that method; it takes POST,GET,HEAD"),
    ];
    for (method, uri, headers, body, status, detail) in cases {
        let (got, problem, headers) = raw(env, "A12345", method, uri, headers, body).await;
        assert_eq!(
            (got, problem["detail"].as_str().unwrap_or_default()),
            (status, detail),
            "{method} {uri} {body}"
        );
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
    for _ in 0..3 {
        run_functions(&run.env, &mut run.poller).await;
    }
    let env = &run.env;
    let (_, batch) = call(env, "A12345", "GET", &format!("/v1/batches/{draft}"), None).await;
    assert_eq!(batch["status"], "Draft");
    assert_eq!(bodies(env).await.len(), 2, "no message has left");
    for link in &links {
        let (status, page) = call(env, "A12345", "GET", &format!("/v1/links/{link}"), None).await;
        assert_eq!((status, &page["state"]), (200, &json!("open")));
    }
}

#[tokio::test]
async fn two_practices_racing_for_one_shared_hub_slot_get_one_booking_on_the_aws_adapters() {
    const HUB_SLOT: &str = "2026-11-28-0900-nurse-patel-flu";
    let mut run = Sent::batch(json!({"name": "Warm-up", "message": "Hello"})).await;
    let before = bodies(&run.env).await.len();
    let patients = [
        ("A12345", "9434765919", "07700 100011"),
        ("C82001", "9434765870", "07700 100012"),
    ];
    for (org, nhs, mobile) in patients {
        let (status, saved) = call(
            &run.env,
            org,
            "PUT",
            "/v1/settings",
            Some(json!({"flag_mobiles_likely_to_fail": false, "other_sites": ["hub"]})),
        )
        .await;
        assert_eq!(status, 200, "{saved}");
        let (status, invited) = call(
            &run.env,
            org,
            "POST",
            "/v1/invites",
            Some(json!({"patient": {"nhs_number": nhs, "mobile": mobile, "date_of_birth": "1950-02-01"},
                "message": "Book your flu jab: ((link))",
                "self_book": {"appointment_type": "in_person", "slot_type": "flu", "location": "hub"}})),
        )
        .await;
        assert_eq!(status, 201, "{invited}");
    }
    for _ in 0..4 {
        run_functions(&run.env, &mut run.poller).await;
    }
    let env = &run.env;
    let sent = bodies(env).await;
    let invites: Vec<&(String, String)> = sent
        .iter()
        .filter(|(_, body)| body.starts_with("Book your flu jab"))
        .collect();
    assert_eq!((sent.len() - before, invites.len()), (2, 2));
    let mut sessions = Vec::new();
    for (_, body) in &invites {
        let patient = link(env, &token(body));
        let session = patient.session("1950-02-01").await;
        sessions.push((patient, session));
    }
    let offer = json!({"offer_id": HUB_SLOT});
    let [(a, a_session), (b, b_session)] = &sessions[..] else {
        panic!("two patients");
    };
    let (first, second) = tokio::join!(
        a.call("POST", Some(a_session), "/booking", Some(offer.clone())),
        b.call("POST", Some(b_session), "/booking", Some(offer.clone()))
    );
    let mut outcomes = [
        (first.0, first.1["code"].clone()),
        (second.0, second.1["code"].clone()),
    ];
    outcomes.sort_by_key(|o| o.0);
    assert_eq!(outcomes, [(202, Value::Null), (409, json!("slot_taken"))]);
}
