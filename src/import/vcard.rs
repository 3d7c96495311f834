//! Reading vCard 2.1, 3.0 and 4.0 files as real exporters write them.
//!
//! The file is cut into cards here, so that every card is reported by the
//! line it starts on; each card is then parsed by `calcard` (line folding,
//! quoted-printable with its soft line breaks, charsets, base64) and mapped
//! to a [`Contact`]. Apple's groups (`item1.EMAIL` + `item1.X-ABLabel`)
//! become labels; properties kith does not model are kept as lines.

use std::collections::{HashMap, HashSet};

use calcard::Entry;
use calcard::common::IanaString;
use calcard::common::PartialDateTime;
use calcard::vcard::{
    VCard, VCardEntry, VCardKind, VCardParameterName, VCardProperty, VCardValue, VCardVersion,
};

use super::{Contact, Handle, Parsed, Related, Target, parse_date};
use crate::model::PartialDate;

/// The year Apple writes in place of an unknown one (with
/// `X-APPLE-OMIT-YEAR=1604`).
pub const APPLE_NO_YEAR: u16 = 1604;

/// Reads every card of a file; unreadable ones go to `skipped`.
pub fn parse(name: &str, text: &str) -> Parsed {
    let mut out = Parsed::default();
    for block in cards(text) {
        match block {
            Block::Card { line, text } => match card(&text, line) {
                Ok(c) => out.contacts.push(c),
                Err(reason) => out.skipped.push(format!("{name}:{line}: {reason}")),
            },
            Block::Broken { line, reason } => out.skipped.push(format!("{name}:{line}: {reason}")),
        }
    }
    out
}

enum Block {
    Card { line: usize, text: String },
    Broken { line: usize, reason: String },
}

/// Whether a line is `BEGIN:VCARD` or `END:VCARD`. Inside a card, a line
/// that starts with a space or tab continues the one before (RFC 6350
/// folding), so it is never a marker: a long value folded just before
/// "BEGIN:VCARD" (kith's own export can do that) must not end the card or
/// start another.
fn is_marker(line: &str, marker: &str, in_card: bool) -> bool {
    if in_card && line.starts_with([' ', '\t']) {
        return false;
    }
    let t = line.trim();
    t.len() == marker.len() && t.eq_ignore_ascii_case(marker)
}

/// Cuts a file into cards by `BEGIN:VCARD` / `END:VCARD`, remembering where
/// each starts. A card that is never closed, and text between cards, are
/// reported rather than guessed at.
fn cards(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<(usize, Vec<&str>)> = None;
    let mut stray: Option<usize> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if is_marker(line, "BEGIN:VCARD", current.is_some()) {
            if let Some((start, _)) = current.take() {
                out.push(Block::Broken {
                    line: start,
                    reason: "card never ends (no END:VCARD before the next card)".into(),
                });
            }
            current = Some((line_no, vec![line]));
            stray = None;
        } else if let Some((start, mut lines)) = current.take() {
            lines.push(line);
            if is_marker(line, "END:VCARD", true) {
                out.push(Block::Card {
                    line: start,
                    text: lines.join("\r\n") + "\r\n",
                });
            } else {
                current = Some((start, lines));
            }
        } else if !line.trim().is_empty() && stray.is_none() {
            stray = Some(line_no);
            out.push(Block::Broken {
                line: line_no,
                reason: "text outside any card (expected BEGIN:VCARD)".into(),
            });
        }
    }
    if let Some((start, _)) = current {
        out.push(Block::Broken {
            line: start,
            reason: "card never ends (no END:VCARD)".into(),
        });
    }
    out
}

/// One card's text (`BEGIN:VCARD` … `END:VCARD`) as a contact.
fn card(text: &str, line: usize) -> Result<Contact, String> {
    let vcard = VCard::parse(text).map_err(|e| match e {
        Entry::InvalidLine(l) => format!(
            "unreadable line '{}'",
            l.chars().take(40).collect::<String>()
        ),
        Entry::UnterminatedComponent(_) => "card never ends (no END:VCARD)".into(),
        other => format!("not a vCard ({other:?})"),
    })?;
    let mut c = contact(&vcard);
    c.line = line;
    c.fill_name()?;
    Ok(c)
}

/// A value's text with every line break as `\n`: a CR LF, and a bare CR
/// too, which no writer can put back as it was (kith's export would write
/// it as `\r` and a phone may drop it), so export → import is a fixed
/// point.
fn text_of(v: &VCardValue) -> String {
    line_breaks(&raw_text_of(v))
}

/// `\r\n` and a bare `\r` as `\n`.
pub fn line_breaks(s: &str) -> String {
    if s.contains('\r') {
        s.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        s.to_string()
    }
}

fn raw_text_of(v: &VCardValue) -> String {
    match v {
        VCardValue::Text(t) => t.clone(),
        VCardValue::Component(parts) => parts.join(","),
        VCardValue::Integer(i) => i.to_string(),
        VCardValue::Kind(k) => k.as_str().to_string(),
        VCardValue::Sex(s) => s.as_str().to_string(),
        VCardValue::GramGender(g) => g.as_str().to_string(),
        VCardValue::PartialDateTime(d) => {
            let mut s = String::new();
            let _ = d.format_as_vcard(&mut s, &calcard::vcard::VCardValueType::DateAndOrTime);
            s
        }
        VCardValue::Binary(d) => d.to_unwrapped_string(),
        _ => String::new(),
    }
}

/// A value's text, with line ends as `\n` whatever the card used.
fn first_text(e: &VCardEntry) -> String {
    e.values
        .first()
        .map(text_of)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// White space as single spaces: calcard reads a run of one white-space
/// character in a comma-separated list (CATEGORIES, NICKNAME) as one, so
/// anything else would not read back the same.
fn one_space(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn texts(e: &VCardEntry) -> Vec<String> {
    e.values
        .iter()
        .map(|v| text_of(v).trim().to_string())
        .collect()
}

/// Every TYPE (and 2.1 bare) parameter value, lower case.
fn types(e: &VCardEntry) -> Vec<String> {
    let mut out = Vec::new();
    for p in &e.params {
        let is_type = matches!(p.name, VCardParameterName::Type);
        let bare = matches!(&p.name, VCardParameterName::Other(n) if !n.starts_with("X-") && !n.starts_with("x-"))
            && matches!(p.value, calcard::vcard::VCardParameterValue::Null);
        if is_type {
            if let Some(t) = p.value.as_text() {
                out.extend(line_breaks(t).split(',').map(|s| s.trim().to_lowercase()));
            }
        } else if bare && let VCardParameterName::Other(n) = &p.name {
            // Trimmed as TYPE values are: a label read from a bare
            // parameter is written back as X-ABLabel, whose value is
            // trimmed on reading (a leading no-break space included).
            out.push(line_breaks(&n.to_lowercase()).trim().to_string());
        }
    }
    out
}

fn param(e: &VCardEntry, name: &str) -> Option<String> {
    e.params.iter().find_map(|p| match &p.name {
        VCardParameterName::Other(n) if n.eq_ignore_ascii_case(name) => {
            p.value.as_text().map(line_breaks)
        }
        _ => None,
    })
}

/// Apple's `_$!<Spouse>!$_` is the built-in label "spouse"; anything else
/// is the user's own label.
pub fn apple_label(raw: &str) -> String {
    let t = raw.trim();
    let inner = t
        .strip_prefix("_$!<")
        .and_then(|s| s.strip_suffix(">!$_"))
        .unwrap_or(t);
    inner.trim().to_lowercase()
}

/// The label a TYPE list gives an email, phone or address.
fn label_from_types(types: &[String]) -> String {
    const NOISE: [&str; 7] = ["pref", "internet", "voice", "x400", "dom", "intl", "postal"];
    let useful: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|t| !NOISE.contains(t) && !t.is_empty())
        .collect();
    match useful.as_slice() {
        [] => String::new(),
        [only] => normal_label(only),
        // "work, cell" reads as "work cell"; "cell" alone says mobile.
        many => many
            .iter()
            .map(|t| normal_label(t))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn normal_label(t: &str) -> String {
    match t {
        "cell" => "mobile".into(),
        "iphone" => "iphone".into(),
        other => other.to_string(),
    }
}

fn date_of(e: &VCardEntry) -> Option<PartialDate> {
    let omit_year = param(e, "X-APPLE-OMIT-YEAR").is_some();
    let date = match e.values.first()? {
        VCardValue::PartialDateTime(PartialDateTime {
            year, month, day, ..
        }) => {
            let (m, d) = ((*month)?, (*day)?);
            let year = year.filter(|_| !omit_year);
            let s = match year {
                Some(y) => format!("{y:04}-{m:02}-{d:02}"),
                None => format!("--{m:02}-{d:02}"),
            };
            PartialDate::parse(&s).ok()?
        }
        other => parse_date(&text_of(other))?,
    };
    // Apple's year for "no year" stands for none even when a client that
    // rewrote the card dropped X-APPLE-OMIT-YEAR (khard does).
    let no_year = omit_year || date.year == Some(APPLE_NO_YEAR as i16);
    Some(if no_year {
        PartialDate { year: None, ..date }
    } else {
        date
    })
}

/// The vCard 4.0 line of a property kith keeps without modelling it.
pub fn extra_line(e: &VCardEntry) -> String {
    let card = VCard {
        entries: vec![e.clone()],
    };
    let mut s = String::new();
    let _ = card.write_to(&mut s, VCardVersion::V4_0);
    let unfolded = s.replace("\r\n ", "").replace("\r\n\t", "");
    unfolded
        .split("\r\n")
        .find(|l| {
            !l.is_empty()
                && !l.starts_with("BEGIN:")
                && !l.starts_with("VERSION:")
                && !l.starts_with("END:")
        })
        .unwrap_or_default()
        .to_string()
}

/// The contact's lists of values a vCard property can go to.
#[derive(Clone, Copy)]
enum Set {
    Emails,
    Phones,
    Addresses,
    Impps,
    Urls,
}

impl Set {
    fn of(p: &VCardProperty) -> Option<Set> {
        Some(match p {
            VCardProperty::Email => Set::Emails,
            VCardProperty::Tel => Set::Phones,
            VCardProperty::Adr => Set::Addresses,
            VCardProperty::Impp => Set::Impps,
            VCardProperty::Url => Set::Urls,
            _ => return None,
        })
    }

    fn of_contact(self, c: &mut Contact) -> &mut Vec<Handle> {
        match self {
            Set::Emails => &mut c.emails,
            Set::Phones => &mut c.phones,
            Set::Addresses => &mut c.addresses,
            Set::Impps => &mut c.impps,
            Set::Urls => &mut c.urls,
        }
    }
}

/// A kept property as kith stores it: line breaks in its values and
/// parameters as `\n`, like every value kith models (see [`text_of`]).
fn normalise_kept(e: &mut VCardEntry) {
    for v in &mut e.values {
        match v {
            VCardValue::Text(t) => *t = line_breaks(t),
            VCardValue::Component(parts) => {
                for p in parts {
                    *p = line_breaks(p);
                }
            }
            _ => {}
        }
    }
    for p in &mut e.params {
        if let calcard::vcard::VCardParameterValue::Text(t) = &mut p.value {
            *t = line_breaks(t);
        }
    }
}

/// The line kith keeps for a property it does not model: its vCard 4.0
/// line, if that reads back as itself, and still unmodelled, from kith's
/// export in both versions.
/// calcard writes some odd input differently from how it read it (a
/// parameter name with a comma or a space, a value of the wrong type for
/// its property); such a line is taken as it reads back once written, if
/// that is stable, and otherwise left out, so an export → import is a
/// fixed point and never turns one line into another.
fn kept_line(e: &VCardEntry) -> Option<String> {
    // A name is letters, digits and dashes (RFC 6350 3.3): any other is
    // written as it is and read back as something else (a dot makes a
    // group), and cannot be escaped.
    let name_ok =
        |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !name_ok(e.name.as_str()) || e.group.as_deref().is_some_and(|g| !name_ok(g)) {
        return None;
    }
    let mut e = e.clone();
    e.params.retain(|p| match &p.name {
        VCardParameterName::Other(n) => name_ok(n),
        _ => true,
    });
    normalise_kept(&mut e);
    let mut line = extra_line(&e);
    for _ in 0..3 {
        if line.is_empty() {
            return None;
        }
        let again = reread(&line)?;
        if again == line {
            return Some(line);
        }
        line = again;
    }
    None
}

/// A kept line as an entry (the export reads them with this).
pub fn kept_entry(line: &str) -> Option<VCardEntry> {
    let text = format!("BEGIN:VCARD\r\nVERSION:4.0\r\n{line}\r\nEND:VCARD\r\n");
    let mut entries = VCard::parse(&text).ok()?.entries.into_iter().filter(|e| {
        !matches!(
            e.name,
            VCardProperty::Version | VCardProperty::Begin | VCardProperty::End
        )
    });
    let e = entries.next()?;
    entries.next().is_none().then_some(e)
}

/// A kept line as it comes back from an export in 4.0 and in 3.0, if it
/// comes back one line and the same from both.
fn reread(line: &str) -> Option<String> {
    let entry = kept_entry(line)?;
    let mut out: Option<String> = None;
    for version in [VCardVersion::V4_0, VCardVersion::V3_0] {
        let card = VCard {
            entries: vec![entry.clone()],
        };
        let mut text = String::new();
        card.write_to(&mut text, version).ok()?;
        let mut back = VCard::parse(&text).ok()?.entries.into_iter().filter(|e| {
            !matches!(
                e.name,
                VCardProperty::Version | VCardProperty::Begin | VCardProperty::End
            )
        });
        let mut e = back.next()?;
        if back.next().is_some() {
            return None;
        }
        normalise_kept(&mut e);
        // Read back on its own as a field (a date 3.0 reads and 4.0 did
        // not), it would not come back as this line.
        if modelled(&e) {
            return None;
        }
        let l = extra_line(&e);
        match &out {
            Some(o) if *o != l => return None,
            _ => out = Some(l),
        }
    }
    out
}

/// Maps a parsed card to a contact.
pub fn contact(vcard: &VCard) -> Contact {
    map(vcard, true)
}

/// Whether kith would take this property into a field if it read it on
/// its own (a birthday, an email …) rather than keep it as a line.
fn modelled(e: &VCardEntry) -> bool {
    let card = VCard {
        entries: vec![e.clone()],
    };
    map(&card, false).extra.is_empty()
}

/// Maps a card; `check_kept` makes sure each kept line reads back as
/// itself ([`kept_line`]), which reads the line again with this, unchecked.
fn map(vcard: &VCard, check_kept: bool) -> Contact {
    let mut c = Contact::default();
    // Apple's labels, by group.
    let labels: HashMap<String, String> = vcard
        .entries
        .iter()
        .filter(
            |e| matches!(&e.name, VCardProperty::Other(n) if n.eq_ignore_ascii_case("X-ABLabel")),
        )
        .filter_map(|e| Some((e.group.clone()?.to_lowercase(), first_text(e))))
        .collect();
    let mut used_groups: HashSet<String> = HashSet::new();
    // The first email, phone, address, IMPP or URL of each group: the
    // group's kept properties go with it.
    let mut handle_of: HashMap<String, (Set, usize)> = HashMap::new();
    let mut kept: Vec<&VCardEntry> = Vec::new();
    let mut fn_name = String::new();
    for e in &vcard.entries {
        let group = e.group.as_ref().map(|g| g.to_lowercase());
        let group_label = group
            .as_ref()
            .and_then(|g| labels.get(g))
            .map(|l| apple_label(l));
        let label = || {
            group_label
                .clone()
                .unwrap_or_else(|| label_from_types(&types(e)))
        };
        let mut used = true;
        match &e.name {
            VCardProperty::Version
            | VCardProperty::Begin
            | VCardProperty::End
            | VCardProperty::Prodid
            | VCardProperty::Rev => {}
            VCardProperty::Fn => fn_name = first_text(e),
            VCardProperty::N => {
                let mut parts = texts(e);
                parts.resize(5, String::new());
                if parts.iter().any(|p| !p.is_empty()) {
                    c.name_parts = Some(parts);
                }
            }
            VCardProperty::Nickname => {
                let n = texts(e)
                    .into_iter()
                    .map(|s| one_space(&s))
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ");
                c.nickname = Some(n).filter(|n| !n.is_empty());
            }
            // A data URI or a link has no white space: a line break in one
            // would end the line the export writes it on.
            VCardProperty::Photo => {
                c.photo = Some(first_text(e).split_whitespace().collect::<String>())
                    .filter(|p| !p.is_empty())
            }
            VCardProperty::Bday => match date_of(e) {
                Some(d) => c.birthday = Some(d),
                None => used = false,
            },
            VCardProperty::Anniversary => match date_of(e) {
                Some(d) => c.anniversary = Some(d),
                None => used = false,
            },
            VCardProperty::Gender => {
                c.gender =
                    Some(texts(e).join(";").trim_matches(';').to_string()).filter(|g| !g.is_empty())
            }
            VCardProperty::Adr => {
                let mut parts = texts(e);
                parts.resize(7, String::new());
                let value = address_line(&parts);
                if value.is_empty() {
                    used = false;
                } else {
                    c.addresses.push(Handle {
                        value,
                        label: label(),
                        parts: Some(parts),
                        extra: Vec::new(),
                    });
                }
            }
            VCardProperty::Tel => {
                let v = first_text(e);
                // Trimmed after the scheme too: "tel: 0123" would be written
                // back without the space and read as another number.
                let v = v.strip_prefix("tel:").unwrap_or(&v).trim().to_string();
                if v.is_empty() {
                    used = false
                } else {
                    c.phones.push(Handle::new(v, label()))
                }
            }
            VCardProperty::Email => {
                let v = first_text(e).to_lowercase();
                if v.contains('@') && !v.contains(char::is_whitespace) {
                    c.emails.push(Handle::new(v, label()));
                } else {
                    used = false;
                }
            }
            VCardProperty::Impp => {
                let v = first_text(e);
                if v.is_empty() {
                    used = false
                } else {
                    c.impps.push(Handle::new(v, label()))
                }
            }
            VCardProperty::Url => {
                let v = first_text(e);
                if v.is_empty() {
                    used = false
                } else {
                    c.urls.push(Handle::new(v, label()))
                }
            }
            VCardProperty::Lang => c.lang = Some(first_text(e)).filter(|l| !l.is_empty()),
            VCardProperty::Title => c.title = Some(first_text(e)).filter(|t| !t.is_empty()),
            VCardProperty::Org => {
                let parts: Vec<String> = texts(e).into_iter().filter(|p| !p.is_empty()).collect();
                if let Some((org, units)) = parts.split_first() {
                    c.company = Some(org.clone());
                    if !units.is_empty() {
                        c.department = Some(units.join("; "));
                    }
                }
            }
            VCardProperty::Categories => {
                for t in texts(e) {
                    let t = one_space(&t).to_lowercase();
                    if !t.is_empty() && !c.tags.contains(&t) {
                        c.tags.push(t);
                    }
                }
            }
            VCardProperty::Note => {
                let n = first_text(e);
                if !n.is_empty() {
                    c.notes.push(n);
                }
            }
            VCardProperty::Uid => c.uid = Some(first_text(e)).filter(|u| !u.is_empty()),
            VCardProperty::Kind => {
                // Only ever from a person to a company: a second KIND (one
                // kith keeps as a line and writes after its own) must not
                // undo the first.
                let org = matches!(e.values.first(), Some(VCardValue::Kind(VCardKind::Org)))
                    || first_text(e).eq_ignore_ascii_case("org")
                    || first_text(e).eq_ignore_ascii_case("organization");
                c.is_company |= org;
                used = org || first_text(e).eq_ignore_ascii_case("individual");
            }
            VCardProperty::Related => {
                let v = first_text(e);
                let relation = types(e)
                    .into_iter()
                    .find(|t| t != "pref")
                    .unwrap_or_else(|| "contact".into());
                let is_text = e.params.iter().any(|p| {
                    matches!(p.name, VCardParameterName::Value)
                        && p.value
                            .as_text()
                            .is_some_and(|t| t.eq_ignore_ascii_case("text"))
                });
                let target = if !is_text && (v.starts_with("urn:") || v.contains(':')) {
                    Target::Uid(v)
                } else {
                    Target::Name(v)
                };
                c.related.push(Related { relation, target });
            }
            VCardProperty::Other(n) => {
                let n = n.to_ascii_uppercase();
                match n.as_str() {
                    "X-ABLABEL" => used = group.as_ref().is_some_and(|g| used_groups.contains(g)),
                    "X-ABRELATEDNAMES" => {
                        let v = first_text(e);
                        let relation = group_label
                            .clone()
                            .filter(|l| !l.is_empty())
                            .unwrap_or_else(|| "contact".into());
                        if v.is_empty() {
                            used = false
                        } else {
                            c.related.push(Related {
                                relation,
                                target: Target::Name(v),
                            });
                        }
                    }
                    "X-ABDATE" if group_label.as_deref() == Some("anniversary") => match date_of(e)
                    {
                        Some(d) => c.anniversary = Some(d),
                        None => used = false,
                    },
                    "X-ABSHOWAS" => {
                        let company = first_text(e).eq_ignore_ascii_case("company");
                        c.is_company |= company;
                        used = company;
                    }
                    "X-KITH-NAME-ONLY" => c.name_only = first_text(e).eq_ignore_ascii_case("true"),
                    "X-KITH-FACT" => {
                        let f = first_text(e);
                        if f.is_empty() {
                            used = false
                        } else {
                            // An empty day is no day: the export leaves it
                            // out, and the import then says today.
                            let learned = param(e, "X-LEARNED").filter(|d| !d.trim().is_empty());
                            c.facts.push((f, learned));
                        }
                    }
                    _ => used = false,
                }
            }
            _ => used = false,
        }
        if used {
            if let Some(g) = group {
                if let Some(set) = Set::of(&e.name) {
                    let len = set.of_contact(&mut c).len();
                    if len > 0 {
                        handle_of.entry(g.clone()).or_insert((set, len - 1));
                    }
                }
                used_groups.insert(g);
            }
        } else {
            kept.push(e);
        }
    }
    for e in kept {
        // A label whose property kith took is not kept a second time.
        let is_label =
            matches!(&e.name, VCardProperty::Other(n) if n.eq_ignore_ascii_case("X-ABLabel"));
        if is_label
            && e.group
                .as_ref()
                .is_some_and(|g| used_groups.contains(&g.to_lowercase()))
        {
            continue;
        }
        let owner = e
            .group
            .as_ref()
            .and_then(|g| handle_of.get(&g.to_lowercase()))
            .copied();
        match owner {
            Some((set, i)) => {
                let mut e = e.clone();
                e.group = None;
                let line = if check_kept {
                    kept_line(&e)
                } else {
                    Some(extra_line(&e))
                };
                if let Some(line) = line
                    && let Some(h) = set.of_contact(&mut c).get_mut(i)
                {
                    h.extra.push(line);
                }
            }
            None => {
                // Kept with its group name as it came: the export numbers
                // its own groups around these, so the lines of one group
                // stay together and read back the same.
                let line = if check_kept {
                    kept_line(e)
                } else {
                    Some(extra_line(e))
                };
                if let Some(line) = line {
                    c.extra.push(line);
                }
            }
        }
    }
    c.name = if fn_name.is_empty() {
        c.name_parts
            .as_ref()
            .map(|p| name_from_parts(p))
            .unwrap_or_default()
    } else {
        fn_name
    };
    if c.is_company && c.name.is_empty() {
        c.name = c.company.clone().unwrap_or_default();
    }
    c
}

/// "Mrs Edna Miggins" from `Miggins;Edna;;Mrs;`.
pub fn name_from_parts(p: &[String]) -> String {
    let get = |i: usize| p.get(i).map(String::as_str).unwrap_or("");
    [get(3), get(1), get(2), get(0), get(4)]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// One line for an address: its non-empty parts, comma separated.
pub fn address_line(parts: &[String]) -> String {
    parts
        .iter()
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_labels_read_as_words() {
        assert_eq!(apple_label("_$!<Spouse>!$_"), "spouse");
        assert_eq!(apple_label("Shop"), "shop");
    }

    #[test]
    fn apples_no_year_is_no_year_even_without_its_parameter() {
        let card = |bday: &str| {
            let text = format!("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\n{bday}\r\nEND:VCARD\r\n");
            parse("f.vcf", &text).contacts[0].birthday
        };
        let april = PartialDate {
            year: None,
            month: 4,
            day: 5,
        };
        assert_eq!(card("BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-05"), Some(april));
        // As khard writes it back: the parameter gone.
        assert_eq!(card("BDAY:1604-04-05"), Some(april));
        assert_eq!(card("BDAY:1960-04-05").and_then(|d| d.year), Some(1960));
    }

    #[test]
    fn a_card_that_never_ends_is_reported_and_the_next_one_read() {
        let text = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:B\r\nEND:VCARD\r\n";
        let parsed = parse("f.vcf", text);
        assert_eq!(parsed.contacts.len(), 1);
        assert_eq!(parsed.contacts[0].name, "B");
        assert_eq!(parsed.contacts[0].line, 4);
        assert_eq!(parsed.skipped.len(), 1);
        assert!(
            parsed.skipped[0].starts_with("f.vcf:1: "),
            "{:?}",
            parsed.skipped
        );
    }

    // Found by fuzzing the round trip (issue 17); the end-to-end checks
    // are in tests/cli/contacts.rs with the inputs in tests/fixtures/vcard.

    #[test]
    fn a_folded_line_that_reads_begin_vcard_does_not_start_a_card() {
        let text = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\nX-NOTE:long\r\n BEGIN:VCARD\r\nX-MORE:x\r\n END:VCARD\r\nEND:VCARD\r\n";
        let parsed = parse("f.vcf", text);
        assert_eq!(parsed.skipped, Vec::<String>::new());
        assert_eq!(parsed.contacts.len(), 1);
        assert_eq!(
            parsed.contacts[0].extra,
            ["X-NOTE:longBEGIN:VCARD", "X-MORE:xEND:VCARD"]
        );
    }

    #[test]
    fn line_breaks_read_as_newlines_whatever_the_card_used() {
        let text = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;ENCODING=QUOTED-PRINTABLE:Miggins;Edna=0D=0AMay;;;\r\nNOTE;ENCODING=QUOTED-PRINTABLE:one=0Dtwo\r\nTEL;TYPE=\"a\\rb\":1\r\nEND:VCARD\r\n";
        let c = &parse("f.vcf", text).contacts[0];
        assert_eq!(c.name_parts.as_ref().unwrap()[1], "Edna\nMay");
        assert_eq!(c.name, "Edna\nMay Miggins");
        assert_eq!(c.notes, ["one\ntwo"]);
        assert_eq!(c.phones[0].label, "a\nb");
    }

    #[test]
    fn a_second_kind_does_not_turn_a_company_into_a_person() {
        let text = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Lagos Freight\r\nKIND:org\r\nKIND:indX\r\nEND:VCARD\r\n";
        let c = &parse("f.vcf", text).contacts[0];
        assert!(c.is_company);
        assert_eq!(c.extra, ["KIND:indX"]);
    }

    #[test]
    fn grouped_kept_lines_go_with_their_value_or_keep_their_group() {
        let text = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Edna\r\nitem3.ADR:;;1 High St;Lewes;;;\r\nitem3.X-ABADR:gb\r\nitem3.X-ABLabel:Shop\r\nitem7.X-FOO:a\r\nitem7.X-ABLabel:Odd\r\nEND:VCARD\r\n";
        let c = &parse("f.vcf", text).contacts[0];
        assert_eq!(c.addresses[0].label, "shop");
        assert_eq!(c.addresses[0].extra, ["X-ABADR:gb"]);
        assert_eq!(c.extra, ["item7.X-FOO:a", "item7.X-ABLabel:Odd"]);
    }

    #[test]
    fn kept_lines_that_cannot_be_written_back_as_they_are_are_left_out_or_fixed() {
        let text = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\nEMAIL;typas no FN\\, no N:\r\nitem1.X.X-B:c\r\nX-OK;X-P=\"a,b\":v\r\nEND:VCARD\r\n";
        let c = &parse("f.vcf", text).contacts[0];
        // The parameter whose name holds a comma and a space is dropped,
        // the name with a dot in it left out, the quoted value kept.
        assert_eq!(c.extra, ["EMAIL:", "X-OK;X-P=\"a,b\":v"]);
    }
}
