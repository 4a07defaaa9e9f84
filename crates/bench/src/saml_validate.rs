//! `saml-validate`: SAML responses validated per second on one core, and the time of one validation.
//!
//! Setup (untimed): a fixture IdP (`portico_saml::testing::TestIdp`, RSA-2048 and then ECDSA P-256) signs
//! `--distinct` different responses for one SP, each answering its own AuthnRequest (InResponseTo), with the
//! response and the assertion signed (enveloped XML-DSig, exclusive C14N, SHA-256), a persistent NameID, an email
//! address and a few more attributes, base64-encoded as the HTTP-POST binding carries them (line breaks every 76
//! characters).
//!
//! Timed, on one thread (a `std::thread`, no async runtime): for each response in turn,
//! `decode_post_binding` (base64 → XML) then `validate_response` (parse, structure and wrapping checks, both
//! signatures with their digests over the canonical form, issuer, audience, recipient, destination, InResponseTo
//! and time window), until `--seconds` have passed or `--count` validations are done. Not timed: the HTTP
//! request, the form parsing, the store (flow, replay record), and everything after the assertion is accepted.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use portico_saml::testing::{ResponseSpec, TestIdp};
use portico_saml::{Expectations, SpConfig, decode_post_binding, validate_response};

use super::percentile;

/// One pre-generated response: the `SAMLResponse` form value, the request it answers, the address it carries.
struct Sample {
    field: String,
    request_id: String,
    email: String,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn samples(idp: &TestIdp, sp: &SpConfig, n: usize) -> Vec<Sample> {
    let now = now_ms();
    let names = ["Ada", "Ben", "Chloe", "Dan", "Eva", "Finn", "Grace", "Hugo", "Iris", "Jon"];
    (0..n)
        .map(|i| {
            let given = names[i % names.len()];
            let email = format!("{}.partner{i}@saml.bench", given.to_lowercase());
            let mut spec = ResponseSpec::new(idp, sp, &format!("pid-{:08}-{}", i, uuid::Uuid::new_v4().simple()), now);
            let request_id = portico_saml::new_request_id();
            spec.in_response_to = Some(request_id.clone());
            spec.email = Some(email.clone());
            // Valid for an hour, so long runs stay inside the window.
            spec.not_on_or_after_ms = now + 3_600_000;
            let claims = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims";
            spec.extra_attributes = vec![
                (format!("{claims}/givenname"), given.to_string()),
                (format!("{claims}/surname"), format!("Partner{i:05}")),
                (format!("{claims}/name"), email.clone()),
                ("http://schemas.microsoft.com/identity/claims/displayname".into(), format!("{given} Partner{i:05}")),
                ("http://schemas.microsoft.com/ws/2008/06/identity/claims/groups".into(), "partner-staff".into()),
            ];
            Sample { field: idp.response_b64(&spec), request_id, email }
        })
        .collect()
}

struct Outcome {
    done: usize,
    secs: f64,
    lat_us: Vec<f64>,
}

/// Decodes and validates the samples in turn on the calling thread.
fn run(idp: &TestIdp, sp: &SpConfig, set: &[Sample], count: Option<usize>, seconds: u64) -> anyhow::Result<Outcome> {
    let trust = idp.trust();
    let limit = Duration::from_secs(seconds);
    let mut lat_us = Vec::with_capacity(count.unwrap_or(200_000));
    let started = Instant::now();
    let mut done = 0usize;
    loop {
        match count {
            Some(c) if done >= c => break,
            None if started.elapsed() >= limit => break,
            _ => {}
        }
        let s = &set[done % set.len()];
        let exp = Expectations { sp, request_id: Some(&s.request_id), now_ms: now_ms(), clock_skew_ms: 120_000 };
        let t = Instant::now();
        let a = decode_post_binding(&s.field).and_then(|xml| validate_response(&xml, &trust, &exp));
        let us = t.elapsed().as_secs_f64() * 1e6;
        let a = a.with_context(|| format!("response {} refused", done % set.len()))?;
        if a.email() != Some(s.email.as_str()) {
            bail!("response {} carried {:?}, expected {}", done % set.len(), a.email(), s.email);
        }
        lat_us.push(us);
        done += 1;
    }
    Ok(Outcome { done, secs: started.elapsed().as_secs_f64(), lat_us })
}

pub fn saml_validate(count: Option<usize>, seconds: u64, distinct: usize) -> anyhow::Result<()> {
    println!("command: {}", std::env::args().collect::<Vec<_>>().join(" "));
    let sp = SpConfig {
        entity_id: "https://portico.bench/00000000-0000-0000-0000-00000000b3c4/".into(),
        acs_url: "https://portico.bench/00000000-0000-0000-0000-00000000b3c4/federation/saml/acs".into(),
    };
    let distinct = distinct.max(1);
    println!(
        "\n{:<30} {:>9} {:>13} {:>9} {:>9} {:>9} {:>12}",
        "signature", "responses", "validations/s", "p50 µs", "p99 µs", "mean µs", "XML bytes"
    );
    for (label, idp) in [
        ("RSA-2048, RSA-SHA256", TestIdp::new("urn:bench:saml-idp:rsa")),
        ("ECDSA P-256, ECDSA-SHA256", TestIdp::new_ecdsa("urn:bench:saml-idp:ecdsa")),
    ] {
        let set = samples(&idp, &sp, distinct);
        let xml_len =
            set.iter().map(|s| decode_post_binding(&s.field).map(|x| x.len()).unwrap_or(0)).sum::<usize>() / set.len();
        // One thread (scoped, so it borrows the samples); warm-up first, not measured.
        let mut out = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    run(&idp, &sp, &set, Some(set.len().min(200)), 0)?;
                    run(&idp, &sp, &set, count, seconds)
                })
                .join()
                .map_err(|_| anyhow::anyhow!("the validation thread panicked"))
        })??;
        out.lat_us.sort_by(f64::total_cmp);
        let mean = out.lat_us.iter().sum::<f64>() / out.lat_us.len().max(1) as f64;
        println!(
            "{label:<30} {:>9} {:>13.0} {:>9.1} {:>9.1} {:>9.1} {:>12}",
            distinct,
            out.done as f64 / out.secs,
            percentile(&out.lat_us, 50.0),
            percentile(&out.lat_us, 99.0),
            mean,
            xml_len
        );
        println!("{:<30} ({} validations in {:.2} s on one thread)", "", out.done, out.secs);
    }
    Ok(())
}
