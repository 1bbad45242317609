//! The use cases, written against the ports. The HTTP API, the CLI, the
//! Lambda functions and the local runtime all call these and nothing else.

mod attachments;
mod batches;
mod idempotency;
mod invites;
mod links;
mod lists;
mod reports;
mod workers;

use std::sync::Arc;

use cqrs_es::persist::{PersistedEventRepository, PersistedEventStore};
use cqrs_es::{AggregateError, CqrsFramework};
use events::EventMetadata;

use crate::aggregates::{Batch, BatchError, Delivery, DeliveryServices, Invite, SlotClaim};
use crate::appointments::AppointmentBook;
use crate::lists::ListError;
use crate::ports::{
    BlobStore, Clock, Demographics, EmailProvider, FailureHistory, IdempotencyRecords,
    LinkDirectory, NhsAppProvider, NhsAppReachability, PatientRecord, PortError,
    ProviderReferences, SmsProvider, Timers, WorkQueue,
};
use crate::projection::{BatchSummary, DeliveryRow};
use crate::values::OrganisationId;

pub use attachments::{AttachmentFile, AttachmentSummary, MAX_ATTACHMENT_BYTES};
pub use batches::{BatchPreview, Content, CreateBatch};
pub use idempotency::IdempotencyKey;
pub use invites::{AppointmentView, InviteView, PatientInvite, PatientInvited, BOOKING_DEADLINE};
pub use links::{
    AttachmentOffer, LinkError, LinkPage, LinkState, QuestionnaireForm, RevokeScope, VerifiedLink,
};
pub use lists::{
    Ingested, ListProgress, ListState, OrganisationSettings, PracticeContact, UploadSlot,
};
pub use reports::Download;
pub use workers::{JobError, JobOutcome, ReceiptError};

/// Who is asking: the organisation comes from the caller's authenticated
/// identity, never from a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub organisation_id: OrganisationId,
    pub actor: String,
    pub correlation_id: String,
}

impl Caller {
    /// The runtime's own identity, acting for an organisation on work that
    /// organisation started.
    pub fn system(organisation_id: OrganisationId, component: &str, correlation_id: &str) -> Self {
        Self {
            organisation_id,
            actor: format!("system:{component}"),
            correlation_id: correlation_id.to_owned(),
        }
    }
}

/// Every failure a use case reports, each with a message staff can act on.
/// The HTTP layer maps these to problem responses in one place.
#[derive(Debug, thiserror::Error)]
pub enum BatchbookError {
    #[error(transparent)]
    List(#[from] ListError),
    #[error("there is no such patient list")]
    ListNotFound,
    #[error("the list is still being checked; try again in a moment")]
    ListBeingChecked,
    #[error("there is no such batch")]
    BatchNotFound,
    #[error(transparent)]
    Batch(BatchError),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("someone else changed this at the same moment; try again")]
    Conflict,
    #[error("a request with this Idempotency-Key is still being handled; try again shortly")]
    RequestInProgress,
    #[error("a service Batchbook depends on is unavailable; try again shortly")]
    Unavailable(String),
    #[error("Self-Book needs an appointment book, and none is configured for this deployment")]
    NoAppointmentBook,
    #[error("attachment: the file is larger than 5 MiB ({MAX_ATTACHMENT_BYTES} bytes), the largest allowed")]
    AttachmentTooLarge,
}

impl From<PortError> for BatchbookError {
    fn from(e: PortError) -> Self {
        Self::Unavailable(e.0)
    }
}

impl From<AggregateError<BatchError>> for BatchbookError {
    fn from(e: AggregateError<BatchError>) -> Self {
        match e {
            AggregateError::UserError(BatchError::NotFound) => Self::BatchNotFound,
            AggregateError::UserError(e) => Self::Batch(e),
            AggregateError::AggregateConflict => Self::Conflict,
            other => Self::Unavailable(other.to_string()),
        }
    }
}

/// The read side the use cases query.
#[async_trait::async_trait]
pub trait BatchViews: Send + Sync {
    async fn batch(&self, batch_id: &str) -> Result<Option<BatchSummary>, PortError>;
    async fn failed_deliveries(&self, batch_id: &str) -> Result<Vec<DeliveryRow>, PortError>;
    /// Batches whose current stage has finished (`BatchSummary::is_settled`):
    /// Sending with every outcome known, or Saving with every record written.
    async fn settled_batches(&self, limit: usize) -> Result<Vec<BatchSummary>, PortError>;
    /// Every delivery of a batch, in row order.
    async fn deliveries(&self, batch_id: &str) -> Result<Vec<DeliveryRow>, PortError>;
    /// A batch's deliveries still waiting for a receipt, a read or a
    /// fallback (`DeliveryRow::is_open`).
    async fn open_deliveries(&self, batch_id: &str) -> Result<Vec<DeliveryRow>, PortError>;
}

/// The adapters one deployment is built from.
#[derive(Clone)]
pub struct Ports {
    pub blobs: Arc<dyn BlobStore>,
    pub queue: Arc<dyn WorkQueue>,
    pub timers: Arc<dyn Timers>,
    pub clock: Arc<dyn Clock>,
    pub sms: Arc<dyn SmsProvider>,
    pub email: Arc<dyn EmailProvider>,
    /// Sends NHS App messages (`nhs_app` says who can receive them).
    pub nhs_app_sender: Arc<dyn NhsAppProvider>,
    /// The GP clinical system, where sent messages are saved.
    pub record: Arc<dyn PatientRecord>,
    pub views: Arc<dyn BatchViews>,
    pub idempotency: Arc<dyn IdempotencyRecords>,
    /// Receipts that quote a provider's own reference (NHS Notify's UUIDs)
    /// are mapped back to Batchbook's through this.
    pub references: Arc<dyn ProviderReferences>,
    /// PDS, for contact details and the deceased flag. Without it, lists are
    /// checked on what they say alone.
    pub demographics: Option<Arc<dyn Demographics>>,
    /// Who can receive NHS App messages. Without it, nobody is sent one.
    pub nhs_app: Option<Arc<dyn NhsAppReachability>>,
    pub failures: Arc<dyn FailureHistory>,
    /// The practice's appointment book, for Self-Book. Without it, Self-Book
    /// invites cannot be made.
    pub appointments: Option<Arc<dyn AppointmentBook>>,
    /// Patient links: where they are registered, the key their tokens come
    /// from and the page they open.
    pub links: Links,
}

/// What patient links need.
#[derive(Clone)]
pub struct Links {
    pub directory: Arc<dyn LinkDirectory>,
    pub key: crate::links::LinkKey,
    /// The patient-facing page links open, e.g. `https://example.nhs.uk/l`.
    pub base_url: String,
}

type Framework<A, R> = CqrsFramework<A, PersistedEventStore<R, A>>;

/// The application: every use case, over one event repository family `R`
/// (SQLite embedded, DynamoDB on AWS) and one set of ports.
pub struct Batchbook<R: PersistedEventRepository> {
    batches: Framework<Batch, R>,
    batch_store: PersistedEventStore<R, Batch>,
    deliveries: Framework<Delivery, R>,
    delivery_store: PersistedEventStore<R, Delivery>,
    invites: Framework<Invite, R>,
    invite_store: PersistedEventStore<R, Invite>,
    slot_claims: Framework<SlotClaim, R>,
    slot_claim_store: PersistedEventStore<R, SlotClaim>,
    ports: Ports,
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// `repository` is called once per aggregate type: cqrs-es's event store
    /// owns its repository.
    pub fn new(repository: impl Fn() -> R, ports: Ports) -> Self {
        Self {
            batches: CqrsFramework::new(event_store(repository()), vec![], ()),
            batch_store: event_store(repository()),
            delivery_store: event_store(repository()),
            deliveries: CqrsFramework::new(
                event_store(repository()),
                vec![],
                DeliveryServices {
                    sms: ports.sms.clone(),
                    email: ports.email.clone(),
                    nhs_app: ports.nhs_app_sender.clone(),
                    record: ports.record.clone(),
                },
            ),
            invites: CqrsFramework::new(event_store(repository()), vec![], ()),
            invite_store: event_store(repository()),
            slot_claims: CqrsFramework::new(event_store(repository()), vec![], ()),
            slot_claim_store: event_store(repository()),
            ports,
        }
    }

    fn metadata(&self, caller: &Caller) -> std::collections::HashMap<String, String> {
        EventMetadata {
            organisation_id: caller.organisation_id.to_string(),
            actor: caller.actor.clone(),
            correlation_id: caller.correlation_id.clone(),
            occurred_at: self.ports.clock.now(),
        }
        .to_map()
    }

    /// The batch's summary, if it belongs to the caller's organisation.
    pub async fn batch(
        &self,
        caller: &Caller,
        batch_id: &str,
    ) -> Result<BatchSummary, BatchbookError> {
        match self.ports.views.batch(batch_id).await? {
            Some(summary)
                if summary.organisation_id == caller.organisation_id.as_ref()
                    && summary.kind.is_some() =>
            {
                Ok(summary)
            }
            _ => Err(BatchbookError::BatchNotFound),
        }
    }
}

/// The current state of one aggregate, replayed from its events (the
/// default state when it has none).
async fn current<R: PersistedEventRepository, A: cqrs_es::Aggregate + Clone>(
    store: &PersistedEventStore<R, A>,
    id: &str,
) -> Result<A, PortError> {
    use cqrs_es::{AggregateContext, EventStore};
    let mut context = store
        .load_aggregate(id)
        .await
        .map_err(|e| PortError::new("event store", e))?;
    Ok(context.aggregate().clone())
}

/// Plain event-store mode: cqrs-es's snapshot and aggregate-store modes
/// apply every event twice in 0.5.
fn event_store<R: PersistedEventRepository, A: cqrs_es::Aggregate>(
    repository: R,
) -> PersistedEventStore<R, A> {
    PersistedEventStore::new_event_store(repository).with_upcasters(events::upcast::all())
}

/// Blob keys. Each kind of object has its own top-level prefix (so a bucket
/// lifecycle rule can expire raw uploads and reports), then the
/// organisation, so one organisation's objects can never be named by another.
pub mod keys {
    use crate::values::OrganisationId;

    pub fn list_prefix(org: &OrganisationId, list_id: &str) -> String {
        format!("lists/{org}/{list_id}")
    }
    /// A copy of a list's upload kept with the list, for reports that
    /// outlive the upload's expiry (Self-Book's, for as long as its links).
    pub fn kept_upload(org: &OrganisationId, list_id: &str) -> String {
        format!("{}/upload.csv", list_prefix(org, list_id))
    }
    /// Where the frontend puts a file for the ingest function to check.
    pub fn upload(org: &OrganisationId, upload_id: &str) -> String {
        format!("uploads/{org}/{upload_id}.csv")
    }
    /// Reads an upload key back into its organisation and upload id.
    pub fn parse_upload(key: &str) -> Option<(OrganisationId, String)> {
        let rest = key.strip_prefix("uploads/")?;
        let (org, file) = rest.split_once('/')?;
        let upload_id = file.strip_suffix(".csv")?;
        uuid::Uuid::parse_str(upload_id).ok()?;
        Some((OrganisationId::parse(org).ok()?, upload_id.to_owned()))
    }
    /// Where a refused upload's reason is kept, for the frontend to show.
    pub fn refusal(org: &OrganisationId, list_id: &str) -> String {
        format!("{}/refusal.json", list_prefix(org, list_id))
    }
    /// An attachment's file, and what was said about it at upload.
    pub fn attachment(org: &OrganisationId, attachment_id: &str) -> String {
        format!("attachments/{org}/{attachment_id}")
    }
    pub fn attachment_summary(org: &OrganisationId, attachment_id: &str) -> String {
        format!("attachments/{org}/{attachment_id}.json")
    }
    pub fn report(org: &OrganisationId, name: &str) -> String {
        format!("reports/{org}/{name}")
    }
    pub fn checked(org: &OrganisationId, list_id: &str) -> String {
        format!("{}/checked.jsonl", list_prefix(org, list_id))
    }
    pub fn summary(org: &OrganisationId, list_id: &str) -> String {
        format!("{}/summary.json", list_prefix(org, list_id))
    }
    /// How far the check of a large list has got.
    pub fn progress(org: &OrganisationId, list_id: &str) -> String {
        format!("{}/progress.json", list_prefix(org, list_id))
    }
    /// The organisation's settings.
    pub fn settings(org: &OrganisationId) -> String {
        format!("settings/{org}.json")
    }
}
