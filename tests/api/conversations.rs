//! Conversations (issue 18): staff in a workspace message one patient,
//! who may reply once through their link; assigning, done and reopening;
//! only members of the workspace see any of it. Every refusal is exact and
//! changes nothing.

use std::sync::Arc;

use chrono::Duration;
use domain::ports::WorkQueue;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, token_in, DuplicatingQueue, TestApp};

const SAM: &str = "A12345:sam";
const BEA: &str = "A12345:bea";
const ANN: &str = "A12345:ann:admin";
const ZED: &str = "A12345:zed";
const AUDITOR: &str = "A12345:ida:auditor";
const OTHER: &str = "B81001:bo:admin";
/// Joe Bloggs in the simulated PDS: a mobile and an email on record.
const JOE: &str = "9990000018";
const JOE_BORN: &str = "1950-02-01";
const JOE_MOBILE: &str = "+447700100901";

impl TestApp {
    /// A workspace with Sam and Bea in it (Ann, an admin, is not).
    pub(crate) async fn team(&self) -> String {
        let (status, made) = self
            .call_as(
                ANN,
                Method::POST,
                "/v1/workspaces",
                Some(json!({"name": "Dermatology"})),
            )
            .await;
        assert_eq!(status, 201, "{made}");
        let id = made["workspace_id"].as_str().unwrap().to_owned();
        for (user, name) in [("sam", "Sam Jones"), ("bea", "Bea Smith")] {
            let (status, body) = self
                .call_as(
                    ANN,
                    Method::PUT,
                    &format!("/v1/workspaces/{id}/members/{user}"),
                    Some(json!({ "name": name })),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
        id
    }

    pub(crate) async fn start(&self, workspace_id: &str, extra: Value) -> (u16, Value) {
        let mut body = json!({
            "workspace_id": workspace_id,
            "nhs_number": JOE,
            "date_of_birth": JOE_BORN,
            "channel": "sms",
            "body": "Your test results are back. Please book a review.",
            "allow_reply": true,
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.call_as(SAM, Method::POST, "/v1/conversations", Some(body))
            .await
    }

    /// Messages the simulated providers took for the test organisation's
    /// conversations.
    pub(crate) async fn conversation_outbox(&self) -> Vec<Value> {
        self.outbox()
            .await
            .into_iter()
            .filter(|m| {
                m["idempotency_key"]
                    .as_str()
                    .unwrap()
                    .contains(":conversation:")
            })
            .collect()
    }

    /// The conversation events, as (type, actor), in order.
    pub(crate) async fn conversation_events(&self) -> Vec<(String, String)> {
        let events = self.stack.event_log().read_after(0, 10_000).await.unwrap();
        events
            .iter()
            .filter(|(_, e)| e.aggregate_type.starts_with("Conversation"))
            .map(|(_, e)| {
                (
                    e.event_type.clone(),
                    e.metadata["actor"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

fn problem((status, body): (u16, Value)) -> (u16, String, String) {
    (
        status,
        body["type"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("urn:batchbook:problem:")
            .to_owned(),
        body["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn staff_message_a_patient_who_replies_once_and_the_reply_reopens_the_done_conversation() {
    let app = spawn_app().await;
    let team = app.team().await;
    let (status, started) = app.start(&team, json!({})).await;
    assert_eq!(status, 201, "{started}");
    let id = started["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(started["workspace_id"], team);
    assert_eq!(
        started["patient"],
        json!({"nhs_number": JOE, "date_of_birth": JOE_BORN, "given_name": "Joe", "family_name": "Bloggs"})
    );
    assert_eq!(started["state"], "open");
    assert_eq!(started["assignee"], Value::Null);
    let first = &started["messages"][0];
    assert_eq!(first["message"], 1);
    assert_eq!(first["status"], "not_sent");
    assert_eq!(first["reply_allowed"], true);
    let until = crate::helpers::start_of_test() + Duration::days(14);
    assert_eq!(
        first["reply_until"].as_str().unwrap(),
        until.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    );

    app.run_pending_work().await;
    let sent = app.conversation_outbox().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["to"], JOE_MOBILE);
    assert_eq!(sent[0]["channel"], "sms");
    assert_eq!(
        sent[0]["idempotency_key"],
        format!("A12345:conversation:{id}:1:sms")
    );
    let body = sent[0]["body"].as_str().unwrap();
    assert!(
        body.starts_with(
            "Your test results are back. Please book a review.\n\nYou can reply once, until 7 December 2026: http://127.0.0.1:8080/l/"
        ),
        "{body}"
    );
    let (_, now) = app
        .call_as(SAM, Method::GET, &format!("/v1/conversations/{id}"), None)
        .await;
    assert_eq!(now["messages"][0]["status"], "delivered");

    // The patient replies through the link: the date-of-birth check first.
    let link = app.link(&token_in(body));
    assert_eq!(
        link.open().await,
        (200, json!({"state": "open", "contact": null}))
    );
    let (status, verified) = link.verify(JOE_BORN).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(
        verified["reply"],
        json!({
            "message": "Your test results are back. Please book a review.",
            "max_chars": 1000,
            "reply_until": first["reply_until"],
            "replied_at": null,
            "attachment": null,
        })
    );
    let session = verified["session"].as_str().unwrap().to_owned();
    let (status, replied) = link
        .call(
            Method::POST,
            Some(&session),
            "/reply",
            Some(json!({"text": "  Thank you, I will call on Monday.  "})),
        )
        .await;
    assert_eq!(status, 200, "{replied}");
    assert!(replied["replied_at"].is_string());
    // A second reply is refused, and nothing of it is kept.
    let before = app.snapshot().await;
    let again = link
        .call(
            Method::POST,
            Some(&session),
            "/reply",
            Some(json!({"text": "And another thing"})),
        )
        .await;
    assert_eq!(
        problem(again),
        (
            409,
            "already_replied".into(),
            "this message has already been replied to".into()
        )
    );
    assert_eq!(app.snapshot().await, before);

    let (_, seen) = app
        .call_as(BEA, Method::GET, &format!("/v1/conversations/{id}"), None)
        .await;
    assert_eq!(
        seen["messages"][0]["reply"]["text"],
        "Thank you, I will call on Monday."
    );

    // Assigned to Bea, marked done, then the patient replies to a new
    // message and the conversation opens again.
    let (status, assigned) = app
        .call_as(
            SAM,
            Method::PUT,
            &format!("/v1/conversations/{id}/assignee"),
            Some(json!({"user_id": "bea"})),
        )
        .await;
    assert_eq!(status, 200, "{assigned}");
    assert_eq!(
        assigned["assignee"],
        json!({"kind": "user", "user_id": "bea", "workspace_id": null})
    );
    let (status, done) = app
        .call_as(
            BEA,
            Method::POST,
            &format!("/v1/conversations/{id}/done"),
            None,
        )
        .await;
    assert_eq!((status, done["state"].clone()), (200, json!("done")));
    let (status, second) = app
        .call_as(
            BEA,
            Method::POST,
            &format!("/v1/conversations/{id}/messages"),
            Some(json!({"channel": "email", "subject": "Your review", "body": "Can you come in on Tuesday?", "allow_reply": true})),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["messages"].as_array().unwrap().len(), 2);
    assert_eq!(
        second["state"], "done",
        "writing to the patient does not reopen it"
    );
    app.run_pending_work().await;
    let sent = app.conversation_outbox().await;
    assert_eq!(sent.len(), 2);
    let email = sent.iter().find(|m| m["channel"] == "email").unwrap();
    assert_eq!(
        (email["to"].as_str(), email["subject"].as_str()),
        (Some("joe.bloggs@example.com"), Some("Your review"))
    );
    let link = app.link(&token_in(email["body"].as_str().unwrap()));
    let session = link.session(JOE_BORN).await;
    let (status, _) = link
        .call(
            Method::POST,
            Some(&session),
            "/reply",
            Some(json!({"text": "Yes, Tuesday is fine."})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, reopened) = app
        .call_as(SAM, Method::GET, &format!("/v1/conversations/{id}"), None)
        .await;
    assert_eq!(reopened["state"], "open");
    assert_eq!(
        reopened["messages"][1]["reply"]["text"],
        "Yes, Tuesday is fine."
    );

    app.run_pending_work().await;
    let events = app.conversation_events().await;
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ConversationStarted",
            "ConversationMessageAdded",
            "ConversationMessageWritten",
            "ConversationMessageSent",
            "ConversationMessageDelivered",
            "ConversationMessageSavedToRecord",
            "ReplyIdentityVerified",
            "PatientReplied",
            "ConversationReplied",
            "ConversationAssigned",
            "ConversationDone",
            "ConversationMessageAdded",
            "ConversationMessageWritten",
            "ConversationMessageSent",
            "ConversationMessageDelivered",
            "ConversationMessageSavedToRecord",
            "ReplyIdentityVerified",
            "PatientReplied",
            "ConversationReplied",
        ]
    );
    let actor = |kind: &str| {
        events
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, a)| a.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(actor("ConversationStarted"), ["user:sam"]);
    assert_eq!(actor("ConversationAssigned"), ["user:sam"]);
    assert_eq!(actor("ConversationDone"), ["user:bea"]);
    assert_eq!(actor("ConversationMessageAdded"), ["user:sam", "user:bea"]);
    assert_eq!(
        actor("PatientReplied"),
        ["system:patient-link", "system:patient-link"]
    );
}

#[tokio::test]
async fn every_queue_message_delivered_twice_and_a_retried_request_still_text_the_patient_once() {
    let layer: infra::embedded::QueueLayer =
        Box::new(|queue| Arc::new(DuplicatingQueue(queue)) as Arc<dyn WorkQueue>);
    let app = spawn_app_with(Some(layer), tempfile::tempdir().unwrap()).await;
    let team = app.team().await;
    let body = json!({
        "workspace_id": team, "nhs_number": JOE, "date_of_birth": JOE_BORN,
        "channel": "sms", "body": "Hello from the surgery",
    });
    let send = || {
        app.request_as(SAM, Method::POST, "/v1/conversations")
            .header("idempotency-key", "conv-1")
            .json(&body)
    };
    let (status, first) = TestApp::reply(send()).await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = TestApp::reply(send()).await;
    assert_eq!((status, &again), (201, &first));
    app.run_pending_work().await;
    let sent = app.conversation_outbox().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["body"], "Hello from the surgery");

    let id = first["conversation_id"].as_str().unwrap();
    let more = json!({"channel": "sms", "body": "One more thing"});
    let add = || {
        app.request_as(
            SAM,
            Method::POST,
            &format!("/v1/conversations/{id}/messages"),
        )
        .header("idempotency-key", "more-1")
        .json(&more)
    };
    let (status, added) = TestApp::reply(add()).await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(TestApp::reply(add()).await, (201, added.clone()));
    app.run_pending_work().await;
    assert_eq!(app.conversation_outbox().await.len(), 2);
    let (_, view) = app
        .call_as(SAM, Method::GET, &format!("/v1/conversations/{id}"), None)
        .await;
    assert_eq!(view["messages"].as_array().unwrap().len(), 2);
    // Each sent message is saved to Joe's record once, as he got it.
    let mut entries: Vec<(String, String, String)> = app
        .stack
        .records
        .entries()
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.idempotency_key, e.nhs_number, e.text))
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        [
            (
                format!("A12345:conversation:{id}:1:record"),
                JOE.to_owned(),
                "Hello from the surgery".to_owned()
            ),
            (
                format!("A12345:conversation:{id}:2:record"),
                JOE.to_owned(),
                "One more thing".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn a_reply_that_is_too_long_empty_or_late_is_refused_plainly_and_changes_nothing() {
    let app = spawn_app().await;
    let team = app.team().await;
    let (status, settings) = app
        .call_as(
            ANN,
            Method::PUT,
            "/v1/settings",
            Some(json!({"flag_mobiles_likely_to_fail": false, "replies": {"max_chars": 50, "valid_for_days": 3}})),
        )
        .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(
        settings["replies"],
        json!({"max_chars": 50, "valid_for_days": 3})
    );
    let (status, _) = app.start(&team, json!({})).await;
    assert_eq!(status, 201);
    app.run_pending_work().await;
    let sent = app.conversation_outbox().await;
    let link = app.link(&token_in(sent[0]["body"].as_str().unwrap()));
    let session = link.session(JOE_BORN).await;
    let before = app.snapshot().await;
    let long = link
        .call(
            Method::POST,
            Some(&session),
            "/reply",
            Some(json!({"text": "x".repeat(51)})),
        )
        .await;
    assert_eq!(
        problem(long),
        (
            422,
            "invalid_reply".into(),
            "your reply must be 50 characters or fewer; it is 51".into()
        )
    );
    let blank = link
        .call(
            Method::POST,
            Some(&session),
            "/reply",
            Some(json!({"text": " \n "})),
        )
        .await;
    assert_eq!(
        problem(blank),
        (422, "invalid_reply".into(), "write your reply".into())
    );
    let typo = link
        .call(
            Method::POST,
            Some(&session),
            "/reply",
            Some(json!({"txt": "hi"})),
        )
        .await;
    assert_eq!(typo.0, 422);
    assert_eq!(app.snapshot().await, before);

    // Three days on, the link no longer takes a reply.
    app.clock.advance(Duration::days(3));
    let (status, page) = link.open().await;
    assert_eq!((status, page["state"].clone()), (200, json!("expired")));
    let late = link.verify(JOE_BORN).await;
    assert_eq!(late.0, 410);
    assert_eq!(late.1["type"], "urn:batchbook:problem:link_expired");
}

#[tokio::test]
async fn five_wrong_dates_of_birth_lock_a_reply_link() {
    let app = spawn_app().await;
    let team = app.team().await;
    app.start(&team, json!({})).await;
    app.run_pending_work().await;
    let link = app.link(&token_in(
        app.conversation_outbox().await[0]["body"].as_str().unwrap(),
    ));
    for left in (1..=4).rev() {
        let (status, body) = link.verify("1950-02-02").await;
        assert_eq!((status, body["attempts_left"].clone()), (403, json!(left)));
    }
    let (status, body) = link.verify("1950-02-02").await;
    assert_eq!(
        (status, body["type"].clone()),
        (423, json!("urn:batchbook:problem:link_locked"))
    );
    let (status, _) = link.verify(JOE_BORN).await;
    assert_eq!(status, 423);
}

#[tokio::test]
async fn a_message_without_a_reply_has_no_link_and_its_conversation_no_reply_page() {
    let app = spawn_app().await;
    let team = app.team().await;
    let (status, started) = app.start(&team, json!({"allow_reply": false})).await;
    assert_eq!(status, 201, "{started}");
    assert_eq!(started["messages"][0]["reply_until"], Value::Null);
    app.run_pending_work().await;
    let sent = app.conversation_outbox().await;
    assert_eq!(
        sent[0]["body"],
        "Your test results are back. Please book a review."
    );
    // Its receipt came: the 72-hour rule, when its timer fires, leaves it be.
    app.clock.advance(Duration::hours(73));
    app.run_pending_work().await;
    let id = started["conversation_id"].as_str().unwrap();
    let (_, view) = app
        .call_as(SAM, Method::GET, &format!("/v1/conversations/{id}"), None)
        .await;
    assert_eq!(view["messages"][0]["status"], "delivered");
    let failed = app
        .conversation_events()
        .await
        .iter()
        .filter(|(kind, _)| kind == "ConversationMessageFailed")
        .count();
    assert_eq!(failed, 0);
}

#[tokio::test]
async fn bad_requests_are_refused_with_the_field_and_reason_and_change_nothing() {
    let app = spawn_app().await;
    let team = app.team().await;
    let before = app.snapshot().await;
    let cases: Vec<(Value, u16, &str, String)> = vec![
        (json!({"body": "   "}), 422, "invalid_request", "body: must not be blank".into()),
        (json!({"channel": "email"}), 422, "invalid_request", "subject: an email needs a subject".into()),
        (json!({"subject": "Hi"}), 422, "invalid_request", "subject: a text message has no subject".into()),
        (json!({"channel": "nhs_app"}), 422, "invalid_request", "channel: a conversation's message goes by sms or email".into()),
        (json!({"body": "é".repeat(900)}), 422, "invalid_request", "body: the message is 991 characters long once filled in; a text message can be at most 918".into()),
        (json!({"nhs_number": "9990000019"}), 422, "invalid_request", "nhs_number: the NHS number's check digit is wrong".into()),
        (json!({"date_of_birth": "1950-02-02"}), 404, "patient_not_found", "there is no patient with this NHS number and date of birth".into()),
        (json!({"nhs_number": "9990000042", "date_of_birth": "1931-05-09"}), 422, "invalid_request", "nhs_number: PDS records this patient as having died".into()),
        (json!({"nhs_number": "9990000069", "date_of_birth": "2001-09-04"}), 422, "invalid_request", "channel: PDS holds no UK mobile number for this patient".into()),
        (json!({"workspace_id": "not-a-workspace"}), 404, "workspace_not_found", "there is no such workspace in your organisation".into()),
        (json!({"colour": "red"}), 422, "invalid_request", String::new()),
    ];
    for (extra, status, code, detail) in cases {
        let (got_status, got_code, got_detail) = problem(app.start(&team, extra.clone()).await);
        assert_eq!(
            (got_status, got_code.as_str()),
            (status, code),
            "{extra}: {got_detail}"
        );
        if detail.is_empty() {
            assert!(
                got_detail.starts_with("unknown field `colour`"),
                "{got_detail}"
            );
        } else {
            assert_eq!(got_detail, detail, "{extra}");
        }
    }
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn only_members_see_or_change_a_conversation_and_only_staff_write_one() {
    let app = spawn_app().await;
    let team = app.team().await;
    let (_, started) = app.start(&team, json!({})).await;
    let id = started["conversation_id"].as_str().unwrap().to_owned();
    app.run_pending_work().await;
    let before = app.snapshot().await;

    let start_as = |who: &'static str| {
        let body = json!({"workspace_id": team, "nhs_number": JOE, "date_of_birth": JOE_BORN, "channel": "sms", "body": "Hi"});
        app.call_as(who, Method::POST, "/v1/conversations", Some(body))
    };
    assert_eq!(
        problem(start_as(ZED).await),
        (
            403,
            "not_in_workspace".into(),
            "you are not a member of this workspace; ask an admin of your organisation to add you"
                .into()
        )
    );
    assert_eq!(
        problem(start_as(ANN).await).1,
        "not_in_workspace",
        "an admin outside the team is not in it"
    );
    assert_eq!(
        problem(start_as(AUDITOR).await),
        (
            403,
            "role_needed".into(),
            "this needs the staff or admin role; an auditor can only read".into()
        )
    );
    assert_eq!(problem(start_as(OTHER).await).1, "workspace_not_found");

    let not_found = (
        404,
        "conversation_not_found".to_owned(),
        "there is no such conversation in your workspaces".to_owned(),
    );
    for who in [ZED, ANN, OTHER] {
        for (method, path, body) in [
            (Method::GET, format!("/v1/conversations/{id}"), None),
            (
                Method::POST,
                format!("/v1/conversations/{id}/messages"),
                Some(json!({"channel": "sms", "body": "Hi"})),
            ),
            (
                Method::PUT,
                format!("/v1/conversations/{id}/assignee"),
                Some(json!({"team": true})),
            ),
            (Method::POST, format!("/v1/conversations/{id}/done"), None),
            (Method::POST, format!("/v1/conversations/{id}/reopen"), None),
        ] {
            assert_eq!(
                problem(app.call_as(who, method.clone(), &path, body).await),
                not_found,
                "{who} {method} {path}"
            );
        }
    }
    let assignee = format!("/v1/conversations/{id}/assignee");
    let assign = |body: Value| app.call_as(SAM, Method::PUT, &assignee, Some(body));
    assert_eq!(
        problem(assign(json!({"user_id": "zed"})).await),
        (
            422,
            "invalid_request".into(),
            "user_id: zed is not a member of this conversation's workspace".into()
        )
    );
    assert_eq!(
        problem(assign(json!({"user_id": "bea", "team": true})).await),
        (
            422,
            "invalid_request".into(),
            "give exactly one of `user_id` (a member) and `team` (`true`)".into()
        )
    );
    assert_eq!(
        problem(assign(json!({"team": false})).await),
        (
            422,
            "invalid_request".into(),
            "team: give `true` to assign the conversation to the team, or give `user_id` instead"
                .into()
        )
    );
    assert_eq!(
        problem(
            app.call_as(
                SAM,
                Method::GET,
                "/v1/conversations/not-a-conversation",
                None
            )
            .await
        ),
        not_found
    );
    assert_eq!(app.snapshot().await, before);

    let (status, to_team) = assign(json!({"team": true})).await;
    assert_eq!(status, 200);
    assert_eq!(
        to_team["assignee"],
        json!({"kind": "team", "user_id": null, "workspace_id": team})
    );
}

impl TestApp {
    async fn inbox(&self, who: &str, workspace_id: &str, body: Value) -> (u16, Value) {
        self.call_as(
            who,
            Method::POST,
            &format!("/v1/workspaces/{workspace_id}/inbox"),
            Some(body),
        )
        .await
    }

    /// The conversation ids of a list, and the caller's unread count.
    async fn listed(&self, who: &str, workspace_id: &str, body: Value) -> (Vec<String>, u64) {
        let (status, page) = self.inbox(who, workspace_id, body.clone()).await;
        assert_eq!(status, 200, "{body}: {page}");
        (
            page["conversations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["conversation_id"].as_str().unwrap().to_owned())
                .collect(),
            page["unread"].as_u64().unwrap(),
        )
    }
}

#[tokio::test]
async fn each_member_sees_their_lists_with_their_own_unread_state_a_page_at_a_time() {
    let app = spawn_app().await;
    let team = app.team().await;
    let (_, joe) = app.start(&team, json!({})).await;
    let joe = joe["conversation_id"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::minutes(1));
    let (status, priya) = app
        .start(
            &team,
            json!({"nhs_number": "9990000093", "date_of_birth": "1980-01-31", "channel": "email",
                   "subject": "Your results", "allow_reply": false}),
        )
        .await;
    assert_eq!(status, 201, "{priya}");
    let priya = priya["conversation_id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .call_as(
            SAM,
            Method::PUT,
            &format!("/v1/conversations/{joe}/assignee"),
            Some(json!({"user_id": "bea"})),
        )
        .await;
    assert_eq!(status, 200);

    // Newest activity first; nothing unread yet.
    assert_eq!(
        app.listed(SAM, &team, json!({"list": "sent_by_me"})).await,
        (vec![priya.clone(), joe.clone()], 0)
    );
    assert_eq!(
        app.listed(BEA, &team, json!({"list": "assigned_to_me"}))
            .await,
        (vec![joe.clone()], 0)
    );
    assert_eq!(
        app.listed(BEA, &team, json!({"list": "sent_by_me"})).await,
        (vec![], 0)
    );
    assert_eq!(
        app.listed(SAM, &team, json!({"list": "assigned_to", "user_id": "bea"}))
            .await,
        (vec![joe.clone()], 0)
    );

    // Joe replies: unread for Bea and for Sam, until each reads it.
    app.clock.advance(Duration::minutes(1));
    app.run_pending_work().await;
    let sent = app.conversation_outbox().await;
    let to_joe = sent.iter().find(|m| m["to"] == JOE_MOBILE).unwrap();
    let link = app.link(&token_in(to_joe["body"].as_str().unwrap()));
    let session = link.session(JOE_BORN).await;
    let (status, _) = link
        .call(
            Method::POST,
            Some(&session),
            "/reply",
            Some(json!({"text": "Got it"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, page) = app
        .inbox(BEA, &team, json!({"list": "assigned_to_me"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["unread"], 1);
    let entry = &page["conversations"][0];
    assert_eq!(
        (
            &entry["unread"],
            &entry["replies"],
            &entry["messages"],
            &entry["state"]
        ),
        (&json!(true), &json!(1), &json!(1), &json!("open"))
    );
    assert_eq!(entry["patient"]["family_name"], "Bloggs");
    assert_eq!(
        app.listed(SAM, &team, json!({"list": "sent_by_me", "unread": true}))
            .await,
        (vec![joe.clone()], 1)
    );
    let (status, _) = app
        .call_as(
            BEA,
            Method::POST,
            &format!("/v1/conversations/{joe}/read"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.listed(
            BEA,
            &team,
            json!({"list": "assigned_to_me", "unread": true})
        )
        .await,
        (vec![], 0)
    );
    assert_eq!(
        app.listed(SAM, &team, json!({"list": "all"})).await.1,
        1,
        "still unread for Sam"
    );

    // A patient's conversations, all or mine; open or done; the team's.
    assert_eq!(
        app.listed(BEA, &team, json!({"list": "all", "nhs_number": JOE}))
            .await
            .0,
        vec![joe.clone()]
    );
    assert_eq!(
        app.listed(BEA, &team, json!({"list": "sent_by_me", "nhs_number": JOE}))
            .await
            .0,
        Vec::<String>::new()
    );
    assert_eq!(
        app.listed(SAM, &team, json!({"list": "sent_by_me", "nhs_number": JOE}))
            .await
            .0,
        vec![joe.clone()]
    );
    app.call_as(
        SAM,
        Method::POST,
        &format!("/v1/conversations/{priya}/done"),
        None,
    )
    .await;
    app.call_as(
        SAM,
        Method::PUT,
        &format!("/v1/conversations/{priya}/assignee"),
        Some(json!({"team": true})),
    )
    .await;
    assert_eq!(
        app.listed(SAM, &team, json!({"list": "all", "state": "done"}))
            .await
            .0,
        vec![priya.clone()]
    );
    assert_eq!(
        app.listed(SAM, &team, json!({"list": "all", "state": "open"}))
            .await
            .0,
        vec![joe.clone()]
    );
    assert_eq!(
        app.listed(BEA, &team, json!({"list": "team"})).await.0,
        vec![priya.clone()]
    );

    // A page at a time.
    let (_, first) = app
        .inbox(SAM, &team, json!({"list": "all", "limit": 1}))
        .await;
    assert_eq!(first["conversations"][0]["conversation_id"], joe);
    let cursor = first["next"].as_str().unwrap().to_owned();
    let (_, second) = app
        .inbox(
            SAM,
            &team,
            json!({"list": "all", "limit": 1, "cursor": cursor}),
        )
        .await;
    assert_eq!(second["conversations"][0]["conversation_id"], priya);
    assert_eq!(second["next"], Value::Null);

    // A rebuilt read model gives the same lists.
    app.stack.rebuild_views().await.unwrap();
    assert_eq!(
        app.listed(SAM, &team, json!({"list": "all"})).await,
        (vec![joe.clone(), priya.clone()], 1)
    );
    assert_eq!(
        app.listed(BEA, &team, json!({"list": "assigned_to_me"}))
            .await,
        (vec![joe.clone()], 0)
    );
}

#[tokio::test]
async fn an_inbox_request_is_refused_by_field_and_reason_and_only_members_read_one() {
    let app = spawn_app().await;
    let team = app.team().await;
    let cases: Vec<(&str, Value, u16, &str, &str)> = vec![
        (
            SAM,
            json!({"list": "assigned_to"}),
            422,
            "invalid_request",
            "user_id: give the colleague whose conversations to list",
        ),
        (
            SAM,
            json!({"list": "all", "user_id": "bea"}),
            422,
            "invalid_request",
            "user_id: only with the list `assigned_to`",
        ),
        (
            SAM,
            json!({"list": "assigned_to", "user_id": "zed"}),
            422,
            "invalid_request",
            "user_id: zed is not a member of this workspace",
        ),
        (
            SAM,
            json!({"list": "assigned_to_me", "nhs_number": JOE}),
            422,
            "invalid_request",
            "nhs_number: a patient's conversations are listed with `all` or `sent_by_me`",
        ),
        (
            SAM,
            json!({"list": "all", "nhs_number": "123"}),
            422,
            "invalid_request",
            "nhs_number: an NHS number has 10 digits",
        ),
        (
            SAM,
            json!({"list": "all", "cursor": "nope"}),
            422,
            "invalid_request",
            "cursor: is not one this API gave; pass the `next` of the page before",
        ),
        (
            SAM,
            json!({"list": "all", "limit": 0}),
            422,
            "invalid_request",
            "limit: must be 1 to 100",
        ),
        (
            ZED,
            json!({"list": "all"}),
            403,
            "not_in_workspace",
            "you are not a member of this workspace; ask an admin of your organisation to add you",
        ),
        (
            OTHER,
            json!({"list": "all"}),
            404,
            "workspace_not_found",
            "there is no such workspace in your organisation",
        ),
    ];
    for (who, body, status, code, detail) in cases {
        assert_eq!(
            problem(app.inbox(who, &team, body.clone()).await),
            (status, code.to_owned(), detail.to_owned()),
            "{who} {body}"
        );
    }
    assert_eq!(
        problem(app.inbox(SAM, &team, json!({"list": "al"})).await),
        (422, "invalid_request".to_owned(), "list: `al` is not one of `assigned_to_me`, `sent_by_me`, `assigned_to`, `team`, `all`; did you mean `all`?".to_owned())
    );
}

/// Each request reads the workspace's members anew, even though the
/// server keeps the workspace it last read (`AggregateStore::load_kept`):
/// a member removed just after reading the inbox is refused on the next
/// request, and a colleague added after being refused is let in.
#[tokio::test]
async fn a_member_removed_or_added_is_refused_or_let_in_on_the_very_next_request() {
    let app = spawn_app().await;
    let team = app.team().await;
    let all = json!({"list": "all"});
    assert_eq!(app.listed(BEA, &team, all.clone()).await, (vec![], 0));
    assert_eq!(
        problem(app.inbox(ZED, &team, all.clone()).await).1,
        "not_in_workspace"
    );

    let members = format!("/v1/workspaces/{team}/members");
    let (status, _) = app
        .call_as(ANN, Method::DELETE, &format!("{members}/bea"), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .call_as(
            ANN,
            Method::PUT,
            &format!("{members}/zed"),
            Some(json!({"name": "Zed Ward"})),
        )
        .await;
    assert_eq!(status, 200);

    assert_eq!(
        problem(app.inbox(BEA, &team, all.clone()).await),
        (
            403,
            "not_in_workspace".to_owned(),
            "you are not a member of this workspace; ask an admin of your organisation to add you"
                .to_owned()
        )
    );
    assert_eq!(app.listed(ZED, &team, all).await, (vec![], 0));
}

#[tokio::test]
async fn the_assignee_alone_is_emailed_once_of_a_reply_and_sees_the_unread_count() {
    let app = spawn_app().await;
    let team = app.team().await;
    for (user, name, email) in [
        ("sam", "Sam Jones", "sam@example.nhs.uk"),
        ("bea", "Bea Smith", "bea@example.nhs.uk"),
    ] {
        let (status, body) = app
            .call_as(
                ANN,
                Method::PUT,
                &format!("/v1/workspaces/{team}/members/{user}"),
                Some(json!({"name": name, "email": email})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, workspace) = app
        .call_as(SAM, Method::GET, &format!("/v1/workspaces/{team}"), None)
        .await;
    assert_eq!(
        workspace["members"][0],
        json!({"user_id": "bea", "name": "Bea Smith", "email": "bea@example.nhs.uk"})
    );
    let (status, refused) = app
        .call_as(
            ANN,
            Method::PUT,
            &format!("/v1/workspaces/{team}/members/bea"),
            Some(json!({"name": "Bea", "email": "bea@"})),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(
        refused["detail"], "email: the email address is not in a valid format",
        "{refused}"
    );

    let (_, started) = app.start(&team, json!({})).await;
    let id = started["conversation_id"].as_str().unwrap().to_owned();
    app.call_as(
        SAM,
        Method::PUT,
        &format!("/v1/conversations/{id}/assignee"),
        Some(json!({"user_id": "bea"})),
    )
    .await;
    let unread = format!("/v1/workspaces/{team}/unread");
    assert_eq!(
        app.call_as(BEA, Method::GET, &unread, None).await,
        (
            200,
            json!({"assigned_to_me": 0, "sent_by_me": 0, "team": 0})
        )
    );
    app.run_pending_work().await;
    let to_joe = app.conversation_outbox().await;
    let link = app.link(&token_in(to_joe[0]["body"].as_str().unwrap()));
    let session = link.session(JOE_BORN).await;
    link.call(
        Method::POST,
        Some(&session),
        "/reply",
        Some(json!({"text": "Thanks"})),
    )
    .await;
    app.run_pending_work().await;

    let notices: Vec<Value> = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m["channel"] == "email")
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["to"], "bea@example.nhs.uk");
    assert_eq!(notices[0]["subject"], "A patient has replied");
    assert_eq!(
        notices[0]["body"],
        format!("A patient replied to a conversation assigned to you in Dermatology. Sign in to Batchbook to read it (conversation {id}).")
    );
    assert_eq!(
        app.call_as(BEA, Method::GET, &unread, None).await,
        (
            200,
            json!({"assigned_to_me": 1, "sent_by_me": 0, "team": 0})
        )
    );
    assert_eq!(
        app.call_as(SAM, Method::GET, &unread, None).await,
        (
            200,
            json!({"assigned_to_me": 0, "sent_by_me": 1, "team": 0})
        )
    );

    // The reply's event reacted to again (a replayed log or stream): still
    // one email.
    let events = app.stack.event_log().read_after(0, 10_000).await.unwrap();
    let replied = events
        .into_iter()
        .map(|(_, e)| e)
        .find(|e| e.event_type == "ConversationReplied")
        .unwrap();
    app.stack.app.react(replied).await.unwrap();
    app.run_pending_work().await;
    let emails = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m["channel"] == "email")
        .count();
    assert_eq!(emails, 1);
    app.call_as(
        BEA,
        Method::POST,
        &format!("/v1/conversations/{id}/read"),
        None,
    )
    .await;
    assert_eq!(
        app.call_as(BEA, Method::GET, &unread, None).await,
        (
            200,
            json!({"assigned_to_me": 0, "sent_by_me": 0, "team": 0})
        )
    );
}

#[tokio::test]
async fn an_attached_file_is_opened_through_the_messages_link_and_its_first_opening_recorded() {
    let app = spawn_app().await;
    let team = app.team().await;
    let (status, attachment) = TestApp::reply(
        app.request_as(SAM, Method::POST, "/v1/attachments?file_name=results.pdf")
            .header("content-type", "application/pdf")
            .body(b"%PDF-1.4\n%%EOF\n".to_vec()),
    )
    .await;
    assert_eq!(status, 201, "{attachment}");
    let attachment_id = attachment["attachment_id"].as_str().unwrap().to_owned();
    let (status, started) = app
        .start(&team, json!({"attachment_id": attachment_id}))
        .await;
    assert_eq!(status, 201, "{started}");
    let id = started["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(started["messages"][0]["attachment"], "results.pdf");
    app.run_pending_work().await;
    let body = app.conversation_outbox().await[0]["body"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        body.starts_with("Your test results are back. Please book a review.\n\nOpen the document we sent you, and reply once until 7 December 2026: http://127.0.0.1:8080/l/"),
        "{body}"
    );
    let link = app.link(&token_in(&body));
    let (status, verified) = link.verify(JOE_BORN).await;
    assert_eq!(status, 200, "{verified}");
    let offer = json!({"file_name": "results.pdf", "content_type": "application/pdf", "size": 15,
                       "expires_at": "2026-12-23T09:00:00Z"});
    assert_eq!(verified["attachment"], offer);
    assert_eq!(verified["reply"]["attachment"], offer);
    let session = verified["session"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let file = link
            .request(Method::GET, Some(&session), "/attachment", None)
            .await;
        assert_eq!(file.status(), 200);
        assert_eq!(file.bytes().await.unwrap().as_ref(), b"%PDF-1.4\n%%EOF\n");
    }
    let opened = app
        .conversation_events()
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "ConversationAttachmentOpened")
        .count();
    assert_eq!(opened, 1, "the first opening is recorded, once");
    let (_, view) = app
        .call_as(SAM, Method::GET, &format!("/v1/conversations/{id}"), None)
        .await;
    assert!(
        view["messages"][0]["attachment_opened_at"].is_string(),
        "{view}"
    );

    // A message with only an attachment takes no reply; past 30 days the
    // link no longer opens the file.
    let (status, _) = app
        .call_as(
            SAM,
            Method::POST,
            &format!("/v1/conversations/{id}/messages"),
            Some(json!({"channel": "sms", "body": "Here is your letter.", "attachment_id": attachment_id})),
        )
        .await;
    assert_eq!(status, 201);
    app.run_pending_work().await;
    let sent = app.conversation_outbox().await;
    let letter = sent
        .iter()
        .find(|m| m["body"].as_str().unwrap().starts_with("Here is"))
        .unwrap();
    let body = letter["body"].as_str().unwrap();
    assert!(
        body.starts_with("Here is your letter.\n\nOpen the document we sent you: http://"),
        "{body}"
    );
    let link = app.link(&token_in(body));
    let (status, verified) = link.verify(JOE_BORN).await;
    assert_eq!((status, verified["reply"].clone()), (200, Value::Null));
    let session = verified["session"].as_str().unwrap().to_owned();
    let refused = link
        .call(
            Method::POST,
            Some(&session),
            "/reply",
            Some(json!({"text": "Thanks"})),
        )
        .await;
    assert_eq!(problem(refused).1, "link_not_found");
    app.clock.advance(Duration::days(30));
    assert_eq!(link.open().await.1["state"], "expired");
    let (status, body) = link
        .call(Method::GET, Some(&session), "/attachment", None)
        .await;
    assert_eq!(
        (status, body["type"].as_str()),
        (401, Some("urn:batchbook:problem:session_expired"))
    );
}

#[tokio::test]
async fn an_attachment_that_is_not_the_organisations_is_refused_by_name() {
    let app = spawn_app().await;
    let team = app.team().await;
    let before = app.snapshot().await;
    assert_eq!(
        problem(
            app.start(
                &team,
                json!({"attachment_id": "3f2a1d5e-0000-4000-8000-000000000000"})
            )
            .await
        ),
        (
            422,
            "invalid_request".into(),
            "attachment_id: there is no attachment with this id".into()
        )
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn questionnaire_answers_come_back_to_the_workspace_that_sent_the_batch_as_a_conversation() {
    let app = spawn_app().await;
    let team = app.team().await;
    // The default sign-in sends the batch; it must be a member.
    let (status, _) = app
        .call_as(
            ANN,
            Method::PUT,
            &format!("/v1/workspaces/{team}/members/dev-user"),
            Some(json!({"name": "Dev User"})),
        )
        .await;
    assert_eq!(status, 200);
    let list = app.list_as(SAM, &crate::helpers::clean_list(1)).await;
    let before = app.snapshot().await;
    let refused = app
        .call_as(
            ZED,
            Method::POST,
            "/v1/batches",
            Some(json!({"name": "Smoking", "list_id": list,
            "questionnaire": "smoking_status", "workspace_id": team,
            "message": "Dear ((name)), please answer: ((link))"})),
        )
        .await;
    assert_eq!(problem(refused).1, "not_in_workspace");
    let refused = app
        .call_as(
            SAM,
            Method::POST,
            "/v1/batches",
            Some(json!({"name": "Flu", "list_id": list,
            "workspace_id": team, "message": "Dear ((name)), book your flu jab."})),
        )
        .await;
    assert_eq!(
        problem(refused),
        (
            422,
            "invalid_request".into(),
            "workspace_id: only a questionnaire batch's answers come back to a workspace's inbox"
                .into()
        )
    );
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused batch changes nothing"
    );

    let (batch_id, tokens) = app
        .linked_batch_of(
            1,
            json!({"name": "Smoking", "questionnaire": "smoking_status", "workspace_id": team,
                   "message": "Dear ((name)), please answer: ((link))"}),
        )
        .await;
    let link = app.link(&tokens[0]);
    let session = link.session("1950-02-01").await;
    let answers =
        json!({"answers": {"smoking_status": "current_smoker", "cigarettes_per_day": "5"}});
    let (status, answered) = link
        .call(
            Method::POST,
            Some(&session),
            "/questionnaire",
            Some(answers),
        )
        .await;
    assert_eq!(status, 200, "{answered}");
    app.run_pending_work().await;
    // Reacted to twice (a replayed log): still one conversation, one reply.
    let events = app.stack.event_log().read_after(0, 10_000).await.unwrap();
    let answered = events
        .into_iter()
        .map(|(_, e)| e)
        .find(|e| e.event_type == "QuestionnaireAnswered")
        .unwrap();
    app.stack.app.react(answered).await.unwrap();
    app.run_pending_work().await;

    let (ids, unread) = app.listed(SAM, &team, json!({"list": "all"})).await;
    assert_eq!((ids.len(), unread), (1, 1));
    let (_, view) = app
        .call_as(
            SAM,
            Method::GET,
            &format!("/v1/conversations/{}", ids[0]),
            None,
        )
        .await;
    assert_eq!(view["patient"]["given_name"], "Pat");
    let messages = view["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["from_batch"], batch_id);
    assert_eq!(messages[0]["status"], "delivered");
    assert!(messages[0]["body"]
        .as_str()
        .unwrap()
        .starts_with("Dear Pat, please answer: http://127.0.0.1:8080/l/"));
    assert_eq!(
        messages[0]["reply"]["text"],
        "Do you smoke? current smoker\nIf you smoke, how many a day? 5 cigarettes"
    );
    // The batch's message is not sent again from the inbox.
    let texts = app
        .outbox()
        .await
        .iter()
        .filter(|m| {
            m["idempotency_key"]
                .as_str()
                .unwrap()
                .contains(":conversation:")
        })
        .count();
    assert_eq!(texts, 0);
}
