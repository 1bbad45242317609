//! The Batch aggregate: one per batch message. It knows its list by key and
//! counts, never by rows.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use events::{
    Attachment, BatchEvent, BatchKind, ListAttached, Questionnaire, SelfBook, StaggerDay,
};
use serde::{Deserialize, Serialize};

use crate::links::LinkPurpose;
use crate::policies::{stagger, PolicyError, SendPlan, SendingWindow};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// No events yet: the batch does not exist.
    #[default]
    Absent,
    Draft,
    Scheduled,
    Sending,
    Done,
    Cancelled,
    /// Done, and the messages sent are being saved to patients' records.
    Saving,
    Saved,
}

impl BatchStatus {
    /// The status name staff see.
    pub fn label(self) -> &'static str {
        match self {
            Self::Absent => "Absent",
            Self::Draft => "Draft",
            Self::Scheduled => "Scheduled",
            Self::Sending => "Sending",
            Self::Done => "Done",
            Self::Cancelled => "Cancelled",
            Self::Saving => "Saving",
            Self::Saved => "Saved",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Batch {
    status: BatchStatus,
    organisation_id: String,
    kind: Option<BatchKind>,
    template: String,
    email_subject: Option<String>,
    snomed_code: Option<String>,
    #[serde(default)]
    questionnaire: Option<Questionnaire>,
    #[serde(default)]
    attachment: Option<Attachment>,
    #[serde(default)]
    self_book: Option<SelfBook>,
    artifact_key: String,
    contactable_count: u64,
    /// Contactable patients with a mobile: an SMS-only batch's recipients.
    #[serde(default)]
    mobile_count: Option<u64>,
    stagger: Vec<StaggerDay>,
    /// Every link the batch sent is withdrawn, for good.
    #[serde(default)]
    links_revoked: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BatchCommand {
    Create {
        batch_id: String,
        organisation_id: String,
        name: String,
        template: String,
        email_subject: Option<String>,
        snomed_code: Option<String>,
        /// A Florey questionnaire batch sends a link to this questionnaire.
        questionnaire: Option<Questionnaire>,
        /// Each patient's message links to this file.
        attachment: Option<Box<Attachment>>,
        /// The inhaler-adherence series: SMS only, 22 more texts after this one.
        inhaler_series: bool,
        /// Self-Book: each patient's link books one appointment like this.
        self_book: Option<Box<SelfBook>>,
        list: Box<ListAttached>,
    },
    /// Send now, or at `send_at` when that is in the future; all at once, or
    /// staggered over `stagger_days` days (see `policies::stagger`).
    /// Send now, or schedule the send; all at once, or staggered. A start
    /// that has passed, or is more than a year away, is refused.
    Send {
        organisation_id: String,
        now: DateTime<Utc>,
        plan: SendPlan,
        window: SendingWindow,
    },
    /// The timer for a scheduled send fired. Repeats are harmless.
    StartScheduledSend { now: DateTime<Utc> },
    /// Every recipient has a final outcome. Repeats are harmless.
    Complete { now: DateTime<Utc> },
    /// Saving to records began: `records` patients were sent a message.
    /// Only a Done batch starts saving; repeats are harmless.
    StartSaving { records: u64, now: DateTime<Utc> },
    /// Every record is written (or refused for good). Repeats are harmless.
    FinishSaving { now: DateTime<Utc> },
    Cancel {
        organisation_id: String,
        now: DateTime<Utc>,
    },
    /// Withdraw every link the batch sent. Final; repeats are harmless.
    RevokeLinks {
        organisation_id: String,
        now: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("there is no such batch")]
    NotFound,
    #[error("this batch already exists")]
    AlreadyExists,
    #[error("the list has no contactable patients, so there is nothing to send")]
    NobodyToContact,
    #[error("this batch has already been sent")]
    AlreadySent,
    #[error("this batch was cancelled")]
    Cancelled,
    #[error(
        "a batch that has started sending cannot be cancelled; its links can be revoked instead"
    )]
    CannotCancelWhileSending,
    #[error(
        "every day of this staggered batch has started sending, so it can no longer be cancelled; its links can be revoked instead"
    )]
    StaggerFinished,
    #[error("a batch is one kind: a questionnaire, an attachment, the inhaler series or Self-Book, never two")]
    TwoKindsOfLink,
    #[error("this batch's messages have no links to revoke")]
    NoLinks,
    #[error(
        "this batch has not sent anything yet, so it has no links to revoke; cancel it instead"
    )]
    NothingSentYet,
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

impl Batch {
    pub fn status(&self) -> BatchStatus {
        self.status
    }

    pub fn organisation_id(&self) -> &str {
        &self.organisation_id
    }

    pub fn template(&self) -> &str {
        &self.template
    }

    pub fn kind(&self) -> BatchKind {
        self.kind.unwrap_or(BatchKind::SimpleMessage)
    }

    pub fn email_subject(&self) -> Option<&str> {
        self.email_subject.as_deref()
    }

    /// The questionnaire a Florey batch links to.
    pub fn questionnaire(&self) -> Option<Questionnaire> {
        self.questionnaire
    }

    /// Sent by SMS only, to the patients with a mobile (the inhaler series
    /// and Self-Book).
    pub fn sms_only(&self) -> bool {
        matches!(
            self.kind,
            Some(BatchKind::InhalerSeries | BatchKind::SelfBook)
        )
    }

    /// What a Self-Book batch's links book.
    pub fn self_book(&self) -> Option<&SelfBook> {
        self.self_book.as_ref()
    }

    /// How many patients the batch sends to.
    pub fn recipients(&self) -> u64 {
        recipients(self.kind(), self.contactable_count, self.mobile_count)
    }

    /// The file a batch's links open.
    pub fn attachment(&self) -> Option<&Attachment> {
        self.attachment.as_ref()
    }

    /// What each patient's link opens, for a batch whose messages carry one.
    pub fn link_purpose(&self) -> Option<LinkPurpose> {
        if self.questionnaire.is_some() {
            Some(LinkPurpose::Questionnaire)
        } else if self.attachment.is_some() {
            Some(LinkPurpose::Attachment)
        } else if self.self_book.is_some() {
            Some(LinkPurpose::Invite)
        } else {
            None
        }
    }

    /// Whether staff withdrew every link the batch sent.
    pub fn links_revoked(&self) -> bool {
        self.links_revoked
    }

    /// The SNOMED CT concept saved to each patient's record with the message.
    pub fn snomed_code(&self) -> Option<&str> {
        self.snomed_code.as_deref()
    }

    /// The days of a staggered send; empty when it all goes at once.
    pub fn stagger(&self) -> &[StaggerDay] {
        &self.stagger
    }

    /// Where the checked list is in the blob store.
    pub fn artifact_key(&self) -> &str {
        &self.artifact_key
    }

    /// Commands from staff name their organisation; another organisation's
    /// batch looks exactly like a batch that does not exist.
    fn owned_by(&self, organisation_id: &str) -> Result<(), BatchError> {
        if self.status == BatchStatus::Absent || self.organisation_id != organisation_id {
            return Err(BatchError::NotFound);
        }
        Ok(())
    }

    fn start_sending(&self, now: DateTime<Utc>, stagger: Vec<StaggerDay>) -> BatchEvent {
        BatchEvent::SendingStarted {
            recipient_count: self.recipients(),
            started_at: now,
            stagger,
        }
    }
}

/// Who a batch of `kind` sends to: every contactable patient, or for an
/// SMS-only kind (the inhaler series, Self-Book) those with a mobile. Lists
/// checked before mobiles were counted give `None`, and count everyone.
pub fn recipients(kind: BatchKind, contactable: u64, with_mobile: Option<u64>) -> u64 {
    match with_mobile {
        Some(with_mobile) if matches!(kind, BatchKind::InhalerSeries | BatchKind::SelfBook) => {
            with_mobile
        }
        _ => contactable,
    }
}

impl Aggregate for Batch {
    const TYPE: &'static str = "Batch";
    type Command = BatchCommand;
    type Event = BatchEvent;
    type Error = BatchError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            BatchCommand::Create {
                batch_id,
                organisation_id,
                name,
                template,
                email_subject,
                snomed_code,
                questionnaire,
                attachment,
                inhaler_series,
                self_book,
                list,
            } => {
                if self.status != BatchStatus::Absent {
                    return Err(BatchError::AlreadyExists);
                }
                let kinds = [
                    questionnaire.is_some(),
                    attachment.is_some(),
                    inhaler_series,
                    self_book.is_some(),
                ];
                if kinds.into_iter().filter(|k| *k).count() > 1 {
                    return Err(BatchError::TwoKindsOfLink);
                }
                let kind = match (questionnaire, inhaler_series, &self_book) {
                    (Some(_), _, _) => BatchKind::FloreyQuestionnaire,
                    (None, true, _) => BatchKind::InhalerSeries,
                    (None, false, Some(_)) => BatchKind::SelfBook,
                    (None, false, None) => BatchKind::SimpleMessage,
                };
                if recipients(kind, list.contactable_count, list.mobile_count) == 0 {
                    return Err(BatchError::NobodyToContact);
                }
                let drafted = BatchEvent::BatchDrafted {
                    batch_id,
                    organisation_id,
                    name,
                    kind,
                    template,
                    email_subject,
                    snomed_code,
                    questionnaire,
                    attachment: attachment.map(|a| *a),
                    self_book,
                };
                sink.write(drafted, self).await;
                sink.write(BatchEvent::PatientListAttached(*list), self)
                    .await;
            }
            BatchCommand::Send {
                organisation_id,
                now,
                plan,
                window,
            } => {
                self.owned_by(&organisation_id)?;
                match self.status {
                    BatchStatus::Draft => {}
                    BatchStatus::Cancelled => return Err(BatchError::Cancelled),
                    _ => return Err(BatchError::AlreadySent),
                }
                let start = plan.scheduled_for(now)?;
                let stagger = match plan.stagger_days {
                    Some(days) => stagger(self.recipients(), days, start.unwrap_or(now), &window)?,
                    None => vec![],
                };
                let event = match start {
                    Some(send_at) => BatchEvent::SendScheduled { send_at, stagger },
                    None => self.start_sending(now, stagger),
                };
                sink.write(event, self).await;
            }
            BatchCommand::StartScheduledSend { now } => {
                if self.status == BatchStatus::Scheduled {
                    let event = self.start_sending(now, self.stagger.clone());
                    sink.write(event, self).await;
                }
            }
            BatchCommand::Complete { now } => {
                if self.status == BatchStatus::Sending {
                    let event = BatchEvent::BatchCompleted { completed_at: now };
                    sink.write(event, self).await;
                }
            }
            BatchCommand::StartSaving { records, now } => {
                if self.status == BatchStatus::Done {
                    let event = BatchEvent::SavingStarted {
                        records,
                        started_at: now,
                    };
                    sink.write(event, self).await;
                }
            }
            BatchCommand::FinishSaving { now } => {
                if self.status == BatchStatus::Saving {
                    let event = BatchEvent::RecordsSaved { saved_at: now };
                    sink.write(event, self).await;
                }
            }
            BatchCommand::Cancel {
                organisation_id,
                now,
            } => {
                self.owned_by(&organisation_id)?;
                match self.status {
                    BatchStatus::Draft | BatchStatus::Scheduled => {
                        let event = BatchEvent::BatchCancelled { cancelled_at: now };
                        sink.write(event, self).await;
                    }
                    BatchStatus::Cancelled => {}
                    // A staggered send can be stopped until its last day starts.
                    BatchStatus::Sending if !self.stagger.is_empty() => {
                        if self.stagger.iter().all(|day| day.starts_at <= now) {
                            return Err(BatchError::StaggerFinished);
                        }
                        let event = BatchEvent::BatchCancelled { cancelled_at: now };
                        sink.write(event, self).await;
                    }
                    _ => return Err(BatchError::CannotCancelWhileSending),
                }
            }
            BatchCommand::RevokeLinks {
                organisation_id,
                now,
            } => {
                self.owned_by(&organisation_id)?;
                if self.link_purpose().is_none() {
                    return Err(BatchError::NoLinks);
                }
                if matches!(self.status, BatchStatus::Draft | BatchStatus::Scheduled) {
                    return Err(BatchError::NothingSentYet);
                }
                if !self.links_revoked {
                    let event = BatchEvent::LinksRevoked { revoked_at: now };
                    sink.write(event, self).await;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            BatchEvent::BatchDrafted {
                organisation_id,
                kind,
                template,
                email_subject,
                snomed_code,
                questionnaire,
                attachment,
                self_book,
                ..
            } => {
                self.status = BatchStatus::Draft;
                self.self_book = self_book.map(|s| *s);
                self.questionnaire = questionnaire;
                self.attachment = attachment;
                self.organisation_id = organisation_id;
                self.kind = Some(kind);
                self.template = template;
                self.email_subject = email_subject;
                self.snomed_code = snomed_code;
            }
            BatchEvent::PatientListAttached(list) => {
                self.contactable_count = list.contactable_count;
                self.mobile_count = list.mobile_count;
                self.artifact_key = list.artifact_key;
            }
            BatchEvent::SendScheduled { stagger, .. } => {
                self.status = BatchStatus::Scheduled;
                self.stagger = stagger;
            }
            BatchEvent::SendingStarted { stagger, .. } => {
                self.status = BatchStatus::Sending;
                self.stagger = stagger;
            }
            BatchEvent::BatchCompleted { .. } => self.status = BatchStatus::Done,
            BatchEvent::BatchCancelled { .. } => self.status = BatchStatus::Cancelled,
            BatchEvent::SavingStarted { .. } => self.status = BatchStatus::Saving,
            BatchEvent::RecordsSaved { .. } => self.status = BatchStatus::Saved,
            BatchEvent::LinksRevoked { .. } => self.links_revoked = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::{SendStart, MAX_SCHEDULE_AHEAD};
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;

    type BatchTest = TestFramework<Batch>;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
    }

    fn list(contactable: u64) -> ListAttached {
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

    fn drafted() -> Vec<BatchEvent> {
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
            },
            BatchEvent::PatientListAttached(list(3)),
        ]
    }

    fn send(at: Option<DateTime<Utc>>) -> BatchCommand {
        plan(at.map_or(SendStart::Now, SendStart::At), None)
    }

    fn plan(start: SendStart, stagger_days: Option<u32>) -> BatchCommand {
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

    #[test]
    fn creating_a_batch_drafts_it_and_attaches_its_list() {
        BatchTest::with(())
            .given_no_previous_events()
            .when(BatchCommand::Create {
                batch_id: "b-1".into(),
                organisation_id: "A12345".into(),
                name: "Flu".into(),
                template: "Hi ((name))".into(),
                email_subject: None,
                snomed_code: Some("73211009".into()),
                questionnaire: None,
                attachment: None,
                self_book: None,
                inhaler_series: false,
                list: Box::new(list(3)),
            })
            .then_expect_events(drafted());
    }

    #[test]
    fn a_list_with_nobody_to_contact_is_refused() {
        BatchTest::with(())
            .given_no_previous_events()
            .when(BatchCommand::Create {
                batch_id: "b-1".into(),
                organisation_id: "A12345".into(),
                name: "Flu".into(),
                template: "Hi".into(),
                email_subject: None,
                snomed_code: None,
                questionnaire: None,
                attachment: None,
                self_book: None,
                inhaler_series: false,
                list: Box::new(list(0)),
            })
            .then_expect_error(BatchError::NobodyToContact);
    }

    #[test]
    fn sending_now_starts_sending_to_every_contactable_patient() {
        BatchTest::with(())
            .given(drafted())
            .when(send(None))
            .then_expect_events(vec![BatchEvent::SendingStarted {
                recipient_count: 3,
                started_at: now(),
                stagger: vec![],
            }]);
    }

    #[test]
    fn sending_at_a_future_time_schedules_it() {
        let at = now() + chrono::Duration::hours(2);
        BatchTest::with(())
            .given(drafted())
            .when(send(Some(at)))
            .then_expect_events(vec![BatchEvent::SendScheduled {
                send_at: at,
                stagger: vec![],
            }]);
    }

    #[test]
    fn a_send_time_in_the_past_is_refused_not_read_as_now() {
        BatchTest::with(())
            .given(drafted())
            .when(send(Some(now() - chrono::Duration::minutes(1))))
            .then_expect_error(BatchError::Policy(PolicyError::SendAtNotInFuture));
    }

    #[test]
    fn a_batch_is_sent_once() {
        BatchTest::with(())
            .given(drafted())
            .and(vec![BatchEvent::SendingStarted {
                recipient_count: 3,
                started_at: now(),
                stagger: vec![],
            }])
            .when(send(None))
            .then_expect_error(BatchError::AlreadySent);
    }

    #[test]
    fn another_organisations_batch_is_not_found() {
        BatchTest::with(())
            .given(drafted())
            .when(BatchCommand::Send {
                organisation_id: "B99999".into(),
                now: now(),
                plan: SendPlan::now(),
                window: SendingWindow::default(),
            })
            .then_expect_error(BatchError::NotFound);
        BatchTest::with(())
            .given_no_previous_events()
            .when(send(None))
            .then_expect_error(BatchError::NotFound);
    }

    #[test]
    fn a_scheduled_send_starts_when_its_timer_fires_and_only_once() {
        let scheduled = BatchEvent::SendScheduled {
            send_at: now() + chrono::Duration::hours(1),
            stagger: vec![],
        };
        let started = BatchEvent::SendingStarted {
            recipient_count: 3,
            started_at: now(),
            stagger: vec![],
        };
        BatchTest::with(())
            .given(drafted())
            .and(vec![scheduled.clone()])
            .when(BatchCommand::StartScheduledSend { now: now() })
            .then_expect_events(vec![started.clone()]);
        BatchTest::with(())
            .given(drafted())
            .and(vec![scheduled, started])
            .when(BatchCommand::StartScheduledSend { now: now() })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_cancelled_scheduled_batch_never_starts() {
        BatchTest::with(())
            .given(drafted())
            .and(vec![
                BatchEvent::SendScheduled {
                    send_at: now(),
                    stagger: vec![],
                },
                BatchEvent::BatchCancelled {
                    cancelled_at: now(),
                },
            ])
            .when(BatchCommand::StartScheduledSend { now: now() })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_sending_batch_cannot_be_cancelled() {
        BatchTest::with(())
            .given(drafted())
            .and(vec![BatchEvent::SendingStarted {
                recipient_count: 3,
                started_at: now(),
                stagger: vec![],
            }])
            .when(BatchCommand::Cancel {
                organisation_id: "A12345".into(),
                now: now(),
            })
            .then_expect_error(BatchError::CannotCancelWhileSending);
    }

    #[test]
    fn completing_is_done_once() {
        let started = BatchEvent::SendingStarted {
            recipient_count: 3,
            started_at: now(),
            stagger: vec![],
        };
        BatchTest::with(())
            .given(drafted())
            .and(vec![started.clone()])
            .when(BatchCommand::Complete { now: now() })
            .then_expect_events(vec![BatchEvent::BatchCompleted {
                completed_at: now(),
            }]);
        BatchTest::with(())
            .given(drafted())
            .and(vec![
                started,
                BatchEvent::BatchCompleted {
                    completed_at: now(),
                },
            ])
            .when(BatchCommand::Complete { now: now() })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_done_batch_saves_then_is_saved_and_nothing_else_starts_saving() {
        let started = BatchEvent::SendingStarted {
            recipient_count: 3,
            started_at: now(),
            stagger: vec![],
        };
        let done = BatchEvent::BatchCompleted {
            completed_at: now(),
        };
        let saving = BatchEvent::SavingStarted {
            records: 2,
            started_at: now(),
        };
        let start_saving = || BatchCommand::StartSaving {
            records: 2,
            now: now(),
        };
        BatchTest::with(())
            .given(drafted())
            .and(vec![started.clone(), done.clone()])
            .when(start_saving())
            .then_expect_events(vec![saving.clone()]);
        // Repeated: no second start.
        BatchTest::with(())
            .given(drafted())
            .and(vec![started.clone(), done.clone(), saving.clone()])
            .when(start_saving())
            .then_expect_events(vec![]);
        // Still sending, or cancelled: saving does not start.
        BatchTest::with(())
            .given(drafted())
            .and(vec![started.clone()])
            .when(start_saving())
            .then_expect_events(vec![]);
        BatchTest::with(())
            .given(drafted())
            .and(vec![BatchEvent::BatchCancelled {
                cancelled_at: now(),
            }])
            .when(start_saving())
            .then_expect_events(vec![]);
        // Saved once, only from Saving.
        BatchTest::with(())
            .given(drafted())
            .and(vec![started.clone(), done.clone(), saving.clone()])
            .when(BatchCommand::FinishSaving { now: now() })
            .then_expect_events(vec![BatchEvent::RecordsSaved { saved_at: now() }]);
        BatchTest::with(())
            .given(drafted())
            .and(vec![started, done])
            .when(BatchCommand::FinishSaving { now: now() })
            .then_expect_events(vec![]);
    }

    /// `now()` is 09:00 London time, so later days start at 08:00.
    fn three_days() -> Vec<StaggerDay> {
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

    #[test]
    fn a_staggered_send_carries_its_days_and_can_be_cancelled_until_the_last_starts() {
        BatchTest::with(())
            .given(drafted())
            .when(plan(SendStart::Now, Some(3)))
            .then_expect_events(vec![BatchEvent::SendingStarted {
                recipient_count: 3,
                started_at: now(),
                stagger: three_days(),
            }]);
        let started = BatchEvent::SendingStarted {
            recipient_count: 3,
            started_at: now(),
            stagger: three_days(),
        };
        let cancel = |at| BatchCommand::Cancel {
            organisation_id: "A12345".into(),
            now: at,
        };
        let day_two = three_days()[2].starts_at;
        BatchTest::with(())
            .given(drafted())
            .and(vec![started.clone()])
            .when(cancel(day_two - chrono::Duration::seconds(1)))
            .then_expect_events(vec![BatchEvent::BatchCancelled {
                cancelled_at: day_two - chrono::Duration::seconds(1),
            }]);
        BatchTest::with(())
            .given(drafted())
            .and(vec![started])
            .when(cancel(day_two))
            .then_expect_error(BatchError::StaggerFinished);
    }

    #[test]
    fn a_scheduled_stagger_keeps_its_days_when_it_starts() {
        let scheduled = BatchEvent::SendScheduled {
            send_at: now(),
            stagger: three_days(),
        };
        BatchTest::with(())
            .given(drafted())
            .and(vec![scheduled])
            .when(BatchCommand::StartScheduledSend { now: now() })
            .then_expect_events(vec![BatchEvent::SendingStarted {
                recipient_count: 3,
                started_at: now(),
                stagger: three_days(),
            }]);
    }

    #[test]
    fn a_stagger_over_too_many_days_is_refused() {
        BatchTest::with(())
            .given(drafted())
            .when(plan(SendStart::Now, Some(29)))
            .then_expect_error(BatchError::Policy(PolicyError::StaggerDays(29)));
    }

    #[test]
    fn a_send_at_that_has_passed_or_is_over_a_year_away_is_refused_not_sent_now() {
        let epoch = DateTime::<Utc>::from_timestamp(0, 0).unwrap();
        for past in [now(), now() - chrono::Duration::seconds(1), epoch] {
            BatchTest::with(())
                .given(drafted())
                .when(send(Some(past)))
                .then_expect_error(BatchError::Policy(PolicyError::SendAtNotInFuture));
        }
        let year_262000 = Utc.with_ymd_and_hms(262_000, 1, 1, 0, 0, 0).unwrap();
        for far in [
            now() + MAX_SCHEDULE_AHEAD + chrono::Duration::seconds(1),
            year_262000,
        ] {
            BatchTest::with(())
                .given(drafted())
                .when(send(Some(far)))
                .then_expect_error(BatchError::Policy(PolicyError::SendAtTooFar));
        }
        BatchTest::with(())
            .given(drafted())
            .when(send(Some(now() + MAX_SCHEDULE_AHEAD)))
            .then_expect_events(vec![BatchEvent::SendScheduled {
                send_at: now() + MAX_SCHEDULE_AHEAD,
                stagger: vec![],
            }]);
        assert_eq!(
            PolicyError::SendAtNotInFuture.to_string(),
            "send_at: must be in the future; to send now, send {\"now\": true} instead"
        );
    }

    fn florey_drafted() -> Vec<BatchEvent> {
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
            },
            BatchEvent::PatientListAttached(list(3)),
        ]
    }

    #[test]
    fn a_batch_with_a_questionnaire_is_a_florey_batch() {
        BatchTest::with(())
            .given_no_previous_events()
            .when(BatchCommand::Create {
                batch_id: "b-1".into(),
                organisation_id: "A12345".into(),
                name: "BP".into(),
                template: "Please send your readings: ((link))".into(),
                email_subject: None,
                snomed_code: None,
                questionnaire: Some(Questionnaire::BloodPressure7Day),
                attachment: None,
                self_book: None,
                inhaler_series: false,
                list: Box::new(list(3)),
            })
            .then_expect_events(florey_drafted());
    }

    #[test]
    fn a_batch_is_one_kind_of_link_at_most() {
        let leaflet = Attachment {
            attachment_id: "a-1".into(),
            blob_key: "attachments/A12345/a-1".into(),
            file_name: "Flu leaflet.pdf".into(),
            content_type: "application/pdf".into(),
            size: 10,
            sha256: "00".into(),
        };
        let flu = SelfBook {
            appointment_type: events::AppointmentChannel::InPerson,
            slot_type: "flu".into(),
            timing: events::Timing::ExactTime,
            clinicians: vec![],
            location: None,
            within_days: None,
            decline: None,
            expiry: events::LinkExpiry::Days14,
        };
        let create = |questionnaire, attachment: bool, inhaler_series, self_book: bool| {
            BatchCommand::Create {
                batch_id: "b-1".into(),
                organisation_id: "A12345".into(),
                name: "Leaflet".into(),
                template: "Our leaflet: ((link))".into(),
                email_subject: None,
                snomed_code: None,
                questionnaire,
                attachment: attachment.then(|| Box::new(leaflet.clone())),
                inhaler_series,
                self_book: self_book.then(|| Box::new(flu.clone())),
                list: Box::new(list(3)),
            }
        };
        let smoking = Some(Questionnaire::SmokingStatus);
        for (questionnaire, attachment, series, self_book) in [
            (smoking, true, false, false),
            (None, true, true, false),
            (None, true, false, true),
            (smoking, false, false, true),
            (None, false, true, true),
        ] {
            BatchTest::with(())
                .given_no_previous_events()
                .when(create(questionnaire, attachment, series, self_book))
                .then_expect_error(BatchError::TwoKindsOfLink);
        }
        let mut invites = Batch::default();
        let drafted = BatchTest::with(())
            .given_no_previous_events()
            .when(create(None, false, false, true))
            .inspect_result()
            .unwrap();
        for event in drafted {
            invites.apply(event);
        }
        assert_eq!(invites.kind(), BatchKind::SelfBook);
        assert_eq!(invites.link_purpose(), Some(LinkPurpose::Invite));
        assert_eq!(invites.self_book(), Some(&flu));
        assert!(invites.sms_only());
        let mut batch = Batch::default();
        for event in [
            BatchEvent::BatchDrafted {
                batch_id: "b-1".into(),
                organisation_id: "A12345".into(),
                name: "Leaflet".into(),
                kind: BatchKind::SimpleMessage,
                template: "Our leaflet: ((link))".into(),
                email_subject: None,
                snomed_code: None,
                questionnaire: None,
                attachment: Some(leaflet.clone()),
                self_book: None,
            },
            BatchEvent::PatientListAttached(list(3)),
        ] {
            batch.apply(event);
        }
        assert_eq!(batch.link_purpose(), Some(LinkPurpose::Attachment));
        assert_eq!(batch.attachment(), Some(&leaflet));
        assert_eq!(Batch::default().link_purpose(), None);
    }

    #[test]
    fn links_are_revoked_once_for_good_and_only_where_some_were_sent() {
        let revoke = |org: &str| BatchCommand::RevokeLinks {
            organisation_id: org.into(),
            now: now(),
        };
        let sending = || {
            let mut events = florey_drafted();
            events.push(BatchEvent::SendingStarted {
                recipient_count: 3,
                started_at: now(),
                stagger: vec![],
            });
            events
        };
        BatchTest::with(())
            .given(sending())
            .when(revoke("A12345"))
            .then_expect_events(vec![BatchEvent::LinksRevoked { revoked_at: now() }]);
        let mut revoked = sending();
        revoked.push(BatchEvent::LinksRevoked { revoked_at: now() });
        BatchTest::with(())
            .given(revoked)
            .when(revoke("A12345"))
            .then_expect_events(vec![]);
        BatchTest::with(())
            .given(sending())
            .when(revoke("B99999"))
            .then_expect_error(BatchError::NotFound);
        BatchTest::with(())
            .given(florey_drafted())
            .when(revoke("A12345"))
            .then_expect_error(BatchError::NothingSentYet);
        BatchTest::with(())
            .given(drafted())
            .when(revoke("A12345"))
            .then_expect_error(BatchError::NoLinks);
    }
}
