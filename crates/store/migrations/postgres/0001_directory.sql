-- Portico schema v1 (PostgreSQL). Keep in step with ../sqlite/0001_directory.sql.
-- Instants are Unix epoch milliseconds (BIGINT); ci columns use the byte-ordered "C" collation so prefix ranges use the index; booleans are 0/1; ids are lowercase GUID text.
-- *_ci columns hold lowercased copies for Graph's case-insensitive filters and ordering.

CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  initial_domain TEXT NOT NULL,
  preferred_language TEXT,
  privacy_contact_email TEXT,
  privacy_statement_url TEXT,
  technical_notification_mails TEXT NOT NULL DEFAULT '[]',
  branding TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL
);

CREATE TABLE domains (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  is_initial BIGINT NOT NULL DEFAULT 0,
  is_default BIGINT NOT NULL DEFAULT 0,
  is_verified BIGINT NOT NULL DEFAULT 0,
  verification_code TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  verified_at BIGINT,
  PRIMARY KEY (tenant_id, name)
);
CREATE UNIQUE INDEX domains_verified_name ON domains(name) WHERE is_verified = 1;

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_principal_name TEXT NOT NULL,
  upn_ci TEXT COLLATE "C" NOT NULL,
  display_name TEXT NOT NULL,
  display_name_ci TEXT COLLATE "C" NOT NULL,
  given_name TEXT, given_name_ci TEXT COLLATE "C",
  surname TEXT, surname_ci TEXT COLLATE "C",
  mail TEXT, mail_ci TEXT COLLATE "C",
  mail_nickname TEXT, mail_nickname_ci TEXT COLLATE "C",
  account_enabled BIGINT NOT NULL DEFAULT 1,
  user_type TEXT NOT NULL DEFAULT 'Member',
  creation_type TEXT,
  external_user_state TEXT,
  external_user_state_changed_at BIGINT,
  preferred_language TEXT,
  company_name TEXT, company_name_ci TEXT COLLATE "C",
  job_title TEXT, job_title_ci TEXT COLLATE "C",
  department TEXT, department_ci TEXT COLLATE "C",
  password_hash TEXT,
  force_change_password BIGINT NOT NULL DEFAULT 0,
  password_changed_at BIGINT,
  created_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE UNIQUE INDEX users_upn ON users(tenant_id, upn_ci);
CREATE INDEX users_page ON users(tenant_id, id);
CREATE INDEX users_display_name ON users(tenant_id, display_name_ci, id);
CREATE INDEX users_mail ON users(tenant_id, mail_ci);
CREATE INDEX users_type ON users(tenant_id, user_type, id);
CREATE INDEX users_deleted ON users(tenant_id, deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE user_other_mails (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  position BIGINT NOT NULL,
  value TEXT NOT NULL,
  value_ci TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (user_id, position)
);
CREATE INDEX user_other_mails_value ON user_other_mails(value_ci);

CREATE TABLE user_identities (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  position BIGINT NOT NULL,
  sign_in_type TEXT NOT NULL,
  issuer TEXT NOT NULL,
  issuer_assigned_id TEXT,
  sign_in_type_ci TEXT COLLATE "C" NOT NULL,
  issuer_ci TEXT COLLATE "C" NOT NULL,
  issuer_assigned_id_ci TEXT COLLATE "C",
  PRIMARY KEY (user_id, position)
);
CREATE INDEX user_identities_key ON user_identities(issuer_ci, issuer_assigned_id_ci);

CREATE TABLE directory_groups (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  display_name TEXT NOT NULL,
  display_name_ci TEXT COLLATE "C" NOT NULL,
  description TEXT,
  mail_nickname TEXT NOT NULL,
  mail_nickname_ci TEXT COLLATE "C" NOT NULL,
  mail_enabled BIGINT NOT NULL DEFAULT 0,
  security_enabled BIGINT NOT NULL DEFAULT 1,
  group_types TEXT NOT NULL DEFAULT '[]',
  visibility TEXT,
  is_assignable_to_role BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE INDEX groups_page ON directory_groups(tenant_id, id);
CREATE INDEX groups_display_name ON directory_groups(tenant_id, display_name_ci, id);

CREATE TABLE group_members (
  group_id TEXT NOT NULL REFERENCES directory_groups(id) ON DELETE CASCADE,
  member_id TEXT NOT NULL,
  member_type TEXT NOT NULL,
  PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members(member_id);

CREATE TABLE group_owners (
  group_id TEXT NOT NULL REFERENCES directory_groups(id) ON DELETE CASCADE,
  owner_id TEXT NOT NULL,
  owner_type TEXT NOT NULL,
  PRIMARY KEY (group_id, owner_id)
);
CREATE INDEX group_owners_owner ON group_owners(owner_id);

CREATE TABLE applications (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  app_id TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  display_name_ci TEXT COLLATE "C" NOT NULL,
  description TEXT,
  sign_in_audience TEXT NOT NULL DEFAULT 'AzureADMyOrg',
  identifier_uris TEXT NOT NULL DEFAULT '[]',
  web TEXT NOT NULL DEFAULT '{}',
  spa TEXT NOT NULL DEFAULT '{}',
  public_client TEXT NOT NULL DEFAULT '{}',
  api TEXT NOT NULL DEFAULT '{}',
  app_roles TEXT NOT NULL DEFAULT '[]',
  required_resource_access TEXT NOT NULL DEFAULT '[]',
  created_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE INDEX applications_page ON applications(tenant_id, id);

CREATE TABLE password_credentials (
  key_id TEXT PRIMARY KEY,
  application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
  tenant_id TEXT NOT NULL,
  display_name TEXT,
  hint TEXT NOT NULL,
  secret_digest TEXT NOT NULL,
  start_at BIGINT NOT NULL,
  end_at BIGINT NOT NULL
);
CREATE INDEX password_credentials_app ON password_credentials(application_id);

CREATE TABLE service_principals (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  app_id TEXT NOT NULL,
  application_id TEXT,
  display_name TEXT NOT NULL,
  display_name_ci TEXT COLLATE "C" NOT NULL,
  app_role_assignment_required BIGINT NOT NULL DEFAULT 0,
  account_enabled BIGINT NOT NULL DEFAULT 1,
  service_principal_type TEXT NOT NULL DEFAULT 'Application',
  app_owner_organization_id TEXT,
  tags TEXT NOT NULL DEFAULT '[]',
  created_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE UNIQUE INDEX service_principals_app ON service_principals(tenant_id, app_id);
CREATE INDEX service_principals_page ON service_principals(tenant_id, id);

CREATE TABLE app_role_assignments (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  app_role_id TEXT NOT NULL,
  principal_id TEXT NOT NULL,
  principal_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX app_role_assignments_key ON app_role_assignments(principal_id, resource_id, app_role_id);
CREATE INDEX app_role_assignments_resource ON app_role_assignments(resource_id);

CREATE TABLE role_assignments (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  principal_id TEXT NOT NULL,
  role_definition_id TEXT NOT NULL,
  directory_scope_id TEXT NOT NULL DEFAULT '/',
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX role_assignments_key ON role_assignments(tenant_id, principal_id, role_definition_id, directory_scope_id);

CREATE TABLE signing_keys (
  kid TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  alg TEXT NOT NULL,
  sealed_private_key TEXT NOT NULL,
  public_jwk TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  active BIGINT NOT NULL,
  retired_at BIGINT,
  expires_at BIGINT
);
CREATE INDEX signing_keys_tenant ON signing_keys(tenant_id, active);

CREATE TABLE audit_logs (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  activity_at BIGINT NOT NULL,
  activity_display_name TEXT NOT NULL,
  activity_display_name_ci TEXT COLLATE "C" NOT NULL,
  category TEXT NOT NULL,
  category_ci TEXT COLLATE "C" NOT NULL,
  correlation_id TEXT NOT NULL,
  logged_by_service TEXT NOT NULL,
  operation_type TEXT NOT NULL,
  result TEXT NOT NULL,
  result_reason TEXT,
  initiated_by TEXT NOT NULL,
  target_resources TEXT NOT NULL,
  additional_details TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX audit_logs_page ON audit_logs(tenant_id, activity_at, id);

CREATE TABLE deployment_settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
