//! The Graph-shaped admin API under `/v1.0` (and `/beta`). Handlers live in files named after
//! the resource they serve; each authorizes on its first line with [`auth::Authed::require`].

pub mod applications;
pub mod audit_logs;
pub mod auth;
pub mod b2b_policies;
pub mod body;
pub mod cross_tenant_policy;
pub mod deleted_items;
pub mod domains;
pub mod error;
pub mod federation_configurations;
pub mod groups;
pub mod guest_scope;
pub mod identity_providers;
pub mod invitations;
pub mod invite_batches;
pub mod mail_outbox;
pub mod organization;
pub mod permission_grants;
pub mod policies;
pub mod query;
pub mod role_management;
pub mod routes;
pub mod service_principals;
pub mod sign_ins;
pub mod sponsors;
pub mod users;
pub mod wire;
