//! The message providers (SMS, email, NHS App), what their receipts say,
//! and the references they make up for Batchbook's messages.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PortError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRequest {
    /// The same key for every attempt at one message: the provider keeps one.
    pub idempotency_key: String,
    pub to: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider says this recipient can never receive messages")]
    PermanentFailure,
    #[error("the provider refused the request as invalid")]
    Rejected,
    #[error("the provider asked us to slow down")]
    RateLimited { retry_after_secs: u64 },
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

/// An SMS provider (GOV.UK Notify in production, a simulator locally).
#[async_trait::async_trait]
pub trait SmsProvider: Send + Sync {
    /// Returns the provider's reference for the message.
    async fn send_sms(&self, request: &SmsRequest) -> Result<String, ProviderError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRequest {
    /// As for SMS; also the reference the provider's receipts quote back.
    pub idempotency_key: String,
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// An email provider (GOV.UK Notify in production, a simulator locally).
#[async_trait::async_trait]
pub trait EmailProvider: Send + Sync {
    async fn send_email(&self, request: &EmailRequest) -> Result<String, ProviderError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NhsAppRequest {
    pub idempotency_key: String,
    /// NHS App messages are addressed by NHS number.
    pub nhs_number: String,
    pub body: String,
}

/// An NHS App message provider (NHS Notify in production, a simulator
/// locally).
#[async_trait::async_trait]
pub trait NhsAppProvider: Send + Sync {
    async fn send_nhs_app(&self, request: &NhsAppRequest) -> Result<String, ProviderError>;
}

/// What a provider's receipt says happened to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptOutcome {
    Delivered,
    /// The patient opened it (NHS App).
    Read,
    Failed(events::DeliveryFailure),
}

/// A provider's receipt for one message, named by the reference Batchbook
/// sent it with (the idempotency key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub reference: String,
    pub outcome: ReceiptOutcome,
    pub at: DateTime<Utc>,
}

/// References a provider made up for Batchbook's messages: NHS Notify takes
/// only a UUID as a message's reference, so its client sends one derived
/// from Batchbook's and remembers which, and receipts quoting it are
/// mapped back. Kept beside the idempotency records, so a views rebuild
/// never loses them.
#[async_trait::async_trait]
pub trait ProviderReferences: Send + Sync {
    /// Remembers that `provider_reference` stands for `reference`. Repeats
    /// are harmless.
    async fn remember(&self, provider_reference: &str, reference: &str) -> Result<(), PortError>;
    async fn recall(&self, provider_reference: &str) -> Result<Option<String>, PortError>;
}
