//! Groups, their members and owners, and the directory-object lookups membership needs.

use portico_core::ids::{ObjectId, TenantId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{StoreError, ci, flag, json_col, opt_str};

/// A group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Object id.
    pub id: ObjectId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Name.
    pub display_name: String,
    /// Description.
    pub description: Option<String>,
    /// Mail alias.
    pub mail_nickname: String,
    /// Mail-enabled.
    pub mail_enabled: bool,
    /// Security group.
    pub security_enabled: bool,
    /// `Unified`, `DynamicMembership`.
    pub group_types: Vec<String>,
    /// Public, Private, HiddenMembership.
    pub visibility: Option<String>,
    /// Can be assigned directory roles.
    pub is_assignable_to_role: bool,
    /// Created at (ms).
    pub created_at: i64,
    /// Soft-deleted at (ms).
    pub deleted_at: Option<i64>,
}

/// The kinds of directory object that can be members and owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// microsoft.graph.user
    User,
    /// microsoft.graph.group
    Group,
    /// microsoft.graph.servicePrincipal
    ServicePrincipal,
}

impl ObjectKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::User => "user",
            ObjectKind::Group => "group",
            ObjectKind::ServicePrincipal => "servicePrincipal",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(ObjectKind::User),
            "group" => Some(ObjectKind::Group),
            "servicePrincipal" => Some(ObjectKind::ServicePrincipal),
            _ => None,
        }
    }
}

/// The select list for groups.
pub const COLUMNS: &str = "id, tenant_id, display_name, description, mail_nickname, mail_enabled, security_enabled, group_types, \
    visibility, is_assignable_to_role, created_at, deleted_at";

/// Maps a row of [`COLUMNS`].
pub fn from_row(r: &AnyRow) -> Result<Group, sqlx::Error> {
    let id: String = r.try_get("id")?;
    let tid: String = r.try_get("tenant_id")?;
    Ok(Group {
        id: ObjectId::parse(&id).ok_or_else(|| sqlx::Error::Decode("bad group id".into()))?,
        tenant_id: TenantId::parse(&tid).ok_or_else(|| sqlx::Error::Decode("bad tenant id".into()))?,
        display_name: r.try_get("display_name")?,
        description: opt_str(r, "description")?,
        mail_nickname: r.try_get("mail_nickname")?,
        mail_enabled: flag(r, "mail_enabled")?,
        security_enabled: flag(r, "security_enabled")?,
        group_types: serde_json::from_value(json_col(r, "group_types")?).unwrap_or_default(),
        visibility: opt_str(r, "visibility")?,
        is_assignable_to_role: flag(r, "is_assignable_to_role")?,
        created_at: r.try_get("created_at")?,
        deleted_at: r.try_get("deleted_at")?,
    })
}

/// Inserts a group.
pub async fn insert(conn: &mut AnyConnection, g: &Group) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO directory_groups (id, tenant_id, display_name, display_name_ci, description, mail_nickname, mail_nickname_ci, \
         mail_enabled, security_enabled, group_types, visibility, is_assignable_to_role, created_at, deleted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(g.id.to_string())
    .bind(g.tenant_id.to_string())
    .bind(&g.display_name)
    .bind(ci(&g.display_name))
    .bind(&g.description)
    .bind(&g.mail_nickname)
    .bind(ci(&g.mail_nickname))
    .bind(i64::from(g.mail_enabled))
    .bind(i64::from(g.security_enabled))
    .bind(serde_json::to_string(&g.group_types).unwrap_or_else(|_| "[]".into()))
    .bind(&g.visibility)
    .bind(i64::from(g.is_assignable_to_role))
    .bind(g.created_at)
    .bind(g.deleted_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes every property of an existing group.
pub async fn update(conn: &mut AnyConnection, g: &Group) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE directory_groups SET display_name = $3, display_name_ci = $4, description = $5, mail_nickname = $6, \
         mail_nickname_ci = $7, mail_enabled = $8, security_enabled = $9, group_types = $10, visibility = $11, \
         is_assignable_to_role = $12, deleted_at = $13 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(g.tenant_id.to_string())
    .bind(g.id.to_string())
    .bind(&g.display_name)
    .bind(ci(&g.display_name))
    .bind(&g.description)
    .bind(&g.mail_nickname)
    .bind(ci(&g.mail_nickname))
    .bind(i64::from(g.mail_enabled))
    .bind(i64::from(g.security_enabled))
    .bind(serde_json::to_string(&g.group_types).unwrap_or_else(|_| "[]".into()))
    .bind(&g.visibility)
    .bind(i64::from(g.is_assignable_to_role))
    .bind(g.deleted_at)
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Reads a group (live, or soft-deleted when `deleted`).
pub async fn get(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
    deleted: bool,
) -> Result<Option<Group>, StoreError> {
    let cond = if deleted { "deleted_at IS NOT NULL" } else { "deleted_at IS NULL" };
    let q = format!("SELECT {COLUMNS} FROM directory_groups WHERE tenant_id = $1 AND id = $2 AND {cond}");
    let row = crate::db::dynamic(q).bind(tenant.to_string()).bind(id.to_string()).fetch_optional(conn).await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Removes a group for good.
pub async fn purge(conn: &mut AnyConnection, tenant: TenantId, id: ObjectId) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM directory_groups WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    forget_object(conn, tenant, id).await?;
    Ok(true)
}

/// Removes an object from every group it belongs to or owns, and its assignments
/// (called when the object is purged).
pub async fn forget_object(conn: &mut AnyConnection, tenant: TenantId, id: ObjectId) -> Result<(), StoreError> {
    let id = id.to_string();
    let t = tenant.to_string();
    sqlx::query("DELETE FROM group_members WHERE member_id = $1").bind(&id).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM group_owners WHERE owner_id = $1").bind(&id).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM app_role_assignments WHERE tenant_id = $1 AND (principal_id = $2 OR resource_id = $2)")
        .bind(&t)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM role_assignments WHERE tenant_id = $1 AND principal_id = $2")
        .bind(&t)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Finds what kind of live directory object `id` is in this tenant.
pub async fn resolve_object(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
) -> Result<Option<ObjectKind>, StoreError> {
    let kind: Option<String> = sqlx::query_scalar(
        "SELECT 'user' FROM users WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL \
         UNION ALL SELECT 'group' FROM directory_groups WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL \
         UNION ALL SELECT 'servicePrincipal' FROM service_principals WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
    )
    .bind(tenant.to_string())
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(kind.as_deref().and_then(ObjectKind::parse))
}

/// Which relation: members or owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// group_members
    Members,
    /// group_owners
    Owners,
}

impl Relation {
    fn table(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Relation::Members => ("group_members", "member_id", "member_type"),
            Relation::Owners => ("group_owners", "owner_id", "owner_type"),
        }
    }
}

/// Adds a link; returns false when it already exists.
pub async fn add_link(
    conn: &mut AnyConnection,
    rel: Relation,
    group: ObjectId,
    object: ObjectId,
    kind: ObjectKind,
) -> Result<bool, StoreError> {
    let (t, idc, kc) = rel.table();
    let q = format!("INSERT INTO {t} (group_id, {idc}, {kc}) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
    let done = crate::db::dynamic(q)
        .bind(group.to_string())
        .bind(object.to_string())
        .bind(kind.as_str().to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Removes a link; returns whether it existed.
pub async fn remove_link(
    conn: &mut AnyConnection,
    rel: Relation,
    group: ObjectId,
    object: ObjectId,
) -> Result<bool, StoreError> {
    let (t, idc, _) = rel.table();
    let q = format!("DELETE FROM {t} WHERE group_id = $1 AND {idc} = $2");
    let done = crate::db::dynamic(q).bind(group.to_string()).bind(object.to_string()).execute(conn).await?;
    Ok(done.rows_affected() > 0)
}

/// How many links of a relation a group has.
pub async fn count_links(conn: &mut AnyConnection, rel: Relation, group: ObjectId) -> Result<i64, StoreError> {
    let (t, _, _) = rel.table();
    let q = format!("SELECT COUNT(*) FROM {t} WHERE group_id = $1");
    let row = crate::db::dynamic(q).bind(group.to_string()).fetch_one(conn).await?;
    Ok(row.try_get::<i64, _>(0)?)
}

/// Direct links of a group, ordered by object id.
pub async fn links(
    conn: &mut AnyConnection,
    rel: Relation,
    group: ObjectId,
) -> Result<Vec<(ObjectId, ObjectKind)>, StoreError> {
    let (t, idc, kc) = rel.table();
    let q = format!("SELECT {idc} AS oid, {kc} AS kind FROM {t} WHERE group_id = $1 ORDER BY {idc}");
    let rows = crate::db::dynamic(q).bind(group.to_string()).fetch_all(conn).await?;
    rows.iter().map(link_from_row).collect()
}

fn link_from_row(r: &AnyRow) -> Result<(ObjectId, ObjectKind), StoreError> {
    let id: String = r.try_get("oid")?;
    let kind: String = r.try_get("kind")?;
    Ok((
        ObjectId::parse(&id).ok_or_else(|| StoreError::Corrupt(format!("member id {id}")))?,
        ObjectKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("member kind {kind}")))?,
    ))
}

/// Every member of a group and of the groups nested in it (cycles are harmless: UNION).
pub async fn transitive_members(
    conn: &mut AnyConnection,
    group: ObjectId,
) -> Result<Vec<(ObjectId, ObjectKind)>, StoreError> {
    let rows = sqlx::query(
        "WITH RECURSIVE m(oid, kind) AS ( \
           SELECT member_id, member_type FROM group_members WHERE group_id = $1 \
           UNION SELECT gm.member_id, gm.member_type FROM group_members gm JOIN m ON gm.group_id = m.oid AND m.kind = 'group' \
             JOIN directory_groups d ON d.id = m.oid AND d.deleted_at IS NULL \
         ) SELECT oid, kind FROM m WHERE oid <> $1 ORDER BY oid",
    )
    .bind(group.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(link_from_row).collect()
}

/// Groups an object is a direct member of.
pub async fn member_of(
    conn: &mut AnyConnection,
    tenant: TenantId,
    object: ObjectId,
) -> Result<Vec<ObjectId>, StoreError> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT gm.group_id FROM group_members gm JOIN directory_groups g ON g.id = gm.group_id \
         WHERE gm.member_id = $1 AND g.tenant_id = $2 AND g.deleted_at IS NULL ORDER BY gm.group_id",
    )
    .bind(object.to_string())
    .bind(tenant.to_string())
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().filter_map(|s| ObjectId::parse(s)).collect())
}

/// Groups an object belongs to directly or through nesting.
pub async fn transitive_member_of(
    conn: &mut AnyConnection,
    tenant: TenantId,
    object: ObjectId,
) -> Result<Vec<ObjectId>, StoreError> {
    let rows: Vec<String> = sqlx::query_scalar(
        "WITH RECURSIVE g(gid) AS ( \
           SELECT group_id FROM group_members WHERE member_id = $1 \
           UNION SELECT gm.group_id FROM group_members gm JOIN g ON gm.member_id = g.gid \
             JOIN directory_groups d ON d.id = g.gid AND d.deleted_at IS NULL \
         ) SELECT g.gid FROM g JOIN directory_groups d ON d.id = g.gid \
           WHERE d.tenant_id = $2 AND d.deleted_at IS NULL AND g.gid <> $1 ORDER BY g.gid",
    )
    .bind(object.to_string())
    .bind(tenant.to_string())
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().filter_map(|s| ObjectId::parse(s)).collect())
}

/// Groups owned by an object.
pub async fn owned_groups(
    conn: &mut AnyConnection,
    tenant: TenantId,
    object: ObjectId,
) -> Result<Vec<ObjectId>, StoreError> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT o.group_id FROM group_owners o JOIN directory_groups g ON g.id = o.group_id \
         WHERE o.owner_id = $1 AND g.tenant_id = $2 AND g.deleted_at IS NULL ORDER BY o.group_id",
    )
    .bind(object.to_string())
    .bind(tenant.to_string())
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().filter_map(|s| ObjectId::parse(s)).collect())
}

/// Reads many live groups by id, in the given order (missing ones skipped).
pub async fn get_many(conn: &mut AnyConnection, tenant: TenantId, ids: &[ObjectId]) -> Result<Vec<Group>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let ph = crate::db::placeholders(2, ids.len());
    let q = format!(
        "SELECT {COLUMNS} FROM directory_groups WHERE tenant_id = $1 AND deleted_at IS NULL AND id IN ({})",
        ph
    );
    let mut query = crate::db::dynamic(q).bind(tenant.to_string());
    for id in ids {
        query = query.bind(id.to_string());
    }
    let rows = query.fetch_all(conn).await?;
    let mut found: Vec<Group> = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    found.sort_by_key(|g| ids.iter().position(|i| *i == g.id));
    Ok(found)
}
