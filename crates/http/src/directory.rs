//! Directory operations shared by the Graph-shaped API and the command line: creating tenants,
//! users, applications with their secrets and permissions, role assignments, and key rotation.
//! Each one validates its input, writes in one transaction, and records its audit entry there.

use std::sync::Arc;

use portico_core::access::{self, GRAPH_APP_ID, GRAPH_PERMISSIONS, GRAPH_RESOURCE};
use portico_core::clock::{Clock, to_millis};
use portico_core::ids::{ObjectId, TenantId};
use portico_core::jws::Alg;
use portico_core::secret::{self, PasswordCost};
use portico_core::validate;
use portico_store::apps::{self, AppRoleAssignment, Application, PasswordCredential, ServicePrincipal};
use portico_store::tenants::{self, Domain, Tenant};
use portico_store::users::{self, Identity, User};
use portico_store::{Store, StoreError, Tx, audit as audit_store, roles};
use serde_json::{Value, json};

use crate::audit::{Actor, Target, entry};
use crate::keyring::{self, KeyError, KeyRing};
use crate::settings::Settings;

/// What directory operations need.
#[derive(Clone)]
pub struct Directory {
    /// The store.
    pub store: Store,
    /// Deployment settings.
    pub settings: Arc<Settings>,
    /// Signing keys.
    pub keys: Arc<KeyRing>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Password hashing cost.
    pub password_cost: PasswordCost,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").field("settings", &self.settings).finish()
    }
}

/// Why a directory operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// The input is invalid; the text says why.
    #[error("{0}")]
    Invalid(String),
    /// Something named does not exist.
    #[error("{0} was not found")]
    NotFound(String),
    /// A uniqueness rule.
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// Keys failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl From<StoreError> for DirError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => DirError::Conflict(m),
            StoreError::NotFound => DirError::NotFound("the object".into()),
            other => DirError::Store(other),
        }
    }
}

impl From<DirError> for crate::graph::error::GraphError {
    fn from(e: DirError) -> Self {
        use crate::graph::error::GraphError;
        match e {
            DirError::Invalid(m) | DirError::Conflict(m) => GraphError::bad_request(m),
            DirError::NotFound(what) => GraphError::not_found(&what),
            DirError::Store(s) => s.into(),
            DirError::Key(k) => GraphError::internal(&k),
        }
    }
}

/// Input for a new member user.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// UPN; its domain must be a verified domain of the tenant.
    pub user_principal_name: String,
    /// Display name.
    pub display_name: String,
    /// Initial password (None: a random one is generated and returned).
    pub password: Option<String>,
    /// Must change it at next sign-in.
    pub force_change_password: bool,
    /// Mail alias (default: the UPN's local part).
    pub mail_nickname: Option<String>,
    /// Mail (default: none).
    pub mail: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Company.
    pub company_name: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Language.
    pub preferred_language: Option<String>,
    /// Alternate mails.
    pub other_mails: Vec<String>,
    /// Sign-in allowed.
    pub account_enabled: bool,
    /// Member or Guest.
    pub user_type: Option<String>,
}

/// Minimum password length (ASVS 6.2.1).
pub const MIN_PASSWORD_LEN: usize = portico_core::password::MIN_LEN;
/// Maximum accepted password length (ASVS 6.2.9 asks at least 64).
pub const MAX_PASSWORD_LEN: usize = portico_core::password::MAX_LEN;

/// Checks a new password against the policy (ASVS 6.2: length 8 to 256, no composition
/// rules, the most common passwords refused).
pub fn check_password(p: &str) -> Result<(), DirError> {
    portico_core::password::check_password(p, &[]).map_err(|problem| {
        DirError::Invalid(format!(
            "The specified password does not comply with password complexity requirements. {}",
            problem.message()
        ))
    })
}

fn slug(name: &str) -> String {
    let s: String = name.to_ascii_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).take(40).collect();
    if s.is_empty() { "tenant".into() } else { s }
}

impl Directory {
    fn now_ms(&self) -> i64 {
        to_millis(self.clock.now())
    }

    /// Creates a tenant: its initial domain `<name>.<base>` (verified), optionally a custom
    /// domain the operator vouches for (verified and default), and the Microsoft Graph service
    /// principal that carries the Graph permissions. Its first signing key is made on first use
    /// (see `KeyRing`).
    pub async fn create_tenant(
        &self,
        display_name: &str,
        custom_domain: Option<&str>,
        actor: &Actor,
    ) -> Result<Tenant, DirError> {
        let display_name = display_name.trim();
        if display_name.is_empty() || display_name.len() > 256 {
            return Err(DirError::Invalid("The tenant name must be 1 to 256 characters.".into()));
        }
        let custom = match custom_domain {
            Some(d) => Some(
                validate::domain_name(d)
                    .ok_or_else(|| DirError::Invalid(format!("'{d}' is not a valid domain name.")))?,
            ),
            None => None,
        };
        let now = self.now_ms();
        let tenant = Tenant {
            id: TenantId::new(),
            display_name: display_name.into(),
            initial_domain: String::new(),
            preferred_language: Some("en".into()),
            privacy_contact_email: None,
            privacy_statement_url: None,
            technical_notification_mails: vec![],
            branding: json!({}),
            created_at: now,
        };
        // Pick an initial domain that is free: name, name2, name3...
        let base = slug(display_name);
        let mut initial = format!("{base}.{}", self.settings.base_domain);
        for n in 2..1000 {
            if tenants::resolve(&self.store, &initial).await?.is_none() {
                break;
            }
            initial = format!("{base}{n}.{}", self.settings.base_domain);
        }
        if let Some(c) = &custom
            && tenants::resolve(&self.store, c).await?.is_some()
        {
            return Err(DirError::Conflict(format!("The domain '{c}' is already verified in another tenant.")));
        }
        let tenant = Tenant { initial_domain: initial.clone(), ..tenant };
        let mut tx = self.store.begin().await?;
        tenants::insert(&mut tx, &tenant).await?;
        let domain = |name: &str, initial: bool, default: bool| Domain {
            tenant_id: tenant.id,
            name: name.into(),
            is_initial: initial,
            is_default: default,
            is_verified: true,
            verification_code: format!("MS=ms{}", &secret::random_token(6)),
            created_at: now,
            verified_at: Some(now),
        };
        tenants::insert_domain(&mut tx, &domain(&initial, true, custom.is_none())).await?;
        if let Some(c) = &custom {
            tenants::insert_domain(&mut tx, &domain(c, false, true)).await?;
        }
        apps::insert_sp(&mut tx, &graph_service_principal(tenant.id, now)).await?;
        audit_store::insert(
            &mut tx,
            &entry(
                tenant.id,
                actor,
                "Add tenant",
                "DirectoryManagement",
                "Add",
                "Core Directory",
                &[Target::new(tenant.id, "Directory", Some(tenant.display_name.clone()))],
                now,
            ),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(tenant)
    }

    /// The default domain of a tenant (for UPNs the CLI builds).
    pub async fn default_domain(&self, tenant: TenantId) -> Result<String, DirError> {
        let mut conn = self.store.pool().acquire().await.map_err(StoreError::from)?;
        let domains = tenants::list_domains(&mut conn, tenant).await?;
        domains
            .iter()
            .find(|d| d.is_default)
            .or_else(|| domains.first())
            .map(|d| d.name.clone())
            .ok_or_else(|| DirError::NotFound("the tenant's domains".into()))
    }

    /// The tenant's initial domain (`<name>.<base domain>`), the issuer of UPN identities.
    pub async fn initial_domain(&self, conn: &mut sqlx::AnyConnection, tenant: TenantId) -> Result<String, DirError> {
        tenants::get(conn, tenant)
            .await?
            .map(|t| t.initial_domain)
            .ok_or_else(|| DirError::NotFound("the tenant".into()))
    }

    /// Checks that a UPN is well formed and its domain is a verified domain of the tenant.
    pub async fn check_upn(
        &self,
        conn: &mut sqlx::AnyConnection,
        tenant: TenantId,
        upn: &str,
    ) -> Result<String, DirError> {
        let upn = validate::user_principal_name(upn)
            .ok_or_else(|| DirError::Invalid("Property userPrincipalName is invalid.".into()))?;
        let domain = upn.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
        match tenants::get_domain(conn, tenant, &domain).await? {
            Some(d) if d.is_verified => Ok(upn),
            _ => Err(DirError::Invalid(
                "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.".into(),
            )),
        }
    }

    /// Builds a user object from input (validated), hashing the password. Returns the user and
    /// the password when one was generated.
    pub async fn build_user(
        &self,
        conn: &mut sqlx::AnyConnection,
        tenant: TenantId,
        n: NewUser,
    ) -> Result<(User, Option<String>), DirError> {
        let upn = self.check_upn(conn, tenant, &n.user_principal_name).await?;
        if n.display_name.trim().is_empty() || n.display_name.chars().count() > 256 {
            return Err(DirError::Invalid("Property displayName is invalid: it must be 1 to 256 characters.".into()));
        }
        let nickname =
            n.mail_nickname.clone().unwrap_or_else(|| upn.split('@').next().unwrap_or_default().replace('#', "_"));
        if !validate::mail_nickname(&nickname) {
            return Err(DirError::Invalid("Property mailNickname is invalid.".into()));
        }
        let (password, generated) = match n.password {
            Some(p) => (p, None),
            None => {
                let p = secret::new_initial_password();
                (p.clone(), Some(p))
            }
        };
        check_password(&password)?;
        let hash =
            secret::hash_password(&password, self.password_cost).map_err(|e| DirError::Invalid(e.to_string()))?;
        let now = self.now_ms();
        // Entra names the tenant's initial domain as the issuer of every userPrincipalName identity.
        let tenant_domain = self.initial_domain(conn, tenant).await?;
        let user = User {
            id: ObjectId::new(),
            tenant_id: tenant,
            user_principal_name: upn.clone(),
            display_name: n.display_name.trim().into(),
            given_name: n.given_name,
            surname: n.surname,
            mail: n.mail,
            mail_nickname: Some(nickname),
            other_mails: n.other_mails,
            identities: vec![Identity {
                sign_in_type: "userPrincipalName".into(),
                issuer: tenant_domain,
                issuer_assigned_id: Some(upn),
            }],
            account_enabled: n.account_enabled,
            user_type: n.user_type.unwrap_or_else(|| "Member".into()),
            creation_type: None,
            external_user_state: None,
            external_user_state_changed_at: None,
            preferred_language: n.preferred_language,
            company_name: n.company_name,
            job_title: n.job_title,
            department: n.department,
            password_hash: Some(hash),
            force_change_password: n.force_change_password,
            password_changed_at: Some(now),
            created_at: now,
            deleted_at: None,
        };
        Ok((user, generated))
    }

    /// Creates a member user (audited "Add user").
    pub async fn create_user(
        &self,
        tenant: TenantId,
        n: NewUser,
        actor: &Actor,
    ) -> Result<(User, Option<String>), DirError> {
        let mut tx = self.store.begin().await?;
        let (user, generated) = self.build_user(&mut tx, tenant, n).await?;
        users::insert(&mut tx, &user).await?;
        let mut t = Target::new(user.id, "User", Some(user.display_name.clone()));
        t.user_principal_name = Some(user.user_principal_name.clone());
        audit_store::insert(
            &mut tx,
            &entry(tenant, actor, "Add user", "UserManagement", "Add", "Core Directory", &[t], self.now_ms()),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok((user, generated))
    }

    /// Registers an application (audited "Add application"), and when asked its service
    /// principal in the same transaction. Graph's `POST /applications` does not create the
    /// service principal; the command line does, as the portal does.
    pub async fn create_application(
        &self,
        tx: &mut Tx,
        tenant: TenantId,
        app: Application,
        actor: &Actor,
        with_service_principal: bool,
    ) -> Result<(Application, Option<ServicePrincipal>), DirError> {
        let now = self.now_ms();
        apps::insert_app(tx, &app).await?;
        let at = Target::new(app.id, "Application", Some(app.display_name.clone()));
        audit_store::insert(
            tx,
            &entry(tenant, actor, "Add application", "ApplicationManagement", "Add", "Core Directory", &[at], now),
        )
        .await?;
        let sp = if with_service_principal {
            Some(self.create_service_principal(tx, tenant, &app, actor).await?)
        } else {
            None
        };
        Ok((app, sp))
    }

    /// Creates the service principal of an application in the tenant (audited "Add service principal").
    pub async fn create_service_principal(
        &self,
        tx: &mut Tx,
        tenant: TenantId,
        app: &Application,
        actor: &Actor,
    ) -> Result<ServicePrincipal, DirError> {
        let now = self.now_ms();
        let sp = ServicePrincipal {
            id: ObjectId::new(),
            tenant_id: tenant,
            app_id: app.app_id.clone(),
            application_id: Some(app.id),
            display_name: app.display_name.clone(),
            app_role_assignment_required: false,
            account_enabled: true,
            service_principal_type: "Application".into(),
            app_owner_organization_id: Some(app.tenant_id.to_string()),
            tags: vec![],
            created_at: now,
            deleted_at: None,
        };
        apps::insert_sp(tx, &sp).await?;
        let st = Target::new(sp.id, "ServicePrincipal", Some(sp.display_name.clone()));
        audit_store::insert(
            tx,
            &entry(
                tenant,
                actor,
                "Add service principal",
                "ApplicationManagement",
                "Add",
                "Core Directory",
                &[st],
                now,
            ),
        )
        .await?;
        Ok(sp)
    }

    /// Adds a client secret; returns the credential and the secret text (shown once).
    pub async fn add_password(
        &self,
        tx: &mut Tx,
        app: &Application,
        display_name: Option<String>,
        end_at: Option<i64>,
        actor: &Actor,
    ) -> Result<(PasswordCredential, String), DirError> {
        let now = self.now_ms();
        let (secret_text, hint) = secret::new_client_secret();
        // Entra's default lifetime for a new secret is two years.
        let end = end_at.unwrap_or(now + 2 * 365 * 24 * 3600 * 1000);
        if end <= now {
            return Err(DirError::Invalid("The endDateTime of a password credential must be in the future.".into()));
        }
        let cred = PasswordCredential {
            key_id: ObjectId::new(),
            application_id: app.id,
            tenant_id: app.tenant_id,
            display_name,
            hint,
            secret_digest: secret::digest_secret(&secret_text),
            start_at: now,
            end_at: end,
        };
        apps::insert_password(tx, &cred).await?;
        let t = Target::new(app.id, "Application", Some(app.display_name.clone())).with_changes(vec![(
            "KeyDescription".into(),
            Value::Null,
            json!(format!("[KeyIdentifier={}]", cred.key_id)),
        )]);
        audit_store::insert(
            tx,
            &entry(
                app.tenant_id,
                actor,
                "Update application – Certificates and secrets management ",
                "ApplicationManagement",
                "Update",
                "Core Directory",
                &[t],
                now,
            ),
        )
        .await?;
        Ok((cred, secret_text))
    }

    /// Grants Graph application permissions to a client service principal (admin consent),
    /// as app role assignments on the tenant's Microsoft Graph service principal.
    pub async fn grant_graph_permissions(
        &self,
        tx: &mut Tx,
        tenant: TenantId,
        client: &ServicePrincipal,
        names: &[String],
        actor: &Actor,
    ) -> Result<Vec<String>, DirError> {
        let graph = apps::get_sp_by_app_id(tx, tenant, GRAPH_APP_ID)
            .await?
            .ok_or_else(|| DirError::NotFound("the Microsoft Graph service principal".into()))?;
        let mut granted = vec![];
        for name in names {
            let p = access::permission_by_name(name).ok_or_else(|| {
                DirError::Invalid(format!(
                    "'{name}' is not a Graph application permission Portico offers. Known: {}",
                    GRAPH_PERMISSIONS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
                ))
            })?;
            let a = AppRoleAssignment {
                id: ObjectId::new(),
                tenant_id: tenant,
                app_role_id: p.id.into(),
                principal_id: client.id,
                principal_type: "ServicePrincipal".into(),
                resource_id: graph.id,
                created_at: self.now_ms(),
            };
            match apps::insert_assignment(tx, &a).await {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            let t = Target::new(client.id, "ServicePrincipal", Some(client.display_name.clone())).with_changes(vec![(
                "AppRole.Value".into(),
                Value::Null,
                json!(p.name),
            )]);
            audit_store::insert(
                tx,
                &entry(
                    tenant,
                    actor,
                    "Add app role assignment to service principal",
                    "ApplicationManagement",
                    "Assign",
                    "Core Directory",
                    &[t],
                    self.now_ms(),
                ),
            )
            .await?;
            granted.push(p.name.to_string());
        }
        Ok(granted)
    }

    /// Assigns a built-in directory role tenant-wide (audited "Add member to role").
    pub async fn assign_role(
        &self,
        tx: &mut Tx,
        tenant: TenantId,
        principal: ObjectId,
        role_id: &str,
        actor: &Actor,
    ) -> Result<roles::RoleAssignment, DirError> {
        let role = access::role_by_id(role_id)
            .ok_or_else(|| DirError::Invalid(format!("'{role_id}' is not a role definition id.")))?;
        let a = roles::RoleAssignment {
            id: ObjectId::new(),
            tenant_id: tenant,
            principal_id: principal,
            role_definition_id: role.template_id.into(),
            directory_scope_id: "/".into(),
            created_at: self.now_ms(),
        };
        roles::insert(tx, &a).await?;
        let t = Target::new(principal, "User", None).with_changes(vec![(
            "Role.DisplayName".into(),
            Value::Null,
            json!(role.display_name),
        )]);
        audit_store::insert(
            tx,
            &entry(tenant, actor, "Add member to role", "RoleManagement", "Add", "Core Directory", &[t], self.now_ms()),
        )
        .await?;
        Ok(a)
    }

    /// Rotates a tenant's signing key. The old key stays published until every token it signed
    /// has expired (token lifetime plus five minutes of clock skew).
    pub async fn rotate_key(&self, tenant: TenantId, alg: Option<Alg>, actor: &Actor) -> Result<String, DirError> {
        let now = self.now_ms();
        let keep = (self.settings.access_token_lifetime_secs + 300) * 1000;
        let mut tx = self.store.begin().await?;
        let kid = keyring::create_active_key(
            &mut tx,
            self.keys.master(),
            tenant,
            alg.unwrap_or(self.settings.signing_alg),
            now,
            keep,
        )
        .await?;
        let t = Target::new(&kid, "Other", Some("Signing key".into()));
        audit_store::insert(
            &mut tx,
            &entry(tenant, actor, "Rotate signing key", "KeyManagement", "Update", "Core Directory", &[t], now),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        self.keys.invalidate(tenant);
        Ok(kid)
    }
}

/// The Microsoft Graph service principal every tenant has; its app roles are the permissions.
pub fn graph_service_principal(tenant: TenantId, now: i64) -> ServicePrincipal {
    ServicePrincipal {
        id: ObjectId::new(),
        tenant_id: tenant,
        app_id: GRAPH_APP_ID.into(),
        application_id: None,
        display_name: "Microsoft Graph".into(),
        app_role_assignment_required: false,
        account_enabled: true,
        service_principal_type: "Application".into(),
        app_owner_organization_id: None,
        tags: vec![],
        created_at: now,
        deleted_at: None,
    }
}

/// The app roles of the Graph service principal, in Graph's appRole shape.
pub fn graph_app_roles() -> Value {
    Value::Array(
        GRAPH_PERMISSIONS
            .iter()
            .map(|p| {
                json!({
                    "allowedMemberTypes": ["Application"],
                    "description": p.description,
                    "displayName": p.description,
                    "id": p.id,
                    "isEnabled": true,
                    "origin": "Application",
                    "value": p.name
                })
            })
            .collect(),
    )
}

/// The identifier URIs the Graph resource answers to.
pub fn graph_identifier_uris() -> Vec<String> {
    vec![GRAPH_RESOURCE.to_string(), format!("{GRAPH_RESOURCE}/")]
}
