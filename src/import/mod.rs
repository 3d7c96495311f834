//! Bringing contacts in from address books: vCard 2.1, 3.0 and 4.0, and CSV
//! (Google Contacts, Outlook, LinkedIn, or any CSV with a column map).
//!
//! Reading a file gives [`Contact`]s, a neutral form of what an address
//! book holds, each with the line it starts on; records that cannot be read
//! are reported as `FILE:LINE: reason` and never half-imported. `merge`
//! then matches contacts against the ledger (by uid, then email, then
//! phone with a similar name), so a second import doubles nothing, and
//! turns them into store changes written as one batch.
//!
//! [`import_file`] is one file, whatever its format, as `kith import` and
//! the web face's upload take it: [`sniff`] tells the format from the name
//! or the first bytes, and a kith JSONL export goes to
//! `Ledger::import_jsonl` (`transfer`).

pub mod csv;
mod merge;
pub mod vcard;

use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::model::PartialDate;
use crate::transfer::ImportSummary;

pub(crate) use merge::derivable;
pub use merge::{ContactImport, KITH_UID_PREFIX, similar_names};

/// The formats `kith import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Vcard,
    Csv,
    Jsonl,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Vcard => "vCard",
            Format::Csv => "CSV",
            Format::Jsonl => "JSONL",
        }
    }
}

/// A value with its label and, for addresses, its structured parts
/// (post box, extended, street, locality, region, postal code, country).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Handle {
    pub value: String,
    pub label: String,
    pub parts: Option<Vec<String>>,
    /// vCard properties kith does not model that were grouped with this
    /// one (Apple's `item3.ADR` + `item3.X-ABADR:gb`), as vCard 4.0 lines
    /// without their group: the export puts them back in this value's
    /// group, so they stay together.
    pub extra: Vec<String>,
}

impl Handle {
    pub fn new(value: impl Into<String>, label: impl Into<String>) -> Handle {
        Handle {
            value: value.into(),
            label: label.into(),
            parts: None,
            extra: Vec::new(),
        }
    }
}

/// Who a relationship on a card points at.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// Another card's UID (vCard 4 `RELATED:urn:uuid:…`).
    Uid(String),
    /// Only a name (Apple's related names, `RELATED;VALUE=text`).
    Name(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Related {
    /// How the target stands to the card's person: "spouse", "daughter"…
    pub relation: String,
    pub target: Target,
}

/// One person or company as an address book holds it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Contact {
    /// The line of the file the record starts on.
    pub line: usize,
    pub is_company: bool,
    pub name: String,
    /// vCard `N`: family, given, additional, prefix, suffix.
    pub name_parts: Option<Vec<String>>,
    pub nickname: Option<String>,
    pub emails: Vec<Handle>,
    pub phones: Vec<Handle>,
    pub addresses: Vec<Handle>,
    pub urls: Vec<Handle>,
    pub impps: Vec<Handle>,
    pub company: Option<String>,
    pub department: Option<String>,
    pub title: Option<String>,
    pub birthday: Option<PartialDate>,
    pub anniversary: Option<PartialDate>,
    pub tags: Vec<String>,
    pub notes: Vec<String>,
    /// Facts with the day they were learned, if known.
    pub facts: Vec<(String, Option<String>)>,
    /// A `data:` URI or a link.
    pub photo: Option<String>,
    pub uid: Option<String>,
    pub lang: Option<String>,
    pub gender: Option<String>,
    pub related: Vec<Related>,
    /// vCard properties kith does not model, as unfolded vCard 4.0 lines,
    /// written back on export so a round trip loses nothing.
    pub extra: Vec<String>,
    /// Only a name is known (kith's own `X-KITH-NAME-ONLY`).
    pub name_only: bool,
    /// When the relationship started (LinkedIn's "Connected On").
    pub connected_on: Option<String>,
}

impl Contact {
    /// The name to file the contact under when a card has no name: its
    /// first email or phone, so nothing importable is turned away.
    pub fn fill_name(&mut self) -> std::result::Result<(), String> {
        if !self.name.trim().is_empty() {
            return Ok(());
        }
        let fallback = self
            .company
            .clone()
            .filter(|_| self.is_company)
            .or_else(|| self.nickname.clone())
            .or_else(|| self.emails.first().map(|e| e.value.clone()))
            .or_else(|| self.phones.first().map(|p| p.value.clone()));
        match fallback {
            Some(n) if !n.trim().is_empty() => {
                self.name = n.trim().to_string();
                Ok(())
            }
            _ => Err("no name, email or phone to know this contact by".into()),
        }
    }
}

/// What reading a file gave: the contacts, and the records that were not
/// read with why (`FILE:LINE: reason`).
#[derive(Debug, Default)]
pub struct Parsed {
    pub contacts: Vec<Contact>,
    pub skipped: Vec<String>,
}

/// Reads bytes as text: UTF-8 (without a byte-order mark), or, when that
/// fails, ISO-8859-1, which old phones and Outlook still write. Binary
/// data and empty files are refused outright.
pub fn decode(name: &str, bytes: &[u8]) -> Result<String> {
    if bytes.iter().take(1 << 16).any(|b| *b == 0) {
        return Err(Error::invalid(format!(
            "{name}: binary data, not a vCard, CSV or JSONL file"
        )));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_string(),
        Err(_) => bytes.iter().map(|b| *b as char).collect(),
    };
    if text.trim().is_empty() {
        return Err(Error::invalid(format!("{name} is empty")));
    }
    let controls = text
        .chars()
        .take(4096)
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        .count();
    if controls > 8 {
        return Err(Error::invalid(format!(
            "{name}: binary data, not a vCard, CSV or JSONL file"
        )));
    }
    Ok(text)
}

/// Tells the format from the content: a vCard starts with `BEGIN:VCARD`,
/// a kith export with a JSON object, anything else with commas is CSV.
pub fn detect(text: &str) -> Option<Format> {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    // Bytes, not a str slice: the first line may be any text at all.
    if first
        .as_bytes()
        .get(..11)
        .is_some_and(|b| b.eq_ignore_ascii_case(b"BEGIN:VCARD"))
    {
        Some(Format::Vcard)
    } else if first.starts_with('{') {
        Some(Format::Jsonl)
    } else if text.lines().take(8).any(|l| l.contains(',')) {
        Some(Format::Csv)
    } else {
        None
    }
}

/// How many of a file's first bytes [`sniff`] needs to tell its format.
pub const SNIFF_BYTES: usize = 1 << 16;

/// The format a file name's extension says, if it says one.
pub fn format_from_name(name: &str) -> Option<Format> {
    let ext = std::path::Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("jsonl" | "ndjson") => Some(Format::Jsonl),
        Some("vcf" | "vcard") => Some(Format::Vcard),
        Some("csv") => Some(Format::Csv),
        _ => None,
    }
}

/// The format of a file: by its name's extension, or failing that its
/// first bytes (`head`, the first [`SNIFF_BYTES`] or all of a shorter file).
pub fn sniff(name: &str, head: &[u8]) -> Result<Format> {
    if let Some(format) = format_from_name(name) {
        return Ok(format);
    }
    let head = &head[..head.len().min(SNIFF_BYTES)];
    let text = decode(name, head)?;
    detect(&text).ok_or_else(|| {
        Error::invalid(format!(
            "{name}: not a vCard, CSV or kith JSONL file (name the format with --format)"
        ))
    })
}

/// A file where not one record could be read is an error, not a summary.
pub fn nothing_read(name: &str, format: Format, parsed: &Parsed) -> Result<()> {
    if parsed.contacts.is_empty() {
        return Err(Error::invalid(match parsed.skipped.first() {
            Some(first) => format!(
                "{name}: no {} record could be read ({first}; {} in all)",
                format.name(),
                parsed.skipped.len()
            ),
            None => format!("{name}: no {} records in it", format.name()),
        }));
    }
    Ok(())
}

/// A file to import: its bytes in memory (an upload), or a stream to read
/// (a kith JSONL export on disk is read line by line, never held whole).
pub enum Input<'a> {
    Bytes(&'a [u8]),
    Reader(&'a mut dyn std::io::BufRead),
}

/// Imports one file called `name` into `ledger` (`kith import`): contacts
/// from vCard or CSV matched and merged, or a kith JSONL export. With no
/// `format`, it is told from the name or the first bytes (which a
/// [`Input::Reader`] cannot show without reading it all). `map` names the
/// columns of a CSV kith does not recognise. Gives what the file was read
/// as ("vCard", "Google Contacts CSV", "kith JSONL"…) and what was done.
pub fn import_file(
    ledger: &mut Ledger,
    name: &str,
    input: Input<'_>,
    format: Option<Format>,
    map: Option<&csv::ColumnMap>,
    dry_run: bool,
    progress: &dyn Fn(usize, usize),
) -> Result<(String, ImportSummary)> {
    let (format, input) = match (format, input) {
        (Some(f), input) => (f, input),
        (None, input) => match format_from_name(name) {
            Some(f) => (f, input),
            None => {
                let bytes = read_all(name, input)?;
                let format = sniff(name, &bytes)?;
                return import_bytes(ledger, name, &bytes, format, map, dry_run, progress);
            }
        },
    };
    match (format, input) {
        (Format::Jsonl, Input::Reader(r)) => {
            let s = ledger.import_jsonl(name, r, dry_run, progress)?;
            Ok(("kith JSONL".to_string(), s))
        }
        (format, input) => {
            let bytes = read_all(name, input)?;
            import_bytes(ledger, name, &bytes, format, map, dry_run, progress)
        }
    }
}

/// Imports a vdir (`kith import DIR`): a folder of `.vcf` files, one card
/// or more each, as khard, vdirsyncer and aerc keep them. Every file is
/// read and parsed first, its problems named `FILE:LINE`; the cards are
/// then matched and written as one import, so a file that cannot be read
/// at all (binary, unreadable) changes nothing. Files not ending in `.vcf`
/// and sub-folders are left alone, as other vdir tools do.
pub fn import_vdir(
    ledger: &mut Ledger,
    dir: &std::path::Path,
    dry_run: bool,
    progress: &dyn Fn(usize, usize),
) -> Result<(String, ImportSummary)> {
    let name = dir.display().to_string();
    let read_err = |source| Error::Read {
        name: name.clone(),
        source,
    };
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("vcf")))
        .collect();
    if files.is_empty() {
        return Err(Error::invalid(format!(
            "{name}: no .vcf file in this folder"
        )));
    }
    // Cards in a stable order, so two imports of one folder plan alike.
    files.sort();
    let mut all = Parsed::default();
    for path in &files {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            name: file.clone(),
            source,
        })?;
        let text = decode(&file, &bytes)?;
        let parsed = vcard::parse(&file, &text);
        all.contacts.extend(parsed.contacts);
        all.skipped.extend(parsed.skipped);
    }
    nothing_read(&name, Format::Vcard, &all)?;
    let summary = ledger.import_contacts(&name, all, dry_run, progress)?;
    Ok((format!("a vdir of {} vCard files", files.len()), summary))
}

/// All of `input`, read if it is a stream.
fn read_all<'a>(name: &str, input: Input<'a>) -> Result<std::borrow::Cow<'a, [u8]>> {
    Ok(match input {
        Input::Bytes(b) => b.into(),
        Input::Reader(r) => {
            let mut bytes = Vec::new();
            r.read_to_end(&mut bytes).map_err(|source| Error::Read {
                name: name.to_string(),
                source,
            })?;
            bytes.into()
        }
    })
}

fn import_bytes(
    ledger: &mut Ledger,
    name: &str,
    bytes: &[u8],
    format: Format,
    map: Option<&csv::ColumnMap>,
    dry_run: bool,
    progress: &dyn Fn(usize, usize),
) -> Result<(String, ImportSummary)> {
    match format {
        Format::Jsonl => {
            let s = ledger.import_jsonl(name, &mut &bytes[..], dry_run, progress)?;
            Ok(("kith JSONL".to_string(), s))
        }
        Format::Vcard => {
            let text = decode(name, bytes)?;
            let parsed = vcard::parse(name, &text);
            nothing_read(name, format, &parsed)?;
            let s = ledger.import_contacts(name, parsed, dry_run, progress)?;
            Ok(("vCard".to_string(), s))
        }
        Format::Csv => {
            let text = decode(name, bytes)?;
            let (source, parsed) = csv::parse(name, &text, map)?;
            nothing_read(name, format, &parsed)?;
            let s = ledger.import_contacts(name, parsed, dry_run, progress)?;
            Ok((source.name().to_string(), s))
        }
    }
}

/// A date as address books write it: `1961-04-05`, `19610405`, `--0415`,
/// `--04-15`, US `4/5/1961`, or `14 Mar 2023`. None for "unknown"
/// (`0/0/00`) or nonsense.
pub fn parse_date(s: &str) -> Option<PartialDate> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    // Drop a time part: `1961-04-05T00:00:00Z`.
    let day = t.split(['T', ' ']).next().unwrap_or(t);
    if let Ok(d) = PartialDate::parse(day) {
        return Some(d);
    }
    let digits: String = day.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == 8 && day.chars().all(|c| c.is_ascii_digit() || c == '-') {
        let fmt = format!("{}-{}-{}", &digits[..4], &digits[4..6], &digits[6..]);
        return PartialDate::parse(&fmt).ok();
    }
    if let Some(d) = us_date(t) {
        return d;
    }
    jiff::civil::Date::strptime("%d %b %Y", t)
        .ok()
        .and_then(|d| PartialDate::parse(&d.to_string()).ok())
}

/// `4/5/1961` (month first, as Outlook writes it); `Some(None)` for
/// Outlook's "no date", `0/0/00`.
fn us_date(t: &str) -> Option<Option<PartialDate>> {
    let parts: Vec<&str> = t.split('/').collect();
    let [m, d, y] = parts.as_slice() else {
        return None;
    };
    let (m, d, y): (u8, u8, u16) = (m.parse().ok()?, d.parse().ok()?, y.parse().ok()?);
    if m == 0 || d == 0 {
        return Some(None);
    }
    let y = if y < 100 { y + 1900 } else { y };
    Some(PartialDate::parse(&format!("{y:04}-{m:02}-{d:02}")).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_address_books_write_them() {
        let d = |s: &str| parse_date(s).map(|d| d.to_string());
        assert_eq!(d("1961-04-05").as_deref(), Some("1961-04-05"));
        assert_eq!(d("19610405").as_deref(), Some("1961-04-05"));
        assert_eq!(d("--0415").as_deref(), Some("--04-15"));
        assert_eq!(d("4/5/1961").as_deref(), Some("1961-04-05"));
        assert_eq!(d("0/0/00"), None);
        assert_eq!(d("14 Mar 2023").as_deref(), Some("2023-03-14"));
        assert_eq!(d("soon"), None);
    }

    #[test]
    fn formats_are_told_by_content() {
        assert_eq!(detect("\n BEGIN:VCARD\r\n"), Some(Format::Vcard));
        assert_eq!(detect("{\"kith-export\":1}\n"), Some(Format::Jsonl));
        assert_eq!(detect("First Name,Last Name\n"), Some(Format::Csv));
        assert_eq!(detect("hello\n"), None);
    }

    #[test]
    fn formats_are_told_by_name_then_first_bytes() {
        assert_eq!(format_from_name("dir/Contacts.VCF"), Some(Format::Vcard));
        assert_eq!(format_from_name("backup.ndjson"), Some(Format::Jsonl));
        assert_eq!(format_from_name("upload"), None);
        // The name wins over the content.
        assert_eq!(sniff("a.csv", b"BEGIN:VCARD\n").unwrap(), Format::Csv);
        assert_eq!(sniff("upload", b"BEGIN:VCARD\n").unwrap(), Format::Vcard);
        assert_eq!(
            sniff("upload", b"hello\n").unwrap_err().to_string(),
            "upload: not a vCard, CSV or kith JSONL file (name the format with --format)"
        );
        assert_eq!(
            sniff("upload", b"  \n").unwrap_err().to_string(),
            "upload is empty"
        );
    }

    #[test]
    fn a_file_with_nothing_readable_is_an_error() {
        let empty = Parsed::default();
        assert_eq!(
            nothing_read("a.vcf", Format::Vcard, &empty)
                .unwrap_err()
                .to_string(),
            "a.vcf: no vCard records in it"
        );
        let skipped = Parsed {
            contacts: Vec::new(),
            skipped: vec!["a.csv:2: no name".into(), "a.csv:3: no name".into()],
        };
        assert_eq!(
            nothing_read("a.csv", Format::Csv, &skipped)
                .unwrap_err()
                .to_string(),
            "a.csv: no CSV record could be read (a.csv:2: no name; 2 in all)"
        );
    }

    #[test]
    fn an_upload_is_imported_from_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let opts = crate::ledger::OpenOptions {
            now: "2026-11-28T09:00:00Z".parse().unwrap(),
            time_zone: jiff::tz::TimeZone::UTC,
            progress: &|_, _| {},
        };
        let mut ledger = Ledger::open(dir.path(), opts).unwrap();
        let card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Edna Miggins\r\nEMAIL:edna@miggins.co.uk\r\nEND:VCARD\r\n";
        let import = |ledger: &mut Ledger, dry_run| {
            import_file(
                ledger,
                "upload",
                Input::Bytes(card),
                None,
                None,
                dry_run,
                &|_, _| {},
            )
            .unwrap()
        };
        let (source, summary) = import(&mut ledger, true);
        assert_eq!((source.as_str(), summary.created), ("vCard", 1));
        assert!(
            ledger.resolve_person("edna").is_err(),
            "a dry run writes nothing"
        );
        let (_, summary) = import(&mut ledger, false);
        assert_eq!(summary.created, 1);
        let (_, again) = import(&mut ledger, false);
        assert_eq!((again.created, again.unchanged), (0, 1));
        let mut broken = &b"BEGIN:VCARD"[..];
        let err = import_file(
            &mut ledger,
            "x.jsonl",
            Input::Reader(&mut broken),
            None,
            None,
            false,
            &|_, _| {},
        );
        assert!(err.is_err());
    }
}
