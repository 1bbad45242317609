//! A PDS FHIR R4 client behind the demographics port: `GET Patient/{nhs}`
//! read for the deceased flag, the current mobile and restricted records.
//!
//! - Requests carry a bearer token, a fresh `X-Request-ID` (PDS requires a
//!   UUID per request) and our correlation id.
//! - PDS's default rate limit is 5 requests/s per application; the client
//!   waits for a slot (the `governor` crate) rather than be refused.
//! - 429 and 5xx are retried with exponential backoff, honouring
//!   `Retry-After` when PDS sends it; a 404 is "not found".
//! - A restricted record (security label `R`, `V` or `REDACTED`) carries no
//!   contact details, and we never look for them in it.
//!
//! Left for deployment: PDS's application-restricted access uses a signed
//! JWT exchanged for an access token; this client takes the token from its
//! caller ([`PdsSettings::access_token`]).

use std::num::NonZeroU32;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use domain::ports::{Demographics, DemographicsError, DemographicsRecord};
use domain::values::NhsNumber;
use governor::DefaultDirectRateLimiter;

use crate::http::{even_limiter, send_with_retries, Exhausted, RetryPolicy};
use serde::Deserialize;

#[derive(Debug, Clone)]
pub struct PdsSettings {
    /// For example `https://int.api.service.nhs.uk/personal-demographics/FHIR/R4`.
    pub base_url: String,
    pub access_token: String,
    pub requests_per_second: NonZeroU32,
    /// Attempts per lookup, the first included.
    pub attempts: u32,
    /// The first retry's wait; each later one doubles it.
    pub backoff: Duration,
}

impl PdsSettings {
    pub fn new(base_url: impl Into<String>, access_token: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            access_token: access_token.into(),
            requests_per_second: NonZeroU32::new(5).expect("5 is not zero"),
            attempts: 5,
            backoff: Duration::from_millis(500),
        }
    }
}

pub struct PdsClient {
    http: reqwest::Client,
    settings: PdsSettings,
    limiter: DefaultDirectRateLimiter,
}

impl PdsClient {
    pub fn new(settings: PdsSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("the HTTP client builds");
        Self {
            limiter: even_limiter(
                settings
                    .requests_per_second
                    .saturating_mul(NonZeroU32::new(60).expect("60 is not zero")),
            ),
            http,
            settings,
        }
    }

    async fn read(&self, nhs_number: &NhsNumber) -> Result<Patient, DemographicsError> {
        let url = format!(
            "{}/Patient/{}",
            self.settings.base_url.trim_end_matches('/'),
            nhs_number.as_ref()
        );
        let policy = RetryPolicy {
            attempts: self.settings.attempts,
            backoff: self.settings.backoff,
        };
        let response = send_with_retries(&self.limiter, policy, || {
            self.http
                .get(&url)
                .bearer_auth(&self.settings.access_token)
                .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
                .header("Accept", "application/fhir+json")
        })
        .await
        .map_err(|e| {
            DemographicsError::Unavailable(match e {
                Exhausted::RateLimited { .. } => format!(
                    "PDS failed {} times, last with HTTP 429",
                    self.settings.attempts
                ),
                Exhausted::Unavailable { attempts, last } => {
                    format!("PDS failed {attempts} times, last with {last}")
                }
            })
        })?;
        let status = response.status();
        if status.is_success() {
            return response.json::<Patient>().await.map_err(|_| {
                DemographicsError::Unavailable("PDS sent an unreadable Patient".into())
            });
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(DemographicsError::NotFound);
        }
        Err(DemographicsError::Unavailable(format!(
            "PDS answered HTTP {}",
            status.as_u16()
        )))
    }
}

#[async_trait::async_trait]
impl Demographics for PdsClient {
    async fn lookup(
        &self,
        nhs_number: &NhsNumber,
    ) -> Result<DemographicsRecord, DemographicsError> {
        let patient = self.read(nhs_number).await?;
        Ok(patient.record(Utc::now().date_naive()))
    }
}

/// The parts of PDS's Patient we read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Patient {
    #[serde(default)]
    meta: Meta,
    deceased_date_time: Option<String>,
    #[serde(default)]
    telecom: Vec<ContactPoint>,
    #[serde(default)]
    name: Vec<HumanName>,
    birth_date: Option<String>,
}

#[derive(Debug, Deserialize)]
struct HumanName {
    #[serde(rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    given: Vec<String>,
    family: Option<String>,
    period: Option<Period>,
}

#[derive(Debug, Default, Deserialize)]
struct Meta {
    #[serde(default)]
    security: Vec<Coding>,
}

#[derive(Debug, Deserialize)]
struct Coding {
    code: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ContactPoint {
    system: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    value: Option<String>,
    period: Option<Period>,
}

#[derive(Debug, Deserialize)]
struct Period {
    start: Option<String>,
    end: Option<String>,
}

fn date(value: &Option<String>) -> Option<NaiveDate> {
    value.as_deref()?.get(..10)?.parse().ok()
}

impl Patient {
    fn record(self, today: NaiveDate) -> DemographicsRecord {
        let restricted = self
            .meta
            .security
            .iter()
            .any(|c| matches!(c.code.as_deref(), Some("R" | "V" | "REDACTED")));
        let current = |p: &Option<Period>| {
            p.as_ref().is_none_or(|p| {
                date(&p.start).is_none_or(|s| s <= today) && date(&p.end).is_none_or(|e| e >= today)
            })
        };
        // A restricted record's contact details are never read.
        let contact = |system: &str, use_: Option<&str>| {
            (!restricted)
                .then(|| {
                    self.telecom
                        .iter()
                        .filter(|t| t.system.as_deref() == Some(system))
                        .filter(|t| use_.is_none_or(|u| t.use_.as_deref() == Some(u)))
                        .find(|t| current(&t.period))
                        .and_then(|t| t.value.as_deref())
                        .map(|v| v.trim().to_owned())
                        .filter(|v| !v.is_empty())
                })
                .flatten()
        };
        // The current usual name; failing that, any current name.
        let current_names = || self.name.iter().filter(|n| current(&n.period));
        let name = current_names()
            .find(|n| n.use_.as_deref() == Some("usual"))
            .or_else(|| current_names().next());
        let trimmed = |v: Option<&String>| {
            v.map(|g| g.trim().to_owned())
                .filter(|g: &String| !g.is_empty())
        };
        DemographicsRecord {
            deceased: self.deceased_date_time.is_some(),
            restricted,
            mobile: contact("phone", Some("mobile")),
            given_name: trimmed(name.and_then(|n| n.given.first())),
            family_name: trimmed(name.and_then(|n| n.family.as_ref())),
            birth_date: date(&self.birth_date),
            email: contact("email", None),
        }
    }
}
