//! Seeded random mutation fuzzing of every parser entry point.
//!
//! Properties: nothing panics, and a mutated response is only ever accepted when the assertion it yields is the
//! one originally signed (same facts, same canonical signed octets). `SAML_FUZZ_SEED` and `SAML_FUZZ_ITERS`
//! override the seed and the number of mutations per base document.

use base64::Engine;
use portico_saml::testing::{ResponseSpec, TestIdp, wrapping_attacks};
use portico_saml::{
    Assertion, Expectations, SpConfig, certificate_from_base64, certificate_info, decode_post_binding,
    decode_redirect_binding, exclusive_c14n, parse_idp_metadata, validate_response,
};

const NOW: i64 = 1_767_225_600_000;

/// xorshift64* — small, deterministic, good enough for picking mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const TOKENS: &[&str] = &[
    "<!---->",
    "<!-- x -->",
    "<!DOCTYPE r>",
    "<?pi x?>",
    "<![CDATA[x]]>",
    "&amp;",
    "&lt;",
    "&#x0;",
    "&#10;",
    "&bogus;",
    " ",
    "\n",
    "\r\n",
    "\t",
    "\"",
    "'",
    "<",
    ">",
    "/>",
    "=",
    "&",
    ":",
    "Z",
    "0",
    "9",
    "é",
    "<saml:Assertion>",
    "</saml:Assertion>",
    "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_e\" Version=\"2.0\"/>",
    "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/>",
    "<samlp:Extensions>",
    "</samlp:Extensions>",
    " xmlns:saml=\"urn:evil\"",
    " xmlns=\"urn:evil\"",
    " ID=\"dup\"",
    " xml:lang=\"en\"",
    "xmlns:ds=\"\"",
];

/// Byte-level and token mutations.
fn mutate_text(rng: &mut Rng, input: &str) -> String {
    let mut b = input.as_bytes().to_vec();
    for _ in 0..=rng.below(3) {
        if b.is_empty() {
            b.extend_from_slice(rng.pick(TOKENS).as_bytes());
            continue;
        }
        let at = rng.below(b.len());
        match rng.below(6) {
            0 => b[at] = (rng.next() & 0xff) as u8,
            1 => b[at] = *rng.pick(b" <>&\"'=/:Z0aA+\n"),
            2 => {
                let tok = rng.pick(TOKENS).as_bytes().to_vec();
                b.splice(at..at, tok);
            }
            3 => {
                let end = (at + 1 + rng.below(64)).min(b.len());
                b.drain(at..end);
            }
            4 => {
                let end = (at + 1 + rng.below(128)).min(b.len());
                let chunk = b[at..end].to_vec();
                let to = rng.below(b.len());
                b.splice(to..to, chunk);
            }
            _ => {
                let end = (at + 1 + rng.below(8)).min(b.len());
                b[at..end].reverse();
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// Element-level mutations guided by the parsed document: delete, duplicate or move an element, or edit an
/// attribute value or a text node.
fn mutate_structure(rng: &mut Rng, input: &str) -> String {
    let Ok(doc) = roxmltree::Document::parse(input) else { return mutate_text(rng, input) };
    let elements: Vec<_> = doc.descendants().filter(|n| n.is_element()).collect();
    let e = *rng.pick(&elements);
    let r = e.range();
    match rng.below(5) {
        0 => format!("{}{}", &input[..r.start], &input[r.end..]),
        1 => format!("{}{}{}", &input[..r.end], &input[r.clone()], &input[r.end..]),
        2 => {
            // Move the element into (or before) another element.
            let target = *rng.pick(&elements);
            let t = target.range();
            if t.start >= r.start && t.start < r.end {
                return input.to_owned();
            }
            let piece = &input[r.clone()];
            let without = format!("{}{}", &input[..r.start], &input[r.end..]);
            let mut at =
                if rng.below(2) == 0 { t.start } else { t.start + input[t.clone()].find('>').map_or(0, |i| i + 1) };
            if at > r.start {
                at -= r.len();
            }
            if input[t.clone()].ends_with("/>") && at > t.start {
                at = t.start;
            }
            format!("{}{}{}", &without[..at], piece, &without[at..])
        }
        3 => match e.attributes().nth(rng.below(e.attributes().len())) {
            Some(a) => {
                let vr = a.range_value();
                let value = &input[vr.clone()];
                let new = match rng.below(3) {
                    0 => String::new(),
                    1 => format!("{value}x"),
                    _ => value.chars().rev().collect(),
                };
                format!("{}{}{}", &input[..vr.start], new, &input[vr.end..])
            }
            None => mutate_text(rng, input),
        },
        _ => match e.children().find(|c| c.is_text()) {
            Some(t) => {
                let tr = t.range();
                let new = match rng.below(3) {
                    0 => String::new(),
                    1 => format!("{}<!---->", &input[tr.clone()]),
                    _ => input[tr.clone()].to_uppercase(),
                };
                format!("{}{}{}", &input[..tr.start], new, &input[tr.end..])
            }
            None => mutate_text(rng, input),
        },
    }
}

/// Exclusive C14N of the element with ID `id`, without its direct-child `ds:Signature` (the enveloped-signature
/// transform's view: KeyInfo and SignatureValue are not signed content).
fn signed_octets(xml: &str, id: &str) -> String {
    let doc = roxmltree::Document::parse(xml).expect("well-formed");
    let el = doc.descendants().find(|n| n.attribute("ID") == Some(id)).expect("element with the ID");
    let sig = el.children().find(|c| c.has_tag_name(("http://www.w3.org/2000/09/xmldsig#", "Signature")));
    let stripped = match sig {
        Some(s) => format!("{}{}", &xml[..s.range().start], &xml[s.range().end..]),
        None => xml.to_owned(),
    };
    exclusive_c14n(&stripped, Some(id), &["xs"], false).expect("canonicalizable")
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn mutated_responses_never_panic_and_never_validate_altered_content() {
    let seed = env_u64("SAML_FUZZ_SEED", 0x5A41_4D4C_F022);
    let iters = env_u64("SAML_FUZZ_ITERS", 400) as usize;
    let mut rng = Rng(seed | 1);
    let idp = TestIdp::new("https://idp.partner.example/");
    let sp =
        SpConfig { entity_id: "https://portico.example/t/acme".into(), acs_url: "https://portico.example/acs".into() };
    let trust = idp.trust();
    let exp = Expectations { sp: &sp, request_id: Some("_req"), now_ms: NOW, clock_skew_ms: 120_000 };

    let mut bases: Vec<(String, Assertion, String, String)> = Vec::new();
    for (sign_response, sign_assertion) in [(true, true), (false, true), (true, false)] {
        let mut spec = ResponseSpec::new(&idp, &sp, "user@partner.example", NOW);
        spec.sign_response = sign_response;
        spec.sign_assertion = sign_assertion;
        spec.in_response_to = Some("_req".into());
        spec.email = Some("user@partner.example".into());
        spec.extra_attributes.push(("role".into(), "member & <guest>".into()));
        let xml = idp.response_xml(&spec);
        let assertion = validate_response(&xml, &trust, &exp).expect("base response is valid");
        let c14n = signed_octets(&xml, &spec.assertion_id);
        bases.push((xml, assertion, c14n, spec.assertion_id.clone()));
    }

    let (mut accepted, mut refused) = (0usize, 0usize);
    let check = |xml: &str, base: &(String, Assertion, String, String), accepted: &mut usize, refused: &mut usize| {
        match validate_response(xml, &trust, &exp) {
            Ok(a) => {
                *accepted += 1;
                assert_eq!(a, base.1, "a mutated response yielded different facts:\n{xml}");
                let c14n = signed_octets(xml, &base.3);
                assert_eq!(c14n, base.2, "a mutated response with altered signed content was accepted:\n{xml}");
            }
            Err(e) => {
                *refused += 1;
                assert!(!e.reason().is_empty() && !e.to_string().is_empty());
            }
        }
    };
    for base in &bases {
        for (_, attack) in wrapping_attacks(&base.0, "admin@victim.example") {
            assert!(validate_response(&attack, &trust, &exp).is_err());
        }
        for i in 0..iters {
            let mutated = if i % 2 == 0 { mutate_text(&mut rng, &base.0) } else { mutate_structure(&mut rng, &base.0) };
            // Compound mutations now and then.
            let mutated = if i % 7 == 0 { mutate_structure(&mut rng, &mutated) } else { mutated };
            check(&mutated, base, &mut accepted, &mut refused);
            let _ = exclusive_c14n(&mutated, None, &["#default", "xs"], i % 3 == 0);
        }
        // Through the POST binding: mutate the base64 form field.
        let b64 = base64::engine::general_purpose::STANDARD.encode(&base.0);
        for _ in 0..iters / 8 {
            let field = mutate_text(&mut rng, &b64);
            if let Ok(xml) = decode_post_binding(&field) {
                check(&xml, base, &mut accepted, &mut refused);
            }
            let _ = decode_redirect_binding(&field);
        }
    }
    assert!(refused > accepted, "most mutations must be refused ({accepted} accepted, {refused} refused)");
}

#[test]
fn mutated_metadata_and_certificates_never_panic() {
    let seed = env_u64("SAML_FUZZ_SEED", 0xC3E7_11F0);
    let iters = env_u64("SAML_FUZZ_ITERS", 400) as usize;
    let mut rng = Rng(seed | 1);
    let idp = TestIdp::new("https://idp.partner.example/");
    let md = idp.metadata_xml("https://idp.partner.example/sso");
    assert!(parse_idp_metadata(&md).is_ok());
    let pem = format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", idp.cert_b64());
    for i in 0..iters {
        let m = if i % 2 == 0 { mutate_text(&mut rng, &md) } else { mutate_structure(&mut rng, &md) };
        if let Ok(parsed) = parse_idp_metadata(&m) {
            for c in &parsed.signing_certificates {
                certificate_info(c).expect("accepted certificates parse");
            }
        }
        let c = mutate_text(&mut rng, &pem);
        if let Ok(der) = certificate_from_base64(&c) {
            certificate_info(&der).expect("accepted certificates parse");
        }
        let _ = certificate_info(mutate_text(&mut rng, &idp.cert_b64()).as_bytes());
        let mut der = idp.cert_der.clone();
        let at = rng.below(der.len());
        der[at] ^= 1 << rng.below(8);
        let _ = certificate_info(&der);
    }
}
