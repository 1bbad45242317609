//! `timer-sweeper`: an EventBridge schedule. Runs the timers that are due,
//! hands over a sandbox stack's simulated receipts, and completes batches
//! whose every recipient has an outcome (a safety net behind the projector,
//! which does the same as it goes).

// The use cases' futures nest deeply (cqrs-es inside the handlers).
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

const LIMIT: usize = 1_000;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (stack, _) = lambda_functions::start().await?;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        let fired = stack.app.fire_due_timers(LIMIT).await?;
        // A sandbox stack's simulated providers send no callbacks.
        let receipts = stack.deliver_simulated_receipts(LIMIT).await?;
        let completed = stack.app.complete_settled_batches(LIMIT).await?;
        tracing::info!(fired, receipts, completed, "sweep done");
        Ok::<_, lambda_runtime::Error>(
            serde_json::json!({ "fired": fired, "receipts": receipts, "completed": completed }),
        )
    }))
    .await
}
