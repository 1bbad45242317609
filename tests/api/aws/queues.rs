//! The SQS work queue: redelivery after the visibility timeout, and the
//! dead-letter queue after max receives.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use domain::ports::{QueueName, WorkQueue};
use infra::aws::SqsWorkQueue;

use super::env::{queue_arn, sdk_config};

async fn queue_with(
    sqs: &aws_sdk_sqs::Client,
    attributes: &[(QueueAttributeName, String)],
) -> (String, String) {
    let name = format!("bb-q-{}", uuid::Uuid::new_v4().simple());
    let mut create = sqs.create_queue().queue_name(name);
    for (k, v) in attributes {
        create = create.attributes(k.clone(), v);
    }
    let url = create.send().await.unwrap().queue_url().unwrap().to_owned();
    let arn = queue_arn(sqs, &url).await;
    (url, arn)
}

#[tokio::test]
async fn an_unacknowledged_message_comes_back_after_its_visibility_timeout() {
    let sqs = aws_sdk_sqs::Client::new(&sdk_config().await);
    let (url, _) = queue_with(&sqs, &[(QueueAttributeName::VisibilityTimeout, "1".into())]).await;
    let queue = SqsWorkQueue::new(sqs, HashMap::from([(QueueName::Send, url)]));
    let bodies: Vec<String> = (0..12).map(|i| format!("job-{i}")).collect();
    queue.send(QueueName::Send, bodies.clone()).await.unwrap();

    let mut first = Vec::new();
    while first.len() < 12 {
        first.extend(queue.receive(QueueName::Send, 10).await.unwrap());
    }
    let mut received: Vec<String> = first.iter().map(|m| m.body.clone()).collect();
    received.sort();
    let mut expected = bodies.clone();
    expected.sort();
    assert_eq!(
        received, expected,
        "all twelve arrive, sent in batches of ten"
    );
    assert!(
        queue.receive(QueueName::Send, 10).await.unwrap().is_empty(),
        "hidden while in flight"
    );
    for message in &first[1..] {
        queue.ack(QueueName::Send, &message.receipt).await.unwrap();
    }

    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let again = queue.receive(QueueName::Send, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].body, first[0].body);
    assert_eq!(again[0].receive_count, 2);
}

#[tokio::test]
async fn a_message_received_too_often_moves_to_the_dead_letter_queue() {
    let sqs = aws_sdk_sqs::Client::new(&sdk_config().await);
    let (dlq_url, dlq_arn) = queue_with(&sqs, &[]).await;
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#);
    let (url, _) = queue_with(
        &sqs,
        &[
            (QueueAttributeName::VisibilityTimeout, "1".into()),
            (QueueAttributeName::RedrivePolicy, redrive),
        ],
    )
    .await;
    let queue = SqsWorkQueue::new(sqs.clone(), HashMap::from([(QueueName::Send, url)]));
    queue
        .send(QueueName::Send, vec!["poison".into()])
        .await
        .unwrap();
    for attempt in 1..=2 {
        let got = queue.receive(QueueName::Send, 1).await.unwrap();
        assert_eq!(got.len(), 1, "attempt {attempt}");
        assert_eq!(got[0].receive_count, attempt);
        tokio::time::sleep(Duration::from_millis(1_200)).await;
    }
    assert!(queue.receive(QueueName::Send, 1).await.unwrap().is_empty());
    let dead = sqs
        .receive_message()
        .queue_url(dlq_url)
        .send()
        .await
        .unwrap();
    let bodies: Vec<&str> = dead.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, ["poison"]);
}
