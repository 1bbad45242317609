//! The `send-worker` Lambda: SQS messages from the send queue, each handed
//! to the send use case; failed records are reported back individually.

use aws_lambda_events::sqs::SqsEvent;
use domain::ports::QueueName;
use infra::embedded::{EmbeddedConfig, EmbeddedStack};
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    functions::telemetry::init(true);
    let data = std::env::var("BATCHBOOK_DATA_DIR").unwrap_or_else(|_| "/tmp/batchbook".into());
    let stack = EmbeddedStack::open(EmbeddedConfig::new(data)).await?;
    let stack = &stack;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(
            functions::sqs::handle_sqs_event(&stack.app, QueueName::Send, event.payload).await,
        )
    }))
    .await
}
