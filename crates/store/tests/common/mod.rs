//! The engine harness and the fixture builders shared by the contract tests.
//!
//! Each contract test gets a store of its own: a fresh SQLite file, or a fresh PostgreSQL schema
//! (selected through `search_path` in the connection options) that is dropped afterwards.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt as _;
use portico_core::ids::{ObjectId, TenantId};
use portico_odata::Value;
use portico_store::apps::{AppRoleAssignment, Application, PasswordCredential, ServicePrincipal};
use portico_store::audit::AuditEntry;
use portico_store::groups::Group;
use portico_store::keys::SigningKey;
use portico_store::list::{Cond, List, ListError, Page};
use portico_store::roles::RoleAssignment;
use portico_store::tenants::{self, Domain, Tenant};
use portico_store::users::{self, User};
use portico_store::{Dialect, Store};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AssertSqlSafe, Connection as _};

/// What the store looks like when the test starts.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// Migrated to the current version.
    Migrated,
    /// Nothing applied.
    Empty,
}

/// Runs `test` against a fresh SQLite database file, deleted afterwards (also when the test fails).
pub async fn on_sqlite<F, Fut>(start: Start, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let path = std::env::temp_dir().join(format!("portico-contract-{}.db", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = Store::connect(&url).await.expect("connect to SQLite");
    assert_eq!(store.dialect(), Dialect::Sqlite);
    let outcome = run(start, &store, test).await;
    store.pool().close().await;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Runs `test` in a fresh schema of the PostgreSQL database named by `TEST_DATABASE_URL`, dropped
/// afterwards; does nothing when the variable is not set.
pub async fn on_postgres<F, Fut>(start: Start, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(base) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        println!("skipped: TEST_DATABASE_URL not set");
        return;
    };
    let schema = format!("portico_t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base).await.expect("connect to TEST_DATABASE_URL");
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("create the test schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    // Everything after CREATE SCHEMA runs guarded, so that the schema is dropped whatever happens.
    let outcome = AssertUnwindSafe(async {
        let store = Store::connect(&url).await.expect("connect to PostgreSQL");
        assert_eq!(store.dialect(), Dialect::Postgres);
        // The connection options must put every pooled connection in the test schema.
        let current: String = sqlx::query_scalar("SELECT CAST(current_schema() AS TEXT)")
            .fetch_one(store.pool())
            .await
            .expect("current_schema");
        assert_eq!(current, schema, "search_path from the connection options was not applied");
        let outcome = run(start, &store, test).await;
        store.pool().close().await;
        outcome
    })
    .catch_unwind()
    .await
    .and_then(|inner| inner);
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .expect("drop the test schema");
    let _ = admin.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn run<F, Fut>(start: Start, store: &Store, test: F) -> std::thread::Result<()>
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    AssertUnwindSafe(async {
        if let Start::Migrated = start {
            store.migrate().await.expect("migrate");
        }
        test(store.clone()).await;
    })
    .catch_unwind()
    .await
}

/// A pooled connection (statements on it commit one by one).
pub async fn conn(store: &Store) -> PoolConnection<Any> {
    store.pool().acquire().await.expect("acquire a connection")
}

/// 2024-01-01T00:00:00Z in epoch milliseconds; the fixtures' creation time.
pub const NOW: i64 = 1_704_067_200_000;

/// Epoch milliseconds of a UTC date.
pub fn day(y: i32, m: u8, d: u8) -> i64 {
    let date = time::Date::from_calendar_date(y, time::Month::try_from(m).expect("month"), d).expect("date");
    date.midnight().assume_utc().unix_timestamp() * 1000
}

/// A tenant named `name` whose initial domain is `<name>.portico.test`.
pub fn tenant(name: &str) -> Tenant {
    Tenant {
        id: TenantId::new(),
        display_name: name.to_string(),
        initial_domain: format!("{name}.portico.test"),
        preferred_language: None,
        privacy_contact_email: None,
        privacy_statement_url: None,
        technical_notification_mails: vec![],
        branding: json!({}),
        created_at: NOW,
    }
}

/// A domain of `tenant`, not initial, not default.
pub fn domain(tenant: TenantId, name: &str, verified: bool) -> Domain {
    Domain {
        tenant_id: tenant,
        name: name.to_string(),
        is_initial: false,
        is_default: false,
        is_verified: verified,
        verification_code: format!("MS=ms{}", name.len()),
        created_at: NOW,
        verified_at: verified.then_some(NOW),
    }
}

/// Stores a tenant with its verified initial (and default) domain.
pub async fn add_tenant(store: &Store, name: &str) -> TenantId {
    let t = tenant(name);
    let mut c = conn(store).await;
    tenants::insert(&mut c, &t).await.expect("insert tenant");
    let initial = Domain { is_initial: true, is_default: true, ..domain(t.id, &t.initial_domain, true) };
    tenants::insert_domain(&mut c, &initial).await.expect("insert initial domain");
    t.id
}

/// A member user `<name>@example.test` with a mail and a nickname equal to `name`.
pub fn user(tenant: TenantId, name: &str) -> User {
    User {
        id: ObjectId::new(),
        tenant_id: tenant,
        user_principal_name: format!("{name}@example.test"),
        display_name: name.to_string(),
        given_name: None,
        surname: None,
        mail: Some(format!("{name}@example.test")),
        mail_nickname: Some(name.to_string()),
        other_mails: vec![],
        identities: vec![],
        account_enabled: true,
        user_type: "Member".into(),
        creation_type: None,
        external_user_state: None,
        external_user_state_changed_at: None,
        preferred_language: None,
        company_name: None,
        job_title: None,
        department: None,
        password_hash: None,
        force_change_password: false,
        password_changed_at: None,
        created_at: NOW,
        deleted_at: None,
    }
}

/// Stores `user(tenant, name)`.
pub async fn add_user(store: &Store, tenant: TenantId, name: &str) -> User {
    let u = user(tenant, name);
    users::insert(&mut *conn(store).await, &u).await.expect("insert user");
    u
}

/// A security group.
pub fn group(tenant: TenantId, name: &str) -> Group {
    Group {
        id: ObjectId::new(),
        tenant_id: tenant,
        display_name: name.to_string(),
        description: None,
        mail_nickname: name.to_lowercase().replace(' ', "-"),
        mail_enabled: false,
        security_enabled: true,
        group_types: vec![],
        visibility: None,
        is_assignable_to_role: false,
        created_at: NOW,
        deleted_at: None,
    }
}

/// Stores `group(tenant, name)`.
pub async fn add_group(store: &Store, tenant: TenantId, name: &str) -> Group {
    let g = group(tenant, name);
    portico_store::groups::insert(&mut *conn(store).await, &g).await.expect("insert group");
    g
}

/// A single-tenant application with a fresh client id.
pub fn app(tenant: TenantId, name: &str) -> Application {
    Application {
        id: ObjectId::new(),
        tenant_id: tenant,
        app_id: uuid::Uuid::new_v4().to_string(),
        display_name: name.to_string(),
        description: None,
        sign_in_audience: "AzureADMyOrg".into(),
        identifier_uris: vec![],
        web: json!({}),
        spa: json!({}),
        public_client: json!({}),
        api: json!({}),
        app_roles: json!([]),
        required_resource_access: json!([]),
        created_at: NOW,
        deleted_at: None,
    }
}

/// The service principal of `app` in the app's tenant.
pub fn sp(app: &Application) -> ServicePrincipal {
    ServicePrincipal {
        id: ObjectId::new(),
        tenant_id: app.tenant_id,
        app_id: app.app_id.clone(),
        application_id: Some(app.id),
        display_name: app.display_name.clone(),
        app_role_assignment_required: false,
        account_enabled: true,
        service_principal_type: "Application".into(),
        app_owner_organization_id: Some(app.tenant_id.to_string()),
        tags: vec![],
        created_at: NOW,
        deleted_at: None,
    }
}

/// Stores an application and its service principal.
pub async fn add_app(store: &Store, tenant: TenantId, name: &str) -> (Application, ServicePrincipal) {
    let a = app(tenant, name);
    let s = sp(&a);
    let mut c = conn(store).await;
    portico_store::apps::insert_app(&mut c, &a).await.expect("insert app");
    portico_store::apps::insert_sp(&mut c, &s).await.expect("insert sp");
    (a, s)
}

/// A client secret of `app` valid from `start_at` for a year.
pub fn password(app: &Application, start_at: i64) -> PasswordCredential {
    PasswordCredential {
        key_id: ObjectId::new(),
        application_id: app.id,
        tenant_id: app.tenant_id,
        display_name: Some(format!("secret {start_at}")),
        hint: "abc".into(),
        secret_digest: format!("digest-{start_at}"),
        start_at,
        end_at: start_at + 365 * 86_400_000,
    }
}

/// An app role assignment of a user.
pub fn assignment(tenant: TenantId, principal: ObjectId, resource: ObjectId, app_role_id: &str) -> AppRoleAssignment {
    AppRoleAssignment {
        id: ObjectId::new(),
        tenant_id: tenant,
        app_role_id: app_role_id.to_string(),
        principal_id: principal,
        principal_type: "User".into(),
        resource_id: resource,
        created_at: NOW,
    }
}

/// A tenant-wide directory role assignment.
pub fn role(tenant: TenantId, principal: ObjectId, definition: &str) -> RoleAssignment {
    RoleAssignment {
        id: ObjectId::new(),
        tenant_id: tenant,
        principal_id: principal,
        role_definition_id: definition.to_string(),
        directory_scope_id: "/".into(),
        created_at: NOW,
    }
}

/// An active signing key.
pub fn key(tenant: TenantId, kid: &str, created_at: i64) -> SigningKey {
    SigningKey {
        kid: kid.to_string(),
        tenant_id: tenant,
        alg: "RS256".into(),
        sealed_private_key: format!("sealed-{kid}"),
        public_jwk: format!(r#"{{"kid":"{kid}"}}"#),
        created_at,
        active: true,
        retired_at: None,
        expires_at: None,
    }
}

/// An audit record.
pub fn audit(tenant: TenantId, activity_at: i64, category: &str, activity: &str) -> AuditEntry {
    AuditEntry {
        id: ObjectId::new(),
        tenant_id: tenant,
        activity_at,
        activity_display_name: activity.to_string(),
        category: category.to_string(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        logged_by_service: "Core Directory".into(),
        operation_type: "Add".into(),
        result: "success".into(),
        result_reason: None,
        initiated_by: json!({"user": {"id": "x"}}),
        target_resources: json!([{"id": "y"}]),
        additional_details: json!([]),
    }
}

/// `tenant_id = $1 [AND deleted_at IS NULL]`.
pub fn in_tenant(tenant: TenantId, live_only: bool) -> Cond {
    let sql = if live_only { "tenant_id = $1 AND deleted_at IS NULL" } else { "tenant_id = $1" };
    Cond::new(sql, vec![Value::Text(tenant.to_string())])
}

/// A list over `table` with the given conditions, ordered by id, 100 a page.
pub fn list(table: &'static str, columns: &'static str, conds: Vec<Cond>) -> List {
    List { table, columns, conds, order: vec![], id_column: "id", top: 100, skiptoken: None, count: false }
}

/// The live users of a tenant, with an optional extra condition.
pub fn users_list(tenant: TenantId, filter: Option<Cond>) -> List {
    list("users", users::COLUMNS, std::iter::once(in_tenant(tenant, true)).chain(filter).collect())
}

/// Reads every page of `list` and returns the pages in order.
pub async fn all_pages<T>(
    store: &Store,
    mut list: List,
    map: impl Fn(&AnyRow) -> Result<T, sqlx::Error> + Copy,
) -> Result<Vec<Page<T>>, ListError> {
    let mut pages = Vec::new();
    loop {
        let page = list.run(store, map).await?;
        let next = page.next.clone();
        pages.push(page);
        assert!(pages.len() <= 1000, "paging does not end");
        match next {
            Some(token) => list.skiptoken = Some(token),
            None => return Ok(pages),
        }
    }
}
