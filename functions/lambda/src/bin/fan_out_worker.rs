//! `fan-out-worker`: one message per batch send; enqueues one send job per
//! contactable patient.

// The use cases' futures nest deeply (cqrs-es inside the handlers).
#![recursion_limit = "256"]

use aws_lambda_events::sqs::SqsEvent;
use domain::ports::QueueName;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let stack = lambda_functions::start().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(
            functions::sqs::handle_sqs_event(&stack.app, QueueName::FanOut, event.payload).await,
        )
    }))
    .await
}
