//! Language negotiation for hosted pages: which supported language a request gets.
//!
//! Preference order: the client's `ui_locales` parameter, then the browser's `Accept-Language`
//! header, then the tenant's default, then English. Languages match by primary subtag only, so
//! "de-CH" gets German.

/// Languages the hosted pages are translated into, as primary language subtags.
pub const SUPPORTED: &[&str] = &["en", "de"];

/// The language used when nothing else matches.
const FALLBACK: &str = "en";

/// At most this many entries of each header are looked at, so a hostile header costs little.
const MAX_ENTRIES: usize = 20;

/// The supported language whose primary subtag matches `tag` (e.g. "DE-ch" → "de").
fn supported(tag: &str) -> Option<&'static str> {
    let primary = tag.split('-').next().unwrap_or(tag).trim();
    SUPPORTED.iter().copied().find(|s| s.eq_ignore_ascii_case(primary))
}

/// Parses an RFC 9110 §12.4.2 qvalue into thousandths: `0[.ddd]` or `1[.000]`.
fn parse_qvalue(q: &str) -> Option<u16> {
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Right-pad the fraction to three digits: "0.5" is 500 thousandths.
    let thousandths =
        frac.bytes().chain(std::iter::repeat(b'0')).take(3).fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The entries of an `Accept-Language` value (RFC 9110 §12.5.4) with their weights, most preferred
/// first. Entries with q=0 ("not acceptable"), the wildcard and malformed weights are dropped.
fn parse_accept_language(header: &str) -> Vec<(&str, u16)> {
    let mut entries: Vec<(&str, u16)> = header
        .split(',')
        .take(MAX_ENTRIES)
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let mut weight = 1000;
            for param in parts {
                let (name, value) = param.split_once('=')?;
                if name.trim().eq_ignore_ascii_case("q") {
                    weight = parse_qvalue(value.trim())?;
                }
            }
            (!tag.is_empty() && tag != "*" && weight > 0).then_some((tag, weight))
        })
        .collect();
    // A stable sort keeps the header's order among equal weights.
    entries.sort_by_key(|&(_, weight)| std::cmp::Reverse(weight));
    entries
}

/// Picks the language of a hosted page.
///
/// `ui_locales` is the OpenID Connect request parameter (OIDC Core §3.1.2.1: space-separated
/// BCP 47 tags in order of preference); `accept_language` is the browser's header;
/// `tenant_default` is the tenant's configured language. The first of these that names a supported
/// language wins; otherwise English.
pub fn negotiate(
    ui_locales: Option<&str>,
    accept_language: Option<&str>,
    tenant_default: Option<&str>,
) -> &'static str {
    if let Some(lang) = ui_locales.and_then(|v| v.split_ascii_whitespace().take(MAX_ENTRIES).find_map(supported)) {
        return lang;
    }
    if let Some(lang) =
        accept_language.and_then(|v| parse_accept_language(v).into_iter().find_map(|(tag, _)| supported(tag)))
    {
        return lang;
    }
    tenant_default.and_then(supported).unwrap_or(FALLBACK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_given_means_english() {
        assert_eq!(negotiate(None, None, None), "en");
        assert_eq!(negotiate(Some(""), Some(""), Some("")), "en");
    }

    #[test]
    fn ui_locales_come_first_in_their_order() {
        assert_eq!(negotiate(Some("fr-CA de en"), Some("en"), Some("en")), "de");
        assert_eq!(negotiate(Some("en de"), Some("de"), Some("de")), "en");
    }

    #[test]
    fn unsupported_ui_locales_fall_through_to_accept_language() {
        assert_eq!(negotiate(Some("fr ja"), Some("de"), Some("en")), "de");
    }

    #[test]
    fn regional_tags_match_their_primary_language_ignoring_case() {
        assert_eq!(negotiate(Some("DE-ch"), None, None), "de");
        assert_eq!(negotiate(None, Some("de-AT"), None), "de");
        assert_eq!(negotiate(None, None, Some("De-DE")), "de");
        assert_eq!(negotiate(Some("deu"), None, None), "en");
    }

    #[test]
    fn accept_language_is_ordered_by_q_value() {
        assert_eq!(negotiate(None, Some("en;q=0.5, de;q=0.8"), None), "de");
        assert_eq!(negotiate(None, Some("fr, en;q=0.1, de;q=0.9"), None), "de");
        assert_eq!(negotiate(None, Some("de;q=0.5, en;q=0.500"), None), "de");
        assert_eq!(negotiate(None, Some("de;q=0.7,en;Q=1"), None), "en");
    }

    #[test]
    fn q_zero_means_not_acceptable() {
        assert_eq!(negotiate(None, Some("de;q=0, en;q=0.1"), None), "en");
        assert_eq!(negotiate(None, Some("de;q=0.000"), Some("en")), "en");
        assert_eq!(negotiate(None, Some("en;q=0"), Some("de")), "de");
    }

    #[test]
    fn wildcards_and_malformed_weights_are_ignored() {
        assert_eq!(negotiate(None, Some("*"), Some("de")), "de");
        assert_eq!(negotiate(None, Some("*;q=1, de;q=0.2"), None), "de");
        assert_eq!(negotiate(None, Some("de;q=2, en;q=0.1"), None), "en");
        assert_eq!(negotiate(None, Some("de;q=0.1234, en;q=0.1"), None), "en");
        assert_eq!(negotiate(None, Some("de;q=abc"), Some("en")), "en");
    }

    #[test]
    fn accept_language_falls_through_to_the_tenant_default() {
        assert_eq!(negotiate(None, Some("fr, ja;q=0.5"), Some("de")), "de");
        assert_eq!(negotiate(None, Some("fr"), Some("it")), "en");
    }

    #[test]
    fn only_the_first_twenty_entries_are_considered() {
        let many = vec!["fr"; 20].join(" ");
        assert_eq!(negotiate(Some(&format!("{many} de")), None, None), "en");
        let many = vec!["fr"; 20].join(", ");
        assert_eq!(negotiate(None, Some(&format!("{many}, de")), None), "en");
        let nineteen = vec!["fr"; 19].join(", ");
        assert_eq!(negotiate(None, Some(&format!("{nineteen}, de")), None), "de");
    }

    #[test]
    fn qvalues_parse_per_rfc_9110() {
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0."), Some(0));
        assert_eq!(parse_qvalue("1.001"), None);
        assert_eq!(parse_qvalue("0.-1"), None);
        assert_eq!(parse_qvalue(""), None);
    }
}
