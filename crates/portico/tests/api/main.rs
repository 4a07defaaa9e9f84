//! API tests over real HTTP: one test binary, one module per resource. Each test runs on
//! SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set (see `common::with_app`).

mod common;
mod smoke;

mod applications;
mod b2b_policies;
mod cross_tenant_policy;
mod federation_configurations;
mod groups;
mod guest_access;
mod identity_providers;
mod invite_batches;
mod mail;
mod permission_grants;
mod policies;
mod service_principals;
mod sign_ins;
mod sponsors;
mod users;
