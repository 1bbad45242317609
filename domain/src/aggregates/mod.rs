//! The aggregates, on cqrs-es in plain event-store mode. Each is small: none
//! grows with the size of a list.

pub mod batch;
pub mod delivery;
pub mod invite;
pub mod slot_claim;

pub use batch::{Batch, BatchCommand, BatchError, BatchStatus};
pub use delivery::{
    Delivery, DeliveryCommand, DeliveryError, DeliveryServices, DeliveryStatus, Fallback, Message,
};
pub use invite::{Invite, InviteCommand, InviteError, InviteStatus, LinkStanding};
pub use slot_claim::{slot_claim_id, SlotClaim, SlotClaimCommand, SlotClaimError};
