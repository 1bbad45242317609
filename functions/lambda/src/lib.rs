//! Shared start-up for the Lambda binaries: logging and the AWS stack from
//! the environment. Each binary is a thin wrapper that hands its event to
//! the same use cases `batchbook serve` runs.

// The use cases' futures nest deeply (cqrs-es inside the handlers).
#![recursion_limit = "256"]

use infra::aws::AwsStack;

/// Builds the stack once per cold start; a missing setting stops the
/// function with a message naming it.
pub async fn start() -> Result<&'static AwsStack, lambda_runtime::Error> {
    functions::telemetry::init(true);
    let stack = AwsStack::from_env()
        .await
        .map_err(lambda_runtime::Error::from)?;
    Ok(Box::leak(Box::new(stack)))
}

/// Runs a queue worker function: each SQS event handed to the jobs of
/// `queue`, with failed records reported back individually.
pub async fn run_queue_worker(
    queue: domain::ports::QueueName,
) -> Result<(), lambda_runtime::Error> {
    use aws_lambda_events::sqs::SqsEvent;
    use lambda_runtime::{service_fn, LambdaEvent};

    let stack = start().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(
            functions::sqs::handle_sqs_event(&stack.app, queue, event.payload).await,
        )
    }))
    .await
}
