//! B2B collaboration: invitations, redemption, guests and the external collaboration settings.
//!
//! - [`policy`]: the tenant's settings (who may invite, domain list, guest access, leave, OTP).
//! - [`invite`]: the rules of `POST /invitations`, shared by the API, bulk jobs and the CLI.
//! - [`mail`]: the invitation email.
//! - [`batch`]: bulk invitations (CSV upload, the `invite_batch` job).

pub mod batch;
pub mod invite;
pub mod mail;
pub mod policy;

use portico_store::jobs::Job;

use crate::app::AppState;

/// Runs a B2B job of the durable queue (`crate::jobs` dispatches every kind but `mail` here).
/// An error is the job's failure reason; the queue retries with back-off.
pub async fn run_job(state: &AppState, job: &Job) -> Result<(), String> {
    match job.kind.as_str() {
        batch::JOB_KIND => batch::run(state, job).await,
        _ => Err(format!("unknown job kind {}", job.kind)),
    }
}
