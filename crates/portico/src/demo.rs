//! The first start (a tenant, its administrator and an API client, shown once) and the demo
//! organisations Contoso and Fabrikam.

use anyhow::Context;
use portico_core::access;
use portico_http::audit::Actor;
use portico_http::directory::{Directory, NewUser};
use portico_store::{StoreError, groups, tenants};

use crate::admin::create_app;

/// The permissions of the bootstrap API client.
pub const ADMIN_PERMISSIONS: &[&str] = &[
    "Directory.ReadWrite.All",
    "User.ReadWrite.All",
    "Group.ReadWrite.All",
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "RoleManagement.ReadWrite.Directory",
    "AuditLog.Read.All",
    "Organization.ReadWrite.All",
    "Domain.ReadWrite.All",
    "User.Invite.All",
    "Policy.Read.All",
];

/// What the first start created; printed once.
pub struct Bootstrap {
    tenant_id: String,
    domain: String,
    admin_upn: String,
    admin_password: String,
    client_id: String,
    client_secret: String,
}

impl Bootstrap {
    /// The text shown once on the console.
    pub fn describe(&self, public: &str) -> String {
        format!(
            "\n================ First start: save these now, they are not shown again ================\n\
             Tenant:            {tid}  (domain {domain})\n\
             Administrator:     {upn}\n\
             Password:          {pw}\n\
             API client id:     {cid}\n\
             API client secret: {sec}\n\n\
             Get a token and call the Graph-shaped API:\n\
             \x20 TOKEN=$(curl -s {public}/{tid}/oauth2/v2.0/token -d grant_type=client_credentials -d client_id={cid} \\\n\
             \x20   --data-urlencode 'client_secret={sec}' -d scope=https://graph.microsoft.com/.default | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n\
             \x20 curl -s {public}/v1.0/users -H \"Authorization: Bearer $TOKEN\"\n\
             ========================================================================================\n",
            tid = self.tenant_id,
            domain = self.domain,
            upn = self.admin_upn,
            pw = self.admin_password,
            cid = self.client_id,
            sec = self.client_secret,
        )
    }
}

/// On an empty store: creates "Default Directory", a Global Administrator and an API client.
pub async fn bootstrap_if_empty(dir: &Directory) -> anyhow::Result<Option<Bootstrap>> {
    if dir.store.setting("bootstrapped").await?.is_some() || tenants::count(&dir.store).await? > 0 {
        return Ok(None);
    }
    let t = dir.create_tenant("Default Directory", None, &Actor::CommandLine).await?;
    let upn = format!("admin@{}", t.initial_domain);
    let (admin, pw) = dir
        .create_user(
            t.id,
            NewUser {
                user_principal_name: upn.clone(),
                display_name: "Administrator".into(),
                account_enabled: true,
                ..Default::default()
            },
            &Actor::CommandLine,
        )
        .await?;
    let mut tx = dir.store.begin().await?;
    dir.assign_role(&mut tx, t.id, admin.id, access::GLOBAL_ADMINISTRATOR, &Actor::CommandLine).await?;
    dir.store.set_setting(&mut tx, "bootstrapped", &t.id.to_string()).await?;
    tx.commit().await.map_err(StoreError::from)?;
    let perms: Vec<String> = ADMIN_PERMISSIONS.iter().map(|s| s.to_string()).collect();
    let (app, secret, _) = create_app(dir, t.id, "Portico administration", &perms, &[]).await?;
    Ok(Some(Bootstrap {
        tenant_id: t.id.to_string(),
        domain: t.initial_domain,
        admin_upn: upn,
        admin_password: pw.context("a password was generated")?,
        client_id: app.app_id,
        client_secret: secret,
    }))
}

struct Org {
    name: &'static str,
    domain: &'static str,
    people: &'static [(&'static str, &'static str, &'static str)],
    group: &'static str,
}

const ORGS: &[Org] = &[
    Org {
        name: "Contoso",
        domain: "contoso.test",
        people: &[
            ("alice", "Alice Archer", "Global Administrator"),
            ("bob", "Bob Brown", ""),
            ("carol", "Carol Chen", "Guest Inviter"),
        ],
        group: "Contoso Engineering",
    },
    Org {
        name: "Fabrikam",
        domain: "fabrikam.test",
        people: &[("dave", "Dave Diaz", "Global Administrator"), ("erin", "Erin Evans", "")],
        group: "Fabrikam Partners",
    },
];

/// Creates Contoso and Fabrikam once, and prints their credentials.
pub async fn seed_demo(dir: &Directory) -> anyhow::Result<()> {
    if dir.store.setting("demo_seeded").await?.is_some() {
        println!("Demo tenants already exist (Contoso: contoso.test, Fabrikam: fabrikam.test).");
        return Ok(());
    }
    let mut out = String::from("\n================ Demo tenants (passwords shown once) ================\n");
    for org in ORGS {
        let t = dir.create_tenant(org.name, Some(org.domain), &Actor::CommandLine).await?;
        out.push_str(&format!("{} — tenant {} — domains {}, {}\n", org.name, t.id, org.domain, t.initial_domain));
        let mut members = vec![];
        for (alias, name, role) in org.people {
            let upn = format!("{alias}@{}", org.domain);
            let (u, pw) = dir
                .create_user(
                    t.id,
                    NewUser {
                        user_principal_name: upn.clone(),
                        display_name: (*name).into(),
                        mail: Some(upn.clone()),
                        account_enabled: true,
                        company_name: Some(org.name.into()),
                        ..Default::default()
                    },
                    &Actor::CommandLine,
                )
                .await?;
            if !role.is_empty()
                && let Some(r) = access::role_by_name(role)
            {
                let mut tx = dir.store.begin().await?;
                dir.assign_role(&mut tx, t.id, u.id, r.template_id, &Actor::CommandLine).await?;
                tx.commit().await.map_err(StoreError::from)?;
            }
            out.push_str(&format!("  {upn:<24} {}  {}\n", pw.unwrap_or_default(), role));
            members.push(u.id);
        }
        let g = groups::Group {
            id: portico_core::ids::ObjectId::new(),
            tenant_id: t.id,
            display_name: org.group.into(),
            description: Some(format!("Sample group of {}", org.name)),
            mail_nickname: org.group.to_ascii_lowercase().replace(' ', "-"),
            mail_enabled: false,
            security_enabled: true,
            group_types: vec![],
            visibility: None,
            is_assignable_to_role: false,
            created_at: portico_core::clock::to_millis(dir.clock.now()),
            deleted_at: None,
        };
        let mut tx = dir.store.begin().await?;
        groups::insert(&mut tx, &g).await?;
        for m in &members {
            groups::add_link(&mut tx, groups::Relation::Members, g.id, *m, groups::ObjectKind::User).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        let portal = format!("{} Portal", org.name);
        let (app, _, _) = create_app(
            dir,
            t.id,
            &portal,
            &[],
            &[format!("https://portal.{}/signin-oidc", org.domain), "http://localhost:3000/callback".into()],
        )
        .await?;
        let perms: Vec<String> = crate::demo::ADMIN_PERMISSIONS.iter().map(|s| s.to_string()).collect();
        let (api, secret, _) = create_app(dir, t.id, &format!("{} administration", org.name), &perms, &[]).await?;
        out.push_str(&format!(
            "  group {:?} with {} members; application {:?} (client id {})\n",
            org.group,
            members.len(),
            portal,
            app.app_id
        ));
        out.push_str(&format!("  API client {} secret {}\n", api.app_id, secret));
    }
    let mut tx = dir.store.begin().await?;
    dir.store.set_setting(&mut tx, "demo_seeded", "1").await?;
    tx.commit().await.map_err(StoreError::from)?;
    out.push_str("======================================================================\n");
    println!("{out}");
    Ok(())
}
