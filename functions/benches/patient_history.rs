//! One patient's history from a large store (issue 19): `audit history
//! --patient` (with the patient's details joined) and a subject access
//! request, on the embedded stack. Goal: under 1 s from 5 million events.
//!
//! ```sh
//! cargo bench -p functions --bench patient_history                 # 5,000,000 events, 5 runs
//! BATCHBOOK_BENCH_EVENTS=500000 BATCHBOOK_BENCH_RUNS=3 cargo bench -p functions --bench patient_history
//! ```
//!
//! The store is made of real parts first: `batchbook demo`'s own code
//! checks a list of `BATCHBOOK_BENCH_PATIENTS` (default 50,000) and sends
//! it an SMS batch (about three events a patient); `BATCHBOOK_BENCH_BATCHES`
//! (default 50) more batches are drafted from the same list, so the patient
//! is in every one of them. Then the log is filled to
//! `BATCHBOOK_BENCH_EVENTS` with other batches' deliveries (a sent and a
//! delivered event each), committed through the event store's own writer,
//! hash chain and all. Each run times the export and the subject access
//! request for a patient in the middle of the list; then the medians, and
//! once the same history read without the index, for the ratio.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use domain::aggregates::Delivery;
use domain::ports::HistorySubject;
use domain::usecases::audit::HistoryRequest;
use domain::usecases::CreateBatch;
use domain::values::{NhsNumber, OrganisationId};
use domain::{Caller, Role};
use futures::StreamExt;
use infra::embedded::{
    open_pool, Database, EmbeddedConfig, EmbeddedEventRepository, EmbeddedStack, GroupWriter,
};

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Commits `deliveries` other deliveries (two events each) of synthetic
/// batches, many commits at once so the writer groups them.
async fn pad(dir: &std::path::Path, deliveries: u64) -> Result<(), Box<dyn std::error::Error>> {
    let pool = open_pool(dir, Database::Events).await?;
    let repository = Arc::new(EmbeddedEventRepository::new(
        pool.clone(),
        GroupWriter::start(pool.clone()),
    ));
    let at = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    let metadata = serde_json::to_value(events::EventMetadata {
        organisation_id: "A12345".into(),
        actor: "system:send-worker".into(),
        actor_name: None,
        correlation_id: "bench".into(),
        occurred_at: at,
    })?;
    let rows_per_batch = 20_000;
    let results = futures::stream::iter(0..deliveries)
        .map(|n| {
            let repository = repository.clone();
            let metadata = metadata.clone();
            async move {
                let batch_id = format!("padding-{:05}", n / rows_per_batch);
                let row = n % rows_per_batch + 1;
                let id = format!("{batch_id}:{row}");
                let event = |sequence, payload: events::DeliveryEvent| {
                    use cqrs_es::DomainEvent;
                    SerializedEvent::new(
                        id.clone(),
                        sequence,
                        "Delivery".into(),
                        payload.event_type(),
                        payload.event_version(),
                        serde_json::to_value(&payload).expect("an event serialises"),
                        metadata.clone(),
                    )
                };
                let events = [
                    event(
                        1,
                        events::DeliveryEvent::MessageSent {
                            batch_id: batch_id.clone(),
                            row,
                            channel: events::Channel::Sms,
                            provider_reference: format!("sim-{n}"),
                            idempotency_key: format!("A12345:{id}:sms"),
                            sent_at: at,
                            fallback_due_at: None,
                            recipient_fingerprint: None,
                        },
                    ),
                    event(
                        2,
                        events::DeliveryEvent::MessageDelivered {
                            batch_id,
                            row,
                            channel: events::Channel::Sms,
                            delivered_at: at,
                        },
                    ),
                ];
                repository.persist::<Delivery>(&events, None).await
            }
        })
        .buffer_unordered(512)
        .collect::<Vec<_>>()
        .await;
    for result in results {
        result?;
    }
    pool.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = common::env_number("BATCHBOOK_BENCH_EVENTS", 5_000_000) as u64;
    let patients = common::env_number("BATCHBOOK_BENCH_PATIENTS", 50_000);
    let batches = common::env_number("BATCHBOOK_BENCH_BATCHES", 50);
    let runs = common::env_number("BATCHBOOK_BENCH_RUNS", 5).max(1);
    let dir = tempfile::tempdir()?;

    let made = Instant::now();
    let demo = functions::demo::run(dir.path(), patients).await?;
    let stack = EmbeddedStack::open(EmbeddedConfig::new(dir.path())).await?;
    let org = OrganisationId::parse("A12345")?;
    let staff = Caller::user(org.clone(), "sam", "Sam Jones", Role::Staff, "bench");
    let summary = stack.app.batch(&staff, &demo.batch_id).await?;
    for n in 0..batches {
        stack
            .app
            .create_batch(
                &staff,
                CreateBatch {
                    name: format!("Recall {n}"),
                    list_id: summary.list_id.clone(),
                    template: "Please book your review".into(),
                    template_id: None,
                    email_subject: None,
                    snomed_code: None,
                    content: Default::default(),
                    workspace_id: None,
                },
                None,
            )
            .await?;
    }
    stack.run_pending_work().await?;
    let artifact = std::fs::read(dir.path().join("blobs").join(&summary.artifact_key))?;
    let rows: Vec<domain::lists::CheckedRow> =
        domain::lists::artifact_rows(&artifact).collect::<Result<_, _>>()?;
    let nhs_number = rows[rows.len() / 2]
        .nhs_number
        .clone()
        .ok_or("the middle row has an NHS number")?;
    let real: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&open_pool(dir.path(), Database::Events).await?)
        .await?;
    drop(stack);
    let padding = target.saturating_sub(real as u64) / 2;
    let padded = Instant::now();
    pad(dir.path(), padding).await?;
    let padded = padded.elapsed();
    let stack = EmbeddedStack::open(EmbeddedConfig::new(dir.path())).await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&open_pool(dir.path(), Database::Events).await?)
        .await?;
    println!(
        "store: {total} events ({real} from the demo of {patients} patients and {batches} more batches, {} padding at {:.0} events/s), made in {:.0} s",
        padding * 2,
        (padding * 2) as f64 / padded.as_secs_f64(),
        made.elapsed().as_secs_f64()
    );

    let auditor = Caller::user(org, "ida", "ida", Role::Auditor, "bench");
    let nhs_number = NhsNumber::parse(&nhs_number)?;
    let request = HistoryRequest {
        subject: HistorySubject::Patient(nhs_number.clone()),
        from: None,
        to: None,
        patient_details: true,
    };
    let (mut exports, mut accesses) = (Vec::new(), Vec::new());
    let mut history_events = 0;
    for run in 1..=runs {
        let started = Instant::now();
        let history = stack
            .app
            .audit_history(
                &auditor,
                &HistoryRequest {
                    subject: HistorySubject::Patient(nhs_number.clone()),
                    from: None,
                    to: None,
                    patient_details: true,
                },
            )
            .await?;
        let export = started.elapsed();
        let started = Instant::now();
        let access = stack.app.subject_access(&auditor, &nhs_number).await?;
        let answer = started.elapsed();
        assert_eq!(access.batches.len(), batches + 1);
        println!(
            "run {run}: history of one patient, {} events, in {:.1} ms; subject access request ({} batches) in {:.1} ms",
            history.entries.len(),
            export.as_secs_f64() * 1e3,
            access.batches.len(),
            answer.as_secs_f64() * 1e3
        );
        history_events = history.entries.len();
        exports.push(export);
        accesses.push(answer);
    }
    let (export, access) = (median(exports), median(accesses));
    println!(
        "median of {runs} from {total} events: history {:.1} ms, subject access {:.1} ms (goal under 1,000 ms)",
        export.as_secs_f64() * 1e3,
        access.as_secs_f64() * 1e3
    );

    // For comparison, once: the same history read the long way, as from a
    // data directory the index has not yet completed (every list read,
    // every search and conversation).
    sqlx::query("DELETE FROM patient_index_complete")
        .execute(&open_pool(dir.path(), Database::Work).await?)
        .await?;
    let started = Instant::now();
    let long_way = stack.app.audit_history(&auditor, &request).await?;
    let took = started.elapsed();
    assert_eq!(long_way.entries.len(), history_events);
    println!(
        "without the index: history in {:.1} ms, {:.1} times the indexed median",
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() / export.as_secs_f64()
    );
    Ok(())
}
