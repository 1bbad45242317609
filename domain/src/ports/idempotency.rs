//! Idempotency records: a request key claimed, then completed with its
//! result.

use chrono::{DateTime, Utc};

use super::PortError;

/// What claiming an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// Ours now: do the work, then complete or release the claim.
    Claimed,
    /// Done before: here is the saved result.
    Done(String),
    /// Another request with this key is being handled now.
    InProgress,
    /// The key was used before for a different request.
    Mismatch,
}

/// Idempotency records: a request key claimed for a while, then completed
/// with its result, so a retried request gets the first answer. Records
/// expire (DynamoDB TTL on AWS).
#[async_trait::async_trait]
pub trait IdempotencyRecords: Send + Sync {
    /// Claims `key` within `scope` (the organisation) for a request whose
    /// fingerprint is `fingerprint`. A claim older than `stale_after` that
    /// was never completed (its holder died) may be claimed again by the
    /// same request.
    async fn claim(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        stale_after: chrono::Duration,
        expires_at: DateTime<Utc>,
    ) -> Result<IdempotencyClaim, PortError>;
    async fn complete(&self, scope: &str, key: &str, result: &str) -> Result<(), PortError>;
    /// Gives a claim up (the work failed), so a retry can try again.
    async fn release(&self, scope: &str, key: &str) -> Result<(), PortError>;
}
