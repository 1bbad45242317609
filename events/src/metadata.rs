//! Metadata stored beside every event: who did it, for which organisation,
//! as part of which request, and when.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const ORGANISATION: &str = "organisation_id";
const ACTOR: &str = "actor";
const CORRELATION: &str = "correlation_id";
const OCCURRED_AT: &str = "occurred_at";
const ACTOR_NAME: &str = "actor_name";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventMetadata {
    /// The ODS code of the organisation the command was scoped to.
    pub organisation_id: String,
    /// Who issued the command: `user:<id>`, or `system:<component>`.
    pub actor: String,
    /// The user's name as their sign-in gave it, for lists staff read.
    /// Absent for the runtime, and from events recorded before names were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// Ties together every event caused by one request or one queue message.
    pub correlation_id: String,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("event metadata has no `{0}`")]
    Missing(&'static str),
    #[error("event metadata `occurred_at` is not an RFC 3339 time: {0}")]
    BadTime(String),
}

impl EventMetadata {
    /// The flat string map that cqrs-es stores beside each event.
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::from([
            (ORGANISATION.to_owned(), self.organisation_id.clone()),
            (ACTOR.to_owned(), self.actor.clone()),
            (CORRELATION.to_owned(), self.correlation_id.clone()),
            (OCCURRED_AT.to_owned(), self.occurred_at.to_rfc3339()),
        ]);
        if let Some(name) = &self.actor_name {
            map.insert(ACTOR_NAME.to_owned(), name.clone());
        }
        map
    }

    /// As [`Self::from_map`], taking the map's own strings.
    pub fn from_owned_map(mut map: HashMap<String, String>) -> Result<Self, MetadataError> {
        let mut take = |key: &'static str| map.remove(key).ok_or(MetadataError::Missing(key));
        let occurred_at = take(OCCURRED_AT)?;
        Ok(Self {
            organisation_id: take(ORGANISATION)?,
            actor: take(ACTOR)?,
            correlation_id: take(CORRELATION)?,
            occurred_at: DateTime::parse_from_rfc3339(&occurred_at)
                .map_err(|_| MetadataError::BadTime(occurred_at.clone()))?
                .with_timezone(&Utc),
            actor_name: map.remove(ACTOR_NAME),
        })
    }

    pub fn from_map(map: &HashMap<String, String>) -> Result<Self, MetadataError> {
        Self::from_owned_map(map.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn metadata_round_trips_through_the_stored_map() {
        let metadata = EventMetadata {
            organisation_id: "A12345".into(),
            actor: "user:42".into(),
            actor_name: Some("Jo Bloggs".into()),
            correlation_id: "req-1".into(),
            occurred_at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0).unwrap(),
        };
        assert_eq!(EventMetadata::from_map(&metadata.to_map()), Ok(metadata));
    }

    #[test]
    fn metadata_without_an_organisation_is_refused() {
        let map = HashMap::from([("actor".to_owned(), "x".to_owned())]);
        assert_eq!(
            EventMetadata::from_map(&map),
            Err(MetadataError::Missing("occurred_at"))
        );
        let mut map = EventMetadata {
            organisation_id: "A1".into(),
            actor: "a".into(),
            actor_name: None,
            correlation_id: "c".into(),
            occurred_at: Utc::now(),
        }
        .to_map();
        map.remove("organisation_id");
        assert_eq!(
            EventMetadata::from_map(&map),
            Err(MetadataError::Missing("organisation_id"))
        );
    }
}
