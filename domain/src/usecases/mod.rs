//! The use cases, written against the ports. The HTTP API, the CLI, the
//! Lambda functions and the local runtime all call these and nothing else.

mod attachments;
mod batches;
mod idempotency;
pub mod keys;
mod links;
mod lists;
mod reports;
mod selfbook;
mod series;
mod settings;
mod store;
mod workers;

use std::sync::Arc;

use cqrs_es::persist::PersistedEventRepository;
use events::EventMetadata;

use crate::aggregates::{Batch, BatchError, Delivery, DeliveryServices, Invite, SlotClaim};
use crate::appointments::AppointmentBook;
use crate::lists::ListError;
use crate::ports::{
    BlobStore, Clock, Demographics, EmailProvider, FailureHistory, IdempotencyRecords,
    LinkDirectory, NhsAppProvider, NhsAppReachability, PatientRecord, PortError,
    ProviderReferences, SmsProvider, Timers, WorkQueue,
};
use crate::projection::BatchSummary;
use crate::values::OrganisationId;

pub use crate::ports::BatchViews;
pub use attachments::{AttachmentFile, AttachmentSummary, MAX_ATTACHMENT_BYTES};
pub use batches::{BatchPreview, Content, CreateBatch};
pub use idempotency::IdempotencyKey;
pub use links::{
    AttachmentOffer, LinkError, LinkPage, LinkState, QuestionnaireForm, RevokeScope, VerifiedLink,
};
pub use lists::{Ingested, ListProgress, ListState, UploadSlot};
pub use reports::Download;
pub use selfbook::{AppointmentView, InviteView, PatientInvite, PatientInvited, BOOKING_DEADLINE};
pub use settings::{OrganisationSettings, PracticeContact};
use store::AggregateStore;
pub use store::{CommandError, CONFLICT_RETRIES};
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

impl From<CommandError<BatchError>> for BatchbookError {
    fn from(e: CommandError<BatchError>) -> Self {
        match e {
            CommandError::Refused(BatchError::NotFound) => Self::BatchNotFound,
            CommandError::Refused(e) => Self::Batch(e),
            CommandError::Conflict => Self::Conflict,
            CommandError::Stopped(never) => match never {},
            CommandError::Unavailable(cause) => Self::Unavailable(cause),
        }
    }
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

/// The application: every use case, over one event repository family `R`
/// (SQLite embedded, DynamoDB on AWS) and one set of ports.
pub struct Batchbook<R: PersistedEventRepository> {
    batches: AggregateStore<R, Batch>,
    deliveries: AggregateStore<R, Delivery>,
    invites: AggregateStore<R, Invite>,
    slot_claims: AggregateStore<R, SlotClaim>,
    ports: Ports,
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// `repository` is called twice per aggregate type: cqrs-es's event
    /// store owns its repository.
    pub fn new(repository: impl Fn() -> R, ports: Ports) -> Self {
        let delivery_services = DeliveryServices {
            sms: ports.sms.clone(),
            email: ports.email.clone(),
            nhs_app: ports.nhs_app_sender.clone(),
            record: ports.record.clone(),
        };
        Self {
            batches: AggregateStore::new(&repository, ()),
            deliveries: AggregateStore::new(&repository, delivery_services),
            invites: AggregateStore::new(&repository, ()),
            slot_claims: AggregateStore::new(&repository, ()),
            ports,
        }
    }

    /// Now, by the deployment's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.ports.clock.now()
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
