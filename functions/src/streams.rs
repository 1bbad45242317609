//! The projector function's glue: DynamoDB stream records of the events
//! table, decoded from their NEW_IMAGE into stored events. Records of one
//! shard arrive in order, so the first failure stops the batch and is
//! reported; Lambda retries from that record (`ReportBatchItemFailures`).

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use cqrs_es::persist::SerializedEvent;
use domain::usecases::JobError;

/// The stored event an INSERT record carries; `None` for other records
/// (events are never changed or deleted, so there should be none).
pub fn stored_event(record: &EventRecord) -> Result<Option<SerializedEvent>, JobError> {
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let malformed = |e: &dyn std::fmt::Display| JobError::Malformed(format!("stream record: {e}"));
    let item: infra::event_row::EventRow =
        serde_dynamo::from_item(record.change.new_image.clone()).map_err(|e| malformed(&e))?;
    item.into_event().map(Some).map_err(|e| malformed(&e))
}

/// Feeds each record's event to `consume`, in order, stopping at the first
/// failure.
pub async fn handle_stream_event<F, Fut>(event: Event, consume: F) -> DynamoDbEventResponse
where
    F: Fn(SerializedEvent) -> Fut,
    Fut: std::future::Future<Output = Result<(), JobError>>,
{
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        let outcome = match stored_event(record) {
            Ok(Some(stored)) => consume(stored).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "stream record failed; the batch stops here");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}
