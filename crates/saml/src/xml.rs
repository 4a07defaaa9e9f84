//! Hardened XML parsing and small DOM helpers shared by the validators.

use std::collections::HashSet;

use roxmltree::{Document, Node, NodeType, ParsingOptions};

use crate::SamlError;

pub(crate) const NS_SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub(crate) const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub(crate) const NS_DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub(crate) const NS_MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub(crate) const NS_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub(crate) const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

/// Deepest element nesting accepted. SAML documents are about 10 levels deep; the limit keeps the recursive
/// canonicalizer's stack use bounded.
pub(crate) const MAX_DEPTH: usize = 64;
/// Upper bound on the number of nodes roxmltree builds.
const NODES_LIMIT: u32 = 200_000;

/// Whether the text contains a document type declaration, in any letter case.
fn contains_doctype(xml: &str) -> bool {
    xml.as_bytes().windows(9).any(|w| w.eq_ignore_ascii_case(b"<!doctype"))
}

/// Parses an XML document with DTDs refused, a size limit and a nesting limit.
pub(crate) fn parse<'i>(xml: &'i str, what: &'static str, limit: usize) -> Result<Document<'i>, SamlError> {
    if xml.len() > limit {
        return Err(SamlError::TooLarge { what, size: xml.len(), limit });
    }
    // roxmltree accepts an *empty* DOCTYPE even with DTDs disabled; any DOCTYPE at all is refused here.
    if contains_doctype(xml) {
        return Err(SamlError::DtdRefused);
    }
    let opts = ParsingOptions { nodes_limit: NODES_LIMIT, ..ParsingOptions::default() };
    let doc = Document::parse_with_options(xml, opts).map_err(|e| match e {
        roxmltree::Error::DtdDetected => SamlError::DtdRefused,
        e => SamlError::Malformed(format!("the {what} is not well-formed XML: {e}")),
    })?;
    check_depth(&doc, what)?;
    Ok(doc)
}

fn check_depth(doc: &Document, what: &str) -> Result<(), SamlError> {
    // Document order visits parents before children, so one pass computes every node's depth.
    let mut depth = vec![0usize; doc.descendants().count() + 1];
    for node in doc.descendants() {
        let d = node.parent().map_or(0, |p| depth[p.id().get_usize()] + 1);
        depth[node.id().get_usize()] = d;
        if d > MAX_DEPTH && node.is_element() {
            return Err(SamlError::Malformed(format!("the {what} nests elements more than {MAX_DEPTH} levels deep")));
        }
    }
    Ok(())
}

/// Refuses documents in which two elements carry the same ID value (signature-wrapping defence).
pub(crate) fn check_unique_ids(doc: &Document) -> Result<(), SamlError> {
    let mut seen = HashSet::new();
    for node in doc.descendants().filter(Node::is_element) {
        for attr in node.attributes() {
            let is_id = match attr.namespace() {
                None => matches!(attr.name(), "ID" | "Id" | "AssertionID" | "ResponseID"),
                Some(ns) => ns == NS_XML && attr.name() == "id",
            };
            if is_id && !seen.insert(attr.value()) {
                return Err(SamlError::Wrapped(format!(
                    "the ID \"{}\" occurs more than once in the document",
                    attr.value()
                )));
            }
        }
    }
    Ok(())
}

/// Whether `node` is the element `{ns}local`.
pub(crate) fn is(node: Node, ns: &str, local: &str) -> bool {
    node.is_element() && node.tag_name().name() == local && node.tag_name().namespace() == Some(ns)
}

/// The element children named `{ns}local`.
pub(crate) fn children<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'static str,
    local: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(move |c| is(*c, ns, local))
}

/// The only child named `{ns}local`, if any; more than one is malformed.
pub(crate) fn single_child<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'static str,
    local: &'static str,
) -> Result<Option<Node<'a, 'i>>, SamlError> {
    let mut it = children(node, ns, local);
    let first = it.next();
    if first.is_some() && it.next().is_some() {
        return Err(SamlError::Malformed(format!(
            "the {} element contains more than one {local} element",
            node.tag_name().name()
        )));
    }
    Ok(first)
}

/// The text content of an element that must hold plain text only.
///
/// Comments, processing instructions and child elements are refused rather than skipped: XML-DSig digests do not
/// cover comments, so taking "the first text node" of `user@evil.com<!---->.partner.com` would let an attacker
/// truncate a signed value.
pub(crate) fn strict_text<'a>(node: Node<'a, '_>) -> Result<&'a str, SamlError> {
    let mut kids = node.children();
    let text = match (kids.next(), kids.next()) {
        (None, _) => return Ok(""),
        (Some(t), None) if t.node_type() == NodeType::Text => t.text().unwrap_or(""),
        _ => {
            let what = node
                .children()
                .find(|c| c.node_type() != NodeType::Text)
                .map(|c| match c.node_type() {
                    NodeType::Comment => "a comment",
                    NodeType::PI => "a processing instruction",
                    _ => "a child element",
                })
                .unwrap_or("mixed content");
            return Err(SamlError::Malformed(format!(
                "the {} element contains {what} where only text is accepted",
                node.tag_name().name()
            )));
        }
    };
    Ok(text)
}

/// The prefix the element was written with in the source ("" for none).
pub(crate) fn element_qname<'i>(node: Node<'_, 'i>) -> &'i str {
    let src = node.document().input_text();
    let rest = &src[node.range().start + 1..];
    let end = rest.find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>').unwrap_or(rest.len());
    &rest[..end]
}

/// Splits a qualified name into (prefix, local part); the prefix is "" when absent.
pub(crate) fn split_qname(qname: &str) -> (&str, &str) {
    match qname.split_once(':') {
        Some((p, l)) => (p, l),
        None => ("", qname),
    }
}

/// The attribute's qualified name as written in the source.
pub(crate) fn attribute_qname<'i>(doc: &Document<'i>, attr: &roxmltree::Attribute<'_, 'i>) -> &'i str {
    &doc.input_text()[attr.range_qname()]
}

/// Escapes a string for use in XML character data or a double-quoted attribute value.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// Decodes base64 that may contain whitespace (line breaks are common in XML-DSig and PEM).
pub(crate) fn base64_lenient(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode(compact.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_doctype_is_refused_even_though_roxmltree_accepts_it() {
        assert_eq!(parse("<!DOCTYPE a><a/>", "doc", 1000).unwrap_err(), SamlError::DtdRefused);
        assert_eq!(parse("<!doctype a><a/>", "doc", 1000).unwrap_err(), SamlError::DtdRefused);
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert_eq!(parse(xxe, "doc", 1000).unwrap_err().reason(), "dtd_refused");
    }

    #[test]
    fn depth_and_size_limits() {
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(&deep, "doc", 100_000).unwrap_err().reason(), "malformed");
        let ok = "<a>".repeat(MAX_DEPTH) + &"</a>".repeat(MAX_DEPTH);
        assert!(parse(&ok, "doc", 100_000).is_ok());
        assert_eq!(parse("<a/>", "doc", 3).unwrap_err().reason(), "too_large");
    }

    #[test]
    fn strict_text_refuses_comments_pis_and_elements() {
        let doc =
            parse("<r><a>x<!---->y</a><b>x<?p?></b><c><d/></c><e>plain &amp; <![CDATA[cdata]]></e><f/></r>", "d", 1000)
                .unwrap();
        let get = |n: &str| doc.descendants().find(|x| x.has_tag_name(n)).unwrap();
        assert!(strict_text(get("a")).is_err());
        assert!(strict_text(get("b")).is_err());
        assert!(strict_text(get("c")).is_err());
        assert_eq!(strict_text(get("e")).unwrap(), "plain & cdata");
        assert_eq!(strict_text(get("f")).unwrap(), "");
    }

    #[test]
    fn duplicate_ids_are_wrapping() {
        let doc = parse(r#"<r ID="a"><x ID="b"/><y Id="a"/></r>"#, "d", 1000).unwrap();
        assert_eq!(check_unique_ids(&doc).unwrap_err().reason(), "wrapped");
        let doc = parse(r#"<r ID="a"><x ID="b"/></r>"#, "d", 1000).unwrap();
        assert!(check_unique_ids(&doc).is_ok());
    }
}
