//! The operator's commands: tenants, users, applications, keys, and reading the mail outbox.
//! Each write goes through the same directory operations as the API, so the audit log records
//! them ("Portico command line").

use anyhow::{Context, anyhow, bail};
use portico_core::access;
use portico_core::ids::{ObjectId, TenantId};
use portico_core::jws::Alg;
use portico_http::audit::Actor;
use portico_http::directory::{Directory, NewUser};
use portico_store::apps::Application;
use portico_store::{StoreError, tenants};
use serde_json::{Value, json};

use crate::cli::{AppCommand, KeysCommand, MailCommand, SigningAlg, TenantCommand, UserCommand};

/// Prints JSON or text.
pub fn print(json: bool, value: Value, text: &str) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{text}");
    }
    Ok(())
}

/// Resolves `--tenant` (id or verified domain).
pub async fn tenant_id(dir: &Directory, key: &str) -> anyhow::Result<TenantId> {
    tenants::resolve(&dir.store, key).await?.ok_or_else(|| {
        anyhow!("no tenant '{key}': give a tenant id or one of its verified domains (see `portico tenant list`)")
    })
}

/// `portico tenant ...`
pub async fn tenant(dir: &Directory, cmd: TenantCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Create { name, domain } => {
            let t = dir.create_tenant(&name, domain.as_deref(), &Actor::CommandLine).await?;
            let issuer = dir.settings.issuer(t.id);
            print(
                json,
                json!({"id": t.id.to_string(), "displayName": t.display_name, "initialDomain": t.initial_domain, "customDomain": domain, "issuer": issuer}),
                &format!(
                    "Created tenant {} ({})\n  initial domain: {}{}\n  issuer:         {issuer}",
                    t.display_name,
                    t.id,
                    t.initial_domain,
                    domain.map(|d| format!("\n  custom domain:  {d} (verified, default)")).unwrap_or_default()
                ),
            )
        }
        TenantCommand::List => {
            let all = tenants::list(&dir.store).await?;
            let mut conn = dir.store.pool().acquire().await.map_err(StoreError::from)?;
            let mut rows = vec![];
            for t in &all {
                let domains = tenants::list_domains(&mut conn, t.id).await?;
                rows.push(json!({
                    "id": t.id.to_string(),
                    "displayName": t.display_name,
                    "domains": domains.iter().map(|d| json!({"name": d.name, "isVerified": d.is_verified, "isDefault": d.is_default})).collect::<Vec<_>>(),
                }));
            }
            let text = if all.is_empty() {
                "No tenants yet. Create one with `portico tenant create --name NAME`.".to_string()
            } else {
                let mut s = format!("{:<38} {:<28} DOMAINS\n", "ID", "NAME");
                for r in &rows {
                    let names: Vec<&str> =
                        r["domains"].as_array().into_iter().flatten().filter_map(|d| d["name"].as_str()).collect();
                    s.push_str(&format!(
                        "{:<38} {:<28} {}\n",
                        r["id"].as_str().unwrap_or_default(),
                        r["displayName"].as_str().unwrap_or_default(),
                        names.join(", ")
                    ));
                }
                s.trim_end().to_string()
            };
            print(json, Value::Array(rows), &text)
        }
    }
}

/// `portico user ...`
pub async fn user(dir: &Directory, cmd: UserCommand, json: bool) -> anyhow::Result<()> {
    let UserCommand::Create { tenant, upn, name, password, mail, roles } = cmd;
    let tid = tenant_id(dir, &tenant).await?;
    let role_ids: Vec<&'static str> = roles
        .iter()
        .map(|r| {
            access::role_by_name(r)
                .or_else(|| access::role_by_id(r))
                .map(|x| x.template_id)
                .ok_or_else(|| anyhow!("unknown role '{r}'"))
        })
        .collect::<anyhow::Result<_>>()?;
    let n = NewUser {
        user_principal_name: upn,
        display_name: name,
        password,
        force_change_password: false,
        mail,
        account_enabled: true,
        ..Default::default()
    };
    let (u, generated) = dir.create_user(tid, n, &Actor::CommandLine).await?;
    let mut tx = dir.store.begin().await?;
    for r in &role_ids {
        dir.assign_role(&mut tx, tid, u.id, r, &Actor::CommandLine).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    print(
        json,
        json!({"id": u.id.to_string(), "userPrincipalName": u.user_principal_name, "initialPassword": generated, "roles": role_ids}),
        &format!(
            "Created user {} ({}){}{}",
            u.user_principal_name,
            u.id,
            if role_ids.is_empty() { String::new() } else { format!("\n  roles: {}", roles.join(", ")) },
            generated.map(|p| format!("\n  initial password (shown once): {p}")).unwrap_or_default()
        ),
    )
}

/// Creates an application with a service principal, permissions and a secret.
pub async fn create_app(
    dir: &Directory,
    tid: TenantId,
    name: &str,
    permissions: &[String],
    redirect_uris: &[String],
) -> anyhow::Result<(Application, String, Vec<String>)> {
    for u in redirect_uris {
        if !portico_http::graph::applications::check_redirect_uri(u, false) {
            bail!("'{u}' is not an acceptable redirect URI (absolute https, or http on localhost, without fragment)");
        }
    }
    let now = portico_core::clock::to_millis(dir.clock.now());
    let app = Application {
        id: ObjectId::new(),
        tenant_id: tid,
        app_id: ObjectId::new().to_string(),
        display_name: name.trim().to_string(),
        description: None,
        sign_in_audience: "AzureADMyOrg".into(),
        identifier_uris: vec![],
        web: json!({"redirectUris": redirect_uris, "homePageUrl": null, "logoutUrl": null}),
        spa: json!({"redirectUris": []}),
        public_client: json!({"redirectUris": []}),
        api: json!({"oauth2PermissionScopes": []}),
        app_roles: json!([]),
        required_resource_access: json!([]),
        created_at: now,
        deleted_at: None,
    };
    if app.display_name.is_empty() {
        bail!("--name must not be empty");
    }
    let mut tx = dir.store.begin().await?;
    let (app, sp) = dir.create_application(&mut tx, tid, app, &Actor::CommandLine, true).await?;
    let sp = sp.context("the service principal was not created")?;
    let granted = dir.grant_graph_permissions(&mut tx, tid, &sp, permissions, &Actor::CommandLine).await?;
    let (_, secret) = dir
        .add_password(&mut tx, &app, Some("created by portico app create".into()), None, &Actor::CommandLine)
        .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok((app, secret, granted))
}

/// `portico app ...`
pub async fn app(dir: &Directory, cmd: AppCommand, json: bool) -> anyhow::Result<()> {
    let AppCommand::Create { tenant, name, permissions, redirect_uris } = cmd;
    let tid = tenant_id(dir, &tenant).await?;
    let (app, secret, granted) = create_app(dir, tid, &name, &permissions, &redirect_uris).await?;
    let token_url = format!("{}/{tid}/oauth2/v2.0/token", dir.settings.public_url);
    print(
        json,
        json!({"appId": app.app_id, "id": app.id.to_string(), "clientSecret": secret, "permissions": granted, "tenantId": tid.to_string(), "tokenEndpoint": token_url}),
        &format!(
            "Registered application {} in tenant {tid}\n  client id:     {}\n  client secret: {secret}   (shown once; store it now)\n  permissions:   {}\n  token:         curl -s {token_url} -d grant_type=client_credentials -d client_id={} --data-urlencode client_secret='{secret}' -d scope=https://graph.microsoft.com/.default",
            app.display_name,
            app.app_id,
            if granted.is_empty() { "(none)".to_string() } else { granted.join(", ") },
            app.app_id,
        ),
    )
}

/// `portico keys ...`
pub async fn keys(dir: &Directory, cmd: KeysCommand, json: bool) -> anyhow::Result<()> {
    let KeysCommand::Rotate { tenant, all, alg } = cmd;
    let alg = alg.map(|a| match a {
        SigningAlg::Rs256 => Alg::RS256,
        SigningAlg::Es256 => Alg::ES256,
    });
    let targets: Vec<TenantId> = if all {
        tenants::list(&dir.store).await?.iter().map(|t| t.id).collect()
    } else {
        vec![tenant_id(dir, tenant.as_deref().unwrap_or_default()).await?]
    };
    let mut out = vec![];
    for t in targets {
        let kid = dir.rotate_key(t, alg, &Actor::CommandLine).await?;
        out.push(json!({"tenantId": t.to_string(), "kid": kid}));
    }
    let text = out
        .iter()
        .map(|o| {
            format!(
                "Tenant {}: new signing key {} is active; the previous key stays published until its tokens expire.",
                o["tenantId"].as_str().unwrap_or_default(),
                o["kid"].as_str().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    print(json, Value::Array(out), &text)
}

/// `portico mail ...`
pub async fn mail(dir: &Directory, cmd: MailCommand, json: bool) -> anyhow::Result<()> {
    let MailCommand::Outbox { tenant, limit } = cmd;
    let tid = match tenant {
        Some(t) => Some(tenant_id(dir, &t).await?),
        None => None,
    };
    let mut conn = dir.store.pool().acquire().await.map_err(StoreError::from)?;
    let mails = portico_store::outbox::list(&mut conn, tid, limit).await?;
    let rows: Vec<Value> = mails
        .iter()
        .map(|m| {
            let mut v = portico_http::graph::mail_outbox::render(m);
            v["tenantId"] = json!(m.tenant_id.map(|t| t.to_string()));
            v
        })
        .collect();
    let text = if mails.is_empty() {
        "The outbox is empty: no mail was sent or kept yet.".to_string()
    } else {
        let clip = |s: &str, n: usize| -> String {
            if s.chars().count() > n {
                format!("{}…", s.chars().take(n - 1).collect::<String>())
            } else {
                s.to_string()
            }
        };
        let mut s = format!("{:<20} {:<7} {:<15} {:<32} SUBJECT\n", "CREATED (UTC)", "STATUS", "PURPOSE", "TO");
        for m in &mails {
            let created = portico_core::clock::graph_datetime(m.created_at);
            s.push_str(&format!(
                "{:<20} {:<7} {:<15} {:<32} {}\n",
                created.get(..19).unwrap_or(&created).replace('T', " "),
                m.status,
                clip(&m.purpose, 15),
                clip(&m.recipient, 32),
                clip(&m.subject, 70)
            ));
            if let Some(e) = &m.error {
                s.push_str(&format!("{:<20} error: {}\n", "", clip(e, 150)));
            }
        }
        s.push_str("\nThe bodies (with their links) are in `portico mail outbox --json`.");
        s
    };
    print(json, Value::Array(rows), &text)
}
