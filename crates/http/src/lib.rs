//! Portico's HTTP surfaces: the Graph-shaped admin API (`/v1.0`, `/beta`), the OAuth 2.0 / OpenID
//! endpoints of every tenant, and the operations endpoints (`/healthz`, `/readyz`, `/metrics`,
//! `/openapi.json`).
//!
//! Each surface has one error type that renders its own envelope: [`graph::error::GraphError`]
//! for the Graph-shaped API, [`oauth::OAuthError`] for the token endpoint. The operations shared
//! with the command line (creating tenants, users and applications, rotating keys) live in
//! [`directory`] and [`keyring`], so the CLI and the API make the same writes and the same audit
//! records.

pub mod app;
pub mod audit;
pub mod b2b;
pub mod directory;
pub mod dns;
pub mod federation;
pub mod graph;
pub mod jobs;
pub mod keyring;
pub mod mail;
pub mod oauth;
pub mod ops;
pub mod request_id;
pub mod settings;
pub mod web;

pub use app::{AppState, router};
pub use settings::Settings;
