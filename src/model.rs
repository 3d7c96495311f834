//! What a ledger holds: people, companies, facts, notes, relationships,
//! interactions and follow-ups, their ids, and which part (shared or private)
//! each field lives in. Pure data: no I/O here.
//!
//! Every record is an *entity*: a kind, an id and two maps of fields, one from
//! the shared part of the ledger and one from the private part. The typed
//! views (`Person`, `Interaction`, …) are built from entities for display and
//! JSON output; the store only ever sees entities.

use std::collections::BTreeMap;
use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::error::{Error, Result};

/// Crockford base32, lower case: no i, l, o, u, so ids read aloud well.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
pub const ID_LEN: usize = 16;
/// Shards are named by the first two characters of an id: 1024 of them.
pub const SHARD_CHARS: usize = 2;

/// A stable entity id: 16 base32 characters (80 random bits). Items that
/// belong to a person (facts, interactions, …) share its first two
/// characters, so they live in the same shard as the person.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Id(String);

impl Id {
    pub fn random() -> Id {
        let mut rng = rand::rng();
        Id((0..ID_LEN)
            .map(|_| ALPHABET[rng.random_range(0..32)] as char)
            .collect())
    }

    /// A new id in the same shard as `owner`.
    pub fn near(owner: &Id) -> Id {
        let fresh = Id::random();
        Id(format!(
            "{}{}",
            owner.shard().name(),
            &fresh.0[SHARD_CHARS..]
        ))
    }

    pub fn parse(s: &str) -> Result<Id> {
        let s = s.trim().to_ascii_lowercase();
        if s.len() == ID_LEN && s.bytes().all(|b| ALPHABET.contains(&b)) {
            Ok(Id(s))
        } else {
            Err(Error::invalid(format!(
                "'{s}' is not a kith id (16 characters of 0-9 and a-z)"
            )))
        }
    }

    /// An id read back from where kith wrote it after [`Id::parse`] or
    /// [`Id::random`] (an index): not checked again.
    pub fn trusted(s: String) -> Id {
        Id(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn shard(&self) -> Shard {
        Shard(self.0[..SHARD_CHARS].to_string())
    }

    /// The short form shown to people: enough to be unique in practice.
    pub fn short(&self) -> &str {
        &self.0[..8]
    }
}

impl TryFrom<String> for Id {
    type Error = Error;
    fn try_from(s: String) -> Result<Id> {
        Id::parse(&s)
    }
}

impl From<Id> for String {
    fn from(id: Id) -> String {
        id.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One of the 1024 shards a ledger part is split into.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard(String);

impl Shard {
    pub fn parse(name: &str) -> Option<Shard> {
        (name.len() == SHARD_CHARS && name.bytes().all(|b| ALPHABET.contains(&b)))
            .then(|| Shard(name.to_string()))
    }

    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which part of the ledger a field or an item lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Privacy {
    /// Teammates may read it.
    Shared,
    /// Never leaves the owner's own devices.
    Private,
}

/// The kinds of record a ledger holds; each is one map in every shard document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Person,
    Company,
    Fact,
    Note,
    Link,
    Interaction,
    FollowUp,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Person,
        Kind::Company,
        Kind::Fact,
        Kind::Note,
        Kind::Link,
        Kind::Interaction,
        Kind::FollowUp,
    ];

    /// The key of this kind's map at the root of a shard document.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Person => "people",
            Kind::Company => "companies",
            Kind::Fact => "facts",
            Kind::Note => "notes",
            Kind::Link => "links",
            Kind::Interaction => "interactions",
            Kind::FollowUp => "follow_ups",
        }
    }

    pub fn from_collection(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.collection() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Person => "person",
            Kind::Company => "company",
            Kind::Fact => "fact",
            Kind::Note => "note",
            Kind::Link => "link",
            Kind::Interaction => "interaction",
            Kind::FollowUp => "follow-up",
        }
    }
}

pub type Fields = BTreeMap<String, Json>;

/// A record as the ledger holds it: the fields found in each part. This is
/// also the line format of `kith export --format jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub kind: Kind,
    pub id: Id,
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub shared: Fields,
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub private: Fields,
}

impl Entity {
    pub fn new(kind: Kind, id: Id) -> Entity {
        Entity {
            kind,
            id,
            shared: Fields::new(),
            private: Fields::new(),
        }
    }

    /// A field's value, wherever it lives.
    pub fn get(&self, field: &str) -> Option<&Json> {
        self.private.get(field).or_else(|| self.shared.get(field))
    }

    pub fn str(&self, field: &str) -> Option<&str> {
        self.get(field)
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn privacy_of(&self, field: &str) -> Option<Privacy> {
        if self.private.contains_key(field) {
            Some(Privacy::Private)
        } else if self.shared.contains_key(field) {
            Some(Privacy::Shared)
        } else {
            None
        }
    }

    /// Names of the fields kept in the private part, sorted.
    pub fn private_fields(&self) -> Vec<String> {
        self.private.keys().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.shared.is_empty() && self.private.is_empty()
    }

    /// A set-like field (`emails`, `tags`, …) as its members from both
    /// parts, in the order they were added.
    pub fn set_values(&self, field: &str) -> Vec<Labeled> {
        let mut out: Vec<(i64, Labeled)> = Vec::new();
        for (part, private) in [(&self.shared, false), (&self.private, true)] {
            let Some(Json::Object(map)) = part.get(field) else {
                continue;
            };
            for (value, meta) in map {
                if out.iter().any(|(_, l)| l.value == *value) {
                    continue;
                }
                let label = meta.get("label").and_then(Json::as_str).unwrap_or("");
                let pos = meta.get("pos").and_then(Json::as_i64).unwrap_or(0);
                out.push((
                    pos,
                    Labeled {
                        value: value.clone(),
                        label: label.to_string(),
                        private,
                    },
                ));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.value.cmp(&b.1.value)));
        out.into_iter().map(|(_, l)| l).collect()
    }

    /// Live unless removed with `kith rm`.
    pub fn is_deleted(&self) -> bool {
        self.get("deleted").is_some_and(|v| !v.is_null())
    }
}

/// A value with a label: an email, phone or address ("work", "home", "shop").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labeled {
    pub value: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub label: String,
    /// Kept in the private part (only shown when true).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub private: bool,
}

impl std::fmt::Display for Labeled {
    /// "edna@miggins.co.uk (shop)", or the value alone when unlabelled.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.label.is_empty() {
            f.write_str(&self.value)
        } else {
            write!(f, "{} ({})", self.value, self.label)
        }
    }
}

/// Labelled values as one line: "a@x.com (work), b@y.com".
pub fn join_labeled(values: &[Labeled]) -> String {
    values
        .iter()
        .map(Labeled::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Fields of a person that hold sets of labelled values.
pub const SET_FIELDS: [&str; 6] = ["emails", "phones", "addresses", "tags", "urls", "impps"];

/// The key two spellings of one phone number share: its last nine digits
/// (or all of them, if fewer), so `+44 7700 900123` and `07700 900123`
/// match. None for something with too few digits to be a number.
pub fn phone_key(phone: &str) -> Option<String> {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 5 {
        return None;
    }
    Some(digits[digits.len().saturating_sub(9)..].iter().collect())
}

/// Person fields and where they live unless the user says otherwise.
pub const PERSON_FIELDS: &[(&str, Privacy)] = &[
    ("name", Privacy::Shared),
    ("sort_name", Privacy::Shared),
    ("nickname", Privacy::Private),
    ("emails", Privacy::Shared),
    ("phones", Privacy::Private),
    ("addresses", Privacy::Private),
    ("company", Privacy::Shared),
    ("title", Privacy::Shared),
    ("birthday", Privacy::Private),
    ("anniversary", Privacy::Private),
    ("tags", Privacy::Shared),
    ("cadence_days", Privacy::Private),
    // Brought in from address books (vCard, CSV).
    ("name_parts", Privacy::Shared),
    ("department", Privacy::Shared),
    ("urls", Privacy::Shared),
    ("lang", Privacy::Shared),
    ("name_only", Privacy::Shared),
    ("impps", Privacy::Private),
    ("gender", Privacy::Private),
    ("photo", Privacy::Private),
    ("uid", Privacy::Private),
    ("vcard", Privacy::Private),
];

pub const COMPANY_FIELDS: &[(&str, Privacy)] = &[
    ("name", Privacy::Shared),
    ("domain", Privacy::Shared),
    ("tags", Privacy::Shared),
];

/// A day of the year, with or without a year: birthdays and anniversaries.
/// 29 February is valid without a year; with one, the year must be a leap year.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartialDate {
    pub year: Option<i16>,
    pub month: u8,
    pub day: u8,
}

impl PartialDate {
    /// Accepts `1961-04-05`, `--04-05`, `--0405` and `04-05`.
    pub fn parse(s: &str) -> Result<PartialDate> {
        let bad = || {
            Error::invalid(format!(
                "'{s}' is not a date: use YYYY-MM-DD, or --MM-DD when the year is unknown"
            ))
        };
        let t = s.trim();
        let (year, rest) = if let Some(rest) = t.strip_prefix("--") {
            (None, rest)
        } else if t.len() == 10 && t.as_bytes()[4] == b'-' {
            (Some(t[..4].parse::<i16>().map_err(|_| bad())?), &t[5..])
        } else if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
            (Some(t[..4].parse::<i16>().map_err(|_| bad())?), &t[4..])
        } else {
            (None, t)
        };
        let digits: String = rest.chars().filter(|c| *c != '-').collect();
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let month: u8 = digits[..2].parse().map_err(|_| bad())?;
        let day: u8 = digits[2..].parse().map_err(|_| bad())?;
        let date = PartialDate { year, month, day };
        date.validate().map_err(|_| bad())?;
        Ok(date)
    }

    fn validate(&self) -> Result<()> {
        // 2000 is a leap year, so a yearless 29 February passes.
        let year = self.year.unwrap_or(2000);
        jiff::civil::Date::new(year, self.month as i8, self.day as i8)
            .map(|_| ())
            .map_err(|e| Error::invalid(e.to_string()))
    }

    /// Month and day as MMDD, for ordering by the calendar.
    pub fn month_day(&self) -> u16 {
        self.month as u16 * 100 + self.day as u16
    }

    /// The next time this day comes round on or after `from`. A 29 February
    /// is kept on 28 February in common years.
    pub fn next_on_or_after(&self, from: jiff::civil::Date) -> jiff::civil::Date {
        for year in [from.year(), from.year() + 1] {
            let day = if self.month == 2 && self.day == 29 && !is_leap(year) {
                28
            } else {
                self.day
            };
            if let Ok(d) = jiff::civil::Date::new(year, self.month as i8, day as i8)
                && d >= from
            {
                return d;
            }
        }
        from
    }
}

fn is_leap(year: i16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.year {
            Some(y) => write!(f, "{y:04}-{:02}-{:02}", self.month, self.day),
            None => write!(f, "--{:02}-{:02}", self.month, self.day),
        }
    }
}

/// The channels interactions come through; any other word is kept as given.
pub const CHANNELS: [&str; 5] = ["call", "email", "meeting", "visit", "message"];

/// Relationship words and how they read from the other side.
pub fn inverse_relation(relation: &str) -> String {
    match relation {
        "parent" | "parent-of" => "child".into(),
        "child" | "child-of" => "parent".into(),
        "reports-to" => "manages".into(),
        "manages" => "reports-to".into(),
        "introduced-by" => "introduced".into(),
        "introduced" => "introduced-by".into(),
        "employer" => "employee".into(),
        "employee" => "employer".into(),
        "mentor" => "mentee".into(),
        "mentee" => "mentor".into(),
        // spouse, colleague, friend, sibling, partner… read the same both ways.
        other => other.to_string(),
    }
}

/// A cadence such as `3w`: how often to be in touch, in days.
pub fn parse_cadence(s: &str) -> Result<u32> {
    let t = s.trim().to_ascii_lowercase();
    let bad = || {
        Error::invalid(format!(
            "'{s}' is not a cadence: use a number and d, w, m or y, as in 3w"
        ))
    };
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let n: u32 = t[..split].parse().map_err(|_| bad())?;
    let per = match &t[split..] {
        "d" | "day" | "days" => 1,
        "w" | "wk" | "week" | "weeks" => 7,
        "m" | "mo" | "month" | "months" => 30,
        "y" | "yr" | "year" | "years" => 365,
        _ => return Err(bad()),
    };
    let days = n.checked_mul(per).ok_or_else(bad)?;
    if days == 0 || days > 3650 {
        return Err(bad());
    }
    Ok(days)
}

/// `21` days reads back as `3w`.
pub fn format_cadence(days: u32) -> String {
    if days.is_multiple_of(365) {
        format!("{}y", days / 365)
    } else if days.is_multiple_of(30) {
        format!("{}m", days / 30)
    } else if days.is_multiple_of(7) {
        format!("{}w", days / 7)
    } else {
        format!("{days}d")
    }
}

/// The sort name: "Edna Miggins" sorts as "Miggins, Edna".
pub fn default_sort_name(name: &str) -> String {
    let parts: Vec<&str> = name.split_whitespace().collect();
    match parts.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [first @ .., last] => format!("{}, {}", last, first.join(" ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_dates() {
        assert_eq!(
            PartialDate::parse("1961-04-05").unwrap().to_string(),
            "1961-04-05"
        );
        assert_eq!(
            PartialDate::parse("--04-05").unwrap().to_string(),
            "--04-05"
        );
        assert_eq!(PartialDate::parse("--0229").unwrap().to_string(), "--02-29");
        assert!(PartialDate::parse("1961-02-29").is_err());
        assert!(PartialDate::parse("2000-02-29").is_ok());
        assert!(PartialDate::parse("--13-01").is_err());
        assert!(PartialDate::parse("tomorrow").is_err());
    }

    #[test]
    fn leap_day_falls_on_28th_in_common_years() {
        let d = PartialDate::parse("--02-29").unwrap();
        let from = jiff::civil::date(2027, 2, 1);
        assert_eq!(d.next_on_or_after(from), jiff::civil::date(2027, 2, 28));
        let from = jiff::civil::date(2028, 2, 1);
        assert_eq!(d.next_on_or_after(from), jiff::civil::date(2028, 2, 29));
    }

    #[test]
    fn cadences() {
        assert_eq!(parse_cadence("3w").unwrap(), 21);
        assert_eq!(format_cadence(21), "3w");
        assert!(parse_cadence("0d").is_err());
        assert!(parse_cadence("often").is_err());
        assert!(parse_cadence("999999999y").is_err());
    }

    #[test]
    fn ids_near_share_a_shard() {
        let a = Id::random();
        let b = Id::near(&a);
        assert_eq!(a.shard(), b.shard());
        assert_eq!(Id::parse(b.as_str()).unwrap(), b);
    }
}
