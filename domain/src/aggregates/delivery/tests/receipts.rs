//! Receipts and the 72-hour rule.

use super::*;

#[test]
fn receipts_record_delivery_once_and_failures_with_the_recipient() {
    let (services, _) = sms_ok();
    TestFramework::<Delivery>::with(services)
        .given(vec![sent(Channel::Sms, now(), None)])
        .when(receipt(Channel::Sms, ReceiptOutcome::Delivered))
        .then_expect_events(vec![DeliveryEvent::MessageDelivered {
            batch_id: "b-1".into(),
            row: 7,
            channel: Channel::Sms,
            delivered_at: now() + Duration::minutes(1),
        }]);
    let delivered = delivered_sms();
    let (services, _) = sms_ok();
    TestFramework::<Delivery>::with(services)
        .given(vec![sent(Channel::Sms, now(), None), delivered])
        .when(receipt(Channel::Sms, ReceiptOutcome::Delivered))
        .then_expect_events(vec![]);
    for (failure, fingerprint) in [
        (DeliveryFailure::Permanent, Some("f1".to_owned())),
        (DeliveryFailure::Temporary, Some("f1".to_owned())),
        (DeliveryFailure::Technical, None),
    ] {
        let (services, _) = sms_ok();
        TestFramework::<Delivery>::with(services)
            .given(vec![sent(Channel::Sms, now(), None)])
            .when(receipt(Channel::Sms, ReceiptOutcome::Failed(failure)))
            .then_expect_events(vec![DeliveryEvent::DeliveryFailed {
                batch_id: "b-1".into(),
                row: 7,
                channel: Channel::Sms,
                failure,
                failed_at: now() + Duration::minutes(1),
                recipient_fingerprint: fingerprint,
            }]);
    }
}

#[test]
fn a_receipt_for_a_step_the_patient_moved_past_is_ignored() {
    let due = now() + Duration::hours(24);
    let (services, _) = sms_ok();
    TestFramework::<Delivery>::with(services)
        .given(vec![
            sent(Channel::NhsApp, now(), Some(due)),
            sent(Channel::Sms, due, None),
        ])
        .when(receipt(Channel::NhsApp, ReceiptOutcome::Read))
        .then_expect_events(vec![]);
}

#[test]
fn a_message_still_only_sent_after_72_hours_fails() {
    let expire = |at| DeliveryCommand::ExpireUnconfirmed { now: at };
    let deadline = now() + Duration::hours(72);
    let (services, _) = sms_ok();
    TestFramework::<Delivery>::with(services)
        .given(vec![sent(Channel::Sms, now(), None)])
        .when(expire(deadline - Duration::seconds(1)))
        .then_expect_events(vec![]);
    let (services, _) = sms_ok();
    TestFramework::<Delivery>::with(services)
        .given(vec![sent(Channel::Sms, now(), None)])
        .when(expire(deadline))
        .then_expect_events(vec![DeliveryEvent::DeliveryFailed {
            batch_id: "b-1".into(),
            row: 7,
            channel: Channel::Sms,
            failure: DeliveryFailure::NoReceipt,
            failed_at: deadline,
            recipient_fingerprint: Some("f1".into()),
        }]);
    let delivered = delivered_sms();
    let (services, _) = sms_ok();
    TestFramework::<Delivery>::with(services)
        .given(vec![sent(Channel::Sms, now(), None), delivered])
        .when(expire(deadline))
        .then_expect_events(vec![]);
}

/// The SMS of `sent(Channel::Sms, now(), None)`, delivered at once.
fn delivered_sms() -> DeliveryEvent {
    DeliveryEvent::MessageDelivered {
        batch_id: "b-1".into(),
        row: 7,
        channel: Channel::Sms,
        delivered_at: now(),
    }
}
