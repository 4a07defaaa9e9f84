//! Tenant isolation, generated over every route of `portico_http::graph::routes::routes()`.
//!
//! Tenant B gets one object of every kind; tenant A's all-powerful token then calls every route
//! with B's ids in the path (and plausible bodies), and every id-less route with bodies that name
//! B's objects. Nothing may succeed against B, no list may show B's ids, and B's view of its own
//! directory must be byte-for-byte the same afterwards. A route with a path parameter this file
//! has no rule for fails the test, so new routes cannot skip the check.

use portico_core::ids::TenantId;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::common::{Resp, TestApp, all_permissions};

/// Global Administrator: a built-in role definition, the same in every tenant.
pub(crate) const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
/// Guest Inviter.
pub(crate) const GUEST_INVITER: &str = "95e79109-95c0-4d8e-aee3-d01accf2d47b";

/// Routes whose `{id}` names a catalog entry shared by every tenant, not a tenant's object.
const SHARED_CATALOG: &[&str] = &["/roleManagement/directory/roleDefinitions/{id}"];

/// One object of every kind in a tenant, created through the API with that tenant's token.
#[derive(Debug, Clone)]
pub(crate) struct Objects {
    pub tenant: TenantId,
    /// `tenant` as text.
    pub tenant_text: String,
    pub token: String,
    /// A random tag that names this fixture's objects.
    pub tag: String,
    /// The verified custom domain.
    pub domain: String,
    /// A domain added but not verified.
    pub unverified_domain: String,
    /// The client id behind `token`, and its service principal.
    pub client_app_id: String,
    pub client_sp: String,
    /// A user that is a member of `group`.
    pub user: String,
    pub user_upn: String,
    /// A user that owns `group`, and sponsors `user`.
    pub owner: String,
    pub group: String,
    /// An application with a secret and two app roles, and its service principal.
    pub app: String,
    pub app_id: String,
    pub key_id: String,
    pub identifier_uri: String,
    pub sp: String,
    /// App role for users and groups, and app role for applications.
    pub user_role: String,
    pub app_role: String,
    /// `user_role` assigned to `user` and to `group`; `app_role` assigned to `client_sp`.
    pub user_assignment: String,
    pub group_assignment: String,
    pub sp_assignment: String,
    /// Guest Inviter assigned to `user`.
    pub role_assignment: String,
    /// A deleted user and a deleted application (in deleted items).
    pub deleted_user: String,
    pub deleted_app: String,
    /// One audit record.
    pub audit: String,
    /// One sign-in record.
    pub sign_in: String,
    /// A delegated permission grant (admin consent for `client_sp` to Microsoft Graph).
    pub grant: String,
    /// The tenant's Microsoft Graph service principal.
    pub graph_sp: String,
    /// The tenant's b2bManagementPolicy (a domain block list).
    pub b2b_policy: String,
    /// A bulk invitation batch.
    pub invite_batch: String,
    /// An OpenID Connect identity provider routing `oidc_domain`.
    pub oidc_idp: String,
    pub oidc_domain: String,
    /// A SAML direct federation routing `saml_domain`, with issuer `saml_issuer`.
    pub saml: String,
    pub saml_domain: String,
    pub saml_issuer: String,
}

impl Objects {
    /// Every identifier of the tenant's objects, for searching responses of other tenants.
    pub fn identifiers(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("tenant", &self.tenant_text),
            ("domain", &self.domain),
            ("unverified_domain", &self.unverified_domain),
            ("client_app_id", &self.client_app_id),
            ("client_sp", &self.client_sp),
            ("user", &self.user),
            ("user_upn", &self.user_upn),
            ("owner", &self.owner),
            ("group", &self.group),
            ("app", &self.app),
            ("app_id", &self.app_id),
            ("key_id", &self.key_id),
            ("identifier_uri", &self.identifier_uri),
            ("sp", &self.sp),
            ("user_role", &self.user_role),
            ("app_role", &self.app_role),
            ("user_assignment", &self.user_assignment),
            ("group_assignment", &self.group_assignment),
            ("sp_assignment", &self.sp_assignment),
            ("role_assignment", &self.role_assignment),
            ("deleted_user", &self.deleted_user),
            ("deleted_app", &self.deleted_app),
            ("audit", &self.audit),
            ("sign_in", &self.sign_in),
            ("grant", &self.grant),
            ("graph_sp", &self.graph_sp),
            ("b2b_policy", &self.b2b_policy),
            ("invite_batch", &self.invite_batch),
            ("oidc_idp", &self.oidc_idp),
            ("oidc_domain", &self.oidc_domain),
            ("saml", &self.saml),
            ("saml_domain", &self.saml_domain),
            ("saml_issuer", &self.saml_issuer),
        ]
    }
}

/// Creates one object of every kind in `tenant` (whose verified domain is `domain`) with `token`.
pub(crate) async fn populate(app: &TestApp, tenant: TenantId, token: &str, domain: &str) -> Objects {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let ok =
        |r: &Resp, want: StatusCode, what: &str| assert_eq!(r.status, want, "fixture step '{what}' failed: {}", r.text);
    let id = |r: &Resp| r.body["id"].as_str().expect("id").to_string();
    let claims = portico_core::jws::decode_unverified(token).expect("token").claims;
    let client_app_id = claims["appid"].as_str().expect("appid").to_string();
    let client_sp = claims["oid"].as_str().expect("oid").to_string();

    let new_user = |alias: &str| {
        json!({
            "accountEnabled": true,
            "displayName": format!("Isolation {alias}"),
            "mailNickname": alias,
            "userPrincipalName": format!("{alias}@{domain}"),
            "passwordProfile": {"password": "correct horse battery staple", "forceChangePasswordNextSignIn": false}
        })
    };
    let r = app.post_as(token, "/v1.0/users", new_user("isomember")).await;
    ok(&r, StatusCode::CREATED, "user");
    let (user, user_upn) = (id(&r), r.body["userPrincipalName"].as_str().expect("upn").to_string());
    let r = app.post_as(token, "/v1.0/users", new_user("isoowner")).await;
    ok(&r, StatusCode::CREATED, "owner");
    let owner = id(&r);
    let r = app
        .post_as(
            token,
            "/v1.0/groups",
            json!({
                "displayName": "Isolation group", "mailEnabled": false, "mailNickname": "isogroup", "securityEnabled": true,
                "members@odata.bind": [format!("https://graph.microsoft.com/v1.0/directoryObjects/{user}")],
                "owners@odata.bind": [format!("https://graph.microsoft.com/v1.0/directoryObjects/{owner}")],
            }),
        )
        .await;
    ok(&r, StatusCode::CREATED, "group");
    let group = id(&r);

    let (user_role, app_role) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    let identifier_uri = format!("api://isolation-{tag}");
    let r = app
        .post_as(
            token,
            "/v1.0/applications",
            json!({
                "displayName": "Isolation API",
                "identifierUris": [identifier_uri],
                "appRoles": [
                    {"id": user_role, "allowedMemberTypes": ["User"], "displayName": "Reader", "description": "Reads", "value": "Iso.Read", "isEnabled": true},
                    {"id": app_role, "allowedMemberTypes": ["Application"], "displayName": "Daemon", "description": "Daemon", "value": "Iso.Daemon", "isEnabled": true}
                ]
            }),
        )
        .await;
    ok(&r, StatusCode::CREATED, "application");
    let (app_obj, app_id) = (id(&r), r.body["appId"].as_str().expect("appId").to_string());
    let r = app
        .post_as(
            token,
            &format!("/v1.0/applications/{app_obj}/addPassword"),
            json!({"passwordCredential": {"displayName": "iso"}}),
        )
        .await;
    ok(&r, StatusCode::OK, "addPassword");
    let key_id = r.body["keyId"].as_str().expect("keyId").to_string();
    let r = app.post_as(token, "/v1.0/servicePrincipals", json!({"appId": app_id})).await;
    ok(&r, StatusCode::CREATED, "servicePrincipal");
    let sp = id(&r);

    let assign = |principal: &str, role: &str| json!({"principalId": principal, "resourceId": sp, "appRoleId": role});
    let r = app.post_as(token, &format!("/v1.0/users/{user}/appRoleAssignments"), assign(&user, &user_role)).await;
    ok(&r, StatusCode::CREATED, "user app role assignment");
    let user_assignment = id(&r);
    let r = app.post_as(token, &format!("/v1.0/groups/{group}/appRoleAssignments"), assign(&group, &user_role)).await;
    ok(&r, StatusCode::CREATED, "group app role assignment");
    let group_assignment = id(&r);
    let r = app
        .post_as(token, &format!("/v1.0/servicePrincipals/{sp}/appRoleAssignedTo"), assign(&client_sp, &app_role))
        .await;
    ok(&r, StatusCode::CREATED, "service principal app role assignment");
    let sp_assignment = id(&r);

    let r = app
        .post_as(
            token,
            "/v1.0/roleManagement/directory/roleAssignments",
            json!({"principalId": user, "roleDefinitionId": GUEST_INVITER, "directoryScopeId": "/"}),
        )
        .await;
    ok(&r, StatusCode::CREATED, "role assignment");
    let role_assignment = id(&r);

    let unverified_domain = format!("isolation-{tag}.test");
    let r = app.post_as(token, "/v1.0/domains", json!({"id": unverified_domain})).await;
    ok(&r, StatusCode::CREATED, "unverified domain");

    let r = app.post_as(token, "/v1.0/users", new_user("isogone")).await;
    ok(&r, StatusCode::CREATED, "user to delete");
    let deleted_user = id(&r);
    ok(&app.delete_as(token, &format!("/v1.0/users/{deleted_user}")).await, StatusCode::NO_CONTENT, "delete user");
    let r = app.post_as(token, "/v1.0/applications", json!({"displayName": "Isolation gone"})).await;
    ok(&r, StatusCode::CREATED, "application to delete");
    let deleted_app = id(&r);
    ok(
        &app.delete_as(token, &format!("/v1.0/applications/{deleted_app}")).await,
        StatusCode::NO_CONTENT,
        "delete application",
    );

    let r = app
        .patch_as(
            token,
            &format!("/v1.0/organization/{tenant}/branding"),
            json!({"signInPageText": format!("Welcome {tag}")}),
        )
        .await;
    ok(&r, StatusCode::NO_CONTENT, "branding");
    let r = app.get_as(token, "/v1.0/auditLogs/directoryAudits?$top=1").await;
    ok(&r, StatusCode::OK, "audit");
    let audit = r.body["value"][0]["id"].as_str().expect("an audit record").to_string();

    let sign_in = portico_core::ids::ObjectId::new();
    {
        let mut conn = app.state.dir.store.pool().acquire().await.expect("conn");
        let record = portico_store::signins::SignIn {
            id: sign_in,
            tenant_id: tenant,
            created_at: portico_core::clock::to_millis(time::OffsetDateTime::now_utc()),
            user_id: portico_core::ids::ObjectId::parse(&user),
            user_principal_name: Some(user_upn.clone()),
            user_display_name: Some("Isolation isomember".into()),
            app_id: Some(app_id.clone()),
            app_display_name: Some("Isolation API".into()),
            resource_id: None,
            resource_display_name: None,
            ip_address: Some("203.0.113.9".into()),
            client_app_used: "Browser".into(),
            user_agent: None,
            is_interactive: true,
            error_code: 0,
            failure_reason: None,
            additional_details: None,
            authentication_details: json!([]),
            authentication_requirement: "singleFactorAuthentication".into(),
            conditional_access_status: "notApplied".into(),
            home_tenant_id: Some(tenant.to_string()),
            resource_tenant_id: tenant.to_string(),
            correlation_id: portico_core::ids::ObjectId::new().to_string(),
            user_type: Some("member".into()),
            cross_tenant_access_type: "none".into(),
        };
        portico_store::signins::insert(&mut conn, &record).await.expect("sign-in");
    }
    let sign_in = sign_in.to_string();
    let graph_filter = "appId%20eq%20'00000003-0000-0000-c000-000000000000'";
    let r = app.get_as(token, &format!("/v1.0/servicePrincipals?$filter={graph_filter}")).await;
    ok(&r, StatusCode::OK, "Microsoft Graph service principal");
    let graph_sp = r.body["value"][0]["id"].as_str().expect("graph sp").to_string();
    let r = app
        .post_as(
            token,
            "/v1.0/oauth2PermissionGrants",
            json!({"clientId": client_sp, "consentType": "AllPrincipals", "resourceId": graph_sp, "scope": "User.Read"}),
        )
        .await;
    ok(&r, StatusCode::CREATED, "delegated permission grant");
    let grant = id(&r);

    let r = app
        .post_as(
            token,
            &format!("/v1.0/users/{user}/sponsors/$ref"),
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/users/{owner}")}),
        )
        .await;
    ok(&r, StatusCode::NO_CONTENT, "sponsor");
    let definition = json!({"B2BManagementPolicy": {"InvitationsAllowedAndBlockedDomainsPolicy": {
        "BlockedDomains": [format!("blocked-{tag}.example")]
    }}});
    let r = app
        .post_as(
            token,
            "/beta/policies/b2bManagementPolicies",
            json!({"displayName": "Isolation B2B", "definition": [definition.to_string()]}),
        )
        .await;
    ok(&r, StatusCode::CREATED, "b2bManagementPolicy");
    let b2b_policy = id(&r);
    let csv = format!(
        "version:v1.0\nEmail address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required\nbatch-{tag}@partner.test,https://x.test\n"
    );
    let r = app
        .raw(
            app.http
                .post(format!("{}/beta/portico/inviteBatches", app.base))
                .bearer_auth(token)
                .header("Content-Type", "text/csv")
                .body(csv),
        )
        .await;
    ok(&r, StatusCode::ACCEPTED, "invite batch");
    let invite_batch = id(&r);
    // The job worker invites in the background; wait so the snapshots see a settled tenant.
    for _ in 0..200 {
        let r = app.get_as(token, &format!("/beta/portico/inviteBatches/{invite_batch}")).await;
        if r.body["status"].as_str().is_some_and(|s| s.starts_with("completed")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let oidc_domain = format!("oidc-{tag}.example");
    let r = app
        .post_as(
            token,
            "/v1.0/identity/identityProviders",
            json!({
                "@odata.type": "#microsoft.graph.openIdConnectIdentityProvider",
                "displayName": "Isolation OIDC", "clientId": "iso", "clientSecret": "iso-secret",
                "metadataUrl": format!("https://login.{oidc_domain}/.well-known/openid-configuration"),
                "domains": [oidc_domain],
            }),
        )
        .await;
    ok(&r, StatusCode::CREATED, "OpenID Connect identity provider");
    let oidc_idp = id(&r);
    let saml_domain = format!("saml-{tag}.example");
    let saml_issuer = format!("urn:isolation:{tag}");
    let r = app
        .post_as(
            token,
            "/v1.0/directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation",
            json!({
                "displayName": "Isolation SAML", "issuerUri": saml_issuer,
                "passiveSignInUri": format!("https://sts.{saml_domain}/saml"),
                "signingCertificate": portico_saml::testing::TestIdp::new(&saml_issuer).cert_b64(),
                "domains": [{"id": saml_domain}],
            }),
        )
        .await;
    ok(&r, StatusCode::CREATED, "SAML federation");
    let saml = id(&r);
    let r = app
        .patch_as(
            token,
            "/v1.0/policies/crossTenantAccessPolicy/default",
            json!({"invitationRedemptionIdentityProviderConfiguration": {"fallbackIdentityProvider": "emailOneTimePasscode"}}),
        )
        .await;
    ok(&r, StatusCode::NO_CONTENT, "cross-tenant access default");

    Objects {
        tenant,
        tenant_text: tenant.to_string(),
        token: token.to_string(),
        tag,
        domain: domain.to_string(),
        unverified_domain,
        client_app_id,
        client_sp,
        user,
        user_upn,
        owner,
        group,
        app: app_obj,
        app_id,
        key_id,
        identifier_uri,
        sp,
        user_role,
        app_role,
        user_assignment,
        group_assignment,
        sp_assignment,
        role_assignment,
        deleted_user,
        deleted_app,
        audit,
        sign_in,
        grant,
        graph_sp,
        b2b_policy,
        invite_batch,
        oidc_idp,
        oidc_domain,
        saml,
        saml_domain,
        saml_issuer,
    }
}

/// The values a path parameter takes: `first` is the path's first segment, `prev` the segment
/// before the parameter. None: no rule (the caller fails the test).
fn param_values(first: &str, param: &str, prev: &str, o: &Objects) -> Option<Vec<String>> {
    let v = |xs: &[&str]| Some(xs.iter().map(|s| (*s).to_string()).collect());
    match (first, param, prev) {
        ("users", "id", _) => v(&[&o.user, &o.user_upn]),
        ("users", "assignmentId", "appRoleAssignments") => v(&[&o.user_assignment]),
        ("users", "sponsorId", "sponsors") => v(&[&o.owner]),
        ("groups", "id", _) => v(&[&o.group]),
        ("groups", "memberId", "members") => v(&[&o.user]),
        ("groups", "ownerId", "owners") => v(&[&o.owner]),
        ("groups", "cast", "members" | "transitiveMembers") => v(&["microsoft.graph.user", "graph.group"]),
        ("groups", "assignmentId", "appRoleAssignments") => v(&[&o.group_assignment]),
        ("applications", "id", _) => v(&[&o.app]),
        ("servicePrincipals", "id", _) => v(&[&o.sp, &o.client_sp]),
        ("servicePrincipals", "assignmentId", "appRoleAssignedTo" | "appRoleAssignments") => v(&[&o.sp_assignment]),
        ("organization", "id", _) => v(&[&o.tenant_text]),
        ("domains", "id", _) => v(&[&o.domain, &o.unverified_domain]),
        ("roleManagement", "id", "roleDefinitions") => v(&[GLOBAL_ADMINISTRATOR]),
        ("roleManagement", "id", "roleAssignments") => v(&[&o.role_assignment]),
        ("directory", "id", "deletedItems") => v(&[&o.deleted_user, &o.deleted_app]),
        ("auditLogs", "id", "directoryAudits") => v(&[&o.audit]),
        ("auditLogs", "id", "signIns") => v(&[&o.sign_in]),
        ("oauth2PermissionGrants", "id", _) => v(&[&o.grant]),
        ("policies", "id", "b2bManagementPolicies") => v(&[&o.b2b_policy]),
        ("portico", "id", "inviteBatches") => v(&[&o.invite_batch]),
        ("identity", "id", "identityProviders") => v(&[&o.oidc_idp, &o.saml]),
        (
            "directory",
            "id",
            "federationConfigurations"
            | "graph.samlOrWsFedExternalDomainFederation"
            | "microsoft.graph.samlOrWsFedExternalDomainFederation",
        ) => v(&[&o.saml]),
        ("directory", "domainName", "domains") => v(&[&o.saml_domain]),
        _ => None,
    }
}

/// Every concrete `/v1.0` path for a route template, with `o`'s objects in its parameters.
/// Fails (Err) when a parameter has no substitution rule.
pub(crate) fn fill(template: &str, o: &Objects) -> Result<Vec<String>, String> {
    let segs: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let first = segs.first().copied().unwrap_or_default();
    let mut paths = vec!["/v1.0".to_string()];
    for (i, seg) in segs.iter().enumerate() {
        let options = match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            None => vec![(*seg).to_string()],
            Some(param) => {
                let prev = if i > 0 { segs[i - 1] } else { "" };
                param_values(first, param, prev, o).ok_or_else(|| {
                    format!(
                        "route {template}: no substitution rule for path parameter {{{param}}}; add one in isolation.rs"
                    )
                })?
            }
        };
        paths = paths.iter().flat_map(|p| options.iter().map(move |v| format!("{p}/{v}"))).collect();
    }
    Ok(paths)
}

/// What an id-less write with a body naming B's objects must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Refused (4xx): the body names an object of another tenant.
    Refused,
    /// May succeed: the body names nothing of B's (it creates an object in A).
    MaySucceed,
}

fn directory_object(id: &str) -> String {
    format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")
}

/// A plausible body for a write route: with B's ids in the path, a body that would be valid for
/// A's own objects; for id-less routes, a body naming B's objects where the route takes one.
/// Panics for a write route without a rule, so new routes get one.
fn body_for(method: &str, template: &str, a: &Objects, b: &Objects) -> Option<(Value, Expect)> {
    use Expect::*;
    if method != "POST" && method != "PATCH" {
        return None;
    }
    let body = match (method, template) {
        ("POST", "/users") => (
            json!({
                "accountEnabled": true, "displayName": "Intruder", "mailNickname": "intruder",
                "userPrincipalName": format!("intruder@{}", b.domain),
                "passwordProfile": {"password": "correct horse battery staple"}
            }),
            Refused,
        ),
        ("PATCH", "/users/{id}") => (json!({"jobTitle": "pwned", "accountEnabled": false}), Refused),
        ("POST", "/users/{id}/appRoleAssignments") => {
            (json!({"principalId": b.user, "resourceId": a.sp, "appRoleId": a.user_role}), Refused)
        }
        ("POST", "/groups") => (
            json!({
                "displayName": "Intruder group", "mailEnabled": false, "mailNickname": "intrudergroup", "securityEnabled": true,
                "members@odata.bind": [directory_object(&b.user)]
            }),
            Refused,
        ),
        ("PATCH", "/groups/{id}") => (json!({"description": "pwned"}), Refused),
        ("POST", "/groups/{id}/members/$ref") | ("POST", "/groups/{id}/owners/$ref") => {
            (json!({"@odata.id": directory_object(&a.owner)}), Refused)
        }
        ("POST", "/groups/{id}/appRoleAssignments") => {
            (json!({"principalId": b.group, "resourceId": a.sp, "appRoleId": a.user_role}), Refused)
        }
        ("POST", "/applications") => (json!({"displayName": "Isolation app of A"}), MaySucceed),
        ("PATCH", "/applications/{id}") => (json!({"displayName": "pwned"}), Refused),
        ("POST", "/applications/{id}/addPassword") => {
            (json!({"passwordCredential": {"displayName": "pwned"}}), Refused)
        }
        ("POST", "/applications/{id}/removePassword") => (json!({"keyId": b.key_id}), Refused),
        ("POST", "/servicePrincipals") => (json!({"appId": b.app_id}), Refused),
        ("PATCH", "/servicePrincipals/{id}") => (json!({"accountEnabled": false}), Refused),
        ("POST", "/servicePrincipals/{id}/appRoleAssignedTo") => {
            (json!({"principalId": a.client_sp, "resourceId": b.sp, "appRoleId": b.app_role}), Refused)
        }
        ("POST", "/servicePrincipals/{id}/appRoleAssignments") => {
            (json!({"principalId": b.client_sp, "resourceId": a.sp, "appRoleId": a.app_role}), Refused)
        }
        ("PATCH", "/organization/{id}") => (json!({"privacyProfile": {"contactEmail": "pwned@contoso.test"}}), Refused),
        ("PATCH", "/organization/{id}/branding") => (json!({"signInPageText": "pwned"}), Refused),
        ("POST", "/domains") => (json!({"id": format!("isolation-of-a-{}.test", a.tag)}), MaySucceed),
        ("PATCH", "/domains/{id}") => (json!({"isDefault": true}), Refused),
        ("POST", "/domains/{id}/verify") => (json!({}), Refused),
        ("POST", "/roleManagement/directory/roleAssignments") => {
            (json!({"principalId": b.user, "roleDefinitionId": GLOBAL_ADMINISTRATOR, "directoryScopeId": "/"}), Refused)
        }
        ("POST", "/directory/deletedItems/{id}/restore") => (json!({}), Refused),
        ("POST", "/me/revokeSignInSessions") => (json!({}), MaySucceed),
        ("POST", "/users/{id}/revokeSignInSessions") => (json!({}), Refused),
        ("POST", "/oauth2PermissionGrants") => (
            json!({"clientId": b.client_sp, "consentType": "AllPrincipals", "resourceId": a.graph_sp, "scope": "User.Read"}),
            Refused,
        ),
        ("PATCH", "/oauth2PermissionGrants/{id}") => (json!({"scope": "openid"}), Refused),
        ("PATCH", "/policies/identitySecurityDefaultsEnforcementPolicy") => (json!({"isEnabled": false}), MaySucceed),
        ("POST", "/portico/inviteBatches") => (json!({}), MaySucceed),
        ("POST", "/invitations") => (
            json!({
                "invitedUserEmailAddress": format!("isolation-{}@partner.test", a.tag), "inviteRedirectUrl": "https://x.test",
                "resetRedemption": true, "invitedUser": {"id": b.user},
                "invitedUserSponsors": [{"id": b.user}]
            }),
            Refused,
        ),
        ("POST", "/users/{id}/sponsors/$ref") => (json!({"@odata.id": directory_object(&a.owner)}), Refused),
        ("PATCH", "/policies/authorizationPolicy") => (json!({"allowInvitesFrom": "everyone"}), MaySucceed),
        ("POST", "/policies/b2bManagementPolicies") => {
            let definition = json!({"B2BManagementPolicy": {"InvitationsAllowedAndBlockedDomainsPolicy": {
                "BlockedDomains": [format!("blocked-{}.example", a.tag)]
            }}});
            (json!({"displayName": "Isolation B2B of A", "definition": [definition.to_string()]}), MaySucceed)
        }
        ("PATCH", "/policies/b2bManagementPolicies/{id}") => (json!({"displayName": "pwned"}), Refused),
        ("PATCH", "/policies/externalIdentitiesPolicy") => {
            (json!({"allowExternalIdentitiesToLeave": true}), MaySucceed)
        }
        ("PATCH", "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email") => {
            (json!({"excludeTargets": [{"targetType": "group", "id": b.group}]}), Refused)
        }
        // Bodies naming B's verified domain are refused (another tenant's domain).
        ("POST", "/identity/identityProviders") => (
            json!({
                "@odata.type": "#microsoft.graph.openIdConnectIdentityProvider",
                "displayName": "Intruder", "clientId": "x", "metadataUrl": format!("https://login.{}/.well-known/openid-configuration", b.domain),
                "domains": [b.domain],
            }),
            Refused,
        ),
        ("PATCH", "/identity/identityProviders/{id}") => (json!({"displayName": "pwned"}), Refused),
        (
            "POST",
            "/directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation"
            | "/directory/federationConfigurations/microsoft.graph.samlOrWsFedExternalDomainFederation",
        ) => (
            json!({
                "displayName": "Intruder", "issuerUri": format!("urn:intruder:{}", a.tag),
                "passiveSignInUri": format!("https://sts.{}/saml", b.domain),
                "signingCertificate": portico_saml::testing::TestIdp::new("urn:intruder").cert_b64(),
                "domains": [{"id": b.domain}],
            }),
            Refused,
        ),
        ("PATCH", "/directory/federationConfigurations/{id}") => (json!({"displayName": "pwned"}), Refused),
        (
            "POST",
            "/directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation/{id}/domains"
            | "/directory/federationConfigurations/microsoft.graph.samlOrWsFedExternalDomainFederation/{id}/domains"
            | "/directory/federationConfigurations/{id}/microsoft.graph.samlOrWsFedExternalDomainFederation/domains",
        ) => (json!({"id": format!("more.{}", a.saml_domain)}), Refused),
        ("PATCH", "/policies/crossTenantAccessPolicy/default") => (
            json!({"invitationRedemptionIdentityProviderConfiguration": {"fallbackIdentityProvider": "emailOneTimePasscode"}}),
            MaySucceed,
        ),
        ("POST", "/policies/crossTenantAccessPolicy/default/resetToSystemDefault") => (json!({}), MaySucceed),
        _ => panic!("{method} {template}: no request body rule; add one in isolation.rs"),
    };
    Some(body)
}

/// What tenant B sees of its own directory, path by path.
async fn snapshot(app: &TestApp, b: &Objects) -> Vec<(String, StatusCode, Value)> {
    let paths = [
        "/v1.0/users?$top=999&$select=id,displayName,userPrincipalName,accountEnabled,jobTitle,mail,userType,identities,otherMails".to_string(),
        format!("/v1.0/users/{}", b.user),
        format!("/v1.0/users/{}", b.owner),
        "/v1.0/groups?$top=999".into(),
        format!("/v1.0/groups/{}/members", b.group),
        format!("/v1.0/groups/{}/owners", b.group),
        "/v1.0/applications?$top=999".into(),
        format!("/v1.0/applications/{}", b.app),
        "/v1.0/servicePrincipals?$top=999".into(),
        format!("/v1.0/users/{}/appRoleAssignments", b.user),
        format!("/v1.0/groups/{}/appRoleAssignments", b.group),
        format!("/v1.0/servicePrincipals/{}/appRoleAssignedTo", b.sp),
        format!("/v1.0/servicePrincipals/{}/appRoleAssignments", b.client_sp),
        "/v1.0/roleManagement/directory/roleAssignments?$top=999".into(),
        "/v1.0/domains".into(),
        "/v1.0/organization".into(),
        format!("/v1.0/organization/{}/branding", b.tenant),
        "/v1.0/directory/deletedItems/microsoft.graph.user".into(),
        "/v1.0/directory/deletedItems/microsoft.graph.application".into(),
        "/v1.0/auditLogs/directoryAudits?$top=999".into(),
        "/v1.0/auditLogs/signIns?$top=999".into(),
        "/v1.0/oauth2PermissionGrants?$top=999".into(),
        format!("/v1.0/oauth2PermissionGrants/{}", b.grant),
        format!("/v1.0/users/{}?$select=id,signInActivity", b.user),
        "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy".into(),
        format!("/v1.0/users/{}/sponsors", b.user),
        "/v1.0/policies/authorizationPolicy".into(),
        "/beta/policies/b2bManagementPolicies".into(),
        format!("/beta/policies/b2bManagementPolicies/{}", b.b2b_policy),
        "/beta/policies/externalIdentitiesPolicy".into(),
        "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email".into(),
        "/v1.0/identity/identityProviders".into(),
        format!("/v1.0/identity/identityProviders/{}", b.oidc_idp),
        "/v1.0/directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation?$expand=domains".into(),
        format!("/v1.0/directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation/{}/domains", b.saml),
        "/v1.0/policies/crossTenantAccessPolicy/default".into(),
    ];
    let mut out = vec![];
    for p in paths {
        let r = app.get_as(&b.token, &p).await;
        assert_eq!(r.status, StatusCode::OK, "B cannot read its own {p}: {}", r.text);
        out.push((p, r.status, r.body));
    }
    out
}

fn assert_unchanged(before: &[(String, StatusCode, Value)], after: &[(String, StatusCode, Value)]) {
    for ((p, s1, b1), (_, s2, b2)) in before.iter().zip(after) {
        assert_eq!((s1, b1), (s2, b2), "tenant B's {p} changed while tenant A probed it");
    }
}

async fn send(app: &TestApp, token: &str, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb =
        app.http.request(m, format!("{}{path}", app.base)).bearer_auth(token).header("ConsistencyLevel", "eventual");
    if let Some(b) = body {
        rb = rb.json(b);
    }
    app.raw(rb).await
}

fn refused(s: StatusCode) -> bool {
    matches!(s, StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND)
}

/// Tenant B (Fabrikam) with every kind of object, and A's own objects for bodies.
async fn two_tenants(app: &TestApp) -> (Objects, Objects) {
    let a = populate(app, app.tenant, &app.token, app.domain()).await;
    let (tb, tok_b) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &all_permissions()).await;
    let b = populate(app, tb, &tok_b, "fabrikam.test").await;
    (a, b)
}

api_test!(every_route_refuses_objects_of_another_tenant_and_lists_show_none, |app| {
    let (a, b) = two_tenants(&app).await;
    let before = snapshot(&app, &b).await;
    let mut failures = vec![];
    let mut probes = 0;
    for route in portico_http::graph::routes::routes() {
        let has_params = route.path.contains('{');
        let paths = match fill(route.path, &b) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        let body = body_for(route.method, route.path, &a, &b);
        for path in paths {
            probes += 1;
            let r = send(&app, &app.token, route.method, &path, body.as_ref().map(|(v, _)| v)).await;
            let shared = SHARED_CATALOG.contains(&route.path);
            if r.status.is_server_error() {
                failures.push(format!("{} {path}: server error {}: {}", route.method, r.status, r.text));
            } else if has_params && !shared {
                if !refused(r.status) {
                    failures.push(format!("{} {path} (B's object) answered {}: {}", route.method, r.status, r.text));
                }
            } else if let Some((_, Expect::Refused)) = &body {
                if !refused(r.status) {
                    failures.push(format!(
                        "{} {path} with a body naming B's objects answered {}: {}",
                        route.method, r.status, r.text
                    ));
                }
            } else if route.method == "GET" {
                for (name, value) in b.identifiers() {
                    if r.text.to_ascii_lowercase().contains(&value.to_ascii_lowercase()) {
                        failures.push(format!("GET {path} shows B's {name} {value}: {}", r.text));
                    }
                }
            }
        }
    }
    assert!(probes > 80, "only {probes} probes: the route table looks empty");
    assert!(failures.is_empty(), "tenant isolation failures:\n{}", failures.join("\n"));
    // Counts agree with A's own lists (no B objects counted).
    for set in ["users", "groups"] {
        let n = send(&app, &app.token, "GET", &format!("/v1.0/{set}/$count"), None).await;
        let list = app.get(&format!("/v1.0/{set}?$top=999")).await;
        assert_eq!(
            n.text.trim(),
            list.body["value"].as_array().map_or(0, Vec::len).to_string(),
            "/{set}/$count differs from A's list"
        );
    }
    let after = snapshot(&app, &b).await;
    assert_unchanged(&before, &after);
    // B's token still works and acts in B only.
    let me = app.get_as(&b.token, "/v1.0/organization").await;
    assert_eq!(me.body["value"][0]["id"], json!(b.tenant.to_string()));
});

api_test!(every_path_parameter_has_a_substitution_rule, |app| {
    let (a, _) = two_tenants(&app).await;
    let mut seen = vec![];
    for route in portico_http::graph::routes::routes() {
        for seg in route.path.split('/') {
            if let Some(p) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                assert!(
                    ["id", "memberId", "ownerId", "assignmentId", "cast", "sponsorId", "domainName"].contains(&p),
                    "route {} {} has path parameter {{{p}}} that the isolation test does not know",
                    route.method,
                    route.path
                );
                seen.push(p.to_string());
            }
        }
        let paths = fill(route.path, &a).unwrap_or_else(|e| panic!("{e}"));
        assert!(paths.iter().all(|p| !p.contains('{')), "{}: unfilled parameter in {paths:?}", route.path);
        // Every write route has a body rule (body_for panics otherwise).
        let _ = body_for(route.method, route.path, &a, &a);
    }
    for p in ["id", "memberId", "ownerId", "assignmentId", "cast", "sponsorId", "domainName"] {
        assert!(seen.iter().any(|s| s == p), "no route uses {{{p}}} any more: drop its rule");
    }
});

api_test!(bodies_naming_another_tenants_objects_are_refused, |app| {
    let (a, b) = two_tenants(&app).await;
    let before = snapshot(&app, &b).await;
    let groups_before = app.get("/v1.0/groups?$top=999").await.body["value"].as_array().map_or(0, Vec::len);
    let cases: Vec<(&str, String, Value)> = vec![
        ("POST", format!("/v1.0/groups/{}/members/$ref", a.group), json!({"@odata.id": directory_object(&b.owner)})),
        ("POST", format!("/v1.0/groups/{}/owners/$ref", a.group), json!({"@odata.id": directory_object(&b.owner)})),
        (
            "POST",
            format!("/v1.0/groups/{}/members/$ref", a.group),
            json!({"@odata.id": directory_object(&b.client_sp)}),
        ),
        (
            "POST",
            "/v1.0/groups".into(),
            json!({"displayName": "Cross", "mailEnabled": false, "mailNickname": "cross", "securityEnabled": true,
                   "owners@odata.bind": [directory_object(&a.owner), directory_object(&b.owner)]}),
        ),
        ("PATCH", format!("/v1.0/users/{}", a.user), json!({"userPrincipalName": format!("moved@{}", b.domain)})),
        (
            "POST",
            format!("/v1.0/users/{}/appRoleAssignments", a.user),
            json!({"principalId": a.user, "resourceId": b.sp, "appRoleId": b.user_role}),
        ),
        (
            "POST",
            format!("/v1.0/groups/{}/appRoleAssignments", a.group),
            json!({"principalId": a.group, "resourceId": b.sp, "appRoleId": b.user_role}),
        ),
        (
            "POST",
            format!("/v1.0/servicePrincipals/{}/appRoleAssignedTo", a.sp),
            json!({"principalId": b.client_sp, "resourceId": a.sp, "appRoleId": a.app_role}),
        ),
        (
            "POST",
            format!("/v1.0/servicePrincipals/{}/appRoleAssignedTo", a.sp),
            json!({"principalId": b.user, "resourceId": a.sp, "appRoleId": a.user_role}),
        ),
        (
            "POST",
            format!("/v1.0/servicePrincipals/{}/appRoleAssignments", a.client_sp),
            json!({"principalId": a.client_sp, "resourceId": b.sp, "appRoleId": b.app_role}),
        ),
        ("POST", "/v1.0/servicePrincipals".into(), json!({"appId": b.app_id})),
        (
            "POST",
            "/v1.0/roleManagement/directory/roleAssignments".into(),
            json!({"principalId": b.user, "roleDefinitionId": GLOBAL_ADMINISTRATOR}),
        ),
        (
            "POST",
            "/v1.0/roleManagement/directory/roleAssignments".into(),
            json!({"principalId": b.client_sp, "roleDefinitionId": GLOBAL_ADMINISTRATOR}),
        ),
        ("DELETE", format!("/v1.0/groups/{}/members/{}/$ref", a.group, b.user), Value::Null),
        ("DELETE", format!("/v1.0/users/{}/appRoleAssignments/{}", a.user, b.user_assignment), Value::Null),
        ("DELETE", format!("/v1.0/servicePrincipals/{}/appRoleAssignedTo/{}", a.sp, b.sp_assignment), Value::Null),
        ("DELETE", format!("/v1.0/groups/{}/appRoleAssignments/{}", a.group, b.group_assignment), Value::Null),
        ("POST", format!("/v1.0/users/{}/sponsors/$ref", a.user), json!({"@odata.id": directory_object(&b.owner)})),
        ("DELETE", format!("/v1.0/users/{}/sponsors/{}/$ref", a.user, b.owner), Value::Null),
        (
            "PATCH",
            "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email".into(),
            json!({"includeTargets": [{"targetType": "group", "id": b.group, "isRegistrationRequired": false}]}),
        ),
    ];
    for (method, path, body) in &cases {
        let body = (!body.is_null()).then_some(body);
        let r = send(&app, &app.token, method, path, body).await;
        assert!(refused(r.status), "{method} {path} naming B's objects answered {}: {}", r.status, r.text);
        assert!(!r.code().is_empty(), "{method} {path}: no Graph error envelope: {}", r.text);
    }
    // Nothing half-written in A either: the refused POST /groups left no group, A's group kept
    // exactly its member and owner.
    let groups_after = app.get("/v1.0/groups?$top=999").await.body["value"].as_array().map_or(0, Vec::len);
    assert_eq!(groups_before, groups_after, "a refused POST /groups left a group behind");
    let members = app.get(&format!("/v1.0/groups/{}/members", a.group)).await;
    let ids: Vec<&str> =
        members.body["value"].as_array().expect("members").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, vec![a.user.as_str()]);
    let after = snapshot(&app, &b).await;
    assert_unchanged(&before, &after);
});

api_test!(token_endpoint_keeps_clients_and_resources_in_their_tenant, |app| {
    let (a, b) = two_tenants(&app).await;
    let (b_client, b_secret) = app.client(b.tenant, &all_permissions()).await;
    let (a_client, a_secret) = app.client(a.tenant, &all_permissions()).await;
    let token = |tenant: String, id: String, secret: String, scope: String| {
        let http = app.http.clone();
        let url = format!("{}/{tenant}/oauth2/v2.0/token", app.base);
        async move {
            let r = http
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("scope", &scope),
                ])
                .send()
                .await
                .expect("token request");
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let graph = "https://graph.microsoft.com/.default".to_string();
    // B's client at A's token endpoint (by id and by A's domain): unknown there.
    for tenant in [a.tenant.to_string(), "contoso.test".to_string()] {
        let (s, v) = token(tenant, b_client.clone(), b_secret.clone(), graph.clone()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
        assert_eq!(v["error"], "invalid_client");
    }
    // A's client asking for B's API, by identifier URI or by appId: not a resource in A.
    for scope in [format!("{}/.default", b.identifier_uri), format!("{}/.default", b.app_id)] {
        let (s, v) = token(a.tenant.to_string(), a_client.clone(), a_secret.clone(), scope.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{scope}: {v}");
        assert_eq!(v["error"], "invalid_resource", "{scope}: {v}");
    }
    // B's token is refused nowhere in B and sees nothing of A.
    let users = app.get_as(&b.token, "/v1.0/users?$top=999").await;
    assert_eq!(users.status, StatusCode::OK);
    for (name, value) in a.identifiers() {
        assert!(!users.text.contains(value), "B's user list shows A's {name}");
    }
    let r = app.get_as(&b.token, &format!("/v1.0/users/{}", a.user)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
});
