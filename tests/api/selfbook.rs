//! Self-Book on the embedded stack, through the HTTP API: checking
//! availability, creating and sending an invite batch, and each patient's
//! way through their link (booking, a time just taken, a booking the book
//! refuses, declining, cancelling and its cut-off, expiry), with the
//! counts staff see. The bundled simulated book (`infra/fixtures/
//! appointment_book.toml`) starts on the Monday the tests start on,
//! 2026-11-23 09:00 (GMT, so London time too).

use std::sync::Arc;

use chrono::Duration;
use domain::appointments::{AppointmentBook, BookingRequest, SlotSearch};
use domain::ports::WorkQueue;
use domain::usecases::BatchViews;
use serde_json::{json, Value};

use crate::helpers::{
    clean_list, problem, spawn_app, spawn_app_with, token_in, DuplicatingQueue, TestApp, ORG,
};

const DOB: &str = "1950-02-01";
const MESSAGE: &str = "Your flu jab: book a time at ((link))";
const FIRST: &str = "+447700100001";
const SECOND: &str = "+447700100002";
/// The first bookable flu slot an hour or more after the tests start:
/// 10:00 is the book's 13th slot, which it embargoes.
const FIRST_FREE: &str = "2026-11-23-1005-nurse-patel-flu";

fn flu(extra: Value) -> Value {
    let mut config = json!({"appointment_type": "in_person", "slot_type": "flu",
        "decline": {"snomed_code": "73211009", "wording": "I don't want a flu jab"}});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

/// Uploads `n` patients and sends them a Self-Book batch.
async fn invite(app: &TestApp, n: usize, self_book: Value) -> String {
    let list: Value = app.upload_list(&clean_list(n)).await.json().await.unwrap();
    app.send_batch_from(
        json!({"name": "Flu", "list_id": list["list_id"], "message": MESSAGE,
        "self_book": self_book}),
    )
    .await
}

async fn link_of(app: &TestApp, to: &str) -> String {
    app.tokens_sent_to(to).await.remove(0)
}

async fn session(app: &TestApp, token: &str) -> String {
    app.link(token).session(DOB).await
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    session: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    app.link(token)
        .call(method, Some(session), path, body)
        .await
}

async fn book(app: &TestApp, token: &str, session: &str, offer: &str) -> (u16, Value) {
    call(
        app,
        reqwest::Method::POST,
        token,
        session,
        "/booking",
        Some(json!({ "offer_id": offer })),
    )
    .await
}

/// A flu slot as the simulated book holds it now, by id.
async fn book_slot(app: &TestApp, slot_id: &str) -> domain::appointments::Slot {
    let search = SlotSearch {
        slot_type: "flu".into(),
        from: crate::helpers::start_of_test(),
        to: crate::helpers::start_of_test() + Duration::days(28),
        clinicians: vec![],
        channel: None,
        location: None,
        other_sites: vec![],
    };
    let slots = app.stack.appointments.search(&search).await.unwrap();
    slots.into_iter().find(|s| &*s.slot_id == slot_id).unwrap()
}

async fn cancel(app: &TestApp, token: &str, session: &str) -> (u16, Value) {
    call(
        app,
        reqwest::Method::POST,
        token,
        session,
        "/booking/cancel",
        None,
    )
    .await
}

async fn decline(app: &TestApp, token: &str, session: &str) -> (u16, Value) {
    call(app, reqwest::Method::POST, token, session, "/decline", None).await
}

async fn invite_of(app: &TestApp, token: &str, session: &str) -> Value {
    let (status, invite) = call(app, reqwest::Method::GET, token, session, "/invite", None).await;
    assert_eq!(status, 200, "{invite}");
    invite
}

async fn counts(app: &TestApp, batch_id: &str) -> Value {
    app.batch(batch_id).await["counts"]["invites"].clone()
}

fn invites(
    open: u64,
    pending: u64,
    booked: u64,
    failed: u64,
    declined: u64,
    cancelled: u64,
) -> Value {
    json!({"open": open, "pending": pending, "booked": booked, "failed": failed,
        "declined": declined, "cancelled": cancelled, "timed_out": 0})
}

async fn availability(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/v1/self-book/availability", &body).await
}

/// The link says it has expired, and refuses the date-of-birth check.
async fn assert_expired(app: &TestApp, token: &str) {
    let (status, page) = app.open_link(token).await;
    assert_eq!((status, page["state"].as_str()), (200, Some("expired")));
    let (status, refused) = app.verify(token, DOB).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (410, Some("link_expired"))
    );
}

/// The texts sent to `to`, in no particular order (the outbox's order is
/// not the sending order).
async fn texts_to(app: &TestApp, to: &str) -> Vec<String> {
    app.outbox()
        .await
        .into_iter()
        .filter(|m| m["to"] == to)
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn check_availability_counts_bookable_slots_per_clinician() {
    let app = spawn_app().await;
    // From an hour ahead for 7 days: Monday 10:00-11:55 (24 slots; the
    // book blocks its 18th, 27th and 36th and embargoes its 13th and 26th)
    // and Wednesday 14:00-16:55 (36 slots, its 57th to 92nd: 4 blocked, 3
    // embargoed). 19 + 29 = 48.
    let response = availability(&app, flu(json!({"within_days": 7}))).await;
    assert_eq!(response.status(), 200);
    let found: Value = response.json().await.unwrap();
    assert_eq!(
        found,
        json!({"bookable": 48, "by_clinician": {"nurse-patel": 48}})
    );
    // Naming a clinician with no flu sessions, or a slot type the book does
    // not have, finds nothing; it is not an error.
    let none = availability(
        &app,
        flu(json!({"within_days": 7, "clinicians": ["dr-okafor"]})),
    )
    .await;
    assert_eq!(none.json::<Value>().await.unwrap()["bookable"], 0);
    let none = availability(&app, flu(json!({"slot_type": "smear"}))).await;
    assert_eq!(none.json::<Value>().await.unwrap()["bookable"], 0);
    // Telephone reviews on Tuesday mornings: 20 a week, over 28 days.
    let phone = availability(
        &app,
        json!({"appointment_type": "telephone", "slot_type": "review", "timing": "time_window"}),
    )
    .await;
    // Four Tuesdays of 20, less the 13 the book blocks or embargoes.
    let phone: Value = phone.json().await.unwrap();
    assert_eq!(
        phone,
        json!({"bookable": 67, "by_clinician": {"dr-okafor": 67}})
    );
    for (body, detail) in [
        (
            flu(json!({"timing": "time_window"})),
            "self_book.timing: a time window is offered only for telephone appointments",
        ),
        (
            flu(json!({"within_days": 0})),
            "self_book.within_days: must be from 1 to 90",
        ),
        (
            flu(json!({"decline": {"snomed_code": "73211009", "wording": ""}})),
            "self_book.decline.wording: give the words the patient chooses to decline",
        ),
    ] {
        assert_eq!(
            problem(availability(&app, body).await).await,
            (422, detail.to_owned())
        );
    }
}

#[tokio::test]
async fn a_self_book_batch_is_refused_with_the_reason() {
    let app = spawn_app().await;
    let list: Value = app.upload_list(&clean_list(2)).await.json().await.unwrap();
    let base = json!({"name": "Flu", "list_id": list["list_id"], "message": MESSAGE, "self_book": flu(json!({}))});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let cases = [
        (
            with("message", json!(format!("{} ((link))", "x".repeat(300)))),
            "the message takes 3 text message fragments once filled in; this kind of batch allows at most 2",
        ),
        (
            with("message", json!("Book your flu jab")),
            "a batch with a questionnaire, an attachment or a Self-Book invite needs ((link)) in its message, where each patient's own link goes",
        ),
        (
            with("self_book", flu(json!({"slot_type": "smear"}))),
            "there are no bookable \"smear\" slots for this invite in the next 28 days; check availability, or change the invite",
        ),
        (
            with("questionnaire", json!("smoking_status")),
            "a batch is one kind: a questionnaire, an attachment, the inhaler series or Self-Book, never two",
        ),
        (
            with("self_book", flu(json!({"slot_type": ""}))),
            "self_book.slot_type: give the slot type to book",
        ),
    ];
    for (body, detail) in cases {
        assert_eq!(
            problem(app.post_json("/v1/batches", &body).await).await,
            (422, detail.to_owned())
        );
    }
    let created = app.post_json("/v1/batches", &base).await;
    assert_eq!(created.status(), 201);
}

#[tokio::test]
async fn a_patient_books_a_slot_another_is_told_it_was_taken_and_staff_see_the_counts() {
    let app = spawn_app().await;
    let batch_id = invite(&app, 2, flu(json!({}))).await;
    assert_eq!(counts(&app, &batch_id).await, invites(2, 0, 0, 0, 0, 0));
    let (first, second) = (link_of(&app, FIRST).await, link_of(&app, SECOND).await);
    let outbox = app.outbox().await;
    assert!(outbox[0]["body"]
        .as_str()
        .unwrap()
        .starts_with("Your flu jab: book a time at "));

    // Before the date-of-birth check the link says only that it is open.
    let (status, page) = app.open_link(&first).await;
    assert_eq!(
        (status, page),
        (200, json!({"state": "open", "contact": null}))
    );
    let (status, verified) = app.verify(&first, DOB).await;
    assert_eq!(status, 200);
    assert_eq!(
        verified["invite"],
        json!({"status": "open", "appointment_type": "in_person", "slot_type": "flu",
            "timing": "exact_time", "decline": "I don't want a flu jab",
            "expires_at": "2026-12-07T09:00:00Z"})
    );
    let one = verified["session"].as_str().unwrap().to_owned();
    let (status, offers) = call(&app, reqwest::Method::GET, &first, &one, "/slots", None).await;
    assert_eq!(status, 200);
    let offers = offers["offers"].as_array().unwrap().clone();
    assert_eq!(
        offers[0],
        json!({"offer_id": FIRST_FREE, "start": "2026-11-23T10:05:00Z", "end": "2026-11-23T10:10:00Z",
            "appointment_type": "in_person", "clinician": "Nurse Patel",
            "location": "Riverside Surgery, 1 High Street"})
    );
    // No slot before 10:00, none blocked or embargoed.
    assert!(offers
        .iter()
        .all(|o| o["offer_id"] != "2026-11-23-1000-nurse-patel-flu"
            && o["offer_id"] != "2026-11-23-1025-nurse-patel-flu"));

    let (status, pending) = book(&app, &first, &one, FIRST_FREE).await;
    assert_eq!(status, 202, "{pending}");
    assert_eq!(pending["status"], "pending");
    assert_eq!(
        pending["appointment"]["when"],
        "Monday 23 November 2026 at 10:05am"
    );
    // The same time for the second patient: taken, and told so plainly.
    let two = session(&app, &second).await;
    let (status, taken) = book(&app, &second, &two, FIRST_FREE).await;
    assert_eq!(
        (status, taken["code"].as_str(), taken["detail"].as_str()),
        (
            409,
            Some("slot_taken"),
            Some("that time was just taken; please choose another")
        )
    );
    // A time never offered.
    let (status, refused) = book(&app, &second, &two, "2026-11-23-1000-nurse-patel-flu").await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("no_such_offer"))
    );

    app.run_pending_work().await;
    let booked = invite_of(&app, &first, &one).await;
    assert_eq!(booked["status"], "booked");
    assert_eq!(
        booked["appointment"]["cancellable_until"],
        "2026-11-23T09:05:00Z"
    );
    assert!(booked.get("decline").is_none());
    let confirmation = texts_to(&app, FIRST).await;
    // The outbox's order is not the sending order: find the notice by its text.
    let expected = format!("Your appointment is booked for Monday 23 November 2026 at 10:05am, at Riverside Surgery, 1 High Street with Nurse Patel. To cancel, up to 1 hour before: {}/{first}", infra::embedded::DEFAULT_LINK_BASE_URL);
    assert_eq!(confirmation.len(), 2, "{confirmation:?}");
    assert!(confirmation.contains(&expected), "{confirmation:?}");
    assert_eq!(token_in(&expected), first);
    // The book holds it: the slot is no longer offered to anyone.
    let (_, offers) = call(&app, reqwest::Method::GET, &second, &two, "/slots", None).await;
    assert!(offers["offers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["offer_id"] != FIRST_FREE));
    assert_eq!(counts(&app, &batch_id).await, invites(1, 0, 1, 0, 0, 0));

    // Booked is booked: no second booking, no decline.
    let (status, again) = book(&app, &first, &one, "2026-11-23-1010-nurse-patel-flu").await;
    assert_eq!(
        (status, again["detail"].as_str()),
        (409, Some("your appointment is already booked"))
    );
    let (status, declined) = decline(&app, &first, &one).await;
    assert_eq!(
        (status, declined["code"].as_str()),
        (409, Some("already_booked"))
    );
}

#[tokio::test]
async fn a_patient_declines_for_good_and_an_invite_without_decline_refuses_it() {
    let app = spawn_app().await;
    let batch_id = invite(&app, 1, flu(json!({}))).await;
    let token = link_of(&app, FIRST).await;
    let s = session(&app, &token).await;
    let (status, declined) = decline(&app, &token, &s).await;
    assert_eq!(status, 200);
    assert_eq!(declined["status"], "declined");
    assert!(declined.get("decline").is_none());
    // Again: nothing changes.
    let (status, _) = decline(&app, &token, &s).await;
    assert_eq!(status, 200);
    let (status, refused) = book(&app, &token, &s, FIRST_FREE).await;
    assert_eq!(
        (status, refused["code"].as_str(), refused["detail"].as_str()),
        (
            409,
            Some("declined"),
            Some("you said you did not want this appointment")
        )
    );
    app.run_pending_work().await;
    assert_eq!(counts(&app, &batch_id).await, invites(0, 0, 0, 0, 1, 0));
    // The decline's code is what the invite recorded, and it is in the
    // patient's record, once, beside the invitation the batch saved.
    let rows = app.stack.views.deliveries(&batch_id).await.unwrap();
    assert_eq!(
        rows[0].invite.as_ref().unwrap().declined_code.as_deref(),
        Some("73211009")
    );
    let mut entries = app.stack.records.entries().await.unwrap();
    entries.sort_by(|a, b| a.idempotency_key.cmp(&b.idempotency_key));
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries[0].idempotency_key.ends_with(":1:record"));
    assert_eq!(
        (
            entries[1].snomed_code.as_deref(),
            entries[1].text.as_str(),
            entries[1].idempotency_key.ends_with(":1:record-decline")
        ),
        (
            Some("73211009"),
            "Self-Book invitation declined: I don't want a flu jab",
            true
        )
    );

    let app = spawn_app().await;
    invite(
        &app,
        1,
        json!({"appointment_type": "in_person", "slot_type": "flu"}),
    )
    .await;
    let token = link_of(&app, FIRST).await;
    let s = session(&app, &token).await;
    let (status, refused) = decline(&app, &token, &s).await;
    assert_eq!(
        (status, refused["detail"].as_str()),
        (
            409,
            Some("this invitation cannot be declined online; contact the practice")
        )
    );
}

#[tokio::test]
async fn a_booking_can_be_cancelled_until_an_hour_before_and_the_slot_is_freed() {
    let app = spawn_app().await;
    let batch_id = invite(&app, 2, flu(json!({}))).await;
    let (first, second) = (link_of(&app, FIRST).await, link_of(&app, SECOND).await);
    let (one, two) = (session(&app, &first).await, session(&app, &second).await);
    const MONDAY_11: &str = "2026-11-23-1100-nurse-patel-flu";
    const WEDNESDAY: &str = "2026-11-25-1400-nurse-patel-flu";
    assert_eq!(book(&app, &first, &one, MONDAY_11).await.0, 202);
    assert_eq!(book(&app, &second, &two, WEDNESDAY).await.0, 202);
    app.run_pending_work().await;

    // 10:00:01 is less than an hour before 11:00.
    app.clock
        .advance(Duration::minutes(60) + Duration::seconds(1));
    let one = session(&app, &first).await;
    let (status, late) = cancel(&app, &first, &one).await;
    assert_eq!(
        (status, late["detail"].as_str()),
        (409, Some("appointments can be cancelled online until 1 hour before they start; please contact the practice"))
    );
    let two = session(&app, &second).await;
    let (status, cancelled) = cancel(&app, &second, &two).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    app.run_pending_work().await;
    // Freed in the book: the slot is free again.
    let slot = book_slot(&app, WEDNESDAY).await;
    assert!(!slot.busy);
    // Cancelled is final.
    let (status, again) = book(&app, &second, &two, WEDNESDAY).await;
    assert_eq!((status, again["code"].as_str()), (409, Some("cancelled")));
    let (status, again) = cancel(&app, &second, &two).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(counts(&app, &batch_id).await, invites(0, 0, 1, 0, 0, 1));
}

#[tokio::test]
async fn a_booking_the_book_refuses_fails_releases_its_slot_and_the_patient_chooses_again() {
    let app = spawn_app().await;
    let batch_id = invite(&app, 2, flu(json!({}))).await;
    let (first, second) = (link_of(&app, FIRST).await, link_of(&app, SECOND).await);
    let one = session(&app, &first).await;
    assert_eq!(book(&app, &first, &one, FIRST_FREE).await.0, 202);
    // Reception books the same slot over the phone before the worker runs.
    let slot = book_slot(&app, FIRST_FREE).await;
    let phone = app
        .stack
        .appointments
        .book(&BookingRequest {
            slot,
            nhs_number: "9434765919".into(),
            idempotency_key: "reception".into(),
        })
        .await
        .unwrap();
    app.run_pending_work().await;
    let failed = invite_of(&app, &first, &one).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["failure"],
        "we could not book the time you chose; please choose another"
    );
    assert_eq!(failed["decline"], "I don't want a flu jab");
    let texts = texts_to(&app, FIRST).await;
    // The outbox's order is not the sending order: find the notice by its text.
    let failure = format!("Sorry, we could not book the appointment you chose. Please choose another time: {}/{first}", infra::embedded::DEFAULT_LINK_BASE_URL);
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts.contains(&failure), "{texts:?}");
    assert_eq!(counts(&app, &batch_id).await, invites(1, 0, 0, 1, 0, 0));
    // The claim was released: once reception frees the slot, anyone may take it.
    app.stack
        .appointments
        .cancel(&phone.appointment_id)
        .await
        .unwrap();
    let two = session(&app, &second).await;
    assert_eq!(book(&app, &second, &two, FIRST_FREE).await.0, 202);
    // The first patient chooses another time and is booked.
    assert_eq!(
        book(&app, &first, &one, "2026-11-23-1010-nurse-patel-flu")
            .await
            .0,
        202
    );
    app.run_pending_work().await;
    assert_eq!(invite_of(&app, &first, &one).await["status"], "booked");
    assert_eq!(invite_of(&app, &second, &two).await["status"], "booked");
    assert_eq!(counts(&app, &batch_id).await, invites(0, 0, 2, 0, 0, 0));
}

#[tokio::test]
async fn an_expired_or_revoked_link_books_nothing_but_a_booking_outlives_the_link() {
    let app = spawn_app().await;
    let batch_id = invite(&app, 3, flu(json!({"expiry": "24h"}))).await;
    let (first, second) = (link_of(&app, FIRST).await, link_of(&app, SECOND).await);
    let third = link_of(&app, "+447700100003").await;
    let one = session(&app, &first).await;
    const WEDNESDAY: &str = "2026-11-25-1400-nurse-patel-flu";
    assert_eq!(book(&app, &first, &one, WEDNESDAY).await.0, 202);
    app.run_pending_work().await;
    // A session opened before staff revoked the link books nothing after.
    let three = session(&app, &third).await;
    let (status, _) = app
        .revoke(&batch_id, json!({"nhs_number": third_nhs_number()}))
        .await;
    assert_eq!(status, 200);
    let (status, refused) = book(&app, &third, &three, FIRST_FREE).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (410, Some("link_withdrawn"))
    );

    app.clock
        .advance(Duration::hours(24) - Duration::seconds(1));
    let (status, _) = app.verify(&second, DOB).await;
    assert_eq!(status, 200);
    app.clock.advance(Duration::seconds(1));
    assert_expired(&app, &second).await;
    // The booked patient's link lasts until the appointment, so it can be
    // seen and cancelled.
    let one = session(&app, &first).await;
    let booked = invite_of(&app, &first, &one).await;
    assert_eq!(
        (booked["status"].as_str(), booked["expires_at"].as_str()),
        (Some("booked"), Some("2026-11-25T14:00:00Z"))
    );
    assert_eq!(counts(&app, &batch_id).await, invites(2, 0, 1, 0, 0, 0));
}

/// The third patient's NHS number on `clean_list`.
fn third_nhs_number() -> String {
    (600_000_001u32..)
        .filter_map(domain::values::NhsNumber::from_first_nine)
        .nth(2)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn delivered_twice_a_booking_is_made_once_and_confirmed_once() {
    let layer: infra::embedded::QueueLayer =
        Box::new(|inner| Arc::new(DuplicatingQueue(inner)) as Arc<dyn WorkQueue>);
    let app = spawn_app_with(Some(layer), tempfile::tempdir().unwrap()).await;
    invite(&app, 1, flu(json!({}))).await;
    let token = link_of(&app, FIRST).await;
    let s = session(&app, &token).await;
    assert_eq!(book(&app, &token, &s, FIRST_FREE).await.0, 202);
    app.run_pending_work().await;
    assert_eq!(invite_of(&app, &token, &s).await["status"], "booked");
    let texts = texts_to(&app, FIRST).await;
    assert_eq!(texts.len(), 2, "the invite and one confirmation: {texts:?}");
    let booked = app.stack.appointments.bookings().await.unwrap();
    assert_eq!(booked.len(), 1);
    assert_eq!(booked[0].0, FIRST_FREE);
    assert!(
        booked[0].1.starts_with(&format!("{ORG}:")) && booked[0].1.ends_with(":booking-1"),
        "{booked:?}"
    );
}

#[tokio::test]
async fn an_invite_left_past_its_expiry_times_out_and_a_booked_one_does_not() {
    let app = spawn_app().await;
    let batch_id = invite(&app, 2, flu(json!({"expiry": "48h"}))).await;
    let (first, second) = (link_of(&app, FIRST).await, link_of(&app, SECOND).await);
    let two = session(&app, &second).await;
    assert_eq!(
        book(&app, &second, &two, "2026-11-25-1400-nurse-patel-flu")
            .await
            .0,
        202
    );
    app.run_pending_work().await;
    app.clock
        .advance(Duration::hours(48) - Duration::seconds(1));
    app.run_pending_work().await;
    assert_eq!(counts(&app, &batch_id).await, invites(1, 0, 1, 0, 0, 0));
    app.clock.advance(Duration::seconds(1));
    app.run_pending_work().await;
    assert_eq!(
        counts(&app, &batch_id).await,
        json!({"open": 0, "pending": 0, "booked": 1, "failed": 0, "declined": 0, "cancelled": 0, "timed_out": 1})
    );
    assert_expired(&app, &first).await;
    // The booked patient's link still works, until the appointment.
    let two = session(&app, &second).await;
    assert_eq!(invite_of(&app, &second, &two).await["status"], "booked");
}

#[tokio::test]
async fn a_booked_patient_is_reminded_a_day_before_and_a_cancelled_one_is_not() {
    let app = spawn_app().await;
    invite(&app, 2, flu(json!({}))).await;
    let (first, second) = (link_of(&app, FIRST).await, link_of(&app, SECOND).await);
    let (one, two) = (session(&app, &first).await, session(&app, &second).await);
    assert_eq!(
        book(&app, &first, &one, "2026-11-25-1400-nurse-patel-flu")
            .await
            .0,
        202
    );
    assert_eq!(
        book(&app, &second, &two, "2026-11-25-1405-nurse-patel-flu")
            .await
            .0,
        202
    );
    app.run_pending_work().await;
    let (status, _) = cancel(&app, &second, &two).await;
    assert_eq!(status, 200);
    app.run_pending_work().await;
    // Tuesday 14:00 is a day before; a second earlier, nothing yet.
    app.clock
        .advance(Duration::hours(29) - Duration::seconds(1));
    app.run_pending_work().await;
    assert_eq!(texts_to(&app, FIRST).await.len(), 2);
    app.clock.advance(Duration::seconds(1));
    app.run_pending_work().await;
    app.run_pending_work().await;
    let reminder = format!("Reminder: your appointment is on Wednesday 25 November 2026 at 2pm, at Riverside Surgery, 1 High Street with Nurse Patel. To cancel, up to 1 hour before: {}/{first}", infra::embedded::DEFAULT_LINK_BASE_URL);
    let sent = texts_to(&app, FIRST).await;
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent.contains(&reminder), "{sent:?}");
    // The cancelled patient had the invite and the confirmation only.
    assert_eq!(texts_to(&app, SECOND).await.len(), 2);
}

async fn report(app: &TestApp, batch_id: &str, name: &str) -> String {
    let response = app
        .request(
            reqwest::Method::GET,
            &format!("/v1/batches/{batch_id}/{name}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn booked_and_not_booked_reports_keep_the_uploads_columns_and_upload_again_unchanged() {
    let app = spawn_app().await;
    let csv = clean_list(4);
    let patients: Vec<&str> = csv.lines().skip(1).collect();
    let batch_id = invite(&app, 4, flu(json!({}))).await;
    let one = link_of(&app, FIRST).await;
    let s = session(&app, &one).await;
    assert_eq!(book(&app, &one, &s, FIRST_FREE).await.0, 202);
    let two = link_of(&app, SECOND).await;
    let s = session(&app, &two).await;
    let (status, _) = decline(&app, &two, &s).await;
    assert_eq!(status, 200);
    app.run_pending_work().await;

    let booked = report(&app, &batch_id, "booked.csv").await;
    assert_eq!(
        booked,
        format!(
            "NHS Number,Given Name,Telecom Number,Date of Birth,Status,Appointment\n{},Booked,2026-11-23 10:05\n",
            patients[0]
        )
    );
    let not_booked = report(&app, &batch_id, "not-booked.csv").await;
    assert_eq!(
        not_booked,
        format!(
            "NHS Number,Given Name,Telecom Number,Date of Birth,Status\n{},Declined\n{},Open\n{},Open\n",
            patients[1], patients[2], patients[3]
        )
    );

    // Uploaded again as they are, each is a list of its patients.
    for (file, patients) in [(&not_booked, 3), (&booked, 1)] {
        let list = app.upload_list(file).await;
        assert_eq!(list.status(), 201);
        let list: Value = list.json().await.unwrap();
        assert_eq!(
            (&list["patient_count"], &list["contactable_count"]),
            (&json!(patients), &json!(patients))
        );
    }
    // Inviting the not-booked again: its report has one Status column, the
    // new one.
    let list: Value = app.upload_list(&not_booked).await.json().await.unwrap();
    let again = app
        .send_batch_from(
            json!({"name": "Flu, again", "list_id": list["list_id"], "message": MESSAGE,
            "self_book": flu(json!({}))}),
        )
        .await;
    let report_again = report(&app, &again, "not-booked.csv").await;
    assert_eq!(
        report_again.lines().next().unwrap(),
        "NHS Number,Given Name,Telecom Number,Date of Birth,Status"
    );
    assert!(
        report_again.lines().skip(1).all(|l| l.ends_with(",Open")),
        "{report_again}"
    );
    // Other batches have no such report.
    let plain = app.send_list(&clean_list(1)).await;
    app.run_pending_work().await;
    let response = app
        .request(
            reqwest::Method::GET,
            &format!("/v1/batches/{plain}/booked.csv"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(response).await,
        (422, "this batch sent no Self-Book invites".to_owned())
    );
}

async fn invite_one(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/v1/invites", &body).await
}

#[tokio::test]
async fn one_patient_is_invited_to_another_organisations_site_where_the_settings_allow_it() {
    let app = spawn_app().await;
    let patient = json!({"nhs_number": "943 476 5919", "mobile": "07700 100001",
        "date_of_birth": "1950-02-01", "given_name": "Ada"});
    let body = |patient: Value, location: &str| {
        json!({"patient": patient, "message": "Dear ((name)), book your flu jab: ((link))",
            "self_book": flu(json!({"location": location}))})
    };
    // The hub belongs to another practice: not until the settings say so.
    assert_eq!(
        problem(invite_one(&app, body(patient.clone(), "hub")).await).await,
        (422, "self_book.location: \"hub\" is a site of another organisation (B81001); add it to other_sites in the settings to book there".to_owned())
    );
    // A patient who cannot be invited is refused field by field.
    for (field, value, detail) in [
        (
            "nhs_number",
            "943 476 5918",
            "patient.nhs_number: the NHS number's check digit is wrong",
        ),
        (
            "mobile",
            "0161 496 0000",
            "patient.mobile: this is a UK number but not a mobile",
        ),
        (
            "date_of_birth",
            "01/02/1950",
            "patient.date_of_birth: write the date of birth as YYYY-MM-DD, not in the future",
        ),
    ] {
        let mut bad = patient.clone();
        bad[field] = json!(value);
        let (status, refused) = problem(invite_one(&app, body(bad, "riverside")).await).await;
        assert_eq!(status, 422);
        assert_eq!(refused, detail);
    }
    let settings = app
        .request(reqwest::Method::PUT, "/v1/settings")
        .json(&json!({"flag_mobiles_likely_to_fail": false, "other_sites": ["hub"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status(), 200);
    // Sent twice with one Idempotency-Key (a retry): one invite, one text.
    let keyed = || {
        app.request(reqwest::Method::POST, "/v1/invites")
            .header("idempotency-key", "invite-ada-1")
            .json(&body(patient.clone(), "hub"))
            .send()
    };
    let created = keyed().await.unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let again: Value = keyed().await.unwrap().json().await.unwrap();
    assert_eq!(again, created);
    let batch_id = created["batch_id"].as_str().unwrap().to_owned();
    app.run_pending_work().await;
    let sent = app.outbox().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["to"], FIRST);
    assert!(sent[0]["body"]
        .as_str()
        .unwrap()
        .starts_with("Dear Ada, book your flu jab: "));
    let token = link_of(&app, FIRST).await;
    let s = session(&app, &token).await;
    let (_, offers) = call(&app, reqwest::Method::GET, &token, &s, "/slots", None).await;
    let offers = offers["offers"].as_array().unwrap();
    // Only the hub's Saturday clinic: the invite names the hub.
    assert!(
        offers
            .iter()
            .all(|o| o["location"] == "Riverside PCN Hub, 5 Mill Lane"),
        "{offers:?}"
    );
    assert_eq!(offers[0]["offer_id"], "2026-11-28-0900-nurse-patel-flu");
    assert_eq!(
        book(&app, &token, &s, "2026-11-28-0900-nurse-patel-flu")
            .await
            .0,
        202
    );
    app.run_pending_work().await;
    let booked = invite_of(&app, &token, &s).await;
    assert_eq!(
        booked["appointment"]["location"],
        "Riverside PCN Hub, 5 Mill Lane"
    );
    assert_eq!(counts(&app, &batch_id).await, invites(0, 0, 1, 0, 0, 0));
    // Allowed, the hub counts for any invite: 48 at the surgery, and at the
    // hub 36 less the 6 it blocks or embargoes and the one just booked.
    let found: Value = availability(&app, flu(json!({"within_days": 7})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["bookable"], 48 + 29);
}

#[tokio::test]
async fn five_wrong_dates_of_birth_lock_an_invite_link_and_it_books_nothing_after() {
    let app = spawn_app().await;
    invite(&app, 1, flu(json!({}))).await;
    let token = link_of(&app, FIRST).await;
    let s = session(&app, &token).await;
    for left in (0..5).rev() {
        let (status, wrong) = app.verify(&token, "1950-02-02").await;
        if left > 0 {
            assert_eq!((status, &wrong["attempts_left"]), (403, &json!(left)));
        } else {
            assert_eq!((status, wrong["code"].as_str()), (423, Some("link_locked")));
        }
    }
    let (status, page) = app.open_link(&token).await;
    assert_eq!((status, page["state"].as_str()), (200, Some("locked")));
    // Even the right date, and a session from before, book nothing now.
    let (status, _) = app.verify(&token, DOB).await;
    assert_eq!(status, 423);
    let (status, refused) = book(&app, &token, &s, FIRST_FREE).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (423, Some("link_locked"))
    );
    assert!(app.stack.appointments.bookings().await.unwrap().is_empty());
}

/// Two practices that share a hub invite a patient each to it, and both
/// patients choose the hub's same Saturday slot at the same moment: the
/// slot is claimed across organisations, so one is booked and the other
/// is told at once that it was just taken.
#[tokio::test]
async fn two_practices_racing_for_one_shared_hub_slot_get_one_booking_and_one_just_taken() {
    const HUB_SLOT: &str = "2026-11-28-0900-nurse-patel-flu";
    let app = spawn_app().await;
    let list = clean_list(2);
    let patients: Vec<Vec<&str>> = list
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let practices = [(ORG, FIRST), ("C82001", SECOND)];
    for ((org, _), patient) in practices.iter().zip(&patients) {
        let settings = app
            .as_org(app.client.put(format!("{}/v1/settings", app.address)), org)
            .json(&json!({"flag_mobiles_likely_to_fail": false, "other_sites": ["hub"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(settings.status(), 200);
        let invited = app
            .as_org(app.client.post(format!("{}/v1/invites", app.address)), org)
            .json(
                &json!({"patient": {"nhs_number": patient[0], "mobile": patient[2],
                    "date_of_birth": DOB, "given_name": "Ada"},
                "message": "Dear ((name)), book your flu jab: ((link))",
                "self_book": flu(json!({"location": "hub"}))}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(invited.status(), 201, "{}", invited.text().await.unwrap());
    }
    app.run_pending_work().await;
    let mut links = Vec::new();
    for (org, to) in practices {
        let sent = app.outbox_as(org).await;
        assert_eq!(sent.len(), 1, "{org}");
        assert_eq!(sent[0]["to"], to);
        let token = token_in(sent[0]["body"].as_str().unwrap());
        let s = session(&app, &token).await;
        links.push((token, s));
    }
    let ((a, a_session), (b, b_session)) = (&links[0], &links[1]);
    let (first, second) = tokio::join!(
        book(&app, a, a_session, HUB_SLOT),
        book(&app, b, b_session, HUB_SLOT)
    );
    let mut outcomes = [
        (first.0, first.1["status"].clone(), first.1["code"].clone()),
        (
            second.0,
            second.1["status"].clone(),
            second.1["code"].clone(),
        ),
    ];
    outcomes.sort_by_key(|o| o.0);
    assert_eq!(
        outcomes,
        [
            (202, json!("pending"), Value::Null),
            (409, json!(409), json!("slot_taken")),
        ]
    );
    app.run_pending_work().await;
    assert!(book_slot(&app, HUB_SLOT).await.busy);
    let mut statuses = Vec::new();
    for (token, s) in &links {
        let invite = invite_of(&app, token, s).await;
        statuses.push(invite["status"].as_str().unwrap().to_owned());
    }
    statuses.sort();
    assert_eq!(statuses, ["booked", "open"]);
}

/// The batch's read-out gives the Self-Book set-up as it was asked for,
/// leaving out what was not given: the OpenAPI document says those fields
/// take no `null` (a request may not send one), so a response sends none.
#[tokio::test]
async fn a_self_book_batch_reads_back_its_set_up_without_nulls() {
    let app = spawn_app().await;
    let list: Value = app.upload_list(&clean_list(2)).await.json().await.unwrap();
    let created = app
        .request(reqwest::Method::POST, "/v1/batches")
        .json(
            &json!({"name": "Flu", "list_id": list["list_id"], "message": MESSAGE,
                      "self_book": {"appointment_type": "in_person", "slot_type": "flu"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let batch = app.batch(created["batch_id"].as_str().unwrap()).await;
    assert_eq!(
        batch["self_book"],
        json!({"appointment_type": "in_person", "slot_type": "flu", "timing": "exact_time",
               "clinicians": [], "expiry": "14d"})
    );
}
