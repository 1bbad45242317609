//! The link: the date-of-birth check, answers, the attachment, revoking.

use super::*;

#[test]
fn wrong_dates_of_birth_count_up_and_the_fifth_locks_the_link() {
    let check = |matches| DeliveryCommand::CheckIdentity {
        matches,
        now: now(),
    };
    DeliveryTest::with(sms_ok().0)
        .given(vec![sent(Channel::Sms, now(), None), checked(1)])
        .when(check(false))
        .then_expect_events(vec![checked(2)]);
    DeliveryTest::with(sms_ok().0)
        .given(vec![sent(Channel::Sms, now(), None), checked(1)])
        .when(check(true))
        .then_expect_events(vec![DeliveryEvent::IdentityVerified {
            batch_id: "b-1".into(),
            row: 7,
            at: now(),
        }]);
    let four: Vec<DeliveryEvent> = std::iter::once(sent(Channel::Sms, now(), None))
        .chain((1..=4).map(checked))
        .collect();
    DeliveryTest::with(sms_ok().0)
        .given(four.clone())
        .when(check(false))
        .then_expect_events(vec![checked(5)]);
    let mut five = four;
    five.push(checked(5));
    DeliveryTest::with(sms_ok().0)
        .given(five)
        .when(check(true))
        .then_expect_error(DeliveryError::LinkLocked);
}

#[test]
fn an_attachment_is_recorded_opened_once_and_never_opens_on_a_dead_link() {
    let later = now() + Duration::days(30);
    let open = |expires_at| DeliveryCommand::OpenAttachment {
        expires_at,
        now: now(),
    };
    let opened = DeliveryEvent::AttachmentOpened {
        batch_id: "b-1".into(),
        row: 7,
        opened_at: now(),
    };
    DeliveryTest::with(sms_ok().0)
        .given(vec![sent(Channel::Sms, now(), None)])
        .when(open(later))
        .then_expect_events(vec![opened.clone()]);
    DeliveryTest::with(sms_ok().0)
        .given(vec![sent(Channel::Sms, now(), None), opened])
        .when(open(later))
        .then_expect_events(vec![]);
    refused_on_dead_links(open, later);
}

#[test]
fn a_questionnaire_is_answered_once_and_never_on_a_dead_link() {
    let later = now() + Duration::days(7);
    DeliveryTest::with(sms_ok().0)
        .given(vec![sent(Channel::Sms, now(), None)])
        .when(answer(later))
        .then_expect_events(vec![answered()]);
    DeliveryTest::with(sms_ok().0)
        .given(vec![sent(Channel::Sms, now(), None), answered()])
        .when(answer(later))
        .then_expect_error(DeliveryError::AlreadyAnswered);
    refused_on_dead_links(answer, later);
}

#[test]
fn a_link_is_revoked_once() {
    DeliveryTest::with(sms_ok().0)
        .given(vec![sent(Channel::Sms, now(), None)])
        .when(DeliveryCommand::RevokeLink { now: now() })
        .then_expect_events(vec![revoked()]);
    DeliveryTest::with(sms_ok().0)
        .given(vec![sent(Channel::Sms, now(), None), revoked()])
        .when(DeliveryCommand::RevokeLink { now: now() })
        .then_expect_events(vec![]);
}
