//! Shared start-up for the Lambda binaries: logging and the AWS stack from
//! the environment. Each binary is a thin wrapper that hands its event to
//! the same use cases `batchbook serve` runs.

// The use cases' futures nest deeply (cqrs-es inside the handlers).
#![recursion_limit = "256"]

use std::sync::Arc;

use functions::config::ApiConfig;
use infra::aws::{AwsSettings, AwsStack};

/// Every setting a function reads from its environment, read once.
pub struct LambdaConfig {
    pub stack: AwsSettings,
    pub api: ApiConfig,
}

impl LambdaConfig {
    pub fn from_env() -> Result<Self, String> {
        Ok(Self {
            stack: AwsSettings::from_env()?,
            api: ApiConfig::from_env(),
        })
    }
}

/// Builds the stack once per cold start; a missing setting stops the
/// function with a message naming it.
pub async fn start() -> Result<(&'static AwsStack, &'static LambdaConfig), lambda_runtime::Error> {
    functions::telemetry::init(true);
    let config = LambdaConfig::from_env().map_err(lambda_runtime::Error::from)?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let stack = AwsStack::new(&sdk, &config.stack, Arc::new(domain::ports::SystemClock));
    Ok((Box::leak(Box::new(stack)), Box::leak(Box::new(config))))
}

/// Runs a queue worker function: each SQS event handed to the jobs of
/// `queue`, with failed records reported back individually.
pub async fn run_queue_worker(
    queue: domain::ports::QueueName,
) -> Result<(), lambda_runtime::Error> {
    use aws_lambda_events::sqs::SqsEvent;
    use lambda_runtime::{service_fn, LambdaEvent};

    let (stack, _) = start().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(
            functions::sqs::handle_sqs_event(&stack.app, queue, event.payload).await,
        )
    }))
    .await
}
