//! Saving to the record: once, under a fixed key.

use super::*;

#[test]
fn a_sent_message_is_saved_to_the_record_once_with_a_fixed_key() {
    let saved = DeliveryEvent::SavedToRecord {
        batch_id: "b-1".into(),
        row: 7,
        saved_at: now() + Duration::hours(1),
    };
    let (services, record) = recording(Ok(()));
    TestFramework::<Delivery>::with(services)
        .given(vec![sent(Channel::Sms, now(), None)])
        .when(save_to_record())
        .then_expect_events(vec![saved.clone()]);
    assert_eq!(*record.keys.lock().unwrap(), ["A12345:b-1:7:record"]);
    let (services, record) = recording(Ok(()));
    TestFramework::<Delivery>::with(services)
        .given(vec![sent(Channel::Sms, now(), None), saved])
        .when(save_to_record())
        .then_expect_events(vec![]);
    assert!(record.keys.lock().unwrap().is_empty(), "saved twice");
}

#[test]
fn a_message_never_sent_is_never_saved_to_the_record() {
    let refused = DeliveryEvent::SendFailed {
        batch_id: "b-1".into(),
        row: 7,
        channel: Channel::Sms,
        reason: SendFailureReason::PermanentFailure,
        failed_at: now(),
        recipient_fingerprint: None,
        falls_back_to_sms: false,
    };
    let (services, record) = recording(Ok(()));
    TestFramework::<Delivery>::with(services)
        .given(vec![refused])
        .when(save_to_record())
        .then_expect_events(vec![]);
    assert!(record.keys.lock().unwrap().is_empty());
}

#[test]
fn the_clinical_system_refusing_for_good_is_recorded_and_its_outage_retried() {
    let (services, _) = recording(Err(RecordError::NotRegistered));
    TestFramework::<Delivery>::with(services)
        .given(vec![sent(Channel::Sms, now(), None)])
        .when(save_to_record())
        .then_expect_events(vec![DeliveryEvent::RecordNotSaved {
            batch_id: "b-1".into(),
            row: 7,
            reason: "the patient is not registered at this practice in the clinical system".into(),
            at: now() + Duration::hours(1),
        }]);
    let (services, _) = recording(Err(RecordError::Unavailable("timeout".into())));
    TestFramework::<Delivery>::with(services)
        .given(vec![sent(Channel::Sms, now(), None)])
        .when(save_to_record())
        .then_expect_error(DeliveryError::RecordUnavailable("timeout".into()));
}
