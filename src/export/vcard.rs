//! Writing vCard 3.0 (what Apple Contacts reads best) and 4.0 (RFC 6350).
//!
//! Cards are built as `calcard` entries and written by it, which folds and
//! escapes; labels that vCard has no TYPE for go in Apple's groups
//! (`item1.EMAIL` + `item1.X-ABLabel:Shop`), and year-less birthdays are
//! written the way each version allows (`--0415` in 4.0, Apple's
//! `X-APPLE-OMIT-YEAR=1604` in 3.0). Properties kept from an imported card
//! are written back as they came.

use calcard::common::PartialDateTime;
use calcard::vcard::{
    VCard, VCardEntry, VCardKind, VCardParameter, VCardParameterName, VCardProperty, VCardValue,
    VCardVersion,
};
use serde_json::Value as Json;

use super::{Record, fold};
use crate::import::vcard::APPLE_NO_YEAR;
use crate::model::{Kind, PartialDate};

/// The versions kith writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V3,
    V4,
}

impl Version {
    fn calcard(self) -> VCardVersion {
        match self {
            Version::V3 => VCardVersion::V3_0,
            Version::V4 => VCardVersion::V4_0,
        }
    }
}

/// Where a record without an address-book UID gets one: its kith id.
fn uid_of(r: &Record) -> String {
    entity_uid(&r.entity)
}

/// The UID a record's card carries: the address book's own, if it came
/// with one, or `kith-<id>`.
pub fn entity_uid(e: &crate::model::Entity) -> String {
    e.str("uid")
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}{}", crate::import::KITH_UID_PREFIX, e.id))
}

fn text(v: impl Into<String>) -> VCardValue {
    VCardValue::Text(v.into())
}

fn other(name: &str) -> VCardProperty {
    VCardProperty::Other(name.to_string())
}

fn x_param(name: &str, value: &str) -> VCardParameter {
    VCardParameter::new(
        VCardParameterName::Other(name.to_string()),
        value.to_string(),
    )
}

/// Builds one card, keeping count of Apple groups.
struct Card {
    version: Version,
    entries: Vec<VCardEntry>,
    groups: usize,
    /// Lines calcard would escape wrongly (data URIs), written after.
    raw: Vec<String>,
}

impl Card {
    fn push(&mut self, e: VCardEntry) {
        self.entries.push(e);
    }

    fn group(&mut self) -> String {
        self.groups += 1;
        format!("item{}", self.groups)
    }

    /// A property with a label: TYPE when vCard has words for it, an Apple
    /// label otherwise.
    fn labelled(
        &mut self,
        prop: VCardProperty,
        values: Vec<VCardValue>,
        label: &str,
        type_words: &[&str],
    ) {
        let words: Vec<String> = label
            .split_whitespace()
            .map(|w| match w {
                "mobile" => "cell".to_string(),
                other => other.to_string(),
            })
            .collect();
        let typed = !words.is_empty() && words.iter().all(|w| type_words.contains(&w.as_str()));
        let mut e = VCardEntry::new(prop).with_values(values);
        if typed {
            for w in words {
                e.add_param(VCardParameter::typ(w));
            }
            self.push(e);
        } else if label.is_empty() {
            self.push(e);
        } else {
            let g = self.group();
            self.push(e.with_group(Some(g.clone())));
            self.push(
                VCardEntry::new(other("X-ABLabel"))
                    .with_group(Some(g))
                    .with_value(apple_label_text(label)),
            );
        }
    }

    fn date(&mut self, prop: &str, d: PartialDate, apple_label: Option<&str>) {
        let apple = prop == "ANNIVERSARY" && self.version == Version::V3;
        let value = match (self.version, d.year) {
            (Version::V3, Some(y)) if apple => {
                (text(format!("{y:04}-{:02}-{:02}", d.month, d.day)), None)
            }
            (Version::V3, None) => {
                let v = text(format!("{APPLE_NO_YEAR}-{:02}-{:02}", d.month, d.day));
                (
                    v,
                    Some(x_param("X-APPLE-OMIT-YEAR", &APPLE_NO_YEAR.to_string())),
                )
            }
            (_, year) => (
                VCardValue::PartialDateTime(PartialDateTime {
                    year: year.map(|y| y as u16),
                    month: Some(d.month),
                    day: Some(d.day),
                    ..Default::default()
                }),
                None,
            ),
        };
        let prop = match (prop, self.version, apple_label) {
            ("ANNIVERSARY", Version::V3, Some(_)) => other("X-ABDATE"),
            ("ANNIVERSARY", _, _) => VCardProperty::Anniversary,
            _ => VCardProperty::Bday,
        };
        let mut e = VCardEntry::new(prop.clone()).with_values(vec![value.0]);
        if let Some(p) = value.1 {
            e.add_param(p);
        }
        if let (VCardProperty::Other(_), Some(label)) = (&prop, apple_label) {
            let g = self.group();
            self.push(e.with_group(Some(g.clone())));
            self.push(
                VCardEntry::new(other("X-ABLabel"))
                    .with_group(Some(g))
                    .with_value(label.to_string()),
            );
        } else {
            self.push(e);
        }
    }
}

/// Apple's built-in labels are written its way, so Contacts shows them
/// translated; any other label as the user wrote it.
fn apple_label_text(label: &str) -> String {
    const BUILT_IN: [&str; 16] = [
        "spouse",
        "partner",
        "child",
        "parent",
        "mother",
        "father",
        "brother",
        "sister",
        "friend",
        "assistant",
        "manager",
        "anniversary",
        "other",
        "main",
        "homepage",
        "son",
    ];
    if BUILT_IN.contains(&label) || label == "daughter" {
        let mut chars = label.chars();
        let cap: String = chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default();
        format!("_$!<{cap}>!$_")
    } else {
        label.to_string()
    }
}

const EMAIL_TYPES: [&str; 2] = ["home", "work"];
const TEL_TYPES: [&str; 8] = [
    "home", "work", "cell", "fax", "pager", "voice", "text", "video",
];
const ADR_TYPES: [&str; 2] = ["home", "work"];

/// The members of a set field, in order, with labels and stored meta.
fn members(r: &Record, field: &str) -> Vec<(String, String, Option<Vec<String>>)> {
    let e = &r.entity;
    let mut out: Vec<(i64, String, String, Option<Vec<String>>)> = Vec::new();
    for part in [&e.shared, &e.private] {
        if let Some(Json::Object(m)) = part.get(field) {
            for (value, meta) in m {
                if out.iter().any(|o| &o.1 == value) {
                    continue;
                }
                let pos = meta.get("pos").and_then(Json::as_i64).unwrap_or(0);
                let label = meta
                    .get("label")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string();
                let adr = meta
                    .get("adr")
                    .and_then(|a| serde_json::from_value(a.clone()).ok());
                out.push((pos, value.clone(), label, adr));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    out.into_iter().map(|(_, v, l, a)| (v, l, a)).collect()
}

/// `Miggins;Edna;;Mrs;` for a person: kept from the card they came from,
/// or read from the sort name.
fn name_parts(r: &Record) -> Vec<String> {
    if let Some(Json::Array(parts)) = r.entity.get("name_parts") {
        let mut p: Vec<String> = parts
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_string())
            .collect();
        p.resize(5, String::new());
        return p;
    }
    let sort = r.entity.str("sort_name").unwrap_or(r.name());
    match sort.split_once(", ") {
        Some((family, given)) => vec![
            family.into(),
            given.into(),
            String::new(),
            String::new(),
            String::new(),
        ],
        None => vec![
            sort.into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ],
    }
}

/// One card as text.
pub fn card(r: &Record, version: Version) -> String {
    let e = &r.entity;
    let mut c = Card {
        version,
        entries: Vec::new(),
        groups: 0,
        raw: Vec::new(),
    };
    let company = e.kind == Kind::Company;
    c.push(VCardEntry::new(VCardProperty::Fn).with_value(r.name().to_string()));
    if company {
        c.push(VCardEntry::new(VCardProperty::N).with_values(vec![text(""); 5]));
        c.push(VCardEntry::new(VCardProperty::Org).with_value(r.name().to_string()));
        match version {
            Version::V4 => c.push(
                VCardEntry::new(VCardProperty::Kind).with_value(VCardValue::Kind(VCardKind::Org)),
            ),
            Version::V3 => {
                c.push(VCardEntry::new(other("X-ABShowAs")).with_value("COMPANY".to_string()))
            }
        }
    } else {
        c.push(
            VCardEntry::new(VCardProperty::N)
                .with_values(name_parts(r).into_iter().map(text).collect()),
        );
        if let Some(n) = e.str("nickname") {
            c.push(VCardEntry::new(VCardProperty::Nickname).with_value(n.to_string()));
        }
        if let Some(org) = &r.company {
            let mut values = vec![text(org.clone())];
            if let Some(d) = e.str("department") {
                values.extend(d.split("; ").map(text));
            }
            c.push(VCardEntry::new(VCardProperty::Org).with_values(values));
        }
        if let Some(t) = e.str("title") {
            c.push(VCardEntry::new(VCardProperty::Title).with_value(t.to_string()));
        }
    }
    for (v, label, _) in members(r, "emails") {
        c.labelled(VCardProperty::Email, vec![text(v)], &label, &EMAIL_TYPES);
    }
    for (v, label, _) in members(r, "phones") {
        c.labelled(VCardProperty::Tel, vec![text(v)], &label, &TEL_TYPES);
    }
    for (v, label, parts) in members(r, "addresses") {
        let parts = parts.unwrap_or_else(|| {
            vec![
                String::new(),
                String::new(),
                v,
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]
        });
        c.labelled(
            VCardProperty::Adr,
            parts.into_iter().map(text).collect(),
            &label,
            &ADR_TYPES,
        );
    }
    for (v, label, _) in members(r, "impps") {
        c.labelled(
            VCardProperty::Impp,
            vec![text(v)],
            &label,
            &["home", "work"],
        );
    }
    for (v, label, _) in members(r, "urls") {
        c.labelled(VCardProperty::Url, vec![text(v)], &label, &["home", "work"]);
    }
    if let Some(d) = e.str("birthday").and_then(|s| PartialDate::parse(s).ok()) {
        c.date("BDAY", d, None);
    }
    if let Some(d) = e
        .str("anniversary")
        .and_then(|s| PartialDate::parse(s).ok())
    {
        c.date("ANNIVERSARY", d, Some("_$!<Anniversary>!$_"));
    }
    if let Some(g) = e.str("gender") {
        c.push(VCardEntry::new(VCardProperty::Gender).with_value(g.to_string()));
    }
    if let Some(l) = e.str("lang") {
        c.push(VCardEntry::new(VCardProperty::Lang).with_value(l.to_string()));
    }
    let tags: Vec<VCardValue> = members(r, "tags")
        .into_iter()
        .map(|(t, _, _)| text(t))
        .collect();
    if !tags.is_empty() {
        c.push(VCardEntry::new(VCardProperty::Categories).with_values(tags));
    }
    for (relation, name) in &r.related {
        match version {
            Version::V4 => {
                let mut rel = VCardEntry::new(VCardProperty::Related)
                    .with_param(VCardParameter::value("text".to_string()))
                    .with_value(name.clone());
                rel.add_param(VCardParameter::typ(relation.clone()));
                c.push(rel);
            }
            Version::V3 => {
                let g = c.group();
                c.push(
                    VCardEntry::new(other("X-ABRELATEDNAMES"))
                        .with_group(Some(g.clone()))
                        .with_value(name.clone()),
                );
                c.push(
                    VCardEntry::new(other("X-ABLabel"))
                        .with_group(Some(g))
                        .with_value(apple_label_text(relation)),
                );
            }
        }
    }
    for n in &r.notes {
        c.push(VCardEntry::new(VCardProperty::Note).with_value(n.clone()));
    }
    for (f, learned) in &r.facts {
        let mut fact = VCardEntry::new(other("X-KITH-FACT")).with_value(f.clone());
        if !learned.is_empty() {
            fact.add_param(x_param("X-LEARNED", learned));
        }
        c.push(fact);
    }
    if e.get("name_only").and_then(Json::as_bool) == Some(true) {
        c.push(VCardEntry::new(other("X-KITH-NAME-ONLY")).with_value("true".to_string()));
    }
    if let Some(photo) = e.str("photo") {
        c.raw.push(photo_line(photo, version));
    }
    kept_entries(r, &mut c);
    c.push(VCardEntry::new(VCardProperty::Uid).with_value(uid_of(r)));
    write(c)
}

/// PHOTO as a data URI (4.0) or inline base64 (3.0); written by hand
/// because a URI's comma must not be escaped.
fn photo_line(photo: &str, version: Version) -> String {
    let inline = photo
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"));
    match (version, inline) {
        (Version::V4, _) => format!("PHOTO:{photo}"),
        (Version::V3, Some((mime, data))) => {
            let kind = mime.rsplit('/').next().unwrap_or("").to_ascii_uppercase();
            if kind.is_empty() {
                format!("PHOTO;ENCODING=b:{data}")
            } else {
                format!("PHOTO;ENCODING=b;TYPE={kind}:{data}")
            }
        }
        (Version::V3, None) => format!("PHOTO;VALUE=uri:{photo}"),
    }
}

/// Properties kept from an imported card, with their groups renamed so
/// they cannot collide with the ones written here.
fn kept_entries(r: &Record, c: &mut Card) {
    let Some(Json::Array(lines)) = r.entity.get("vcard") else {
        return;
    };
    let lines: Vec<&str> = lines.iter().filter_map(Json::as_str).collect();
    if lines.is_empty() {
        return;
    }
    let text = format!(
        "BEGIN:VCARD\r\nVERSION:4.0\r\n{}\r\nEND:VCARD\r\n",
        lines.join("\r\n")
    );
    let Ok(kept) = VCard::parse(&text) else {
        return;
    };
    let mut renames: Vec<(String, String)> = Vec::new();
    for mut e in kept.entries {
        if matches!(
            e.name,
            VCardProperty::Version | VCardProperty::Begin | VCardProperty::End
        ) {
            continue;
        }
        if let Some(g) = e.group.take() {
            let new = match renames.iter().find(|(old, _)| *old == g) {
                Some((_, n)) => n.clone(),
                None => {
                    let n = c.group();
                    renames.push((g, n.clone()));
                    n
                }
            };
            e.group = Some(new);
        }
        c.push(e);
    }
}

fn write(c: Card) -> String {
    let card = VCard { entries: c.entries };
    let mut out = String::new();
    let _ = card.write_to(&mut out, c.version.calcard());
    if !c.raw.is_empty() {
        let end = out.rfind("END:VCARD").unwrap_or(out.len());
        let mut raw = String::new();
        for l in &c.raw {
            fold(l, &mut raw);
        }
        out.insert_str(end, &raw);
    }
    out
}

/// Every record as one vCard file.
pub fn write_all(
    records: &[Record],
    version: Version,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    for r in records {
        out.write_all(card(r, version).as_bytes())?;
    }
    Ok(())
}
