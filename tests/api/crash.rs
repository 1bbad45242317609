//! The runtime stopped midway through sending, then restarted on the same
//! data directory: no patient is messaged twice and none is missed.
//! (`functions/tests/kill.rs` does the same with `kill -9` on a real process.)
//! The same for Self-Book: stopped with bookings in flight (some made in the
//! book with their answer lost), every patient's choice ends booked once.

use std::sync::Arc;
use std::time::Duration;

use domain::aggregates::InviteStatus;
use domain::appointments::{
    AppointmentBook, BookError, BookedAppointment, BookingRequest, Slot, SlotSearch,
};
use domain::ports::{Clock, FakeClock};
use domain::usecases::CreateBatch;
use domain::values::OrganisationId;
use domain::Caller;
use infra::embedded::{EmbeddedConfig, EmbeddedStack};

use crate::helpers::{assert_one_message_each, clean_list};

/// More than one round of sends (a round takes up to 1,000), so the first
/// life is dropped with sends and commits of a later round in flight.
const PATIENTS: usize = 2_500;

fn caller() -> Caller {
    Caller::user(
        OrganisationId::parse("A12345").unwrap(),
        "test-user",
        "Test user",
        domain::Role::Admin,
        "crash-test",
    )
}

/// Creates a batch of `list_id` with `template` (a Self-Book invite when
/// `self_book` is given) and sends it now.
async fn create_and_send(
    stack: &EmbeddedStack,
    list_id: String,
    template: &str,
    self_book: Option<events::SelfBook>,
) -> String {
    let batch_id = stack
        .app
        .create_batch(
            &caller(),
            CreateBatch {
                workspace_id: None,
                name: "Crash".into(),
                list_id,
                template: template.into(),
                template_id: None,
                email_subject: None,
                snomed_code: None,
                content: self_book.map_or(domain::content::BatchContent::Message, |s| {
                    domain::content::BatchContent::SelfBook(Box::new(s))
                }),
            },
            None,
        )
        .await
        .unwrap();
    stack
        .app
        .send_batch(
            &caller(),
            &batch_id,
            domain::policies::SendPlan::now(),
            None,
        )
        .await
        .unwrap();
    batch_id
}

fn config(dir: &std::path::Path, sms_delay: Duration) -> EmbeddedConfig {
    let mut config = EmbeddedConfig::new(dir);
    config.providers.delay = sms_delay;
    config.clock = Arc::new(domain::ports::SystemClock) as Arc<dyn Clock>;
    config.clinical_system = infra::simulators::ClinicalSystemPace::instant();
    config
}

#[test]
fn a_runtime_dropped_midway_and_restarted_sends_each_message_exactly_once() {
    let data = tempfile::tempdir().unwrap();

    // First life: a slow provider, and the runtime dropped mid-flight, with
    // sends and commits cancelled wherever they had got to.
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (batch_id, before) = first.block_on(async {
        let stack = Arc::new(
            EmbeddedStack::open(config(data.path(), Duration::from_millis(50)))
                .await
                .unwrap(),
        );
        // This test runs on the real clock, so its organisation sends at
        // any hour.
        let settings = domain::usecases::OrganisationSettings {
            sending_window: domain::policies::SendingWindow::always(),
            ..Default::default()
        };
        stack
            .app
            .update_settings(&caller(), settings)
            .await
            .unwrap();
        let list = stack
            .app
            .upload_list(&caller(), clean_list(PATIENTS).into_bytes(), None, None)
            .await
            .unwrap();
        let batch_id = create_and_send(&stack, list.list_id, "Hello ((name))", None).await;
        let runner = stack.clone();
        tokio::spawn(async move { runner.run(std::future::pending()).await });
        let mut sent = 0;
        while sent < 50 {
            tokio::time::sleep(Duration::from_millis(1)).await;
            sent = stack.providers.outbox_count().await.unwrap();
        }
        (batch_id, sent)
    });
    drop(first);
    assert!(
        before < PATIENTS as u64,
        "the first life must stop midway (it sent {before})"
    );

    // Second life on the same directory.
    let second = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        let stack = EmbeddedStack::open(config(data.path(), Duration::ZERO))
            .await
            .unwrap();
        stack.run_pending_work().await.unwrap();
        let summary = stack.app.batch(&caller(), &batch_id).await.unwrap();
        assert_eq!(summary.status.label(), "Saved");
        assert_eq!(summary.delivered_count, PATIENTS as u64);
        let outbox: Vec<serde_json::Value> = stack
            .providers
            .outbox()
            .await
            .unwrap()
            .into_iter()
            .map(|m| serde_json::json!({"to": m.to}))
            .collect();
        assert_one_message_each(&outbox, PATIENTS);
    });
}

/// The appointment book, slowed down, so a runtime can be dropped with
/// bookings in flight.
struct SlowBook(Arc<dyn AppointmentBook>);

#[async_trait::async_trait]
impl AppointmentBook for SlowBook {
    async fn search(&self, search: &SlotSearch) -> Result<Vec<Slot>, BookError> {
        self.0.search(search).await
    }
    async fn slots_between(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Slot>, BookError> {
        self.0.slots_between(from, to).await
    }
    async fn book(&self, request: &BookingRequest) -> Result<BookedAppointment, BookError> {
        tokio::time::sleep(Duration::from_millis(30)).await;
        let booked = self.0.book(request).await;
        // The answer may be lost on the way back, too.
        tokio::time::sleep(Duration::from_millis(30)).await;
        booked
    }
    async fn cancel(&self, appointment_id: &str) -> Result<(), BookError> {
        self.0.cancel(appointment_id).await
    }
}

fn self_book_config(dir: &std::path::Path, clock: Arc<FakeClock>) -> EmbeddedConfig {
    let mut config = EmbeddedConfig::new(dir);
    config.clock = clock as Arc<dyn Clock>;
    config.clinical_system = infra::simulators::ClinicalSystemPace::instant();
    config.book_layer = Some(Box::new(|book| Arc::new(SlowBook(book))));
    config
}

const INVITED: usize = 60;

#[test]
fn a_runtime_dropped_midway_through_bookings_books_each_slot_once_and_loses_no_choice() {
    let data = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::at(crate::helpers::start_of_test()));
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // First life: every patient chooses a different time at once while the
    // background work books them; dropped once a few are in the book.
    let (tokens, offers, before) = first.block_on(async {
        let stack = Arc::new(
            EmbeddedStack::open(self_book_config(data.path(), clock.clone()))
                .await
                .unwrap(),
        );
        let list = stack
            .app
            .upload_list(&caller(), clean_list(INVITED).into_bytes(), None, None)
            .await
            .unwrap();
        let config = serde_json::from_value(serde_json::json!(
            {"appointment_type": "in_person", "slot_type": "flu"}
        ))
        .unwrap();
        create_and_send(&stack, list.list_id, "Book: ((link))", Some(config)).await;
        stack.run_pending_work().await.unwrap();
        let tokens: Vec<String> = stack
            .providers
            .outbox()
            .await
            .unwrap()
            .iter()
            .map(|m| crate::helpers::token_in(&m.body))
            .collect();
        assert_eq!(tokens.len(), INVITED);
        let mut sessions = Vec::new();
        for token in &tokens {
            sessions.push(
                stack
                    .app
                    .verify_link(token, "1950-02-01")
                    .await
                    .unwrap()
                    .session,
            );
        }
        let offers: Vec<String> = stack
            .app
            .link_offers(&tokens[0], &sessions[0])
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.offer_id.to_string())
            .take(INVITED)
            .collect();
        let runner = stack.clone();
        tokio::spawn(async move { runner.run(std::future::pending()).await });
        for (i, token) in tokens.iter().enumerate() {
            let (app, token, session, offer) = (
                stack.app.clone(),
                token.clone(),
                sessions[i].clone(),
                offers[i].clone(),
            );
            tokio::spawn(async move { app.book_offer(&token, &session, &offer).await });
        }
        let mut before = 0;
        while before < 5 {
            tokio::time::sleep(Duration::from_millis(1)).await;
            before = stack.appointments.bookings().await.unwrap().len();
        }
        (tokens, offers, before)
    });
    drop(first);
    assert!(
        before < INVITED,
        "the first life must stop midway (it booked {before})"
    );

    let second = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        let stack = EmbeddedStack::open(self_book_config(data.path(), clock.clone()))
            .await
            .unwrap();
        // Messages left in flight are visible again at once; bookings whose
        // answer was lost are asked for again under the same key.
        stack.run_pending_work().await.unwrap();
        let mut statuses = Vec::new();
        for token in &tokens {
            let session = stack
                .app
                .verify_link(token, "1950-02-01")
                .await
                .unwrap()
                .session;
            statuses.push(stack.app.link_invite(token, &session).await.unwrap().status);
        }
        let booked = statuses
            .iter()
            .filter(|s| **s == InviteStatus::Booked)
            .count();
        assert!(
            statuses
                .iter()
                .all(|s| matches!(s, InviteStatus::Booked | InviteStatus::Open)),
            "nobody is left pending or failed: {statuses:?}"
        );
        let in_book = stack.appointments.bookings().await.unwrap();
        assert_eq!(in_book.len(), booked, "one booking per booked patient");
        // A patient whose choice died with the process chooses again (their
        // claim on the slot is their own) and is booked; once a claim is
        // stale, anyone may take it.
        clock.advance(chrono::Duration::minutes(3));
        for (i, token) in tokens.iter().enumerate() {
            if statuses[i] == InviteStatus::Open {
                let session = stack
                    .app
                    .verify_link(token, "1950-02-01")
                    .await
                    .unwrap()
                    .session;
                stack
                    .app
                    .book_offer(token, &session, &offers[i])
                    .await
                    .unwrap();
            }
        }
        stack.run_pending_work().await.unwrap();
        let in_book = stack.appointments.bookings().await.unwrap();
        let slots: std::collections::HashSet<&String> = in_book.iter().map(|(s, _)| s).collect();
        assert_eq!((in_book.len(), slots.len()), (INVITED, INVITED));
    });
}
