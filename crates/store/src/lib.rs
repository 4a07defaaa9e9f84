//! Portico's store: every piece of state, on SQLite (embedded default) or PostgreSQL.
//!
//! The engine is chosen once, from the database URL, when [`Store::connect`] runs; the rest of
//! the code calls the same functions for both. SQL is written once in the dialect both engines
//! share (`$N` placeholders, `ON CONFLICT`, `RETURNING`, row values); where the engines differ the
//! difference sits in [`db`] alone. Migrations live in `migrations/{sqlite,postgres}`, in matching
//! numbered pairs. Every function takes the [`portico_core::ids::TenantId`] it works in, so no
//! query reaches another tenant's rows without naming that tenant.
//!
//! Writes that an audit record must accompany take a transaction ([`Tx`]) so that the change and
//! its audit entry commit together.

pub mod apps;
pub mod audit;
pub mod b2b;
pub mod batches;
pub mod consent;
pub mod db;
pub mod federation;
pub mod groups;
pub mod jobs;
pub mod keys;
pub mod list;
pub mod maintenance;
pub mod mfa;
pub mod outbox;
pub mod roles;
pub mod schema;
pub mod signin;
pub mod signins;
pub mod tenants;
pub mod throttle;
pub mod users;

pub use db::{Dialect, SchemaStatus, Store, StoreError, Tx};
