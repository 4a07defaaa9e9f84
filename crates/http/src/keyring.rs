//! Signing keys: creation, rotation, and a short-lived cache shared by the token endpoint and
//! the API's token validation.
//!
//! Keys live in the store, sealed under the master key, so any number of servers share them. The
//! cache is safe to lose and bounded in staleness (`Settings::key_cache_secs`); an unknown `kid`
//! refreshes it at once, so a rotation made on another server is honoured on the next request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use portico_core::ids::TenantId;
use portico_core::jws::{self, Alg, Jwk, Signer};
use portico_core::sealed::MasterKey;
use portico_store::{Store, StoreError, Tx, keys};

/// Errors of the key ring.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key could not be generated, opened or loaded.
    #[error("signing key problem: {0}")]
    Key(String),
    /// The tenant has no active key.
    #[error("the tenant has no active signing key")]
    NoKey,
}

/// Creates a key, seals it, stores it as the tenant's active key (retiring the previous one,
/// which stays published for `keep_published_ms`). Returns the new kid.
pub async fn create_active_key(
    tx: &mut Tx,
    master: &MasterKey,
    tenant: TenantId,
    alg: Alg,
    now_ms: i64,
    keep_published_ms: i64,
) -> Result<String, KeyError> {
    let der = jws::generate_pkcs8(alg).map_err(|e| KeyError::Key(e.to_string()))?;
    let kid = portico_core::secret::random_token(16);
    let signer = Signer::from_pkcs8(kid.clone(), alg, &der).map_err(|e| KeyError::Key(e.to_string()))?;
    let jwk = serde_json::to_string(&signer.public_jwk()).map_err(|e| KeyError::Key(e.to_string()))?;
    keys::retire_active(tx, tenant, now_ms, now_ms + keep_published_ms).await?;
    keys::insert(
        tx,
        &keys::SigningKey {
            kid: kid.clone(),
            tenant_id: tenant,
            alg: alg.as_str().into(),
            sealed_private_key: master.seal(&der, &kid),
            public_jwk: jwk,
            created_at: now_ms,
            active: true,
            retired_at: None,
            expires_at: None,
        },
    )
    .await?;
    Ok(kid)
}

/// A forced refresh reuses an entry younger than this, so tokens with unknown key ids cannot
/// make every request read the store.
const FRESH_ENOUGH: Duration = Duration::from_secs(1);

/// Tenants whose keys one server keeps cached; past this, expired entries go first, then all.
const MAX_CACHED_TENANTS: usize = 20_000;

fn insert_bounded<T>(map: &mut HashMap<TenantId, Cached<T>>, tenant: TenantId, value: T, ttl: Duration) {
    if map.len() >= MAX_CACHED_TENANTS && !map.contains_key(&tenant) {
        map.retain(|_, c| c.at.elapsed() < ttl);
        if map.len() >= MAX_CACHED_TENANTS {
            map.clear();
        }
    }
    map.insert(tenant, Cached { at: Instant::now(), value });
}

struct Cached<T> {
    at: Instant,
    value: T,
}

/// Cache of signers and published keys per tenant.
pub struct KeyRing {
    master: MasterKey,
    alg: Alg,
    ttl: Duration,
    signers: RwLock<HashMap<TenantId, Cached<Arc<Signer>>>>,
    published: RwLock<HashMap<TenantId, Cached<Arc<Vec<Jwk>>>>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("ttl", &self.ttl).finish()
    }
}

impl KeyRing {
    /// A ring over the store's keys.
    pub fn new(master: MasterKey, ttl: Duration) -> Self {
        Self { master, alg: Alg::RS256, ttl, signers: RwLock::default(), published: RwLock::default() }
    }

    /// Sets the algorithm of keys this ring creates.
    pub fn with_alg(mut self, alg: Alg) -> Self {
        self.alg = alg;
        self
    }

    /// The master key.
    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    /// The signer of the tenant's active key.
    pub async fn signer(&self, store: &Store, tenant: TenantId) -> Result<Arc<Signer>, KeyError> {
        if let Ok(map) = self.signers.read()
            && let Some(c) = map.get(&tenant)
            && c.at.elapsed() < self.ttl
        {
            return Ok(c.value.clone());
        }
        let row = match keys::active(store, tenant).await? {
            Some(row) => row,
            None => self.create_first_key(store, tenant).await?,
        };
        let der = self.master.open(&row.sealed_private_key, &row.kid).map_err(|e| KeyError::Key(e.to_string()))?;
        let alg = Alg::parse(&row.alg).ok_or_else(|| KeyError::Key(format!("unknown algorithm {}", row.alg)))?;
        let signer = Arc::new(Signer::from_pkcs8(row.kid, alg, &der).map_err(|e| KeyError::Key(e.to_string()))?);
        if let Ok(mut map) = self.signers.write() {
            insert_bounded(&mut map, tenant, signer.clone(), self.ttl);
        }
        Ok(signer)
    }

    /// A tenant's first key is made when it is first needed (its first token or JWKS request),
    /// so creating a tenant costs no RSA key generation. Another server may have made it
    /// meanwhile: the write lock (SQLite) or a second look (PostgreSQL) keeps that to one key in
    /// practice, and two would both be valid and published.
    async fn create_first_key(&self, store: &Store, tenant: TenantId) -> Result<keys::SigningKey, KeyError> {
        let mut tx = store.begin().await?;
        if !keys::has_active(&mut tx, tenant).await? {
            let now = portico_core::clock::to_millis(time::OffsetDateTime::now_utc());
            create_active_key(&mut tx, &self.master, tenant, self.alg, now, 0).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        if let Ok(mut m) = self.published.write() {
            m.remove(&tenant);
        }
        keys::active(store, tenant).await?.ok_or(KeyError::NoKey)
    }

    /// The tenant's published keys; `fresh` bypasses the cache unless it was filled within the
    /// last second.
    pub async fn published(
        &self,
        store: &Store,
        tenant: TenantId,
        now_ms: i64,
        fresh: bool,
    ) -> Result<Arc<Vec<Jwk>>, KeyError> {
        let max_age = if fresh { FRESH_ENOUGH } else { self.ttl };
        if let Ok(map) = self.published.read()
            && let Some(c) = map.get(&tenant)
            && c.at.elapsed() < max_age
        {
            return Ok(c.value.clone());
        }
        let rows = keys::published(store, tenant, now_ms).await?;
        let jwks: Vec<Jwk> = rows.iter().filter_map(|r| serde_json::from_str(&r.public_jwk).ok()).collect();
        let jwks = Arc::new(jwks);
        if let Ok(mut map) = self.published.write() {
            insert_bounded(&mut map, tenant, jwks.clone(), self.ttl);
        }
        Ok(jwks)
    }

    /// How many tenants have cached entries (signers, published key sets).
    pub fn cached_tenants(&self) -> (usize, usize) {
        (self.signers.read().map_or(0, |m| m.len()), self.published.read().map_or(0, |m| m.len()))
    }

    /// Forgets what is cached for a tenant (after a rotation on this server).
    pub fn invalidate(&self, tenant: TenantId) {
        if let Ok(mut m) = self.signers.write() {
            m.remove(&tenant);
        }
        if let Ok(mut m) = self.published.write() {
            m.remove(&tenant);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_never_grows_past_its_bound() {
        let mut map = HashMap::new();
        for _ in 0..MAX_CACHED_TENANTS + 10 {
            insert_bounded(&mut map, TenantId::new(), (), Duration::from_secs(30));
        }
        assert!(map.len() <= MAX_CACHED_TENANTS);
        assert!(!map.is_empty());
    }
}
