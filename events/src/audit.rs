//! Events about auditing itself: every export of the event history is
//! recorded, with who made it (the event's metadata), what it covered and
//! whether it carried patients' details.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

/// Events of one export (one aggregate per export).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum AuditEvent {
    /// An auditor exported part of the event history.
    HistoryExported {
        export_id: String,
        organisation_id: String,
        /// What the history was of: `batch:<id>`, `invite:<id>`,
        /// `conversation:<id>` or `user:<id>`.
        subject: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<DateTime<Utc>>,
        /// How many events the export held.
        events: u64,
        /// Whether patients' details were joined in from the list artifacts.
        patient_details: bool,
        exported_at: DateTime<Utc>,
    },
}

impl DomainEvent for AuditEvent {
    fn event_type(&self) -> String {
        match self {
            Self::HistoryExported { .. } => "HistoryExported",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}
