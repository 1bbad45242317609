//! Application-restricted access to NHS England's APIs (NHS Notify, PDS):
//! the signed-JWT client-credentials flow of the NHS API platform.
//!
//! - The client signs a short JWT (RS512, `kid` naming the public key
//!   registered with the platform; `iss` and `sub` the application's API
//!   key, `aud` the token URL, a fresh `jti`, `exp` at most 5 minutes on).
//! - It posts that to the token URL as a `client_assertion` and gets an
//!   access token back, valid for `expires_in` seconds (a string in the
//!   platform's answers).
//! - Tokens are kept until a minute before they expire, so one token serves
//!   many requests; a 401 from the API drops it.

use std::time::{Duration, Instant};

use domain::ports::ProviderError;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// A token is renewed this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(60);
/// How long the signed assertion is valid: the platform allows at most 5 minutes.
const ASSERTION_SECONDS: i64 = 300;

#[derive(Clone)]
pub struct NhsAuthSettings {
    /// `https://api.service.nhs.uk/oauth2/token` in production.
    pub token_url: String,
    /// The application's API key: the JWT's issuer and subject.
    pub api_key: String,
    /// The `kid` of the public key registered for the application.
    pub key_id: String,
    /// The application's RSA private key, PEM.
    pub private_key_pem: String,
}

impl std::fmt::Debug for NhsAuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NhsAuthSettings({}, kid {}, key hidden)",
            self.token_url, self.key_id
        )
    }
}

impl NhsAuthSettings {
    /// Whether the private key can sign: checked when settings are read,
    /// so a bad key stops a function at start, not at its first send.
    pub fn check(&self) -> Result<(), String> {
        self.encoding_key().map(|_| ())
    }

    fn encoding_key(&self) -> Result<jsonwebtoken::EncodingKey, String> {
        jsonwebtoken::EncodingKey::from_rsa_pem(self.private_key_pem.as_bytes())
            .map_err(|_| "the NHS API private key is not an RSA key in PEM".to_owned())
    }
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    /// `"599"` from the platform; a number from some fakes.
    expires_in: serde_json::Value,
}

/// Access tokens for one application, fetched when needed and kept.
pub struct AccessTokens {
    http: reqwest::Client,
    settings: NhsAuthSettings,
    key: jsonwebtoken::EncodingKey,
    current: Mutex<Option<(String, Instant)>>,
}

impl AccessTokens {
    pub fn new(settings: NhsAuthSettings, http: reqwest::Client) -> Result<Self, String> {
        let key = settings.encoding_key()?;
        Ok(Self {
            http,
            settings,
            key,
            current: Mutex::new(None),
        })
    }

    fn assertion(&self) -> Result<String, ProviderError> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS512);
        header.kid = Some(self.settings.key_id.clone());
        let claims = Assertion {
            iss: &self.settings.api_key,
            sub: &self.settings.api_key,
            aud: &self.settings.token_url,
            jti: uuid::Uuid::new_v4().to_string(),
            exp: chrono::Utc::now().timestamp() + ASSERTION_SECONDS,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| ProviderError::Unavailable(format!("signing the NHS API assertion: {e}")))
    }

    /// A token good for at least another minute.
    pub async fn token(&self) -> Result<String, ProviderError> {
        let mut current = self.current.lock().await;
        if let Some((token, renew_at)) = current.as_ref() {
            if Instant::now() < *renew_at {
                return Ok(token.clone());
            }
        }
        let response = self
            .http
            .post(&self.settings.token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &self.assertion()?),
            ])
            .send()
            .await
            .map_err(|e| {
                ProviderError::Unavailable(if e.is_timeout() {
                    "the NHS API token request timed out".into()
                } else {
                    "the NHS API token request failed to connect".into()
                })
            })?;
        if !response.status().is_success() {
            return Err(ProviderError::Unavailable(format!(
                "the NHS API token endpoint answered HTTP {}",
                response.status().as_u16()
            )));
        }
        let answer: TokenAnswer = response.json().await.map_err(|_| {
            ProviderError::Unavailable(
                "the NHS API token endpoint sent an unreadable answer".into(),
            )
        })?;
        let seconds = match &answer.expires_in {
            serde_json::Value::String(s) => s.parse().ok(),
            other => other.as_u64(),
        }
        .unwrap_or(0);
        let renew_at = Instant::now() + Duration::from_secs(seconds).saturating_sub(RENEW_BEFORE);
        *current = Some((answer.access_token.clone(), renew_at));
        Ok(answer.access_token)
    }

    /// Forgets the kept token: the API refused it.
    pub async fn forget(&self) {
        *self.current.lock().await = None;
    }
}
