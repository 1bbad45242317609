//! Hands an SQS event to the use cases and reports partial batch failure
//! (`ReportBatchItemFailures`): only the records that failed come back.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use cqrs_es::persist::PersistedEventRepository;
use domain::ports::QueueName;
use domain::usecases::JobError;
use domain::Batchbook;
use futures::future::join_all;

pub async fn handle_sqs_event<R: PersistedEventRepository>(
    app: &Batchbook<R>,
    queue: QueueName,
    event: SqsEvent,
) -> SqsBatchResponse {
    let results = join_all(event.records.into_iter().map(|record| async move {
        let id = record.message_id.unwrap_or_default();
        let outcome = match record.body {
            Some(body) => app.handle_job(queue, &body).await,
            None => Err(JobError::Malformed("an SQS record without a body".into())),
        };
        (id, outcome)
    }))
    .await;
    let mut response = SqsBatchResponse::default();
    for (id, outcome) in results {
        if let Err(e) = outcome {
            // Malformed records fail too: after the queue's max receives
            // they land in its dead-letter queue for an operator to see.
            tracing::warn!(message_id = %id, queue = queue.as_str(), error = %e, "record failed");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}
