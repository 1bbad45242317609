//! The Organisation aggregate: one per organisation, holding its settings
//! as its admins saved them, so who changed what, and when, is in the
//! history.

use chrono::{DateTime, Utc};
use events::{OrganisationEvent, SettingsRecord};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Organisation {
    settings: Option<SettingsRecord>,
    changed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OrganisationCommand {
    /// Replace the settings. Saving the same settings again records nothing.
    ChangeSettings {
        organisation_id: String,
        settings: SettingsRecord,
        now: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrganisationError {}

impl Organisation {
    /// The settings last saved, if any were.
    pub fn settings(&self) -> Option<&SettingsRecord> {
        self.settings.as_ref()
    }

    /// When they were last saved.
    pub fn changed_at(&self) -> Option<DateTime<Utc>> {
        self.changed_at
    }

    async fn decide(
        &mut self,
        command: OrganisationCommand,
        _services: &(),
    ) -> Result<Vec<OrganisationEvent>, OrganisationError> {
        let OrganisationCommand::ChangeSettings {
            organisation_id,
            settings,
            now,
        } = command;
        if self.settings.as_ref() == Some(&settings) {
            return Ok(vec![]);
        }
        Ok(vec![OrganisationEvent::SettingsChanged {
            organisation_id,
            settings,
            changed_at: now,
        }])
    }

    fn apply_event(&mut self, event: OrganisationEvent) {
        let OrganisationEvent::SettingsChanged {
            settings,
            changed_at,
            ..
        } = event;
        self.settings = Some(settings);
        self.changed_at = Some(changed_at);
    }
}

aggregate!(
    Organisation,
    "Organisation",
    OrganisationCommand,
    OrganisationEvent,
    OrganisationError,
    ()
);

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;
    use events::SendingWindowRecord;

    fn settings(flag: bool) -> SettingsRecord {
        SettingsRecord {
            flag_mobiles_likely_to_fail: flag,
            sending_window: SendingWindowRecord {
                opens: "08:00".into(),
                closes: "20:00".into(),
                time_zone: "Europe/London".into(),
            },
            contact: None,
            other_sites: vec![],
            replies: None,
        }
    }

    #[test]
    fn settings_are_changed_and_saving_the_same_again_records_nothing() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let change = |flag| OrganisationCommand::ChangeSettings {
            organisation_id: "A12345".into(),
            settings: settings(flag),
            now,
        };
        let changed = OrganisationEvent::SettingsChanged {
            organisation_id: "A12345".into(),
            settings: settings(true),
            changed_at: now,
        };
        TestFramework::<Organisation>::with(())
            .given_no_previous_events()
            .when(change(true))
            .then_expect_events(vec![changed.clone()]);
        TestFramework::<Organisation>::with(())
            .given(vec![changed.clone()])
            .when(change(true))
            .then_expect_events(vec![]);
        TestFramework::<Organisation>::with(())
            .given(vec![changed])
            .when(change(false))
            .then_expect_events(vec![OrganisationEvent::SettingsChanged {
                organisation_id: "A12345".into(),
                settings: settings(false),
                changed_at: now,
            }]);
    }
}
