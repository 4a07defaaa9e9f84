-- Portico schema v2 (PostgreSQL): interactive sign-in. Keep in step with ../sqlite/0002_signin.sql.
-- Secrets that reach a browser or a client (flow binding, session cookie, codes, refresh tokens,
-- one-time codes and links) are stored as SHA-256 digests only; TOTP seeds are sealed.

ALTER TABLE users ADD COLUMN last_sign_in_at BIGINT;
ALTER TABLE users ADD COLUMN last_sign_in_request_id TEXT;
ALTER TABLE users ADD COLUMN last_non_interactive_sign_in_at BIGINT;
ALTER TABLE users ADD COLUMN sign_in_sessions_valid_from BIGINT;

ALTER TABLE applications ADD COLUMN group_membership_claims TEXT;

-- Tenant-wide sign-in settings (identitySecurityDefaultsEnforcementPolicy and friends), JSON.
ALTER TABLE tenants ADD COLUMN sign_in_policy TEXT NOT NULL DEFAULT '{}';

-- One browser's way through /authorize: the validated request, who was identified, what was proved.
CREATE TABLE login_flows (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  browser_digest TEXT NOT NULL,
  csrf TEXT NOT NULL,
  request TEXT NOT NULL,
  user_id TEXT,
  login_name TEXT,
  stage TEXT NOT NULL,
  amr TEXT NOT NULL DEFAULT '[]',
  auth_time BIGINT,
  session_id TEXT,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX login_flows_expiry ON login_flows(expires_at);

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  token_digest TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf TEXT NOT NULL,
  auth_time BIGINT NOT NULL,
  amr TEXT NOT NULL DEFAULT '[]',
  persistent BIGINT NOT NULL DEFAULT 0,
  ip_address TEXT,
  user_agent TEXT,
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE INDEX sessions_user ON sessions(tenant_id, user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

-- What a user's sign-in to a client produced: one authorization code, then a family of rotating
-- refresh tokens. Revoking the grant revokes every token of the family.
CREATE TABLE grants (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  client_id TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  session_id TEXT,
  scopes TEXT NOT NULL,
  resource TEXT NOT NULL,
  amr TEXT NOT NULL DEFAULT '[]',
  auth_time BIGINT NOT NULL,
  public_client BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT,
  revoked_reason TEXT
);
CREATE INDEX grants_user ON grants(tenant_id, user_id);
CREATE INDEX grants_session ON grants(session_id);
CREATE INDEX grants_expiry ON grants(expires_at);

CREATE TABLE authorization_codes (
  digest TEXT PRIMARY KEY,
  grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
  tenant_id TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  code_challenge TEXT NOT NULL,
  nonce TEXT,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX authorization_codes_grant ON authorization_codes(grant_id);

CREATE TABLE refresh_tokens (
  digest TEXT PRIMARY KEY,
  grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
  tenant_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);

-- Graph's oAuth2PermissionGrant: delegated consent (principal_id '' = AllPrincipals).
CREATE TABLE oauth2_permission_grants (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  client_id TEXT NOT NULL,
  consent_type TEXT NOT NULL,
  principal_id TEXT NOT NULL DEFAULT '',
  resource_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX oauth2_permission_grants_key ON oauth2_permission_grants(tenant_id, client_id, resource_id, principal_id);
CREATE INDEX oauth2_permission_grants_page ON oauth2_permission_grants(tenant_id, id);

-- Second factors: softwareOath (TOTP; the seed sealed under the master key).
CREATE TABLE auth_methods (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  display_name TEXT,
  sealed_secret TEXT,
  last_step BIGINT,
  created_at BIGINT NOT NULL
);
CREATE INDEX auth_methods_user ON auth_methods(tenant_id, user_id);

CREATE TABLE recovery_codes (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  digest TEXT NOT NULL,
  used_at BIGINT,
  PRIMARY KEY (user_id, digest)
);

-- Short-lived secrets sent by mail: email one-time passcodes (bound to a flow) and password links.
CREATE TABLE one_time_codes (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  purpose TEXT NOT NULL,
  digest TEXT NOT NULL,
  bound_to TEXT,
  attempts BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX one_time_codes_digest ON one_time_codes(digest);
CREATE INDEX one_time_codes_bound ON one_time_codes(bound_to, purpose);
CREATE INDEX one_time_codes_expiry ON one_time_codes(expires_at);

-- Graph's signIn.
CREATE TABLE sign_ins (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  user_id TEXT,
  user_principal_name TEXT,
  upn_ci TEXT COLLATE "C",
  user_display_name TEXT,
  app_id TEXT,
  app_display_name TEXT,
  app_display_name_ci TEXT COLLATE "C",
  resource_id TEXT,
  resource_display_name TEXT,
  ip_address TEXT,
  client_app_used TEXT NOT NULL,
  user_agent TEXT,
  is_interactive BIGINT NOT NULL,
  error_code BIGINT NOT NULL,
  failure_reason TEXT,
  additional_details TEXT,
  authentication_details TEXT NOT NULL DEFAULT '[]',
  authentication_requirement TEXT NOT NULL,
  conditional_access_status TEXT NOT NULL,
  home_tenant_id TEXT,
  resource_tenant_id TEXT NOT NULL,
  correlation_id TEXT NOT NULL,
  user_type TEXT,
  cross_tenant_access_type TEXT NOT NULL DEFAULT 'none'
);
CREATE INDEX sign_ins_page ON sign_ins(tenant_id, created_at, id);
CREATE INDEX sign_ins_user ON sign_ins(tenant_id, user_id, created_at);
CREATE INDEX sign_ins_ip ON sign_ins(tenant_id, user_id, ip_address, error_code);

-- Failure counters for sign-in throttling, shared by every server.
CREATE TABLE throttle (
  key TEXT PRIMARY KEY,
  window_start BIGINT NOT NULL,
  failures BIGINT NOT NULL
);

-- Mail that was not sent over SMTP, kept for administrators (the embedded default).
CREATE TABLE mail_outbox (
  id TEXT PRIMARY KEY,
  tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL,
  body_text TEXT NOT NULL,
  body_html TEXT,
  purpose TEXT NOT NULL
);
CREATE INDEX mail_outbox_page ON mail_outbox(created_at, id);
