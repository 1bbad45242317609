//! An NHS Notify client behind the NHS App port: `POST /v1/messages` of
//! the NHS Notify (Communications Manager) API, a JSON:API document.
//!
//! - Authentication is the NHS API platform's signed-JWT flow
//!   ([`crate::nhs_auth`]); each request carries the bearer token and a
//!   fresh `X-Correlation-ID`.
//! - Each message goes through a routing plan set up at onboarding whose
//!   NHS App template is `((body))`; Batchbook renders the text.
//! - NHS Notify takes only a UUID as `messageReference` and de-duplicates
//!   on it: the same reference twice is one message. The client sends
//!   `UUIDv5(namespace, idempotency key)`, so every retry of a step carries
//!   the same one. It first remembers which Batchbook reference the UUID
//!   stands for ([`ProviderReferences`]), so the receipts that quote it back
//!   find their delivery. A 422 for a duplicate reference is the first
//!   message, not a failure.
//! - NHS Notify allows 5 requests a second per application by default: the
//!   client spaces its requests under that ([`NhsNotifySettings`]). 429 (with
//!   `Retry-After`), 5xx, timeouts and failed connections are retried with
//!   backoff; any other 4xx is a message NHS Notify will never take.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use domain::ports::{NhsAppProvider, NhsAppRequest, ProviderError, ProviderReferences};
use governor::DefaultDirectRateLimiter;
use serde::Deserialize;
use serde_json::json;

use crate::http::{even_limiter, send_with_retries, Exhausted, RetryPolicy};
use crate::nhs_auth::{AccessTokens, NhsAuthSettings};

/// The namespace `messageReference`s are derived in.
const REFERENCE_NAMESPACE: uuid::Uuid = uuid::uuid!("5d1c2f0e-8a43-4b6e-9f1a-3c7b2e9d4a10");

/// The UUID NHS Notify is given for one of Batchbook's references.
pub fn message_reference(reference: &str) -> String {
    uuid::Uuid::new_v5(&REFERENCE_NAMESPACE, reference.as_bytes()).to_string()
}

#[derive(Debug, Clone)]
pub struct NhsNotifySettings {
    /// `https://api.service.nhs.uk/comms` in production.
    pub base_url: String,
    pub auth: NhsAuthSettings,
    /// The routing plan whose NHS App template is `((body))`.
    pub routing_plan_id: String,
    /// This client's share of NHS Notify's 5 requests a second (300 a
    /// minute): divide by the number of senders running at once.
    pub requests_per_minute: NonZeroU32,
    pub retry: RetryPolicy,
    /// How long one request may take.
    pub timeout: Duration,
}

impl NhsNotifySettings {
    pub fn new(
        base_url: impl Into<String>,
        auth: NhsAuthSettings,
        routing_plan_id: impl Into<String>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            auth,
            routing_plan_id: routing_plan_id.into(),
            requests_per_minute: NonZeroU32::new(300).expect("300 is not zero"),
            retry: RetryPolicy {
                attempts: 5,
                backoff: Duration::from_millis(500),
            },
            timeout: Duration::from_secs(10),
        }
    }
}

pub struct NhsNotifyClient {
    http: reqwest::Client,
    settings: NhsNotifySettings,
    limiter: DefaultDirectRateLimiter,
    tokens: AccessTokens,
    references: Arc<dyn ProviderReferences>,
}

#[derive(Debug, Deserialize)]
struct Created {
    data: CreatedData,
}

#[derive(Debug, Deserialize)]
struct CreatedData {
    id: String,
}

impl NhsNotifyClient {
    pub fn new(
        settings: NhsNotifySettings,
        references: Arc<dyn ProviderReferences>,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .expect("the HTTP client builds");
        Ok(Self {
            tokens: AccessTokens::new(settings.auth.clone(), http.clone())?,
            limiter: even_limiter(settings.requests_per_minute),
            http,
            settings,
            references,
        })
    }

    async fn post(&self, body: &serde_json::Value) -> Result<reqwest::Response, ProviderError> {
        let url = format!(
            "{}/v1/messages",
            self.settings.base_url.trim_end_matches('/')
        );
        // One token refresh if NHS Notify says the kept one is no good.
        for _ in 0..2 {
            let token = self.tokens.token().await?;
            let response = send_with_retries(&self.limiter, self.settings.retry, || {
                self.http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/vnd.api+json")
                    .header("accept", "application/vnd.api+json")
                    .header("x-correlation-id", uuid::Uuid::new_v4().to_string())
                    .json(body)
            })
            .await
            .map_err(|e| match e {
                Exhausted::RateLimited { retry_after } => ProviderError::RateLimited {
                    retry_after_secs: retry_after.as_secs().max(1),
                },
                Exhausted::Unavailable { attempts, last } => ProviderError::Unavailable(format!(
                    "NHS Notify failed {attempts} times, last with {last}"
                )),
            })?;
            if response.status() == reqwest::StatusCode::UNAUTHORIZED {
                self.tokens.forget().await;
                continue;
            }
            return Ok(response);
        }
        Err(ProviderError::Unavailable(
            "NHS Notify refused a fresh access token (HTTP 401)".into(),
        ))
    }
}

#[async_trait::async_trait]
impl NhsAppProvider for NhsNotifyClient {
    async fn send_nhs_app(&self, request: &NhsAppRequest) -> Result<String, ProviderError> {
        let reference = message_reference(&request.idempotency_key);
        // Remembered first, so a receipt can never arrive for a reference
        // Batchbook cannot map back.
        self.references
            .remember(&reference, &request.idempotency_key)
            .await
            .map_err(|e| ProviderError::Unavailable(e.0))?;
        let body = json!({"data": {"type": "Message", "attributes": {
            "routingPlanId": self.settings.routing_plan_id,
            "messageReference": reference,
            "recipient": {"nhsNumber": request.nhs_number},
            "personalisation": {"body": request.body},
        }}});
        let response = self.post(&body).await?;
        let status = response.status();
        if status == reqwest::StatusCode::CREATED || status == reqwest::StatusCode::OK {
            let created: Created = response.json().await.map_err(|_| {
                ProviderError::Unavailable("NHS Notify sent an unreadable answer".into())
            })?;
            return Ok(created.data.id);
        }
        if status == reqwest::StatusCode::UNPROCESSABLE_ENTITY {
            // "Request already received": this reference was sent before,
            // by an attempt whose answer was lost. It is that message.
            return Ok(reference);
        }
        if status.is_client_error() {
            // The body can quote the NHS number; it is not logged.
            return Err(ProviderError::Rejected);
        }
        Err(ProviderError::Unavailable(format!(
            "NHS Notify answered HTTP {}",
            status.as_u16()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_becomes_the_same_uuid_every_time_and_different_ones_differ() {
        let first = message_reference("A12345:b-1:7:nhs_app");
        assert_eq!(first, message_reference("A12345:b-1:7:nhs_app"));
        assert_ne!(first, message_reference("A12345:b-1:8:nhs_app"));
        let parsed = uuid::Uuid::parse_str(&first).unwrap();
        assert_eq!(parsed.get_version_num(), 5);
    }
}

/// NHS Notify's callback: a JSON:API document of status items. Fields not
/// read here are ignored, as NHS Notify adds them over time.
#[derive(Debug, serde::Deserialize)]
struct Callback {
    data: Vec<CallbackItem>,
}

#[derive(Debug, serde::Deserialize)]
struct CallbackItem {
    #[serde(rename = "type")]
    kind: String,
    attributes: CallbackAttributes,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallbackAttributes {
    message_reference: Option<String>,
    channel_status: Option<String>,
    /// The NHS App's own status: `read` once the patient opened it.
    supplier_status: Option<String>,
    timestamp: Option<chrono::DateTime<chrono::Utc>>,
}

/// What an NHS Notify callback says became of each NHS App message, in
/// Batchbook's words: read, delivered or failed. Only `ChannelStatus` items
/// are read; other statuses are not final. `now` stands in for a missing
/// time.
pub fn receipts_from_callback(
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<domain::ports::Receipt>, String> {
    use domain::ports::{Receipt, ReceiptOutcome};
    use events::DeliveryFailure;
    let callback: Callback =
        serde_json::from_slice(body).map_err(|e| format!("not an NHS Notify callback: {e}"))?;
    Ok(callback
        .data
        .into_iter()
        .filter(|item| item.kind == "ChannelStatus")
        .filter_map(|item| {
            let a = item.attributes;
            let outcome = match (a.channel_status.as_deref(), a.supplier_status.as_deref()) {
                (Some("delivered"), Some("read")) => ReceiptOutcome::Read,
                (Some("delivered"), _) => ReceiptOutcome::Delivered,
                (Some("failed"), _) => ReceiptOutcome::Failed(DeliveryFailure::Permanent),
                _ => return None,
            };
            Some(Receipt {
                reference: a.message_reference?,
                outcome,
                at: a.timestamp.unwrap_or(now),
            })
        })
        .collect())
}

#[cfg(test)]
mod receipt_tests {
    use super::receipts_from_callback;
    use chrono::TimeZone;
    use domain::ports::{Receipt, ReceiptOutcome};
    use events::DeliveryFailure;

    #[test]
    fn channel_statuses_are_read_in_batchbooks_words_and_others_left_alone() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let item = |kind: &str, reference: &str, channel: &str, supplier: Option<&str>| {
            serde_json::json!({"type": kind, "attributes": {"messageReference": reference,
                "channelStatus": channel, "supplierStatus": supplier, "cascadeType": "primary"}})
        };
        let body = serde_json::json!({"data": [
            item("ChannelStatus", "r-1", "delivered", Some("read")),
            item("ChannelStatus", "r-2", "delivered", Some("notified")),
            item("ChannelStatus", "r-3", "failed", None),
            item("ChannelStatus", "r-4", "sending", None),
            item("MessageStatus", "r-5", "delivered", None),
        ]});
        let receipt = |reference: &str, outcome| Receipt {
            reference: reference.into(),
            outcome,
            at: now,
        };
        assert_eq!(
            receipts_from_callback(body.to_string().as_bytes(), now).unwrap(),
            vec![
                receipt("r-1", ReceiptOutcome::Read),
                receipt("r-2", ReceiptOutcome::Delivered),
                receipt("r-3", ReceiptOutcome::Failed(DeliveryFailure::Permanent)),
            ]
        );
        assert_eq!(
            receipts_from_callback(b"{}", now),
            Err("not an NHS Notify callback: missing field `data` at line 1 column 2".into())
        );
    }
}
