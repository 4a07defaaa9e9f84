//! Exclusive XML Canonicalization 1.0 (<https://www.w3.org/TR/xml-exc-c14n/>), with and without comments.
//!
//! The canonicalizer works on a roxmltree element and its subtree (the "document subset" of a same-document
//! reference), optionally omitting one descendant element (the enveloped `ds:Signature`). Rules implemented:
//!
//! * the element's qualified name is written with the prefix used in the source;
//! * namespace declarations: a namespace node is rendered when it is *visibly utilized* (by the element's own
//!   prefix, or by a prefixed attribute) or its prefix is in the InclusiveNamespaces PrefixList (`#default` for the
//!   default namespace), and the nearest output ancestor did not already render the same prefix with the same
//!   value. `xmlns=""` is emitted only when an output ancestor rendered a non-empty default namespace. The `xml`
//!   prefix is never declared. Declarations are sorted by prefix, the default namespace first;
//! * attributes are sorted by (namespace URI, local name), namespace-less attributes first;
//! * text escapes `&` `<` `>` and CR; attribute values escape `&` `<` `"` TAB LF CR;
//! * empty elements are written as start/end tag pairs; comments only in the WithComments variant; processing
//!   instructions are kept; CDATA sections appear as (escaped) text.

use roxmltree::{Node, NodeId, NodeType};

use crate::SamlError;
use crate::xml::{self, attribute_qname, element_qname, split_qname};

/// Options for one canonicalization.
#[derive(Debug, Default, Clone)]
pub(crate) struct Options<'a> {
    /// Include comments (the `#WithComments` variant).
    pub with_comments: bool,
    /// InclusiveNamespaces PrefixList entries; "" stands for the default namespace (`#default`).
    pub inclusive_prefixes: &'a [String],
    /// An element omitted with its subtree (the enveloped signature).
    pub exclude: Option<NodeId>,
}

/// Canonicalizes `node` (an element) and its subtree.
pub(crate) fn canonicalize(node: Node, opts: &Options) -> String {
    let mut out = String::with_capacity(node.range().len() + 256);
    let mut rendered: Vec<(&str, &str)> = Vec::new();
    write_element(node, opts, &mut rendered, &mut out);
    out
}

/// Parses an InclusiveNamespaces PrefixList (whitespace separated, `#default` for the default namespace).
pub(crate) fn parse_prefix_list(list: &str) -> Vec<String> {
    list.split_ascii_whitespace().map(|p| if p == "#default" { String::new() } else { p.to_owned() }).collect()
}

fn write_node<'a>(node: Node<'a, 'a>, opts: &Options<'a>, rendered: &mut Vec<(&'a str, &'a str)>, out: &mut String) {
    match node.node_type() {
        NodeType::Element => {
            if Some(node.id()) != opts.exclude {
                write_element(node, opts, rendered, out);
            }
        }
        NodeType::Text => escape_text(node.text().unwrap_or(""), out),
        NodeType::Comment => {
            if opts.with_comments {
                out.push_str("<!--");
                out.push_str(node.text().unwrap_or(""));
                out.push_str("-->");
            }
        }
        NodeType::PI => {
            if let Some(pi) = node.pi() {
                out.push_str("<?");
                out.push_str(pi.target);
                if let Some(v) = pi.value.filter(|v| !v.is_empty()) {
                    out.push(' ');
                    out.push_str(v);
                }
                out.push_str("?>");
            }
        }
        NodeType::Root => {}
    }
}

fn write_element<'a>(node: Node<'a, 'a>, opts: &Options<'a>, rendered: &mut Vec<(&'a str, &'a str)>, out: &mut String) {
    let doc = node.document();
    let qname = element_qname(node);
    let (prefix, _) = split_qname(qname);

    // Prefixes whose namespace nodes are candidates for rendering on this element.
    let mut prefixes: Vec<&str> = vec![prefix];
    let mut attrs: Vec<(&str, &str, &str, &str)> = Vec::new(); // (ns uri, local, qname, value)
    for attr in node.attributes() {
        let qn = attribute_qname(doc, &attr);
        if attr.namespace().is_some() {
            let (p, _) = split_qname(qn);
            prefixes.push(p);
        }
        attrs.push((attr.namespace().unwrap_or(""), attr.name(), qn, attr.value()));
    }
    prefixes.extend(opts.inclusive_prefixes.iter().map(String::as_str));
    prefixes.sort_unstable();
    prefixes.dedup();

    let mark = rendered.len();
    let mut decls: Vec<(&str, &str)> = Vec::new();
    for p in prefixes {
        if p == "xml" || p == "xmlns" {
            continue;
        }
        let uri = if p.is_empty() {
            node.default_namespace().unwrap_or("")
        } else {
            match node.lookup_namespace_uri(Some(p)) {
                Some(u) => u,
                None => continue, // only possible for PrefixList entries that are not in scope
            }
        };
        let current = rendered.iter().rev().find(|(rp, _)| *rp == p).map(|(_, u)| *u);
        let current = if p.is_empty() { Some(current.unwrap_or("")) } else { current };
        if current != Some(uri) {
            decls.push((p, uri));
        }
    }
    // `prefixes` was sorted, so `decls` is sorted by prefix with the default namespace ("") first.
    rendered.extend(decls.iter().copied());

    out.push('<');
    out.push_str(qname);
    for (p, uri) in &decls {
        if p.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(p);
            out.push_str("=\"");
        }
        escape_attr(uri, out);
        out.push('"');
    }
    attrs.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    for (_, _, qn, value) in &attrs {
        out.push(' ');
        out.push_str(qn);
        out.push_str("=\"");
        escape_attr(value, out);
        out.push('"');
    }
    out.push('>');
    for child in node.children() {
        write_node(child, opts, rendered, out);
    }
    out.push_str("</");
    out.push_str(qname);
    out.push('>');
    rendered.truncate(mark);
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Canonicalizes (exclusive C14N 1.0) the element of `xml` whose `ID`/`Id` attribute is `id`, or the document
/// element when `id` is `None`.
///
/// `inclusive_prefixes` is the InclusiveNamespaces PrefixList (use `"#default"` for the default namespace);
/// `with_comments` selects the `#WithComments` variant. The document is parsed with the same hardening as SAML
/// responses (no DTD, 256 KiB, nesting limit). Exposed for interoperability tests and fuzzing.
pub fn exclusive_c14n(
    xml: &str,
    id: Option<&str>,
    inclusive_prefixes: &[&str],
    with_comments: bool,
) -> Result<String, SamlError> {
    let doc = xml::parse(xml, "XML document", crate::MAX_RESPONSE_BYTES)?;
    let node = match id {
        None => doc.root_element(),
        Some(id) => doc
            .descendants()
            .find(|n| n.is_element() && (n.attribute("ID") == Some(id) || n.attribute("Id") == Some(id)))
            .ok_or_else(|| SamlError::malformed(format!("no element has the ID \"{id}\"")))?,
    };
    let prefixes = parse_prefix_list(&inclusive_prefixes.join(" "));
    Ok(canonicalize(node, &Options { with_comments, inclusive_prefixes: &prefixes, exclude: None }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n_of(xml: &str, tag: &str, prefixes: &[&str]) -> String {
        let doc = xml::parse(xml, "doc", 100_000).unwrap();
        let node = doc.descendants().find(|n| n.is_element() && n.tag_name().name() == tag).unwrap();
        let prefixes = parse_prefix_list(&prefixes.join(" "));
        canonicalize(node, &Options { with_comments: false, inclusive_prefixes: &prefixes, exclude: None })
    }

    /// Exclusive C14N spec, section 2.2: the two documents differ only in the namespace context of the apex
    /// element; exclusive canonicalization of `n1:elem2` must give the same octets for both, rendering only the
    /// visibly utilized namespaces and the `xml:lang` attribute (not inherited `xml:*` attributes).
    #[test]
    fn spec_section_2_2_namespace_context_is_excluded() {
        let doc1 = "<n0:local xmlns:n0=\"foo:bar\" xmlns:n3=\"ftp://example.org\">\n  \
                    <n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\">\n     \
                    <n3:stuff xmlns:n3=\"ftp://example.org\"/>\n  </n1:elem2>\n</n0:local>";
        let doc2 = "<n2:pdu xmlns:n1=\"http://example.com\" xmlns:n2=\"http://foo.example\" xml:lang=\"fr\" \
                    xml:space=\"retain\">\n  <n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\">\n     \
                    <n3:stuff xmlns:n3=\"ftp://example.org\"/>\n  </n1:elem2>\n</n2:pdu>";
        let expected = "<n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\">\n     \
                        <n3:stuff xmlns:n3=\"ftp://example.org\"></n3:stuff>\n  </n1:elem2>";
        assert_eq!(c14n_of(doc1, "elem2", &[]), expected);
        assert_eq!(c14n_of(doc2, "elem2", &[]), expected);
    }

    /// Hand-derived: attribute ordering (no namespace first, then by namespace URI and local name), declaration
    /// ordering (default first), suppression of already-rendered declarations, `xmlns=""` when leaving a
    /// non-empty default namespace, and an unused in-scope prefix (`u`) not rendered.
    #[test]
    fn ordering_and_default_namespace_rules() {
        let xml = r#"<a xmlns="urn:a" xmlns:u="urn:unused" xmlns:b="urn:b" xmlns:c="urn:c" z="1" c:x="4" b:y="2" a="3"><b:c/><d xmlns=""><e/></d><f/></a>"#;
        let expected = concat!(
            r#"<a xmlns="urn:a" xmlns:b="urn:b" xmlns:c="urn:c" a="3" z="1" b:y="2" c:x="4">"#,
            r#"<b:c></b:c><d xmlns=""><e></e></d><f></f></a>"#
        );
        assert_eq!(c14n_of(xml, "a", &[]), expected);
        // The apex `d` has no default namespace and no output ancestor, so no xmlns="" is needed.
        assert_eq!(c14n_of(xml, "d", &[]), "<d><e></e></d>");
        // A prefix rebound to a different value on a descendant must be re-declared.
        let xml = r#"<p:a xmlns:p="urn:1"><p:b xmlns:p="urn:2"/><p:c/></p:a>"#;
        assert_eq!(c14n_of(xml, "a", &[]), r#"<p:a xmlns:p="urn:1"><p:b xmlns:p="urn:2"></p:b><p:c></p:c></p:a>"#);
    }

    /// Hand-derived: InclusiveNamespaces PrefixList renders in-scope prefixes on the apex even when not visibly
    /// used (needed for QNames in content such as `xsi:type="xs:string"`), and not again on descendants.
    #[test]
    fn inclusive_namespaces_prefix_list() {
        let xml = r#"<r xmlns="urn:d" xmlns:xs="urn:xs" xmlns:xsi="urn:xsi" xmlns:q="urn:q"><s><v xsi:type="xs:string">x</v></s></r>"#;
        assert_eq!(c14n_of(xml, "s", &[]), r#"<s xmlns="urn:d"><v xmlns:xsi="urn:xsi" xsi:type="xs:string">x</v></s>"#);
        assert_eq!(
            c14n_of(xml, "s", &["xs", "#default", "absent"]),
            r#"<s xmlns="urn:d" xmlns:xs="urn:xs"><v xmlns:xsi="urn:xsi" xsi:type="xs:string">x</v></s>"#
        );
    }

    /// Hand-derived escaping rules (C14N 1.0 section 2.3 as used by exclusive C14N), comment removal, PI
    /// preservation, CDATA replacement and empty-element expansion.
    #[test]
    fn escaping_comments_pis_cdata() {
        let xml = "<a b=\"&quot;&#9;&#10;&#13;&lt;&amp;>'\" c=\"x\ty\">&lt;&gt;&amp;&#13;\"'<!-- gone --><?pi  data?><![CDATA[<&>]]><e/></a>";
        assert_eq!(
            c14n_of(xml, "a", &[]),
            "<a b=\"&quot;&#x9;&#xA;&#xD;&lt;&amp;>'\" c=\"x y\">&lt;&gt;&amp;&#xD;\"'<?pi data?>&lt;&amp;&gt;<e></e></a>"
        );
        let with = exclusive_c14n("<a><!-- kept --><b/></a>", None, &[], true).unwrap();
        assert_eq!(with, "<a><!-- kept --><b></b></a>");
        let without = exclusive_c14n("<a><!-- kept --><b/></a>", None, &[], false).unwrap();
        assert_eq!(without, "<a><b></b></a>");
    }

    #[test]
    fn excluded_subtree_is_omitted() {
        let xml = r#"<a ID="x"><b/><ds:Signature xmlns:ds="urn:ds"><c/></ds:Signature><d/></a>"#;
        let doc = xml::parse(xml, "doc", 1000).unwrap();
        let sig = doc.descendants().find(|n| n.has_tag_name("Signature")).unwrap();
        let out = canonicalize(doc.root_element(), &Options { exclude: Some(sig.id()), ..Options::default() });
        assert_eq!(out, r#"<a ID="x"><b></b><d></d></a>"#);
    }
}
