//! What every client of an outside HTTP service does alike: wait for the
//! rate limiter, retry 429 and 5xx answers and failed connections with
//! exponential backoff (honouring `Retry-After`), and give up after so many
//! attempts. Used by the PDS and GOV.UK Notify clients.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// How a client retries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// The first retry's wait; each later one doubles it.
    pub backoff: Duration,
}

/// Why a request got no usable answer after every attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exhausted {
    /// The service kept answering 429; it asked for this long a wait.
    RateLimited { retry_after: Duration },
    /// 5xx answers, timeouts or failed connections; `last` says which,
    /// without the URL (URLs can name patients).
    Unavailable { attempts: u32, last: String },
}

/// A limiter that spaces requests evenly: `per_minute` a minute, never a
/// burst, so no window of a minute ever holds more than the limit.
pub fn even_limiter(per_minute: NonZeroU32) -> DefaultDirectRateLimiter {
    RateLimiter::direct(
        Quota::per_minute(per_minute).allow_burst(NonZeroU32::new(1).expect("1 is not zero")),
    )
}

/// Sends the request `build` makes until an answer other than 429 or 5xx
/// comes back (which is returned, success or not), or the attempts run out.
pub async fn send_with_retries(
    limiter: &DefaultDirectRateLimiter,
    policy: RetryPolicy,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, Exhausted> {
    let mut wait = policy.backoff;
    let mut last = String::new();
    let mut asked_to_wait = None;
    for attempt in 1..=policy.attempts {
        if attempt > 1 {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
        limiter.until_ready().await;
        let response = match build().send().await {
            Ok(response) => response,
            Err(e) => {
                last = if e.is_timeout() {
                    "timed out".into()
                } else {
                    "connection failed".into()
                };
                asked_to_wait = None;
                continue;
            }
        };
        let status = response.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let after = retry_after(&response);
            if let Some(after) = after {
                wait = wait.max(after);
            }
            asked_to_wait =
                (status == reqwest::StatusCode::TOO_MANY_REQUESTS).then(|| after.unwrap_or(wait));
            last = format!("HTTP {}", status.as_u16());
            continue;
        }
        return Ok(response);
    }
    Err(match asked_to_wait {
        Some(retry_after) => Exhausted::RateLimited { retry_after },
        None => Exhausted::Unavailable {
            attempts: policy.attempts,
            last,
        },
    })
}

/// `Retry-After` in seconds (the form these services send), at most a minute.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds.min(60)))
}
