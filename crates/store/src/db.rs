//! Connecting, migrating, transactions, and the few places where SQLite and PostgreSQL differ.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Any, AnyPool, AssertSqlSafe, Executor, Row, SqlSafeStr};

pub use portico_odata::Dialect;

/// A write transaction.
pub type Tx = sqlx::Transaction<'static, Any>;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist in this tenant.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule would be broken; the text names the property.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database holds a schema newer than this build knows.
    #[error(
        "the database schema is at version {found}, but this Portico knows versions up to {known}; \
         run a newer Portico, or restore a backup taken before the upgrade"
    )]
    SchemaTooNew {
        /// Highest applied version in the database.
        found: i64,
        /// Highest version this build has.
        known: i64,
    },
    /// The database needs `portico migrate`.
    #[error("the database schema is at version {found} but this Portico needs {known}; run `portico migrate`")]
    SchemaBehind {
        /// Highest applied version in the database.
        found: i64,
        /// Highest version this build has.
        known: i64,
    },
    /// Stored data is not what the schema promises (a bug or tampering).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The database URL is not one Portico can use.
    #[error("unsupported database URL (use sqlite://PATH or postgres://...): {0}")]
    BadUrl(String),
    /// A database error.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A migration error.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Maps unique-constraint violations to [`StoreError::Conflict`] with `what` as the message.
    pub fn conflict_as(self, what: &str) -> Self {
        match &self {
            StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                StoreError::Conflict(what.into())
            }
            _ => self,
        }
    }
}

/// Where the schema stands against this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaStatus {
    /// Nothing applied yet.
    Empty,
    /// Applied versions equal the known ones.
    Current(i64),
    /// Some known versions are not applied yet.
    Behind {
        /// Highest applied.
        found: i64,
        /// Highest known.
        known: i64,
    },
    /// The database has versions this build does not know.
    TooNew {
        /// Highest applied.
        found: i64,
        /// Highest known.
        known: i64,
    },
}

/// The store: a connection pool and the engine it talks to.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
}

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "directory", include_str!("../migrations/sqlite/0001_directory.sql")),
    (2, "signin", include_str!("../migrations/sqlite/0002_signin.sql")),
    (3, "b2b", include_str!("../migrations/sqlite/0003_b2b.sql")),
    (4, "federation", include_str!("../migrations/sqlite/0004_federation.sql")),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "directory", include_str!("../migrations/postgres/0001_directory.sql")),
    (2, "signin", include_str!("../migrations/postgres/0002_signin.sql")),
    (3, "b2b", include_str!("../migrations/postgres/0003_b2b.sql")),
    (4, "federation", include_str!("../migrations/postgres/0004_federation.sql")),
];

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc`, `sqlite::memory:`, `postgres://...`).
    /// Does not migrate; see [`Store::migrate`] and [`Store::schema_status`].
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else {
            return Err(StoreError::BadUrl(redact_url(url)));
        };
        let opts = AnyConnectOptions::from_str(url).map_err(|_| StoreError::BadUrl(redact_url(url)))?;
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool_opts = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(10))
            // An in-memory SQLite database lives as long as its one connection.
            .max_connections(match (dialect, memory) {
                (Dialect::Sqlite, true) => 1,
                (Dialect::Sqlite, false) => 8,
                (Dialect::Postgres, _) => 16,
            })
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(if memory { None } else { Some(Duration::from_secs(600)) })
            .max_lifetime(if memory { None } else { Some(Duration::from_secs(1800)) });
        let pool_opts = if dialect == Dialect::Sqlite {
            pool_opts.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                    )
                    .await?;
                    Ok(())
                })
            })
        } else {
            pool_opts
        };
        let pool = pool_opts.connect_with(opts).await?;
        Ok(Store { pool, dialect })
    }

    /// The pool, for reads.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The engine.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Begins a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so two writers queue instead of failing when one upgrades a read lock.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        })
    }

    fn migrator(&self) -> Migrator {
        let list = match self.dialect {
            Dialect::Sqlite => SQLITE_MIGRATIONS,
            Dialect::Postgres => POSTGRES_MIGRATIONS,
        };
        let migrations = list
            .iter()
            .map(|(v, d, sql)| Migration::new(*v, (*d).into(), MigrationType::Simple, sql.into_sql_str(), false))
            .collect();
        Migrator::with_migrations(migrations)
    }

    /// Highest migration version this build knows.
    pub fn known_version(&self) -> i64 {
        SQLITE_MIGRATIONS.len().max(POSTGRES_MIGRATIONS.len()) as i64
    }

    /// Compares the applied migrations with the known ones.
    pub async fn schema_status(&self) -> Result<SchemaStatus, StoreError> {
        let exists: i64 = match self.dialect {
            Dialect::Sqlite => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
                )
                .fetch_one(&self.pool)
                .await?
            }
            Dialect::Postgres => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'",
                )
                .fetch_one(&self.pool)
                .await?
            }
        };
        if exists == 0 {
            return Ok(SchemaStatus::Empty);
        }
        let found: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&self.pool)
            .await?;
        let found = found.unwrap_or(0);
        let known = self.known_version();
        Ok(if found == 0 {
            SchemaStatus::Empty
        } else if found > known {
            SchemaStatus::TooNew { found, known }
        } else if found < known {
            SchemaStatus::Behind { found, known }
        } else {
            SchemaStatus::Current(found)
        })
    }

    /// Applies pending migrations; refuses a schema newer than this build. Returns how many ran.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let before = match self.schema_status().await? {
            SchemaStatus::TooNew { found, known } => return Err(StoreError::SchemaTooNew { found, known }),
            SchemaStatus::Empty => 0,
            SchemaStatus::Current(v) | SchemaStatus::Behind { found: v, .. } => v,
        };
        let mut conn = self.pool.acquire().await?;
        self.migrator().run_direct(None, &mut *conn, false).await?;
        Ok((self.known_version() - before).max(0) as usize)
    }

    /// Fails unless the schema is current (used by `serve` against a shared production database).
    pub async fn require_current(&self) -> Result<(), StoreError> {
        match self.schema_status().await? {
            SchemaStatus::Current(_) => Ok(()),
            SchemaStatus::TooNew { found, known } => Err(StoreError::SchemaTooNew { found, known }),
            SchemaStatus::Behind { found, known } => Err(StoreError::SchemaBehind { found, known }),
            SchemaStatus::Empty => Err(StoreError::SchemaBehind { found: 0, known: self.known_version() }),
        }
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Reads a deployment-wide setting.
    pub async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM deployment_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Writes a deployment-wide setting.
    pub async fn set_setting(&self, tx: &mut Tx, name: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO deployment_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
            .bind(name)
            .bind(value)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// Hides the password in a database URL for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Binds an OData value (booleans are stored as 0/1 on both engines).
pub fn bind_value<'q>(
    q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    v: &portico_odata::Value,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    use portico_odata::Value;
    match v {
        Value::Null => q.bind(None::<String>),
        Value::Bool(b) => q.bind(i64::from(*b)),
        Value::Int(i) => q.bind(*i),
        Value::Text(s) => q.bind(s.clone()),
    }
}

/// A query over dynamic SQL text built only from allow-listed identifiers and `$N` placeholders.
pub fn dynamic(sql: String) -> sqlx::query::Query<'static, Any, sqlx::any::AnyArguments> {
    sqlx::query(AssertSqlSafe(sql))
}

/// `$first, $first+1, ...` for an `IN (...)` list of `n` values.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Reads an optional text column.
pub fn opt_str(row: &AnyRow, col: &str) -> Result<Option<String>, sqlx::Error> {
    row.try_get::<Option<String>, _>(col)
}

/// Reads a 0/1 column as a bool.
pub fn flag(row: &AnyRow, col: &str) -> Result<bool, sqlx::Error> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}

/// Reads a JSON text column.
pub fn json_col(row: &AnyRow, col: &str) -> Result<serde_json::Value, sqlx::Error> {
    let s: String = row.try_get(col)?;
    serde_json::from_str(&s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// Lowercases for `*_ci` columns.
pub fn ci(s: &str) -> String {
    s.to_lowercase()
}

/// Lowercases an optional value.
pub fn ci_opt(s: Option<&str>) -> Option<String> {
    s.map(str::to_lowercase)
}

impl Store {
    /// Live users in a tenant (benchmarks and operators' checks).
    pub async fn count_users(&self, tenant: portico_core::ids::TenantId) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND deleted_at IS NULL")
            .bind(tenant.to_string())
            .fetch_one(&self.pool)
            .await?)
    }

    /// Runs a fixed maintenance statement such as `ANALYZE` (never built from input).
    pub async fn execute_maintenance(&self, sql: &'static str) -> Result<(), StoreError> {
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_from_the_first() {
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
        assert_eq!(placeholders(1, 0), "");
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/x"), "postgres://app:***@db:5432/x");
        assert_eq!(redact_url("sqlite://data/portico.db"), "sqlite://data/portico.db");
    }
}
