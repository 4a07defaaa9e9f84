//! The storage contract of interactive sign-in state (flows, sessions, grants, codes, refresh
//! tokens, consent, second factors, throttling, the sign-in log), on both engines.

use portico_core::ids::ObjectId;
use portico_store::signin::{self, AuthorizationCode, Grant, LoginFlow, Redeemed, RefreshToken, Session};
use portico_store::signins::{self, SignIn};
use portico_store::{Store, consent, mfa, throttle};
use serde_json::json;

use crate::common::*;

fn flow(tenant: portico_core::ids::TenantId, id: &str, expires_at: i64) -> LoginFlow {
    LoginFlow {
        id: id.into(),
        tenant_id: tenant,
        browser_digest: "b".into(),
        csrf: "c".into(),
        request: json!({"client_id": "x"}),
        user_id: None,
        login_name: Some("a@b.test".into()),
        stage: "identify".into(),
        amr: vec![],
        auth_time: None,
        session_id: None,
        created_at: 1,
        expires_at,
    }
}

fn grant(tenant: portico_core::ids::TenantId, user: ObjectId, session: Option<&str>, expires_at: i64) -> Grant {
    Grant {
        id: ObjectId::new(),
        tenant_id: tenant,
        client_id: "c".into(),
        user_id: user,
        session_id: session.map(str::to_owned),
        scopes: "openid offline_access".into(),
        resource: "https://graph.microsoft.com".into(),
        amr: vec!["pwd".into()],
        auth_time: 1,
        public_client: false,
        created_at: 1,
        expires_at,
        revoked_at: None,
        revoked_reason: None,
    }
}

fn session(tenant: portico_core::ids::TenantId, user: ObjectId, digest: &str, expires_at: i64) -> Session {
    Session {
        id: ObjectId::new().to_string(),
        token_digest: digest.into(),
        tenant_id: tenant,
        user_id: user,
        csrf: "c".into(),
        auth_time: 1,
        amr: vec!["pwd".into()],
        persistent: false,
        ip_address: Some("127.0.0.1".into()),
        user_agent: None,
        created_at: 1,
        last_seen_at: 1,
        expires_at,
        revoked_at: None,
    }
}

pub async fn a_flow_round_trips_and_expires(store: Store) {
    let t = add_tenant(&store, "Contoso").await;
    let other = add_tenant(&store, "Fabrikam").await;
    let mut c = conn(&store).await;
    let mut f = flow(t, "flow-1", 1000);
    signin::insert_flow(&mut c, &f).await.unwrap();
    assert_eq!(signin::get_flow(&mut c, t, "flow-1", 10).await.unwrap(), Some(f.clone()));
    assert_eq!(signin::get_flow(&mut c, other, "flow-1", 10).await.unwrap(), None, "another tenant's flow");
    assert_eq!(signin::get_flow(&mut c, t, "flow-1", 1000).await.unwrap(), None, "expired");
    f.stage = "password".into();
    f.amr = vec!["pwd".into()];
    signin::update_flow(&mut c, &f).await.unwrap();
    assert_eq!(signin::get_flow(&mut c, t, "flow-1", 10).await.unwrap().unwrap().amr, vec!["pwd".to_string()]);
    signin::delete_flow(&mut c, t, "flow-1").await.unwrap();
    assert_eq!(signin::get_flow(&mut c, t, "flow-1", 10).await.unwrap(), None);
}

pub async fn a_session_is_found_by_digest_until_revoked_or_expired(store: Store) {
    let t = add_tenant(&store, "Contoso").await;
    let u = add_user(&store, t, "ada").await;
    let mut c = conn(&store).await;
    let s = session(t, u.id, "digest-1", 1000);
    signin::insert_session(&mut c, &s).await.unwrap();
    assert_eq!(signin::session_by_digest(&mut c, t, "digest-1", 10).await.unwrap(), Some(s.clone()));
    assert_eq!(signin::session_by_digest(&mut c, t, "digest-1", 1000).await.unwrap(), None, "expired");
    let g = grant(t, u.id, Some(&s.id), 10_000);
    signin::insert_grant(&mut c, &g).await.unwrap();
    assert!(signin::revoke_session(&mut c, t, &s.id, 20, "signed out").await.unwrap());
    assert!(!signin::revoke_session(&mut c, t, &s.id, 21, "again").await.unwrap(), "already revoked");
    assert_eq!(signin::session_by_digest(&mut c, t, "digest-1", 10).await.unwrap(), None);
    assert!(!signin::grant_is_live(&mut c, t, g.id, 30).await.unwrap(), "the session's grants end with it");
}

pub async fn a_code_is_spent_once_and_a_second_use_is_a_replay(store: Store) {
    let t = add_tenant(&store, "Contoso").await;
    let other = add_tenant(&store, "Fabrikam").await;
    let u = add_user(&store, t, "ada").await;
    let mut c = conn(&store).await;
    let g = grant(t, u.id, None, 10_000);
    signin::insert_grant(&mut c, &g).await.unwrap();
    let code = AuthorizationCode {
        digest: "code-1".into(),
        grant_id: g.id,
        tenant_id: t,
        redirect_uri: "https://app.test/cb".into(),
        code_challenge: "x".repeat(43),
        nonce: Some("n".into()),
        created_at: 1,
        expires_at: 600,
        used_at: None,
    };
    signin::insert_code(&mut c, &code).await.unwrap();
    assert_eq!(signin::redeem_code(&mut c, other, "code-1", 5).await.unwrap(), Redeemed::Unknown);
    match signin::redeem_code(&mut c, t, "code-1", 5).await.unwrap() {
        Redeemed::Fresh(found) => assert_eq!(found, code),
        other => panic!("first use: {other:?}"),
    }
    assert!(matches!(signin::redeem_code(&mut c, t, "code-1", 6).await.unwrap(), Redeemed::Replayed(_)));
    assert!(signin::revoke_grant(&mut c, t, g.id, 7, "replay").await.unwrap());
    let back = signin::get_grant(&mut c, t, g.id).await.unwrap().unwrap();
    assert_eq!((back.revoked_at, back.revoked_reason.as_deref()), (Some(7), Some("replay")));
}

pub async fn refresh_tokens_rotate_and_revoking_a_user_ends_every_grant(store: Store) {
    let t = add_tenant(&store, "Contoso").await;
    let u = add_user(&store, t, "ada").await;
    let mut c = conn(&store).await;
    let g = grant(t, u.id, None, 10_000);
    signin::insert_grant(&mut c, &g).await.unwrap();
    let rt = RefreshToken {
        digest: "rt-1".into(),
        grant_id: g.id,
        tenant_id: t,
        created_at: 1,
        expires_at: 500,
        used_at: None,
    };
    signin::insert_refresh(&mut c, &rt).await.unwrap();
    assert!(matches!(signin::redeem_refresh(&mut c, t, "rt-1", 2).await.unwrap(), Redeemed::Fresh(_)));
    assert!(matches!(signin::redeem_refresh(&mut c, t, "rt-1", 3).await.unwrap(), Redeemed::Replayed(_)));
    assert_eq!(signin::redeem_refresh(&mut c, t, "rt-unknown", 3).await.unwrap(), Redeemed::Unknown);
    let s = session(t, u.id, "d", 10_000);
    signin::insert_session(&mut c, &s).await.unwrap();
    assert!(signin::grant_is_live(&mut c, t, g.id, 4).await.unwrap());
    assert!(!signin::grant_is_live(&mut c, t, g.id, 10_000).await.unwrap(), "past its absolute end");
    let (sessions, grants) = signin::revoke_user(&mut c, t, u.id, 5, "revokeSignInSessions").await.unwrap();
    assert_eq!((sessions, grants), (1, 1));
    assert!(!signin::grant_is_live(&mut c, t, g.id, 6).await.unwrap());
}

pub async fn consent_grants_apply_per_user_and_tenant_wide(store: Store) {
    let t = add_tenant(&store, "Contoso").await;
    let ada = add_user(&store, t, "ada").await;
    let bob = add_user(&store, t, "bob").await;
    let (client, resource) = (ObjectId::new(), ObjectId::new());
    let mut c = conn(&store).await;
    let mine = consent::PermissionGrant {
        id: "g1".into(),
        tenant_id: t,
        client_id: client,
        consent_type: "Principal".into(),
        principal_id: Some(ada.id),
        resource_id: resource,
        scope: "User.Read".into(),
        created_at: 1,
    };
    consent::insert(&mut c, &mine).await.unwrap();
    let dup = consent::PermissionGrant { id: "g2".into(), ..mine.clone() };
    assert!(matches!(consent::insert(&mut c, &dup).await, Err(portico_store::StoreError::Conflict(_))));
    assert_eq!(consent::applicable(&mut c, t, client, resource, ada.id).await.unwrap(), vec![mine.clone()]);
    assert!(consent::applicable(&mut c, t, client, resource, bob.id).await.unwrap().is_empty());
    let all = consent::PermissionGrant {
        id: "g3".into(),
        consent_type: "AllPrincipals".into(),
        principal_id: None,
        scope: "openid".into(),
        ..mine.clone()
    };
    consent::insert(&mut c, &all).await.unwrap();
    assert_eq!(consent::applicable(&mut c, t, client, resource, bob.id).await.unwrap(), vec![all.clone()]);
    assert_eq!(consent::find(&mut c, t, client, resource, None).await.unwrap(), Some(all));
    assert!(consent::set_scope(&mut c, t, "g1", "User.Read email").await.unwrap());
    assert_eq!(consent::get(&mut c, t, "g1").await.unwrap().unwrap().scope, "User.Read email");
    assert!(consent::delete(&mut c, t, "g1").await.unwrap());
    assert!(!consent::delete(&mut c, t, "g1").await.unwrap());
}

pub async fn totp_steps_only_advance_and_recovery_codes_work_once(store: Store) {
    let t = add_tenant(&store, "Contoso").await;
    let u = add_user(&store, t, "ada").await;
    let mut c = conn(&store).await;
    let m = mfa::AuthMethod {
        id: ObjectId::new(),
        tenant_id: t,
        user_id: u.id,
        kind: "softwareOath".into(),
        display_name: Some("app".into()),
        sealed_secret: Some("sealed".into()),
        last_step: None,
        created_at: 1,
    };
    mfa::insert_method(&mut c, &m).await.unwrap();
    assert_eq!(mfa::methods(&mut c, t, u.id).await.unwrap(), vec![m.clone()]);
    assert!(mfa::advance_step(&mut c, t, m.id, 100).await.unwrap());
    assert!(!mfa::advance_step(&mut c, t, m.id, 100).await.unwrap(), "the same step twice");
    assert!(!mfa::advance_step(&mut c, t, m.id, 99).await.unwrap(), "an earlier step");
    assert!(mfa::advance_step(&mut c, t, m.id, 101).await.unwrap());
    mfa::replace_recovery_codes(&mut c, t, u.id, &["r1".into(), "r2".into()]).await.unwrap();
    assert_eq!(mfa::recovery_codes_left(&mut c, t, u.id).await.unwrap(), 2);
    assert!(mfa::use_recovery_code(&mut c, t, u.id, "r1", 5).await.unwrap());
    assert!(!mfa::use_recovery_code(&mut c, t, u.id, "r1", 6).await.unwrap(), "used");
    assert!(!mfa::use_recovery_code(&mut c, t, u.id, "nope", 6).await.unwrap());
    assert_eq!(mfa::recovery_codes_left(&mut c, t, u.id).await.unwrap(), 1);
    assert!(mfa::delete_method(&mut c, t, u.id, m.id).await.unwrap());
}

pub async fn one_time_codes_are_bound_and_only_the_latest_counts(store: Store) {
    let t = add_tenant(&store, "Contoso").await;
    let u = add_user(&store, t, "ada").await;
    let mut c = conn(&store).await;
    let code = |digest: &str, at: i64| mfa::OneTimeCode {
        id: ObjectId::new(),
        tenant_id: t,
        user_id: u.id,
        purpose: "email_otp".into(),
        digest: digest.into(),
        bound_to: Some("flow-1".into()),
        attempts: 0,
        created_at: at,
        expires_at: at + 600,
        used_at: None,
    };
    let first = code("d1", 10);
    mfa::insert_code(&mut c, &first).await.unwrap();
    let second = code("d2", 20);
    mfa::insert_code(&mut c, &second).await.unwrap();
    let live = mfa::code_for_flow(&mut c, t, "flow-1", "email_otp", 30).await.unwrap().unwrap();
    assert_eq!(live.digest, "d2", "a new code replaces the one sent before");
    assert!(mfa::code_by_digest(&mut c, t, "d1", "email_otp", 30).await.unwrap().is_none());
    assert!(mfa::code_for_flow(&mut c, t, "flow-2", "email_otp", 30).await.unwrap().is_none());
    assert_eq!(mfa::count_attempt(&mut c, second.id).await.unwrap(), 1);
    assert!(mfa::spend_code(&mut c, second.id, 40).await.unwrap());
    assert!(!mfa::spend_code(&mut c, second.id, 41).await.unwrap());
    assert!(mfa::code_for_flow(&mut c, t, "flow-1", "email_otp", 42).await.unwrap().is_none());
}

pub async fn throttle_windows_count_and_restart(store: Store) {
    let mut c = conn(&store).await;
    for at in [100, 200, 300] {
        throttle::record_failure(&mut c, "k", at, 1000).await.unwrap();
    }
    assert_eq!(throttle::failures(&mut c, "k", 400, 1000).await.unwrap(), 3);
    assert_eq!(throttle::failures(&mut c, "k", 1200, 1000).await.unwrap(), 0, "the window passed");
    throttle::record_failure(&mut c, "k", 1200, 1000).await.unwrap();
    assert_eq!(throttle::failures(&mut c, "k", 1300, 1000).await.unwrap(), 1, "a new window starts at one");
    throttle::clear(&mut c, "k").await.unwrap();
    assert_eq!(throttle::failures(&mut c, "k", 1300, 1000).await.unwrap(), 0);
}

pub async fn sign_ins_update_the_users_activity_and_familiar_addresses(store: Store) {
    let t = add_tenant(&store, "Contoso").await;
    let u = add_user(&store, t, "ada").await;
    let mut c = conn(&store).await;
    let record = |code: i64, at: i64, interactive: bool| SignIn {
        id: ObjectId::new(),
        tenant_id: t,
        created_at: at,
        user_id: Some(u.id),
        user_principal_name: Some(u.user_principal_name.clone()),
        user_display_name: None,
        app_id: None,
        app_display_name: Some("App".into()),
        resource_id: None,
        resource_display_name: None,
        ip_address: Some("10.0.0.1".into()),
        client_app_used: "Browser".into(),
        user_agent: None,
        is_interactive: interactive,
        error_code: code,
        failure_reason: None,
        additional_details: None,
        authentication_details: json!([]),
        authentication_requirement: "singleFactorAuthentication".into(),
        conditional_access_status: "notApplied".into(),
        home_tenant_id: None,
        resource_tenant_id: t.to_string(),
        correlation_id: ObjectId::new().to_string(),
        user_type: Some("member".into()),
        cross_tenant_access_type: "none".into(),
    };
    signins::insert(&mut c, &record(50126, 100, true)).await.unwrap();
    assert!(!signins::familiar_address(&mut c, t, u.id, "10.0.0.1", 0).await.unwrap(), "a failure is not familiar");
    let ok = record(0, 200, true);
    signins::insert(&mut c, &ok).await.unwrap();
    signins::insert(&mut c, &record(0, 300, false)).await.unwrap();
    assert!(signins::familiar_address(&mut c, t, u.id, "10.0.0.1", 0).await.unwrap());
    assert!(!signins::familiar_address(&mut c, t, u.id, "10.0.0.2", 0).await.unwrap());
    let activity = signins::activity(&mut c, t, &[u.id]).await.unwrap();
    let (last, _, non_interactive) = activity.get(&u.id).cloned().unwrap();
    assert_eq!((last, non_interactive), (Some(200), Some(300)));
}

pub async fn expired_sign_in_state_is_purged(store: Store) {
    let t = add_tenant(&store, "Contoso").await;
    let u = add_user(&store, t, "ada").await;
    let mut c = conn(&store).await;
    signin::insert_flow(&mut c, &flow(t, "old", 100)).await.unwrap();
    signin::insert_flow(&mut c, &flow(t, "new", 10_000)).await.unwrap();
    signin::insert_session(&mut c, &session(t, u.id, "old", 100)).await.unwrap();
    let g = grant(t, u.id, None, 100);
    signin::insert_grant(&mut c, &g).await.unwrap();
    let rt = RefreshToken {
        digest: "rt".into(),
        grant_id: g.id,
        tenant_id: t,
        created_at: 1,
        expires_at: 100,
        used_at: None,
    };
    signin::insert_refresh(&mut c, &rt).await.unwrap();
    let purged = signin::purge_expired(&mut c, 1000).await.unwrap();
    assert!(purged >= 3, "flow, session and grant: {purged}");
    assert!(signin::get_flow(&mut c, t, "new", 1000).await.unwrap().is_some());
    assert!(signin::get_grant(&mut c, t, g.id).await.unwrap().is_none());
    assert_eq!(signin::redeem_refresh(&mut c, t, "rt", 1000).await.unwrap(), Redeemed::Unknown, "cascaded");
}
