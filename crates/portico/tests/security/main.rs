//! Security and protocol tests over real HTTP: authentication and authorization of the
//! Graph-shaped API, bad input, the token endpoint, discovery and keys, tenant isolation over
//! every route, and the directory-level resources (organization, domains, roles, audit,
//! deleted items). Shares the harness of the `api` test binary.

#[path = "../api/common.rs"]
mod common;

mod auth;
mod bad_input;
mod directory;
mod isolation;
mod oauth;
