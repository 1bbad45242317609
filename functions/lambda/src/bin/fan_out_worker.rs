//! `fan-out-worker`: one message per batch send; enqueues one send job per
//! contactable patient.

// The use cases' futures nest deeply (cqrs-es inside the handlers).
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_functions::run_queue_worker(domain::ports::QueueName::FanOut).await
}
