//! `ingest`: S3 notifications of uploaded lists, through SQS.

// The use cases' futures nest deeply (cqrs-es inside the handlers).
#![recursion_limit = "256"]

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (stack, _) = lambda_functions::start().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(
            functions::ingest::handle_ingest_event(&stack.app, event.payload).await,
        )
    }))
    .await
}
