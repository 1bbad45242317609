//! `api`: the same axum router as `batchbook serve`, behind API Gateway's
//! HTTP API; the organisation comes from a claim of the verified JWT.

// The use cases' futures nest deeply (cqrs-es inside the handlers).
#![recursion_limit = "256"]

use functions::api::{router, ApiState, CallbackTokens};
use functions::identity::IdentitySource;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let stack = lambda_functions::start().await?;
    let organisation_claim = std::env::var("ORGANISATION_CLAIM").unwrap_or_else(|_| "ods".into());
    let app = router(ApiState {
        app: stack.app.clone(),
        identity: IdentitySource::ApiGatewayJwt { organisation_claim },
        outbox: None,
        callbacks: CallbackTokens::from_env(),
    });
    lambda_http::run(app).await
}
