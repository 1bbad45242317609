//! `chain-checkpoint`: an EventBridge schedule. Writes the head of every
//! aggregate's event chain to the Object Lock bucket, so that a chain
//! rewritten afterwards no longer matches (`infra/src/aws/audit.rs`).
//! On a stack from before the patient index, it first completes the index
//! (`Batchbook::index_patients`).

// The use cases' futures nest deeply (cqrs-es inside the handlers).
#![recursion_limit = "256"]

use domain::ports::Clock;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (stack, _) = lambda_functions::start().await?;
    let chain = stack
        .audit
        .as_ref()
        .ok_or("environment variable CHAIN_CHECKPOINT_BUCKET is not set")?;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        // The checkpoint first: it is the evidence, and the index below may
        // take more than one run on a large stack.
        let checkpoint = chain.checkpoint(domain::ports::SystemClock.now()).await?;
        tracing::info!(
            events = checkpoint.events,
            aggregates = checkpoint.heads.len(),
            "chain checkpoint written"
        );
        // Once, on a stack from before the patient index (then a no-op);
        // a run cut short goes on from the lists it had not marked.
        let indexed = stack.app.index_patients().await?;
        if indexed != Default::default() {
            tracing::info!(?indexed, "the patient index is complete");
        }
        Ok::<_, lambda_runtime::Error>(serde_json::json!({
            "events": checkpoint.events,
            "aggregates": checkpoint.heads.len(),
        }))
    }))
    .await
}
