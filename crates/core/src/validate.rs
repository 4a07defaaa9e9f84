//! Validated values at the edge: domain names, email addresses, user principal names.

/// Lowercases and checks a DNS domain name (labels of letters, digits and hyphens).
pub fn domain_name(s: &str) -> Option<String> {
    let d = s.trim().trim_end_matches('.').to_ascii_lowercase();
    if d.is_empty() || d.len() > 253 || !d.contains('.') {
        return None;
    }
    let ok = d.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    ok.then_some(d)
}

/// Splits and checks an email-like address `local@domain`; returns (local, lowercased domain).
pub fn address(s: &str) -> Option<(String, String)> {
    let s = s.trim();
    if s.len() > 254 {
        return None;
    }
    let (local, domain) = s.rsplit_once('@')?;
    if local.is_empty() || local.len() > 64 {
        return None;
    }
    let local_ok = local.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    if !local_ok {
        return None;
    }
    Some((local.to_string(), domain_name(domain)?))
}

/// A user principal name: an address whose local part may also hold `#` (guests' `#EXT#`).
pub fn user_principal_name(s: &str) -> Option<String> {
    let s = s.trim();
    let (local, domain) = s.rsplit_once('@')?;
    let plain = local.replace('#', "");
    let (_, d) = address(&format!("{plain}@{domain}"))?;
    Some(format!("{local}@{d}"))
}

/// A mail nickname: 1-64 characters, no spaces or `@ ( ) \ [ ] " ; : < > ,`.
pub fn mail_nickname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.chars().any(|c| c.is_whitespace() || "@()\\[]\";:<>,".contains(c) || !c.is_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_lowercased_and_checked() {
        assert_eq!(domain_name("Contoso.TEST.").as_deref(), Some("contoso.test"));
        assert!(domain_name("localhost").is_none());
        assert!(domain_name("-bad.test").is_none());
        assert!(domain_name("a..b").is_none());
        assert!(domain_name("bad_label.test").is_none());
    }

    #[test]
    fn addresses_and_upns() {
        assert_eq!(address("Bob.Smith@Contoso.Test"), Some(("Bob.Smith".into(), "contoso.test".into())));
        assert!(address("bob@@contoso.test").is_none());
        assert!(address("bob").is_none());
        assert!(address(".bob@contoso.test").is_none());
        assert_eq!(
            user_principal_name("bob_fabrikam.test#EXT#@Contoso.test").as_deref(),
            Some("bob_fabrikam.test#EXT#@contoso.test")
        );
        assert!(user_principal_name("bob smith@contoso.test").is_none());
        assert!(mail_nickname("bob.smith"));
        assert!(!mail_nickname("bob smith"));
    }
}
