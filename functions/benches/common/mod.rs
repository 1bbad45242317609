//! What the HTTP benchmarks share: their settings from the environment,
//! percentiles, a synthetic list, and the embedded stack served on
//! loopback with development sign-ins.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use domain::values::OrganisationId;
use functions::api::{router, ApiState, CallbackTokens};
use functions::identity::IdentitySource;
use infra::embedded::EmbeddedStack;

/// A setting from the environment, else `default`.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` percentile (0 to 1) of `sorted`.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

/// Patients with distinct mobiles, none of which the simulated SMS
/// provider fails (it fails numbers ending in 99), all born 1 February 1950.
pub fn list(patients: usize) -> String {
    let mut csv = String::from("NHS Number,Given Name,Telecom Number,Date of Birth\n");
    let numbers = (600_000_001u32..).filter_map(domain::values::NhsNumber::from_first_nine);
    let mobiles = (100_001u32..).filter(|m| m % 100 != 99);
    for (nhs, mobile) in numbers.zip(mobiles).take(patients) {
        csv.push_str(&format!("{nhs},Pat,07700 {mobile:06},01/02/1950\n"));
    }
    csv
}

/// `stack` served on a loopback port, a request with no token acting for
/// A12345's development admin: its address and the server's task.
pub async fn serve(
    stack: &Arc<EmbeddedStack>,
) -> Result<(String, tokio::task::JoinHandle<()>), Box<dyn std::error::Error>> {
    let app = router(ApiState {
        app: stack.app.clone(),
        identity: IdentitySource::Development {
            default_organisation: Some(OrganisationId::parse("A12345")?),
        },
        outbox: Some(stack.providers.clone()),
        callbacks: CallbackTokens {
            govuk_notify: None,
            nhs_notify: None,
        },
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((address, server))
}
