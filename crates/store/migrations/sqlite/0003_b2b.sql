-- Portico schema v3 (SQLite): B2B collaboration. Keep in step with ../postgres/0003_b2b.sql.
-- Invitation tickets reach a mailbox, so only their SHA-256 digests are stored.

-- Tenant policy documents that Graph exposes as singletons (authorizationPolicy,
-- b2bManagementPolicy, externalIdentitiesPolicy, the email authentication method), one JSON each.
CREATE TABLE tenant_policies (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  document TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, name)
);

-- One invitation per POST /invitations (and per reset). The guest user exists from the start.
CREATE TABLE invitations (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  email TEXT NOT NULL,
  email_ci TEXT NOT NULL,
  redirect_url TEXT NOT NULL,
  ticket_digest TEXT NOT NULL UNIQUE,
  invited_by TEXT,
  inviter_name TEXT,
  user_type TEXT NOT NULL,
  send_message INTEGER NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  send_at INTEGER,
  expires_at INTEGER NOT NULL,
  redeemed_at INTEGER,
  revoked_at INTEGER,
  redeemed_issuer TEXT,
  redeemed_subject TEXT
);
CREATE INDEX invitations_user ON invitations(tenant_id, user_id, created_at);
CREATE INDEX invitations_email ON invitations(tenant_id, email_ci);

-- Guest sponsors (users or groups of the tenant).
CREATE TABLE user_sponsors (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  sponsor_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, sponsor_id)
);

-- A browser on its way to a home identity provider and back (OIDC state, nonce, PKCE verifier).
CREATE TABLE federation_requests (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  browser_digest TEXT NOT NULL,
  purpose TEXT NOT NULL,
  context TEXT NOT NULL,
  nonce TEXT NOT NULL,
  verifier TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX federation_requests_expiry ON federation_requests(expires_at);

-- The durable job queue: mail delivery, invitation batches, scheduled invitations, purges.
CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL,
  run_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 8,
  locked_by TEXT,
  locked_until INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX jobs_due ON jobs(state, run_at);

-- Mail: every message is a row here; a job delivers it (SMTP) or keeps it (embedded default).
ALTER TABLE mail_outbox ADD COLUMN cc TEXT;
ALTER TABLE mail_outbox ADD COLUMN reply_to TEXT;
ALTER TABLE mail_outbox ADD COLUMN sender_name TEXT;
ALTER TABLE mail_outbox ADD COLUMN status TEXT NOT NULL DEFAULT 'kept';
ALTER TABLE mail_outbox ADD COLUMN sent_at INTEGER;
ALTER TABLE mail_outbox ADD COLUMN error TEXT;

-- Addresses that asked for no more invitations ("Block future invitations"), deployment-wide.
CREATE TABLE mail_unsubscribed (
  address_ci TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
);

-- Bulk invitations: the file's rows are stored first, then worked off in chunks, each row with
-- its invitation in one transaction, so a crash resumes without duplicates.
CREATE TABLE invite_batches (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  status TEXT NOT NULL,
  total INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE TABLE invite_batch_rows (
  batch_id TEXT NOT NULL REFERENCES invite_batches(id) ON DELETE CASCADE,
  row_no INTEGER NOT NULL,
  input TEXT NOT NULL,
  status TEXT NOT NULL,
  user_id TEXT,
  error TEXT,
  PRIMARY KEY (batch_id, row_no)
);
CREATE INDEX invite_batch_rows_status ON invite_batch_rows(batch_id, status, row_no);

-- One guest per invited address: two invitations racing for a new address cannot create two users.
CREATE UNIQUE INDEX users_invited_mail ON users(tenant_id, mail_ci)
  WHERE creation_type = 'Invitation' AND deleted_at IS NULL;
