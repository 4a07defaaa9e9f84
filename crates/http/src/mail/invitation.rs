//! The invitation email, as Entra sends it (reference: graph-b2b.md §1.7): a phishing warning,
//! the inviting organisation with its primary domain, the inviter, the inviter's message as plain
//! text, an "Accept invitation" button to the redemption link with where it leads, and a footer
//! with the privacy statement (or a note that there is none) and "Block future invitations".
//!
//! The templates (`templates/invitation.html`, `invitation.txt`, `invitation_subject.txt`) and
//! the strings of each language (`templates/invitation.<lang>.json`, English and German) are
//! embedded; a file of the same name in `MailSettings::template_dir` replaces the built-in one.
//! HTML mail clients ignore style sheets, so the HTML uses inline styles only. Values are
//! HTML-escaped in the HTML part; the strings' placeholders (`{inviter}`, `{org}`, `{domain}`,
//! `{redirect}`) are filled before escaping, so nothing the inviter types is ever markup.

use std::collections::BTreeMap;

use minijinja::{AutoEscape, Environment};

use crate::settings::MailSettings;

/// The colour of the header bar and the button when the tenant set none.
pub const DEFAULT_BRAND_COLOR: &str = "#0067b8";

const BUILT_IN: &[(&str, &str)] = &[
    ("invitation_subject.txt", include_str!("templates/invitation_subject.txt")),
    ("invitation.txt", include_str!("templates/invitation.txt")),
    ("invitation.html", include_str!("templates/invitation.html")),
    ("invitation.en.json", include_str!("templates/invitation.en.json")),
    ("invitation.de.json", include_str!("templates/invitation.de.json")),
];

/// The languages the invitation is written in.
pub const LANGUAGES: &[&str] = &["en", "de"];

/// What an invitation email says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvitationMail {
    /// `en` or `de` (anything else is English).
    pub lang: &'static str,
    /// The inviting organisation's name.
    pub tenant_name: String,
    /// Its primary (default) domain.
    pub tenant_domain: String,
    /// Who invited (a user's display name, or the application's).
    pub inviter_name: String,
    /// The inviter's address, when known (also the Reply-To).
    pub inviter_email: Option<String>,
    /// invitedUserMessageInfo.customizedMessageBody: plain text, shown as typed.
    pub custom_message: Option<String>,
    /// The redemption link ("Accept invitation").
    pub redeem_url: String,
    /// Where the guest lands after redemption (shown, not linked).
    pub redirect_url: String,
    /// The organisation's privacy statement (http or https; anything else is dropped).
    pub privacy_url: Option<String>,
    /// "Block future invitations" (see `crate::web::unsubscribe::unsubscribe_url`).
    pub unsubscribe_url: String,
    /// The tenant's colour, `#rgb` or `#rrggbb`; anything else is dropped.
    pub brand_color: Option<String>,
    /// The tenant's sign-in page text, shown above the button.
    pub sign_in_text: Option<String>,
}

/// Whether `c` is a CSS colour Portico puts into a style attribute: `#rgb` or `#rrggbb`.
pub fn valid_color(c: &str) -> bool {
    let hex = c.strip_prefix('#').unwrap_or_default();
    (hex.len() == 3 || hex.len() == 6) && hex.chars().all(|x| x.is_ascii_hexdigit())
}

/// A template's source: the override in `template_dir` when it has a file of that name, else the
/// built-in one.
fn source(settings: &MailSettings, name: &str) -> Result<String, String> {
    if let Some(dir) = &settings.template_dir {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("reading the mail template {}: {e}", path.display())),
        }
    }
    BUILT_IN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| (*s).to_string())
        .ok_or_else(|| format!("no mail template {name}"))
}

/// Fills `{name}` placeholders in one pass (a value that contains a placeholder stays as it is).
fn fill(s: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| values.iter().find(|(k, _)| *k == &after[..close]).map(|v| (close, v.1)))
        {
            Some((close, v)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Renders an invitation: (subject, text, html).
pub fn render_invitation(settings: &MailSettings, m: &InvitationMail) -> Result<(String, String, String), String> {
    let lang = if LANGUAGES.contains(&m.lang) { m.lang } else { "en" };
    let catalog = format!("invitation.{lang}.json");
    let strings: BTreeMap<String, String> = serde_json::from_str(&source(settings, &catalog)?)
        .map_err(|e| format!("the mail strings {catalog} are not a JSON object of strings: {e}"))?;
    let values = [
        ("inviter", m.inviter_name.trim()),
        ("org", m.tenant_name.trim()),
        ("domain", m.tenant_domain.trim()),
        ("redirect", m.redirect_url.trim()),
    ];
    let t: BTreeMap<String, String> = strings.iter().map(|(k, v)| (k.clone(), fill(v, &values))).collect();
    let nonempty = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let privacy_url = nonempty(&m.privacy_url)
        .filter(|u| url::Url::parse(u).is_ok_and(|p| p.scheme() == "https" || p.scheme() == "http"));
    let brand_color = nonempty(&m.brand_color).filter(|c| valid_color(c)).unwrap_or_else(|| DEFAULT_BRAND_COLOR.into());
    let ctx = minijinja::context! {
        t => t,
        lang => lang,
        tenant_name => m.tenant_name.trim(),
        tenant_domain => m.tenant_domain.trim(),
        inviter_name => m.inviter_name.trim(),
        inviter_email => nonempty(&m.inviter_email),
        custom_message => nonempty(&m.custom_message),
        redeem_url => &m.redeem_url,
        redirect_url => &m.redirect_url,
        privacy_url => privacy_url,
        unsubscribe_url => &m.unsubscribe_url,
        brand_color => brand_color,
        sign_in_text => nonempty(&m.sign_in_text),
    };
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
    let mut render = |name: &'static str| -> Result<String, String> {
        let src = source(settings, name)?;
        env.add_template_owned(name, src).map_err(|e| format!("the mail template {name} does not compile: {e}"))?;
        env.get_template(name)
            .and_then(|tpl| tpl.render(&ctx))
            .map_err(|e| format!("rendering the mail template {name} failed: {e}"))
    };
    let subject = render("invitation_subject.txt")?;
    let text = render("invitation.txt")?;
    let html = render("invitation.html")?;
    let subject: String = subject
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(255)
        .collect();
    Ok((subject, text, html))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(lang: &'static str) -> InvitationMail {
        InvitationMail {
            lang,
            tenant_name: "Contoso".into(),
            tenant_domain: "contoso.test".into(),
            inviter_name: "Megan Bowen".into(),
            inviter_email: Some("megan@contoso.test".into()),
            custom_message: Some("Welcome!\n<b>hi</b> & \"bye\"".into()),
            redeem_url: "https://portico.test/redeem?t=abc&x=1".into(),
            redirect_url: "https://apps.contoso.test/start".into(),
            privacy_url: Some("https://contoso.test/privacy".into()),
            unsubscribe_url: "https://portico.test/invitations/unsubscribe?t=tok".into(),
            brand_color: Some("#c0ffee".into()),
            sign_in_text: None,
        }
    }

    /// The text of an HTML attribute or text node, entities decoded (what a mail client shows).
    fn unescape(s: &str) -> String {
        s.replace("&#x2f;", "/")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }

    #[test]
    fn the_english_invitation_says_who_invites_where_and_warns() {
        let (subject, text, html) = render_invitation(&MailSettings::default(), &mail("en")).unwrap();
        assert_eq!(subject, "Megan Bowen invited you to access applications within their organization");
        for body in [&text, &unescape(&html)] {
            assert!(body.contains("Only accept this invitation if you trust the sender"), "{body}");
            assert!(body.contains("Contoso") && body.contains("contoso.test"), "{body}");
            assert!(body.contains("Megan Bowen") && body.contains("megan@contoso.test"), "{body}");
            assert!(body.contains("Accept invitation"), "{body}");
            assert!(
                body.contains("You will be taken to https://apps.contoso.test/start")
                    || body.contains("you will be taken to https://apps.contoso.test/start"),
                "{body}"
            );
            assert!(body.contains("https://portico.test/redeem?t=abc&x=1"), "{body}");
            assert!(body.contains("Block future invitations"), "{body}");
            assert!(body.contains("https://portico.test/invitations/unsubscribe?t=tok"), "{body}");
            assert!(body.contains("https://contoso.test/privacy"), "{body}");
        }
        assert!(unescape(&html).contains(r#"<a href="https://portico.test/redeem?t=abc&x=1""#), "{html}");
        assert!(html.contains("<html lang=\"en\">"));
    }

    #[test]
    fn the_german_invitation_has_every_string_in_german() {
        let (subject, text, html) = render_invitation(&MailSettings::default(), &mail("de")).unwrap();
        assert_eq!(subject, "Megan Bowen hat Sie eingeladen, auf Anwendungen in der eigenen Organisation zuzugreifen");
        for body in [&text, &unescape(&html)] {
            assert!(body.contains("Nehmen Sie diese Einladung nur an"), "{body}");
            assert!(body.contains("Einladung annehmen"), "{body}");
            assert!(body.contains("Künftige Einladungen blockieren"), "{body}");
            assert!(body.contains("weitergeleitet"), "{body}");
            assert!(!body.contains("Accept invitation") && !body.contains("Only accept"), "{body}");
        }
        // Both catalogs have the same keys, so no German mail falls back to an English line.
        let keys = |lang: &str| -> Vec<String> {
            let src = BUILT_IN.iter().find(|(n, _)| *n == format!("invitation.{lang}.json")).unwrap().1;
            serde_json::from_str::<BTreeMap<String, String>>(src).unwrap().into_keys().collect()
        };
        assert_eq!(keys("en"), keys("de"));
        // Unknown languages get English.
        let (s, _, _) = render_invitation(&MailSettings::default(), &mail("fr")).unwrap();
        assert!(s.contains("invited you"));
    }

    #[test]
    fn the_custom_message_is_plain_text_escaped_in_html_and_verbatim_in_text() {
        let (_, text, html) = render_invitation(&MailSettings::default(), &mail("en")).unwrap();
        assert!(text.contains("Welcome!\n<b>hi</b> & \"bye\""), "{text}");
        assert!(!html.contains("<b>hi</b>"), "{html}");
        assert!(html.contains("&lt;b&gt;hi&lt;&#x2f;b&gt; &amp; &quot;bye&quot;"), "{html}");
        // A name that looks like a placeholder or markup is neither filled nor interpreted.
        let m = InvitationMail { inviter_name: "<i>{org}</i>".into(), ..mail("en") };
        let (subject, _, html) = render_invitation(&MailSettings::default(), &m).unwrap();
        assert_eq!(subject, "<i>{org}</i> invited you to access applications within their organization");
        assert!(!html.contains("<i>"), "{html}");
    }

    #[test]
    fn the_brand_colour_is_used_and_a_bad_one_is_dropped() {
        let (_, _, html) = render_invitation(&MailSettings::default(), &mail("en")).unwrap();
        assert!(html.contains("background-color:#c0ffee"), "{html}");
        assert!(!html.contains(DEFAULT_BRAND_COLOR));
        for bad in ["red;background:url(https://evil.test/x)", "#12345", "#ggg", "c0ffee", "#c0ffee\"", ""] {
            let (_, _, html) = render_invitation(
                &MailSettings::default(),
                &InvitationMail { brand_color: Some(bad.into()), ..mail("en") },
            )
            .unwrap();
            assert!(html.contains(&format!("background-color:{DEFAULT_BRAND_COLOR}")), "{bad}");
            assert!(!html.contains("evil.test"), "{bad}");
        }
        assert!(valid_color("#abc") && valid_color("#A0B1C2") && !valid_color("#abcd"));
    }

    #[test]
    fn without_a_privacy_statement_the_footer_says_so() {
        for bad in [None, Some("javascript:alert(1)".to_string()), Some(" ".to_string())] {
            let m = InvitationMail { privacy_url: bad, ..mail("en") };
            let (_, text, html) = render_invitation(&MailSettings::default(), &m).unwrap();
            assert!(text.contains("Contoso has not provided a link to its privacy statement."), "{text}");
            assert!(!html.contains("javascript"), "{html}");
        }
    }

    #[test]
    fn a_template_in_the_template_dir_replaces_the_built_in_one() {
        let dir = std::env::temp_dir().join(format!("portico-mail-templates-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        struct Cleanup(std::path::PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let _cleanup = Cleanup(dir.clone());
        std::fs::write(
            dir.join("invitation.html"),
            "<p>Custom {{ tenant_name }}: <a href=\"{{ redeem_url }}\">{{ t.accept }}</a> {{ custom_message }}</p>",
        )
        .unwrap();
        std::fs::write(dir.join("invitation.de.json"), r#"{"subject": "Hallo von {org}", "accept": "Los"}"#).unwrap();
        let settings = MailSettings { template_dir: Some(dir.clone()), ..MailSettings::default() };
        let (subject, text, html) = render_invitation(&settings, &mail("en")).unwrap();
        assert!(html.starts_with("<p>Custom Contoso: "), "{html}");
        assert!(html.contains("Accept invitation") && html.contains("&lt;b&gt;hi"), "{html}");
        // Files the folder does not have stay built in.
        assert!(text.contains("Only accept this invitation"), "{text}");
        assert!(subject.contains("invited you"));
        let (subject, _, html) = render_invitation(&settings, &mail("de")).unwrap();
        assert_eq!(subject, "Hallo von Contoso");
        assert!(html.contains(">Los</a>"), "{html}");
        // A broken override is an error that names the file, not a silent fallback.
        std::fs::write(dir.join("invitation.txt"), "{% if %}").unwrap();
        let e = render_invitation(&settings, &mail("en")).unwrap_err();
        assert!(e.contains("invitation.txt"), "{e}");
    }

    #[test]
    fn placeholders_are_filled_once() {
        let v = [("a", "{b}"), ("b", "x")];
        assert_eq!(fill("{a}-{b}-{c}-{", &v), "{b}-x-{c}-{");
    }
}
