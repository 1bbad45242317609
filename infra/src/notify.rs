//! A GOV.UK Notify client behind the SMS and email ports.
//!
//! - Each request carries a fresh JWT (HS256, `iss` the service id, `iat`
//!   now), signed with the secret half of the API key, as Notify requires.
//! - Messages go through two templates set up once in Notify: an SMS
//!   template whose content is `((body))`, and an email template with
//!   subject `((subject))` and body `((body))`. Batchbook renders the text.
//! - `reference` is our idempotency key, which Notify quotes back in its
//!   delivery-status callbacks. Notify itself keeps no idempotency keys, so
//!   before sending, the client asks Notify for a notification with that
//!   reference: a retry after a crash between Notify's answer and our commit
//!   finds the first message instead of sending a second.
//! - Notify allows 3,000 requests a minute per service: the client spaces
//!   its requests (both kinds) under its share of that ([`NotifySettings`]).
//!   429 and 5xx answers, timeouts and failed connections are retried with
//!   backoff; a 400 is a message Notify will never take ([`ProviderError::Rejected`]).

use std::num::NonZeroU32;
use std::time::Duration;

use domain::ports::{EmailProvider, EmailRequest, ProviderError, SmsProvider, SmsRequest};
use governor::DefaultDirectRateLimiter;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::http::{even_limiter, send_with_retries, Exhausted, RetryPolicy};

/// A Notify API key: `{key name}-{service id}-{secret}`, the last two UUIDs.
#[derive(Clone)]
pub struct NotifyApiKey {
    service_id: String,
    secret: String,
}

impl std::fmt::Debug for NotifyApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NotifyApiKey(service {}, secret hidden)",
            self.service_id
        )
    }
}

impl NotifyApiKey {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let uuid_at = |end: usize| -> Option<&str> {
            let start = end.checked_sub(36)?;
            let part = raw.get(start..end)?;
            uuid::Uuid::parse_str(part).ok().map(|_| part)
        };
        let secret = uuid_at(raw.len());
        let service_id = raw.len().checked_sub(37).and_then(uuid_at);
        match (service_id, secret) {
            (Some(service_id), Some(secret)) if raw.as_bytes()[raw.len() - 37] == b'-' => {
                Ok(Self {
                    service_id: service_id.to_owned(),
                    secret: secret.to_owned(),
                })
            }
            _ => Err("a GOV.UK Notify API key ends with the service id and the secret key, two UUIDs joined by '-'".into()),
        }
    }

    pub fn service_id(&self) -> &str {
        &self.service_id
    }

    /// The bearer token for one request.
    fn token(&self, now: chrono::DateTime<chrono::Utc>) -> Result<String, ProviderError> {
        #[derive(Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            iat: i64,
        }
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &Claims {
                iss: &self.service_id,
                iat: now.timestamp(),
            },
            &jsonwebtoken::EncodingKey::from_secret(self.secret.as_bytes()),
        )
        .map_err(|e| ProviderError::Unavailable(format!("signing the Notify token: {e}")))
    }
}

#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// `https://api.notifications.service.gov.uk` in production.
    pub base_url: String,
    pub api_key: NotifyApiKey,
    /// The SMS template whose content is `((body))`.
    pub sms_template_id: String,
    /// The email template with subject `((subject))` and body `((body))`.
    pub email_template_id: String,
    /// This client's share of Notify's 3,000 requests a minute: divide by
    /// the number of senders running at once.
    pub requests_per_minute: NonZeroU32,
    pub retry: RetryPolicy,
    /// How long one request may take.
    pub timeout: Duration,
}

impl NotifySettings {
    pub fn new(
        base_url: impl Into<String>,
        api_key: NotifyApiKey,
        sms_template_id: impl Into<String>,
        email_template_id: impl Into<String>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            api_key,
            sms_template_id: sms_template_id.into(),
            email_template_id: email_template_id.into(),
            requests_per_minute: NonZeroU32::new(3_000).expect("3,000 is not zero"),
            retry: RetryPolicy {
                attempts: 5,
                backoff: Duration::from_millis(500),
            },
            timeout: Duration::from_secs(10),
        }
    }
}

pub struct NotifyClient {
    http: reqwest::Client,
    settings: NotifySettings,
    limiter: DefaultDirectRateLimiter,
}

/// What Notify answers a send, and each notification in a listing.
#[derive(Debug, Deserialize)]
struct Notification {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Notifications {
    notifications: Vec<Notification>,
}

impl NotifyClient {
    pub fn new(settings: NotifySettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .expect("the HTTP client builds");
        Self {
            limiter: even_limiter(settings.requests_per_minute),
            http,
            settings,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url.trim_end_matches('/'))
    }

    async fn call(
        &self,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ProviderError> {
        send_with_retries(&self.limiter, self.settings.retry, || {
            match self.settings.api_key.token(chrono::Utc::now()) {
                Ok(token) => build(&token),
                // Signing never fails with an HMAC key; if it did, the
                // request goes without a token and Notify refuses it.
                Err(_) => build(""),
            }
        })
        .await
        .map_err(|e| match e {
            Exhausted::RateLimited { retry_after } => ProviderError::RateLimited {
                retry_after_secs: retry_after.as_secs().max(1),
            },
            Exhausted::Unavailable { attempts, last } => ProviderError::Unavailable(format!(
                "GOV.UK Notify failed {attempts} times, last with {last}"
            )),
        })
    }

    /// The notification Notify already has for `reference`, if any.
    async fn already_sent(
        &self,
        reference: &str,
        kind: &str,
    ) -> Result<Option<String>, ProviderError> {
        let url = self.url("/v2/notifications");
        let response = self
            .call(|token| {
                self.http
                    .get(&url)
                    .bearer_auth(token)
                    .query(&[("reference", reference), ("template_type", kind)])
            })
            .await?;
        if !response.status().is_success() {
            return Err(ProviderError::Unavailable(format!(
                "GOV.UK Notify answered HTTP {} to a look-up by reference",
                response.status().as_u16()
            )));
        }
        let listing: Notifications = response.json().await.map_err(|_| {
            ProviderError::Unavailable("GOV.UK Notify sent an unreadable listing".into())
        })?;
        Ok(listing.notifications.into_iter().next().map(|n| n.id))
    }

    async fn send(
        &self,
        kind: &str,
        reference: &str,
        body: serde_json::Value,
    ) -> Result<String, ProviderError> {
        if let Some(id) = self.already_sent(reference, kind).await? {
            return Ok(id);
        }
        let url = self.url(&format!("/v2/notifications/{kind}"));
        let response = self
            .call(|token| self.http.post(&url).bearer_auth(token).json(&body))
            .await?;
        let status = response.status();
        if status == reqwest::StatusCode::CREATED || status == reqwest::StatusCode::OK {
            let sent: Notification = response.json().await.map_err(|_| {
                ProviderError::Unavailable("GOV.UK Notify sent an unreadable answer".into())
            })?;
            return Ok(sent.id);
        }
        if status == reqwest::StatusCode::BAD_REQUEST {
            // Notify's message can quote the number; it is not logged.
            return Err(ProviderError::Rejected);
        }
        Err(ProviderError::Unavailable(format!(
            "GOV.UK Notify answered HTTP {}",
            status.as_u16()
        )))
    }
}

#[async_trait::async_trait]
impl SmsProvider for NotifyClient {
    async fn send_sms(&self, request: &SmsRequest) -> Result<String, ProviderError> {
        let body = json!({
            "phone_number": request.to,
            "template_id": self.settings.sms_template_id,
            "personalisation": {"body": request.body},
            "reference": request.idempotency_key,
        });
        self.send("sms", &request.idempotency_key, body).await
    }
}

#[async_trait::async_trait]
impl EmailProvider for NotifyClient {
    async fn send_email(&self, request: &EmailRequest) -> Result<String, ProviderError> {
        let body = json!({
            "email_address": request.to,
            "template_id": self.settings.email_template_id,
            "personalisation": {"subject": request.subject, "body": request.body},
            "reference": request.idempotency_key,
        });
        self.send("email", &request.idempotency_key, body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "batchbook_live-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0";

    #[test]
    fn an_api_key_splits_into_service_id_and_secret_and_a_bad_one_is_refused() {
        let key = NotifyApiKey::parse(KEY).unwrap();
        assert_eq!(key.service_id(), "26785a09-ab16-4eb0-8407-a37497a57506");
        assert_eq!(key.secret, "3d844edf-8d35-48ac-975b-e847b4f122b0");
        assert!(
            !format!("{key:?}").contains(&key.secret),
            "the secret is never printed"
        );
        let refusal = "a GOV.UK Notify API key ends with the service id and the secret key, two UUIDs joined by '-'";
        for bad in [
            "",
            "key",
            &KEY[..KEY.len() - 1],
            &KEY.replace("-3d84", "x3d84"),
        ] {
            assert_eq!(NotifyApiKey::parse(bad).unwrap_err(), refusal, "{bad}");
        }
    }

    #[test]
    fn the_token_is_signed_with_the_secret_and_names_the_service() {
        let key = NotifyApiKey::parse(KEY).unwrap();
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let token = key.token(now).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &jsonwebtoken::DecodingKey::from_secret(b"3d844edf-8d35-48ac-975b-e847b4f122b0"),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(
            claims,
            json!({"iss": "26785a09-ab16-4eb0-8407-a37497a57506", "iat": 1_800_000_000})
        );
    }
}

/// A GOV.UK Notify delivery receipt, as Notify posts it to our callback.
/// Notify adds fields over time, so those not read here are ignored.
#[derive(Debug, serde::Deserialize)]
struct NotifyCallback {
    /// The reference Batchbook sent the message with.
    reference: Option<String>,
    status: String,
    completed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a GOV.UK Notify callback says became of a message, in Batchbook's
/// words: delivered, or failed for good, for a while, or for a technical
/// reason. `None` for a status that is not final (`sent` abroad, say) or a
/// receipt naming no reference; `now` stands in for a missing time.
pub fn receipt_from_callback(
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<domain::ports::Receipt>, String> {
    use domain::ports::{Receipt, ReceiptOutcome};
    use events::DeliveryFailure;
    let callback: NotifyCallback =
        serde_json::from_slice(body).map_err(|e| format!("not a GOV.UK Notify receipt: {e}"))?;
    let outcome = match callback.status.as_str() {
        "delivered" => ReceiptOutcome::Delivered,
        "permanent-failure" => ReceiptOutcome::Failed(DeliveryFailure::Permanent),
        "temporary-failure" => ReceiptOutcome::Failed(DeliveryFailure::Temporary),
        "technical-failure" => ReceiptOutcome::Failed(DeliveryFailure::Technical),
        _ => return Ok(None),
    };
    Ok(callback.reference.map(|reference| Receipt {
        reference,
        outcome,
        at: callback.completed_at.unwrap_or(now),
    }))
}

#[cfg(test)]
mod receipt_tests {
    use super::receipt_from_callback;
    use chrono::TimeZone;
    use domain::ports::{Receipt, ReceiptOutcome};
    use events::DeliveryFailure;

    #[test]
    fn notify_statuses_are_read_in_batchbooks_words() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let at = chrono::Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
        let receipt = |status: &str, completed: Option<&str>| {
            let body = serde_json::json!({"id": "n-1", "reference": "A12345:b:1:sms",
                "status": status, "completed_at": completed, "to": "07700900000"});
            receipt_from_callback(body.to_string().as_bytes(), now).unwrap()
        };
        let expect = |outcome, at| {
            Some(Receipt {
                reference: "A12345:b:1:sms".into(),
                outcome,
                at,
            })
        };
        assert_eq!(
            receipt("delivered", Some("2026-11-23T08:00:00Z")),
            expect(ReceiptOutcome::Delivered, at)
        );
        assert_eq!(
            receipt("permanent-failure", None),
            expect(ReceiptOutcome::Failed(DeliveryFailure::Permanent), now)
        );
        assert_eq!(
            receipt("temporary-failure", None),
            expect(ReceiptOutcome::Failed(DeliveryFailure::Temporary), now)
        );
        assert_eq!(
            receipt("technical-failure", None),
            expect(ReceiptOutcome::Failed(DeliveryFailure::Technical), now)
        );
        assert_eq!(receipt("sent", None), None);
        let no_reference = br#"{"status": "delivered", "reference": null}"#;
        assert_eq!(receipt_from_callback(no_reference, now), Ok(None));
        assert_eq!(
            receipt_from_callback(br#"{"reference": "x"}"#, now),
            Err("not a GOV.UK Notify receipt: missing field `status` at line 1 column 18".into())
        );
    }
}
