//! Given / when / then tests of the Batch, one file per concern, sharing
//! the fixtures here.

mod cancelling;
mod completing;
mod creating;
mod links;
mod sending;

pub(super) use super::*;
pub(super) use crate::policies::{SendStart, MAX_SCHEDULE_AHEAD};
pub(super) use chrono::TimeZone;
pub(super) use cqrs_es::test::TestFramework;
pub(super) use cqrs_es::Aggregate;

pub(super) type BatchTest = TestFramework<Batch>;

pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
}

pub(super) fn list(contactable: u64) -> ListAttached {
    ListAttached {
        list_id: "l-1".into(),
        artifact_key: "orgs/A12345/lists/l-1/checked.jsonl".into(),
        artifact_sha256: "ab".into(),
        patient_count: contactable + 1,
        contactable_count: contactable,
        without_valid_mobile_count: 1,
        not_contactable_count: 1,
        mobile_count: None,
    }
}

pub(super) fn drafted() -> Vec<BatchEvent> {
    vec![
        BatchEvent::BatchDrafted {
            batch_id: "b-1".into(),
            organisation_id: "A12345".into(),
            name: "Flu".into(),
            kind: BatchKind::SimpleMessage,
            template: "Hi ((name))".into(),
            email_subject: None,
            snomed_code: Some("73211009".into()),
            questionnaire: None,
            attachment: None,
            self_book: None,
            from_template: None,
            workspace_id: None,
        },
        BatchEvent::PatientListAttached(list(3)),
    ]
}

pub(super) fn send(at: Option<DateTime<Utc>>) -> BatchCommand {
    plan(at.map_or(SendStart::Now, SendStart::At), None)
}

pub(super) fn plan(start: SendStart, stagger_days: Option<u32>) -> BatchCommand {
    BatchCommand::Send {
        organisation_id: "A12345".into(),
        now: now(),
        plan: SendPlan {
            start,
            stagger_days,
        },
        window: SendingWindow::default(),
    }
}

/// `now()` is 09:00 London time, so later days start at 08:00.
pub(super) fn three_days() -> Vec<StaggerDay> {
    (0..3)
        .map(|day| StaggerDay {
            day,
            starts_at: match day {
                0 => now(),
                _ => now() + chrono::Duration::days(day.into()) - chrono::Duration::hours(1),
            },
            recipients: 1,
        })
        .collect()
}

pub(super) fn florey_drafted() -> Vec<BatchEvent> {
    vec![
        BatchEvent::BatchDrafted {
            batch_id: "b-1".into(),
            organisation_id: "A12345".into(),
            name: "BP".into(),
            kind: BatchKind::FloreyQuestionnaire,
            template: "Please send your readings: ((link))".into(),
            email_subject: None,
            snomed_code: None,
            questionnaire: Some(Questionnaire::BloodPressure7Day),
            attachment: None,
            self_book: None,
            from_template: None,
            workspace_id: None,
        },
        BatchEvent::PatientListAttached(list(3)),
    ]
}

/// Creating a batch of `content` from `list`, named and worded as the
/// drafted fixtures are.
pub(super) fn create(
    name: &str,
    template: &str,
    snomed_code: Option<&str>,
    content: BatchContent,
    list: ListAttached,
) -> BatchCommand {
    BatchCommand::Create(Box::new(NewBatch {
        batch_id: "b-1".into(),
        organisation_id: "A12345".into(),
        name: name.into(),
        template: template.into(),
        email_subject: None,
        snomed_code: snomed_code.map(str::to_owned),
        content,
        list,
        from_template: None,
        workspace_id: None,
    }))
}

/// Sending started now, all at once, to the 3 patients of `drafted()`.
pub(super) fn started() -> BatchEvent {
    BatchEvent::SendingStarted {
        recipient_count: 3,
        started_at: now(),
        stagger: vec![],
    }
}
