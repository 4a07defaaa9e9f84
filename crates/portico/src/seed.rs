//! `portico seed`: bulk data for benchmarks, with progress bars.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use portico_core::ids::ObjectId;
use portico_http::audit::Actor;
use portico_http::directory::Directory;
use portico_store::users::{self, User};
use portico_store::{StoreError, tenants};
use serde_json::json;

use crate::admin::{print, tenant_id};
use crate::cli::SeedCommand;

const FIRST: &[&str] = &[
    "Ada", "Ben", "Chloe", "Dan", "Eva", "Finn", "Grace", "Hugo", "Iris", "Jon", "Kai", "Lena", "Milo", "Nora", "Omar",
    "Pia", "Quinn", "Rosa", "Sam", "Tara",
];
const LAST: &[&str] = &[
    "Adams", "Baker", "Clark", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen", "Khan", "Lopez",
    "Meyer", "Novak", "Olsen", "Patel", "Quist", "Rossi", "Silva", "Tanaka",
];

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Runs a seed command.
pub async fn run(dir: &Directory, cmd: SeedCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        SeedCommand::Users { tenant, count, guest_every } => {
            let tid = tenant_id(dir, &tenant).await?;
            let domain = dir.default_domain(tid).await?;
            let started = Instant::now();
            let pb = bar(count, "seeding users");
            let now = portico_core::clock::to_millis(dir.clock.now());
            let batch = 10_000u64;
            let mut done = 0u64;
            while done < count {
                let n = batch.min(count - done);
                let mut list = Vec::with_capacity(n as usize);
                for i in done..done + n {
                    let first = FIRST[(i % FIRST.len() as u64) as usize];
                    let last = LAST[((i / FIRST.len() as u64) % LAST.len() as u64) as usize];
                    let guest = guest_every > 0 && i % guest_every == 0;
                    let upn = format!("user{i}@{domain}");
                    list.push(User {
                        id: ObjectId::new(),
                        tenant_id: tid,
                        user_principal_name: upn.clone(),
                        display_name: format!("{first} {last} {i}"),
                        given_name: Some(first.into()),
                        surname: Some(last.into()),
                        mail: Some(if guest { format!("user{i}@partner{}.test", i % 97) } else { upn }),
                        mail_nickname: None,
                        other_mails: vec![],
                        identities: vec![],
                        account_enabled: true,
                        user_type: if guest { "Guest".into() } else { "Member".into() },
                        creation_type: None,
                        external_user_state: None,
                        external_user_state_changed_at: None,
                        preferred_language: None,
                        company_name: None,
                        job_title: None,
                        department: None,
                        password_hash: None,
                        force_change_password: false,
                        password_changed_at: None,
                        created_at: now + i as i64,
                        deleted_at: None,
                    });
                }
                let mut tx = dir.store.begin().await?;
                users::insert_many(&mut tx, &list).await?;
                tx.commit().await.map_err(StoreError::from)?;
                done += n;
                pb.set_position(done);
            }
            pb.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            print(
                json,
                json!({"tenantId": tid.to_string(), "inserted": count, "seconds": secs}),
                &format!(
                    "Inserted {count} users into {tid} in {secs:.1} s ({:.0} users/s).",
                    count as f64 / secs.max(1e-9)
                ),
            )
        }
        SeedCommand::Tenants { count, prefix } => {
            let started = Instant::now();
            let pb = bar(count, "creating tenants");
            let mut last = Instant::now();
            let mut batches = vec![];
            let before = tenants::count(&dir.store).await?;
            for i in 0..count {
                dir.create_tenant(&format!("{prefix} {}", before as u64 + i), None, &Actor::CommandLine).await?;
                pb.inc(1);
                if (i + 1) % 1000 == 0 {
                    let ms = last.elapsed().as_secs_f64() * 1000.0 / 1000.0;
                    batches.push(json!({"upTo": before as u64 + i + 1, "msPerTenant": ms}));
                    pb.suspend(|| {
                        println!(
                            "tenants {}..{}: {ms:.2} ms per tenant",
                            before as u64 + i + 1 - 1000,
                            before as u64 + i + 1
                        )
                    });
                    last = Instant::now();
                }
            }
            pb.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            print(
                json,
                json!({"created": count, "seconds": secs, "batches": batches}),
                &format!(
                    "Created {count} tenants in {secs:.1} s ({:.2} ms each).",
                    secs * 1000.0 / count.max(1) as f64
                ),
            )
        }
    }
}
