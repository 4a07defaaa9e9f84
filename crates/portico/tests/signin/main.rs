//! Interactive sign-in over real HTTP: the authorization code flow with PKCE through the hosted
//! pages, the token endpoint's code and refresh grants, MFA, consent, sign-out and password
//! reset. Each test runs on SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set.

#[path = "../api/common.rs"]
mod common;

mod browser;

mod code_flow;
mod consent;
mod logout;
mod mfa;
mod negatives;
mod pages;
mod passwords;
mod protection;
