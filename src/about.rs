//! `kith about WHO`: an account of everything held about one person, ready
//! to hand to them when they ask "what do you know about me?". This module
//! owns what goes into it (fields, facts, notes, relationships,
//! interactions and follow-ups, each marked shared or private, with when
//! and on which device it was recorded, from the automerge history), how
//! the same person is found in a teammate's replica, and the Markdown and
//! HTML renderings. The JSON form is the [`Account`] struct itself.

use serde::Serialize;
use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::history::Event;
use crate::index::{Index, name_key};
use crate::ledger::Ledger;
use crate::model::{Entity, Id, Kind, PERSON_FIELDS, SET_FIELDS, format_cadence};
use crate::view::{self, Detail};
use render::{Block, Inline};

/// Everything held about one person, in one or more ledgers.
#[derive(Debug, Serialize)]
pub struct Account {
    /// The person's name, as the first section has it.
    pub person: String,
    /// When the account was made, local time with its offset.
    pub generated_at: String,
    pub sections: Vec<Section>,
}

/// Which part of a ledger a section may show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// Shared and private: the own ledger.
    All,
    /// The shared part only: a teammate's replica.
    Shared,
}

/// Whose ledger a section comes from.
#[derive(Clone, Debug)]
pub struct Owner {
    pub name: String,
    pub id: Option<String>,
    /// The day a removed member left the team.
    pub left_on: Option<String>,
    /// The ledger of the person making the account.
    pub mine: bool,
}

impl Owner {
    /// The own ledger in an account without teammates: "me", as `find` says.
    pub fn me() -> Owner {
        Owner {
            name: "me".into(),
            id: None,
            left_on: None,
            mine: true,
        }
    }

    /// "alice", or "alice (left on 2026-11-28)", as team listings say it.
    pub fn label(&self) -> String {
        match &self.left_on {
            Some(day) => format!("{} (left on {day})", self.name),
            None => self.name.clone(),
        }
    }
}

/// What one ledger holds about the person.
#[derive(Debug, Serialize)]
pub struct Section {
    pub owner: String,
    pub owner_id: Option<String>,
    pub mine: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_on: Option<String>,
    pub part: Part,
    pub person_id: Id,
    pub name: String,
    /// The change that first recorded the person: an import says so.
    pub source: Option<Source>,
    pub fields: Vec<Field>,
    pub facts: Vec<Item>,
    pub notes: Vec<Item>,
    pub relationships: Vec<Relationship>,
    pub interactions: Vec<Interaction>,
    pub follow_ups: Vec<FollowUp>,
}

#[derive(Debug, Serialize)]
pub struct Source {
    /// The change's own words: "add Edna Miggins", "import contacts.vcf".
    pub what: String,
    pub at: String,
    pub device: Option<String>,
    pub imported: bool,
}

#[derive(Debug, Serialize)]
pub struct Field {
    /// The field as the ledger names it: "title", "emails".
    pub field: String,
    pub value: String,
    pub private: bool,
    /// When the value was last set, and on which device, when the history says.
    pub set_at: Option<String>,
    pub device: Option<String>,
    /// The import that set it, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A fact or a note.
#[derive(Debug, Serialize)]
pub struct Item {
    pub id: Id,
    pub text: String,
    pub date: String,
    pub private: bool,
    pub recorded_at: Option<String>,
    pub device: Option<String>,
    /// Copied with `kith adopt`: "from johnny's ledger, 2026-11-28".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopted_from: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Relationship {
    pub id: Id,
    pub relation: String,
    pub person: String,
    pub person_id: Id,
    pub private: bool,
    pub recorded_at: Option<String>,
    pub device: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Interaction {
    pub id: Id,
    pub at: String,
    pub channel: String,
    pub with: Vec<String>,
    pub summary: Option<String>,
    /// True when the summary is kept in the private part.
    pub private: bool,
    /// Copied with `kith adopt`: "from johnny's ledger, 2026-11-28".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopted_from: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FollowUp {
    pub id: Id,
    pub text: String,
    pub due: String,
    pub done: Option<String>,
    pub private: bool,
    pub recorded_at: Option<String>,
    pub device: Option<String>,
}

impl Account {
    pub fn new(generated_at: String, sections: Vec<Section>) -> Account {
        Account {
            person: sections.first().map(|s| s.name.clone()).unwrap_or_default(),
            generated_at,
            sections,
        }
    }

    pub fn markdown(&self) -> String {
        render::markdown(&layout(self))
    }

    /// A complete HTML5 document with nothing to fetch from elsewhere.
    pub fn html(&self) -> String {
        render::html(&self.title(), &layout(self))
    }

    fn title(&self) -> String {
        format!("What we hold about {}", self.person)
    }
}

/// When an account is made, as it says it: local time with its offset.
pub fn generated_at(now: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    now.to_zoned(tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// What the own ledger alone holds about `person`: `kith about WHO`
/// without `--team`.
pub fn own_account(ledger: &mut Ledger, person: &Entity) -> Result<Account> {
    let at = generated_at(ledger.now(), ledger.time_zone());
    let section = section(ledger, person, Owner::me(), Part::All)?;
    Ok(Account::new(at, vec![section]))
}

/// Every interaction: an account leaves nothing out.
const ALL: usize = i64::MAX as usize;

/// What `ledger` holds about `person`, limited to `part`.
pub fn section(ledger: &mut Ledger, person: &Entity, owner: Owner, part: Part) -> Result<Section> {
    let events = ledger.history(person, None)?;
    let changes: Vec<&Event> = events.iter().filter(|e| e.kind == "change").collect();
    let index = ledger.index();
    let v = view::person(index, person, Detail::Full { interactions: ALL })?;
    let keep = |private: bool| part == Part::All || !private;
    let item = |i: view::ItemView, kind: &str| {
        let made = created(&changes, kind, &i.id);
        Item {
            recorded_at: made.map(|e| e.at.clone()),
            device: made.and_then(|e| e.device.clone()),
            adopted_from: i.adopted_from.as_ref().map(crate::adopt::describe),
            id: i.id,
            text: i.text,
            date: i.date,
            private: i.private,
        }
    };
    Ok(Section {
        owner: owner.label(),
        owner_id: owner.id,
        mine: owner.mine,
        left_on: owner.left_on,
        part,
        person_id: person.id.clone(),
        name: v.name.clone(),
        source: source(&changes, &person.id),
        fields: fields(index, person, part, &changes),
        facts: v
            .facts
            .into_iter()
            .filter(|i| keep(i.private))
            .map(|i| item(i, "fact"))
            .collect(),
        notes: v
            .notes
            .unwrap_or_default()
            .into_iter()
            .filter(|i| keep(i.private))
            .map(|i| item(i, "note"))
            .collect(),
        relationships: v
            .relationships
            .unwrap_or_default()
            .into_iter()
            .filter(|r| keep(r.private))
            .map(|r| relationship(r, &changes))
            .collect(),
        interactions: v
            .interactions
            .unwrap_or_default()
            .into_iter()
            .map(|i| interaction(i, part))
            .collect(),
        follow_ups: v
            .follow_ups
            .unwrap_or_default()
            .into_iter()
            .filter(|f| keep(f.private))
            .map(|f| follow_up(f, &changes))
            .collect(),
    })
}

fn relationship(r: view::RelationshipView, changes: &[&Event]) -> Relationship {
    let made = created(changes, "link", &r.id);
    Relationship {
        recorded_at: made.map(|e| e.at.clone()),
        device: made.and_then(|e| e.device.clone()),
        id: r.id,
        relation: r.relation,
        person: r.person,
        person_id: r.person_id,
        private: r.private,
    }
}

/// That an interaction happened is shared; its summary may not be, and a
/// shared-only section must not show it.
fn interaction(i: view::InteractionView, part: Part) -> Interaction {
    let hide = part == Part::Shared && i.private;
    Interaction {
        id: i.id,
        at: i.at,
        channel: i.channel,
        with: i.with,
        summary: if hide { None } else { i.summary },
        private: i.private && !hide,
        adopted_from: i.adopted_from.as_ref().map(crate::adopt::describe),
    }
}

fn follow_up(f: view::FollowUpView, changes: &[&Event]) -> FollowUp {
    let made = created(changes, "follow-up", &f.id);
    FollowUp {
        recorded_at: made.map(|e| e.at.clone()),
        device: made.and_then(|e| e.device.clone()),
        id: f.id,
        text: f.text,
        due: f.due,
        done: f.done,
        private: f.private,
    }
}

/// The oldest change that wrote an item: the history describes it as
/// "fact 3k9m2x1a: text: …".
fn created<'a>(changes: &[&'a Event], kind: &str, id: &Id) -> Option<&'a Event> {
    let prefix = format!("{kind} {}:", id.short());
    changes
        .iter()
        .rev()
        .find(|e| e.details.iter().any(|d| d.starts_with(&prefix)))
        .copied()
}

/// The change that created the person, or failing that the oldest one.
fn source(changes: &[&Event], id: &Id) -> Option<Source> {
    let made = format!("person {} created", id.short());
    let e = changes
        .iter()
        .rev()
        .find(|e| e.details.contains(&made))
        .or_else(|| changes.last())?;
    Some(Source {
        imported: is_import(&e.summary),
        what: e.summary.clone(),
        at: e.at.clone(),
        device: e.device.clone(),
    })
}

fn is_import(what: &str) -> bool {
    what.starts_with("import ")
}

/// Kept for bookkeeping, or shown otherwise ("deleted" people are not
/// resolved; a merge's record is for `unmerge`).
const SKIPPED_FIELDS: [&str; 5] = ["created", "sort_name", "deleted", "merge", "merged_into"];

/// The person's fields, one row per value (each email its own), in the
/// order `show` uses, each with the part it is kept in.
fn fields(index: &Index, person: &Entity, part: Part, changes: &[&Event]) -> Vec<Field> {
    let mut rows: Vec<(usize, i64, Field)> = Vec::new();
    let parts = [(&person.shared, false), (&person.private, true)];
    for (map, private) in parts {
        if part == Part::Shared && private {
            continue;
        }
        for (key, value) in map {
            if SKIPPED_FIELDS.contains(&key.as_str()) || value.is_null() {
                continue;
            }
            let rank = PERSON_FIELDS
                .iter()
                .position(|(f, _)| f == key)
                .unwrap_or(PERSON_FIELDS.len());
            for (pos, shown, matcher) in values(index, key, value) {
                let last = changes
                    .iter()
                    .find(|e| e.details.iter().any(|d| matcher.matches(d)));
                rows.push((
                    rank,
                    pos,
                    Field {
                        field: key.clone(),
                        value: shown,
                        private,
                        set_at: last.map(|e| e.at.clone()),
                        device: last.and_then(|e| e.device.clone()),
                        source: last
                            .filter(|e| is_import(&e.summary))
                            .map(|e| e.summary.clone()),
                    },
                ));
            }
        }
    }
    rows.sort_by(|a, b| {
        (a.0, &a.2.field, a.2.private, a.1).cmp(&(b.0, &b.2.field, b.2.private, b.1))
    });
    rows.into_iter().map(|(_, _, f)| f).collect()
}

/// How the history words the change that set a value.
enum Matcher {
    /// "title: Buyer"
    Scalar(String),
    /// "email edna@miggins.co.uk (shop) added"
    Member(String),
}

impl Matcher {
    fn matches(&self, detail: &str) -> bool {
        match self {
            Matcher::Scalar(prefix) => detail.starts_with(prefix.as_str()),
            Matcher::Member(prefix) => {
                detail.starts_with(prefix.as_str()) && detail.contains(" added")
            }
        }
    }
}

/// One field's values as people read them: (position, text, matcher).
fn values(index: &Index, key: &str, value: &Json) -> Vec<(i64, String, Matcher)> {
    if let (true, Json::Object(members)) = (SET_FIELDS.contains(&key), value) {
        // The history names a member by the field in the singular.
        let singular = key.trim_end_matches('s').replace("addresse", "address");
        return members
            .iter()
            .map(|(member, meta)| {
                let label = meta.get("label").and_then(Json::as_str).unwrap_or("");
                let pos = meta.get("pos").and_then(Json::as_i64).unwrap_or(0);
                let shown = if label.is_empty() || key == "tags" {
                    member.clone()
                } else {
                    format!("{member} ({label})")
                };
                let matcher = Matcher::Member(format!("{singular} {member} "));
                (pos, shown, matcher)
            })
            .collect();
    }
    let matcher = Matcher::Scalar(format!("{key}: "));
    vec![(0, scalar(index, key, value), matcher)]
}

fn scalar(index: &Index, key: &str, value: &Json) -> String {
    match (key, value) {
        ("company", Json::String(id)) => Id::parse(id)
            .ok()
            .and_then(|id| index.entity(&id).ok().flatten())
            .filter(|c| c.kind == Kind::Company)
            .and_then(|c| c.str("name").map(str::to_string))
            .unwrap_or_else(|| id.clone()),
        ("cadence_days", v) => v
            .as_u64()
            .and_then(|d| u32::try_from(d).ok())
            .map(|d| format!("every {}", format_cadence(d)))
            .unwrap_or_else(|| v.to_string()),
        // A data: URI is no use to a reader; that there is a photo is.
        ("photo", _) => "a photo".into(),
        (_, Json::String(s)) => s.clone(),
        // Copied from a teammate with `kith adopt`: {"member", "on", …}.
        (_, Json::Object(o)) if o.get("member").is_some_and(Json::is_string) => {
            let member = o.get("member").and_then(Json::as_str).unwrap_or_default();
            match o.get("on").and_then(Json::as_str) {
                Some(on) => format!("{member}'s ledger, {on}"),
                None => format!("{member}'s ledger"),
            }
        }
        (_, Json::Bool(b)) => if *b { "yes" } else { "no" }.into(),
        (_, Json::Array(list)) => list
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
        (_, other) => other.to_string(),
    }
}

/// The same person in another ledger: by one of their emails, then by
/// exactly the same name; never by a merely similar name, so an account
/// never shows someone else's record. Several people with one name is
/// [`Error::Ambiguous`].
pub fn same_person(index: &Index, known: &Entity) -> Result<Option<Entity>> {
    let name = known.str("name").unwrap_or_default();
    let key = name_key(name);
    for email in known.set_values("emails") {
        let ids = index.ids(
            "SELECT id FROM emails WHERE email = ?1",
            [email.value.to_lowercase()],
        )?;
        let found = live_people(index, &ids)?;
        let same_name: Vec<&Entity> = found
            .iter()
            .filter(|e| name_key(e.str("name").unwrap_or_default()) == key)
            .collect();
        match (found.as_slice(), same_name.as_slice()) {
            ([one], _) => return Ok(Some(one.clone())),
            (_, [one]) => return Ok(Some((*one).clone())),
            _ => {}
        }
    }
    if key.is_empty() {
        return Ok(None);
    }
    let ids = index.ids("SELECT id FROM people WHERE name_key = ?1", [&key])?;
    let mut found = live_people(index, &ids)?;
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(Error::Ambiguous {
            query: name.to_string(),
            candidates: found
                .iter()
                .map(|e| format!("{} {}", e.str("name").unwrap_or_default(), e.id.short()))
                .collect(),
        }),
    }
}

fn live_people(index: &Index, ids: &[Id]) -> Result<Vec<Entity>> {
    Ok(index
        .entities(ids)?
        .into_iter()
        .filter(|e| e.kind == Kind::Person && !e.is_deleted())
        .collect())
}

/// "2026-11-28T10:00:00" as "2026-11-28 10:00".
fn minute(at: &str) -> String {
    at.replacen('T', " ", 1).chars().take(16).collect()
}

/// "2026-11-28 10:00 on laptop", as much of it as is known.
fn when_where(at: Option<&str>, device: Option<&str>) -> String {
    let at = at.map(minute).unwrap_or_default();
    match device {
        Some(d) if at.is_empty() => format!("on {d}"),
        Some(d) => format!("{at} on {d}"),
        None => at,
    }
}

/// Field names in words.
fn field_label(key: &str) -> &str {
    match key {
        "emails" => "email",
        "phones" => "phone",
        "addresses" => "address",
        "tags" => "tag",
        "urls" => "web",
        "impps" => "chat",
        "cadence_days" => "keep in touch",
        "lang" => "language",
        "name_parts" => "name parts",
        "name_only" => "known only by name",
        "uid" => "address book id",
        "vcard" => "other address book data",
        "adopted_from" => "copied from",
        other => other,
    }
}

/// The account as headings, paragraphs, tables and lists, so Markdown and
/// HTML say exactly the same thing.
fn layout(account: &Account) -> Vec<Block> {
    let mut out = vec![
        Block::H1(account.title()),
        Block::Para(vec![Inline::Text(format!(
            "Prepared on {}. Each entry is marked shared (in the part of a ledger that teammates can read) or private (kept only on its owner's own devices).",
            minute(&account.generated_at)
        ))]),
    ];
    for s in &account.sections {
        section_blocks(s, &mut out);
    }
    out
}

fn section_blocks(s: &Section, out: &mut Vec<Block>) {
    out.push(Block::H2(if s.mine {
        "From my ledger (shared and private)".to_string()
    } else {
        format!("From {}'s ledger (shared with the team)", heading_name(s))
    }));
    if s.left_on.is_some() {
        out.push(Block::Para(vec![Inline::Em(format!(
            "{}: what they had shared before leaving the team.",
            s.owner
        ))]));
    }
    if let Some(src) = &s.source {
        out.push(Block::Para(vec![Inline::Text(source_line(src))]));
    }
    out.push(Block::H3("Details".into()));
    out.push(Block::Table {
        head: vec!["Field", "Value", "Kept", "Last set"],
        rows: s.fields.iter().map(field_row).collect(),
    });
    list(out, "Facts", &s.facts, |f| {
        item_line(format!("{} (learned {})", f.text, f.date), f.private, f)
    });
    list(out, "Notes", &s.notes, |n| {
        item_line(format!("{} ({})", n.text, n.date), n.private, n)
    });
    list(out, "Relationships", &s.relationships, relationship_line);
    list(out, "Interactions", &s.interactions, |i| {
        interaction_line(i, &s.name)
    });
    list(out, "Follow-ups", &s.follow_ups, follow_up_line);
}

/// The owner's name without the "(left on …)" the label carries.
fn heading_name(s: &Section) -> &str {
    match &s.left_on {
        Some(day) => s
            .owner
            .strip_suffix(&format!(" (left on {day})"))
            .unwrap_or(&s.owner),
        None => &s.owner,
    }
}

fn source_line(src: &Source) -> String {
    let when = when_where(Some(&src.at), src.device.as_deref());
    if src.imported {
        format!("Source: {} ({when}).", src.what)
    } else {
        format!("First recorded {when} ({}).", src.what)
    }
}

fn field_row(f: &Field) -> Vec<Vec<Inline>> {
    let mut last = when_where(f.set_at.as_deref(), f.device.as_deref());
    if let Some(src) = &f.source {
        last = format!("{last} ({src})");
    }
    vec![
        vec![Inline::Text(field_label(&f.field).to_string())],
        vec![Inline::Text(f.value.clone())],
        vec![Inline::Mark(f.private)],
        vec![Inline::Text(last)],
    ]
}

fn list<T>(out: &mut Vec<Block>, heading: &str, items: &[T], line: impl Fn(&T) -> Vec<Inline>) {
    if items.is_empty() {
        return;
    }
    out.push(Block::H3(heading.into()));
    out.push(Block::List(items.iter().map(line).collect()));
}

fn item_line(text: String, private: bool, i: &Item) -> Vec<Inline> {
    let mut line = recorded(
        vec![Inline::Text(text), Inline::Mark(private)],
        i.recorded_at.as_deref(),
        i.device.as_deref(),
    );
    if let Some(from) = &i.adopted_from {
        line.push(Inline::Em(from.clone()));
    }
    line
}

fn recorded(mut line: Vec<Inline>, at: Option<&str>, device: Option<&str>) -> Vec<Inline> {
    let when = when_where(at, device);
    if !when.is_empty() {
        line.push(Inline::Em(format!("recorded {when}")));
    }
    line
}

fn relationship_line(r: &Relationship) -> Vec<Inline> {
    recorded(
        vec![
            Inline::Text(format!("{}: {}", r.relation, r.person)),
            Inline::Mark(r.private),
        ],
        r.recorded_at.as_deref(),
        r.device.as_deref(),
    )
}

/// The person the account is about is in every interaction; the line
/// names the others.
fn interaction_line(i: &Interaction, subject: &str) -> Vec<Inline> {
    let mut text = format!("{} {}", minute(&i.at), i.channel);
    let others: Vec<&str> = i
        .with
        .iter()
        .map(String::as_str)
        .filter(|n| *n != subject)
        .collect();
    if !others.is_empty() {
        text.push_str(&format!(" with {}", others.join(", ")));
    }
    if let Some(summary) = &i.summary {
        text.push_str(&format!(": {summary}"));
    }
    let mut line = if i.private {
        vec![
            Inline::Text(text),
            Inline::Mark(true),
            Inline::Em("(the summary; that it happened, when and with whom are shared)".into()),
        ]
    } else {
        vec![Inline::Text(text), Inline::Mark(false)]
    };
    if let Some(from) = &i.adopted_from {
        line.push(Inline::Em(from.clone()));
    }
    line
}

fn follow_up_line(f: &FollowUp) -> Vec<Inline> {
    let state = match &f.done {
        Some(d) => format!("done {}", minute(d)),
        None => "open".into(),
    };
    recorded(
        vec![
            Inline::Text(format!("{} (due {}, {state})", f.text, f.due)),
            Inline::Mark(f.private),
        ],
        f.recorded_at.as_deref(),
        f.device.as_deref(),
    )
}

mod render {
    //! Markdown and HTML from one layout. Every piece of text from the
    //! ledger is escaped here, and only here.

    pub enum Block {
        H1(String),
        H2(String),
        H3(String),
        Para(Vec<Inline>),
        Table {
            head: Vec<&'static str>,
            rows: Vec<Vec<Vec<Inline>>>,
        },
        List(Vec<Vec<Inline>>),
    }

    pub enum Inline {
        Text(String),
        Em(String),
        /// Shared (false) or private (true).
        Mark(bool),
    }

    pub fn markdown(blocks: &[Block]) -> String {
        let mut out = String::new();
        for b in blocks {
            match b {
                Block::H1(t) => out.push_str(&format!("# {}\n\n", md_escape(t))),
                Block::H2(t) => out.push_str(&format!("## {}\n\n", md_escape(t))),
                Block::H3(t) => out.push_str(&format!("### {}\n\n", md_escape(t))),
                Block::Para(line) => out.push_str(&format!("{}\n\n", md_line(line))),
                Block::Table { head, rows } => {
                    out.push_str(&format!("| {} |\n", head.join(" | ")));
                    out.push_str(&format!("|{}\n", "---|".repeat(head.len())));
                    for row in rows {
                        let cells: Vec<String> = row.iter().map(|c| md_line(c)).collect();
                        out.push_str(&format!("| {} |\n", cells.join(" | ")));
                    }
                    out.push('\n');
                }
                Block::List(items) => {
                    for item in items {
                        out.push_str(&format!("- {}\n", md_line(item)));
                    }
                    out.push('\n');
                }
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    }

    fn md_line(line: &[Inline]) -> String {
        line.iter()
            .map(|i| match i {
                Inline::Text(t) => md_escape(t),
                Inline::Em(t) => format!("*{}*", md_escape(t)),
                Inline::Mark(true) => "**[private]**".into(),
                Inline::Mark(false) => "[shared]".into(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Text read literally, whatever it holds: Markdown's punctuation is
    /// backslash-escaped (so `<script>` stays text and `|` stays in its
    /// cell) and line breaks become spaces.
    pub fn md_escape(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                    out.push('\\');
                    out.push(c);
                }
                '\r' | '\n' => out.push(' '),
                _ => out.push(c),
            }
        }
        out
    }

    const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}\
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}h3{font-size:1.05rem}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.25rem .5rem;border-bottom:1px solid #eee}\
.mark{font-size:.8em;padding:0 .35em;border-radius:.25em;margin-left:.3em}.private{background:#fde2e1;color:#8a1c14}.shared{background:#e3f1e3;color:#1d5e20}\
em{color:#666}";

    pub fn html(title: &str, blocks: &[Block]) -> String {
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
            html_escape(title)
        );
        for b in blocks {
            match b {
                Block::H1(t) => out.push_str(&format!("<h1>{}</h1>\n", html_escape(t))),
                Block::H2(t) => out.push_str(&format!("<h2>{}</h2>\n", html_escape(t))),
                Block::H3(t) => out.push_str(&format!("<h3>{}</h3>\n", html_escape(t))),
                Block::Para(line) => out.push_str(&format!("<p>{}</p>\n", html_line(line))),
                Block::Table { head, rows } => html_table(&mut out, head, rows),
                Block::List(items) => {
                    out.push_str("<ul>\n");
                    for item in items {
                        out.push_str(&format!("<li>{}</li>\n", html_line(item)));
                    }
                    out.push_str("</ul>\n");
                }
            }
        }
        out.push_str("</body>\n</html>\n");
        out
    }

    fn html_table(out: &mut String, head: &[&str], rows: &[Vec<Vec<Inline>>]) {
        out.push_str("<table>\n<thead><tr>");
        for h in head {
            out.push_str(&format!("<th>{}</th>", html_escape(h)));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in rows {
            out.push_str("<tr>");
            for cell in row {
                out.push_str(&format!("<td>{}</td>", html_line(cell)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
    }

    fn html_line(line: &[Inline]) -> String {
        line.iter()
            .map(|i| match i {
                Inline::Text(t) => html_escape(t),
                Inline::Em(t) => format!("<em>{}</em>", html_escape(t)),
                Inline::Mark(true) => "<span class=\"mark private\">private</span>".into(),
                Inline::Mark(false) => "<span class=\"mark shared\">shared</span>".into(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn html_escape(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                _ => out.push(c),
            }
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn escapes_leave_no_markup() {
            assert_eq!(
                html_escape("<script>alert('x')</script> & \"y\""),
                "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
            );
            assert_eq!(
                md_escape("a|b <i>*c*</i>\nd"),
                "a\\|b \\<i\\>\\*c\\*\\</i\\> d"
            );
        }
    }
}
