//! The use cases, written against the ports. The HTTP API, the CLI, the
//! Lambda functions and the local runtime all call these and nothing else.

mod access;
mod attachments;
pub mod audit;
mod batches;
pub mod conversations;
mod idempotency;
pub mod inbox;
pub mod keys;
mod links;
mod lists;
mod patients;
mod replies;
mod reports;
mod selfbook;
mod series;
mod settings;
mod store;
mod teams;
mod templates;
mod workers;
mod workspace;

use std::sync::Arc;

use cqrs_es::persist::PersistedEventRepository;
use events::EventMetadata;

use crate::aggregates::{
    AuditExport, Batch, BatchError, Conversation, ConversationMessage, Delivery, DeliveryServices,
    Invite, Organisation, PatientSearch, SlotClaim, Template, Upload, Workspace,
};
use crate::appointments::AppointmentBook;
use crate::lists::ListError;
use crate::ports::{
    BlobStore, Clock, Demographics, EmailProvider, EventHistory, FailureHistory,
    IdempotencyRecords, LinkDirectory, NhsAppProvider, NhsAppReachability, PatientRecord,
    PortError, ProviderReferences, SmsProvider, Timers, WorkQueue,
};
use crate::projection::BatchSummary;

pub use crate::ports::BatchViews;
pub use access::{Caller, Role};
pub use attachments::{AttachmentFile, AttachmentSummary, MAX_ATTACHMENT_BYTES};
pub use batches::{BatchPreview, Content, CreateBatch};
pub use idempotency::IdempotencyKey;
pub use links::{
    AttachmentOffer, LinkError, LinkPage, LinkState, QuestionnaireForm, RevokeScope, VerifiedLink,
};
pub use lists::{Ingested, ListProgress, ListState, UploadSlot};
pub use patients::FoundPatient;
pub use replies::{ReplyForm, ReplyProblem};
pub use reports::Download;
pub use selfbook::{
    AppointmentView, CatalogueView, InviteView, PatientInvite, PatientInvited, BOOKING_DEADLINE,
};
pub use settings::{OrganisationSettings, PracticeContact, ReplySettings};
use store::AggregateStore;
pub use store::{CommandError, CONFLICT_RETRIES};
pub use teams::WorkspaceView;
pub use templates::{TemplateDraft, TemplateLists, TemplateView, TEMPLATE_NAME_LENGTH};
pub use workers::{JobError, JobOutcome, ReceiptError};
pub use workspace::{BatchFilter, MAX_PAGE};

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
    #[error("{}", role_needed(*.0))]
    RoleNeeded(Role),
    #[error("there is no such attachment")]
    AttachmentNotFound,
    #[error("there is no such template of yours or shared with your organisation")]
    TemplateNotFound,
    #[error("this is {0}'s personal template; only they can change it")]
    NotYourTemplate(String),
    #[error("there is no such workspace in your organisation")]
    WorkspaceNotFound,
    #[error("{0} is not a member of this workspace")]
    NotAMember(String),
    #[error("there is no such conversation in your workspaces")]
    ConversationNotFound,
    #[error(
        "you are not a member of this workspace; ask an admin of your organisation to add you"
    )]
    NotInWorkspace,
    #[error("there is no patient with this NHS number and date of birth")]
    PatientNotFound,
    #[error("finding a patient needs the demographics service (PDS), and none is configured for this deployment")]
    NoDemographics,
    #[error("attachment: the file is larger than 5 MiB ({MAX_ATTACHMENT_BYTES} bytes), the largest allowed")]
    AttachmentTooLarge,
}

fn role_needed(role: Role) -> &'static str {
    match role {
        Role::Admin => "this needs the admin role; ask an admin of your organisation",
        Role::Auditor => "this needs the auditor role",
        Role::Staff | Role::System => {
            "this needs the staff or admin role; an auditor can only read"
        }
    }
}

impl From<PortError> for BatchbookError {
    fn from(e: PortError) -> Self {
        Self::Unavailable(e.0)
    }
}

/// A command on an aggregate that refuses nothing (it records something
/// once: an upload, a patient search): only a conflict, such as another
/// copy of the same upload's check recording it first, or the store can
/// fail it.
impl From<CommandError<std::convert::Infallible>> for BatchbookError {
    fn from(e: CommandError<std::convert::Infallible>) -> Self {
        match e {
            CommandError::Refused(never) | CommandError::Stopped(never) => match never {},
            CommandError::Conflict => Self::Conflict,
            CommandError::Unavailable(cause) => Self::Unavailable(cause),
        }
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
    /// The event history, for auditors. Without it, `audit_history`
    /// answers that this stack cannot read its history.
    pub history: Option<Arc<dyn EventHistory>>,
    /// Where each patient is named (lists, searches, conversations).
    pub patients: Arc<dyn crate::ports::PatientIndex>,
}

/// What patient links need.
#[derive(Clone)]
pub struct Links {
    pub directory: Arc<dyn LinkDirectory>,
    pub key: crate::links::LinkKey,
    /// The patient-facing page links open, e.g. `https://example.nhs.uk/l`.
    pub base_url: String,
}

/// How many patients' link records each process keeps (a few hundred bytes
/// each): the patients of a large batch opening their links on one day.
const KEPT_LINKS: std::num::NonZeroUsize = std::num::NonZeroUsize::new(50_000).unwrap();

/// How many conversations' patients each process keeps (a hundred bytes or
/// so each): every entry of an inbox page names its patient, so a page of
/// 25 was 25 blob reads. A conversation's patient blob is written once,
/// before the conversation starts, and never again (see
/// `start_conversation`), so a kept one is never stale.
const KEPT_PATIENTS: std::num::NonZeroUsize = std::num::NonZeroUsize::new(100_000).unwrap();

/// The application: every use case, over one event repository family `R`
/// (SQLite embedded, DynamoDB on AWS) and one set of ports.
pub struct Batchbook<R: PersistedEventRepository> {
    audit_exports: AggregateStore<R, AuditExport>,
    batches: AggregateStore<R, Batch>,
    deliveries: AggregateStore<R, Delivery>,
    invites: AggregateStore<R, Invite>,
    slot_claims: AggregateStore<R, SlotClaim>,
    organisations: AggregateStore<R, Organisation>,
    templates: AggregateStore<R, Template>,
    uploads: AggregateStore<R, Upload>,
    patient_searches: AggregateStore<R, PatientSearch>,
    workspaces: AggregateStore<R, Workspace>,
    conversations: AggregateStore<R, Conversation>,
    conversation_messages: AggregateStore<R, ConversationMessage>,
    /// Each organisation's appointment-book catalogue, read briefly ago.
    catalogues: std::sync::Mutex<std::collections::HashMap<String, CatalogueView>>,
    /// Conversations' patients read from the blob store, by key (see
    /// [`KEPT_PATIENTS`]).
    kept_patients: std::sync::Mutex<lru::LruCache<String, conversations::ConversationPatient>>,
    ports: Ports,
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// `repository` is called twice per aggregate type: cqrs-es's event
    /// store owns its repository.
    pub fn new(repository: impl Fn() -> R, mut ports: Ports) -> Self {
        ports.links.directory = Arc::new(crate::ports::KeptLinks::new(
            ports.links.directory,
            KEPT_LINKS,
        ));
        let delivery_services = DeliveryServices {
            sms: ports.sms.clone(),
            email: ports.email.clone(),
            nhs_app: ports.nhs_app_sender.clone(),
            record: ports.record.clone(),
        };
        Self {
            audit_exports: AggregateStore::new(&repository, ()),
            batches: AggregateStore::new(&repository, ()),
            conversation_messages: AggregateStore::new(&repository, delivery_services.clone()),
            conversations: AggregateStore::new(&repository, delivery_services.clone()),
            deliveries: AggregateStore::new(&repository, delivery_services),
            invites: AggregateStore::new(&repository, ()),
            slot_claims: AggregateStore::new(&repository, ()),
            organisations: AggregateStore::new(&repository, ()),
            templates: AggregateStore::new(&repository, ()),
            uploads: AggregateStore::new(&repository, ()),
            patient_searches: AggregateStore::new(&repository, ()),
            workspaces: AggregateStore::new(&repository, ()),
            catalogues: Default::default(),
            kept_patients: std::sync::Mutex::new(lru::LruCache::new(KEPT_PATIENTS)),
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
            actor_name: Some(caller.name.clone()).filter(|n| !n.is_empty()),
            correlation_id: caller.correlation_id.clone(),
            occurred_at: self.ports.clock.now(),
        }
        .to_map()
    }

    /// Brings the views up to date with an aggregate's events now, so a read
    /// right after a command sees it. The projector applies the same events
    /// again later and, being idempotent by sequence, changes nothing.
    async fn refresh_views<A: cqrs_es::Aggregate + Clone>(
        &self,
        store: &AggregateStore<R, A>,
        id: &str,
    ) -> Result<(), BatchbookError> {
        let events = store.stored_events(id).await?;
        self.ports.views.apply_now(events).await?;
        Ok(())
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
