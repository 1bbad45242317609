//! The DynamoDB event repository: past 1 MB, racing writers, 100-event commits.

use cqrs_es::persist::{PersistedEventRepository, PersistenceError, SerializedEvent};
use domain::aggregates::Batch;
use infra::aws::{DynamoEventRepository, MAX_EVENTS_PER_COMMIT};
use serde_json::json;

use super::env::AwsTestEnv;

fn event(aggregate_id: &str, sequence: usize, padding: usize) -> SerializedEvent {
    SerializedEvent::new(
        aggregate_id.into(),
        sequence,
        "Batch".into(),
        "Padded".into(),
        "1.0".into(),
        json!({ "n": sequence, "padding": "x".repeat(padding) }),
        json!({ "organisation_id": "A12345" }),
    )
}

fn repository(env: &AwsTestEnv) -> DynamoEventRepository {
    DynamoEventRepository::new(env.dynamo.clone(), &env.settings.events_table)
}

#[tokio::test]
async fn an_aggregate_past_1_mb_of_events_loads_whole_and_in_order() {
    let env = AwsTestEnv::new().await;
    let repo = repository(&env);
    // 300 events of about 4 KB: some 1.2 MB, more than one query page.
    for commit in 0..3 {
        let events: Vec<_> = (1..=100)
            .map(|i| event("big", commit * 100 + i, 4_000))
            .collect();
        repo.persist::<Batch>(&events, None).await.unwrap();
    }
    let loaded = repo.get_events::<Batch>("big").await.unwrap();
    assert_eq!(loaded.len(), 300);
    assert!(loaded.iter().enumerate().all(|(i, e)| e.sequence == i + 1));
    assert_eq!(loaded[299], event("big", 300, 4_000));
    let tail = repo.get_last_events::<Batch>("big", 250).await.unwrap();
    assert_eq!(
        tail.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        (251..=300).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn two_writers_racing_on_one_aggregate_give_exactly_one_conflict() {
    let env = AwsTestEnv::new().await;
    let repo = repository(&env);
    repo.persist::<Batch>(&[event("raced", 1, 10)], None)
        .await
        .unwrap();
    for round in 0..5 {
        let next = 2 + round * 2;
        let single = [event("raced", next, 10)];
        let pair = [event("raced", next, 20), event("raced", next + 1, 20)];
        let (a, b) = tokio::join!(
            repo.persist::<Batch>(&single, None),
            repo.persist::<Batch>(&pair, None)
        );
        let conflicts = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Err(PersistenceError::OptimisticLockError)))
            .count();
        assert_eq!(conflicts, 1, "round {round}: {a:?} / {b:?}");
        assert!(a.is_ok() || b.is_ok());
        if a.is_ok() {
            // Keep the sequence dense for the next round.
            repo.persist::<Batch>(&[event("raced", next + 1, 10)], None)
                .await
                .unwrap();
        }
    }
    let loaded = repo.get_events::<Batch>("raced").await.unwrap();
    assert_eq!(loaded.len(), 11);
}

#[tokio::test]
async fn a_commit_of_100_events_lands_whole_and_101_is_refused_whole() {
    let env = AwsTestEnv::new().await;
    let repo = repository(&env);
    let hundred: Vec<_> = (1..=100).map(|i| event("hundred", i, 100)).collect();
    repo.persist::<Batch>(&hundred, None).await.unwrap();
    assert_eq!(
        repo.get_events::<Batch>("hundred").await.unwrap().len(),
        100
    );

    let too_many: Vec<_> = (1..=MAX_EVENTS_PER_COMMIT + 1)
        .map(|i| event("too-many", i, 10))
        .collect();
    let refused = repo.persist::<Batch>(&too_many, None).await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "a commit of 101 events is more than DynamoDB's 100 per transaction"
    );
    assert!(repo
        .get_events::<Batch>("too-many")
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_conflicting_transaction_writes_none_of_its_events() {
    let env = AwsTestEnv::new().await;
    let repo = repository(&env);
    repo.persist::<Batch>(&[event("partial", 3, 10)], None)
        .await
        .unwrap();
    let overlapping: Vec<_> = (1..=5).map(|i| event("partial", i, 10)).collect();
    assert!(matches!(
        repo.persist::<Batch>(&overlapping, None).await,
        Err(PersistenceError::OptimisticLockError)
    ));
    let loaded = repo.get_events::<Batch>("partial").await.unwrap();
    assert_eq!(loaded.iter().map(|e| e.sequence).collect::<Vec<_>>(), [3]);
}
