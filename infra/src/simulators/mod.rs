//! Simulators for the outside services we cannot reach here. Each sits
//! behind the same port as the real client and behaves deterministically.

mod pds;
mod sms;

pub use pds::{SimulatedPds, SyntheticPatient};
pub use sms::{OutboxMessage, SimulatedSms, SmsSimulatorSettings};

use domain::ports::ProviderError;

/// The simulated SMS provider's deterministic outcome for a number, shared by
/// every simulator backend: a number ending in `99` is no longer in service.
pub fn refusal_for(to: &str) -> Option<ProviderError> {
    to.ends_with("99")
        .then_some(ProviderError::PermanentFailure)
}
