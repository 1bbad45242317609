//! Shared start-up for the Lambda binaries: logging and the AWS stack from
//! the environment. Each binary is a thin wrapper that hands its event to
//! the same use cases `batchbook serve` runs.

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
