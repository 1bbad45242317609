//! Ports whose embedded and AWS adapters must behave alike: each contract
//! runs against both.

use chrono::{Duration, TimeZone, Utc};
use domain::ports::{
    BlobStore, IdempotencyClaim, IdempotencyRecords, ProviderReferences, Timer, TimerJob, Timers,
};
use infra::aws::{DynamoIdempotency, DynamoTimers, S3BlobStore};
use infra::embedded::{open_pool, Database, FsBlobStore, SqliteIdempotency, SqliteTimers};

use super::env::AwsTestEnv;

async fn timers_contract(timers: &dyn Timers) {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let timer = |id: &str, minutes| Timer {
        id: id.into(),
        due_at: t0 + Duration::minutes(minutes),
        job: TimerJob::StartScheduledSend {
            organisation_id: "A12345".into(),
            batch_id: id.into(),
        },
    };
    for id in ["a", "b", "c", "d", "e", "f"] {
        timers
            .schedule(timer(&format!("late-{id}"), 30))
            .await
            .unwrap();
    }
    timers.schedule(timer("early", 10)).await.unwrap();
    timers.schedule(timer("early", 99)).await.unwrap(); // the first schedule stands
    assert!(
        timers.due(t0, 10).await.unwrap().is_empty(),
        "nothing is due yet"
    );
    let due = timers.due(t0 + Duration::minutes(10), 10).await.unwrap();
    assert_eq!(due, vec![timer("early", 10)]);
    let due = timers.due(t0 + Duration::hours(1), 3).await.unwrap();
    assert_eq!(
        due,
        vec![timer("early", 10), timer("late-a", 30), timer("late-b", 30)]
    );
    timers.complete("early").await.unwrap();
    timers.complete("late-a").await.unwrap();
    let due = timers.due(t0 + Duration::hours(1), 10).await.unwrap();
    let ids: Vec<&str> = due.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["late-b", "late-c", "late-d", "late-e", "late-f"]);
}

async fn idempotency_contract(records: &dyn IdempotencyRecords) {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let stale = Duration::minutes(2);
    let expires = t0 + Duration::hours(24);
    let claim = |key: &'static str, fingerprint: &'static str, at| async move {
        records
            .claim("A12345", key, fingerprint, at, stale, expires)
            .await
            .unwrap()
    };
    assert_eq!(claim("k1", "f1", t0).await, IdempotencyClaim::Claimed);
    assert_eq!(claim("k1", "f1", t0).await, IdempotencyClaim::InProgress);
    assert_eq!(claim("k1", "f2", t0).await, IdempotencyClaim::Mismatch);
    records
        .complete("A12345", "k1", r#"{"batch_id":"b-1"}"#)
        .await
        .unwrap();
    assert_eq!(
        claim("k1", "f1", t0).await,
        IdempotencyClaim::Done(r#"{"batch_id":"b-1"}"#.into())
    );
    // The same key in another organisation is another key.
    assert_eq!(
        records
            .claim("B99999", "k1", "f1", t0, stale, expires)
            .await
            .unwrap(),
        IdempotencyClaim::Claimed
    );
    // A released claim can be claimed again at once.
    assert_eq!(claim("k2", "f1", t0).await, IdempotencyClaim::Claimed);
    records.release("A12345", "k2").await.unwrap();
    assert_eq!(claim("k2", "f1", t0).await, IdempotencyClaim::Claimed);
    // An abandoned claim can be taken over by the same request once stale.
    assert_eq!(
        claim("k2", "f1", t0 + Duration::minutes(1)).await,
        IdempotencyClaim::InProgress
    );
    assert_eq!(
        claim("k2", "f2", t0 + Duration::minutes(3)).await,
        IdempotencyClaim::Mismatch
    );
    assert_eq!(
        claim("k2", "f1", t0 + Duration::minutes(3)).await,
        IdempotencyClaim::Claimed
    );
    // Releasing a completed record keeps it.
    records.release("A12345", "k1").await.unwrap();
    assert_eq!(
        claim("k1", "f1", t0).await,
        IdempotencyClaim::Done(r#"{"batch_id":"b-1"}"#.into())
    );
    // An expired record is forgotten.
    assert_eq!(
        claim("k1", "f3", t0 + Duration::hours(25)).await,
        IdempotencyClaim::Claimed
    );
}

#[tokio::test]
async fn sqlite_timers_keep_the_timer_contract() {
    let dir = tempfile::tempdir().unwrap();
    timers_contract(&SqliteTimers::new(
        open_pool(dir.path(), Database::Work).await.unwrap(),
    ))
    .await;
}

#[tokio::test]
async fn dynamodb_timers_keep_the_timer_contract_without_a_scan() {
    let env = AwsTestEnv::new().await;
    timers_contract(&DynamoTimers::new(
        env.dynamo.clone(),
        &env.settings.timers_table,
    ))
    .await;
}

#[tokio::test]
async fn sqlite_idempotency_records_keep_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    idempotency_contract(&SqliteIdempotency::new(
        open_pool(dir.path(), Database::Work).await.unwrap(),
    ))
    .await;
}

#[tokio::test]
async fn dynamodb_idempotency_records_keep_the_contract() {
    let env = AwsTestEnv::new().await;
    idempotency_contract(&DynamoIdempotency::new(
        env.dynamo.clone(),
        &env.settings.idempotency_table,
    ))
    .await;
}

async fn references_contract(references: &dyn ProviderReferences) {
    let uuid = infra::nhs_notify::message_reference("A12345:b-1:7:nhs_app");
    assert_eq!(references.recall(&uuid).await.unwrap(), None);
    references
        .remember(&uuid, "A12345:b-1:7:nhs_app")
        .await
        .unwrap();
    references
        .remember(&uuid, "A12345:b-1:7:nhs_app")
        .await
        .unwrap(); // repeats are harmless
    assert_eq!(
        references.recall(&uuid).await.unwrap().as_deref(),
        Some("A12345:b-1:7:nhs_app")
    );
}

#[tokio::test]
async fn provider_references_are_remembered_alike_on_sqlite_and_dynamodb() {
    let dir = tempfile::tempdir().unwrap();
    references_contract(&SqliteIdempotency::new(
        open_pool(dir.path(), Database::Work).await.unwrap(),
    ))
    .await;
    let env = AwsTestEnv::new().await;
    let dynamo = DynamoIdempotency::new(env.dynamo.clone(), &env.settings.idempotency_table);
    references_contract(&dynamo).await;

    // A receipt quoting NHS Notify's UUID finds the delivery Batchbook's
    // own reference names; one quoting a UUID nobody gave is refused.
    use domain::ports::{Receipt, ReceiptOutcome};
    use domain::usecases::ReceiptError;
    let unknown = Receipt {
        reference: uuid::Uuid::new_v4().to_string(),
        outcome: ReceiptOutcome::Read,
        at: Utc::now(),
    };
    assert!(matches!(
        env.stack.app.record_receipt(unknown).await,
        Err(ReceiptError::UnknownReference)
    ));
}

async fn blob_contract(blobs: &dyn BlobStore) {
    let key = "uploads/A12345/9d1f0b1e-0000-4000-8000-000000000001.csv";
    assert!(!blobs.exists(key).await.unwrap());
    assert_eq!(blobs.get(key).await.unwrap(), None);
    blobs.put(key, b"NHS Number\n".to_vec()).await.unwrap();
    assert!(blobs.exists(key).await.unwrap());
    assert_eq!(
        blobs.get(key).await.unwrap(),
        Some(b"NHS Number\n".to_vec())
    );
}

#[tokio::test]
async fn file_blobs_keep_the_blob_contract() {
    let dir = tempfile::tempdir().unwrap();
    blob_contract(&FsBlobStore::new(dir.path())).await;
}

#[tokio::test]
async fn s3_blobs_keep_the_blob_contract() {
    let env = AwsTestEnv::new().await;
    blob_contract(&S3BlobStore::new(env.s3.clone(), &env.settings.bucket)).await;
}
