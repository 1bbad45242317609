//! Simulators for the outside services we cannot reach here. Each sits
//! behind the same port as the real client and behaves deterministically.

mod sms;

pub use sms::{OutboxMessage, SimulatedSms, SmsSimulatorSettings};
