//! Upcasters: read events stored by older releases as today's types.
//!
//! The event log is never rewritten. When an event's shape changes, its
//! version goes up and an upcaster here turns the old JSON into the new.

use cqrs_es::persist::{EventUpcaster, SemanticVersionEventUpcaster, SerializedEvent};
use serde_json::{json, Value};

/// Every upcaster, in the order they must run.
pub fn all() -> Vec<Box<dyn EventUpcaster>> {
    vec![Box::new(batch_drafted_v2())]
}

/// Brings one stored event up to today's version, as cqrs-es does when it
/// loads an aggregate; projections and audit tools read events through this.
pub fn upcast(event: SerializedEvent, upcasters: &[Box<dyn EventUpcaster>]) -> SerializedEvent {
    upcasters.iter().fold(event, |event, upcaster| {
        if upcaster.can_upcast(&event.event_type, &event.event_version) {
            upcaster.upcast(event)
        } else {
            event
        }
    })
}

/// `BatchDrafted` 1.0 had `message` and no `kind`: every batch then was a
/// simple message.
fn batch_drafted_v2() -> SemanticVersionEventUpcaster {
    SemanticVersionEventUpcaster::new(
        "BatchDrafted",
        "2.0",
        Box::new(|mut payload: Value| {
            if let Some(body) = payload
                .get_mut("BatchDrafted")
                .and_then(Value::as_object_mut)
            {
                if let Some(message) = body.remove("message") {
                    body.insert("template".into(), message);
                }
                body.entry("kind")
                    .or_insert_with(|| json!("simple_message"));
            }
            payload
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BatchEvent, BatchKind};

    fn stored(version: &str, payload: Value) -> SerializedEvent {
        SerializedEvent::new(
            "b-1".into(),
            1,
            "Batch".into(),
            "BatchDrafted".into(),
            version.into(),
            payload,
            json!({}),
        )
    }

    #[test]
    fn a_version_1_batch_drafted_reads_as_version_2() {
        let old = stored(
            "1.0",
            json!({"BatchDrafted": {
                "batch_id": "b-1", "organisation_id": "A12345",
                "name": "Flu clinic", "message": "Dear ((name)), book now"
            }}),
        );
        let new = upcast(old, &all());
        assert_eq!(new.event_version, "2.0.0");
        let event: BatchEvent = serde_json::from_value(new.payload).unwrap();
        assert_eq!(
            event,
            BatchEvent::BatchDrafted {
                batch_id: "b-1".into(),
                organisation_id: "A12345".into(),
                name: "Flu clinic".into(),
                kind: BatchKind::SimpleMessage,
                template: "Dear ((name)), book now".into(),
                email_subject: None,
                snomed_code: None,
                questionnaire: None,
                attachment: None,
                self_book: None,
                from_template: None,
                workspace_id: None,
            }
        );
    }

    #[test]
    fn a_current_batch_drafted_is_left_alone() {
        let payload = json!({"BatchDrafted": {
            "batch_id": "b-1", "organisation_id": "A12345", "name": "n",
            "kind": "simple_message", "template": "t"
        }});
        let event = upcast(stored("2.0", payload.clone()), &all());
        assert_eq!(event.event_version, "2.0");
        assert_eq!(event.payload, payload);
    }
}
