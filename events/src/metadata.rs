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
        Fields {
            organisation_id: map.remove(ORGANISATION),
            actor: map.remove(ACTOR),
            actor_name: map.remove(ACTOR_NAME),
            correlation_id: map.remove(CORRELATION),
            occurred_at: map.remove(OCCURRED_AT),
        }
        .into_metadata()
    }

    pub fn from_map(map: &HashMap<String, String>) -> Result<Self, MetadataError> {
        Self::from_owned_map(map.clone())
    }

    /// As [`Self::from_owned_map`] of the stored JSON text decoded as a
    /// string map, without building the map: each key is compared where
    /// it lies in the text, and only the values kept are copied. A key met
    /// twice keeps its last value, and keys it does not know are passed
    /// over, as the map would. `audit verify` decodes every event's
    /// metadata this way.
    pub fn from_stored_json(text: &str) -> Result<Self, StoredMetadataError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let fields = serde::Deserializer::deserialize_map(&mut deserializer, FieldsVisitor)?;
        deserializer.end()?;
        Ok(fields.into_metadata()?)
    }
}

/// Why stored metadata text could not be read: not a JSON map of strings,
/// or a map that lacks what metadata must hold.
#[derive(Debug, thiserror::Error)]
pub enum StoredMetadataError {
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Metadata(#[from] MetadataError),
}

/// The metadata's fields as found in its stored map or text.
#[derive(Default)]
struct Fields {
    organisation_id: Option<String>,
    actor: Option<String>,
    actor_name: Option<String>,
    correlation_id: Option<String>,
    occurred_at: Option<String>,
}

impl Fields {
    /// The metadata, or the first field it lacks (the time first), or why
    /// its time cannot be read: the one rule both reads follow.
    fn into_metadata(self) -> Result<EventMetadata, MetadataError> {
        let take =
            |field: Option<String>, key: &'static str| field.ok_or(MetadataError::Missing(key));
        let occurred_at = take(self.occurred_at, OCCURRED_AT)?;
        Ok(EventMetadata {
            organisation_id: take(self.organisation_id, ORGANISATION)?,
            actor: take(self.actor, ACTOR)?,
            correlation_id: take(self.correlation_id, CORRELATION)?,
            occurred_at: DateTime::parse_from_rfc3339(&occurred_at)
                .map_err(|_| MetadataError::BadTime(occurred_at.clone()))?
                .with_timezone(&Utc),
            actor_name: self.actor_name,
        })
    }
}

/// A string of the stored text, borrowed where it holds no escapes.
struct Text<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> serde::de::Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(Text(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(std::borrow::Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

struct FieldsVisitor;

impl<'de> serde::de::Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut fields = Fields::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            let Text(value) = map.next_value::<Text<'de>>()?;
            let slot = match key.as_ref() {
                ORGANISATION => &mut fields.organisation_id,
                ACTOR => &mut fields.actor,
                ACTOR_NAME => &mut fields.actor_name,
                CORRELATION => &mut fields.correlation_id,
                OCCURRED_AT => &mut fields.occurred_at,
                _ => continue,
            };
            *slot = Some(value.into_owned());
        }
        Ok(fields)
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

    /// The stored text read straight, as the map of strings it holds read
    /// then taken apart: the same metadata, or the same reason.
    fn by_map(text: &str) -> Result<EventMetadata, String> {
        let map: HashMap<String, String> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        EventMetadata::from_owned_map(map).map_err(|e| e.to_string())
    }

    #[test]
    fn stored_text_reads_as_its_map_would() {
        let stored = EventMetadata {
            organisation_id: "A12345".into(),
            actor: "user:42".into(),
            actor_name: Some("Jo \"JB\" Bloggs".into()),
            correlation_id: "req-1".into(),
            occurred_at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0).unwrap(),
        };
        let text = serde_json::to_string(&stored.to_map()).unwrap();
        assert_eq!(EventMetadata::from_stored_json(&text).unwrap(), stored);

        let time = r#""occurred_at":"2026-11-22T09:30:00+00:00""#;
        let cases = [
            // Escaped text, a key it does not know, and a key met twice.
            format!(r#"{{"organisation_id":"A1","actor":"user:\u0031","correlation_id":"c","other":"x",{time},"actor":"user:2"}}"#),
            format!(r#"{{"actor":"a","correlation_id":"c",{time}}}"#),
            r#"{"organisation_id":"A1","actor":"a","correlation_id":"c"}"#.to_owned(),
            r#"{"organisation_id":"A1","actor":"a","correlation_id":"c","occurred_at":"yesterday"}"#.to_owned(),
            format!(r#"{{"organisation_id":"A1","actor":7,"correlation_id":"c",{time}}}"#),
            format!(r#"{{"organisation_id":"A1","actor":"a","correlation_id":"c","n":null,{time}}}"#),
            format!(r#"{{"organisation_id":"A1","actor":"a","correlation_id":"c",{time}}} x"#),
            r#"["organisation_id"]"#.to_owned(),
            r#"{"organisation_id":"A1""#.to_owned(),
        ];
        let expected = [
            Ok(EventMetadata {
                organisation_id: "A1".into(),
                actor: "user:2".into(),
                actor_name: None,
                correlation_id: "c".into(),
                occurred_at: stored.occurred_at,
            }),
            Err("event metadata has no `organisation_id`".to_owned()),
            Err("event metadata has no `occurred_at`".to_owned()),
            Err("event metadata `occurred_at` is not an RFC 3339 time: yesterday".to_owned()),
            Err("invalid type: integer `7`, expected a string at line 1 column 33".to_owned()),
            Err("invalid type: null, expected a string at line 1 column 65".to_owned()),
            Err("trailing characters at line 1 column 101".to_owned()),
            Err("invalid type: sequence, expected a map at line 1 column 0".to_owned()),
            Err("EOF while parsing an object at line 1 column 23".to_owned()),
        ];
        for (text, expected) in cases.iter().zip(expected) {
            let direct = EventMetadata::from_stored_json(text).map_err(|e| e.to_string());
            assert_eq!(direct, expected, "{text}");
            assert_eq!(by_map(text), expected, "{text}");
        }
    }
}
