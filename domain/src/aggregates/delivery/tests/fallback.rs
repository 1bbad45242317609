//! The NHS App to SMS fallback: at once when refused, else once due.

use super::*;

#[test]
fn an_nhs_app_message_the_app_refuses_falls_back_to_sms_at_once() {
    let (services, providers) = providers(Ok("ref-1".into()), Err(ProviderError::Rejected));
    TestFramework::<Delivery>::with(services)
        .given_no_previous_events()
        .when(send(app_with_fallback()))
        .then_expect_events(vec![
            DeliveryEvent::SendFailed {
                batch_id: "b-1".into(),
                row: 7,
                channel: Channel::NhsApp,
                reason: SendFailureReason::Rejected,
                failed_at: now(),
                recipient_fingerprint: Some("f1".into()),
                falls_back_to_sms: true,
            },
            fell_back(now()),
        ]);
    assert_eq!(
        *providers.keys.lock().unwrap(),
        ["A12345:b-1:7:nhs_app", "A12345:b-1:7:sms"]
    );
}

#[test]
fn an_unread_nhs_app_message_falls_back_only_once_its_time_has_come() {
    let due = now() + Duration::hours(24);
    let app_sent = sent(Channel::NhsApp, now(), Some(due));
    let (services, providers) = sms_ok();
    TestFramework::<Delivery>::with(services)
        .given(vec![app_sent.clone()])
        .when(fall_back(due - Duration::seconds(1)))
        .then_expect_events(vec![]);
    assert!(providers.keys.lock().unwrap().is_empty());
    let (services, _) = sms_ok();
    TestFramework::<Delivery>::with(services)
        .given(vec![app_sent.clone()])
        .when(fall_back(due))
        .then_expect_events(vec![fell_back(due)]);
}

#[test]
fn a_read_receipt_cancels_the_fallback_and_a_fallback_goes_once() {
    let due = now() + Duration::hours(24);
    let app_sent = sent(Channel::NhsApp, now(), Some(due));
    let read = DeliveryEvent::MessageRead {
        batch_id: "b-1".into(),
        row: 7,
        channel: Channel::NhsApp,
        read_at: now() + Duration::hours(1),
    };
    let (services, providers) = sms_ok();
    TestFramework::<Delivery>::with(services)
        .given(vec![app_sent.clone(), read])
        .when(fall_back(due))
        .then_expect_events(vec![]);
    assert!(providers.keys.lock().unwrap().is_empty());
    let (services, providers) = sms_ok();
    TestFramework::<Delivery>::with(services)
        .given(vec![app_sent, sent(Channel::Sms, due, None)])
        .when(fall_back(due + Duration::hours(1)))
        .then_expect_events(vec![]);
    assert!(providers.keys.lock().unwrap().is_empty());
}

#[test]
fn a_failed_nhs_app_message_falls_back_without_waiting() {
    let app_sent = sent(Channel::NhsApp, now(), Some(now() + Duration::hours(24)));
    let failed = DeliveryEvent::DeliveryFailed {
        batch_id: "b-1".into(),
        row: 7,
        channel: Channel::NhsApp,
        failure: DeliveryFailure::Technical,
        failed_at: now(),
        recipient_fingerprint: None,
    };
    let (services, _) = sms_ok();
    TestFramework::<Delivery>::with(services)
        .given(vec![app_sent, failed])
        .when(fall_back(now()))
        .then_expect_events(vec![fell_back(now())]);
}
