//! Sending: now, at a time to come, or staggered; once.

use super::*;

#[test]
fn sending_now_starts_sending_to_every_contactable_patient() {
    BatchTest::with(())
        .given(drafted())
        .when(send(None))
        .then_expect_events(vec![started()]);
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
        .and(vec![started()])
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
    let started = started();
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
