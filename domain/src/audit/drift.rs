//! How `audit verify` says a read model differs from what the events
//! produce, on either stack: one [`Drift`] per field.

use serde::Serialize;
use serde_json::Value;

/// One field of one read-model row that the events do not reproduce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub view: String,
    /// The columns that name the row, `column=value` joined by commas.
    pub row: String,
    /// The column, and within a JSON body the path to the field
    /// (`body.counts.delivered`); empty when the whole row is absent on
    /// one side.
    pub field: String,
    /// In the live read model (`None`: the row is not there).
    pub live: Option<Value>,
    /// Replayed from the events (`None`: the row is not there).
    pub replayed: Option<Value>,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<Value>| match v {
            Some(v) => v.to_string(),
            None => "absent".to_owned(),
        };
        match (&self.live, &self.replayed) {
            (None, _) => write!(
                f,
                "{} {}: the row is missing from the live read model",
                self.view, self.row
            ),
            (_, None) => write!(
                f,
                "{} {}: the live read model has a row the events do not produce",
                self.view, self.row
            ),
            _ => write!(
                f,
                "{} {}: {} is {} in the live read model, {} replayed from the events",
                self.view,
                self.row,
                self.field,
                show(&self.live),
                show(&self.replayed)
            ),
        }
    }
}

/// Each leaf where `live` and `replayed` differ, under `path`, as drift
/// of the row `row` of `view`.
pub fn differences(
    view: &str,
    row: &str,
    path: String,
    live: &Value,
    replayed: &Value,
    drift: &mut Vec<Drift>,
) {
    if live == replayed {
        return;
    }
    if let (Value::Object(l), Value::Object(r)) = (live, replayed) {
        let keys: std::collections::BTreeSet<&String> = l.keys().chain(r.keys()).collect();
        for key in keys {
            differences(
                view,
                row,
                format!("{path}.{key}"),
                l.get(key).unwrap_or(&Value::Null),
                r.get(key).unwrap_or(&Value::Null),
                drift,
            );
        }
        return;
    }
    drift.push(Drift {
        view: view.to_owned(),
        row: row.to_owned(),
        field: path,
        live: Some(live.clone()),
        replayed: Some(replayed.clone()),
    });
}
