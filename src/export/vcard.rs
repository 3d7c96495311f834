//! Writing vCard 3.0 (what Apple Contacts reads best) and 4.0 (RFC 6350).
//!
//! Cards are built as `calcard` entries and written by it, which folds and
//! escapes; labels that vCard has no TYPE for go in Apple's groups
//! (`item1.EMAIL` + `item1.X-ABLabel:Shop`), and year-less birthdays are
//! written the way each version allows (`--0415` in 4.0, Apple's
//! `X-APPLE-OMIT-YEAR=1604` in 3.0). Properties kept from an imported card
//! are written back as they came.

use std::collections::HashSet;

use calcard::common::PartialDateTime;
use calcard::vcard::{
    VCard, VCardEntry, VCardKind, VCardParameter, VCardParameterName, VCardProperty, VCardValue,
    VCardVersion,
};
use serde_json::Value as Json;

use super::{Record, fold};
use crate::import::vcard::{APPLE_NO_YEAR, kept_entry};
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
    /// Group names (lower case) of the kept properties, which are written
    /// with the names they came with: kith's own groups skip these.
    taken: HashSet<String>,
    /// Lines calcard would escape wrongly (data URIs), written after.
    raw: Vec<String>,
}

impl Card {
    fn push(&mut self, e: VCardEntry) {
        self.entries.push(e);
    }

    fn group(&mut self) -> String {
        loop {
            self.groups += 1;
            let g = format!("item{}", self.groups);
            if !self.taken.contains(&g) {
                return g;
            }
        }
    }

    /// A property with a label: TYPE when vCard has words for it, an Apple
    /// label otherwise; in a group of its own with the properties kept
    /// with it (`extra`), if any.
    fn labelled(
        &mut self,
        prop: VCardProperty,
        values: Vec<VCardValue>,
        label: &str,
        type_words: &[&str],
        extra: &[String],
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
        let kept = entries_of(extra.iter().map(String::as_str));
        if typed {
            for w in words {
                e.add_param(VCardParameter::typ(w));
            }
        }
        if kept.is_empty() && (typed || label.is_empty()) {
            self.push(e);
            return;
        }
        let g = self.group();
        self.push(e.with_group(Some(g.clone())));
        if !typed && !label.is_empty() {
            self.push(
                VCardEntry::new(other("X-ABLabel"))
                    .with_group(Some(g.clone()))
                    .with_value(apple_label_text(label)),
            );
        }
        for k in kept {
            self.push(k.with_group(Some(g.clone())));
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

/// One member of a set field: its value, label, address parts and the
/// vCard lines kept with it.
struct Member {
    value: String,
    label: String,
    adr: Option<Vec<String>>,
    extra: Vec<String>,
}

/// The members of a set field, in order, with labels and stored meta.
fn members(r: &Record, field: &str) -> Vec<Member> {
    let e = &r.entity;
    let mut out: Vec<(i64, Member)> = Vec::new();
    for part in [&e.shared, &e.private] {
        if let Some(Json::Object(m)) = part.get(field) {
            for (value, meta) in m {
                if out.iter().any(|o| &o.1.value == value) {
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
                let extra = match meta.get("vcard") {
                    Some(Json::Array(lines)) => lines
                        .iter()
                        .filter_map(Json::as_str)
                        .map(str::to_string)
                        .collect(),
                    _ => Vec::new(),
                };
                out.push((
                    pos,
                    Member {
                        value: value.clone(),
                        label,
                        adr,
                        extra,
                    },
                ));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.value.cmp(&b.1.value)));
    out.into_iter().map(|(_, m)| m).collect()
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
    let kept = kept_entries(r);
    let mut c = Card {
        version,
        entries: Vec::new(),
        groups: 0,
        taken: kept
            .iter()
            .filter_map(|k| k.group.as_ref().map(|g| g.to_lowercase()))
            .collect(),
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
    for m in members(r, "emails") {
        c.labelled(
            VCardProperty::Email,
            vec![text(m.value)],
            &m.label,
            &EMAIL_TYPES,
            &m.extra,
        );
    }
    for m in members(r, "phones") {
        c.labelled(
            VCardProperty::Tel,
            vec![text(m.value)],
            &m.label,
            &TEL_TYPES,
            &m.extra,
        );
    }
    for m in members(r, "addresses") {
        let parts = m.adr.unwrap_or_else(|| {
            vec![
                String::new(),
                String::new(),
                m.value,
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]
        });
        c.labelled(
            VCardProperty::Adr,
            parts.into_iter().map(text).collect(),
            &m.label,
            &ADR_TYPES,
            &m.extra,
        );
    }
    for m in members(r, "impps") {
        c.labelled(
            VCardProperty::Impp,
            vec![text(m.value)],
            &m.label,
            &["home", "work"],
            &m.extra,
        );
    }
    for m in members(r, "urls") {
        c.labelled(
            VCardProperty::Url,
            vec![text(m.value)],
            &m.label,
            &["home", "work"],
            &m.extra,
        );
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
        .map(|m| text(m.value))
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
    for k in kept {
        c.push(k);
    }
    c.push(VCardEntry::new(VCardProperty::Uid).with_value(uid_of(r)));
    write(c)
}

/// PHOTO as a data URI (4.0) or inline base64 (3.0); written by hand
/// because a URI's comma must not be escaped.
fn photo_line(photo: &str, version: Version) -> String {
    // Written as it is, so a line break in it would end the line early.
    let photo: String = photo.split_whitespace().collect();
    let photo = photo.as_str();
    let inline = photo
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"));
    // 3.0 names an inline photo's type by a word (TYPE=JPEG), which reads
    // back as image/jpeg; any other media type goes as the data URI, so it
    // reads back as it was.
    const TYPES: [&str; 3] = ["jpeg", "png", "gif"];
    match (version, inline) {
        (Version::V4, _) => format!("PHOTO:{photo}"),
        (Version::V3, Some(("", data))) => format!("PHOTO;ENCODING=b:{data}"),
        (Version::V3, Some((mime, data)))
            if mime
                .strip_prefix("image/")
                .is_some_and(|t| TYPES.contains(&t)) =>
        {
            let kind = mime.rsplit('/').next().unwrap_or("").to_ascii_uppercase();
            format!("PHOTO;ENCODING=b;TYPE={kind}:{data}")
        }
        (Version::V3, _) => format!("PHOTO;VALUE=uri:{photo}"),
    }
}

/// Properties kept from an imported card, with the group names they came
/// with (kith's own groups are numbered around them), so a group's lines
/// stay together and read back the same.
fn kept_entries(r: &Record) -> Vec<VCardEntry> {
    let Some(Json::Array(lines)) = r.entity.get("vcard") else {
        return Vec::new();
    };
    entries_of(lines.iter().filter_map(Json::as_str))
}

/// vCard 4.0 lines as kith keeps them, read back as entries.
fn entries_of<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<VCardEntry> {
    lines.filter_map(kept_entry).collect()
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
