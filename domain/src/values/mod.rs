//! Value types: raw input becomes one of these once, at the edge, and is
//! valid by construction from then on.

mod nhs_number;
mod organisation;
mod uk_mobile;

pub use nhs_number::{NhsNumber, NhsNumberError};
pub use organisation::{OrganisationId, OrganisationIdError};
pub use uk_mobile::{UkMobile, UkMobileError};
