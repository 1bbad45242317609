//! The AuditExport aggregate: one per export of the event history,
//! recording once what was exported, by whom (the event's metadata) and
//! whether it carried patients' details.

use events::AuditEvent;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuditExport {
    recorded: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuditExportCommand {
    /// Records the export; the same export recorded again records nothing.
    Record(AuditEvent),
}

impl AuditExport {
    async fn decide(
        &mut self,
        command: AuditExportCommand,
        _services: &(),
    ) -> Result<Vec<AuditEvent>, std::convert::Infallible> {
        let AuditExportCommand::Record(event) = command;
        Ok(if self.recorded { vec![] } else { vec![event] })
    }

    fn apply_event(&mut self, _event: AuditEvent) {
        self.recorded = true;
    }
}

aggregate!(
    AuditExport,
    "AuditExport",
    AuditExportCommand,
    AuditEvent,
    std::convert::Infallible,
    ()
);
