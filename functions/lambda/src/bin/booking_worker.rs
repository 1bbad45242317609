//! `booking-worker`: makes each Self-Book booking (or cancellation) in the
//! practice's appointment book, once per attempt however often SQS
//! delivers it; failed jobs are reported back individually
//! (`ReportBatchItemFailures`).

// The use cases' futures nest deeply (cqrs-es inside the handlers).
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_functions::run_queue_worker(domain::ports::QueueName::Booking).await
}
