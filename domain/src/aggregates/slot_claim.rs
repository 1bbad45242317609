//! The SlotClaim aggregate: one per slot in an organisation's appointment
//! book (`<organisation>:<slot id>`). Two patients choosing the same slot
//! at the same moment both load an unclaimed slot and both try to commit
//! its first event; the event store's optimistic lock lets one through, and
//! the other, retried, finds the slot taken.
//!
//! A claim is made before the invite records the booking request, so a
//! process that dies between the two leaves a claim nobody follows up. Such
//! a claim goes stale: once its invite is not pending or booked in that
//! slot, and it is older than [`STALE_AFTER`], another invite may take it.

use chrono::{DateTime, Duration, Utc};
use events::SlotClaimEvent;
use serde::{Deserialize, Serialize};

/// How old a claim must be before an invite that never followed it up can
/// lose it: far longer than a booking request takes.
pub const STALE_AFTER: Duration = Duration::minutes(2);

#[derive(Debug, Clone, PartialEq)]
pub enum SlotClaimCommand {
    /// Hold the slot for `invite_id`. Claiming it again for the same invite
    /// is harmless. `stale_holder` names a holder the caller found neither
    /// pending nor booked in this slot: its claim is taken over once older
    /// than [`STALE_AFTER`].
    Claim {
        slot_id: String,
        invite_id: String,
        stale_holder: Option<String>,
        now: DateTime<Utc>,
    },
    /// `invite_id` gives the slot up. Only its holder can release it;
    /// repeats are harmless.
    Release {
        invite_id: String,
        now: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotClaimError {
    #[error("that time was just taken; please choose another")]
    Taken,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotClaim {
    slot_id: String,
    holder: Option<String>,
    claimed_at: Option<DateTime<Utc>>,
}

impl SlotClaim {
    /// The invite holding the slot, if any.
    pub fn holder(&self) -> Option<&str> {
        self.holder.as_deref()
    }
}

/// A slot claim's aggregate id: one per slot of the book that holds it.
/// A slot at a shared site (a hub, another practice's site) is claimed
/// under the site's own organisation, so that practices booking into the
/// same hub race on one claim, and the second patient is told "just
/// taken" at once; a practice's own slot, under the practice.
pub fn slot_claim_id(
    booking_organisation: &str,
    site_organisation: Option<&str>,
    slot_id: &str,
) -> String {
    let owner = site_organisation.unwrap_or(booking_organisation);
    format!("{owner}:{slot_id}")
}

aggregate!(
    SlotClaim,
    "SlotClaim",
    SlotClaimCommand,
    SlotClaimEvent,
    SlotClaimError,
    ()
);

impl SlotClaim {
    async fn decide(
        &mut self,
        command: SlotClaimCommand,
        _services: &(),
    ) -> Result<Vec<SlotClaimEvent>, SlotClaimError> {
        let mut events = Vec::new();
        match command {
            SlotClaimCommand::Claim {
                slot_id,
                invite_id,
                stale_holder,
                now,
            } => {
                match self.holder.clone() {
                    None => {}
                    Some(holder) if holder == invite_id => return Ok(vec![]),
                    Some(holder)
                        if stale_holder.as_deref() == Some(holder.as_str())
                            && self.claimed_at.is_some_and(|at| at + STALE_AFTER <= now) =>
                    {
                        let event = SlotClaimEvent::SlotReleased {
                            slot_id: self.slot_id.clone(),
                            invite_id: holder,
                            released_at: now,
                        };
                        events.push(event);
                    }
                    Some(_) => return Err(SlotClaimError::Taken),
                }
                let event = SlotClaimEvent::SlotClaimed {
                    slot_id,
                    invite_id,
                    claimed_at: now,
                };
                events.push(event);
            }
            SlotClaimCommand::Release { invite_id, now } => {
                if self.holder.as_deref() == Some(invite_id.as_str()) {
                    let event = SlotClaimEvent::SlotReleased {
                        slot_id: self.slot_id.clone(),
                        invite_id,
                        released_at: now,
                    };
                    events.push(event);
                }
            }
        }
        Ok(events)
    }

    fn apply_event(&mut self, event: SlotClaimEvent) {
        match event {
            SlotClaimEvent::SlotClaimed {
                slot_id,
                invite_id,
                claimed_at,
            } => {
                self.slot_id = slot_id;
                self.holder = Some(invite_id);
                self.claimed_at = Some(claimed_at);
            }
            SlotClaimEvent::SlotReleased { .. } => {
                self.holder = None;
                self.claimed_at = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;

    type ClaimTest = TestFramework<SlotClaim>;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
    }

    fn claim(invite: &str) -> SlotClaimCommand {
        SlotClaimCommand::Claim {
            slot_id: "s-1".into(),
            invite_id: invite.into(),
            stale_holder: None,
            now: now(),
        }
    }

    fn claimed(invite: &str) -> SlotClaimEvent {
        SlotClaimEvent::SlotClaimed {
            slot_id: "s-1".into(),
            invite_id: invite.into(),
            claimed_at: now(),
        }
    }

    fn released(invite: &str) -> SlotClaimEvent {
        SlotClaimEvent::SlotReleased {
            slot_id: "s-1".into(),
            invite_id: invite.into(),
            released_at: now(),
        }
    }

    fn release(invite: &str) -> SlotClaimCommand {
        SlotClaimCommand::Release {
            invite_id: invite.into(),
            now: now(),
        }
    }

    #[test]
    fn a_slot_is_claimed_once_and_anyone_else_is_told_it_was_taken() {
        ClaimTest::with(())
            .given_no_previous_events()
            .when(claim("b:1"))
            .then_expect_events(vec![claimed("b:1")]);
        ClaimTest::with(())
            .given(vec![claimed("b:1")])
            .when(claim("b:1"))
            .then_expect_events(vec![]);
        ClaimTest::with(())
            .given(vec![claimed("b:1")])
            .when(claim("b:2"))
            .then_expect_error(SlotClaimError::Taken);
        assert_eq!(
            SlotClaimError::Taken.to_string(),
            "that time was just taken; please choose another"
        );
    }

    #[test]
    fn a_claim_its_invite_never_followed_up_is_taken_over_once_stale() {
        let take_over = |at| SlotClaimCommand::Claim {
            slot_id: "s-1".into(),
            invite_id: "b:2".into(),
            stale_holder: Some("b:1".into()),
            now: at,
        };
        ClaimTest::with(())
            .given(vec![claimed("b:1")])
            .when(take_over(now() + STALE_AFTER - Duration::seconds(1)))
            .then_expect_error(SlotClaimError::Taken);
        let at = now() + STALE_AFTER;
        ClaimTest::with(())
            .given(vec![claimed("b:1")])
            .when(take_over(at))
            .then_expect_events(vec![
                SlotClaimEvent::SlotReleased {
                    slot_id: "s-1".into(),
                    invite_id: "b:1".into(),
                    released_at: at,
                },
                SlotClaimEvent::SlotClaimed {
                    slot_id: "s-1".into(),
                    invite_id: "b:2".into(),
                    claimed_at: at,
                },
            ]);
        // Naming someone else as stale takes nothing from the holder.
        ClaimTest::with(())
            .given(vec![claimed("b:3")])
            .when(take_over(at))
            .then_expect_error(SlotClaimError::Taken);
    }

    #[test]
    fn only_the_holder_releases_and_a_released_slot_can_be_claimed_again() {
        ClaimTest::with(())
            .given(vec![claimed("b:1")])
            .when(release("b:2"))
            .then_expect_events(vec![]);
        ClaimTest::with(())
            .given(vec![claimed("b:1")])
            .when(release("b:1"))
            .then_expect_events(vec![released("b:1")]);
        ClaimTest::with(())
            .given(vec![claimed("b:1"), released("b:1")])
            .when(release("b:1"))
            .then_expect_events(vec![]);
        ClaimTest::with(())
            .given(vec![claimed("b:1"), released("b:1")])
            .when(claim("b:2"))
            .then_expect_events(vec![claimed("b:2")]);
    }
}
