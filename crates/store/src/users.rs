//! Users: members and guests, their alternate mails and sign-in identities.

use portico_core::ids::{ObjectId, TenantId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{StoreError, ci, ci_opt, flag, opt_str};

/// A sign-in identity (Graph objectIdentity).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// `userPrincipalName`, `emailAddress`, `federated`, ...
    pub sign_in_type: String,
    /// The issuer (a domain, `mail`, an IdP URI).
    pub issuer: String,
    /// The subject at the issuer (null for some federated identities).
    pub issuer_assigned_id: Option<String>,
}

/// A user.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Object id.
    pub id: ObjectId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// UPN.
    pub user_principal_name: String,
    /// Display name.
    pub display_name: String,
    /// Given name.
    pub given_name: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// Primary SMTP address.
    pub mail: Option<String>,
    /// Mail alias.
    pub mail_nickname: Option<String>,
    /// Alternate addresses.
    pub other_mails: Vec<String>,
    /// Sign-in identities.
    pub identities: Vec<Identity>,
    /// Sign-in allowed.
    pub account_enabled: bool,
    /// Member or Guest.
    pub user_type: String,
    /// Invitation, ... or none.
    pub creation_type: Option<String>,
    /// PendingAcceptance, Accepted or none.
    pub external_user_state: Option<String>,
    /// When the state last changed (ms).
    pub external_user_state_changed_at: Option<i64>,
    /// Language tag.
    pub preferred_language: Option<String>,
    /// Company.
    pub company_name: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Argon2id PHC string; none for guests.
    pub password_hash: Option<String>,
    /// Must change the password at next sign-in.
    pub force_change_password: bool,
    /// When the password was last set (ms).
    pub password_changed_at: Option<i64>,
    /// Created at (ms).
    pub created_at: i64,
    /// Soft-deleted at (ms).
    pub deleted_at: Option<i64>,
}

/// The select list for users.
pub const COLUMNS: &str = "id, tenant_id, user_principal_name, display_name, given_name, surname, mail, mail_nickname, \
    account_enabled, user_type, creation_type, external_user_state, external_user_state_changed_at, preferred_language, \
    company_name, job_title, department, password_hash, force_change_password, password_changed_at, created_at, deleted_at";

/// Maps a row of [`COLUMNS`]; collections are loaded by [`load_collections`].
pub fn from_row(r: &AnyRow) -> Result<User, sqlx::Error> {
    let id: String = r.try_get("id")?;
    let tid: String = r.try_get("tenant_id")?;
    Ok(User {
        id: ObjectId::parse(&id).ok_or_else(|| sqlx::Error::Decode("bad user id".into()))?,
        tenant_id: TenantId::parse(&tid).ok_or_else(|| sqlx::Error::Decode("bad tenant id".into()))?,
        user_principal_name: r.try_get("user_principal_name")?,
        display_name: r.try_get("display_name")?,
        given_name: opt_str(r, "given_name")?,
        surname: opt_str(r, "surname")?,
        mail: opt_str(r, "mail")?,
        mail_nickname: opt_str(r, "mail_nickname")?,
        other_mails: vec![],
        identities: vec![],
        account_enabled: flag(r, "account_enabled")?,
        user_type: r.try_get("user_type")?,
        creation_type: opt_str(r, "creation_type")?,
        external_user_state: opt_str(r, "external_user_state")?,
        external_user_state_changed_at: r.try_get("external_user_state_changed_at")?,
        preferred_language: opt_str(r, "preferred_language")?,
        company_name: opt_str(r, "company_name")?,
        job_title: opt_str(r, "job_title")?,
        department: opt_str(r, "department")?,
        password_hash: opt_str(r, "password_hash")?,
        force_change_password: flag(r, "force_change_password")?,
        password_changed_at: r.try_get("password_changed_at")?,
        created_at: r.try_get("created_at")?,
        deleted_at: r.try_get("deleted_at")?,
    })
}

const UPN_TAKEN: &str = "Another object with the same value for property userPrincipalName already exists.";

/// The columns [`bind_insert`] binds, in order (those [`insert`] writes).
const INSERT_COLUMNS: &str = "id, tenant_id, user_principal_name, upn_ci, display_name, display_name_ci, given_name, given_name_ci, \
    surname, surname_ci, mail, mail_ci, mail_nickname, mail_nickname_ci, account_enabled, user_type, creation_type, \
    external_user_state, external_user_state_changed_at, preferred_language, company_name, company_name_ci, job_title, \
    job_title_ci, department, department_ci, password_hash, force_change_password, password_changed_at, created_at, deleted_at";
const INSERT_WIDTH: usize = 31;

type AnyQuery = sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>;

/// `VALUES` placeholders for `rows` users.
fn insert_sql(rows: usize) -> String {
    let tuples: Vec<String> =
        (0..rows).map(|i| format!("({})", crate::db::placeholders(i * INSERT_WIDTH + 1, INSERT_WIDTH))).collect();
    format!("INSERT INTO users ({INSERT_COLUMNS}) VALUES {}", tuples.join(", "))
}

/// Binds the [`INSERT_COLUMNS`] of one user.
fn bind_insert(q: AnyQuery, u: &User) -> AnyQuery {
    q.bind(u.id.to_string())
        .bind(u.tenant_id.to_string())
        .bind(u.user_principal_name.clone())
        .bind(ci(&u.user_principal_name))
        .bind(u.display_name.clone())
        .bind(ci(&u.display_name))
        .bind(u.given_name.clone())
        .bind(ci_opt(u.given_name.as_deref()))
        .bind(u.surname.clone())
        .bind(ci_opt(u.surname.as_deref()))
        .bind(u.mail.clone())
        .bind(ci_opt(u.mail.as_deref()))
        .bind(u.mail_nickname.clone())
        .bind(ci_opt(u.mail_nickname.as_deref()))
        .bind(i64::from(u.account_enabled))
        .bind(u.user_type.clone())
        .bind(u.creation_type.clone())
        .bind(u.external_user_state.clone())
        .bind(u.external_user_state_changed_at)
        .bind(u.preferred_language.clone())
        .bind(u.company_name.clone())
        .bind(ci_opt(u.company_name.as_deref()))
        .bind(u.job_title.clone())
        .bind(ci_opt(u.job_title.as_deref()))
        .bind(u.department.clone())
        .bind(ci_opt(u.department.as_deref()))
        .bind(u.password_hash.clone())
        .bind(i64::from(u.force_change_password))
        .bind(u.password_changed_at)
        .bind(u.created_at)
        .bind(u.deleted_at)
}

/// Inserts a user with its collections.
pub async fn insert(conn: &mut AnyConnection, u: &User) -> Result<(), StoreError> {
    bind_insert(crate::db::dynamic(insert_sql(1)), u)
        .execute(&mut *conn)
        .await
        .map_err(|e| StoreError::from(e).conflict_as(UPN_TAKEN))?;
    write_collections(conn, u, false).await
}

/// Writes a user's collections; `replace` first removes the old ones (a new user has none, so
/// inserts skip those round trips).
async fn write_collections(conn: &mut AnyConnection, u: &User, replace: bool) -> Result<(), StoreError> {
    let id = u.id.to_string();
    if replace {
        sqlx::query("DELETE FROM user_other_mails WHERE user_id = $1").bind(&id).execute(&mut *conn).await?;
        sqlx::query("DELETE FROM user_identities WHERE user_id = $1").bind(&id).execute(&mut *conn).await?;
    }
    for (i, m) in u.other_mails.iter().enumerate() {
        sqlx::query("INSERT INTO user_other_mails (user_id, position, value, value_ci) VALUES ($1, $2, $3, $4)")
            .bind(&id)
            .bind(i as i64)
            .bind(m)
            .bind(ci(m))
            .execute(&mut *conn)
            .await?;
    }
    for (i, x) in u.identities.iter().enumerate() {
        sqlx::query(
            "INSERT INTO user_identities (user_id, position, sign_in_type, issuer, issuer_assigned_id, sign_in_type_ci, issuer_ci, \
             issuer_assigned_id_ci) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(i as i64)
        .bind(&x.sign_in_type)
        .bind(&x.issuer)
        .bind(&x.issuer_assigned_id)
        .bind(ci(&x.sign_in_type))
        .bind(ci(&x.issuer))
        .bind(ci_opt(x.issuer_assigned_id.as_deref()))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Writes every property of an existing user (and replaces its collections). The parameters are
/// those of [`bind_insert`]: `$1` the id, `$2` the tenant, then the columns in [`INSERT_COLUMNS`] order.
pub async fn update(conn: &mut AnyConnection, u: &User) -> Result<(), StoreError> {
    let sets: Vec<String> = INSERT_COLUMNS
        .split(", ")
        .enumerate()
        .skip(2)
        // created_at never changes: its parameter ($30) is bound but unused.
        .filter(|(_, c)| *c != "created_at")
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    let sql = format!("UPDATE users SET {} WHERE id = $1 AND tenant_id = $2", sets.join(", "));
    let done = bind_insert(crate::db::dynamic(sql), u)
        .execute(&mut *conn)
        .await
        .map_err(|e| StoreError::from(e).conflict_as(UPN_TAKEN))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    write_collections(conn, u, true).await
}

/// Fills `other_mails` and `identities` for a batch of users with two queries.
pub async fn load_collections(conn: &mut AnyConnection, users: &mut [User]) -> Result<(), StoreError> {
    if users.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = users.iter().map(|u| u.id.to_string()).collect();
    let ph = crate::db::placeholders(1, ids.len());
    let q = format!("SELECT user_id, value FROM user_other_mails WHERE user_id IN ({}) ORDER BY user_id, position", ph);
    let mut query = crate::db::dynamic(q);
    for id in &ids {
        query = query.bind(id.clone());
    }
    for r in query.fetch_all(&mut *conn).await? {
        let uid: String = r.try_get("user_id")?;
        if let Some(u) = users.iter_mut().find(|u| u.id.to_string() == uid) {
            u.other_mails.push(r.try_get("value")?);
        }
    }
    let q = format!(
        "SELECT user_id, sign_in_type, issuer, issuer_assigned_id FROM user_identities WHERE user_id IN ({}) ORDER BY user_id, position",
        ph
    );
    let mut query = crate::db::dynamic(q);
    for id in &ids {
        query = query.bind(id.clone());
    }
    for r in query.fetch_all(&mut *conn).await? {
        let uid: String = r.try_get("user_id")?;
        if let Some(u) = users.iter_mut().find(|u| u.id.to_string() == uid) {
            u.identities.push(Identity {
                sign_in_type: r.try_get("sign_in_type")?,
                issuer: r.try_get("issuer")?,
                issuer_assigned_id: opt_str(&r, "issuer_assigned_id")?,
            });
        }
    }
    Ok(())
}

/// Which users to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// Live users only.
    Exclude,
    /// Soft-deleted users only.
    Only,
}

impl Deleted {
    /// The SQL condition.
    pub fn sql(self) -> &'static str {
        match self {
            Deleted::Exclude => "deleted_at IS NULL",
            Deleted::Only => "deleted_at IS NOT NULL",
        }
    }
}

/// Reads a user by id.
pub async fn get(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
    which: Deleted,
) -> Result<Option<User>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2 AND {}", which.sql());
    let row = crate::db::dynamic(q).bind(tenant.to_string()).bind(id.to_string()).fetch_optional(&mut *conn).await?;
    let Some(row) = row else { return Ok(None) };
    let mut users = [from_row(&row)?];
    load_collections(conn, &mut users).await?;
    let [u] = users;
    Ok(Some(u))
}

/// Reads a live user by user principal name (case-insensitive).
pub async fn get_by_upn(conn: &mut AnyConnection, tenant: TenantId, upn: &str) -> Result<Option<User>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND upn_ci = $2 AND deleted_at IS NULL");
    let row = crate::db::dynamic(q).bind(tenant.to_string()).bind(ci(upn)).fetch_optional(&mut *conn).await?;
    let Some(row) = row else { return Ok(None) };
    let mut users = [from_row(&row)?];
    load_collections(conn, &mut users).await?;
    let [u] = users;
    Ok(Some(u))
}

/// Removes a user for good, with memberships and assignments.
pub async fn purge(conn: &mut AnyConnection, tenant: TenantId, id: ObjectId) -> Result<bool, StoreError> {
    let id_s = id.to_string();
    let t = tenant.to_string();
    let done = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
        .bind(&t)
        .bind(&id_s)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    crate::groups::forget_object(conn, tenant, id).await?;
    Ok(true)
}

/// Inserts many users, every property and collection as [`insert`] does, with one statement
/// per chunk of users (bulk seeding and imports).
pub async fn insert_many(conn: &mut AnyConnection, users: &[User]) -> Result<(), StoreError> {
    // Rows per statement, measured (docs/PERFORMANCE.md): through sqlx's Any driver the cost of
    // a statement grows faster than its parameter count, so SQLite is fastest with one cached
    // single-row statement (22.7k users/s against 1.5k with 500 rows) and PostgreSQL with 16 rows,
    // which saves round trips (23.9k users/s; 8.2k with one row).
    let size = if conn.backend_name() == "PostgreSQL" { 16 } else { 1 };
    for chunk in users.chunks(size) {
        let mut q = crate::db::dynamic(insert_sql(chunk.len()));
        for u in chunk {
            q = bind_insert(q, u);
        }
        q.execute(&mut *conn).await.map_err(|e| StoreError::from(e).conflict_as(UPN_TAKEN))?;
    }
    for u in users.iter().filter(|u| !u.other_mails.is_empty() || !u.identities.is_empty()) {
        write_collections(conn, u, false).await?;
    }
    Ok(())
}

/// Reads many live users by id, in the given order (missing ones skipped).
pub async fn get_many(conn: &mut AnyConnection, tenant: TenantId, ids: &[ObjectId]) -> Result<Vec<User>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let ph = crate::db::placeholders(2, ids.len());
    let q = format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND deleted_at IS NULL AND id IN ({})", ph);
    let mut query = crate::db::dynamic(q).bind(tenant.to_string());
    for id in ids {
        query = query.bind(id.to_string());
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let mut found: Vec<User> = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    load_collections(conn, &mut found).await?;
    found.sort_by_key(|u| ids.iter().position(|i| *i == u.id));
    Ok(found)
}

/// The live user a person means when they type `login` on the sign-in page: by user principal
/// name, else by primary mail (only when exactly one user has it).
pub async fn find_for_sign_in(
    conn: &mut AnyConnection,
    tenant: TenantId,
    login: &str,
) -> Result<Option<User>, StoreError> {
    let key = ci(login.trim());
    let q = format!(
        "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND deleted_at IS NULL AND (upn_ci = $2 OR mail_ci = $2) LIMIT 3"
    );
    let rows = crate::db::dynamic(q).bind(tenant.to_string()).bind(key.clone()).fetch_all(&mut *conn).await?;
    let mut found: Vec<User> = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    let pick = match found.iter().position(|u| ci(&u.user_principal_name) == key) {
        Some(i) => Some(found.swap_remove(i)),
        None if found.len() == 1 => found.pop(),
        None => None,
    };
    Ok(pick)
}

/// Sets a user's password hash (and whether it must be changed at next sign-in).
pub async fn set_password(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
    hash: &str,
    force_change: bool,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE users SET password_hash = $3, force_change_password = $4, password_changed_at = $5 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.to_string())
    .bind(id.to_string())
    .bind(hash)
    .bind(i64::from(force_change))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// A user's `userType` (`Member` or `Guest`) by id, soft-deleted users included: one primary-key
/// read, made on every delegated Graph request to know whether the caller is a guest.
pub async fn user_type(conn: &mut AnyConnection, tenant: TenantId, id: ObjectId) -> Result<Option<String>, StoreError> {
    let t: Option<String> = sqlx::query_scalar("SELECT user_type FROM users WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(t)
}
