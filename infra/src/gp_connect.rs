//! A GP Connect Appointment Management (FHIR STU3) client behind the
//! appointment book port.
//!
//! - Every request goes through the Spine Secure Proxy with its headers:
//!   `Ssp-TraceID` (fresh per request), `Ssp-From` and `Ssp-To` (the
//!   consumer's and the practice's ASIDs) and `Ssp-InteractionID`; and an
//!   unsigned JWT (`alg: none`, as GP Connect requires) naming the reason
//!   (`directcare`), the scope, and the requesting device, organisation and
//!   practitioner.
//! - Free slots: `GET /Slot?start=ge…&end=le…&status=free` with the
//!   schedules, practitioners and locations included. GP Connect answers at
//!   most 14 days a search, so longer windows are searched in pages of 14
//!   days. A slot's type is its `serviceType` text; its channel is the
//!   `GPConnect-DeliveryChannel-2` extension; its clinician and location
//!   are its schedule's actors.
//! - Booking: the patient's logical id from `GET /Patient?identifier=…`,
//!   then `POST /Appointment`. 409 means the slot was taken. GP Connect keeps
//!   no idempotency keys, so after a 409 the client looks at the patient's
//!   appointments on that day: if one holds this slot, it is ours, booked by
//!   an attempt whose answer was lost.
//! - Cancelling: `GET /Appointment/{id}`, then `PUT` it back with status
//!   `cancelled` and a cancellation reason, under its version (`If-Match`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use domain::appointments::{
    AppointmentBook, AppointmentChannel, BookError, BookedAppointment, BookingRequest, Slot,
    SlotSearch,
};
use serde_json::{json, Value};

use crate::http::{send_with_retries, Exhausted, RetryPolicy};

/// The longest window one slot search may cover.
pub const MAX_SEARCH_DAYS: i64 = 14;
const DELIVERY_CHANNEL: &str =
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-DeliveryChannel-2";
const NHS_NUMBER: &str = "https://fhir.nhs.uk/Id/nhs-number";
const ODS_CODE: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
const INTERACTION: &str = "urn:nhs:names:services:gpconnect:fhir:rest";

#[derive(Debug, Clone)]
pub struct GpConnectSettings {
    /// The practice's FHIR endpoint, through the Spine Secure Proxy.
    pub base_url: String,
    /// Batchbook's ASID (`Ssp-From`) and the practice's (`Ssp-To`).
    pub from_asid: String,
    pub to_asid: String,
    /// The practice's ODS code.
    pub ods_code: String,
    /// Batchbook's ODS code, for the token's requesting organisation.
    pub consumer_ods_code: String,
    pub retry: RetryPolicy,
    pub timeout: std::time::Duration,
}

pub struct GpConnectClient {
    http: reqwest::Client,
    settings: GpConnectSettings,
    limiter: governor::DefaultDirectRateLimiter,
}

fn unavailable(what: &str) -> BookError {
    BookError::Unavailable(format!("GP Connect: {what}"))
}

fn exhausted(e: Exhausted) -> BookError {
    match e {
        Exhausted::RateLimited { .. } => unavailable("rate limited"),
        Exhausted::Unavailable { attempts, last } => {
            unavailable(&format!("failed {attempts} times, last with {last}"))
        }
    }
}

/// A FHIR instant GP Connect takes in search parameters.
fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

impl GpConnectClient {
    pub fn new(settings: GpConnectSettings) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(settings.timeout)
                .build()
                .expect("the HTTP client builds"),
            // GP Connect sets no published limit; the client keeps to a
            // steady 10 a second so one batch cannot flood a practice.
            limiter: crate::http::even_limiter(
                std::num::NonZeroU32::new(600).expect("600 is not zero"),
            ),
            settings,
        }
    }

    /// The unsigned JWT GP Connect requires on every request.
    fn token(&self, scope: &str) -> String {
        let now = Utc::now().timestamp();
        let header = json!({"alg": "none", "typ": "JWT"});
        let claims = json!({
            "iss": "https://batchbook.nhs.uk",
            "sub": "batchbook-self-book",
            "aud": self.settings.base_url,
            "exp": now + 300,
            "iat": now,
            "reason_for_request": "directcare",
            "requested_scope": scope,
            "requesting_device": {"resourceType": "Device", "model": "Batchbook", "version": env!("CARGO_PKG_VERSION")},
            "requesting_organization": {"resourceType": "Organization", "identifier": [{"system": ODS_CODE, "value": self.settings.consumer_ods_code}]},
            "requesting_practitioner": {"resourceType": "Practitioner", "id": "batchbook", "name": [{"family": "Batchbook"}]},
        });
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    async fn call(
        &self,
        interaction: &str,
        scope: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, BookError> {
        let token = self.token(scope);
        send_with_retries(&self.limiter, self.settings.retry, || {
            build(&self.http)
                .bearer_auth(&token)
                .header("accept", "application/fhir+json")
                .header("ssp-traceid", uuid::Uuid::new_v4().to_string())
                .header("ssp-from", &self.settings.from_asid)
                .header("ssp-to", &self.settings.to_asid)
                .header("ssp-interactionid", format!("{INTERACTION}:{interaction}"))
        })
        .await
        .map_err(exhausted)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.settings.base_url.trim_end_matches('/'))
    }

    async fn json(response: reqwest::Response, what: &str) -> Result<Value, BookError> {
        let status = response.status();
        if !status.is_success() {
            return Err(unavailable(&format!(
                "{what} answered HTTP {}",
                status.as_u16()
            )));
        }
        response
            .json()
            .await
            .map_err(|_| unavailable(&format!("{what} sent an unreadable answer")))
    }

    /// One search of at most 14 days.
    async fn search_page(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Slot>, BookError> {
        let url = self.url("Slot");
        let query = [
            ("start", format!("ge{}", instant(from))),
            ("end", format!("le{}", instant(to))),
            ("status", "free".to_owned()),
            ("_include", "Slot:schedule".to_owned()),
            ("_include:recurse", "Schedule:actor:Practitioner".to_owned()),
            ("_include:recurse", "Schedule:actor:Location".to_owned()),
            (
                "searchFilter",
                format!("{ODS_CODE}|{}", self.settings.ods_code),
            ),
        ];
        let response = self
            .call("search:slot-1", "organization/*.read", |http| {
                http.get(&url).query(&query)
            })
            .await?;
        let bundle = Self::json(response, "the slot search").await?;
        Ok(slots_in(&bundle, &self.settings.ods_code))
    }

    async fn patient_id(&self, nhs_number: &str) -> Result<String, BookError> {
        let url = self.url("Patient");
        let identifier = format!("{NHS_NUMBER}|{nhs_number}");
        let response = self
            .call("search:patient-1", "patient/*.read", |http| {
                http.get(&url).query(&[("identifier", &identifier)])
            })
            .await?;
        let bundle = Self::json(response, "the patient search").await?;
        let id = entries(&bundle)
            .find(|r| r["resourceType"] == "Patient")
            .and_then(|p| p["id"].as_str())
            .map(str::to_owned);
        id.ok_or_else(|| unavailable("the practice has no record of the patient"))
    }

    /// The patient's appointment holding `slot`, if an earlier attempt
    /// booked it.
    async fn ours(&self, patient_id: &str, slot: &Slot) -> Result<Option<String>, BookError> {
        let url = self.url(&format!("Patient/{patient_id}/Appointment"));
        let day = slot.start.date_naive();
        let response = self
            .call("search:patient_appointments-1", "patient/*.read", |http| {
                http.get(&url)
                    .query(&[("start", format!("ge{day}")), ("start", format!("le{day}"))])
            })
            .await?;
        let bundle = Self::json(response, "the appointment search").await?;
        let wanted = format!("Slot/{}", slot.slot_id);
        let found = entries(&bundle)
            .filter(|r| r["resourceType"] == "Appointment" && r["status"] == "booked")
            .find(|a| {
                a["slot"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|r| r["reference"] == wanted))
            })
            .and_then(|a| a["id"].as_str())
            .map(str::to_owned);
        Ok(found)
    }
}

fn entries(bundle: &Value) -> impl Iterator<Item = &Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["resource"])
}

/// A Practitioner's name as a patient is told it: "Dr Ada Okafor".
fn practitioner_name(practitioner: &Value) -> String {
    let name = &practitioner["name"][0];
    let words = |field: &str| -> Vec<String> {
        name[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str().map(str::to_owned))
            .collect()
    };
    let mut parts = words("prefix");
    parts.extend(words("given"));
    parts.extend(name["family"].as_str().map(str::to_owned));
    parts.join(" ")
}

/// A Location's name, with the first line of its address when it has one.
fn location_name(location: &Value) -> String {
    let name = location["name"].as_str().unwrap_or_default();
    match location["address"]["line"][0].as_str() {
        Some(line) if !name.is_empty() => format!("{name}, {line}"),
        _ => name.to_owned(),
    }
}

/// The slots in a search bundle, with their schedule's clinician and
/// location.
fn slots_in(bundle: &Value, practice_ods: &str) -> Vec<Slot> {
    let by_reference = |reference: &str| {
        entries(bundle).find(|r| {
            format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap_or_default(),
                r["id"].as_str().unwrap_or_default()
            ) == reference
        })
    };
    let mut slots = Vec::new();
    for slot in entries(bundle).filter(|r| r["resourceType"] == "Slot") {
        let schedule = slot["schedule"]["reference"]
            .as_str()
            .and_then(by_reference);
        let actor = |kind: &str| {
            schedule
                .and_then(|s| s["actor"].as_array())
                .into_iter()
                .flatten()
                .filter_map(|a| a["reference"].as_str())
                .find(|r| r.starts_with(kind))
                .map(|r| {
                    r.trim_start_matches(kind)
                        .trim_start_matches('/')
                        .to_owned()
                })
        };
        let channel = slot["extension"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["url"] == DELIVERY_CHANNEL)
            .and_then(|e| e["valueCode"].as_str())
            .map(|code| match code {
                "Telephone" => AppointmentChannel::Telephone,
                "Video" => AppointmentChannel::Video,
                _ => AppointmentChannel::InPerson,
            })
            .unwrap_or(AppointmentChannel::InPerson);
        let time = |field: &str| {
            slot[field]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let (Some(id), Some(start), Some(end)) = (slot["id"].as_str(), time("start"), time("end"))
        else {
            continue;
        };
        slots.push(Slot {
            slot_id: id.into(),
            start,
            end,
            slot_type: slot["serviceType"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .into(),
            clinician_name: actor("Practitioner")
                .and_then(|id| by_reference(&format!("Practitioner/{id}")))
                .map(practitioner_name)
                .unwrap_or_default()
                .into(),
            location_name: actor("Location")
                .and_then(|id| by_reference(&format!("Location/{id}")))
                .map(location_name)
                .unwrap_or_default()
                .into(),
            location_organisation: actor("Location")
                .and_then(|id| by_reference(&format!("Location/{id}")))
                .and_then(|l| l["managingOrganization"]["identifier"]["value"].as_str())
                .filter(|ods| *ods != practice_ods)
                .map(std::sync::Arc::from),
            clinician: actor("Practitioner").unwrap_or_default().into(),
            location: actor("Location").unwrap_or_default().into(),
            channel,
            busy: slot["status"] != "free",
            restriction: None,
        });
    }
    slots
}

#[async_trait::async_trait]
impl AppointmentBook for GpConnectClient {
    async fn search(&self, search: &SlotSearch) -> Result<Vec<Slot>, BookError> {
        let mut slots = self.slots_between(search.from, search.to).await?;
        slots.retain(|s| *s.slot_type == *search.slot_type);
        Ok(slots)
    }

    /// GP Connect searches at most 14 days at a time, so a longer window
    /// is several searches.
    async fn slots_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Slot>, BookError> {
        let mut slots = Vec::new();
        let mut page_from = from;
        while page_from < to {
            let page_to = (page_from + Duration::days(MAX_SEARCH_DAYS)).min(to);
            slots.extend(
                self.search_page(page_from, page_to)
                    .await?
                    .into_iter()
                    .filter(|s| s.start >= page_from && s.start < page_to),
            );
            page_from = page_to;
        }
        Ok(slots)
    }

    async fn book(&self, request: &BookingRequest) -> Result<BookedAppointment, BookError> {
        let patient_id = self.patient_id(&request.nhs_number).await?;
        let slot = &request.slot;
        let appointment = json!({
            "resourceType": "Appointment",
            "meta": {"profile": ["https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-Appointment-1"]},
            "status": "booked",
            "start": slot.start.to_rfc3339(),
            "end": slot.end.to_rfc3339(),
            "created": Utc::now().to_rfc3339(),
            "slot": [{"reference": format!("Slot/{}", slot.slot_id)}],
            "participant": [{"actor": {"reference": format!("Patient/{patient_id}")}, "status": "accepted"}],
            "description": "Booked by the patient through Self-Book",
        });
        let url = self.url("Appointment");
        let response = self
            .call("create:appointment-1", "patient/*.write", |http| {
                http.post(&url)
                    .header("content-type", "application/fhir+json")
                    .json(&appointment)
            })
            .await?;
        let booked = |appointment_id: String| BookedAppointment {
            appointment_id,
            slot: Slot {
                busy: true,
                ..slot.clone()
            },
        };
        match response.status().as_u16() {
            200 | 201 => {
                let created = Self::json(response, "the booking").await?;
                let id = created["id"]
                    .as_str()
                    .ok_or_else(|| unavailable("the booking answer has no id"))?;
                Ok(booked(id.to_owned()))
            }
            409 => match self.ours(&patient_id, slot).await? {
                Some(id) => Ok(booked(id)),
                None => Err(BookError::SlotTaken),
            },
            400 | 422 => Err(BookError::NotBookable),
            status => Err(unavailable(&format!("the booking answered HTTP {status}"))),
        }
    }

    async fn cancel(&self, appointment_id: &str) -> Result<(), BookError> {
        let url = self.url(&format!("Appointment/{appointment_id}"));
        let response = self
            .call("read:appointment-1", "patient/*.read", |http| {
                http.get(&url)
            })
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Err(BookError::UnknownAppointment);
        }
        let version = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut appointment = Self::json(response, "the appointment read").await?;
        if appointment["status"] == "cancelled" {
            return Ok(());
        }
        appointment["status"] = json!("cancelled");
        appointment["extension"] = json!([{
            "url": "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-AppointmentCancellationReason-1",
            "valueString": "Cancelled by the patient through Self-Book",
        }]);
        let response = self
            .call("update:appointment-1", "patient/*.write", |http| {
                let request = http
                    .put(&url)
                    .header("content-type", "application/fhir+json")
                    .json(&appointment);
                match &version {
                    Some(version) => request.header("if-match", version),
                    None => request,
                }
            })
            .await?;
        match response.status().as_u16() {
            200 => Ok(()),
            404 => Err(BookError::UnknownAppointment),
            status => Err(unavailable(&format!("the cancel answered HTTP {status}"))),
        }
    }
}
