//! Revoking every link of a batch: once, for good.

use super::*;

#[test]
fn links_are_revoked_once_for_good_and_only_where_some_were_sent() {
    let revoke = |org: &str| BatchCommand::RevokeLinks {
        organisation_id: org.into(),
        now: now(),
    };
    let sending = || {
        let mut events = florey_drafted();
        events.push(started());
        events
    };
    BatchTest::with(())
        .given(sending())
        .when(revoke("A12345"))
        .then_expect_events(vec![BatchEvent::LinksRevoked { revoked_at: now() }]);
    let mut revoked = sending();
    revoked.push(BatchEvent::LinksRevoked { revoked_at: now() });
    BatchTest::with(())
        .given(revoked)
        .when(revoke("A12345"))
        .then_expect_events(vec![]);
    BatchTest::with(())
        .given(sending())
        .when(revoke("B99999"))
        .then_expect_error(BatchError::NotFound);
    BatchTest::with(())
        .given(florey_drafted())
        .when(revoke("A12345"))
        .then_expect_error(BatchError::NothingSentYet);
    BatchTest::with(())
        .given(drafted())
        .when(revoke("A12345"))
        .then_expect_error(BatchError::NoLinks);
}
