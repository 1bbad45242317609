//! `projector`: the events table's DynamoDB stream. Each event is projected
//! into the read models and reacted to (fan-out, timers); then batches whose
//! recipients all have an outcome are completed.

// The use cases' futures nest deeply (cqrs-es inside the handlers).
#![recursion_limit = "256"]

use aws_lambda_events::dynamodb::Event;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (stack, _) = lambda_functions::start().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let response = functions::streams::handle_stream_event(event.payload, |stored| {
            stack.consume_stream_event(stored)
        })
        .await;
        stack.app.complete_settled_batches(100).await?;
        Ok::<_, lambda_runtime::Error>(response)
    }))
    .await
}
