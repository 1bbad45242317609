//! The first message: sent once, under its key; refusals and outages.

use super::*;

#[test]
fn a_new_delivery_is_sent_with_a_fixed_idempotency_key() {
    let (services, providers) = sms_ok();
    TestFramework::<Delivery>::with(services)
        .given_no_previous_events()
        .when(send(message(Channel::Sms)))
        .then_expect_events(vec![sent(Channel::Sms, now(), None)]);
    assert_eq!(*providers.keys.lock().unwrap(), ["A12345:b-1:7:sms"]);
}

#[test]
fn a_sent_delivery_is_never_sent_again() {
    let (services, providers) = sms_ok();
    TestFramework::<Delivery>::with(services)
        .given(vec![sent(Channel::Sms, now(), None)])
        .when(send(message(Channel::Sms)))
        .then_expect_events(vec![]);
    assert!(providers.keys.lock().unwrap().is_empty());
}

#[test]
fn a_permanent_failure_is_recorded_not_retried() {
    let (services, _) = providers(Err(ProviderError::PermanentFailure), Ok("x".into()));
    TestFramework::<Delivery>::with(services)
        .given_no_previous_events()
        .when(send(message(Channel::Sms)))
        .then_expect_events(vec![DeliveryEvent::SendFailed {
            batch_id: "b-1".into(),
            row: 7,
            channel: Channel::Sms,
            reason: SendFailureReason::PermanentFailure,
            failed_at: now(),
            recipient_fingerprint: Some("f1".into()),
            falls_back_to_sms: false,
        }]);
}

#[test]
fn an_unavailable_or_throttling_provider_is_an_error_so_the_message_is_retried() {
    let (services, _) = providers(
        Err(ProviderError::Unavailable("HTTP 503".into())),
        Ok("x".into()),
    );
    TestFramework::<Delivery>::with(services)
        .given_no_previous_events()
        .when(send(message(Channel::Sms)))
        .then_expect_error(DeliveryError::ProviderUnavailable(
            "the provider is unavailable: HTTP 503".into(),
        ));
    let (services, _) = providers(
        Err(ProviderError::RateLimited {
            retry_after_secs: 3,
        }),
        Ok("x".into()),
    );
    TestFramework::<Delivery>::with(services)
        .given_no_previous_events()
        .when(send(message(Channel::Sms)))
        .then_expect_error(DeliveryError::ProviderUnavailable(
            "the provider asked us to slow down".into(),
        ));
}

#[test]
fn an_email_without_a_subject_is_refused() {
    let (services, _) = sms_ok();
    TestFramework::<Delivery>::with(services)
        .given_no_previous_events()
        .when(send(message(Channel::Email)))
        .then_expect_error(DeliveryError::EmailWithoutSubject);
}
