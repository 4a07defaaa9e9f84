//! The storage contract of federation (`portico_store::federation`), on both engines: providers
//! per tenant with unique issuers, domain routing for home-realm discovery, and the shared SAML
//! replay cache.

use portico_store::Store;
use portico_store::StoreError;
use portico_store::federation::{self as fed, IdentityProvider, kind};
use serde_json::json;

use crate::common::*;

fn provider(tenant: portico_core::ids::TenantId, id: &str, issuer: &str) -> IdentityProvider {
    IdentityProvider {
        id: id.into(),
        tenant_id: tenant,
        kind: kind::OIDC.into(),
        display_name: format!("IdP {id}"),
        issuer: issuer.into(),
        config: json!({"clientId": "rp", "scopes": ["openid", "email"]}),
        secret: Some("sealed-secret".into()),
        created_at: NOW,
        updated_at: NOW,
    }
}

pub async fn identity_providers_are_per_tenant_with_one_issuer_each(store: Store) {
    let t1 = add_tenant(&store, "Fed One").await;
    let t2 = add_tenant(&store, "Fed Two").await;
    let mut c = conn(&store).await;
    let a = provider(t1, "OIDC-a", "https://idp.partner.test");
    fed::insert(&mut c, &a).await.unwrap();
    // The same issuer in another tenant is another provider.
    fed::insert(&mut c, &provider(t2, "OIDC-b", "https://idp.partner.test")).await.unwrap();
    // Ids are per tenant (every tenant may have its own `Google-OAUTH`).
    fed::insert(&mut c, &provider(t2, "Google-OAUTH", "https://accounts.google.com")).await.unwrap();
    fed::insert(&mut c, &provider(t1, "Google-OAUTH", "https://accounts.google.com")).await.unwrap();
    assert!(fed::delete(&mut c, t1, "Google-OAUTH").await.unwrap());
    assert!(fed::get(&mut c, t2, "Google-OAUTH").await.unwrap().is_some());
    // The same issuer twice in one tenant is refused (identities are keyed on issuer + subject).
    let dup = fed::insert(&mut c, &provider(t1, "OIDC-c", "https://idp.partner.test")).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(_)), "{dup:?}");
    assert_eq!(fed::get(&mut c, t1, "oidc-A").await.unwrap().as_ref(), Some(&a), "ids compare case-insensitively");
    assert_eq!(fed::get(&mut c, t2, "OIDC-a").await.unwrap(), None, "another tenant's provider is not visible");
    assert_eq!(
        fed::by_issuer(&mut c, t1, "https://idp.partner.test").await.unwrap().map(|p| p.id),
        Some("OIDC-a".into())
    );
    let mut saml = provider(t1, "5d0c4b3a-1111-4111-8111-000000000001", "urn:partner:idp");
    saml.kind = kind::SAML.into();
    saml.secret = None;
    saml.created_at = NOW + 1;
    fed::insert(&mut c, &saml).await.unwrap();
    let ids = |v: Vec<IdentityProvider>| v.into_iter().map(|p| p.id).collect::<Vec<_>>();
    assert_eq!(ids(fed::list(&mut c, t1, None).await.unwrap()), vec!["OIDC-a".to_string(), saml.id.clone()]);
    assert_eq!(ids(fed::list(&mut c, t1, Some(kind::SAML)).await.unwrap()), vec![saml.id.clone()]);
    assert_eq!(ids(fed::all_of_kind(&mut c, kind::SAML).await.unwrap()), vec![saml.id.clone()]);

    let mut changed = a.clone();
    changed.display_name = "Renamed".into();
    changed.config = json!({"clientId": "rp2"});
    changed.secret = None;
    changed.updated_at = NOW + 5;
    assert!(fed::update(&mut c, &changed).await.unwrap());
    assert_eq!(fed::get(&mut c, t1, "OIDC-a").await.unwrap(), Some(changed.clone()));
    let mut clash = changed.clone();
    clash.issuer = "urn:partner:idp".into();
    assert!(matches!(fed::update(&mut c, &clash).await.unwrap_err(), StoreError::Conflict(_)));
    let mut missing = changed.clone();
    missing.id = "OIDC-zzz".into();
    assert!(!fed::update(&mut c, &missing).await.unwrap());

    assert!(fed::delete(&mut c, t1, "OIDC-a").await.unwrap());
    assert!(!fed::delete(&mut c, t1, "OIDC-a").await.unwrap());
    assert!(fed::get(&mut c, t2, "OIDC-b").await.unwrap().is_some(), "the other tenant's provider stays");
}

pub async fn email_domains_route_to_one_provider_per_tenant(store: Store) {
    let t1 = add_tenant(&store, "Hrd One").await;
    let t2 = add_tenant(&store, "Hrd Two").await;
    let mut c = conn(&store).await;
    fed::insert(&mut c, &provider(t1, "OIDC-a", "https://a.test")).await.unwrap();
    fed::insert(&mut c, &provider(t1, "OIDC-b", "https://b.test")).await.unwrap();
    fed::insert(&mut c, &provider(t2, "OIDC-a2", "https://a.test")).await.unwrap();
    fed::add_domain(&mut c, t1, "OIDC-a", "Partner.TEST", NOW).await.unwrap();
    fed::add_domain(&mut c, t1, "OIDC-a", "sub.partner.test", NOW).await.unwrap();
    let taken = fed::add_domain(&mut c, t1, "OIDC-b", "partner.test", NOW).await.unwrap_err();
    assert!(matches!(taken, StoreError::Conflict(_)), "a domain routes to one provider: {taken:?}");
    fed::add_domain(&mut c, t2, "OIDC-a2", "partner.test", NOW).await.unwrap();
    assert_eq!(fed::domains(&mut c, t1, "OIDC-a").await.unwrap(), vec!["partner.test", "sub.partner.test"]);
    let routed = fed::provider_for_domain(&mut c, t1, "PARTNER.test").await.unwrap().expect("routed");
    assert_eq!(routed.id, "OIDC-a");
    assert_eq!(
        fed::provider_for_domain(&mut c, t2, "partner.test").await.unwrap().map(|p| p.id),
        Some("OIDC-a2".into())
    );
    assert_eq!(fed::provider_for_domain(&mut c, t1, "other.test").await.unwrap(), None);
    assert!(fed::remove_domain(&mut c, t1, "OIDC-a", "sub.partner.test").await.unwrap());
    assert!(!fed::remove_domain(&mut c, t1, "OIDC-b", "partner.test").await.unwrap(), "not that provider's domain");
    // Deleting a provider deletes its routes.
    assert!(fed::delete(&mut c, t1, "OIDC-a").await.unwrap());
    assert_eq!(fed::provider_for_domain(&mut c, t1, "partner.test").await.unwrap(), None);
    fed::add_domain(&mut c, t1, "OIDC-b", "partner.test", NOW).await.unwrap();
}

pub async fn a_saml_assertion_is_accepted_once_until_it_expires(store: Store) {
    let mut c = conn(&store).await;
    assert!(fed::first_use_of_assertion(&mut c, "urn:idp", "_a1", NOW + 60_000).await.unwrap());
    assert!(!fed::first_use_of_assertion(&mut c, "urn:idp", "_a1", NOW + 60_000).await.unwrap(), "a replay");
    assert!(fed::first_use_of_assertion(&mut c, "urn:other", "_a1", NOW + 60_000).await.unwrap(), "ids are per issuer");
    // Two servers racing on one assertion: exactly one wins.
    let (s1, s2) = (store.clone(), store.clone());
    let race = |s: Store| async move {
        let mut c = conn(&s).await;
        fed::first_use_of_assertion(&mut c, "urn:idp", "_race", NOW + 60_000).await.unwrap()
    };
    let (x, y) = tokio::join!(race(s1), race(s2));
    assert!(x ^ y, "one of two concurrent uses wins ({x}, {y})");
    assert_eq!(fed::purge_seen_assertions(&mut c, NOW + 59_999).await.unwrap(), 0);
    assert_eq!(fed::purge_seen_assertions(&mut c, NOW + 60_000).await.unwrap(), 3);
    assert!(fed::first_use_of_assertion(&mut c, "urn:idp", "_a1", NOW + 120_000).await.unwrap());
}
