//! The aggregates, on cqrs-es in plain event-store mode. Each is small: none
//! grows with the size of a list.

/// Implements cqrs-es's `Aggregate` for an aggregate in one shape: its
/// `decide` turns a command into the events it records (or a refusal),
/// and its `apply_event` folds an event into its state.
macro_rules! aggregate {
    ($aggregate:ty, $name:literal, $command:ty, $event:ty, $error:ty, $services:ty) => {
        impl cqrs_es::Aggregate for $aggregate {
            const TYPE: &'static str = $name;
            type Command = $command;
            type Event = $event;
            type Error = $error;
            type Services = $services;

            async fn handle(
                &mut self,
                command: Self::Command,
                services: &Self::Services,
                sink: &cqrs_es::event_sink::EventSink<Self>,
            ) -> Result<(), Self::Error> {
                for event in self.decide(command, services).await? {
                    sink.write(event, self).await;
                }
                Ok(())
            }

            fn apply(&mut self, event: Self::Event) {
                self.apply_event(event)
            }
        }
    };
}

pub mod audit_export;
pub mod batch;
pub mod conversation;
pub mod conversation_message;
pub mod delivery;
pub mod invite;
pub mod organisation;
pub mod patient_search;
pub mod slot_claim;
pub mod template;
pub mod upload;
pub mod workspace;

pub use audit_export::{AuditExport, AuditExportCommand};
pub use batch::{Batch, BatchCommand, BatchError, BatchStatus, NewBatch};
pub use conversation::{Conversation, ConversationCommand, ConversationError};
pub use conversation_message::{
    conversation_message_id, ConversationMessage, ConversationMessageCommand,
    ConversationMessageError, Outgoing,
};
pub use delivery::{
    Delivery, DeliveryCommand, DeliveryError, DeliveryServices, DeliveryStatus, Fallback, Message,
};
pub use invite::{Invite, InviteCommand, InviteError, InviteStatus, LinkStanding};
pub use organisation::{Organisation, OrganisationCommand, OrganisationError};
pub use patient_search::{PatientSearch, PatientSearchCommand};
pub use slot_claim::{slot_claim_id, SlotClaim, SlotClaimCommand, SlotClaimError};
pub use template::{Editor, Template, TemplateCommand, TemplateError};
pub use upload::{Upload, UploadCommand};
pub use workspace::{Workspace, WorkspaceCommand, WorkspaceError};
