//! Read models built from the stored events, never from in-process queries:
//! the batch summary (status and counts) and one row per delivery.
//!
//! [`project`] applies one stored event. It is idempotent by aggregate
//! sequence: each view row remembers the last sequence of the aggregate it
//! applied, so a replayed event changes nothing. Events of different
//! aggregates may arrive in any order (DynamoDB Streams orders only within
//! an aggregate), so a delivery may be counted before its batch's draft is
//! seen.

use cqrs_es::persist::{EventUpcaster, SerializedEvent};

use events::{BatchEvent, BatchKind, DeliveryEvent, EventMetadata, InviteEvent};

use crate::aggregates::batch::BatchStatus;
use crate::aggregates::delivery::DeliveryStatus;
use crate::aggregates::invite::InviteStatus;
use crate::aggregates::{Batch, Delivery, Invite};
use crate::ports::PortError;

mod inbox;
pub use inbox::{InboxList, InboxRow};
mod rows;
pub use rows::{
    listed_key, AttachmentItem, BatchSummary, DeliveryRow, InviteRow, ItemBody, ItemKind, ListItem,
    RecordState, TemplateItem, WorkspaceEntry, WorkspaceItem,
};

pub use crate::ports::ViewTransaction;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("stored event {aggregate_type}/{sequence} cannot be read: {reason}")]
    Undecodable {
        aggregate_type: String,
        sequence: usize,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] PortError),
}

/// A stored event, upcast and decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordedEvent {
    Batch(BatchEvent),
    Delivery(DeliveryEvent),
    Invite(InviteEvent),
    Template(events::TemplateEvent),
    Upload(events::UploadEvent),
    Workspace(events::WorkspaceEvent),
    Conversation(events::ConversationEvent),
    ConversationMessage(events::ConversationMessageEvent),
    /// An aggregate this release does not project.
    Other,
}

pub fn decode(
    event: SerializedEvent,
    upcasters: &[Box<dyn EventUpcaster>],
) -> Result<(RecordedEvent, EventMetadata), ProjectionError> {
    let event = events::upcast::upcast(event, upcasters);
    // The payload and metadata are moved into their types, never copied:
    // the projector and `audit verify` decode every event of the log.
    let SerializedEvent {
        aggregate_type,
        sequence,
        payload,
        metadata,
        ..
    } = event;
    let undecodable = |reason: String| ProjectionError::Undecodable {
        aggregate_type: aggregate_type.clone(),
        sequence,
        reason,
    };
    let metadata: std::collections::HashMap<String, String> =
        serde_json::from_value(metadata).map_err(|e| undecodable(e.to_string()))?;
    let metadata = EventMetadata::from_map(&metadata).map_err(|e| undecodable(e.to_string()))?;
    let decoded = recorded(&aggregate_type, payload).map_err(|e| undecodable(e.to_string()))?;
    Ok((decoded, metadata))
}

/// A payload as the event its aggregate type names.
fn recorded<'de, D>(aggregate_type: &str, payload: D) -> Result<RecordedEvent, serde_json::Error>
where
    D: serde::Deserializer<'de, Error = serde_json::Error>,
{
    use serde::Deserialize;
    Ok(match aggregate_type {
        <Batch as cqrs_es::Aggregate>::TYPE => {
            RecordedEvent::Batch(BatchEvent::deserialize(payload)?)
        }
        <Delivery as cqrs_es::Aggregate>::TYPE => {
            RecordedEvent::Delivery(DeliveryEvent::deserialize(payload)?)
        }
        <Invite as cqrs_es::Aggregate>::TYPE => {
            RecordedEvent::Invite(InviteEvent::deserialize(payload)?)
        }
        <crate::aggregates::Template as cqrs_es::Aggregate>::TYPE => {
            RecordedEvent::Template(events::TemplateEvent::deserialize(payload)?)
        }
        <crate::aggregates::Upload as cqrs_es::Aggregate>::TYPE => {
            RecordedEvent::Upload(events::UploadEvent::deserialize(payload)?)
        }
        <crate::aggregates::Workspace as cqrs_es::Aggregate>::TYPE => {
            RecordedEvent::Workspace(events::WorkspaceEvent::deserialize(payload)?)
        }
        <crate::aggregates::Conversation as cqrs_es::Aggregate>::TYPE => {
            RecordedEvent::Conversation(events::ConversationEvent::deserialize(payload)?)
        }
        <crate::aggregates::ConversationMessage as cqrs_es::Aggregate>::TYPE => {
            RecordedEvent::ConversationMessage(events::ConversationMessageEvent::deserialize(
                payload,
            )?)
        }
        _ => {
            serde::de::IgnoredAny::deserialize(payload)?;
            RecordedEvent::Other
        }
    })
}

/// Decodes a stored event straight from its JSON text as the log holds it,
/// without building a JSON value first: `audit verify` decodes every event
/// of the log. An event an upcaster changes goes by way of [`decode`].
pub fn decode_text(
    event: &crate::audit::StoredEvent<'_>,
    upcasters: &[Box<dyn EventUpcaster>],
) -> Result<(RecordedEvent, EventMetadata), ProjectionError> {
    let undecodable = |reason: String| ProjectionError::Undecodable {
        aggregate_type: event.aggregate_type.to_owned(),
        sequence: event.sequence as usize,
        reason,
    };
    if upcasters
        .iter()
        .any(|u| u.can_upcast(event.event_type, event.event_version))
    {
        let value = |text: &str| serde_json::from_str(text).map_err(|e| undecodable(e.to_string()));
        let stored = SerializedEvent::new(
            event.aggregate_id.to_owned(),
            event.sequence as usize,
            event.aggregate_type.to_owned(),
            event.event_type.to_owned(),
            event.event_version.to_owned(),
            value(event.payload)?,
            value(event.metadata)?,
        );
        return decode(stored, upcasters);
    }
    let metadata =
        EventMetadata::from_stored_json(event.metadata).map_err(|e| undecodable(e.to_string()))?;
    let mut payload = serde_json::Deserializer::from_str(event.payload);
    let decoded = recorded(event.aggregate_type, &mut payload)
        .and_then(|decoded| payload.end().map(|()| decoded))
        .map_err(|e| undecodable(e.to_string()))?;
    Ok((decoded, metadata))
}

/// Applies one stored event to the views. Returns whether anything changed.
pub async fn project(
    tx: &mut dyn ViewTransaction,
    event: SerializedEvent,
    upcasters: &[Box<dyn EventUpcaster>],
) -> Result<bool, ProjectionError> {
    let sequence = event.sequence as u64;
    let aggregate_id = event.aggregate_id.clone();
    let (decoded, metadata) = decode(event, upcasters)?;
    apply(tx, aggregate_id, sequence, decoded, metadata).await
}

/// Applies one decoded event, the `sequence`th of the aggregate
/// `aggregate_id`, to the views. Returns whether anything changed.
pub async fn apply(
    tx: &mut dyn ViewTransaction,
    aggregate_id: String,
    sequence: u64,
    decoded: RecordedEvent,
    metadata: EventMetadata,
) -> Result<bool, ProjectionError> {
    match decoded {
        RecordedEvent::Batch(event) => {
            let mut summary = tx
                .batch(&aggregate_id)
                .await?
                .unwrap_or_else(|| BatchSummary {
                    batch_id: aggregate_id.clone(),
                    organisation_id: metadata.organisation_id.clone(),
                    ..Default::default()
                });
            if sequence <= summary.last_sequence {
                return Ok(false);
            }
            apply_batch_event(&mut summary, event, &metadata);
            summary.last_sequence = sequence;
            tx.put_batch(summary).await?;
        }
        RecordedEvent::Delivery(event) => {
            let (batch_id, row) = event.recipient();
            let (batch_id, row) = (batch_id.to_owned(), row);
            let previous = tx.delivery(&batch_id, row).await?;
            if previous
                .as_ref()
                .is_some_and(|p| sequence <= p.last_sequence)
            {
                return Ok(false);
            }
            if let DeliveryEvent::SendFailed {
                recipient_fingerprint: Some(fingerprint),
                failed_at,
                ..
            }
            | DeliveryEvent::DeliveryFailed {
                recipient_fingerprint: Some(fingerprint),
                failed_at,
                ..
            } = &event
            {
                tx.record_failure(&metadata.organisation_id, fingerprint, *failed_at)
                    .await?;
            }
            let mut summary = tx.batch(&batch_id).await?.unwrap_or_else(|| BatchSummary {
                batch_id: batch_id.clone(),
                organisation_id: metadata.organisation_id.clone(),
                ..Default::default()
            });
            if let Some(previous) = &previous {
                summary.count(previous, -1);
            }
            let answered_before = previous.as_ref().is_some_and(|p| p.answered_at.is_some());
            let opened_before = previous
                .as_ref()
                .is_some_and(|p| p.attachment_opened_at.is_some());
            let saved_before = previous.as_ref().is_some_and(|p| p.record.is_some());
            let sent_before = previous.as_ref().is_some_and(|p| p.first_sent_at.is_some());
            let next = delivery_row(previous, event, sequence);
            summary.count(&next, 1);
            if !answered_before && next.answered_at.is_some() {
                summary.answered_count += 1;
            }
            if !opened_before && next.attachment_opened_at.is_some() {
                summary.attachment_opened_count += 1;
            }
            if !saved_before {
                match next.record {
                    Some(RecordState::Saved) => summary.saved_to_record_count += 1,
                    Some(RecordState::NotSaved) => summary.not_saved_to_record_count += 1,
                    None => {}
                }
            }
            if !sent_before && next.first_sent_at.is_some() {
                summary.first_sent_count += 1;
            }
            tx.put_delivery(next).await?;
            tx.put_batch(summary).await?;
        }
        RecordedEvent::Invite(event) => {
            let (batch_id, row) = event.recipient();
            let (batch_id, row) = (batch_id.to_owned(), row);
            let mut next = tx
                .delivery(&batch_id, row)
                .await?
                .unwrap_or_else(|| DeliveryRow::empty(&batch_id, row));
            let previous = next.invite.clone();
            if previous
                .as_ref()
                .is_some_and(|p| sequence <= p.last_sequence)
            {
                return Ok(false);
            }
            let invite = invite_row(previous.clone(), event, sequence);
            let mut summary = tx.batch(&batch_id).await?.unwrap_or_else(|| BatchSummary {
                batch_id: batch_id.clone(),
                organisation_id: metadata.organisation_id.clone(),
                ..Default::default()
            });
            if let Some(previous) = &previous {
                let count = summary.invites.entry(previous.status).or_default();
                *count = count.saturating_sub(1);
            }
            *summary.invites.entry(invite.status).or_default() += 1;
            next.invite = Some(invite);
            tx.put_delivery(next).await?;
            tx.put_batch(summary).await?;
        }
        RecordedEvent::Template(event) => {
            let previous = tx.item(ItemKind::Template, &aggregate_id).await?;
            if previous
                .as_ref()
                .is_some_and(|p| sequence <= p.last_sequence)
            {
                return Ok(false);
            }
            let Some(next) = template_item(previous, event, sequence) else {
                return Ok(false);
            };
            tx.put_item(&next).await?;
        }
        RecordedEvent::Workspace(event) => {
            let previous = tx.item(ItemKind::Workspace, &aggregate_id).await?;
            if previous
                .as_ref()
                .is_some_and(|p| sequence <= p.last_sequence)
            {
                return Ok(false);
            }
            let Some(mut next) = workspace_item(previous, event, &metadata) else {
                return Ok(false);
            };
            next.last_sequence = sequence;
            tx.put_item(&next).await?;
        }
        RecordedEvent::Upload(event) => {
            let (id, body, at) = match event {
                events::UploadEvent::ListChecked {
                    list_id,
                    system,
                    patient_count,
                    contactable_count,
                    not_contactable_count,
                    checked_at,
                    ..
                } => (
                    list_id,
                    ItemBody::List(ListItem {
                        system,
                        patient_count,
                        contactable_count,
                        not_contactable_count,
                    }),
                    checked_at,
                ),
                events::UploadEvent::AttachmentUploaded {
                    attachment_id,
                    file_name,
                    content_type,
                    size,
                    sha256,
                    uploaded_at,
                    ..
                } => (
                    attachment_id,
                    ItemBody::Attachment(AttachmentItem {
                        file_name,
                        content_type,
                        size,
                        sha256,
                    }),
                    uploaded_at,
                ),
            };
            if tx.item(body.kind(), &id).await?.is_some() {
                return Ok(false);
            }
            tx.put_item(&WorkspaceItem {
                id,
                organisation_id: metadata.organisation_id.clone(),
                created_at: at,
                created_by: metadata.actor.strip_prefix("user:").map(str::to_owned),
                created_by_name: metadata.actor_name.clone(),
                deleted: false,
                item: body,
                last_sequence: sequence,
            })
            .await?;
        }
        RecordedEvent::Conversation(event) => {
            let previous = tx.inbox_row(&aggregate_id).await?;
            if previous
                .as_ref()
                .is_some_and(|p| sequence <= p.last_sequence)
            {
                return Ok(false);
            }
            let Some(next) = inbox::inbox_row(previous.clone(), event, &metadata, sequence) else {
                return Ok(false);
            };
            tx.put_inbox_row(previous.as_ref(), &next).await?;
        }
        // A message's sending and reply reach the inbox through the
        // conversation's own events.
        RecordedEvent::ConversationMessage(_) | RecordedEvent::Other => return Ok(false),
    }
    Ok(true)
}

/// A template's row after one of its events.
/// A workspace's row after one of its events; `None` for an event of a
/// workspace whose row is missing (its creation not yet applied).
fn workspace_item(
    previous: Option<WorkspaceItem>,
    event: events::WorkspaceEvent,
    metadata: &EventMetadata,
) -> Option<WorkspaceItem> {
    use events::WorkspaceEvent;
    match (previous, event) {
        (
            _,
            WorkspaceEvent::WorkspaceCreated {
                workspace_id,
                organisation_id,
                name,
                created_at,
            },
        ) => Some(WorkspaceItem {
            id: workspace_id,
            organisation_id,
            created_at,
            created_by: metadata.actor.strip_prefix("user:").map(str::to_owned),
            created_by_name: metadata.actor_name.clone(),
            deleted: false,
            item: ItemBody::Workspace(WorkspaceEntry {
                name,
                members: Default::default(),
                emails: Default::default(),
            }),
            last_sequence: 0,
        }),
        (Some(mut row), event) => {
            if let ItemBody::Workspace(entry) = &mut row.item {
                match event {
                    WorkspaceEvent::MemberAdded {
                        user_id,
                        name,
                        email,
                        ..
                    } => {
                        match email {
                            Some(email) => entry.emails.insert(user_id.clone(), email),
                            None => entry.emails.remove(&user_id),
                        };
                        entry.members.insert(user_id, name);
                    }
                    WorkspaceEvent::MemberRemoved { user_id, .. } => {
                        entry.members.remove(&user_id);
                        entry.emails.remove(&user_id);
                    }
                    WorkspaceEvent::WorkspaceCreated { .. } => {}
                }
            }
            Some(row)
        }
        (None, _) => None,
    }
}

fn template_item(
    previous: Option<WorkspaceItem>,
    event: events::TemplateEvent,
    sequence: u64,
) -> Option<WorkspaceItem> {
    use events::TemplateEvent;
    let mut next = match (previous, event) {
        (
            _,
            TemplateEvent::TemplateCreated {
                template_id,
                organisation_id,
                owner,
                owner_name,
                shared,
                text,
                created_at,
            },
        ) => WorkspaceItem {
            id: template_id,
            organisation_id,
            created_at,
            created_by: Some(owner.clone()),
            created_by_name: Some(owner_name.clone()),
            deleted: false,
            item: ItemBody::Template(TemplateItem {
                owner,
                owner_name,
                shared,
                version: 1,
                text,
                updated_at: created_at,
            }),
            last_sequence: 0,
        },
        (
            Some(mut row),
            TemplateEvent::TemplateEdited {
                version,
                text,
                edited_at,
                ..
            },
        ) => {
            if let ItemBody::Template(template) = &mut row.item {
                template.version = version;
                template.text = text;
                template.updated_at = edited_at;
            }
            row
        }
        (Some(mut row), TemplateEvent::TemplateShared { shared_at, .. }) => {
            if let ItemBody::Template(template) = &mut row.item {
                template.shared = true;
                template.updated_at = shared_at;
            }
            row
        }
        (Some(mut row), TemplateEvent::TemplateDeleted { .. }) => {
            row.deleted = true;
            row
        }
        // An edit before its creation cannot happen in one aggregate's order.
        (None, _) => return None,
    };
    next.last_sequence = sequence;
    Some(next)
}

fn apply_batch_event(summary: &mut BatchSummary, event: BatchEvent, metadata: &EventMetadata) {
    match event {
        BatchEvent::BatchDrafted {
            batch_id,
            organisation_id,
            name,
            kind,
            email_subject,
            snomed_code,
            questionnaire,
            attachment,
            template,
            self_book,
            from_template,
            ..
        } => {
            summary.message = template;
            summary.self_book = self_book.map(|s| *s);
            summary.from_template = from_template.map(|t| *t);
            summary.created_by = metadata.actor.strip_prefix("user:").map(str::to_owned);
            summary.created_by_name = metadata.actor_name.clone();
            summary.questionnaire = questionnaire;
            summary.attachment = attachment;
            summary.batch_id = batch_id;
            summary.organisation_id = organisation_id;
            summary.name = name;
            summary.kind = Some(kind);
            summary.email_subject = email_subject;
            summary.snomed_code = snomed_code;
            summary.status = BatchStatus::Draft;
            summary.created_at = Some(metadata.occurred_at);
        }
        BatchEvent::PatientListAttached(list) => {
            summary.list_id = list.list_id;
            summary.artifact_key = list.artifact_key;
            summary.patient_count = list.patient_count;
            summary.contactable_count = list.contactable_count;
            summary.without_valid_mobile_count = list.without_valid_mobile_count;
            summary.not_contactable_count = list.not_contactable_count;
            // Who the batch will send to, before it starts sending.
            summary.recipient_count = crate::aggregates::batch::recipients(
                summary.kind.unwrap_or(BatchKind::SimpleMessage),
                list.contactable_count,
                list.mobile_count,
            );
        }
        BatchEvent::SendScheduled { send_at, stagger } => {
            summary.status = BatchStatus::Scheduled;
            summary.send_at = Some(send_at);
            summary.stagger = stagger;
        }
        BatchEvent::SendingStarted {
            recipient_count,
            started_at,
            stagger,
        } => {
            summary.status = BatchStatus::Sending;
            summary.recipient_count = recipient_count;
            summary.started_at = Some(started_at);
            summary.stagger = stagger;
        }
        BatchEvent::BatchCompleted { completed_at } => {
            summary.status = BatchStatus::Done;
            summary.completed_at = Some(completed_at);
        }
        BatchEvent::BatchCancelled { cancelled_at } => {
            summary.status = BatchStatus::Cancelled;
            summary.cancelled_at = Some(cancelled_at);
        }
        BatchEvent::SavingStarted { records, .. } => {
            summary.status = BatchStatus::Saving;
            summary.records_to_save = records;
        }
        BatchEvent::RecordsSaved { saved_at } => {
            summary.status = BatchStatus::Saved;
            summary.saved_at = Some(saved_at);
        }
        BatchEvent::LinksRevoked { revoked_at } => summary.links_revoked_at = Some(revoked_at),
    }
}

/// An invite's row after one of its events.
fn invite_row(previous: Option<InviteRow>, event: InviteEvent, sequence: u64) -> InviteRow {
    let mut next = previous.unwrap_or(InviteRow {
        status: InviteStatus::Open,
        appointment_at: None,
        declined_code: None,
        last_sequence: 0,
    });
    next.last_sequence = sequence;
    match event {
        InviteEvent::BookingRequested { slot, .. } => {
            next.status = InviteStatus::Pending;
            next.appointment_at = Some(crate::selfbook::expected_start(&slot));
        }
        InviteEvent::BookingConfirmed { .. } => next.status = InviteStatus::Booked,
        InviteEvent::BookingFailed { .. } => {
            next.status = InviteStatus::Failed;
            next.appointment_at = None;
        }
        InviteEvent::InviteDeclined { snomed_code, .. } => {
            next.status = InviteStatus::Declined;
            next.declined_code = Some(snomed_code);
        }
        InviteEvent::BookingCancelled { .. } => next.status = InviteStatus::Cancelled,
        InviteEvent::InviteTimedOut { .. } => next.status = InviteStatus::TimedOut,
        InviteEvent::AppointmentReminderDue { .. } | InviteEvent::DeclineRecorded { .. } => {}
    }
    next
}

/// The row after one event. Events of one aggregate arrive in order, so
/// `previous` is the row as the events before this one left it.
fn delivery_row(previous: Option<DeliveryRow>, event: DeliveryEvent, sequence: u64) -> DeliveryRow {
    let (batch_id, row) = event.recipient();
    let mut next = previous.unwrap_or_else(|| DeliveryRow::empty(batch_id, row));
    next.last_sequence = sequence;
    match event {
        DeliveryEvent::MessageSent {
            channel,
            provider_reference,
            sent_at,
            fallback_due_at,
            ..
        } => {
            next.channel = channel;
            next.status = DeliveryStatus::Sent;
            next.reason = None;
            next.provider_reference = Some(provider_reference);
            next.sent_at = Some(sent_at);
            next.first_sent_at.get_or_insert(sent_at);
            next.fallback_due_at = fallback_due_at;
        }
        DeliveryEvent::SendFailed {
            channel,
            reason,
            failed_at,
            falls_back_to_sms,
            ..
        } => {
            next.channel = channel;
            next.status = DeliveryStatus::Failed;
            next.reason = Some(reason.as_str().to_owned());
            next.provider_reference = None;
            // Open until the fallback's own event, which follows at once.
            next.fallback_due_at = falls_back_to_sms.then_some(failed_at);
        }
        DeliveryEvent::MessageDelivered { .. } => next.status = DeliveryStatus::Delivered,
        DeliveryEvent::MessageRead { .. } => next.status = DeliveryStatus::Read,
        DeliveryEvent::DeliveryFailed { failure, .. } => {
            next.status = DeliveryStatus::Failed;
            next.reason = Some(failure.as_str().to_owned());
        }
        DeliveryEvent::SavedToRecord { .. } => next.record = Some(RecordState::Saved),
        DeliveryEvent::RecordNotSaved { .. } => next.record = Some(RecordState::NotSaved),
        DeliveryEvent::LinkRevoked { .. } => next.link_revoked = true,
        DeliveryEvent::IdentityVerified { .. } | DeliveryEvent::IdentityCheckFailed { .. } => {}
        DeliveryEvent::QuestionnaireAnswered {
            answers,
            answered_at,
            ..
        } => {
            next.answers = answers;
            next.answered_at = Some(answered_at);
        }
        DeliveryEvent::AttachmentOpened { opened_at, .. } => {
            next.attachment_opened_at = Some(opened_at)
        }
        DeliveryEvent::ReminderSent { reminder, .. }
        | DeliveryEvent::ReminderNotSent { reminder, .. } => next.reminders.push(reminder),
        DeliveryEvent::SeriesTextSent { step, .. }
        | DeliveryEvent::SeriesTextNotSent { step, .. } => next.series.push(step),
        DeliveryEvent::SeriesStopped { .. } => next.series_stopped = true,
        DeliveryEvent::NoticeSent { .. } | DeliveryEvent::NoticeNotSent { .. } => {}
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono::Utc;
    use events::Channel;

    /// The views in memory: the replay `audit verify --aws` makes.
    type MemoryViews = crate::audit::ReplayedViews;

    fn stored(
        aggregate_type: &str,
        id: &str,
        seq: usize,
        payload: serde_json::Value,
    ) -> SerializedEvent {
        let metadata = EventMetadata {
            organisation_id: "A12345".into(),
            actor_name: None,
            actor: "test".into(),
            correlation_id: "c".into(),
            occurred_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        };
        SerializedEvent::new(
            id.into(),
            seq,
            aggregate_type.into(),
            "x".into(),
            "1.0".into(),
            payload,
            serde_json::to_value(metadata.to_map()).unwrap(),
        )
    }

    fn sent(row: u64) -> SerializedEvent {
        let event = DeliveryEvent::MessageSent {
            batch_id: "b-1".into(),
            row,
            channel: Channel::Sms,
            provider_reference: format!("ref-{row}"),
            idempotency_key: "k".into(),
            sent_at: Utc::now(),
            fallback_due_at: None,
            recipient_fingerprint: None,
        };
        stored(
            "Delivery",
            &format!("b-1:{row}"),
            1,
            serde_json::to_value(event).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_replayed_delivery_event_is_counted_once() {
        let mut views = MemoryViews::default();
        let upcasters = events::upcast::all();
        assert!(project(&mut views, sent(1), &upcasters).await.unwrap());
        assert!(!project(&mut views, sent(1), &upcasters).await.unwrap());
        assert!(project(&mut views, sent(2), &upcasters).await.unwrap());
        assert_eq!(views.batches["b-1"].awaiting_receipt_count, 2);
    }

    #[tokio::test]
    async fn deliveries_counted_before_the_draft_is_seen_are_kept() {
        let mut views = MemoryViews::default();
        let upcasters = events::upcast::all();
        project(&mut views, sent(1), &upcasters).await.unwrap();
        let drafted = BatchEvent::BatchDrafted {
            batch_id: "b-1".into(),
            organisation_id: "A12345".into(),
            name: "Flu".into(),
            kind: BatchKind::SimpleMessage,
            template: "t".into(),
            email_subject: None,
            snomed_code: None,
            questionnaire: None,
            attachment: None,
            self_book: None,
            from_template: None,
            workspace_id: None,
        };
        let drafted = stored("Batch", "b-1", 1, serde_json::to_value(drafted).unwrap());
        project(&mut views, drafted, &upcasters).await.unwrap();
        let summary = &views.batches["b-1"];
        assert_eq!(
            (summary.name.as_str(), summary.awaiting_receipt_count),
            ("Flu", 1)
        );
        assert_eq!(summary.status, BatchStatus::Draft);
    }

    #[tokio::test]
    async fn a_failure_is_recorded_for_its_organisation_and_the_latest_time_kept() {
        let mut views = MemoryViews::default();
        let upcasters = events::upcast::all();
        let failed = |row: u64, day: u32| {
            let event = DeliveryEvent::SendFailed {
                batch_id: "b-1".into(),
                row,
                channel: Channel::Sms,
                reason: events::SendFailureReason::PermanentFailure,
                failed_at: Utc.with_ymd_and_hms(2026, 11, day, 9, 0, 0).unwrap(),
                recipient_fingerprint: Some("f1".into()),
                falls_back_to_sms: false,
            };
            stored(
                "Delivery",
                &format!("b-1:{row}"),
                1,
                serde_json::to_value(event).unwrap(),
            )
        };
        project(&mut views, failed(1, 20), &upcasters)
            .await
            .unwrap();
        project(&mut views, failed(2, 10), &upcasters)
            .await
            .unwrap();
        assert_eq!(
            views.failures[&("A12345".to_owned(), "f1".to_owned())],
            Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap()
        );
    }
}
