//! The `api` Lambda: the same axum router as `batchbook serve`, behind API
//! Gateway's HTTP API with a JWT authorizer.

use functions::api::{router, ApiState};
use functions::identity::IdentitySource;
use infra::embedded::{EmbeddedConfig, EmbeddedStack};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::telemetry::init(true);
    let data = std::env::var("BATCHBOOK_DATA_DIR").unwrap_or_else(|_| "/tmp/batchbook".into());
    let organisation_claim = std::env::var("ORGANISATION_CLAIM").unwrap_or_else(|_| "ods".into());
    let stack = EmbeddedStack::open(EmbeddedConfig::new(data)).await?;
    let app = router(ApiState {
        app: stack.app.clone(),
        identity: IdentitySource::ApiGatewayJwt { organisation_claim },
        outbox: None,
    });
    lambda_http::run(app).await
}
