//! Idempotent requests: a client that retries with the same
//! `Idempotency-Key` gets the first result, never a second batch or list.
//!
//! Two layers. The record (claimed, then completed with the result) answers
//! a retry with the saved result and turns away a duplicate running at the
//! same moment. And the ids of what a keyed request creates are derived
//! from the key, so if a process dies between doing the work and completing
//! the record, the re-run lands on the same batch or list.

use cqrs_es::persist::PersistedEventRepository;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Batchbook, BatchbookError, Caller};
use crate::ports::{IdempotencyClaim, PortError};

/// How long a key is remembered.
const REMEMBER_FOR: chrono::Duration = chrono::Duration::hours(24);
/// A claim this old was abandoned by a process that died mid-request.
const STALE_AFTER: chrono::Duration = chrono::Duration::minutes(2);

/// A client's idempotency key, checked at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, BatchbookError> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 128 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(BatchbookError::InvalidRequest(
                "an Idempotency-Key is 1 to 128 printable characters".into(),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The key of one step of this key's request (`step` names it), so a
    /// request made of several keyed steps, re-run after a crash between
    /// two of them, repeats none.
    pub fn derived(&self, step: &str) -> Self {
        let name = format!("{step}\n{}", self.0);
        Self(format!(
            "{step}-{}",
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes())
        ))
    }

    /// A stable id for what this key's request creates.
    pub fn derived_id(&self, caller: &Caller, what: &str) -> String {
        let name = format!("{}\n{what}\n{}", caller.organisation_id, self.0);
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()).to_string()
    }
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Runs `work` once per key: a retry with the same key and request gets
    /// the saved result. Without a key, just runs it.
    pub async fn idempotent<T, F, Fut>(
        &self,
        caller: &Caller,
        key: Option<&IdempotencyKey>,
        request: &[u8],
        work: F,
    ) -> Result<T, BatchbookError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, BatchbookError>>,
    {
        let Some(key) = key else {
            return work().await;
        };
        let records = &self.ports.idempotency;
        let scope = caller.organisation_id.as_ref();
        let now = self.ports.clock.now();
        let fingerprint = hex::encode(Sha256::digest(request));
        match records
            .claim(
                scope,
                &key.0,
                &fingerprint,
                now,
                STALE_AFTER,
                now + REMEMBER_FOR,
            )
            .await?
        {
            IdempotencyClaim::Claimed => {}
            IdempotencyClaim::Done(saved) => {
                return serde_json::from_str(&saved)
                    .map_err(|e| PortError::new("saved result", e).into());
            }
            IdempotencyClaim::InProgress => return Err(BatchbookError::RequestInProgress),
            IdempotencyClaim::Mismatch => {
                return Err(BatchbookError::InvalidRequest(
                    "this Idempotency-Key was already used for a different request".into(),
                ))
            }
        }
        match work().await {
            Ok(result) => {
                let saved = serde_json::to_string(&result)
                    .map_err(|e| PortError::new("saved result", e))?;
                records.complete(scope, &key.0, &saved).await?;
                Ok(result)
            }
            Err(e) => {
                records.release(scope, &key.0).await?;
                Err(e)
            }
        }
    }
}
