//! Time-based one-time passwords (RFC 6238) for authenticator apps: secrets, codes, enrolment URIs
//! and the QR code that carries them.
//!
//! Parameters are the ones every authenticator app supports: HMAC-SHA1, six digits, 30-second steps
//! counted from the Unix epoch.

use std::fmt::Write as _;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Length of a new secret in bytes: RFC 4226 §4 R6 recommends 160 bits, the HMAC-SHA1 output size.
const SECRET_LEN: usize = 20;
/// Seconds per time step (RFC 6238 §4.1, X = 30).
const STEP_SECS: i64 = 30;
/// Digits of a code.
const DIGITS: usize = 6;
/// 10^DIGITS, the modulus of RFC 4226 §5.3 step 3.
const MODULUS: u32 = 1_000_000;
/// Steps accepted either side of the current one (RFC 6238 §5.2 recommends at most one).
const DRIFT_STEPS: i64 = 1;
/// RFC 4648 §6 alphabet.
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Everything but RFC 3986 unreserved characters is escaped in URI components.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// Light modules around the symbol (ISO/IEC 18004 requires a quiet zone four modules wide).
const QUIET_ZONE: usize = 4;

/// A new random 160-bit secret.
///
/// # Panics
///
/// Panics if the operating system has no entropy source: an all-zero or partial secret would let
/// anyone compute the codes, so there is no safe value to return instead.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_LEN];
    #[allow(clippy::expect_used)]
    SystemRandom::new().fill(&mut secret).expect("the operating system has no entropy source");
    secret
}

/// Base32 (RFC 4648 §6) in upper case without padding, the form authenticator apps expect.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32_ALPHABET[((buffer >> bits) & 0x1f) as usize]));
        }
        // Keep only the bits not yet written so the buffer never overflows.
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(BASE32_ALPHABET[((buffer << (5 - bits)) & 0x1f) as usize]));
    }
    out
}

/// Decodes base32 (RFC 4648 §6), ignoring case and whitespace (apps show secrets in groups).
/// Padding is optional; when present it must complete the last group of eight. `None` if the text
/// has other characters or a length no byte string encodes to.
pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let compact: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let data_len = compact.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let (data, padding) = compact.split_at(data_len);
    if !padding.is_empty() && !compact.len().is_multiple_of(8) {
        return None;
    }
    // RFC 4648 §6: a final group holds 2, 4, 5 or 7 characters; 1, 3 or 6 cannot occur.
    if matches!(data.len() % 8, 1 | 3 | 6) {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &c in data {
        let value = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The time step that `unix_secs` falls in (RFC 6238 §4.2, T0 = 0).
fn step_of(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// HOTP value for a counter (RFC 4226 §5.3).
fn hotp(secret: &[u8], counter: i64) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    // RFC 4226 §5.1: the counter is an 8-byte big-endian value.
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    // RFC 4226 §5.3 dynamic truncation: the low nibble of the last byte picks four bytes, of which
    // the top bit is dropped. SHA-1 tags are 20 bytes, so offset + 4 <= 19 is always in range.
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
    binary % MODULUS
}

fn format_code(value: u32) -> String {
    format!("{value:0DIGITS$}")
}

/// The six-digit code for the time step containing `unix_secs`.
pub fn code_at(secret: &[u8], unix_secs: i64) -> String {
    format_code(hotp(secret, step_of(unix_secs)))
}

/// Checks a code typed by the user at `unix_secs`.
///
/// Accepts the current time step and one either side for clock drift (RFC 6238 §5.2), but never a
/// step at or before `last_used_step`, so each step's code works once (RFC 6238 §5.2: "MUST NOT
/// accept the second attempt of the same OTP"). Spaces in the code are ignored; anything else but
/// exactly six ASCII digits is refused. Returns the matched step, which the caller stores as the
/// new `last_used_step`.
pub fn verify(secret: &[u8], code: &str, unix_secs: i64, last_used_step: Option<i64>) -> Option<i64> {
    let typed: Vec<u8> = code.bytes().filter(|&b| b != b' ').collect();
    if typed.len() != DIGITS || !typed.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let current = step_of(unix_secs);
    let mut matched = None;
    // Every candidate is computed and compared, so timing does not reveal which step matched.
    for step in current.saturating_sub(DRIFT_STEPS)..=current.saturating_add(DRIFT_STEPS) {
        if step < 0 || last_used_step.is_some_and(|last| step <= last) {
            continue;
        }
        let expected = format_code(hotp(secret, step));
        if verify_slices_are_equal(expected.as_bytes(), &typed).is_ok() {
            // The latest matching step wins, so that replay protection covers it.
            matched = Some(step);
        }
    }
    matched
}

/// The enrolment URI of the Key Uri Format (`otpauth://totp/...`) that authenticator apps read
/// from a QR code. Issuer and account are percent-encoded, colons included, so that the label's
/// `issuer:account` separator stays unambiguous.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let issuer = utf8_percent_encode(issuer, COMPONENT).to_string();
    let account = utf8_percent_encode(account, COMPONENT);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        base32_encode(secret)
    )
}

/// A self-contained SVG of `text` as a QR code (error correction level M), with a quiet zone.
///
/// The image has a `viewBox` and no fixed size, so it scales to whatever box the page gives it;
/// it is marked `role="img"` with an `aria-label`. The text itself is not repeated in the markup,
/// since for enrolment it holds the secret. Text too long for any QR version yields an image
/// that says so instead of a code.
pub fn qr_svg(text: &str) -> String {
    let Ok(code) = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M) else {
        return concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1" role="img""#,
            r#" aria-label="QR code unavailable: the text is too long"></svg>"#
        )
        .to_string();
    };
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 2 * QUIET_ZONE;
    let mut svg = format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" role="img""#,
            r#" aria-label="QR code" shape-rendering="crispEdges">"#,
            r##"<rect width="{size}" height="{size}" fill="#fff"/><path fill="#000" d=""##
        ),
        size = size
    );
    // One rectangle per horizontal run of dark modules keeps the path short.
    for (y, row) in colors.chunks(width.max(1)).enumerate() {
        let mut x = 0;
        while x < row.len() {
            if row[x] == qrcode::Color::Dark {
                let start = x;
                while x < row.len() && row[x] == qrcode::Color::Dark {
                    x += 1;
                }
                let run = x - start;
                let _ = write!(svg, "M{} {}h{run}v1h-{run}z", start + QUIET_ZONE, y + QUIET_ZONE);
            } else {
                x += 1;
            }
        }
    }
    svg.push_str(r#""/></svg>"#);
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_sha1_vectors_truncated_to_six_digits() {
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code_at(RFC_SECRET, t), code, "T = {t}");
        }
    }

    #[test]
    fn base32_round_trips_every_length() {
        let secret = new_secret();
        assert_eq!(secret.len(), 20);
        for n in 0..=secret.len() {
            let encoded = base32_encode(&secret[..n]);
            assert!(!encoded.contains('='));
            assert_eq!(base32_decode(&encoded).as_deref(), Some(&secret[..n]));
            assert_eq!(base32_decode(&encoded.to_lowercase()).as_deref(), Some(&secret[..n]));
        }
    }

    #[test]
    fn base32_matches_rfc_4648_vectors() {
        for (plain, encoded) in
            [("", ""), ("f", "MY"), ("fo", "MZXQ"), ("foo", "MZXW6"), ("foob", "MZXW6YQ"), ("fooba", "MZXW6YTB")]
        {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
        }
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI======").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(base32_decode("mzxw 6ytb oi").as_deref(), Some(&b"foobar"[..]));
    }

    #[test]
    fn base32_refuses_foreign_characters_and_impossible_lengths() {
        assert_eq!(base32_decode("MZXW1"), None);
        assert_eq!(base32_decode("MZX"), None);
        assert_eq!(base32_decode("M"), None);
        assert_eq!(base32_decode("MZ=XW6"), None);
        assert_eq!(base32_decode("MZXW6YTBOI=="), None);
    }

    #[test]
    fn verify_accepts_one_step_of_drift_either_way() {
        let now = 1_111_111_111;
        let step = step_of(now);
        for drift in [-1, 0, 1] {
            let code = code_at(RFC_SECRET, now + drift * STEP_SECS);
            assert_eq!(verify(RFC_SECRET, &code, now, None), Some(step + drift), "drift {drift}");
        }
    }

    #[test]
    fn verify_refuses_two_steps_of_drift() {
        let now = 1_111_111_111;
        for drift in [-2, 2] {
            let code = code_at(RFC_SECRET, now + drift * STEP_SECS);
            assert_eq!(verify(RFC_SECRET, &code, now, None), None, "drift {drift}");
        }
    }

    #[test]
    fn verify_refuses_a_step_already_used() {
        let now = 1_111_111_111;
        let code = code_at(RFC_SECRET, now);
        let used = verify(RFC_SECRET, &code, now, None);
        assert_eq!(used, Some(step_of(now)));
        assert_eq!(verify(RFC_SECRET, &code, now, used), None);
        assert_eq!(verify(RFC_SECRET, &code, now + 10, used), None);
        // An older code is refused too once a later step has been used.
        let earlier = code_at(RFC_SECRET, now - STEP_SECS);
        assert_eq!(verify(RFC_SECRET, &earlier, now, used), None);
        // The next step's code still works.
        let next = code_at(RFC_SECRET, now + STEP_SECS);
        assert_eq!(verify(RFC_SECRET, &next, now + STEP_SECS, used), Some(step_of(now) + 1));
    }

    #[test]
    fn verify_ignores_spaces_in_the_code() {
        assert_eq!(verify(RFC_SECRET, "050 471", 1_111_111_111, None), Some(step_of(1_111_111_111)));
    }

    #[test]
    fn malformed_codes_are_refused() {
        let now = 1_111_111_111;
        for bad in ["", "05047", "0504711", "05047a", "abcdef", "٠٥٠٤٧١", "+50471", "      "] {
            assert_eq!(verify(RFC_SECRET, bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn otpauth_uri_escapes_spaces_and_colons() {
        let uri = otpauth_uri("Contoso Ltd: HR", "alice@contoso.test", b"12345678901234567890");
        assert_eq!(
            uri,
            "otpauth://totp/Contoso%20Ltd%3A%20HR:alice%40contoso.test?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Contoso%20Ltd%3A%20HR&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn qr_svg_is_self_contained_and_accessible() {
        let svg = qr_svg(&otpauth_uri("Portico", "alice@contoso.test", &new_secret()));
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains("aria-label=\""));
        assert!(svg.contains("viewBox=\"0 0 "));
        let without_namespace = svg.replace(r#"xmlns="http://www.w3.org/2000/svg""#, "");
        assert!(!without_namespace.contains("http"));
        assert!(!without_namespace.contains("href"));
        assert!(!svg.contains("otpauth"));
    }

    #[test]
    fn qr_svg_of_oversized_text_says_so() {
        let svg = qr_svg(&"x".repeat(10_000));
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("too long"));
    }
}
