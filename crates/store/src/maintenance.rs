//! Upkeep that any server may run at any time (every statement is idempotent).

use sqlx::AnyConnection;

use crate::db::StoreError;

/// Permanently removes users, groups and applications soft-deleted before `cutoff` (ms), with
/// their memberships, ownerships and assignments. Returns how many objects went.
pub async fn purge_deleted_before(conn: &mut AnyConnection, cutoff: i64) -> Result<u64, StoreError> {
    let mut total = 0;
    for (table, links) in
        [("users", true), ("directory_groups", true), ("service_principals", true), ("applications", false)]
    {
        if links {
            for q in [
                "DELETE FROM group_members WHERE member_id IN (SELECT id FROM {t} WHERE deleted_at IS NOT NULL AND deleted_at < $1)",
                "DELETE FROM group_owners WHERE owner_id IN (SELECT id FROM {t} WHERE deleted_at IS NOT NULL AND deleted_at < $1)",
                "DELETE FROM app_role_assignments WHERE principal_id IN (SELECT id FROM {t} WHERE deleted_at IS NOT NULL AND deleted_at < $1) \
                 OR resource_id IN (SELECT id FROM {t} WHERE deleted_at IS NOT NULL AND deleted_at < $1)",
                "DELETE FROM role_assignments WHERE principal_id IN (SELECT id FROM {t} WHERE deleted_at IS NOT NULL AND deleted_at < $1)",
            ] {
                crate::db::dynamic(q.replace("{t}", table)).bind(cutoff).execute(&mut *conn).await?;
            }
        }
        let done = crate::db::dynamic(format!("DELETE FROM {table} WHERE deleted_at IS NOT NULL AND deleted_at < $1"))
            .bind(cutoff)
            .execute(&mut *conn)
            .await?;
        total += done.rows_affected();
    }
    Ok(total)
}
