//! The PatientSearch aggregate: one per search staff make for a patient,
//! recording once what was searched, by whom (the event's metadata) and
//! what it found. What PDS answered is shown to the member of staff and
//! not kept.

use events::PatientSearchEvent;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PatientSearch {
    recorded: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PatientSearchCommand {
    /// Records the search; the same search recorded again records nothing.
    Record(PatientSearchEvent),
}

impl PatientSearch {
    async fn decide(
        &mut self,
        command: PatientSearchCommand,
        _services: &(),
    ) -> Result<Vec<PatientSearchEvent>, std::convert::Infallible> {
        let PatientSearchCommand::Record(event) = command;
        Ok(if self.recorded { vec![] } else { vec![event] })
    }

    fn apply_event(&mut self, _event: PatientSearchEvent) {
        self.recorded = true;
    }
}

aggregate!(
    PatientSearch,
    "PatientSearch",
    PatientSearchCommand,
    PatientSearchEvent,
    std::convert::Infallible,
    ()
);

#[cfg(test)]
mod tests {
    use super::*;
    use events::SearchOutcome;

    fn searched() -> PatientSearchEvent {
        PatientSearchEvent::PatientSearched {
            search_id: "s1".into(),
            organisation_id: "A12345".into(),
            patient: "ab".repeat(32),
            outcome: SearchOutcome::Found,
            searched_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn a_search_is_recorded_once() {
        let mut search = PatientSearch::default();
        let first = search
            .decide(PatientSearchCommand::Record(searched()), &())
            .await
            .unwrap();
        assert_eq!(first, vec![searched()]);
        search.apply_event(searched());
        let again = search
            .decide(PatientSearchCommand::Record(searched()), &())
            .await
            .unwrap();
        assert_eq!(again, vec![]);
    }
}
