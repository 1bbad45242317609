//! Logging set-up. Log lines carry ids and counts, never patient data.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Human-readable logs (coloured only on a terminal, plain when standard
/// error is a file or a pipe), or JSON lines (Lambda).
pub fn init(json: bool) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().without_time().try_init()
    } else {
        builder.try_init()
    };
}
