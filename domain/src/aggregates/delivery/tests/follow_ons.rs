//! Follow-ons: reminders, series texts and Self-Book notices, each once.

use super::*;

#[test]
fn each_reminder_goes_once_with_its_own_key_and_never_after_an_answer_or_a_revoke() {
    let (services, scripted) = sms_ok();
    DeliveryTest::with(services)
        .given(vec![sent(Channel::Sms, now(), None)])
        .when(follow_on(FollowOn::Reminder(1)))
        .then_expect_events(vec![reminded(1)]);
    assert_eq!(
        *scripted.keys.lock().unwrap(),
        ["A12345:b-1:7:sms:reminder-1"]
    );
    for given in [
        vec![sent(Channel::Sms, now(), None), reminded(1)],
        vec![sent(Channel::Sms, now(), None), reminded(2)],
        vec![sent(Channel::Sms, now(), None), answered()],
        vec![sent(Channel::Sms, now(), None), revoked()],
        vec![],
    ] {
        sends_nothing(given, follow_on(FollowOn::Reminder(1)));
    }
    let (services, _) = providers(Err(ProviderError::PermanentFailure), Ok("x".into()));
    DeliveryTest::with(services)
        .given(vec![sent(Channel::Sms, now(), None), reminded(1)])
        .when(follow_on(FollowOn::Reminder(2)))
        .then_expect_events(vec![DeliveryEvent::ReminderNotSent {
            batch_id: "b-1".into(),
            row: 7,
            reminder: 2,
            channel: Channel::Sms,
            reason: SendFailureReason::PermanentFailure,
            at: now(),
        }]);
}

#[test]
fn each_series_text_goes_once_and_none_after_the_series_is_stopped() {
    let (services, scripted) = sms_ok();
    DeliveryTest::with(services)
        .given(vec![sent(Channel::Sms, now(), None), series_sent(1)])
        .when(follow_on(FollowOn::Series(2)))
        .then_expect_events(vec![series_sent(2)]);
    assert_eq!(
        *scripted.keys.lock().unwrap(),
        ["A12345:b-1:7:sms:series-2"]
    );
    for given in [
        vec![sent(Channel::Sms, now(), None), series_sent(2)],
        vec![sent(Channel::Sms, now(), None), series_sent(3)],
        vec![sent(Channel::Sms, now(), None), stopped()],
        vec![],
    ] {
        sends_nothing(given, follow_on(FollowOn::Series(2)));
    }
    DeliveryTest::with(sms_ok().0)
        .given(vec![sent(Channel::Sms, now(), None)])
        .when(DeliveryCommand::StopSeries { now: now() })
        .then_expect_events(vec![stopped()]);
    DeliveryTest::with(sms_ok().0)
        .given(vec![sent(Channel::Sms, now(), None), stopped()])
        .when(DeliveryCommand::StopSeries { now: now() })
        .then_expect_events(vec![]);
}

#[test]
fn each_self_book_notice_goes_once_and_an_earlier_one_is_not_superseded() {
    let (services, scripted) = sms_ok();
    DeliveryTest::with(services)
        .given(vec![sent(Channel::Sms, now(), None), noticed(3)])
        .when(follow_on(FollowOn::Notice(2)))
        .then_expect_events(vec![noticed(2)]);
    assert_eq!(
        *scripted.keys.lock().unwrap(),
        ["A12345:b-1:7:sms:notice-2"]
    );
    for given in [vec![sent(Channel::Sms, now(), None), noticed(2)], vec![]] {
        sends_nothing(given, follow_on(FollowOn::Notice(2)));
    }
}
