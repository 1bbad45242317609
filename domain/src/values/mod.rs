//! Value types: raw input becomes one of these once, at the edge, and is
//! valid by construction from then on.

mod date_of_birth;
mod email_address;
mod nhs_number;
mod organisation;
mod snomed_code;
pub mod text;
mod uk_mobile;

pub use date_of_birth::{DateOfBirth, DateOfBirthError};
pub use email_address::{EmailAddress, EmailAddressError};
pub use nhs_number::{NhsNumber, NhsNumberError};
pub use organisation::{OrganisationId, OrganisationIdError};
pub use snomed_code::{SnomedCode, SnomedCodeError};
pub use text::{one_line, TextError};
pub use uk_mobile::{UkMobile, UkMobileError};
