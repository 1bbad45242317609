//! The practice's appointment book (GP Connect Appointment Management in
//! production, a simulated book locally): searching slots, booking one,
//! cancelling.

use serde::{Deserialize, Serialize};

use crate::appointments::{Slot, SlotSearch};

/// A booking request, for a slot a search found (GP Connect books by the
/// slot's reference, start and end). The key is the same for every attempt
/// at one booking, so a retried request finds the first appointment
/// instead of a second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingRequest {
    pub slot: Slot,
    pub nhs_number: String,
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookedAppointment {
    pub appointment_id: String,
    pub slot: Slot,
}

/// Why the book refused. Nothing here names the patient.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    #[error("that slot was just taken")]
    SlotTaken,
    #[error("that slot cannot be booked")]
    NotBookable,
    #[error("there is no such slot")]
    UnknownSlot,
    #[error("there is no such appointment")]
    UnknownAppointment,
    #[error("the appointment book is unavailable: {0}")]
    Unavailable(String),
}

/// The practice's appointment book.
#[async_trait::async_trait]
pub trait AppointmentBook: Send + Sync {
    /// Every slot of the search's type starting in its window, bookable or
    /// not (callers filter with [`SlotSearch::offers`]).
    async fn search(&self, search: &SlotSearch) -> Result<Vec<Slot>, BookError>;
    /// Every slot of every type starting in `[from, to)` (the book's own
    /// slot search with no type named): what the catalogue of slot types,
    /// clinicians and locations is read from.
    async fn slots_between(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Slot>, BookError>;
    async fn book(&self, request: &BookingRequest) -> Result<BookedAppointment, BookError>;
    /// Frees the slot. Cancelling a cancelled appointment changes nothing.
    async fn cancel(&self, appointment_id: &str) -> Result<(), BookError>;
}
