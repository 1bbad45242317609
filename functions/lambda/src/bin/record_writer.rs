//! `record-writer`: saves one sent message per job to the patient's record
//! in the clinical system; failed records are reported back individually
//! (`ReportBatchItemFailures`). Its reserved concurrency is the clinical
//! system's limit on writes at once.

// The use cases' futures nest deeply (cqrs-es inside the handlers).
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_functions::run_queue_worker(domain::ports::QueueName::Record).await
}
