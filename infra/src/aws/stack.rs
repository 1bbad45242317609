//! The product on AWS adapters: what every Lambda function builds at start,
//! from its environment.

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::SdkConfig;
use cqrs_es::persist::SerializedEvent;
use domain::links::LinkKey;
use domain::ports::{Clock, NhsAppProvider, QueueName};
use domain::usecases::{JobError, Links, Ports};
use domain::Batchbook;

use crate::gp_connect::{GpConnectClient, GpConnectSettings};
use crate::nhs_auth::NhsAuthSettings;
use crate::nhs_notify::{NhsNotifyClient, NhsNotifySettings};
use crate::notify::{NotifyApiKey, NotifyClient, NotifySettings};
use crate::pds::{PdsClient, PdsSettings};
use crate::simulators::{
    deliver_receipts, BookConfig, ClinicalSystemPace, SimulatedAppointmentBook,
    SimulatedClinicalSystem, SimulatedPds, BUNDLED_BOOK,
};

use super::audit::AwsAudit;
use super::{
    DynamoBookingRows, DynamoEventRepository, DynamoIdempotency, DynamoPatientIndex,
    DynamoSmsOutbox, DynamoTimers, DynamoViews, S3BlobStore, SqsWorkQueue,
};

/// Names of the stack's resources, as the SAM template passes them.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub events_table: String,
    pub views_table: String,
    pub timers_table: String,
    pub sms_outbox_table: String,
    pub idempotency_table: String,
    pub bucket: String,
    pub fan_out_queue_url: String,
    pub send_queue_url: String,
    pub record_queue_url: String,
    pub booking_queue_url: String,
    /// The practice's GP Connect Appointment Management endpoint; without
    /// it, the simulated appointment book (bookings in the outbox table,
    /// a sandbox stack).
    pub gp_connect: Option<GpConnectSettings>,
    /// How the simulated clinical system paces record writes.
    pub clinical_system: ClinicalSystemPace,
    /// Real GOV.UK Notify for SMS and email; without it, the simulated
    /// providers over the outbox table (a sandbox stack).
    pub notify: Option<NotifySettings>,
    /// Real NHS Notify for NHS App messages; without it, the simulated
    /// NHS App over the outbox table.
    pub nhs_notify: Option<NhsNotifySettings>,
    /// The real PDS; without it, the simulated PDS over the bundled
    /// synthetic patients (a sandbox stack, like the simulated SMS outbox).
    pub pds: Option<PdsSettings>,
    /// The key patient link tokens come from.
    pub link_key: LinkKey,
    /// The patient-facing page links open.
    pub link_base_url: String,
    /// The S3 Object Lock bucket the event chain's checkpoints go to
    /// (`infra/src/aws/audit.rs`); without it, none are taken.
    pub chain_checkpoint_bucket: Option<String>,
}

impl AwsSettings {
    /// Reads `EVENTS_TABLE`, `VIEWS_TABLE`, `TIMERS_TABLE`,
    /// `SMS_OUTBOX_TABLE`, `IDEMPOTENCY_TABLE`, `BUCKET`, `FAN_OUT_QUEUE_URL`,
    /// `SEND_QUEUE_URL`, `RECORD_QUEUE_URL` and `BOOKING_QUEUE_URL`;
    /// `GP_CONNECT_BASE_URL` (with `GP_CONNECT_FROM_ASID`,
    /// `GP_CONNECT_TO_ASID`, `GP_CONNECT_ODS_CODE` and
    /// `GP_CONNECT_CONSUMER_ODS_CODE`) when Self-Book books into the
    /// practice's clinical system; `PDS_BASE_URL` and
    /// `PDS_ACCESS_TOKEN` when the stack uses the real PDS;
    /// `RECORD_SIMULATOR_DELAY_MS` (default 2000) for the simulated clinical
    /// system; `GOVUK_NOTIFY_API_KEY` (with `GOVUK_NOTIFY_SMS_TEMPLATE_ID`,
    /// `GOVUK_NOTIFY_EMAIL_TEMPLATE_ID`, and optionally
    /// `GOVUK_NOTIFY_BASE_URL` and `GOVUK_NOTIFY_REQUESTS_PER_MINUTE`) when
    /// the stack sends through GOV.UK Notify; `LINK_KEY_SECRET` (at least
    /// 32 characters, from Secrets Manager) and `LINK_BASE_URL` for patient
    /// links.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
        };
        Ok(Self {
            events_table: var("EVENTS_TABLE")?,
            views_table: var("VIEWS_TABLE")?,
            timers_table: var("TIMERS_TABLE")?,
            sms_outbox_table: var("SMS_OUTBOX_TABLE")?,
            idempotency_table: var("IDEMPOTENCY_TABLE")?,
            bucket: var("BUCKET")?,
            fan_out_queue_url: var("FAN_OUT_QUEUE_URL")?,
            send_queue_url: var("SEND_QUEUE_URL")?,
            record_queue_url: var("RECORD_QUEUE_URL")?,
            booking_queue_url: var("BOOKING_QUEUE_URL")?,
            gp_connect: match std::env::var("GP_CONNECT_BASE_URL") {
                Ok(base_url) if !base_url.is_empty() => Some(GpConnectSettings {
                    base_url,
                    from_asid: var("GP_CONNECT_FROM_ASID")?,
                    to_asid: var("GP_CONNECT_TO_ASID")?,
                    ods_code: var("GP_CONNECT_ODS_CODE")?,
                    consumer_ods_code: var("GP_CONNECT_CONSUMER_ODS_CODE")?,
                    retry: crate::http::RetryPolicy {
                        attempts: 3,
                        backoff: std::time::Duration::from_millis(500),
                    },
                    timeout: std::time::Duration::from_secs(20),
                }),
                _ => None,
            },
            link_key: LinkKey::from_secret(&var("LINK_KEY_SECRET")?)
                .map_err(|e| format!("LINK_KEY_SECRET: {e}"))?,
            link_base_url: var("LINK_BASE_URL")?,
            chain_checkpoint_bucket: std::env::var("CHAIN_CHECKPOINT_BUCKET")
                .ok()
                .filter(|b| !b.is_empty()),
            clinical_system: ClinicalSystemPace {
                delay: match std::env::var("RECORD_SIMULATOR_DELAY_MS") {
                    Ok(ms) => std::time::Duration::from_millis(ms.parse().map_err(|_| {
                        format!("RECORD_SIMULATOR_DELAY_MS is not a number of milliseconds: {ms}")
                    })?),
                    Err(_) => ClinicalSystemPace::default().delay,
                },
                ..ClinicalSystemPace::default()
            },
            notify: match std::env::var("GOVUK_NOTIFY_API_KEY") {
                Ok(key) if !key.is_empty() => {
                    let key = NotifyApiKey::parse(&key)
                        .map_err(|e| format!("GOVUK_NOTIFY_API_KEY: {e}"))?;
                    let base_url = std::env::var("GOVUK_NOTIFY_BASE_URL")
                        .unwrap_or_else(|_| "https://api.notifications.service.gov.uk".into());
                    let mut notify = NotifySettings::new(
                        base_url,
                        key,
                        var("GOVUK_NOTIFY_SMS_TEMPLATE_ID")?,
                        var("GOVUK_NOTIFY_EMAIL_TEMPLATE_ID")?,
                    );
                    if let Ok(per_minute) = std::env::var("GOVUK_NOTIFY_REQUESTS_PER_MINUTE") {
                        notify.requests_per_minute = per_minute.parse().map_err(|_| {
                            format!("GOVUK_NOTIFY_REQUESTS_PER_MINUTE is not a positive number: {per_minute}")
                        })?;
                    }
                    Some(notify)
                }
                _ => None,
            },
            nhs_notify: nhs_notify_from_env()?,
            pds: match std::env::var("PDS_BASE_URL") {
                Ok(base_url) if !base_url.is_empty() => {
                    Some(PdsSettings::new(base_url, var("PDS_ACCESS_TOKEN")?))
                }
                _ => None,
            },
        })
    }
}

impl AwsSettings {
    /// What an auditor's `batchbook audit --aws` reads a deployed stack
    /// with, from the stack's outputs: `EVENTS_TABLE`, `VIEWS_TABLE`,
    /// `BUCKET` and `CHAIN_CHECKPOINT_BUCKET`. The auditor sends nothing,
    /// queues nothing and makes no link, so the queues are unnamed and the
    /// link key is one of its own; the only write is the export's own
    /// `AuditExport` event, which the stack's auditor policy allows.
    pub fn for_auditor() -> Result<Self, String> {
        Self::for_auditor_from(|name| std::env::var(name).ok())
    }

    /// [`Self::for_auditor`], reading each variable with `lookup`.
    pub fn for_auditor_from(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let var = |name: &str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("environment variable {name} is not set (--aws reads the stack's tables and buckets from it)"))
        };
        let unused = String::new;
        Ok(Self {
            events_table: var("EVENTS_TABLE")?,
            views_table: var("VIEWS_TABLE")?,
            timers_table: unused(),
            sms_outbox_table: unused(),
            idempotency_table: unused(),
            bucket: var("BUCKET")?,
            fan_out_queue_url: unused(),
            send_queue_url: unused(),
            record_queue_url: unused(),
            booking_queue_url: unused(),
            gp_connect: None,
            clinical_system: ClinicalSystemPace::default(),
            notify: None,
            nhs_notify: None,
            pds: None,
            link_key: LinkKey::from_secret(&uuid::Uuid::new_v4().to_string().repeat(2))
                .expect("72 characters make a key"),
            link_base_url: unused(),
            chain_checkpoint_bucket: Some(var("CHAIN_CHECKPOINT_BUCKET")?),
        })
    }
}

pub struct AwsStack {
    pub app: Arc<Batchbook<DynamoEventRepository>>,
    pub views: Arc<DynamoViews>,
    pub sms: Arc<DynamoSmsOutbox>,
    pub queue: Arc<SqsWorkQueue>,
    /// The event chain's checkpoints and verification, when the stack has
    /// a checkpoint bucket.
    pub audit: Option<Arc<AwsAudit>>,
}

impl AwsStack {
    /// Builds every adapter over one SDK configuration. S3 uses path-style
    /// addresses when an endpoint is overridden (moto, LocalStack).
    pub fn new(sdk: &SdkConfig, settings: &AwsSettings, clock: Arc<dyn Clock>) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        let s3_config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(s3_config);

        let sqs = aws_sdk_sqs::Client::new(sdk);
        let views = Arc::new(DynamoViews::new(dynamo.clone(), &settings.views_table));
        let audit = settings.chain_checkpoint_bucket.as_ref().map(|bucket| {
            Arc::new(AwsAudit::new(
                dynamo.clone(),
                &settings.events_table,
                views.clone(),
                s3.clone(),
                bucket,
            ))
        });
        let simulated = Arc::new(SimulatedPds::bundled());
        let sms = Arc::new(DynamoSmsOutbox::new(
            dynamo.clone(),
            &settings.sms_outbox_table,
            clock.clone(),
        ));
        let notify = settings
            .notify
            .clone()
            .map(|settings| Arc::new(NotifyClient::new(settings)));
        let idempotency = Arc::new(DynamoIdempotency::new(
            dynamo.clone(),
            &settings.idempotency_table,
        ));
        let nhs_app_sender: Arc<dyn NhsAppProvider> = match &settings.nhs_notify {
            Some(nhs_notify) => Arc::new(
                NhsNotifyClient::new(nhs_notify.clone(), idempotency.clone())
                    .expect("the NHS API key was checked when the settings were read"),
            ),
            None => sms.clone(),
        };
        let queue = Arc::new(SqsWorkQueue::new(
            sqs,
            HashMap::from([
                (QueueName::FanOut, settings.fan_out_queue_url.clone()),
                (QueueName::Send, settings.send_queue_url.clone()),
                (QueueName::Record, settings.record_queue_url.clone()),
                (QueueName::Booking, settings.booking_queue_url.clone()),
            ]),
        ));
        let ports = Ports {
            blobs: Arc::new(S3BlobStore::new(s3, &settings.bucket)),
            queue: queue.clone(),
            timers: Arc::new(DynamoTimers::new(dynamo.clone(), &settings.timers_table)),
            clock: clock.clone(),
            sms: match &notify {
                Some(notify) => notify.clone(),
                None => sms.clone(),
            },
            email: match &notify {
                Some(notify) => notify.clone(),
                None => sms.clone(),
            },
            nhs_app_sender,
            // Sandbox stacks keep the simulated clinical system's entries in
            // the simulator outbox table.
            record: Arc::new(SimulatedClinicalSystem::new(
                sms.clone(),
                settings.clinical_system,
                clock.clone(),
            )),
            views: views.clone(),
            idempotency: idempotency.clone(),
            references: idempotency,
            demographics: Some(match &settings.pds {
                Some(pds) => Arc::new(PdsClient::new(pds.clone())),
                None => simulated.clone(),
            }),
            nhs_app: Some(simulated),
            failures: views.clone(),
            appointments: Some(match &settings.gp_connect {
                Some(gp_connect) => Arc::new(GpConnectClient::new(gp_connect.clone())),
                None => Arc::new(SimulatedAppointmentBook::new(
                    Arc::new(DynamoBookingRows::new(
                        dynamo.clone(),
                        &settings.sms_outbox_table,
                    )),
                    &BookConfig::parse(BUNDLED_BOOK)
                        .expect("the bundled appointment book is valid"),
                    clock.clone(),
                )),
            }),
            links: Links {
                directory: views.clone(),
                key: settings.link_key.clone(),
                base_url: settings.link_base_url.clone(),
            },
            history: Some(Arc::new(DynamoEventRepository::new(
                dynamo.clone(),
                &settings.events_table,
            ))),
            patients: Arc::new(DynamoPatientIndex::new(
                dynamo.clone(),
                &settings.views_table,
            )),
        };
        let events_table = settings.events_table.clone();
        let app = Arc::new(Batchbook::new(
            || DynamoEventRepository::new(dynamo.clone(), events_table.clone()),
            ports,
        ));
        Self {
            app,
            views,
            sms,
            queue,
            audit,
        }
    }

    /// Hands the simulated providers' due receipts to the receipt use case,
    /// as the providers' callbacks would: what the sweeper does on a
    /// sandbox stack. Returns how many.
    pub async fn deliver_simulated_receipts(&self, limit: usize) -> Result<usize, JobError> {
        deliver_receipts(&self.app, self.sms.as_ref(), limit).await
    }

    /// One event from the events table's stream: projected into the views,
    /// then reacted to. Both are idempotent, so a replayed record is harmless.
    pub async fn consume_stream_event(&self, event: SerializedEvent) -> Result<(), JobError> {
        self.views.apply(&event).await?;
        self.app.react(event).await?;
        Ok(())
    }
}

/// `NHS_NOTIFY_BASE_URL` turns on the real NHS Notify, with
/// `NHS_NOTIFY_ROUTING_PLAN_ID`, the NHS API platform's `NHS_API_TOKEN_URL`,
/// `NHS_API_KEY`, `NHS_API_KEY_ID` and `NHS_API_PRIVATE_KEY` (PEM), and
/// optionally `NHS_NOTIFY_REQUESTS_PER_MINUTE` (default 300, its 5 a
/// second).
fn nhs_notify_from_env() -> Result<Option<NhsNotifySettings>, String> {
    let base_url = match std::env::var("NHS_NOTIFY_BASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => return Ok(None),
    };
    let var = |name: &str| {
        std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
    };
    let auth = NhsAuthSettings {
        token_url: var("NHS_API_TOKEN_URL")?,
        api_key: var("NHS_API_KEY")?,
        key_id: var("NHS_API_KEY_ID")?,
        private_key_pem: var("NHS_API_PRIVATE_KEY")?,
    };
    auth.check()
        .map_err(|e| format!("NHS_API_PRIVATE_KEY: {e}"))?;
    let mut settings = NhsNotifySettings::new(base_url, auth, var("NHS_NOTIFY_ROUTING_PLAN_ID")?);
    if let Ok(per_minute) = std::env::var("NHS_NOTIFY_REQUESTS_PER_MINUTE") {
        settings.requests_per_minute = per_minute.parse().map_err(|_| {
            format!("NHS_NOTIFY_REQUESTS_PER_MINUTE is not a positive number: {per_minute}")
        })?;
    }
    Ok(Some(settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack_outputs(name: &str) -> Option<String> {
        let value = match name {
            "EVENTS_TABLE" => "bb-events",
            "VIEWS_TABLE" => "bb-views",
            "BUCKET" => "bb-lists",
            "CHAIN_CHECKPOINT_BUCKET" => "bb-chain",
            _ => return None,
        };
        Some(value.to_owned())
    }

    #[test]
    fn an_auditor_reads_a_stack_from_its_four_outputs_and_a_missing_one_is_named() {
        let settings = AwsSettings::for_auditor_from(stack_outputs).unwrap();
        assert_eq!(
            (
                settings.events_table.as_str(),
                settings.views_table.as_str(),
                settings.bucket.as_str(),
                settings.chain_checkpoint_bucket.as_deref()
            ),
            ("bb-events", "bb-views", "bb-lists", Some("bb-chain"))
        );
        let without = |missing: &'static str| {
            move |name: &str| (name != missing).then(|| stack_outputs(name)).flatten()
        };
        assert_eq!(
            AwsSettings::for_auditor_from(without("CHAIN_CHECKPOINT_BUCKET")).err(),
            Some("environment variable CHAIN_CHECKPOINT_BUCKET is not set (--aws reads the stack's tables and buckets from it)".to_owned())
        );
        let empty = |name: &str| match name {
            "VIEWS_TABLE" => Some(String::new()),
            other => stack_outputs(other),
        };
        assert_eq!(
            AwsSettings::for_auditor_from(empty).err(),
            Some("environment variable VIEWS_TABLE is not set (--aws reads the stack's tables and buckets from it)".to_owned())
        );
    }
}
