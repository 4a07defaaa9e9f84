//! B2B collaboration: invitations, redemption, guests and the external collaboration settings.
//!
//! - [`policy`]: the tenant's settings (who may invite, domain list, guest access, leave, OTP).

pub mod policy;

use portico_store::jobs::Job;

use crate::app::AppState;

/// Runs a B2B job of the durable queue (`crate::jobs` dispatches every kind but `mail` here).
/// An error is the job's failure reason; the queue retries with back-off.
pub async fn run_job(_state: &AppState, job: &Job) -> Result<(), String> {
    Err(format!("unknown job kind {}", job.kind))
}
