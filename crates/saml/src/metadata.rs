//! SAML 2.0 metadata: this SP's EntityDescriptor, and reading a partner IdP's.

use roxmltree::Node;

use crate::xml::{self, NS_DS, NS_MD, children, escape, is, strict_text};
use crate::{SamlError, SpConfig, certificate_from_base64, xstime};

const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
/// Largest IdP metadata document accepted (Entra's is ~60 KiB; aggregates must be filtered before).
pub const MAX_METADATA_BYTES: usize = 8 * 1024 * 1024;

/// This SP's metadata (`md:EntityDescriptor` with one `md:SPSSODescriptor`), schema-valid per
/// saml-schema-metadata-2.0.xsd.
///
/// Declares unsigned AuthnRequests, wanted signed assertions, the persistent and emailAddress NameID formats and
/// the ACS (HTTP-POST, index 0, default). With `organization`, an `md:Organization` is added using the name for
/// both OrganizationName and OrganizationDisplayName and the origin of the ACS URL as OrganizationURL (the schema
/// requires all three).
pub fn sp_metadata(sp: &SpConfig, organization: Option<&str>) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!("<md:EntityDescriptor xmlns:md=\"{NS_MD}\" entityID=\"{}\">\n", escape(&sp.entity_id)));
    out.push_str(&format!(
        "  <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"{PROTOCOL}\">\n"
    ));
    out.push_str("    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\n");
    out.push_str("    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>\n");
    out.push_str(&format!(
        "    <md:AssertionConsumerService Binding=\"{BINDING_POST}\" Location=\"{}\" index=\"0\" isDefault=\"true\"/>\n",
        escape(&sp.acs_url)
    ));
    out.push_str("  </md:SPSSODescriptor>\n");
    if let Some(org) = organization.map(str::trim).filter(|o| !o.is_empty()) {
        let url = url::Url::parse(&sp.acs_url)
            .ok()
            .map(|u| u.origin().ascii_serialization())
            .filter(|o| o != "null")
            .unwrap_or_else(|| sp.acs_url.clone());
        let org = escape(org);
        out.push_str("  <md:Organization>\n");
        out.push_str(&format!("    <md:OrganizationName xml:lang=\"en\">{org}</md:OrganizationName>\n"));
        out.push_str(&format!("    <md:OrganizationDisplayName xml:lang=\"en\">{org}</md:OrganizationDisplayName>\n"));
        out.push_str(&format!("    <md:OrganizationURL xml:lang=\"en\">{}</md:OrganizationURL>\n", escape(&url)));
        out.push_str("  </md:Organization>\n");
    }
    out.push_str("</md:EntityDescriptor>\n");
    out
}

/// What Portico needs from a partner IdP's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// The IdP's entityID (the Issuer of its assertions).
    pub entity_id: String,
    /// SingleSignOnService location for the HTTP-Redirect binding.
    pub sso_redirect_url: Option<String>,
    /// SingleSignOnService location for the HTTP-POST binding.
    pub sso_post_url: Option<String>,
    /// DER certificates from KeyDescriptors with `use="signing"` or no `use` (deduplicated, document order).
    pub signing_certificates: Vec<Vec<u8>>,
    /// The earliest `validUntil` of the EntityDescriptor and its enclosing EntitiesDescriptors, if any.
    pub valid_until_ms: Option<i64>,
}

/// Reads an IdP's metadata: an `md:EntityDescriptor`, or the first EntityDescriptor with a SAML 2.0
/// `md:IDPSSODescriptor` inside an `md:EntitiesDescriptor`.
///
/// The metadata's own signature (if any) is not verified: the administrator vouches for the document. At least one
/// signing certificate is required.
pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, SamlError> {
    let doc = xml::parse(xml, "metadata document", MAX_METADATA_BYTES)?;
    let root = doc.root_element();
    let is_idp = |e: Node| idp_descriptor(e).is_some();
    let entity = if is(root, NS_MD, "EntityDescriptor") {
        root
    } else if is(root, NS_MD, "EntitiesDescriptor") {
        root.descendants().find(|n| is(*n, NS_MD, "EntityDescriptor") && is_idp(*n)).ok_or_else(|| {
            SamlError::malformed("the metadata contains no EntityDescriptor with a SAML 2.0 IDPSSODescriptor")
        })?
    } else {
        return Err(SamlError::malformed(format!(
            "the document element is {}, not md:EntityDescriptor or md:EntitiesDescriptor",
            root.tag_name().name()
        )));
    };
    let entity_id = entity
        .attribute("entityID")
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| SamlError::malformed("the EntityDescriptor has no entityID"))?
        .to_owned();
    let idp = idp_descriptor(entity)
        .ok_or_else(|| SamlError::malformed(format!("the entity \"{entity_id}\" has no SAML 2.0 IDPSSODescriptor")))?;

    let mut valid_until_ms: Option<i64> = None;
    for n in entity.ancestors().filter(|n| n.is_element()) {
        if let Some(v) = n.attribute("validUntil") {
            let t = xstime::parse_ms(v)?;
            valid_until_ms = Some(valid_until_ms.map_or(t, |c| c.min(t)));
        }
    }
    if let Some(v) = idp.attribute("validUntil") {
        let t = xstime::parse_ms(v)?;
        valid_until_ms = Some(valid_until_ms.map_or(t, |c| c.min(t)));
    }

    let sso = |binding: &str| {
        children(idp, NS_MD, "SingleSignOnService")
            .find(|s| s.attribute("Binding") == Some(binding))
            .and_then(|s| s.attribute("Location"))
            .map(|l| l.trim().to_owned())
    };
    let mut signing_certificates: Vec<Vec<u8>> = Vec::new();
    for kd in children(idp, NS_MD, "KeyDescriptor") {
        if !matches!(kd.attribute("use"), None | Some("signing")) {
            continue;
        }
        for ki in children(kd, NS_DS, "KeyInfo") {
            for data in children(ki, NS_DS, "X509Data") {
                for c in children(data, NS_DS, "X509Certificate") {
                    let der = certificate_from_base64(strict_text(c)?)?;
                    if !signing_certificates.contains(&der) {
                        signing_certificates.push(der);
                    }
                }
            }
        }
    }
    if signing_certificates.is_empty() {
        return Err(SamlError::malformed(format!("the metadata of \"{entity_id}\" has no signing certificate")));
    }
    Ok(IdpMetadata {
        entity_id,
        sso_redirect_url: sso(BINDING_REDIRECT),
        sso_post_url: sso(BINDING_POST),
        signing_certificates,
        valid_until_ms,
    })
}

fn idp_descriptor<'a, 'i>(entity: Node<'a, 'i>) -> Option<Node<'a, 'i>> {
    children(entity, NS_MD, "IDPSSODescriptor").find(|d| {
        d.attribute("protocolSupportEnumeration").is_some_and(|p| p.split_ascii_whitespace().any(|x| x == PROTOCOL))
    })
}
