//! The Batchbook event catalogue.
//!
//! Every domain event is a versioned serde type. This crate is the audit
//! contract: an auditor's replay tool depends on it alone. Stored events
//! carry `event_type` and `event_version`; an event written by an older
//! release is read through an upcaster in [`upcast`], never by guessing.
//!
//! Events name patients only by their row in the checked list artifact,
//! which lives in the blob store. Patient data never enters the event log.

pub mod audit;
pub mod batch;
pub mod conversation;
pub mod delivery;
pub mod invite;
pub mod metadata;
pub mod patient;
pub mod schema;
pub mod team;
pub mod upcast;
pub mod workspace;

pub use audit::AuditEvent;
pub use batch::{Attachment, BatchEvent, BatchKind, ListAttached, Questionnaire, StaggerDay};
pub use conversation::{Assignee, ConversationEvent, ConversationMessageEvent};
pub use delivery::{Channel, DeliveryEvent, DeliveryFailure, SendFailureReason};
pub use invite::{
    AppointmentChannel, ChosenSlot, DeclineOption, InviteEvent, LinkExpiry, SelfBook,
    SlotClaimEvent, Timing,
};
pub use metadata::{EventMetadata, MetadataError};
pub use patient::{PatientSearchEvent, SearchOutcome};
pub use team::WorkspaceEvent;
pub use workspace::{
    ContactRecord, OrganisationEvent, ReplySettingsRecord, SendingWindowRecord, SettingsRecord,
    TemplateEvent, TemplateText, TemplateUsed, UploadEvent,
};
