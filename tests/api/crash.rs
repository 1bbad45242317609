//! The runtime stopped midway through sending, then restarted on the same
//! data directory: no patient is messaged twice and none is missed.
//! (`functions/tests/kill.rs` does the same with `kill -9` on a real process.)

use std::sync::Arc;
use std::time::Duration;

use domain::ports::Clock;
use domain::usecases::CreateBatch;
use domain::values::OrganisationId;
use domain::Caller;
use infra::embedded::{EmbeddedConfig, EmbeddedStack};

use crate::helpers::{assert_one_message_each, clean_list};

/// More than one round of sends (a round takes up to 1,000), so the first
/// life is dropped with sends and commits of a later round in flight.
const PATIENTS: usize = 2_500;

fn caller() -> Caller {
    Caller {
        organisation_id: OrganisationId::parse("A12345").unwrap(),
        actor: "test".into(),
        correlation_id: "crash-test".into(),
    }
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
        let batch_id = stack
            .app
            .create_batch(
                &caller(),
                CreateBatch {
                    name: "Crash".into(),
                    list_id: list.list_id,
                    template: "Hello ((name))".into(),
                    email_subject: None,
                    snomed_code: None,
                    questionnaire: None,
                    inhaler_series: false,
                    attachment_id: None,
                    self_book: None,
                },
                None,
            )
            .await
            .unwrap();
        stack
            .app
            .send_batch(&caller(), &batch_id, None, None, None)
            .await
            .unwrap();
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
