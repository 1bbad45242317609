//! The port traits the logic needs, one concern a file. Each has an
//! embedded adapter and an AWS adapter in `infra`; simulators stand in for
//! outside services behind the same traits. Errors that cross a port never
//! carry patient data.

mod appointment_book;
mod blobs;
mod clock;
mod demographics;
mod history;
mod idempotency;
mod links;
mod patient_index;
mod providers;
mod queue;
mod record;
mod timers;
mod views;

pub use appointment_book::{AppointmentBook, BookError, BookedAppointment, BookingRequest};
pub use blobs::BlobStore;
#[cfg(any(test, feature = "test-support"))]
pub use clock::FakeClock;
pub use clock::{Clock, SystemClock};
pub use demographics::{
    recipient_fingerprint, Demographics, DemographicsError, DemographicsRecord, FailureHistory,
    NhsAppReachability,
};
pub use history::{
    EventHistory, HistoryEvent, HistorySelection, HistoryStream, HistorySubject, StreamId,
};
pub use idempotency::{IdempotencyClaim, IdempotencyRecords};
pub use links::{KeptLinks, LinkDirectory};
pub use patient_index::{Mention, PatientIndex};
pub use providers::{
    EmailProvider, EmailRequest, NhsAppProvider, NhsAppRequest, ProviderError, ProviderReferences,
    Receipt, ReceiptOutcome, SmsProvider, SmsRequest,
};
pub use queue::{QueueName, ReceivedMessage, WorkQueue};
pub use record::{PatientRecord, RecordEntry, RecordError};
pub use timers::{Timer, TimerJob, Timers};
pub use views::{BatchQuery, BatchViews, InboxQuery, Page, ViewTransaction};

/// A failure of infrastructure behind a port (a disk, a database, a network).
/// The message is for operators and never contains patient data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PortError(pub String);

impl PortError {
    pub fn new(context: &str, err: impl std::fmt::Display) -> Self {
        Self(format!("{context}: {err}"))
    }
}
