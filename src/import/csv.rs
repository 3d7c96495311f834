//! Reading CSV address books: Google Contacts (current and older exports),
//! Outlook and LinkedIn "Connections.csv" are recognised by their headers;
//! any other CSV is read with a column map (`--map "Full name=name,…"`).

use std::collections::HashMap;

use super::{Contact, Handle, Parsed, parse_date};
use crate::error::{Error, Result};

/// What a column holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    Name,
    Given,
    Middle,
    Family,
    Prefix,
    Suffix,
    Nickname,
    Email(String),
    Phone(String),
    Address(String),
    Company,
    Title,
    Department,
    Birthday,
    Anniversary,
    Note,
    /// Tags, split on this separator.
    Tags(&'static str),
    Url(String),
    Uid,
    Fact,
    ConnectedOn,
    Gender,
    Lang,
}

/// The field names `--map` accepts.
pub const MAP_FIELDS: &str = "name, first, middle, last, prefix, suffix, nickname, email, phone, address, company, title, department, birthday, anniversary, note, tag, url, uid, fact, connected";

impl Field {
    fn from_map_name(name: &str) -> Option<Field> {
        let (field, label) = match name.split_once(':') {
            Some((f, l)) => (f.trim().to_lowercase(), l.trim().to_lowercase()),
            None => (name.trim().to_lowercase(), String::new()),
        };
        Some(match field.as_str() {
            "name" | "full name" => Field::Name,
            "first" | "given" | "first name" => Field::Given,
            "middle" => Field::Middle,
            "last" | "family" | "surname" | "last name" => Field::Family,
            "prefix" => Field::Prefix,
            "suffix" => Field::Suffix,
            "nickname" | "nick" => Field::Nickname,
            "email" | "emails" => Field::Email(label),
            "phone" | "phones" | "mobile" | "tel" => Field::Phone(label),
            "address" | "addresses" => Field::Address(label),
            "company" | "org" | "organization" => Field::Company,
            "title" | "position" | "job" => Field::Title,
            "department" | "dept" => Field::Department,
            "birthday" | "bday" => Field::Birthday,
            "anniversary" => Field::Anniversary,
            "note" | "notes" => Field::Note,
            "tag" | "tags" | "interest" | "interests" => Field::Tags(";"),
            "url" | "website" => Field::Url(label),
            "uid" | "id" => Field::Uid,
            "fact" | "facts" => Field::Fact,
            "connected" | "connected on" | "since" => Field::ConnectedOn,
            "gender" => Field::Gender,
            "lang" | "language" => Field::Lang,
            _ => return None,
        })
    }
}

/// A parsed `--map`: column name → field.
#[derive(Clone, Debug, Default)]
pub struct ColumnMap(Vec<(String, Field)>);

impl ColumnMap {
    /// `"Full name=name,E-mail=email,Mobile=phone:mobile"`.
    pub fn parse(spec: &str) -> Result<ColumnMap> {
        let mut out = Vec::new();
        for pair in spec.split(',').filter(|p| !p.trim().is_empty()) {
            let Some((column, field)) = pair.rsplit_once('=') else {
                return Err(Error::invalid(format!(
                    "--map: '{pair}' is not COLUMN=FIELD"
                )));
            };
            let Some(f) = Field::from_map_name(field) else {
                return Err(Error::invalid(format!(
                    "--map: '{}' is not a field; fields are: {MAP_FIELDS}",
                    field.trim()
                )));
            };
            out.push((column.trim().to_string(), f));
        }
        if out.is_empty() {
            return Err(Error::invalid("--map is empty"));
        }
        Ok(ColumnMap(out))
    }
}

/// The address books kith knows by their headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Google,
    GoogleLegacy,
    Outlook,
    LinkedIn,
    Mapped,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Google => "Google Contacts",
            Source::GoogleLegacy => "Google Contacts (older export)",
            Source::Outlook => "Outlook",
            Source::LinkedIn => "LinkedIn connections",
            Source::Mapped => "CSV with --map",
        }
    }
}

fn has(header: &[String], name: &str) -> bool {
    header.iter().any(|h| h.eq_ignore_ascii_case(name))
}

fn recognise(header: &[String]) -> Option<Source> {
    if has(header, "Connected On") && has(header, "First Name") {
        Some(Source::LinkedIn)
    } else if has(header, "First Name")
        && (has(header, "Labels") || has(header, "E-mail 1 - Value"))
    {
        Some(Source::Google)
    } else if has(header, "Given Name")
        && (has(header, "Group Membership") || has(header, "E-mail 1 - Value"))
    {
        Some(Source::GoogleLegacy)
    } else if has(header, "First Name") && has(header, "E-mail Address") {
        Some(Source::Outlook)
    } else {
        None
    }
}

/// `E-mail 2 - Value` → ("e-mail", 2, "value").
fn numbered(column: &str) -> Option<(String, usize, String)> {
    let (left, right) = column.split_once(" - ")?;
    let (what, n) = left.trim().rsplit_once(' ')?;
    Some((
        what.to_lowercase(),
        n.parse().ok()?,
        right.trim().to_lowercase(),
    ))
}

/// How each column of a known export is read.
fn fields_of(source: Source, header: &[String]) -> Vec<Option<Field>> {
    // Numbered columns carry their label in a sibling column; the label is
    // attached per row, see `row_contact`.
    header
        .iter()
        .map(|h| {
            let lower = h.trim().to_lowercase();
            if let Some((what, _, part)) = numbered(h) {
                let value = matches!(part.as_str(), "value" | "formatted");
                return match (what.as_str(), value) {
                    ("e-mail", true) => Some(Field::Email(String::new())),
                    ("phone", true) => Some(Field::Phone(String::new())),
                    ("address", true) => Some(Field::Address(String::new())),
                    ("website", true) => Some(Field::Url(String::new())),
                    ("organization", false) if part == "name" => Some(Field::Company),
                    ("organization", false) if part == "title" => Some(Field::Title),
                    ("organization", false) if part == "department" => Some(Field::Department),
                    _ => None,
                };
            }
            let f = match (source, lower.as_str()) {
                (_, "first name" | "given name") => Field::Given,
                (_, "middle name" | "additional name") => Field::Middle,
                (_, "last name" | "family name") => Field::Family,
                (_, "name prefix") | (Source::Outlook, "title") => Field::Prefix,
                (_, "name suffix" | "suffix") => Field::Suffix,
                (Source::GoogleLegacy, "name") => Field::Name,
                (_, "nickname") => Field::Nickname,
                (_, "organization name" | "company") => Field::Company,
                (_, "organization title" | "job title" | "position") => Field::Title,
                (_, "organization department" | "department") => Field::Department,
                (_, "birthday") => Field::Birthday,
                (_, "anniversary") => Field::Anniversary,
                (_, "notes") => Field::Note,
                (_, "labels" | "group membership") => Field::Tags(":::"),
                (_, "categories") => Field::Tags(";"),
                (_, "e-mail address" | "email address") => Field::Email(String::new()),
                (_, "e-mail 2 address") => Field::Email(String::new()),
                (_, "e-mail 3 address") => Field::Email(String::new()),
                (_, "mobile phone") => Field::Phone("mobile".into()),
                (_, "home phone" | "home phone 2") => Field::Phone("home".into()),
                (_, "business phone" | "business phone 2") => Field::Phone("work".into()),
                (_, "other phone") => Field::Phone("other".into()),
                (_, "business fax") => Field::Phone("work fax".into()),
                (_, "home fax") => Field::Phone("home fax".into()),
                (_, "primary phone") => Field::Phone(String::new()),
                (_, "company main phone") => Field::Phone("main".into()),
                (_, "web page") => Field::Url(String::new()),
                (Source::LinkedIn, "url") => Field::Url("linkedin".into()),
                (_, "connected on") => Field::ConnectedOn,
                (_, "gender") => Field::Gender,
                (_, "language") => Field::Lang,
                _ => return outlook_address(&lower),
            };
            Some(f)
        })
        .collect()
}

/// Outlook splits addresses into columns; each part is read as an address
/// part of its kind ("business street", "home city"…) and joined per row.
fn outlook_address(column: &str) -> Option<Field> {
    for kind in ["business", "home", "other"] {
        if let Some(rest) = column.strip_prefix(kind)
            && matches!(
                rest.trim(),
                "street"
                    | "street 2"
                    | "street 3"
                    | "city"
                    | "state"
                    | "postal code"
                    | "country/region"
                    | "po box"
            )
        {
            let label = if kind == "business" { "work" } else { kind };
            return Some(Field::Address(format!("{label}\u{1}{}", rest.trim())));
        }
    }
    None
}

/// Reads every row of a CSV file; unreadable rows go to `skipped`.
pub fn parse(name: &str, text: &str, map: Option<&ColumnMap>) -> Result<(Source, Parsed)> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let lines = LineIndex::new(text);
    let mut records = reader.records();
    // LinkedIn puts a "Notes:" preamble above the header; skip lines until
    // a row that looks like one.
    let mut header: Option<(Vec<String>, usize)> = None;
    let mut out = Parsed::default();
    for _ in 0..16 {
        match records.next() {
            Some(Ok(r)) => {
                let row: Vec<String> = r.iter().map(|c| c.trim().to_string()).collect();
                let line = r.position().map_or(0, |p| lines.at(p.byte()));
                // With a map, the first row is the header; without, the
                // first row a known export would have (LinkedIn writes
                // notes above its header).
                let is_header =
                    recognise(&row).is_some() || map.is_some() && row.iter().any(|c| !c.is_empty());
                if is_header {
                    header = Some((row, line));
                    break;
                }
            }
            Some(Err(e)) => {
                return Err(Error::invalid(format!("{name}: not CSV ({e})")));
            }
            None => break,
        }
    }
    let Some((header, _)) = header else {
        return Err(Error::invalid(match map {
            Some(_) => format!("{name}: none of the --map columns is in the file's header"),
            None => format!(
                "{name}: the CSV columns are not ones kith knows (Google, Outlook, LinkedIn); name them with --map \"COLUMN=FIELD,…\" (fields: {MAP_FIELDS})"
            ),
        }));
    };
    let (source, fields) = match map {
        Some(m) => {
            let mut fields = vec![None; header.len()];
            for (column, field) in &m.0 {
                let Some(i) = header.iter().position(|h| h.eq_ignore_ascii_case(column)) else {
                    return Err(Error::invalid(format!(
                        "--map: {name} has no column '{column}' (columns: {})",
                        header.join(", ")
                    )));
                };
                fields[i] = Some(field.clone());
            }
            (Source::Mapped, fields)
        }
        None => {
            let source = recognise(&header).unwrap_or(Source::Mapped);
            (source, fields_of(source, &header))
        }
    };
    for record in records {
        let r = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.at(p.byte()));
                out.skipped
                    .push(format!("{name}:{line}: unreadable row ({e})"));
                continue;
            }
        };
        let line = r.position().map_or(0, |p| lines.at(p.byte()));
        if r.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if r.len() > header.len() {
            out.skipped.push(format!(
                "{name}:{line}: {} cells but the header has {}",
                r.len(),
                header.len()
            ));
            continue;
        }
        let cells: Vec<&str> = r.iter().collect();
        match row_contact(&header, &fields, &cells) {
            Ok(mut c) => {
                c.line = line;
                match c.fill_name() {
                    Ok(()) => out.contacts.push(c),
                    Err(reason) => out.skipped.push(format!("{name}:{line}: {reason}")),
                }
            }
            Err(reason) => out.skipped.push(format!("{name}:{line}: {reason}")),
        }
    }
    Ok((source, out))
}

/// Line numbers from byte offsets, counted here: the CSV reader reports a
/// record's position at the end of the record before it, line ending
/// included, so its line number is one short.
struct LineIndex<'a> {
    text: &'a [u8],
    newlines: Vec<usize>,
}

impl LineIndex<'_> {
    fn new(text: &str) -> LineIndex<'_> {
        LineIndex {
            text: text.as_bytes(),
            newlines: text.match_indices('\n').map(|(i, _)| i).collect(),
        }
    }

    /// The 1-based line a record reported at `offset` starts on.
    fn at(&self, offset: u64) -> usize {
        let mut start = offset as usize;
        while matches!(self.text.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        self.newlines.partition_point(|&nl| nl < start) + 1
    }
}

/// Values in one cell: Google puts several in one, separated by ` ::: `.
fn values(cell: &str) -> impl Iterator<Item = &str> {
    cell.split(":::").map(str::trim).filter(|v| !v.is_empty())
}

fn row_contact(
    header: &[String],
    fields: &[Option<Field>],
    cells: &[&str],
) -> Result<Contact, String> {
    let mut c = Contact::default();
    let mut parts = [
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ];
    // Labels of numbered columns: ("e-mail", 1) → "work".
    let mut labels: HashMap<(String, usize), String> = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        if let Some((what, n, part)) = numbered(h)
            && matches!(part.as_str(), "label" | "type")
        {
            let l = cells.get(i).copied().unwrap_or("").trim();
            let l = l.trim_start_matches("* ").to_lowercase();
            labels.insert((what, n), l);
        }
    }
    let mut outlook_addresses: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let Some(field) = field else { continue };
        let cell = cells.get(i).copied().unwrap_or("").trim();
        if cell.is_empty() {
            continue;
        }
        let label_for = |given: &String| -> String {
            if !given.is_empty() {
                return given.clone();
            }
            numbered(&header[i])
                .and_then(|(what, n, _)| labels.get(&(what, n)).cloned())
                .unwrap_or_default()
        };
        match field {
            Field::Name => c.name = cell.to_string(),
            Field::Given => parts[1] = cell.to_string(),
            Field::Middle => parts[2] = cell.to_string(),
            Field::Family => parts[0] = cell.to_string(),
            Field::Prefix => parts[3] = cell.to_string(),
            Field::Suffix => parts[4] = cell.to_string(),
            Field::Nickname => c.nickname = Some(cell.to_string()),
            Field::Email(l) => {
                for v in values(cell) {
                    let v = v.to_lowercase();
                    if !v.contains('@') || v.contains(char::is_whitespace) {
                        return Err(format!("'{v}' is not an email address"));
                    }
                    c.emails.push(Handle::new(v, label_for(l)));
                }
            }
            Field::Phone(l) => {
                for v in values(cell) {
                    c.phones.push(Handle::new(v, label_for(l)));
                }
            }
            Field::Address(l) => {
                if let Some((label, part)) = l.split_once('\u{1}') {
                    match outlook_addresses.iter_mut().find(|(k, _)| k == label) {
                        Some((_, ps)) => ps.push((part.to_string(), cell.to_string())),
                        None => outlook_addresses.push((
                            label.to_string(),
                            vec![(part.to_string(), cell.to_string())],
                        )),
                    }
                } else {
                    for v in values(cell) {
                        let one_line = v
                            .lines()
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .collect::<Vec<_>>()
                            .join(", ");
                        c.addresses.push(Handle::new(one_line, label_for(l)));
                    }
                }
            }
            Field::Company => c.company = Some(cell.to_string()),
            Field::Title => c.title = Some(cell.to_string()),
            Field::Department => c.department = Some(cell.to_string()),
            Field::Birthday => c.birthday = date_cell("birthday", cell)?,
            Field::Anniversary => c.anniversary = date_cell("anniversary", cell)?,
            Field::Note => c.notes.push(cell.to_string()),
            Field::Tags(sep) => {
                for t in cell.split(sep).map(str::trim) {
                    // Google's own groups ("* myContacts", "* starred").
                    if t.is_empty() || t.starts_with('*') {
                        continue;
                    }
                    let t = t.to_lowercase();
                    if !c.tags.contains(&t) {
                        c.tags.push(t);
                    }
                }
            }
            Field::Url(l) => {
                for v in values(cell) {
                    c.urls.push(Handle::new(v, label_for(l)));
                }
            }
            Field::Uid => c.uid = Some(cell.to_string()),
            Field::Fact => c.facts.push((cell.to_string(), None)),
            Field::ConnectedOn => {
                let d = parse_date(cell).filter(|d| d.year.is_some());
                c.connected_on = Some(
                    d.ok_or_else(|| format!("'{cell}' is not a date"))?
                        .to_string(),
                );
            }
            Field::Gender => c.gender = Some(cell.to_string()),
            Field::Lang => c.lang = Some(cell.to_string()),
        }
    }
    for (label, ps) in outlook_addresses {
        let get = |k: &str| {
            ps.iter()
                .filter(|(p, _)| p.starts_with(k))
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let parts = vec![
            get("po box"),
            String::new(),
            get("street"),
            get("city"),
            get("state"),
            get("postal code"),
            get("country"),
        ];
        let value = super::vcard::address_line(&parts);
        if !value.is_empty() {
            c.addresses.push(Handle {
                value,
                label,
                parts: Some(parts),
                extra: Vec::new(),
            });
        }
    }
    // A row with an organisation and no one's name is the organisation.
    if c.name.is_empty()
        && parts.iter().all(String::is_empty)
        && c.emails.is_empty()
        && c.phones.is_empty()
        && let Some(org) = c.company.take()
    {
        c.is_company = true;
        c.name = org;
    }
    if parts.iter().any(|p| !p.is_empty()) {
        if c.name.is_empty() {
            c.name = super::vcard::name_from_parts(&parts);
        }
        c.name_parts = Some(parts.to_vec());
    }
    Ok(c)
}

fn date_cell(what: &str, cell: &str) -> Result<Option<crate::model::PartialDate>, String> {
    if cell.trim() == "0/0/00" {
        return Ok(None);
    }
    parse_date(cell)
        .map(Some)
        .ok_or_else(|| format!("{what} '{cell}' is not a date"))
}
