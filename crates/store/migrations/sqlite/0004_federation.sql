-- Portico schema v4 (SQLite): federation with external identity providers. Keep in step with
-- ../postgres/0004_federation.sql.

-- A tenant's identity providers: OpenID Connect (generic, Google, Microsoft, another Portico)
-- and SAML 2.0 direct federation. `config` is the provider's JSON settings (never the client
-- secret, which is sealed with the master key in `secret`).
-- Ids are per tenant: every tenant may have its own `Google-OAUTH`.
CREATE TABLE identity_providers (
  id TEXT NOT NULL,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  display_name TEXT NOT NULL,
  issuer TEXT NOT NULL,
  config TEXT NOT NULL,
  secret TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX identity_providers_tenant ON identity_providers(tenant_id, created_at);
-- One provider per issuer in a tenant: identities are keyed on (issuer, subject).
CREATE UNIQUE INDEX identity_providers_issuer ON identity_providers(tenant_id, issuer);

-- Home-realm discovery: which provider an email domain goes to, per tenant.
CREATE TABLE identity_provider_domains (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  domain_ci TEXT NOT NULL,
  provider_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, domain_ci),
  FOREIGN KEY (tenant_id, provider_id) REFERENCES identity_providers(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX identity_provider_domains_provider ON identity_provider_domains(tenant_id, provider_id);

-- SAML assertions already accepted (by issuer and assertion ID), kept until they expire: every
-- server of the deployment shares this replay cache.
CREATE TABLE saml_assertions_seen (
  issuer TEXT NOT NULL,
  assertion_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (issuer, assertion_id)
);
CREATE INDEX saml_assertions_seen_expiry ON saml_assertions_seen(expires_at);
