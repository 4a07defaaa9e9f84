//! Validation of a `samlp:Response` delivered by the HTTP-POST binding (Web Browser SSO profile, bearer).

use roxmltree::Node;

use crate::cert::{TrustedKey, trusted_key};
use crate::xml::{self, NS_DS, NS_SAML, NS_SAMLP, children, is, single_child, strict_text};
use crate::{Expectations, IdpTrust, MAX_RESPONSE_BYTES, SamlError, dsig, xstime};

const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const NAMEID_ENTITY: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
/// Largest clock skew honoured, whatever the caller asks for.
pub(crate) const MAX_CLOCK_SKEW_MS: i64 = 300_000;

/// The facts of a validated assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// The assertion's ID. Record it (with `issuer`) until `not_on_or_after_ms` to refuse replays.
    pub id: String,
    /// The assertion's Issuer (equal to the trusted IdP's entity id).
    pub issuer: String,
    /// The Subject's NameID value.
    pub name_id: String,
    /// The NameID's Format attribute, if present.
    pub name_id_format: Option<String>,
    /// The AuthnStatement's SessionIndex, if present.
    pub session_index: Option<String>,
    /// The latest instant at which this assertion could be accepted: the minimum of Conditions/@NotOnOrAfter and
    /// the bearer SubjectConfirmationData/@NotOnOrAfter. Use it as the replay-cache expiry.
    pub not_on_or_after_ms: i64,
    /// The AuthnStatement's AuthnInstant, if any.
    pub authn_instant_ms: Option<i64>,
    /// The AuthnContextClassRef of the first AuthnStatement, if any.
    pub authn_context_class_ref: Option<String>,
    /// Attributes in document order: Name -> values.
    pub attributes: Vec<(String, Vec<String>)>,
    /// (FriendlyName, Name) pairs for attributes that have a FriendlyName.
    pub friendly_names: Vec<(String, String)>,
}

/// Attribute names tried, in order, by [`Assertion::email`].
pub const EMAIL_ATTRIBUTES: [&str; 5] = [
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "email",
    "mail",
    "emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
];

/// AuthnContextClassRef values taken to mean multi-factor authentication.
pub const MFA_CLASS_REFS: [&str; 9] = [
    "http://schemas.microsoft.com/claims/multipleauthn",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:X509",
    "https://refeds.org/profile/mfa",
    "http://id.incommon.org/assurance/mfa",
];

/// Attribute (Name or FriendlyName) in which Entra ID lists authentication methods.
pub const AUTHN_METHODS_ATTRIBUTE: &str = "http://schemas.microsoft.com/claims/authnmethodsreferences";

impl Assertion {
    fn entry(&self, name: &str) -> Option<&(String, Vec<String>)> {
        if let Some(e) = self.attributes.iter().find(|(n, _)| n == name) {
            return Some(e);
        }
        let (_, real) = self.friendly_names.iter().find(|(f, _)| f.eq_ignore_ascii_case(name))?;
        self.attributes.iter().find(|(n, _)| n == real)
    }

    /// The first value of the attribute whose Name is `name` (case-sensitive), or else whose FriendlyName is
    /// `name` (ASCII case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.entry(name).and_then(|(_, v)| v.first()).map(String::as_str)
    }

    /// All values of the attribute found as in [`Assertion::attribute`].
    pub fn attribute_values(&self, name: &str) -> &[String] {
        self.entry(name).map(|(_, v)| v.as_slice()).unwrap_or(&[])
    }

    /// The user's email address: the first non-empty of the [`EMAIL_ATTRIBUTES`], else the NameID when its format
    /// is `urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress`.
    pub fn email(&self) -> Option<&str> {
        EMAIL_ATTRIBUTES
            .iter()
            .filter_map(|n| self.attribute(n))
            .find(|v| !v.trim().is_empty())
            .map(str::trim)
            .or_else(|| (self.name_id_format.as_deref() == Some(NAMEID_EMAIL)).then_some(self.name_id.as_str()))
    }

    /// Whether the IdP states that multi-factor authentication was performed: the AuthnContextClassRef is one of
    /// [`MFA_CLASS_REFS`], or the [`AUTHN_METHODS_ATTRIBUTE`] (or FriendlyName `authnmethodsreferences`) has a
    /// value containing `multipleauthn`. Anything else is `false` (the weakest assumption).
    pub fn mfa(&self) -> bool {
        if self.authn_context_class_ref.as_deref().is_some_and(|c| MFA_CLASS_REFS.contains(&c)) {
            return true;
        }
        [AUTHN_METHODS_ATTRIBUTE, "authnmethodsreferences"]
            .iter()
            .flat_map(|n| self.attribute_values(n))
            .any(|v| v.contains("multipleauthn"))
    }
}

/// Validates a SAML 2.0 `samlp:Response` (already decoded from the POST binding) and returns its assertion.
///
/// See the crate documentation for the exact rules. The caller must still refuse replays by recording
/// [`Assertion::id`] with [`Assertion::issuer`] until [`Assertion::not_on_or_after_ms`].
pub fn validate_response(xml: &str, trust: &IdpTrust, exp: &Expectations) -> Result<Assertion, SamlError> {
    let doc = xml::parse(xml, "SAML response", MAX_RESPONSE_BYTES)?;
    let root = doc.root_element();
    if !is(root, NS_SAMLP, "Response") {
        return Err(SamlError::malformed(format!(
            "the document element is {{{}}}{}, not a SAML 2.0 protocol Response",
            root.tag_name().namespace().unwrap_or(""),
            root.tag_name().name()
        )));
    }
    if root.attribute("Version") != Some("2.0") {
        return Err(SamlError::malformed("the response's Version is not 2.0"));
    }
    xml::check_unique_ids(&doc)?;
    check_status(root)?;

    // Exactly one assertion, a direct child of the response; none anywhere else.
    if doc.descendants().any(|n| is(n, NS_SAML, "EncryptedAssertion")) {
        return Err(SamlError::EncryptedUnsupported(
            "the response carries an EncryptedAssertion; configure the identity provider to sign, not encrypt, assertions".into(),
        ));
    }
    let direct: Vec<Node> = children(root, NS_SAML, "Assertion").collect();
    let all = doc.descendants().filter(|n| is(*n, NS_SAML, "Assertion")).count();
    if all > direct.len() {
        return Err(SamlError::Wrapped(format!(
            "the response contains {} assertion(s) outside the expected place (directly inside the Response)",
            all - direct.len()
        )));
    }
    let assertion = match direct.as_slice() {
        [] => return Err(SamlError::NoAssertion),
        [a] => *a,
        many => return Err(SamlError::MultipleAssertions(many.len())),
    };

    // Signatures: each present one (on the response and/or the assertion) must verify; at least one required.
    let response_sig = only_signature(root, "response")?;
    let assertion_sig = only_signature(assertion, "assertion")?;
    if response_sig.is_none() && assertion_sig.is_none() {
        return Err(SamlError::SignatureMissing);
    }
    if trust.certificates.is_empty() {
        return Err(SamlError::CertificateUnknown(format!(
            "no signing certificate is configured for the identity provider \"{}\"",
            trust.issuer
        )));
    }
    let keys: Vec<TrustedKey> = trust.certificates.iter().map(|c| trusted_key(c)).collect::<Result<_, _>>()?;
    if let Some(sig) = response_sig {
        dsig::verify_enveloped(root, sig, &keys, "response")?;
    }
    if let Some(sig) = assertion_sig {
        dsig::verify_enveloped(assertion, sig, &keys, "assertion")?;
    }
    // From here on only `root` (for unsigned-tolerant response checks) and the verified `assertion` subtree are
    // read; the assertion is covered either by its own signature or, as a direct child, by the response's.

    if let Some(issuer) = single_child(root, NS_SAML, "Issuer")? {
        check_issuer(issuer, trust, "response's")?;
    }
    let skew = exp.clock_skew_ms.clamp(0, MAX_CLOCK_SKEW_MS);
    if let Some(dest) = root.attribute("Destination")
        && dest != exp.sp.acs_url
    {
        return Err(SamlError::DestinationMismatch { found: dest.into(), expected: exp.sp.acs_url.clone() });
    }
    check_in_response_to(root.attribute("InResponseTo"), exp, "response", false)?;

    read_assertion(assertion, trust, exp, skew)
}

fn only_signature<'a, 'i>(node: Node<'a, 'i>, what: &str) -> Result<Option<Node<'a, 'i>>, SamlError> {
    let sigs: Vec<Node> = children(node, NS_DS, "Signature").collect();
    match sigs.as_slice() {
        [] => Ok(None),
        [s] => Ok(Some(*s)),
        _ => Err(SamlError::Wrapped(format!("the {what} carries {} signatures; at most one is accepted", sigs.len()))),
    }
}

fn check_status(root: Node) -> Result<(), SamlError> {
    let status =
        single_child(root, NS_SAMLP, "Status")?.ok_or_else(|| SamlError::malformed("the response has no Status"))?;
    let code = single_child(status, NS_SAMLP, "StatusCode")?
        .ok_or_else(|| SamlError::malformed("the response's Status has no StatusCode"))?;
    let top = code.attribute("Value").unwrap_or("");
    if top == STATUS_SUCCESS {
        return Ok(());
    }
    let mut codes = vec![top.to_owned()];
    let mut cur = code;
    while let Some(sub) = single_child(cur, NS_SAMLP, "StatusCode")? {
        codes.push(sub.attribute("Value").unwrap_or("").to_owned());
        cur = sub;
    }
    let message = match single_child(status, NS_SAMLP, "StatusMessage")? {
        Some(m) => Some(strict_text(m)?.to_owned()),
        None => None,
    };
    Err(SamlError::StatusNotSuccess { codes, message })
}

fn check_issuer(issuer: Node, trust: &IdpTrust, place: &'static str) -> Result<String, SamlError> {
    if let Some(format) = issuer.attribute("Format")
        && format != NAMEID_ENTITY
    {
        return Err(SamlError::malformed(format!(
            "the {place} Issuer has the Format \"{format}\"; only entity is accepted"
        )));
    }
    let value = strict_text(issuer)?;
    if value != trust.issuer {
        return Err(SamlError::IssuerMismatch { place, found: value.into(), expected: trust.issuer.clone() });
    }
    Ok(value.to_owned())
}

/// InResponseTo rules: with a request id, `value` must equal it (and must be present when `required`); without
/// one (IdP-initiated), any InResponseTo is refused.
fn check_in_response_to(value: Option<&str>, exp: &Expectations, place: &str, required: bool) -> Result<(), SamlError> {
    match (exp.request_id, value) {
        (Some(want), Some(got)) if got == want => Ok(()),
        (Some(want), Some(got)) => Err(SamlError::InResponseToMismatch(format!(
            "the {place} answers the request \"{got}\", not the request \"{want}\" this browser session started"
        ))),
        (Some(want), None) if required => Err(SamlError::InResponseToMismatch(format!(
            "the {place} has no InResponseTo although it should answer the request \"{want}\""
        ))),
        (Some(_), None) => Ok(()),
        (None, Some(got)) => Err(SamlError::InResponseToMismatch(format!(
            "the {place} answers the request \"{got}\", but no request is pending for this browser session"
        ))),
        (None, None) => Ok(()),
    }
}

fn time_attr(node: Node, name: &str) -> Result<Option<i64>, SamlError> {
    node.attribute(name).map(xstime::parse_ms).transpose()
}

fn read_assertion(a: Node, trust: &IdpTrust, exp: &Expectations, skew: i64) -> Result<Assertion, SamlError> {
    if a.attribute("Version") != Some("2.0") {
        return Err(SamlError::malformed("the assertion's Version is not 2.0"));
    }
    let id =
        a.attribute("ID").filter(|v| !v.is_empty()).ok_or_else(|| SamlError::malformed("the assertion has no ID"))?;
    time_attr(a, "IssueInstant")?.ok_or_else(|| SamlError::malformed("the assertion has no IssueInstant"))?;
    let issuer =
        single_child(a, NS_SAML, "Issuer")?.ok_or_else(|| SamlError::malformed("the assertion has no Issuer"))?;
    let issuer = check_issuer(issuer, trust, "assertion's")?;
    let now = exp.now_ms;

    // Subject: NameID and a satisfied bearer confirmation.
    let subject = single_child(a, NS_SAML, "Subject")?
        .ok_or_else(|| SamlError::SubjectMissing("the assertion has no Subject".into()))?;
    if single_child(subject, NS_SAML, "EncryptedID")?.is_some() {
        return Err(SamlError::EncryptedUnsupported("the subject's identifier is encrypted (EncryptedID)".into()));
    }
    let name_id_node = single_child(subject, NS_SAML, "NameID")?
        .ok_or_else(|| SamlError::SubjectMissing("the assertion's Subject has no NameID".into()))?;
    let name_id = strict_text(name_id_node)?;
    if name_id.trim().is_empty() {
        return Err(SamlError::SubjectMissing("the assertion's NameID is empty".into()));
    }
    let mut confirmation: Option<Result<i64, SamlError>> = None;
    for sc in children(subject, NS_SAML, "SubjectConfirmation") {
        if sc.attribute("Method") != Some(CM_BEARER) {
            continue;
        }
        let result = check_bearer(sc, exp, skew);
        let ok = result.is_ok();
        if ok || confirmation.is_none() {
            confirmation = Some(result);
        }
        if ok {
            break;
        }
    }
    let scd_not_on_or_after = match confirmation {
        Some(r) => r?,
        None => {
            return Err(SamlError::SubjectMissing("the assertion's Subject has no bearer SubjectConfirmation".into()));
        }
    };

    // Conditions: time window and audience.
    let conditions = single_child(a, NS_SAML, "Conditions")?.ok_or_else(|| {
        SamlError::AudienceMismatch("the assertion has no Conditions and so no AudienceRestriction".into())
    })?;
    if let Some(nb) = time_attr(conditions, "NotBefore")?
        && nb > now + skew
    {
        return Err(SamlError::NotYetValid(format!(
            "the assertion is valid only from {} (Conditions NotBefore); it is now {} (allowed clock skew {} s)",
            xstime::format_ms(nb),
            xstime::format_ms(now),
            skew / 1000
        )));
    }
    let cond_noa = time_attr(conditions, "NotOnOrAfter")?;
    if let Some(noa) = cond_noa
        && noa <= now - skew
    {
        return Err(SamlError::Expired(format!(
            "the assertion expired at {} (Conditions NotOnOrAfter); it is now {} (allowed clock skew {} s)",
            xstime::format_ms(noa),
            xstime::format_ms(now),
            skew / 1000
        )));
    }
    let mut restrictions = 0;
    for cond in conditions.children().filter(Node::is_element) {
        if is(cond, NS_SAML, "AudienceRestriction") {
            restrictions += 1;
            let mut audiences = Vec::new();
            for aud in children(cond, NS_SAML, "Audience") {
                audiences.push(strict_text(aud)?);
            }
            if !audiences.contains(&exp.sp.entity_id.as_str()) {
                let shown = if audiences.is_empty() { "(none)".to_owned() } else { audiences.join("\", \"") };
                return Err(SamlError::AudienceMismatch(format!(
                    "the assertion's audience \"{shown}\" is not this tenant's entity id \"{}\"",
                    exp.sp.entity_id
                )));
            }
        } else if is(cond, NS_SAML, "OneTimeUse") || is(cond, NS_SAML, "ProxyRestriction") {
            // OneTimeUse is honoured by the caller's replay cache; ProxyRestriction does not concern a final SP.
        } else {
            return Err(SamlError::malformed(format!(
                "the assertion has the condition {} which this service provider cannot evaluate",
                cond.tag_name().name()
            )));
        }
    }
    if restrictions == 0 {
        return Err(SamlError::AudienceMismatch(format!(
            "the assertion has no AudienceRestriction naming this tenant's entity id \"{}\"",
            exp.sp.entity_id
        )));
    }
    let not_on_or_after_ms = cond_noa.map_or(scd_not_on_or_after, |c| c.min(scd_not_on_or_after));

    // AuthnStatement (first one).
    let mut session_index = None;
    let mut authn_instant_ms = None;
    let mut authn_context_class_ref = None;
    if let Some(st) = children(a, NS_SAML, "AuthnStatement").next() {
        authn_instant_ms = time_attr(st, "AuthnInstant")?;
        session_index = st.attribute("SessionIndex").map(str::to_owned);
        if let Some(ctx) = single_child(st, NS_SAML, "AuthnContext")?
            && let Some(cr) = single_child(ctx, NS_SAML, "AuthnContextClassRef")?
        {
            authn_context_class_ref = Some(strict_text(cr)?.trim().to_owned());
        }
    }

    // Attributes.
    let mut attributes = Vec::new();
    let mut friendly_names = Vec::new();
    for st in children(a, NS_SAML, "AttributeStatement") {
        for at in st.children().filter(Node::is_element) {
            if is(at, NS_SAML, "EncryptedAttribute") {
                return Err(SamlError::EncryptedUnsupported("the assertion contains an EncryptedAttribute".into()));
            }
            if !is(at, NS_SAML, "Attribute") {
                return Err(SamlError::malformed(format!(
                    "unexpected {} element in an AttributeStatement",
                    at.tag_name().name()
                )));
            }
            let name = at.attribute("Name").ok_or_else(|| SamlError::malformed("an Attribute has no Name"))?;
            let mut values = Vec::new();
            for v in children(at, NS_SAML, "AttributeValue") {
                values.push(strict_text(v)?.to_owned());
            }
            if let Some(f) = at.attribute("FriendlyName") {
                friendly_names.push((f.to_owned(), name.to_owned()));
            }
            attributes.push((name.to_owned(), values));
        }
    }

    Ok(Assertion {
        id: id.to_owned(),
        issuer,
        name_id: name_id.to_owned(),
        name_id_format: name_id_node.attribute("Format").map(str::to_owned),
        session_index,
        not_on_or_after_ms,
        authn_instant_ms,
        authn_context_class_ref,
        attributes,
        friendly_names,
    })
}

/// Checks one bearer SubjectConfirmation; returns its NotOnOrAfter.
fn check_bearer(sc: Node, exp: &Expectations, skew: i64) -> Result<i64, SamlError> {
    let now = exp.now_ms;
    let data = single_child(sc, NS_SAML, "SubjectConfirmationData")?.ok_or_else(|| {
        SamlError::RecipientMismatch("the bearer SubjectConfirmation has no SubjectConfirmationData/@Recipient".into())
    })?;
    match data.attribute("Recipient") {
        Some(r) if r == exp.sp.acs_url => {}
        Some(r) => {
            return Err(SamlError::RecipientMismatch(format!(
                "the assertion's recipient \"{r}\" is not this tenant's assertion consumer service URL \"{}\"",
                exp.sp.acs_url
            )));
        }
        None => {
            return Err(SamlError::RecipientMismatch("the bearer SubjectConfirmationData has no Recipient".into()));
        }
    }
    if let Some(nb) = time_attr(data, "NotBefore")?
        && nb > now + skew
    {
        return Err(SamlError::NotYetValid(format!(
            "the subject confirmation is valid only from {}; it is now {} (allowed clock skew {} s)",
            xstime::format_ms(nb),
            xstime::format_ms(now),
            skew / 1000
        )));
    }
    let noa = time_attr(data, "NotOnOrAfter")?
        .ok_or_else(|| SamlError::malformed("the bearer SubjectConfirmationData has no NotOnOrAfter"))?;
    if noa <= now - skew {
        return Err(SamlError::Expired(format!(
            "the subject confirmation expired at {} (SubjectConfirmationData NotOnOrAfter); it is now {} (allowed clock skew {} s)",
            xstime::format_ms(noa),
            xstime::format_ms(now),
            skew / 1000
        )));
    }
    check_in_response_to(data.attribute("InResponseTo"), exp, "assertion", true)?;
    Ok(noa)
}
