//! The JSON Schemas of the event catalogue, one per aggregate's event
//! type, as committed under `events/schema/`. Each schema is a `oneOf`
//! over the aggregate's events, each event an object with one property,
//! its type (`{"BatchDrafted": {…}}`), as the events table's `payload`
//! holds it. `tests/schema.rs` fails when these and the committed files
//! differ; `BATCHBOOK_WRITE_SCHEMA=1 cargo test -p events --test schema`
//! writes them.

use schemars::{schema_for, Schema};

use crate::{
    AuditEvent, BatchEvent, ConversationEvent, ConversationMessageEvent, DeliveryEvent,
    InviteEvent, OrganisationEvent, PatientSearchEvent, SlotClaimEvent, TemplateEvent, UploadEvent,
    WorkspaceEvent,
};

/// Every stored aggregate type with the schema of its events, in the
/// aggregate type's name order.
pub fn catalogue() -> Vec<(&'static str, Schema)> {
    vec![
        ("AuditExport", schema_for!(AuditEvent)),
        ("Batch", schema_for!(BatchEvent)),
        ("Conversation", schema_for!(ConversationEvent)),
        ("ConversationMessage", schema_for!(ConversationMessageEvent)),
        ("Delivery", schema_for!(DeliveryEvent)),
        ("Invite", schema_for!(InviteEvent)),
        ("Organisation", schema_for!(OrganisationEvent)),
        ("PatientSearch", schema_for!(PatientSearchEvent)),
        ("SlotClaim", schema_for!(SlotClaimEvent)),
        ("Template", schema_for!(TemplateEvent)),
        ("Upload", schema_for!(UploadEvent)),
        ("Workspace", schema_for!(WorkspaceEvent)),
    ]
}
