//! `api`: the same axum router as `batchbook serve`, behind API Gateway's
//! HTTP API; the organisation comes from a claim of the verified JWT.

// The use cases' futures nest deeply (cqrs-es inside the handlers).
#![recursion_limit = "256"]

use functions::api::{router, ApiState};
use functions::identity::IdentitySource;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (stack, config) = lambda_functions::start().await?;
    let app = router(ApiState {
        app: stack.app.clone(),
        identity: IdentitySource::ApiGatewayJwt(config.api.claims.clone()),
        outbox: None,
        callbacks: config.api.callbacks.clone(),
    });
    lambda_http::run(app).await
}
