//! `/oauth2PermissionGrants`: delegated consent, in Graph's oAuth2PermissionGrant shape.

/// A new grant id: Graph's are opaque base64url strings, not GUIDs.
pub fn new_grant_id() -> String {
    portico_core::secret::random_token(32)
}
