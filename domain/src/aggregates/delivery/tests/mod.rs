//! Given / when / then tests of the Delivery, one file per concern,
//! sharing the scripted providers and fixtures here.

mod fallback;
mod follow_ons;
mod links;
mod receipts;
mod records;
mod sending;

pub(super) use super::*;
pub(super) use crate::jobs::FollowOn;
pub(super) use crate::ports::{
    EmailProvider, EmailRequest, NhsAppProvider, NhsAppRequest, PatientRecord, ProviderError,
    ReceiptOutcome, RecordEntry, RecordError, SmsProvider, SmsRequest,
};
pub(super) use chrono::{DateTime, Utc};
pub(super) use events::{
    Channel, DeliveryEvent, DeliveryFailure, Questionnaire, SendFailureReason,
};
pub(super) use std::collections::BTreeMap;
pub(super) use std::sync::Arc;

pub(super) use chrono::{Duration, TimeZone};

pub(super) use cqrs_es::test::TestFramework;

pub(super) type DeliveryTest = TestFramework<Delivery>;

pub(super) use std::sync::Mutex;

/// Answers each send with a scripted result per channel and records the
/// idempotency key of every request.
pub(crate) struct Scripted {
    pub(super) sms: Result<String, ProviderError>,
    pub(super) nhs_app: Result<String, ProviderError>,
    pub(super) record: Result<(), RecordError>,
    pub(crate) keys: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl PatientRecord for Scripted {
    async fn save(&self, entry: &RecordEntry) -> Result<(), RecordError> {
        self.keys
            .lock()
            .unwrap()
            .push(entry.idempotency_key.clone());
        self.record.clone()
    }
}

#[async_trait::async_trait]
impl SmsProvider for Scripted {
    async fn send_sms(&self, request: &SmsRequest) -> Result<String, ProviderError> {
        self.keys
            .lock()
            .unwrap()
            .push(request.idempotency_key.clone());
        self.sms.clone()
    }
}

#[async_trait::async_trait]
impl EmailProvider for Scripted {
    async fn send_email(&self, request: &EmailRequest) -> Result<String, ProviderError> {
        self.keys
            .lock()
            .unwrap()
            .push(request.idempotency_key.clone());
        Ok("email-ref".into())
    }
}

#[async_trait::async_trait]
impl NhsAppProvider for Scripted {
    async fn send_nhs_app(&self, request: &NhsAppRequest) -> Result<String, ProviderError> {
        self.keys
            .lock()
            .unwrap()
            .push(request.idempotency_key.clone());
        self.nhs_app.clone()
    }
}

pub(crate) fn providers(
    sms: Result<String, ProviderError>,
    nhs_app: Result<String, ProviderError>,
) -> (DeliveryServices, Arc<Scripted>) {
    let scripted = Arc::new(Scripted {
        sms,
        nhs_app,
        record: Ok(()),
        keys: Mutex::new(vec![]),
    });
    let services = DeliveryServices {
        sms: scripted.clone(),
        email: scripted.clone(),
        nhs_app: scripted.clone(),
        record: scripted.clone(),
    };
    (services, scripted)
}

pub(crate) fn sms_ok() -> (DeliveryServices, Arc<Scripted>) {
    providers(Ok("ref-1".into()), Ok("app-ref".into()))
}

pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
}

pub(super) fn message(channel: Channel) -> Message {
    Message {
        batch_id: "b-1".into(),
        row: 7,
        channel,
        reference: format!("A12345:b-1:7:{}", channel.as_str()),
        to: "+447700100123".into(),
        recipient_fingerprint: "f1".into(),
        subject: None,
        body: "Hello".into(),
        fallback: None,
    }
}

pub(super) fn fallback() -> Fallback {
    Fallback {
        reference: "A12345:b-1:7:sms".into(),
        to: "+447700100123".into(),
        recipient_fingerprint: "f2".into(),
        body: "Hello".into(),
    }
}

pub(super) fn send(message: Message) -> DeliveryCommand {
    DeliveryCommand::Send {
        message: Box::new(message),
        now: now(),
    }
}

pub(super) fn app_with_fallback() -> Message {
    Message {
        to: "9990000026".into(),
        fallback: Some((fallback(), now() + Duration::hours(24))),
        ..message(Channel::NhsApp)
    }
}

pub(super) fn sent(
    channel: Channel,
    at: DateTime<Utc>,
    fallback_due_at: Option<DateTime<Utc>>,
) -> DeliveryEvent {
    DeliveryEvent::MessageSent {
        batch_id: "b-1".into(),
        row: 7,
        channel,
        provider_reference: match channel {
            Channel::NhsApp => "app-ref".into(),
            _ => "ref-1".into(),
        },
        idempotency_key: format!("A12345:b-1:7:{}", channel.as_str()),
        sent_at: at,
        fallback_due_at,
        recipient_fingerprint: Some("f1".into()),
    }
}

/// The fallback SMS, as sent at `at`.
pub(super) fn fell_back(at: DateTime<Utc>) -> DeliveryEvent {
    DeliveryEvent::MessageSent {
        batch_id: "b-1".into(),
        row: 7,
        channel: Channel::Sms,
        provider_reference: "ref-1".into(),
        idempotency_key: "A12345:b-1:7:sms".into(),
        sent_at: at,
        fallback_due_at: None,
        recipient_fingerprint: Some("f2".into()),
    }
}

pub(super) fn receipt(channel: Channel, outcome: ReceiptOutcome) -> DeliveryCommand {
    DeliveryCommand::RecordReceipt {
        channel,
        outcome,
        at: now() + Duration::minutes(1),
    }
}

pub(super) fn fall_back(at: DateTime<Utc>) -> DeliveryCommand {
    DeliveryCommand::FallBack {
        fallback: Box::new(fallback()),
        now: at,
    }
}

pub(super) fn save_to_record() -> DeliveryCommand {
    DeliveryCommand::SaveToRecord {
        entry: Box::new(RecordEntry {
            idempotency_key: "A12345:b-1:7:record".into(),
            organisation_id: "A12345".into(),
            nhs_number: "9990000026".into(),
            snomed_code: Some("1240441000000109".into()),
            text: "Dear Joe".into(),
            channel: Channel::Sms,
            sent_at: now(),
        }),
        now: now() + Duration::hours(1),
    }
}

pub(super) fn recording(record: Result<(), RecordError>) -> (DeliveryServices, Arc<Scripted>) {
    let (services, _) = sms_ok();
    let scripted = Arc::new(Scripted {
        sms: Ok("ref-1".into()),
        nhs_app: Ok("app-ref".into()),
        record,
        keys: Mutex::new(vec![]),
    });
    (
        DeliveryServices {
            record: scripted.clone(),
            ..services
        },
        scripted,
    )
}

pub(super) fn checked(attempts: u32) -> DeliveryEvent {
    DeliveryEvent::IdentityCheckFailed {
        batch_id: "b-1".into(),
        row: 7,
        attempts,
        locked: attempts >= MAX_IDENTITY_ATTEMPTS,
        at: now(),
    }
}

pub(super) fn answer(expires_at: DateTime<Utc>) -> DeliveryCommand {
    DeliveryCommand::AnswerQuestionnaire {
        questionnaire: Questionnaire::SmokingStatus,
        answers: BTreeMap::from([("smoking_status".to_owned(), "ex_smoker".to_owned())]),
        expires_at,
        now: now(),
    }
}

pub(super) fn answered() -> DeliveryEvent {
    DeliveryEvent::QuestionnaireAnswered {
        batch_id: "b-1".into(),
        row: 7,
        questionnaire: Questionnaire::SmokingStatus,
        answers: BTreeMap::from([("smoking_status".to_owned(), "ex_smoker".to_owned())]),
        answered_at: now(),
    }
}

pub(super) fn revoked() -> DeliveryEvent {
    DeliveryEvent::LinkRevoked {
        batch_id: "b-1".into(),
        row: 7,
        revoked_at: now(),
    }
}

/// `command` (given when the link expires) is refused, with the reason,
/// on a revoked, expired, never-sent and locked link.
pub(super) fn refused_on_dead_links(
    command: impl Fn(DateTime<Utc>) -> DeliveryCommand,
    later: DateTime<Utc>,
) {
    DeliveryTest::with(sms_ok().0)
        .given(vec![sent(Channel::Sms, now(), None), revoked()])
        .when(command(later))
        .then_expect_error(DeliveryError::LinkWithdrawn);
    DeliveryTest::with(sms_ok().0)
        .given(vec![sent(Channel::Sms, now(), None)])
        .when(command(now()))
        .then_expect_error(DeliveryError::LinkExpired);
    DeliveryTest::with(sms_ok().0)
        .given_no_previous_events()
        .when(command(later))
        .then_expect_error(DeliveryError::NeverSent);
    let locked: Vec<DeliveryEvent> = std::iter::once(sent(Channel::Sms, now(), None))
        .chain((1..=5).map(checked))
        .collect();
    DeliveryTest::with(sms_ok().0)
        .given(locked)
        .when(command(later))
        .then_expect_error(DeliveryError::LinkLocked);
}

/// A reminder or series text by SMS, with its own key.
pub(super) fn follow_on(follow_on: FollowOn) -> DeliveryCommand {
    DeliveryCommand::SendFollowOn {
        follow_on,
        message: Box::new(Message {
            reference: format!("A12345:b-1:7:sms:{}", follow_on.key()),
            body: "Follow-on".into(),
            ..message(Channel::Sms)
        }),
        now: now(),
    }
}

/// `command` on a delivery with `given` history calls no provider and
/// records nothing.
pub(super) fn sends_nothing(given: Vec<DeliveryEvent>, command: DeliveryCommand) {
    let (services, scripted) = sms_ok();
    DeliveryTest::with(services)
        .given(given)
        .when(command)
        .then_expect_events(vec![]);
    assert!(scripted.keys.lock().unwrap().is_empty());
}

pub(super) fn reminded(number: u32) -> DeliveryEvent {
    DeliveryEvent::ReminderSent {
        batch_id: "b-1".into(),
        row: 7,
        reminder: number,
        channel: Channel::Sms,
        provider_reference: "ref-1".into(),
        idempotency_key: format!("A12345:b-1:7:sms:reminder-{number}"),
        sent_at: now(),
    }
}

pub(super) fn series_sent(step: u32) -> DeliveryEvent {
    DeliveryEvent::SeriesTextSent {
        batch_id: "b-1".into(),
        row: 7,
        step,
        channel: Channel::Sms,
        provider_reference: "ref-1".into(),
        idempotency_key: format!("A12345:b-1:7:sms:series-{step}"),
        sent_at: now(),
    }
}

pub(super) fn stopped() -> DeliveryEvent {
    DeliveryEvent::SeriesStopped {
        batch_id: "b-1".into(),
        row: 7,
        stopped_at: now(),
    }
}

pub(super) fn noticed(notice: u64) -> DeliveryEvent {
    DeliveryEvent::NoticeSent {
        batch_id: "b-1".into(),
        row: 7,
        notice,
        channel: Channel::Sms,
        provider_reference: "ref-1".into(),
        idempotency_key: format!("A12345:b-1:7:sms:notice-{notice}"),
        sent_at: now(),
    }
}
