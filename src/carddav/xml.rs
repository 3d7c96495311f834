//! WebDAV XML in and out: request bodies read with quick-xml into a small
//! tree (namespaces resolved), and the pieces of a 207 multistatus written
//! as text, so a long answer can be sent a piece at a time.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

pub const DAV: &str = "DAV:";
pub const CARD: &str = "urn:ietf:params:xml:ns:carddav";
pub const CS: &str = "http://calendarserver.org/ns/";

/// How deep a request body may nest; no WebDAV body needs more.
const MAX_DEPTH: usize = 32;

/// One element of a request body.
#[derive(Debug, Default, Clone)]
pub struct El {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<El>,
    pub text: String,
}

impl El {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    pub fn child(&self, ns: &str, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

/// Reads a request body into its root element, or says why it cannot.
pub fn parse(body: &str) -> Result<El, String> {
    let mut reader = NsReader::from_str(body);
    let mut stack: Vec<El> = Vec::new();
    let mut root: Option<El> = None;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map(|(ns, ev)| {
                let ns = match ns {
                    ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
                    _ => String::new(),
                };
                (ns, ev)
            })
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        match event {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("nested deeper than {MAX_DEPTH} elements"));
                }
                stack.push(element(&ns, &e)?);
            }
            Event::Empty(e) => {
                let el = element(&ns, &e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let Some(el) = stack.pop() else {
                    return Err("an end tag without its start".into());
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let s = t.decode().map_err(|e| format!("bad text: {e}"))?;
                    top.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let c = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c),
                        _ => entity(&String::from_utf8_lossy(&r)),
                    };
                    match c {
                        Some(c) => top.text.push(c),
                        None => {
                            return Err(format!(
                                "unknown entity &{};",
                                String::from_utf8_lossy(&r)
                            ));
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("the document ends inside an element".into());
    }
    root.ok_or_else(|| "no root element".to_string())
}

fn element(ns: &str, e: &quick_xml::events::BytesStart<'_>) -> Result<El, String> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| format!("bad attribute: {e}"))?;
        let value = a
            .unescape_value()
            .map_err(|e| format!("bad attribute value: {e}"))?;
        attrs.push((
            String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned(),
            value.into_owned(),
        ));
    }
    Ok(El {
        ns: ns.to_string(),
        name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

/// Escapes element text (`<`, `>`, `&`; quotes may stand in text, and
/// some clients compare ETags as written).
pub fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::partial_escape(s)
}

/// The opening of every multistatus this server writes.
pub const MULTISTATUS_START: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n",
    "<d:multistatus xmlns:d=\"DAV:\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\" ",
    "xmlns:cs=\"http://calendarserver.org/ns/\">\n"
);
pub const MULTISTATUS_END: &str = "</d:multistatus>\n";

/// A property name as written in an answer: a known namespace's prefix,
/// or the namespace declared on the element itself.
pub fn open_tag(ns: &str, name: &str) -> (String, String) {
    let prefix = match ns {
        DAV => Some("d"),
        CARD => Some("card"),
        CS => Some("cs"),
        _ => None,
    };
    match prefix {
        Some(p) => (format!("{p}:{name}"), String::new()),
        None if ns.is_empty() => (name.to_string(), " xmlns=\"\"".to_string()),
        None => (
            format!("x:{name}"),
            format!(" xmlns:x=\"{}\"", quick_xml::escape::escape(ns)),
        ),
    }
}

/// `<name>value</name>`, or `<name/>` for an empty value.
pub fn prop(ns: &str, name: &str, inner: &str) -> String {
    let (tag, decl) = open_tag(ns, name);
    if inner.is_empty() {
        format!("<{tag}{decl}/>")
    } else {
        format!("<{tag}{decl}>{inner}</{tag}>")
    }
}

/// One `<d:response>` with a 200 propstat for `found` (already written
/// properties) and a 404 one for `missing` names.
pub fn response(href: &str, found: &[String], missing: &[(String, String)]) -> String {
    let mut out = format!("<d:response><d:href>{}</d:href>", esc(href));
    if !found.is_empty() {
        out.push_str("<d:propstat><d:prop>");
        for p in found {
            out.push_str(p);
        }
        out.push_str("</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>");
    }
    if !missing.is_empty() {
        out.push_str("<d:propstat><d:prop>");
        for (ns, name) in missing {
            out.push_str(&prop(ns, name, ""));
        }
        out.push_str("</d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>");
    }
    if found.is_empty() && missing.is_empty() {
        out.push_str("<d:propstat><d:prop/><d:status>HTTP/1.1 200 OK</d:status></d:propstat>");
    }
    out.push_str("</d:response>\n");
    out
}

/// A `<d:response>` that is only a status, e.g. a removed card's 404.
pub fn status_response(href: &str, status: &str) -> String {
    format!(
        "<d:response><d:href>{}</d:href><d:status>HTTP/1.1 {status}</d:status></d:response>\n",
        esc(href)
    )
}

/// A `<d:error>` body with one precondition element.
pub fn error(ns: &str, name: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:error xmlns:d=\"DAV:\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\">{}</d:error>\n",
        prop(ns, name, "")
    )
}

/// Percent-decodes a path or href; None if the escapes do not make UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else if bytes[i] == b'%' {
            return None;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes one path segment (an href as the client will see it).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~@+".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespaces_and_entities() {
        let el = parse(
            r#"<?xml version="1.0"?><A:propfind xmlns:A="DAV:"><A:prop><B:getctag xmlns:B="http://calendarserver.org/ns/"/><A:displayname/></A:prop><x>a &amp; b&#33;</x></A:propfind>"#,
        )
        .unwrap();
        assert!(el.is(DAV, "propfind"));
        let prop = el.child(DAV, "prop").unwrap();
        assert!(prop.children[0].is(CS, "getctag"));
        assert_eq!(el.child("", "x").unwrap().text, "a & b!");
    }

    #[test]
    fn refuses_broken_xml() {
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("").is_err());
        assert!(parse(&"<a>".repeat(100)).is_err());
    }

    #[test]
    fn percent() {
        assert_eq!(percent_decode("a%20b%2Fc").as_deref(), Some("a b/c"));
        assert_eq!(percent_decode("a%2"), None);
        assert_eq!(percent_decode("%ff"), None);
        assert_eq!(percent_encode("a b/c.vcf"), "a%20b%2Fc.vcf");
    }
}
