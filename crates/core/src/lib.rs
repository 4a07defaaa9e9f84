//! Portico's core: domain types and pure rules. It knows no HTTP and no SQL.
//!
//! What lives here: identifiers and validated values ([`ids`], [`validate`]), time helpers
//! ([`clock`]), the catalogs of Graph permissions and built-in directory roles together with the
//! access rule that combines them ([`access`]), password and secret handling ([`secret`]), the
//! master-key envelope for secrets at rest ([`sealed`]), and JSON Web Signature signing and
//! verification ([`jws`]). Storage lives in `portico-store`, wire formats in `portico-http`.

pub mod access;
pub mod b2b;
pub mod clock;
pub mod ids;
pub mod jws;
pub mod locale;
pub mod password;
pub mod pkce;
pub mod sealed;
pub mod secret;
pub mod totp;
pub mod validate;
