//! The storage contract: what every caller of `portico-store` may rely on, on both engines.
//!
//! Every test is an `async fn(Store)` run twice by the `contract!` list below: on a fresh SQLite
//! file (`sqlite::<name>`) and, when `TEST_DATABASE_URL` is set, in a fresh PostgreSQL schema
//! (`postgres::<name>`).

mod common;
#[path = "contract/signin_state.rs"]
mod signin_state;

use signin_state::*;
#[path = "contract/jobs.rs"]
mod jobs_queue;
use jobs_queue::*;
#[path = "contract/federation.rs"]
mod federation;
use federation::*;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use portico_core::ids::{ObjectId, TenantId};
use portico_odata::Value;
use portico_store::apps::{self, Side};
use portico_store::db::{bind_value, ci, ci_opt, dynamic, flag, json_col, opt_str, redact_url};
use portico_store::groups::{self, ObjectKind, Relation};
use portico_store::list::{Cond, List, ListError, shift_params};
use portico_store::users::{self, Deleted, Identity, User};
use portico_store::{SchemaStatus, Store, StoreError, audit, keys, roles, schema, tenants};
use serde_json::json;
use sqlx::Row as _;

macro_rules! contract {
    ($($start:ident => [$($name:ident),* $(,)?]),* $(,)?) => {
        mod sqlite {
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::common::on_sqlite(crate::common::Start::$start, super::$name).await;
                }
            )*)*
        }
        mod postgres {
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::common::on_postgres(crate::common::Start::$start, super::$name).await;
                }
            )*)*
        }
    };
}

contract! {
    Empty => [
        migrate_on_an_empty_database_creates_the_schema_and_a_second_run_is_a_no_op,
    ],
    Migrated => [
        // schema and connection
        a_schema_newer_than_this_build_is_refused,
        every_migration_has_a_twin_and_known_version_counts_them,
        the_store_answers_pings_and_refuses_unsupported_urls,
        deployment_settings_are_upserted_and_read_back,
        the_row_helpers_bind_and_decode_values_on_this_engine,
        // tenants and domains
        tenants_are_inserted_read_updated_listed_and_counted,
        tenants_resolve_by_id_and_by_verified_domain_only,
        a_verified_domain_name_cannot_be_verified_by_a_second_tenant,
        domains_are_listed_defaulted_verified_and_deleted_whatever_the_case_of_the_name,
        domain_usage_counts_the_tenants_users_whose_upn_is_in_the_domain,
        // users
        users_round_trip_with_their_collections,
        duplicate_upn_in_one_tenant_is_a_conflict,
        the_same_upn_in_another_tenant_is_fine,
        updating_a_user_replaces_its_collections,
        a_soft_deleted_user_is_only_found_among_deleted_users,
        purging_a_user_removes_its_memberships_ownerships_and_assignments,
        insert_many_stores_every_user_as_insert_does,
        get_many_preserves_the_requested_order_and_skips_missing_users,
        load_collections_fills_a_batch_of_listed_users,
        // tenant isolation
        another_tenants_id_reaches_no_user,
        another_tenants_id_reaches_no_group,
        another_tenants_id_reaches_no_application,
        another_tenants_id_reaches_no_service_principal,
        another_tenants_id_reaches_no_role_assignment,
        another_tenants_id_reaches_no_app_role_assignment,
        another_tenants_id_reaches_no_audit_entry,
        // listing
        odata_filters_select_exactly_the_matching_live_users_of_the_tenant,
        odata_search_matches_word_prefixes,
        count_reports_every_match_whatever_the_page_size,
        conditions_are_renumbered_when_joined,
        keyset_paging_by_id_visits_every_row_once_in_order,
        keyset_paging_by_display_name_visits_every_row_once_in_order_both_ways,
        multi_key_order_pages_by_offset_and_visits_every_row_once,
        rows_inserted_behind_the_keyset_cursor_do_not_shift_later_pages,
        a_garbage_or_foreign_skiptoken_is_a_token_error,
        groups_applications_service_principals_and_role_assignments_list_through_their_schemas,
        // groups
        groups_round_trip_soft_delete_and_purge_with_their_links,
        adding_a_link_twice_returns_false_and_removing_reports_existence,
        transitive_members_follow_nesting_and_terminate_on_cycles,
        member_of_and_owned_groups_list_live_groups_only,
        resolve_object_tells_users_groups_and_service_principals_apart,
        groups_get_many_preserves_the_requested_order,
        forget_object_removes_every_link_and_assignment_of_an_object,
        // applications
        applications_round_trip_and_are_found_by_app_id,
        identifier_uri_lookup_is_an_exact_match,
        client_secrets_are_added_listed_and_deleted,
        service_principals_round_trip_and_are_one_per_application_per_tenant,
        a_soft_deleted_service_principal_is_found_by_client_id_and_restored,
        the_token_lookup_reads_client_service_principal_and_secrets_together,
        has_active_sees_only_the_tenants_active_key,
        passwords_of_groups_secrets_by_application_within_the_tenant,
        get_apps_reads_live_applications_of_the_tenant_only,
        the_resource_lookup_returns_only_the_principals_own_grants,
        app_role_assignments_are_listed_by_side_and_duplicates_conflict,
        // roles, keys, audit
        role_assignments_are_inserted_read_deleted_and_summarised,
        a_retired_key_stays_published_until_it_expires,
        audit_entries_round_trip,
        audit_entries_list_by_activity_time_and_category,
        // transactions
        a_dropped_transaction_leaves_nothing_behind,
        uncommitted_writes_are_invisible_to_other_connections,
        concurrent_write_transactions_queue_and_all_commit,
        // sign-in state
        a_flow_round_trips_and_expires,
        a_session_is_found_by_digest_until_revoked_or_expired,
        a_code_is_spent_once_and_a_second_use_is_a_replay,
        refresh_tokens_rotate_and_revoking_a_user_ends_every_grant,
        consent_grants_apply_per_user_and_tenant_wide,
        totp_steps_only_advance_and_recovery_codes_work_once,
        one_time_codes_are_bound_and_only_the_latest_counts,
        throttle_windows_count_and_restart,
        sign_ins_update_the_users_activity_and_familiar_addresses,
        expired_sign_in_state_is_purged,
        // the job queue and the mail outbox
        claimed_jobs_are_leased_and_a_second_claim_does_not_get_them,
        concurrent_claims_share_the_jobs_without_overlap,
        a_job_whose_lease_lapsed_is_claimed_again_and_the_old_holder_cannot_finish_it,
        failed_attempts_back_off_then_the_job_fails_for_good,
        a_job_whose_last_attempt_lapsed_fails_instead_of_running_again,
        // federation
        identity_providers_are_per_tenant_with_one_issuer_each,
        email_domains_route_to_one_provider_per_tenant,
        a_saml_assertion_is_accepted_once_until_it_expires,
        finished_jobs_are_counted_and_purged_after_their_time,
        outbox_messages_round_trip_and_record_their_delivery,
    ],
}

// ---------------------------------------------------------------------------------------------
// Schema and connection
// ---------------------------------------------------------------------------------------------

async fn migrate_on_an_empty_database_creates_the_schema_and_a_second_run_is_a_no_op(store: Store) {
    let known = store.known_version();
    assert!(known >= 1);
    assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::Empty);
    assert!(
        matches!(store.require_current().await, Err(StoreError::SchemaBehind { found: 0, known: k }) if k == known)
    );

    assert_eq!(store.migrate().await.unwrap(), known as usize);
    assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::Current(known));
    store.require_current().await.unwrap();
    assert_eq!(tenants::count(&store).await.unwrap(), 0, "the tables exist");

    assert_eq!(store.migrate().await.unwrap(), 0, "a second migrate has nothing to do");
    assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::Current(known));
}

async fn a_schema_newer_than_this_build_is_refused(store: Store) {
    let known = store.known_version();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (999, 'from the future', TRUE, $1, 0)",
    )
    .bind(vec![0u8; 48])
    .execute(store.pool())
    .await
    .unwrap();

    assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::TooNew { found: 999, known });
    assert!(matches!(store.migrate().await, Err(StoreError::SchemaTooNew { found: 999, known: k }) if k == known));
    assert!(
        matches!(store.require_current().await, Err(StoreError::SchemaTooNew { found: 999, known: k }) if k == known)
    );
}

async fn every_migration_has_a_twin_and_known_version_counts_them(store: Store) {
    let names = |engine: &str| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(engine);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        names.sort();
        names
    };
    let sqlite = names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("postgres"), "migrations come in matching pairs");
    for (i, name) in sqlite.iter().enumerate() {
        assert!(name.starts_with(&format!("{:04}_", i + 1)), "{name} is out of sequence");
    }
    assert_eq!(store.known_version(), sqlite.len() as i64);
    assert_eq!(store.schema_status().await.unwrap(), SchemaStatus::Current(sqlite.len() as i64));
}

async fn the_store_answers_pings_and_refuses_unsupported_urls(store: Store) {
    store.ping().await.unwrap();
    match Store::connect("mysql://app:s3cret@db/portico").await {
        Err(StoreError::BadUrl(shown)) => {
            assert!(!shown.contains("s3cret"), "the password leaked: {shown}");
            assert_eq!(shown, redact_url("mysql://app:s3cret@db/portico"));
        }
        other => panic!("expected BadUrl, got {other:?}"),
    }
}

async fn deployment_settings_are_upserted_and_read_back(store: Store) {
    assert_eq!(store.setting("issuer").await.unwrap(), None);
    let mut tx = store.begin().await.unwrap();
    store.set_setting(&mut tx, "issuer", "https://one.example").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.setting("issuer").await.unwrap().as_deref(), Some("https://one.example"));

    let mut tx = store.begin().await.unwrap();
    store.set_setting(&mut tx, "issuer", "https://two.example").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.setting("issuer").await.unwrap().as_deref(), Some("https://two.example"));
    assert_eq!(store.setting("other").await.unwrap(), None);
}

async fn the_row_helpers_bind_and_decode_values_on_this_engine(store: Store) {
    // A stored row carries every kind of value the helpers deal with.
    let t = add_tenant(&store, "contoso").await;
    let mut u = user(t, "alice");
    u.mail = None;
    u.account_enabled = false;
    u.force_change_password = true;
    users::insert(&mut *conn(&store).await, &u).await.unwrap();

    let mut q = dynamic("SELECT mail, account_enabled, force_change_password, display_name FROM users WHERE id = $1 AND account_enabled = $2 AND created_at = $3".into());
    for v in [Value::Text(u.id.to_string()), Value::Bool(false), Value::Int(NOW)] {
        q = bind_value(q, &v);
    }
    let row = q.fetch_one(store.pool()).await.unwrap();
    assert_eq!(opt_str(&row, "mail").unwrap(), None);
    assert!(!flag(&row, "account_enabled").unwrap());
    assert!(flag(&row, "force_change_password").unwrap());
    assert_eq!(row.try_get::<String, _>("display_name").unwrap(), "alice");

    let q = bind_value(
        dynamic("SELECT COUNT(*) FROM users WHERE COALESCE(mail, '-') = COALESCE($1, '-')".into()),
        &Value::Null,
    );
    let nulls: i64 = q.fetch_one(store.pool()).await.unwrap().try_get(0).unwrap();
    assert_eq!(nulls, 1, "a Null binds as SQL NULL");

    let row = sqlx::query("SELECT branding FROM tenants WHERE id = $1")
        .bind(t.to_string())
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(json_col(&row, "branding").unwrap(), json!({}));

    assert_eq!(ci("ÉMILE@Contoso.TEST"), "émile@contoso.test");
    assert_eq!(ci_opt(Some("AbC")), Some("abc".to_string()));
    assert_eq!(ci_opt(None), None);
    assert!(
        matches!(StoreError::NotFound.conflict_as("x"), StoreError::NotFound),
        "only unique violations become conflicts"
    );
}

// ---------------------------------------------------------------------------------------------
// Tenants and domains
// ---------------------------------------------------------------------------------------------

async fn tenants_are_inserted_read_updated_listed_and_counted(store: Store) {
    let mut c = conn(&store).await;
    let mut first = tenant("contoso");
    first.created_at = NOW + 1;
    let mut second = tenant("fabrikam");
    second.created_at = NOW + 2;
    let mut zeroth = tenant("adatum");
    zeroth.created_at = NOW;
    for t in [&first, &second, &zeroth] {
        tenants::insert(&mut c, t).await.unwrap();
    }
    assert_eq!(tenants::count(&store).await.unwrap(), 3);
    assert_eq!(tenants::get(&mut c, first.id).await.unwrap().as_ref(), Some(&first));
    assert_eq!(tenants::get(&mut c, TenantId::new()).await.unwrap(), None);
    let ids: Vec<TenantId> = tenants::list(&store).await.unwrap().iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![zeroth.id, first.id, second.id], "oldest first");

    let mut changed = first.clone();
    changed.display_name = "Contoso Ltd".into();
    changed.preferred_language = Some("fr-FR".into());
    changed.privacy_contact_email = Some("privacy@contoso.test".into());
    changed.privacy_statement_url = Some("https://contoso.test/privacy".into());
    changed.technical_notification_mails = vec!["ops@contoso.test".into(), "sec@contoso.test".into()];
    changed.branding = json!({"signInPageText": "Welcome", "backgroundColor": "#123456"});
    changed.initial_domain = "renamed.portico.test".into();
    tenants::update(&mut c, &changed).await.unwrap();
    let read = tenants::get(&mut c, first.id).await.unwrap().unwrap();
    assert_eq!(
        read,
        tenants::Tenant { initial_domain: first.initial_domain.clone(), ..changed },
        "the initial domain never changes"
    );

    let ghost = tenant("ghost");
    assert!(matches!(tenants::update(&mut c, &ghost).await, Err(StoreError::NotFound)));
    assert_eq!(tenants::count(&store).await.unwrap(), 3);
}

async fn tenants_resolve_by_id_and_by_verified_domain_only(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    tenants::insert_domain(&mut c, &domain(t, "contoso.test", true)).await.unwrap();
    tenants::insert_domain(&mut c, &domain(t, "pending.test", false)).await.unwrap();

    assert_eq!(tenants::resolve(&store, &t.to_string()).await.unwrap(), Some(t));
    assert_eq!(tenants::resolve(&store, &t.to_string().to_uppercase()).await.unwrap(), Some(t));
    assert_eq!(tenants::resolve(&store, "contoso.test").await.unwrap(), Some(t));
    assert_eq!(tenants::resolve(&store, "CONTOSO.Test").await.unwrap(), Some(t));
    assert_eq!(tenants::resolve(&store, "contoso.portico.test").await.unwrap(), Some(t), "the initial domain");
    assert_eq!(tenants::resolve(&store, "pending.test").await.unwrap(), None, "unverified domains do not resolve");
    assert_eq!(tenants::resolve(&store, "nowhere.test").await.unwrap(), None);
    assert_eq!(tenants::resolve(&store, &TenantId::new().to_string()).await.unwrap(), None);

    tenants::verify_domain(&mut c, t, "pending.test", NOW + 5).await.unwrap();
    assert_eq!(tenants::resolve(&store, "pending.test").await.unwrap(), Some(t));
}

async fn a_verified_domain_name_cannot_be_verified_by_a_second_tenant(store: Store) {
    let first = add_tenant(&store, "contoso").await;
    let second = add_tenant(&store, "fabrikam").await;
    let mut c = conn(&store).await;
    tenants::insert_domain(&mut c, &domain(first, "shared.test", true)).await.unwrap();
    // Claiming (unverified) is allowed; verifying is not.
    tenants::insert_domain(&mut c, &domain(second, "shared.test", false)).await.unwrap();
    assert!(matches!(tenants::verify_domain(&mut c, second, "shared.test", NOW).await, Err(StoreError::Conflict(_))));
    assert!(!tenants::get_domain(&mut c, second, "shared.test").await.unwrap().unwrap().is_verified);
    let third = add_tenant(&store, "adatum").await;
    assert!(matches!(
        tenants::insert_domain(&mut c, &domain(third, "shared.test", true)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        tenants::insert_domain(&mut c, &domain(third, "SHARED.test", true)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(tenants::resolve(&store, "shared.test").await.unwrap(), Some(first));

    // Once the first tenant lets go, the second can verify it.
    assert!(tenants::delete_domain(&mut c, first, "shared.test").await.unwrap());
    tenants::verify_domain(&mut c, second, "shared.test", NOW).await.unwrap();
    assert_eq!(tenants::resolve(&store, "shared.test").await.unwrap(), Some(second));
}

async fn domains_are_listed_defaulted_verified_and_deleted_whatever_the_case_of_the_name(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    tenants::insert_domain(&mut c, &domain(t, "Fabrikam.TEST", false)).await.unwrap();
    tenants::insert_domain(&mut c, &domain(t, "alpha.test", true)).await.unwrap();
    assert!(matches!(
        tenants::insert_domain(&mut c, &domain(t, "FABRIKAM.test", false)).await,
        Err(StoreError::Conflict(_))
    ));

    let names = |ds: &[tenants::Domain]| ds.iter().map(|d| d.name.clone()).collect::<Vec<_>>();
    let listed = tenants::list_domains(&mut c, t).await.unwrap();
    assert_eq!(names(&listed), ["contoso.portico.test", "alpha.test", "fabrikam.test"], "initial first, then by name");
    let defaults =
        |ds: &[tenants::Domain]| ds.iter().filter(|d| d.is_default).map(|d| d.name.clone()).collect::<Vec<_>>();
    assert_eq!(defaults(&listed), ["contoso.portico.test"]);

    let d = tenants::get_domain(&mut c, t, "FABRIKAM.Test").await.unwrap().unwrap();
    assert_eq!((d.name.as_str(), d.is_verified, d.verified_at), ("fabrikam.test", false, None));
    tenants::verify_domain(&mut c, t, "Fabrikam.test", NOW + 7).await.unwrap();
    let d = tenants::get_domain(&mut c, t, "fabrikam.test").await.unwrap().unwrap();
    assert_eq!((d.is_verified, d.verified_at), (true, Some(NOW + 7)));
    assert_eq!(tenants::resolve(&store, "fabrikam.test").await.unwrap(), Some(t));

    tenants::set_default_domain(&mut c, t, "FABRIKAM.TEST").await.unwrap();
    assert_eq!(defaults(&tenants::list_domains(&mut c, t).await.unwrap()), ["fabrikam.test"], "exactly one default");
    assert!(matches!(tenants::set_default_domain(&mut c, t, "nowhere.test").await, Err(StoreError::NotFound)));
    assert!(matches!(tenants::verify_domain(&mut c, t, "nowhere.test", NOW).await, Err(StoreError::NotFound)));
    assert_eq!(
        defaults(&tenants::list_domains(&mut c, t).await.unwrap()),
        ["fabrikam.test"],
        "a failed change keeps the default"
    );

    assert!(tenants::delete_domain(&mut c, t, "Alpha.Test").await.unwrap());
    assert!(!tenants::delete_domain(&mut c, t, "alpha.test").await.unwrap());
    assert_eq!(tenants::get_domain(&mut c, t, "alpha.test").await.unwrap(), None);
    assert_eq!(names(&tenants::list_domains(&mut c, t).await.unwrap()), ["contoso.portico.test", "fabrikam.test"]);
}

async fn domain_usage_counts_the_tenants_users_whose_upn_is_in_the_domain(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let other = add_tenant(&store, "fabrikam").await;
    let mut c = conn(&store).await;
    for (tenant, upn) in [
        (t, "a@contoso.test"),
        (t, "B@Contoso.TEST"),
        (t, "c@sub.contoso.test"),
        (t, "d@notcontoso.test"),
        (t, "e@a_b.test"),
        (t, "f@axb.test"),
        (other, "g@contoso.test"),
    ] {
        let mut u = user(tenant, upn.split('@').next().unwrap());
        u.user_principal_name = upn.to_string();
        users::insert(&mut c, &u).await.unwrap();
    }
    assert_eq!(tenants::domain_usage(&mut c, t, "contoso.test").await.unwrap(), 2);
    assert_eq!(tenants::domain_usage(&mut c, t, "Contoso.Test").await.unwrap(), 2);
    assert_eq!(tenants::domain_usage(&mut c, t, "a_b.test").await.unwrap(), 1, "_ is not a wildcard");
    assert_eq!(tenants::domain_usage(&mut c, t, "unused.test").await.unwrap(), 0);
    assert_eq!(tenants::domain_usage(&mut c, other, "contoso.test").await.unwrap(), 1);
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

/// A user with every optional property set and both collections filled.
fn full_user(tenant: TenantId, name: &str) -> User {
    User {
        given_name: Some("Alice".into()),
        surname: Some("Adams".into()),
        display_name: "Alice Adams".into(),
        user_principal_name: format!("{name}@Contoso.test"),
        mail: Some(format!("{name}.adams@contoso.test")),
        other_mails: vec!["alice@home.example".into(), "Alice@Work.example".into()],
        identities: vec![
            Identity {
                sign_in_type: "userPrincipalName".into(),
                issuer: "contoso.test".into(),
                issuer_assigned_id: Some(format!("{name}@contoso.test")),
            },
            Identity {
                sign_in_type: "federated".into(),
                issuer: "https://idp.example".into(),
                issuer_assigned_id: None,
            },
        ],
        account_enabled: false,
        user_type: "Guest".into(),
        creation_type: Some("Invitation".into()),
        external_user_state: Some("PendingAcceptance".into()),
        external_user_state_changed_at: Some(NOW + 1),
        preferred_language: Some("en-GB".into()),
        company_name: Some("Contoso".into()),
        job_title: Some("Engineer".into()),
        department: Some("R&D".into()),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        force_change_password: true,
        password_changed_at: Some(NOW + 2),
        ..user(tenant, name)
    }
}

async fn users_round_trip_with_their_collections(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let u = full_user(t, "alice");
    users::insert(&mut c, &u).await.unwrap();
    let plain = add_user(&store, t, "bob").await;

    assert_eq!(users::get(&mut c, t, u.id, Deleted::Exclude).await.unwrap().as_ref(), Some(&u));
    assert_eq!(users::get(&mut c, t, u.id, Deleted::Only).await.unwrap(), None);
    assert_eq!(users::get_by_upn(&mut c, t, "ALICE@contoso.TEST").await.unwrap().as_ref(), Some(&u));
    assert_eq!(users::get_by_upn(&mut c, t, "bob@example.test").await.unwrap().as_ref(), Some(&plain));
    assert_eq!(users::get_by_upn(&mut c, t, "carol@example.test").await.unwrap(), None);
    assert_eq!(users::get(&mut c, t, ObjectId::new(), Deleted::Exclude).await.unwrap(), None);
}

async fn duplicate_upn_in_one_tenant_is_a_conflict(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let first = add_user(&store, t, "alice").await;
    let mut again = user(t, "alice2");
    again.user_principal_name = first.user_principal_name.to_uppercase();
    assert!(matches!(users::insert(&mut c, &again).await, Err(StoreError::Conflict(_))));
    assert_eq!(users::get(&mut c, t, again.id, Deleted::Exclude).await.unwrap(), None);

    // Renaming onto a taken UPN is a conflict as well.
    let mut bob = add_user(&store, t, "bob").await;
    bob.user_principal_name = "Alice@Example.Test".into();
    assert!(matches!(users::update(&mut c, &bob).await, Err(StoreError::Conflict(_))));
    assert_eq!(
        users::get(&mut c, t, bob.id, Deleted::Exclude).await.unwrap().unwrap().user_principal_name,
        "bob@example.test"
    );
}

async fn the_same_upn_in_another_tenant_is_fine(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let other = add_tenant(&store, "fabrikam").await;
    let a = add_user(&store, t, "alice").await;
    let b = add_user(&store, other, "alice").await;
    let mut c = conn(&store).await;
    assert_eq!(users::get_by_upn(&mut c, t, "alice@example.test").await.unwrap().map(|u| u.id), Some(a.id));
    assert_eq!(users::get_by_upn(&mut c, other, "alice@example.test").await.unwrap().map(|u| u.id), Some(b.id));
}

async fn updating_a_user_replaces_its_collections(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let u = full_user(t, "alice");
    users::insert(&mut c, &u).await.unwrap();

    let mut changed = u.clone();
    changed.display_name = "Alice B. Adams".into();
    changed.user_principal_name = "alice.adams@contoso.test".into();
    changed.mail = None;
    changed.account_enabled = true;
    changed.other_mails = vec!["new@home.example".into()];
    changed.identities = vec![Identity {
        sign_in_type: "emailAddress".into(),
        issuer: "mail".into(),
        issuer_assigned_id: Some("new@home.example".into()),
    }];
    changed.created_at = NOW + 99; // not updatable
    users::update(&mut c, &changed).await.unwrap();
    let read = users::get(&mut c, t, u.id, Deleted::Exclude).await.unwrap().unwrap();
    assert_eq!(read, User { created_at: u.created_at, ..changed.clone() });
    assert_eq!(users::get_by_upn(&mut c, t, "alice@contoso.test").await.unwrap(), None, "the old UPN is free");

    changed.other_mails.clear();
    changed.identities.clear();
    users::update(&mut c, &changed).await.unwrap();
    let read = users::get(&mut c, t, u.id, Deleted::Exclude).await.unwrap().unwrap();
    assert!(read.other_mails.is_empty() && read.identities.is_empty());

    let ghost = user(t, "ghost");
    assert!(matches!(users::update(&mut c, &ghost).await, Err(StoreError::NotFound)));
}

async fn a_soft_deleted_user_is_only_found_among_deleted_users(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let mut u = add_user(&store, t, "alice").await;
    let keep = add_user(&store, t, "bob").await;
    assert_eq!(Deleted::Exclude.sql(), "deleted_at IS NULL");
    assert_eq!(Deleted::Only.sql(), "deleted_at IS NOT NULL");

    u.deleted_at = Some(NOW + 10);
    users::update(&mut c, &u).await.unwrap();
    assert_eq!(users::get(&mut c, t, u.id, Deleted::Exclude).await.unwrap(), None);
    assert_eq!(users::get(&mut c, t, u.id, Deleted::Only).await.unwrap().as_ref(), Some(&u));
    assert_eq!(users::get_by_upn(&mut c, t, &u.user_principal_name).await.unwrap(), None);
    let many: Vec<ObjectId> =
        users::get_many(&mut c, t, &[u.id, keep.id]).await.unwrap().iter().map(|x| x.id).collect();
    assert_eq!(many, vec![keep.id]);
    assert_eq!(groups::resolve_object(&mut c, t, u.id).await.unwrap(), None);

    // Restoring brings it back.
    u.deleted_at = None;
    users::update(&mut c, &u).await.unwrap();
    assert_eq!(users::get(&mut c, t, u.id, Deleted::Exclude).await.unwrap().as_ref(), Some(&u));
    assert_eq!(users::get(&mut c, t, u.id, Deleted::Only).await.unwrap(), None);
}

async fn purging_a_user_removes_its_memberships_ownerships_and_assignments(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let mut u = full_user(t, "alice");
    users::insert(&mut c, &u).await.unwrap();
    let bob = add_user(&store, t, "bob").await;
    let g = add_group(&store, t, "Engineering").await;
    let (_, resource) = add_app(&store, t, "Payroll").await;
    for who in [u.id, bob.id] {
        groups::add_link(&mut c, Relation::Members, g.id, who, ObjectKind::User).await.unwrap();
        groups::add_link(&mut c, Relation::Owners, g.id, who, ObjectKind::User).await.unwrap();
        apps::insert_assignment(&mut c, &assignment(t, who, resource.id, "00000000-0000-0000-0000-000000000000"))
            .await
            .unwrap();
        roles::insert(&mut c, &role(t, who, "62e90394-69f5-4237-9190-012177145e10")).await.unwrap();
    }

    // Purge works on soft-deleted users (the usual path) as on live ones.
    u.deleted_at = Some(NOW + 1);
    users::update(&mut c, &u).await.unwrap();
    assert!(users::purge(&mut c, t, u.id).await.unwrap());
    assert_eq!(users::get(&mut c, t, u.id, Deleted::Only).await.unwrap(), None);
    assert_eq!(groups::links(&mut c, Relation::Members, g.id).await.unwrap(), vec![(bob.id, ObjectKind::User)]);
    assert_eq!(groups::links(&mut c, Relation::Owners, g.id).await.unwrap(), vec![(bob.id, ObjectKind::User)]);
    assert!(apps::assignments(&mut c, t, Side::Principal, u.id).await.unwrap().is_empty());
    assert_eq!(
        apps::assignments(&mut c, t, Side::Resource, resource.id).await.unwrap().len(),
        1,
        "bob's assignment stays"
    );
    assert!(roles::roles_of(&mut c, t, u.id).await.unwrap().is_empty());
    assert_eq!(roles::roles_of(&mut c, t, bob.id).await.unwrap().len(), 1);
    for table in ["user_other_mails", "user_identities"] {
        let left: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table} WHERE user_id = $1")))
                .bind(u.id.to_string())
                .fetch_one(&mut *c)
                .await
                .unwrap();
        assert_eq!(left, 0, "{table} rows of the purged user remain");
    }
    assert!(!users::purge(&mut c, t, u.id).await.unwrap(), "a second purge finds nothing");
}

async fn insert_many_stores_every_user_as_insert_does(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut batch: Vec<User> = (0..150).map(|i| user(t, &format!("user{i:03}"))).collect();
    batch[3] = full_user(t, "alice");
    batch[140].account_enabled = false;
    batch[140].deleted_at = Some(NOW + 5);
    batch[141].other_mails = vec!["x@home.example".into()];
    let mut tx = store.begin().await.unwrap();
    users::insert_many(&mut tx, &batch).await.unwrap();
    tx.commit().await.unwrap();

    let mut c = conn(&store).await;
    for u in &batch {
        let which = if u.deleted_at.is_some() { Deleted::Only } else { Deleted::Exclude };
        assert_eq!(users::get(&mut c, t, u.id, which).await.unwrap().as_ref(), Some(u), "{}", u.user_principal_name);
    }

    // A duplicate UPN anywhere in the batch is a conflict.
    let mut tx = store.begin().await.unwrap();
    let dup = vec![user(t, "new1"), user(t, "user007")];
    assert!(matches!(users::insert_many(&mut tx, &dup).await, Err(StoreError::Conflict(_))));
    tx.rollback().await.unwrap();
    assert_eq!(users::get(&mut c, t, dup[0].id, Deleted::Exclude).await.unwrap(), None);
}

async fn get_many_preserves_the_requested_order_and_skips_missing_users(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let other = add_tenant(&store, "fabrikam").await;
    let mut c = conn(&store).await;
    let a = full_user(t, "alice");
    users::insert(&mut c, &a).await.unwrap();
    let b = add_user(&store, t, "bob").await;
    let cc = add_user(&store, t, "carol").await;
    let foreign = add_user(&store, other, "dave").await;

    let got = users::get_many(&mut c, t, &[cc.id, ObjectId::new(), a.id, foreign.id, b.id]).await.unwrap();
    assert_eq!(got, vec![cc.clone(), a.clone(), b.clone()], "order kept, collections loaded");
    let got = users::get_many(&mut c, t, &[b.id, cc.id, a.id]).await.unwrap();
    assert_eq!(got.iter().map(|u| u.id).collect::<Vec<_>>(), vec![b.id, cc.id, a.id]);
    assert!(users::get_many(&mut c, t, &[]).await.unwrap().is_empty());
}

async fn load_collections_fills_a_batch_of_listed_users(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let a = full_user(t, "alice");
    users::insert(&mut c, &a).await.unwrap();
    let mut b = full_user(t, "bob");
    b.other_mails = vec!["bob@home.example".into()];
    b.identities.truncate(1);
    users::insert(&mut c, &b).await.unwrap();
    let plain = add_user(&store, t, "carol").await;

    let mut listed = users_list(t, None).run(&store, users::from_row).await.unwrap().items;
    assert_eq!(listed.len(), 3);
    assert!(
        listed.iter().all(|u| u.other_mails.is_empty() && u.identities.is_empty()),
        "from_row leaves collections empty"
    );
    users::load_collections(&mut c, &mut listed).await.unwrap();
    listed.sort_by_key(|u| u.mail_nickname.clone());
    assert_eq!(listed, vec![a, b, plain]);
    users::load_collections(&mut c, &mut []).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Tenant isolation
// ---------------------------------------------------------------------------------------------

async fn two_tenants(store: &Store) -> (TenantId, TenantId) {
    (add_tenant(store, "contoso").await, add_tenant(store, "fabrikam").await)
}

async fn another_tenants_id_reaches_no_user(store: Store) {
    let (t, other) = two_tenants(&store).await;
    let mut c = conn(&store).await;
    let u = full_user(t, "alice");
    users::insert(&mut c, &u).await.unwrap();

    assert_eq!(users::get(&mut c, other, u.id, Deleted::Exclude).await.unwrap(), None);
    assert_eq!(users::get(&mut c, other, u.id, Deleted::Only).await.unwrap(), None);
    assert_eq!(users::get_by_upn(&mut c, other, &u.user_principal_name).await.unwrap(), None);
    assert!(users::get_many(&mut c, other, &[u.id]).await.unwrap().is_empty());
    let hijack = User { tenant_id: other, display_name: "pwned".into(), other_mails: vec![], ..u.clone() };
    assert!(matches!(users::update(&mut c, &hijack).await, Err(StoreError::NotFound)));
    assert!(!users::purge(&mut c, other, u.id).await.unwrap());
    assert_eq!(users::get(&mut c, t, u.id, Deleted::Exclude).await.unwrap().as_ref(), Some(&u), "untouched");
}

async fn another_tenants_id_reaches_no_group(store: Store) {
    let (t, other) = two_tenants(&store).await;
    let mut c = conn(&store).await;
    let g = add_group(&store, t, "Engineering").await;
    let owner = add_user(&store, t, "alice").await;
    groups::add_link(&mut c, Relation::Members, g.id, owner.id, ObjectKind::User).await.unwrap();
    groups::add_link(&mut c, Relation::Owners, g.id, owner.id, ObjectKind::User).await.unwrap();

    assert_eq!(groups::get(&mut c, other, g.id, false).await.unwrap(), None);
    assert_eq!(groups::get(&mut c, other, g.id, true).await.unwrap(), None);
    assert!(groups::get_many(&mut c, other, &[g.id]).await.unwrap().is_empty());
    assert_eq!(groups::resolve_object(&mut c, other, g.id).await.unwrap(), None);
    assert!(groups::member_of(&mut c, other, owner.id).await.unwrap().is_empty());
    assert!(groups::transitive_member_of(&mut c, other, owner.id).await.unwrap().is_empty());
    assert!(groups::owned_groups(&mut c, other, owner.id).await.unwrap().is_empty());
    let hijack = groups::Group { tenant_id: other, display_name: "pwned".into(), ..g.clone() };
    assert!(matches!(groups::update(&mut c, &hijack).await, Err(StoreError::NotFound)));
    assert!(!groups::purge(&mut c, other, g.id).await.unwrap());
    assert_eq!(groups::get(&mut c, t, g.id, false).await.unwrap().as_ref(), Some(&g), "untouched");
    assert_eq!(groups::member_of(&mut c, t, owner.id).await.unwrap(), vec![g.id]);
}

async fn another_tenants_id_reaches_no_application(store: Store) {
    let (t, other) = two_tenants(&store).await;
    let mut c = conn(&store).await;
    let mut a = app(t, "Payroll");
    a.identifier_uris = vec!["api://payroll".into()];
    apps::insert_app(&mut c, &a).await.unwrap();
    let secret = password(&a, NOW);
    apps::insert_password(&mut c, &secret).await.unwrap();

    assert_eq!(apps::get_app(&mut c, other, a.id, false).await.unwrap(), None);
    assert_eq!(apps::get_app(&mut c, other, a.id, true).await.unwrap(), None);
    assert_eq!(apps::get_app_by_app_id(&mut c, other, &a.app_id).await.unwrap(), None);
    assert_eq!(apps::get_app_by_identifier_uri(&mut c, other, "api://payroll").await.unwrap(), None);
    assert!(apps::passwords(&mut c, other, a.id).await.unwrap().is_empty());
    assert!(!apps::delete_password(&mut c, other, a.id, secret.key_id).await.unwrap());
    let hijack = apps::Application { tenant_id: other, display_name: "pwned".into(), ..a.clone() };
    assert!(matches!(apps::update_app(&mut c, &hijack).await, Err(StoreError::NotFound)));
    assert!(!apps::purge_app(&mut c, other, a.id).await.unwrap());
    assert_eq!(apps::get_app(&mut c, t, a.id, false).await.unwrap().as_ref(), Some(&a), "untouched");
    assert_eq!(apps::passwords(&mut c, t, a.id).await.unwrap(), vec![secret]);
}

async fn another_tenants_id_reaches_no_service_principal(store: Store) {
    let (t, other) = two_tenants(&store).await;
    let mut c = conn(&store).await;
    let (_, s) = add_app(&store, t, "Payroll").await;

    assert_eq!(apps::get_sp(&mut c, other, s.id).await.unwrap(), None);
    assert_eq!(apps::get_sp_by_app_id(&mut c, other, &s.app_id).await.unwrap(), None);
    assert_eq!(groups::resolve_object(&mut c, other, s.id).await.unwrap(), None);
    let hijack = apps::ServicePrincipal { tenant_id: other, display_name: "pwned".into(), ..s.clone() };
    assert!(matches!(apps::update_sp(&mut c, &hijack).await, Err(StoreError::NotFound)));
    assert!(!apps::purge_sp(&mut c, other, s.id).await.unwrap());
    assert_eq!(apps::get_sp(&mut c, t, s.id).await.unwrap().as_ref(), Some(&s), "untouched");
}

async fn another_tenants_id_reaches_no_role_assignment(store: Store) {
    let (t, other) = two_tenants(&store).await;
    let mut c = conn(&store).await;
    let u = add_user(&store, t, "alice").await;
    let r = role(t, u.id, "62e90394-69f5-4237-9190-012177145e10");
    roles::insert(&mut c, &r).await.unwrap();

    assert_eq!(roles::get(&mut c, other, r.id).await.unwrap(), None);
    assert!(roles::roles_of(&mut c, other, u.id).await.unwrap().is_empty());
    assert!(!roles::delete(&mut c, other, r.id).await.unwrap());
    assert_eq!(roles::get(&mut c, t, r.id).await.unwrap().as_ref(), Some(&r), "untouched");
}

async fn another_tenants_id_reaches_no_app_role_assignment(store: Store) {
    let (t, other) = two_tenants(&store).await;
    let mut c = conn(&store).await;
    let u = add_user(&store, t, "alice").await;
    let (_, s) = add_app(&store, t, "Payroll").await;
    let a = assignment(t, u.id, s.id, "11111111-1111-1111-1111-111111111111");
    apps::insert_assignment(&mut c, &a).await.unwrap();

    assert_eq!(apps::get_assignment(&mut c, other, a.id).await.unwrap(), None);
    assert!(apps::assignments(&mut c, other, Side::Principal, u.id).await.unwrap().is_empty());
    assert!(apps::assignments(&mut c, other, Side::Resource, s.id).await.unwrap().is_empty());
    assert!(apps::granted_roles(&mut c, other, u.id, s.id).await.unwrap().is_empty());
    assert!(!apps::delete_assignment(&mut c, other, a.id).await.unwrap());
    assert_eq!(apps::get_assignment(&mut c, t, a.id).await.unwrap().as_ref(), Some(&a), "untouched");
}

async fn another_tenants_id_reaches_no_audit_entry(store: Store) {
    let (t, other) = two_tenants(&store).await;
    let mut c = conn(&store).await;
    let e = audit(t, NOW, "UserManagement", "Add user");
    audit::insert(&mut c, &e).await.unwrap();
    audit::insert(&mut c, &audit(other, NOW, "UserManagement", "Add user")).await.unwrap();

    assert_eq!(audit::get(&mut c, other, e.id).await.unwrap(), None);
    let theirs =
        list("audit_logs", audit::COLUMNS, vec![in_tenant(other, false)]).run(&store, audit::from_row).await.unwrap();
    assert_eq!(theirs.items.len(), 1);
    assert!(theirs.items.iter().all(|x| x.tenant_id == other && x.id != e.id));
}

// ---------------------------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------------------------

/// alice, albert and bob are live in the returned tenant; alfred is soft-deleted there, and
/// another tenant holds a lookalike of alice. Each user's mail nickname is its short name.
async fn filter_fixture(store: &Store) -> (TenantId, User) {
    let (t, other) = two_tenants(store).await;
    let ident = |issuer: &str, id: &str| Identity {
        sign_in_type: "federated".into(),
        issuer: issuer.into(),
        issuer_assigned_id: Some(id.into()),
    };
    let alice = User {
        display_name: "Alice Adams".into(),
        user_principal_name: "alice@contoso.test".into(),
        mail: Some("Alice.Adams@Contoso.test".into()),
        other_mails: vec!["Alice@Home.example".into()],
        identities: vec![ident("contoso.test", "alice@contoso.test"), ident("https://idp.example", "A-123")],
        job_title: Some("Engineer".into()),
        created_at: day(2024, 1, 1),
        ..user(t, "alice")
    };
    let albert = User {
        display_name: "Albert Brown".into(),
        user_principal_name: "albert@contoso.test".into(),
        mail: None,
        user_type: "Guest".into(),
        account_enabled: false,
        identities: vec![ident("https://idp.example", "B-456")],
        created_at: day(2024, 6, 1),
        ..user(t, "albert")
    };
    let bob = User {
        display_name: "Bob Carter".into(),
        user_principal_name: "bob@contoso.test".into(),
        mail: Some("bob@fabrikam.test".into()),
        other_mails: vec!["bob@work.example".into(), "b_c@home.example".into()],
        created_at: day(2025, 1, 1),
        ..user(t, "bob")
    };
    let alfred = User {
        display_name: "Alfred Deleted".into(),
        user_principal_name: "alfred@contoso.test".into(),
        user_type: "Guest".into(),
        deleted_at: Some(day(2024, 2, 2)),
        ..user(t, "alfred")
    };
    let lookalike =
        User { tenant_id: other, id: ObjectId::new(), mail_nickname: Some("other".into()), ..alice.clone() };
    let mut c = conn(store).await;
    for u in [&alice, &albert, &bob, &alfred, &lookalike] {
        users::insert(&mut c, u).await.unwrap();
    }
    (t, alice)
}

fn nicknames(users: &[User]) -> Vec<String> {
    let mut names: Vec<String> = users.iter().map(|u| u.mail_nickname.clone().unwrap()).collect();
    names.sort();
    names
}

async fn odata_filters_select_exactly_the_matching_live_users_of_the_tenant(store: Store) {
    let (t, alice) = filter_fixture(&store).await;
    let cases: Vec<(String, &[&str])> = vec![
        ("mail eq 'ALICE.ADAMS@contoso.TEST'".into(), &["alice"]),
        ("startsWith(displayName,'Al')".into(), &["albert", "alice"]),
        ("startsWith(displayName,'aLB')".into(), &["albert"]),
        ("endsWith(mail,'@FABRIKAM.test')".into(), &["bob"]),
        ("endsWith(userPrincipalName,'@contoso.test')".into(), &["albert", "alice", "bob"]),
        (
            "userPrincipalName in ('ALICE@contoso.test', 'bob@CONTOSO.test', 'nobody@contoso.test')".into(),
            &["alice", "bob"],
        ),
        ("mail ne 'bob@fabrikam.test'".into(), &["albert", "alice"]),
        ("not(mail eq 'bob@fabrikam.test')".into(), &["albert", "alice"]),
        ("not(startsWith(mail,'alice'))".into(), &["albert", "bob"]),
        ("mail eq null".into(), &["albert"]),
        ("mail ne null".into(), &["alice", "bob"]),
        ("userType eq 'guest'".into(), &["albert"]),
        ("userType eq 'MEMBER'".into(), &["alice", "bob"]),
        ("userType in ('GUEST', 'member')".into(), &["albert", "alice", "bob"]),
        ("accountEnabled eq false".into(), &["albert"]),
        ("accountEnabled eq true".into(), &["alice", "bob"]),
        ("createdDateTime ge 2024-06-01T00:00:00Z".into(), &["albert", "bob"]),
        ("createdDateTime lt 2024-06-01".into(), &["alice"]),
        ("otherMails/any(m:m eq 'ALICE@home.example')".into(), &["alice"]),
        ("otherMails/any(m:startsWith(m,'B'))".into(), &["bob"]),
        ("otherMails/any()".into(), &["alice", "bob"]),
        ("identities/any(c:c/issuer eq 'https://IDP.example' and c/issuerAssignedId eq 'a-123')".into(), &["alice"]),
        ("identities/any(c:c/issuer eq 'https://idp.example')".into(), &["albert", "alice"]),
        // Both conditions must hold on the same identity.
        ("identities/any(c:c/issuer eq 'contoso.test' and c/issuerAssignedId eq 'A-123')".into(), &[]),
        ("startsWith(displayName,'al') and accountEnabled eq true".into(), &["alice"]),
        ("jobTitle eq 'engineer' or userType eq 'Guest'".into(), &["albert", "alice"]),
        (format!("id eq '{}'", alice.id.to_string().to_uppercase()), &["alice"]),
    ];
    for (filter, want) in &cases {
        let compiled = portico_odata::filter(filter, &schema::USER, store.dialect(), 1)
            .unwrap_or_else(|e| panic!("{filter}: {e}"));
        let page = users_list(t, Some(compiled.into()))
            .run(&store, users::from_row)
            .await
            .unwrap_or_else(|e| panic!("{filter}: {e}"));
        assert_eq!(nicknames(&page.items), *want, "$filter={filter}");
        assert!(page.next.is_none() && page.count.is_none());
    }
}

async fn odata_search_matches_word_prefixes(store: Store) {
    let (t, _) = filter_fixture(&store).await;
    let cases: &[(&str, &[&str])] = &[
        (r#""displayName:bro""#, &["albert"]),
        (r#""displayName:AL""#, &["albert", "alice"]),
        (r#""mail:adams""#, &["alice"]),
        (r#""mail:contoso""#, &["alice"]),
        (r#""displayName:al" AND "mail:alice""#, &["alice"]),
        (r#""displayName:carter" OR "displayName:brown""#, &["albert", "bob"]),
        (r#""displayName:lice""#, &[]),
    ];
    for (search, want) in cases {
        let compiled = portico_odata::search(search, &schema::USER, store.dialect(), 1)
            .unwrap_or_else(|e| panic!("{search}: {e}"));
        let page = users_list(t, Some(compiled.into()))
            .run(&store, users::from_row)
            .await
            .unwrap_or_else(|e| panic!("{search}: {e}"));
        assert_eq!(nicknames(&page.items), *want, "$search={search}");
    }
}

async fn count_reports_every_match_whatever_the_page_size(store: Store) {
    let (t, _) = filter_fixture(&store).await;
    let members =
        || Cond::from(portico_odata::filter("userType eq 'Member'", &schema::USER, store.dialect(), 1).unwrap());
    let mut l = users_list(t, Some(members()));
    l.top = 1;
    l.count = true;
    let first = l.run(&store, users::from_row).await.unwrap();
    assert_eq!((first.items.len(), first.count), (1, Some(2)));
    l.skiptoken = first.next;
    let second = l.run(&store, users::from_row).await.unwrap();
    assert_eq!((second.items.len(), second.count, second.next), (1, Some(2), None));
    assert_ne!(first.items[0].id, second.items[0].id);

    let everyone = List { count: true, ..users_list(t, None) };
    assert_eq!(everyone.run(&store, users::from_row).await.unwrap().count, Some(3));
    assert_eq!(users_list(t, None).run(&store, users::from_row).await.unwrap().count, None, "not asked, not counted");
}

async fn conditions_are_renumbered_when_joined(store: Store) {
    let (t, _) = filter_fixture(&store).await;
    assert_eq!(shift_params("a = $1 AND b IN ($2, $10)", 3), "a = $4 AND b IN ($5, $13)");
    // Three fragments, each numbered from $1.
    let l = list(
        "users",
        users::COLUMNS,
        vec![
            in_tenant(t, false),
            Cond::new(
                "display_name_ci = $1 OR upn_ci = $2",
                vec![Value::Text("alice adams".into()), Value::Text("bob@contoso.test".into())],
            ),
            Cond::plain("deleted_at IS NULL"),
            Cond::new("user_type = $1", vec![Value::Text("Member".into())]),
        ],
    );
    assert_eq!(nicknames(&l.run(&store, users::from_row).await.unwrap().items), ["alice", "bob"]);
}

/// 250 live users in a tenant whose display names repeat (so the id breaks ties), with soft-
/// deleted users and another tenant's users around them.
async fn paging_fixture(store: &Store) -> (TenantId, Vec<User>) {
    let (t, other) = two_tenants(store).await;
    let names = ["alpha", "Bravo", "CHARLIE", "délta", "Echo"];
    let rows: Vec<User> = (0..250)
        .map(|i| User {
            display_name: format!("{} {:02}", names[i % 5], i % 40),
            user_principal_name: format!("user{i:03}@contoso.test"),
            ..user(t, &format!("u{i:03}"))
        })
        .collect();
    let mut noise: Vec<User> = (0..5).map(|i| user(other, &format!("other{i}"))).collect();
    noise.extend((0..3).map(|i| User { deleted_at: Some(NOW), ..user(t, &format!("gone{i}")) }));
    let mut tx = store.begin().await.unwrap();
    users::insert_many(&mut tx, &rows).await.unwrap();
    for u in &noise {
        users::insert(&mut tx, u).await.unwrap();
    }
    tx.commit().await.unwrap();
    (t, rows)
}

/// The ids visited by reading every page, checking page sizes on the way.
async fn visit(store: &Store, l: List) -> Vec<ObjectId> {
    let top = l.top;
    let pages = all_pages(store, l, users::from_row).await.unwrap();
    let total: usize = pages.iter().map(|p| p.items.len()).sum();
    for (i, p) in pages.iter().enumerate() {
        let last = i + 1 == pages.len();
        assert_eq!(p.next.is_none(), last, "page {i}: only the last page has no next token");
        assert_eq!(p.items.len(), if last { total - top * i } else { top }, "page {i} size");
    }
    let ids: Vec<ObjectId> = pages.iter().flat_map(|p| p.items.iter().map(|u| u.id)).collect();
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "a row was visited twice");
    ids
}

fn ids_sorted_by<K: Ord>(rows: &[User], key: impl Fn(&User) -> K) -> Vec<ObjectId> {
    let mut sorted: Vec<&User> = rows.iter().collect();
    sorted.sort_by_key(|u| key(u));
    sorted.iter().map(|u| u.id).collect()
}

async fn keyset_paging_by_id_visits_every_row_once_in_order(store: Store) {
    let (t, rows) = paging_fixture(&store).await;
    let visited = visit(&store, users_list(t, None)).await;
    assert_eq!(visited.len(), 250);
    assert_eq!(visited, ids_sorted_by(&rows, |u| u.id.to_string()));
}

async fn keyset_paging_by_display_name_visits_every_row_once_in_order_both_ways(store: Store) {
    let (t, rows) = paging_fixture(&store).await;
    let ascending = ids_sorted_by(&rows, |u| (u.display_name.to_lowercase(), u.id.to_string()));
    let by_name = List { order: vec![("display_name_ci", false)], ..users_list(t, None) };
    assert_eq!(visit(&store, by_name).await, ascending);

    let mut descending = ascending.clone();
    descending.reverse();
    let by_name_desc = List { order: vec![("display_name_ci", true)], ..users_list(t, None) };
    assert_eq!(visit(&store, by_name_desc).await, descending);
}

async fn multi_key_order_pages_by_offset_and_visits_every_row_once(store: Store) {
    let (t, rows) = paging_fixture(&store).await;
    let want = ids_sorted_by(&rows, |u| {
        (u.display_name.to_lowercase(), std::cmp::Reverse(u.user_principal_name.clone()), u.id.to_string())
    });
    let l = List { order: vec![("display_name_ci", false), ("upn_ci", true)], ..users_list(t, None) };
    assert_eq!(visit(&store, l).await, want);
}

async fn rows_inserted_behind_the_keyset_cursor_do_not_shift_later_pages(store: Store) {
    let (t, rows) = paging_fixture(&store).await;
    let mut l = users_list(t, None);
    let first = l.run(&store, users::from_row).await.unwrap();
    let mut c = conn(&store).await;
    let early = User { id: ObjectId(uuid::Uuid::from_u128(1)), ..user(t, "early") };
    let late = User { id: ObjectId(uuid::Uuid::from_u128(u128::MAX)), ..user(t, "late") };
    users::insert(&mut c, &early).await.unwrap();
    users::insert(&mut c, &late).await.unwrap();

    l.skiptoken = first.next.clone();
    let rest = all_pages(&store, l, users::from_row).await.unwrap();
    let mut seen: Vec<ObjectId> = first.items.iter().map(|u| u.id).collect();
    seen.extend(rest.iter().flat_map(|p| p.items.iter().map(|u| u.id)));
    let mut want = ids_sorted_by(&rows, |u| u.id.to_string());
    want.push(late.id);
    assert_eq!(seen, want, "the early row is behind the cursor, the late one ahead of it");
}

async fn a_garbage_or_foreign_skiptoken_is_a_token_error(store: Store) {
    let (t, _) = paging_fixture(&store).await;
    let keyset = users_list(t, None);
    let offset = List { order: vec![("display_name_ci", false), ("upn_ci", false)], ..users_list(t, None) };
    let keyset_token = keyset.run(&store, users::from_row).await.unwrap().next.unwrap();
    let offset_token = offset.run(&store, users::from_row).await.unwrap().next.unwrap();
    let named_token = List { order: vec![("display_name_ci", false)], ..users_list(t, None) }
        .run(&store, users::from_row)
        .await
        .unwrap()
        .next
        .unwrap();

    for (l, token) in [
        (&keyset, "not a token!".to_string()),
        (&keyset, "eyJ4IjoxfQ".to_string()), // {"x":1}
        (&keyset, offset_token.clone()),
        (&keyset, named_token.clone()), // a (name, id) key for an id-only order
        (&offset, keyset_token.clone()),
    ] {
        let with = List { skiptoken: Some(token.clone()), ..l.clone() };
        assert!(matches!(with.run(&store, users::from_row).await, Err(ListError::Token(_))), "{token} was accepted");
    }
    // The right tokens still work.
    let ok = List { skiptoken: Some(offset_token), ..offset.clone() };
    assert_eq!(ok.run(&store, users::from_row).await.unwrap().items.len(), 100);
}

async fn groups_applications_service_principals_and_role_assignments_list_through_their_schemas(store: Store) {
    let (t, other) = two_tenants(&store).await;
    let mut c = conn(&store).await;
    let d = store.dialect();

    let eng = add_group(&store, t, "Engineering").await;
    let mut mail = group(t, "Engineers mail");
    mail.security_enabled = false;
    mail.mail_enabled = true;
    groups::insert(&mut c, &mail).await.unwrap();
    add_group(&store, other, "Engineering").await;
    let f = portico_odata::filter("securityEnabled eq true and startsWith(displayName,'ENG')", &schema::GROUP, d, 1)
        .unwrap();
    let got = list("directory_groups", groups::COLUMNS, vec![in_tenant(t, true), f.into()])
        .run(&store, groups::from_row)
        .await
        .unwrap();
    assert_eq!(got.items, vec![eng]);

    let (mut multi, _) = add_app(&store, t, "Multi").await;
    multi.sign_in_audience = "AzureADMultipleOrgs".into();
    apps::update_app(&mut c, &multi).await.unwrap();
    add_app(&store, t, "Single").await;
    let f = portico_odata::filter("signInAudience eq 'azureadmultipleorgs'", &schema::APPLICATION, d, 1).unwrap();
    let got = list("applications", apps::APP_COLUMNS, vec![in_tenant(t, true), f.into()])
        .run(&store, apps::app_from_row)
        .await
        .unwrap();
    assert_eq!(got.items, vec![multi.clone()]);

    let (_, mut disabled) = add_app(&store, t, "Disabled").await;
    disabled.account_enabled = false;
    apps::update_sp(&mut c, &disabled).await.unwrap();
    let f = portico_odata::filter(
        "servicePrincipalType eq 'application' and accountEnabled eq false",
        &schema::SERVICE_PRINCIPAL,
        d,
        1,
    )
    .unwrap();
    let got = list("service_principals", apps::SP_COLUMNS, vec![in_tenant(t, true), f.into()])
        .run(&store, apps::sp_from_row)
        .await
        .unwrap();
    assert_eq!(got.items, vec![disabled]);

    let u = add_user(&store, t, "alice").await;
    let r = role(t, u.id, "62e90394-69f5-4237-9190-012177145e10");
    roles::insert(&mut c, &r).await.unwrap();
    roles::insert(&mut c, &role(t, ObjectId::new(), "62e90394-69f5-4237-9190-012177145e10")).await.unwrap();
    let f = portico_odata::filter(&format!("principalId eq '{}'", u.id), &schema::ROLE_ASSIGNMENT, d, 1).unwrap();
    let got = list("role_assignments", roles::COLUMNS, vec![in_tenant(t, false), f.into()])
        .run(&store, roles::from_row)
        .await
        .unwrap();
    assert_eq!(got.items, vec![r]);
}

// ---------------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------------

async fn groups_round_trip_soft_delete_and_purge_with_their_links(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let mut g = groups::Group {
        description: Some("Builders".into()),
        mail_enabled: true,
        group_types: vec!["Unified".into()],
        visibility: Some("Private".into()),
        is_assignable_to_role: true,
        ..group(t, "Engineering")
    };
    groups::insert(&mut c, &g).await.unwrap();
    assert_eq!(groups::get(&mut c, t, g.id, false).await.unwrap().as_ref(), Some(&g));

    g.display_name = "Engineering (all)".into();
    g.group_types = vec![];
    g.visibility = None;
    groups::update(&mut c, &g).await.unwrap();
    assert_eq!(groups::get(&mut c, t, g.id, false).await.unwrap().as_ref(), Some(&g));

    let parent = add_group(&store, t, "Everyone").await;
    let u = add_user(&store, t, "alice").await;
    groups::add_link(&mut c, Relation::Members, g.id, u.id, ObjectKind::User).await.unwrap();
    groups::add_link(&mut c, Relation::Owners, g.id, u.id, ObjectKind::User).await.unwrap();
    groups::add_link(&mut c, Relation::Members, parent.id, g.id, ObjectKind::Group).await.unwrap();

    g.deleted_at = Some(NOW + 3);
    groups::update(&mut c, &g).await.unwrap();
    assert_eq!(groups::get(&mut c, t, g.id, false).await.unwrap(), None);
    assert_eq!(groups::get(&mut c, t, g.id, true).await.unwrap().as_ref(), Some(&g));
    assert!(groups::member_of(&mut c, t, u.id).await.unwrap().is_empty(), "a deleted group has no members to show");

    assert!(groups::purge(&mut c, t, g.id).await.unwrap());
    assert_eq!(groups::get(&mut c, t, g.id, true).await.unwrap(), None);
    assert_eq!(groups::count_links(&mut c, Relation::Members, g.id).await.unwrap(), 0);
    assert_eq!(groups::count_links(&mut c, Relation::Owners, g.id).await.unwrap(), 0);
    assert!(groups::links(&mut c, Relation::Members, parent.id).await.unwrap().is_empty(), "it left its parent group");
    assert!(!groups::purge(&mut c, t, g.id).await.unwrap());
}

async fn adding_a_link_twice_returns_false_and_removing_reports_existence(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let g = add_group(&store, t, "Engineering").await;
    let u = add_user(&store, t, "alice").await;
    let sub = add_group(&store, t, "Platform").await;
    let (_, s) = add_app(&store, t, "Robot").await;

    assert!(groups::add_link(&mut c, Relation::Members, g.id, u.id, ObjectKind::User).await.unwrap());
    assert!(!groups::add_link(&mut c, Relation::Members, g.id, u.id, ObjectKind::User).await.unwrap());
    assert!(groups::add_link(&mut c, Relation::Members, g.id, sub.id, ObjectKind::Group).await.unwrap());
    assert!(groups::add_link(&mut c, Relation::Members, g.id, s.id, ObjectKind::ServicePrincipal).await.unwrap());
    assert!(
        groups::add_link(&mut c, Relation::Owners, g.id, u.id, ObjectKind::User).await.unwrap(),
        "owners are a separate relation"
    );
    assert_eq!(groups::count_links(&mut c, Relation::Members, g.id).await.unwrap(), 3);
    assert_eq!(groups::count_links(&mut c, Relation::Owners, g.id).await.unwrap(), 1);

    let mut want = vec![(u.id, ObjectKind::User), (sub.id, ObjectKind::Group), (s.id, ObjectKind::ServicePrincipal)];
    want.sort_by_key(|(id, _)| id.to_string());
    assert_eq!(groups::links(&mut c, Relation::Members, g.id).await.unwrap(), want);
    for kind in [ObjectKind::User, ObjectKind::Group, ObjectKind::ServicePrincipal] {
        assert_eq!(ObjectKind::parse(kind.as_str()), Some(kind));
    }

    assert!(groups::remove_link(&mut c, Relation::Members, g.id, u.id).await.unwrap());
    assert!(!groups::remove_link(&mut c, Relation::Members, g.id, u.id).await.unwrap());
    assert_eq!(groups::count_links(&mut c, Relation::Members, g.id).await.unwrap(), 2);
    assert_eq!(
        groups::links(&mut c, Relation::Owners, g.id).await.unwrap(),
        vec![(u.id, ObjectKind::User)],
        "ownership is untouched"
    );
}

async fn transitive_members_follow_nesting_and_terminate_on_cycles(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let [a, b, d] = [add_group(&store, t, "A").await, add_group(&store, t, "B").await, add_group(&store, t, "C").await];
    let [u1, u2, u3] =
        [add_user(&store, t, "u1").await, add_user(&store, t, "u2").await, add_user(&store, t, "u3").await];
    for (g, m, k) in [
        (a.id, u1.id, ObjectKind::User),
        (a.id, b.id, ObjectKind::Group),
        (b.id, u2.id, ObjectKind::User),
        (b.id, a.id, ObjectKind::Group), // A in B and B in A
        (b.id, d.id, ObjectKind::Group),
        (d.id, u3.id, ObjectKind::User),
    ] {
        assert!(groups::add_link(&mut c, Relation::Members, g, m, k).await.unwrap());
    }
    let sorted = |mut v: Vec<(ObjectId, ObjectKind)>| {
        v.sort_by_key(|(id, _)| id.to_string());
        v
    };
    let of_a = tokio::time::timeout(Duration::from_secs(10), groups::transitive_members(&mut c, a.id))
        .await
        .expect("terminates")
        .unwrap();
    assert_eq!(
        of_a,
        sorted(vec![
            (u1.id, ObjectKind::User),
            (b.id, ObjectKind::Group),
            (u2.id, ObjectKind::User),
            (d.id, ObjectKind::Group),
            (u3.id, ObjectKind::User)
        ]),
        "a group is never its own member"
    );
    let of_b = groups::transitive_members(&mut c, b.id).await.unwrap();
    assert_eq!(
        of_b,
        sorted(vec![
            (u1.id, ObjectKind::User),
            (a.id, ObjectKind::Group),
            (u2.id, ObjectKind::User),
            (d.id, ObjectKind::Group),
            (u3.id, ObjectKind::User)
        ])
    );
    assert_eq!(groups::transitive_members(&mut c, d.id).await.unwrap(), vec![(u3.id, ObjectKind::User)]);

    let ids = |mut v: Vec<ObjectId>| {
        v.sort_by_key(|id| id.to_string());
        v
    };
    assert_eq!(groups::member_of(&mut c, t, u3.id).await.unwrap(), vec![d.id]);
    assert_eq!(groups::transitive_member_of(&mut c, t, u3.id).await.unwrap(), ids(vec![a.id, b.id, d.id]));
    assert_eq!(
        groups::transitive_member_of(&mut c, t, a.id).await.unwrap(),
        vec![b.id],
        "not itself, despite the cycle"
    );
    assert_eq!(groups::transitive_member_of(&mut c, t, u1.id).await.unwrap(), ids(vec![a.id, b.id]));
}

async fn member_of_and_owned_groups_list_live_groups_only(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let u = add_user(&store, t, "alice").await;
    let live = add_group(&store, t, "Live").await;
    let also = add_group(&store, t, "Also").await;
    let mut gone = add_group(&store, t, "Gone").await;
    for g in [&live, &also, &gone] {
        groups::add_link(&mut c, Relation::Members, g.id, u.id, ObjectKind::User).await.unwrap();
    }
    for g in [&live, &gone] {
        groups::add_link(&mut c, Relation::Owners, g.id, u.id, ObjectKind::User).await.unwrap();
    }
    gone.deleted_at = Some(NOW);
    groups::update(&mut c, &gone).await.unwrap();

    let mut want = vec![live.id, also.id];
    want.sort_by_key(|id| id.to_string());
    assert_eq!(groups::member_of(&mut c, t, u.id).await.unwrap(), want);
    assert_eq!(groups::transitive_member_of(&mut c, t, u.id).await.unwrap(), want);
    assert_eq!(groups::owned_groups(&mut c, t, u.id).await.unwrap(), vec![live.id]);
    assert!(groups::owned_groups(&mut c, t, ObjectId::new()).await.unwrap().is_empty());
}

async fn resolve_object_tells_users_groups_and_service_principals_apart(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let u = add_user(&store, t, "alice").await;
    let g = add_group(&store, t, "Engineering").await;
    let (a, mut s) = add_app(&store, t, "Robot").await;
    assert_eq!(groups::resolve_object(&mut c, t, u.id).await.unwrap(), Some(ObjectKind::User));
    assert_eq!(groups::resolve_object(&mut c, t, g.id).await.unwrap(), Some(ObjectKind::Group));
    assert_eq!(groups::resolve_object(&mut c, t, s.id).await.unwrap(), Some(ObjectKind::ServicePrincipal));
    assert_eq!(
        groups::resolve_object(&mut c, t, a.id).await.unwrap(),
        None,
        "an application is not a directory member"
    );
    assert_eq!(groups::resolve_object(&mut c, t, ObjectId::new()).await.unwrap(), None);
    s.deleted_at = Some(NOW);
    apps::update_sp(&mut c, &s).await.unwrap();
    assert_eq!(groups::resolve_object(&mut c, t, s.id).await.unwrap(), None);
}

async fn groups_get_many_preserves_the_requested_order(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let [a, b, d] = [add_group(&store, t, "A").await, add_group(&store, t, "B").await, add_group(&store, t, "C").await];
    let mut gone = add_group(&store, t, "Gone").await;
    gone.deleted_at = Some(NOW);
    groups::update(&mut c, &gone).await.unwrap();
    let got = groups::get_many(&mut c, t, &[d.id, gone.id, a.id, ObjectId::new(), b.id]).await.unwrap();
    assert_eq!(got, vec![d, a, b]);
    assert!(groups::get_many(&mut c, t, &[]).await.unwrap().is_empty());
}

async fn forget_object_removes_every_link_and_assignment_of_an_object(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let (_, robot) = add_app(&store, t, "Robot").await;
    let (_, api) = add_app(&store, t, "Api").await;
    let g = add_group(&store, t, "Engineering").await;
    let u = add_user(&store, t, "alice").await;
    groups::add_link(&mut c, Relation::Members, g.id, robot.id, ObjectKind::ServicePrincipal).await.unwrap();
    groups::add_link(&mut c, Relation::Members, g.id, u.id, ObjectKind::User).await.unwrap();
    groups::add_link(&mut c, Relation::Owners, g.id, robot.id, ObjectKind::ServicePrincipal).await.unwrap();
    apps::insert_assignment(
        &mut c,
        &apps::AppRoleAssignment {
            principal_type: "ServicePrincipal".into(),
            ..assignment(t, robot.id, api.id, "11111111-1111-1111-1111-111111111111")
        },
    )
    .await
    .unwrap();
    apps::insert_assignment(&mut c, &assignment(t, u.id, robot.id, "22222222-2222-2222-2222-222222222222"))
        .await
        .unwrap();
    roles::insert(&mut c, &role(t, robot.id, "62e90394-69f5-4237-9190-012177145e10")).await.unwrap();

    groups::forget_object(&mut c, t, robot.id).await.unwrap();
    assert_eq!(groups::links(&mut c, Relation::Members, g.id).await.unwrap(), vec![(u.id, ObjectKind::User)]);
    assert_eq!(groups::count_links(&mut c, Relation::Owners, g.id).await.unwrap(), 0);
    assert!(apps::assignments(&mut c, t, Side::Principal, robot.id).await.unwrap().is_empty());
    assert!(
        apps::assignments(&mut c, t, Side::Resource, robot.id).await.unwrap().is_empty(),
        "assignments on it go too"
    );
    assert!(roles::roles_of(&mut c, t, robot.id).await.unwrap().is_empty());
    assert_eq!(
        apps::get_sp(&mut c, t, robot.id).await.unwrap().map(|s| s.id),
        Some(robot.id),
        "the object itself stays"
    );
}

// ---------------------------------------------------------------------------------------------
// Applications
// ---------------------------------------------------------------------------------------------

async fn applications_round_trip_and_are_found_by_app_id(store: Store) {
    let (t, other) = two_tenants(&store).await;
    let mut c = conn(&store).await;
    let mut a = apps::Application {
        description: Some("Pays people".into()),
        identifier_uris: vec!["api://payroll".into()],
        web: json!({"redirectUris": ["https://payroll.test/cb"], "implicitGrantSettings": {"enableIdTokenIssuance": false}}),
        spa: json!({"redirectUris": ["https://payroll.test/spa"]}),
        public_client: json!({"redirectUris": []}),
        api: json!({"oauth2PermissionScopes": [{"value": "read"}]}),
        app_roles: json!([{"value": "Admin"}]),
        required_resource_access: json!([{"resourceAppId": "00000003-0000-0000-c000-000000000000"}]),
        ..app(t, "Payroll")
    };
    apps::insert_app(&mut c, &a).await.unwrap();
    assert_eq!(apps::get_app(&mut c, t, a.id, false).await.unwrap().as_ref(), Some(&a));
    assert_eq!(apps::get_app_by_app_id(&mut c, t, &a.app_id.to_uppercase()).await.unwrap().as_ref(), Some(&a));
    assert_eq!(apps::get_app_by_app_id(&mut c, t, &uuid::Uuid::new_v4().to_string()).await.unwrap(), None);

    a.display_name = "Payroll v2".into();
    a.sign_in_audience = "AzureADMultipleOrgs".into();
    a.app_roles = json!([]);
    let original_created = a.created_at;
    a.created_at += 1000;
    apps::update_app(&mut c, &a).await.unwrap();
    a.created_at = original_created;
    assert_eq!(apps::get_app(&mut c, t, a.id, false).await.unwrap().as_ref(), Some(&a));

    // A client id is unique across the deployment.
    let copy = apps::Application { id: ObjectId::new(), tenant_id: other, ..a.clone() };
    assert!(matches!(apps::insert_app(&mut c, &copy).await, Err(StoreError::Conflict(_))));

    a.deleted_at = Some(NOW + 9);
    apps::update_app(&mut c, &a).await.unwrap();
    assert_eq!(apps::get_app(&mut c, t, a.id, false).await.unwrap(), None);
    assert_eq!(apps::get_app(&mut c, t, a.id, true).await.unwrap().as_ref(), Some(&a));
    assert_eq!(apps::get_app_by_app_id(&mut c, t, &a.app_id).await.unwrap(), None);
    assert_eq!(apps::get_app_by_identifier_uri(&mut c, t, "api://payroll").await.unwrap(), None);
    assert!(apps::purge_app(&mut c, t, a.id).await.unwrap());
    assert_eq!(apps::get_app(&mut c, t, a.id, true).await.unwrap(), None);
    assert!(!apps::purge_app(&mut c, t, a.id).await.unwrap());
}

async fn identifier_uri_lookup_is_an_exact_match(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let mut orders = app(t, "Orders");
    orders.identifier_uris = vec!["api://contoso.test/orders".into(), "https://contoso.test/orders_api".into()];
    apps::insert_app(&mut c, &orders).await.unwrap();
    let mut longer = app(t, "Orders admin");
    longer.identifier_uris = vec!["api://contoso.test/orders-admin".into()];
    apps::insert_app(&mut c, &longer).await.unwrap();

    let find = |uri: &'static str| {
        let store = store.clone();
        async move { apps::get_app_by_identifier_uri(&mut *conn(&store).await, t, uri).await.unwrap().map(|a| a.id) }
    };
    assert_eq!(find("api://contoso.test/orders").await, Some(orders.id));
    assert_eq!(find("https://contoso.test/orders_api").await, Some(orders.id));
    assert_eq!(find("api://contoso.test/orders-admin").await, Some(longer.id));
    for miss in [
        "api://contoso.test/order",
        "contoso.test/orders",
        "api://contoso.test/orders/",
        "api://contoso.test/orders-",
        "api://contoso%",
        "https://contoso.test/orders-api",
        "https://contoso.test/orders_ap_",
        "",
    ] {
        assert_eq!(find(miss).await, None, "{miss:?} matched");
    }
}

async fn client_secrets_are_added_listed_and_deleted(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let (a, _) = add_app(&store, t, "Payroll").await;
    let (b, _) = add_app(&store, t, "Other").await;
    let later = password(&a, NOW + 100);
    let earlier = apps::PasswordCredential { display_name: None, ..password(&a, NOW) };
    apps::insert_password(&mut c, &later).await.unwrap();
    apps::insert_password(&mut c, &earlier).await.unwrap();
    apps::insert_password(&mut c, &password(&b, NOW)).await.unwrap();

    assert_eq!(apps::passwords(&mut c, t, a.id).await.unwrap(), vec![earlier.clone(), later.clone()], "by start time");
    assert!(apps::delete_password(&mut c, t, a.id, later.key_id).await.unwrap());
    assert!(!apps::delete_password(&mut c, t, a.id, later.key_id).await.unwrap());
    assert!(!apps::delete_password(&mut c, t, b.id, earlier.key_id).await.unwrap(), "another app's secret");
    assert_eq!(apps::passwords(&mut c, t, a.id).await.unwrap(), vec![earlier]);

    assert!(apps::purge_app(&mut c, t, a.id).await.unwrap());
    assert!(apps::passwords(&mut c, t, a.id).await.unwrap().is_empty(), "secrets go with the application");
    assert_eq!(apps::passwords(&mut c, t, b.id).await.unwrap().len(), 1);
}

async fn service_principals_round_trip_and_are_one_per_application_per_tenant(store: Store) {
    let (t, other) = two_tenants(&store).await;
    let mut c = conn(&store).await;
    let a = app(t, "Payroll");
    apps::insert_app(&mut c, &a).await.unwrap();
    let mut s = apps::ServicePrincipal {
        tags: vec!["WindowsAzureActiveDirectoryIntegratedApp".into()],
        app_role_assignment_required: true,
        ..sp(&a)
    };
    apps::insert_sp(&mut c, &s).await.unwrap();
    assert_eq!(apps::get_sp(&mut c, t, s.id).await.unwrap().as_ref(), Some(&s));
    assert_eq!(apps::get_sp_by_app_id(&mut c, t, &a.app_id.to_uppercase()).await.unwrap().as_ref(), Some(&s));

    let twin = apps::ServicePrincipal { id: ObjectId::new(), ..s.clone() };
    assert!(matches!(apps::insert_sp(&mut c, &twin).await, Err(StoreError::Conflict(_))));
    // The same application gets its own principal in another tenant.
    let elsewhere = apps::ServicePrincipal { id: ObjectId::new(), tenant_id: other, application_id: None, ..s.clone() };
    apps::insert_sp(&mut c, &elsewhere).await.unwrap();
    assert_eq!(apps::get_sp_by_app_id(&mut c, other, &a.app_id).await.unwrap().as_ref(), Some(&elsewhere));

    s.display_name = "Payroll (prod)".into();
    s.tags = vec![];
    s.account_enabled = false;
    s.app_role_assignment_required = false;
    apps::update_sp(&mut c, &s).await.unwrap();
    assert_eq!(apps::get_sp(&mut c, t, s.id).await.unwrap().as_ref(), Some(&s));

    let u = add_user(&store, t, "alice").await;
    apps::insert_assignment(&mut c, &assignment(t, u.id, s.id, "11111111-1111-1111-1111-111111111111")).await.unwrap();
    assert!(apps::purge_sp(&mut c, t, s.id).await.unwrap());
    assert_eq!(apps::get_sp(&mut c, t, s.id).await.unwrap(), None);
    assert!(apps::assignments(&mut c, t, Side::Principal, u.id).await.unwrap().is_empty(), "assignments on it go too");
    assert!(!apps::purge_sp(&mut c, t, s.id).await.unwrap());
    // With the old principal purged the application can get a new one.
    apps::insert_sp(&mut c, &twin).await.unwrap();
}

async fn a_soft_deleted_service_principal_is_found_by_client_id_and_restored(store: Store) {
    let (t, other) = two_tenants(&store).await;
    let mut c = conn(&store).await;
    let (_, mut s) = add_app(&store, t, "Payroll").await;
    assert!(apps::deleted_sp_ids(&mut c, t, &s.app_id).await.unwrap().is_empty(), "a live principal is not deleted");

    s.deleted_at = Some(NOW + 1);
    apps::update_sp(&mut c, &s).await.unwrap();
    assert_eq!(apps::deleted_sp_ids(&mut c, t, &s.app_id).await.unwrap(), vec![s.id.to_string()]);
    assert!(apps::deleted_sp_ids(&mut c, other, &s.app_id).await.unwrap().is_empty());

    apps::restore_sp(&mut c, other, s.id).await.unwrap();
    assert_eq!(apps::get_sp(&mut c, t, s.id).await.unwrap(), None, "another tenant cannot restore it");
    apps::restore_sp(&mut c, t, s.id).await.unwrap();
    s.deleted_at = None;
    assert_eq!(apps::get_sp(&mut c, t, s.id).await.unwrap().as_ref(), Some(&s));
    assert!(apps::deleted_sp_ids(&mut c, t, &s.app_id).await.unwrap().is_empty());
}

async fn app_role_assignments_are_listed_by_side_and_duplicates_conflict(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let u = add_user(&store, t, "alice").await;
    let g = add_group(&store, t, "Engineering").await;
    let (_, api) = add_app(&store, t, "Api").await;
    let (_, other_api) = add_app(&store, t, "Other").await;
    let r1 = "BBBBBBBB-1111-1111-1111-111111111111";
    let r2 = "aaaaaaaa-2222-2222-2222-222222222222";
    let a1 = apps::AppRoleAssignment { created_at: NOW + 1, ..assignment(t, u.id, api.id, r1) };
    let a2 = apps::AppRoleAssignment {
        principal_type: "Group".into(),
        created_at: NOW + 2,
        ..assignment(t, g.id, api.id, r2)
    };
    let a3 = apps::AppRoleAssignment { created_at: NOW + 3, ..assignment(t, u.id, api.id, r2) };
    let a4 = apps::AppRoleAssignment { created_at: NOW + 4, ..assignment(t, u.id, other_api.id, r1) };
    for a in [&a1, &a2, &a3, &a4] {
        apps::insert_assignment(&mut c, a).await.unwrap();
    }
    let dup = apps::AppRoleAssignment { id: ObjectId::new(), app_role_id: r1.to_lowercase(), ..a1.clone() };
    assert!(
        matches!(apps::insert_assignment(&mut c, &dup).await, Err(StoreError::Conflict(_))),
        "same role id in another case"
    );

    let stored = |a: &apps::AppRoleAssignment| apps::AppRoleAssignment {
        app_role_id: a.app_role_id.to_lowercase(),
        ..a.clone()
    };
    assert_eq!(
        apps::get_assignment(&mut c, t, a1.id).await.unwrap(),
        Some(stored(&a1)),
        "role ids are stored lowercase"
    );
    assert_eq!(
        apps::assignments(&mut c, t, Side::Principal, u.id).await.unwrap(),
        vec![stored(&a1), stored(&a3), stored(&a4)]
    );
    assert_eq!(
        apps::assignments(&mut c, t, Side::Resource, api.id).await.unwrap(),
        vec![stored(&a1), stored(&a2), stored(&a3)]
    );
    assert_eq!(apps::granted_roles(&mut c, t, u.id, api.id).await.unwrap(), vec![r2.to_string(), r1.to_lowercase()]);
    assert_eq!(apps::granted_roles(&mut c, t, g.id, api.id).await.unwrap(), vec![r2.to_string()]);
    assert!(apps::granted_roles(&mut c, t, g.id, other_api.id).await.unwrap().is_empty());

    assert!(apps::delete_assignment(&mut c, t, a3.id).await.unwrap());
    assert!(!apps::delete_assignment(&mut c, t, a3.id).await.unwrap());
    assert_eq!(apps::get_assignment(&mut c, t, a3.id).await.unwrap(), None);
    assert_eq!(apps::granted_roles(&mut c, t, u.id, api.id).await.unwrap(), vec![r1.to_lowercase()]);
}

// ---------------------------------------------------------------------------------------------
// Roles, keys, audit
// ---------------------------------------------------------------------------------------------

async fn role_assignments_are_inserted_read_deleted_and_summarised(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let u = add_user(&store, t, "alice").await;
    let admin = "62E90394-69F5-4237-9190-012177145E10";
    let reader = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";
    let a = role(t, u.id, admin);
    roles::insert(&mut c, &a).await.unwrap();
    let stored = roles::RoleAssignment { role_definition_id: admin.to_lowercase(), ..a.clone() };
    assert_eq!(roles::get(&mut c, t, a.id).await.unwrap(), Some(stored));

    let dup = roles::RoleAssignment { id: ObjectId::new(), ..role(t, u.id, &admin.to_lowercase()) };
    assert!(matches!(roles::insert(&mut c, &dup).await, Err(StoreError::Conflict(_))));
    let scoped = roles::RoleAssignment { directory_scope_id: "/administrativeUnits/x".into(), ..role(t, u.id, admin) };
    roles::insert(&mut c, &scoped).await.unwrap();
    let r = role(t, u.id, reader);
    roles::insert(&mut c, &r).await.unwrap();
    assert_eq!(
        roles::roles_of(&mut c, t, u.id).await.unwrap(),
        vec![admin.to_lowercase(), reader.to_string()],
        "distinct and sorted"
    );

    assert!(roles::delete(&mut c, t, r.id).await.unwrap());
    assert!(!roles::delete(&mut c, t, r.id).await.unwrap());
    assert_eq!(roles::get(&mut c, t, r.id).await.unwrap(), None);
    assert_eq!(roles::roles_of(&mut c, t, u.id).await.unwrap(), vec![admin.to_lowercase()]);
}

async fn a_retired_key_stays_published_until_it_expires(store: Store) {
    let (t, other) = two_tenants(&store).await;
    let mut c = conn(&store).await;
    assert_eq!(keys::active(&store, t).await.unwrap(), None);
    let k1 = key(t, "k1", 100);
    keys::insert(&mut c, &k1).await.unwrap();
    let theirs = key(other, "theirs", 100);
    keys::insert(&mut c, &theirs).await.unwrap();
    assert_eq!(keys::active(&store, t).await.unwrap().as_ref(), Some(&k1));
    assert_eq!(keys::published(&store, t, 150).await.unwrap(), vec![k1.clone()]);

    // Rotation: retire k1 at 1000, published until 2000; k2 signs from now on.
    assert_eq!(keys::retire_active(&mut c, t, 1000, 2000).await.unwrap(), 1);
    assert_eq!(keys::retire_active(&mut c, t, 1000, 2000).await.unwrap(), 0, "nothing active left to retire");
    assert_eq!(keys::active(&store, t).await.unwrap(), None);
    let k2 = key(t, "k2", 1000);
    keys::insert(&mut c, &k2).await.unwrap();
    let retired = keys::SigningKey { active: false, retired_at: Some(1000), expires_at: Some(2000), ..k1.clone() };
    assert_eq!(keys::active(&store, t).await.unwrap().as_ref(), Some(&k2));
    assert_eq!(keys::published(&store, t, 1500).await.unwrap(), vec![k2.clone(), retired.clone()], "active first");
    assert_eq!(keys::published(&store, t, 1999).await.unwrap(), vec![k2.clone(), retired]);
    assert_eq!(keys::published(&store, t, 2000).await.unwrap(), vec![k2.clone()], "not after expires_at");

    assert_eq!(keys::prune(&mut c, 1999).await.unwrap(), 0);
    assert_eq!(keys::prune(&mut c, 2000).await.unwrap(), 1);
    assert_eq!(keys::published(&store, t, 0).await.unwrap(), vec![k2.clone()], "the pruned key is gone for good");
    assert_eq!(keys::active(&store, other).await.unwrap().as_ref(), Some(&theirs), "other tenants are untouched");
}

async fn audit_entries_round_trip(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let e = audit::AuditEntry {
        result: "failure".into(),
        result_reason: Some("Quota exceeded".into()),
        operation_type: "Delete".into(),
        additional_details: json!([{"key": "User-Agent", "value": "curl"}]),
        ..audit(t, NOW, "UserManagement", "Delete user")
    };
    audit::insert(&mut c, &e).await.unwrap();
    assert_eq!(audit::get(&mut c, t, e.id).await.unwrap().as_ref(), Some(&e));
    assert_eq!(audit::get(&mut c, t, ObjectId::new()).await.unwrap(), None);
}

async fn audit_entries_list_by_activity_time_and_category(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let mut c = conn(&store).await;
    let mut entries = Vec::new();
    for (i, (m, category)) in [
        (1, "UserManagement"),
        (2, "GroupManagement"),
        (3, "UserManagement"),
        (4, "UserManagement"),
        (5, "KeyManagement"),
        (6, "UserManagement"),
    ]
    .into_iter()
    .enumerate()
    {
        let e = audit(t, day(2024, m, 1) + i as i64, category, "Something");
        audit::insert(&mut c, &e).await.unwrap();
        entries.push(e);
    }
    let f = portico_odata::filter(
        "activityDateTime ge 2024-03-01T00:00:00Z and category eq 'usermanagement'",
        &schema::DIRECTORY_AUDIT,
        store.dialect(),
        1,
    )
    .unwrap();
    // Newest first, two a page: the integer sort key goes through the token.
    let l = List {
        order: vec![("activity_at", true)],
        top: 2,
        ..list("audit_logs", audit::COLUMNS, vec![in_tenant(t, false), f.into()])
    };
    let pages = all_pages(&store, l, audit::from_row).await.unwrap();
    assert_eq!(pages.iter().map(|p| p.items.len()).collect::<Vec<_>>(), vec![2, 1]);
    let got: Vec<audit::AuditEntry> = pages.into_iter().flat_map(|p| p.items).collect();
    assert_eq!(got, vec![entries[5].clone(), entries[3].clone(), entries[2].clone()]);

    let f = portico_odata::filter(
        "activityDateTime lt 2024-02-15T00:00:00Z or startsWith(category,'KEY')",
        &schema::DIRECTORY_AUDIT,
        store.dialect(),
        1,
    )
    .unwrap();
    let l = List {
        order: vec![("activity_at", false)],
        ..list("audit_logs", audit::COLUMNS, vec![in_tenant(t, false), f.into()])
    };
    let got = l.run(&store, audit::from_row).await.unwrap().items;
    assert_eq!(got, vec![entries[0].clone(), entries[1].clone(), entries[4].clone()]);
}

// ---------------------------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------------------------

async fn a_dropped_transaction_leaves_nothing_behind(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let u = full_user(t, "alice");
    {
        let mut tx = store.begin().await.unwrap();
        users::insert(&mut tx, &u).await.unwrap();
        audit::insert(&mut tx, &audit(t, NOW, "UserManagement", "Add user")).await.unwrap();
        store.set_setting(&mut tx, "k", "v").await.unwrap();
        assert!(
            users::get(&mut tx, t, u.id, Deleted::Exclude).await.unwrap().is_some(),
            "visible inside the transaction"
        );
        drop(tx);
    }
    let mut c = conn(&store).await;
    assert_eq!(users::get(&mut c, t, u.id, Deleted::Exclude).await.unwrap(), None);
    assert_eq!(store.setting("k").await.unwrap(), None);
    let logged =
        list("audit_logs", audit::COLUMNS, vec![in_tenant(t, false)]).run(&store, audit::from_row).await.unwrap();
    assert!(logged.items.is_empty());
    drop(c);

    // The write lock went with it: the same write commits now.
    let mut tx = tokio::time::timeout(Duration::from_secs(5), store.begin())
        .await
        .expect("the write lock was released")
        .unwrap();
    users::insert(&mut tx, &u).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(users::get(&mut *conn(&store).await, t, u.id, Deleted::Exclude).await.unwrap().as_ref(), Some(&u));
}

async fn uncommitted_writes_are_invisible_to_other_connections(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let u = user(t, "alice");
    let mut tx = store.begin().await.unwrap();
    users::insert(&mut tx, &u).await.unwrap();
    let mut c = conn(&store).await;
    assert_eq!(users::get(&mut c, t, u.id, Deleted::Exclude).await.unwrap(), None);
    tx.commit().await.unwrap();
    assert_eq!(users::get(&mut c, t, u.id, Deleted::Exclude).await.unwrap().map(|x| x.id), Some(u.id));

    let v = user(t, "bob");
    let mut tx = store.begin().await.unwrap();
    users::insert(&mut tx, &v).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(users::get(&mut c, t, v.id, Deleted::Exclude).await.unwrap(), None);
}

async fn concurrent_write_transactions_queue_and_all_commit(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let u = user(t, &format!("writer{i}"));
                let mut tx = store.begin().await?;
                // Read first, then write, then hold the transaction a moment: the pattern that
                // makes deferred SQLite transactions fail with SQLITE_BUSY.
                assert!(users::get_by_upn(&mut tx, t, &u.user_principal_name).await?.is_none());
                users::insert(&mut tx, &u).await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
                tx.commit().await?;
                Ok::<_, StoreError>(u.id)
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.expect("task panicked").expect("transaction failed"));
    }
    let found = users::get_many(&mut *conn(&store).await, t, &ids).await.unwrap();
    assert_eq!(found.iter().map(|u| u.id).collect::<Vec<_>>(), ids);
    assert_eq!(found.len(), 8);
}

async fn the_token_lookup_reads_client_service_principal_and_secrets_together(store: Store) {
    let t = common::add_tenant(&store, "Contoso").await;
    let other = common::add_tenant(&store, "Fabrikam").await;
    let (a, s) = common::add_app(&store, t, "client").await;
    let mut c = common::conn(&store).await;
    let p1 = common::password(&a, 1_000);
    let p2 = common::password(&a, 2_000);
    portico_store::apps::insert_password(&mut c, &p1).await.unwrap();
    portico_store::apps::insert_password(&mut c, &p2).await.unwrap();
    let found =
        portico_store::apps::client_for_token(&mut c, t, &a.app_id.to_uppercase()).await.unwrap().expect("found");
    assert_eq!(found.application_id, a.id);
    assert_eq!(found.service_principal, Some((s.id, true)));
    let mut digests: Vec<_> = found.secrets.iter().map(|(d, _, _)| d.clone()).collect();
    digests.sort();
    let mut want = vec![p1.secret_digest.clone(), p2.secret_digest.clone()];
    want.sort();
    assert_eq!(digests, want);
    // Another tenant sees nothing; an app without secrets or service principal still answers.
    assert!(portico_store::apps::client_for_token(&mut c, other, &a.app_id).await.unwrap().is_none());
    let lone = common::app(t, "lone");
    portico_store::apps::insert_app(&mut c, &lone).await.unwrap();
    let found = portico_store::apps::client_for_token(&mut c, t, &lone.app_id).await.unwrap().expect("found");
    assert_eq!(found.service_principal, None);
    assert!(found.secrets.is_empty());
}

async fn the_resource_lookup_returns_only_the_principals_own_grants(store: Store) {
    let t = common::add_tenant(&store, "Contoso").await;
    let (_, resource) = common::add_app(&store, t, "api").await;
    let (_, client) = common::add_app(&store, t, "client").await;
    let (_, bystander) = common::add_app(&store, t, "bystander").await;
    let mut c = common::conn(&store).await;
    for (principal, role) in [
        (client.id, "11111111-1111-1111-1111-111111111111"),
        (client.id, "22222222-2222-2222-2222-222222222222"),
        (bystander.id, "33333333-3333-3333-3333-333333333333"),
    ] {
        let a = portico_store::apps::AppRoleAssignment {
            id: ObjectId::new(),
            tenant_id: t,
            app_role_id: role.into(),
            principal_id: principal,
            principal_type: "ServicePrincipal".into(),
            resource_id: resource.id,
            created_at: 1,
        };
        portico_store::apps::insert_assignment(&mut c, &a).await.unwrap();
    }
    let (sp, granted) = portico_store::apps::resource_with_grants(&mut c, t, &resource.app_id, client.id)
        .await
        .unwrap()
        .expect("found");
    assert_eq!(sp.id, resource.id);
    assert_eq!(
        granted,
        vec!["11111111-1111-1111-1111-111111111111".to_string(), "22222222-2222-2222-2222-222222222222".to_string()]
    );
    let (_, none) = portico_store::apps::resource_with_grants(&mut c, t, &resource.app_id, resource.id)
        .await
        .unwrap()
        .expect("found");
    assert!(none.is_empty());
    assert!(
        portico_store::apps::resource_with_grants(&mut c, t, "00000000-0000-0000-0000-00000000beef", client.id)
            .await
            .unwrap()
            .is_none()
    );
}

async fn has_active_sees_only_the_tenants_active_key(store: Store) {
    let t = common::add_tenant(&store, "Contoso").await;
    let other = common::add_tenant(&store, "Fabrikam").await;
    let mut c = common::conn(&store).await;
    assert!(!portico_store::keys::has_active(&mut c, t).await.unwrap());
    let k = portico_store::keys::SigningKey {
        kid: "k1".into(),
        tenant_id: t,
        alg: "RS256".into(),
        sealed_private_key: "v1.x".into(),
        public_jwk: "{}".into(),
        created_at: 1,
        active: true,
        retired_at: None,
        expires_at: None,
    };
    portico_store::keys::insert(&mut c, &k).await.unwrap();
    assert!(portico_store::keys::has_active(&mut c, t).await.unwrap());
    assert!(!portico_store::keys::has_active(&mut c, other).await.unwrap());
    portico_store::keys::retire_active(&mut c, t, 2, 3).await.unwrap();
    assert!(!portico_store::keys::has_active(&mut c, t).await.unwrap());
}

async fn passwords_of_groups_secrets_by_application_within_the_tenant(store: Store) {
    let t = common::add_tenant(&store, "Contoso").await;
    let other = common::add_tenant(&store, "Fabrikam").await;
    let (a, _) = common::add_app(&store, t, "a").await;
    let (b, _) = common::add_app(&store, t, "b").await;
    let (c_app, _) = common::add_app(&store, t, "no secrets").await;
    let mut c = common::conn(&store).await;
    for (app, start) in [(&a, 1), (&a, 2), (&b, 3)] {
        portico_store::apps::insert_password(&mut c, &common::password(app, start)).await.unwrap();
    }
    let map = portico_store::apps::passwords_of(&mut c, t, &[a.id, b.id, c_app.id]).await.unwrap();
    assert_eq!(map.get(&a.id).map(Vec::len), Some(2));
    assert_eq!(map.get(&b.id).map(Vec::len), Some(1));
    assert!(!map.contains_key(&c_app.id));
    assert!(portico_store::apps::passwords_of(&mut c, other, &[a.id, b.id]).await.unwrap().is_empty());
    assert!(portico_store::apps::passwords_of(&mut c, t, &[]).await.unwrap().is_empty());
}

async fn get_apps_reads_live_applications_of_the_tenant_only(store: Store) {
    let t = common::add_tenant(&store, "Contoso").await;
    let other = common::add_tenant(&store, "Fabrikam").await;
    let (a, _) = common::add_app(&store, t, "a").await;
    let (mut b, _) = common::add_app(&store, t, "b").await;
    let (foreign, _) = common::add_app(&store, other, "f").await;
    let mut c = common::conn(&store).await;
    b.deleted_at = Some(5);
    portico_store::apps::update_app(&mut c, &b).await.unwrap();
    let map = portico_store::apps::get_apps(&mut c, t, &[a.id, b.id, foreign.id]).await.unwrap();
    assert_eq!(map.len(), 1);
    assert_eq!(map.get(&a.id).map(|x| x.display_name.as_str()), Some("a"));
    assert!(portico_store::apps::get_apps(&mut c, t, &[]).await.unwrap().is_empty());
}
