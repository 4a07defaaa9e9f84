//! B2B collaboration: invitations, redemption, guests and the external collaboration settings.
//!
//! - [`policy`]: the tenant's settings (who may invite, domain list, guest access, leave, OTP).

pub mod policy;
