//! B2B collaboration over real HTTP: invitations, redemption through a home tenant of the same
//! deployment and through an email one-time passcode, guest sign-in and its tokens, and the
//! rules around them. Each test runs on SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set.

#[path = "../api/common.rs"]
mod common;

#[path = "../signin/browser.rs"]
#[allow(dead_code)]
mod browser;

mod support;

mod federation;
mod invitations;
mod redemption;
