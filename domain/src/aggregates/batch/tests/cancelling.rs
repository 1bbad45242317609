//! Cancelling: before sending, or a stagger before its last day.

use super::*;

#[test]
fn a_sending_batch_cannot_be_cancelled() {
    BatchTest::with(())
        .given(drafted())
        .and(vec![started()])
        .when(BatchCommand::Cancel {
            organisation_id: "A12345".into(),
            now: now(),
        })
        .then_expect_error(BatchError::CannotCancelWhileSending);
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
