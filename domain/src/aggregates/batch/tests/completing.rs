//! Done, then saving to records, then Saved: each once.

use super::*;

#[test]
fn completing_is_done_once() {
    let started = started();
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
    let started = started();
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
