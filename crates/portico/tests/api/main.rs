//! API tests over real HTTP: one test binary, one module per resource. Each test runs on
//! SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is set (see `common::with_app`).

mod common;
mod smoke;

mod applications;
mod groups;
mod permission_grants;
mod policies;
mod service_principals;
mod sign_ins;
mod users;
