//! The Upload aggregate: one per patient list or attachment staff upload,
//! recording once that it was checked and kept, and by whom (the event's
//! metadata). The file stays in the blob store.

use events::UploadEvent;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Upload {
    recorded: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UploadCommand {
    /// Records the upload; a retry of the same upload records nothing.
    Record(Box<UploadEvent>),
}

impl Upload {
    async fn decide(
        &mut self,
        command: UploadCommand,
        _services: &(),
    ) -> Result<Vec<UploadEvent>, std::convert::Infallible> {
        let UploadCommand::Record(event) = command;
        Ok(if self.recorded { vec![] } else { vec![*event] })
    }

    fn apply_event(&mut self, _event: UploadEvent) {
        self.recorded = true;
    }
}

aggregate!(
    Upload,
    "Upload",
    UploadCommand,
    UploadEvent,
    std::convert::Infallible,
    ()
);
