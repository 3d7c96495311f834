//! The everyday edits and lookups, in the words users use: add a person,
//! record a fact, log a call, resolve "edna" to the one Edna Miggins.
//! Each edit becomes store [`Change`]s written through [`Ledger::write`].

use serde_json::{Value as Json, json};

use crate::error::{Error, Result};
use crate::index::name_key;
use crate::ledger::{Ledger, text};
use crate::model::{
    Entity, Fields, Id, Kind, PartialDate, Privacy, default_sort_name, parse_cadence,
};
use crate::store::Change;
use crate::view::{self, PersonView};
use crate::when::{Lean, parse_day, parse_moment};

/// People completed into list views at once by [`Ledger::list_summaries`].
const SUMMARY_BATCH: usize = 500;

/// Fuzzy candidates scoring below this are not offered as a match for WHO.
const RESOLVE_THRESHOLD: f64 = 0.8;

/// A person as `kith add` takes them.
#[derive(Clone, Debug, Default)]
pub struct NewPerson {
    pub name: String,
    pub nickname: Option<String>,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub addresses: Vec<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub birthday: Option<String>,
    pub anniversary: Option<String>,
    pub tags: Vec<String>,
    /// Overrides the default part for every field given.
    pub privacy: Option<Privacy>,
}

/// `shop:edna@miggins.co.uk` is the value with the label "shop".
pub fn split_label(input: &str) -> (String, String) {
    if let Some((label, value)) = input.split_once(':') {
        let label = label.trim();
        if !label.is_empty()
            && label.len() <= 16
            && label
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
            && !value.trim().is_empty()
            && !value.starts_with("//")
        {
            return (label.to_lowercase(), value.trim().to_string());
        }
    }
    (String::new(), input.trim().to_string())
}

/// How a set member is stored: its key (the normalised value) and meta.
pub fn member(field: &str, input: &str, pos: i64) -> Result<(String, Json)> {
    let (label, value) = split_label(input);
    let value = match field {
        "emails" => {
            let v = value.to_lowercase();
            if !v.contains('@') || v.contains(char::is_whitespace) {
                return Err(Error::invalid(format!("'{value}' is not an email address")));
            }
            v
        }
        "phones" => {
            if value.chars().filter(char::is_ascii_digit).count() < 3 {
                return Err(Error::invalid(format!("'{value}' is not a phone number")));
            }
            value
        }
        "tags" => value.to_lowercase(),
        _ => value,
    };
    if value.is_empty() {
        return Err(Error::invalid(format!("an empty value for {field}")));
    }
    let mut meta = json!({ "pos": pos });
    if !label.is_empty() {
        meta["label"] = text(label);
    }
    Ok((value, meta))
}

fn check_date(field: &str, value: &str) -> Result<String> {
    PartialDate::parse(value)
        .map(|d| d.to_string())
        .map_err(|e| Error::invalid(format!("{field}: {e}")))
}

impl Ledger {
    fn person_privacy(&self, field: &str, forced: Option<Privacy>) -> Privacy {
        forced.unwrap_or_else(|| self.settings.person_field(field))
    }

    fn sequence(&self) -> i64 {
        self.now().as_millisecond()
    }

    /// Adds a person and returns their id.
    pub fn add_person(&mut self, p: &NewPerson) -> Result<Id> {
        let name = p.name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err(Error::invalid("a person needs a name"));
        }
        let id = Id::random();
        let mut shared = Fields::new();
        let mut private = Fields::new();
        let mut put = |ledger: &Ledger, field: &str, value: Json| match ledger
            .person_privacy(field, p.privacy)
        {
            Privacy::Shared => shared.insert(field.to_string(), value),
            Privacy::Private => private.insert(field.to_string(), value),
        };
        put(self, "name", text(&name));
        put(self, "sort_name", text(default_sort_name(&name)));
        put(self, "created", text(self.now_string()));
        if let Some(n) = &p.nickname {
            put(self, "nickname", text(n));
        }
        if let Some(t) = &p.title {
            put(self, "title", text(t));
        }
        if let Some(b) = &p.birthday {
            put(self, "birthday", text(check_date("birthday", b)?));
        }
        if let Some(a) = &p.anniversary {
            put(self, "anniversary", text(check_date("anniversary", a)?));
        }
        let mut changes = Vec::new();
        if let Some(c) = &p.company {
            let company = self.company_for(c, &mut changes)?;
            put(self, "company", text(company.as_str()));
        }
        for (field, values) in [
            ("emails", &p.emails),
            ("phones", &p.phones),
            ("addresses", &p.addresses),
            ("tags", &p.tags),
        ] {
            let mut set = serde_json::Map::new();
            for (i, v) in values.iter().enumerate() {
                let (key, meta) = member(field, v, i as i64)?;
                set.insert(key, meta);
            }
            if !set.is_empty() {
                put(self, field, Json::Object(set));
            }
        }
        changes.push(Change::Create {
            kind: Kind::Person,
            id: id.clone(),
            shared,
            private,
        });
        self.write(&format!("add {name}"), changes)?;
        Ok(id)
    }

    /// The id of the company called `name`, creating it (as a change in
    /// `changes`) if there is none.
    pub(crate) fn company_for(&self, name: &str, changes: &mut Vec<Change>) -> Result<Id> {
        if let Some(id) = self.company_named(name)? {
            return Ok(id);
        }
        let id = Id::random();
        changes.push(Change::Create {
            kind: Kind::Company,
            id: id.clone(),
            shared: Fields::from([
                ("name".to_string(), text(name.trim())),
                ("created".to_string(), text(self.now_string())),
            ]),
            private: Fields::new(),
        });
        Ok(id)
    }

    /// The live company with exactly this name (ignoring case and spacing).
    fn company_named(&self, name: &str) -> Result<Option<Id>> {
        let key = name_key(name);
        if key.is_empty() {
            return Err(Error::invalid("a company needs a name"));
        }
        let found = self.index().ids(
            "SELECT id FROM companies WHERE name_key=?1 AND deleted=0 ORDER BY id LIMIT 1",
            [&key],
        )?;
        Ok(found.into_iter().next())
    }

    pub fn add_company(&mut self, name: &str, domain: Option<&str>, tags: &[String]) -> Result<Id> {
        if let Some(id) = self.company_named(name)? {
            return Err(Error::invalid(format!(
                "a company called '{}' exists already ({})",
                name.trim(),
                id.short()
            )));
        }
        let id = Id::random();
        let mut shared = Fields::from([
            ("name".to_string(), text(name.trim())),
            ("created".to_string(), text(self.now_string())),
        ]);
        if let Some(d) = domain {
            shared.insert("domain".into(), text(d.trim().to_lowercase()));
        }
        let mut set = serde_json::Map::new();
        for (i, t) in tags.iter().enumerate() {
            let (k, m) = member("tags", t, i as i64)?;
            set.insert(k, m);
        }
        if !set.is_empty() {
            shared.insert("tags".into(), Json::Object(set));
        }
        self.write(
            &format!("add company {}", name.trim()),
            vec![Change::Create {
                kind: Kind::Company,
                id: id.clone(),
                shared,
                private: Fields::new(),
            }],
        )?;
        Ok(id)
    }

    /// Finds the one person (or company, if `kinds` allows) meant by WHO: an
    /// id or id prefix, an email, a name or nickname, or something close to one.
    pub fn resolve(&self, who: &str, kinds: &[Kind], deleted: bool) -> Result<Entity> {
        match self.resolve_among(who, kinds, deleted) {
            Err(Error::NotFound(q)) if !deleted => {
                // Say so when the one meant was removed.
                match self.resolve_among(who, kinds, true) {
                    Ok(e) => Err(Error::invalid(format!(
                        "{} was removed; `kith restore {}` brings them back",
                        e.str("name").unwrap_or(who),
                        e.id.short()
                    ))),
                    Err(_) => Err(Error::NotFound(q)),
                }
            }
            other => other,
        }
    }

    fn resolve_among(&self, who: &str, kinds: &[Kind], deleted: bool) -> Result<Entity> {
        let who = who.trim();
        if who.is_empty() {
            return Err(Error::invalid("an empty name"));
        }
        let keep = |e: &Entity| kinds.contains(&e.kind) && e.is_deleted() == deleted;
        let lower = who.to_lowercase();
        if lower.len() >= 4 && lower.chars().all(|c| c.is_ascii_alphanumeric()) {
            let ids: Vec<Id> = self
                .index()
                .ids_with_prefix(&lower, kinds)?
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            let found: Vec<Entity> = self
                .index()
                .entities(&ids)?
                .into_iter()
                .filter(keep)
                .collect();
            if !found.is_empty() {
                return self.one_of(who, found);
            }
        }
        if who.contains('@') {
            let ids = self
                .index()
                .ids("SELECT id FROM emails WHERE email=?1", [&lower])?;
            let found: Vec<Entity> = self
                .index()
                .entities(&ids)?
                .into_iter()
                .filter(keep)
                .collect();
            if !found.is_empty() {
                return self.one_of(who, found);
            }
        }
        let key = name_key(who);
        let ids = self.index().ids(
            "SELECT id FROM people WHERE name_key=?1 UNION SELECT id FROM companies WHERE name_key=?1",
            [&key],
        )?;
        let exact: Vec<Entity> = self
            .index()
            .entities(&ids)?
            .into_iter()
            .filter(keep)
            .collect();
        if !exact.is_empty() {
            return self.one_of(who, exact);
        }
        let close: Vec<Entity> = self
            .index()
            .match_names(who, kinds)?
            .into_iter()
            .filter(|(e, score)| *score >= RESOLVE_THRESHOLD && keep(e))
            .map(|(e, _)| e)
            .collect();
        if close.is_empty() {
            return Err(Error::NotFound(who.to_string()));
        }
        self.one_of(who, close)
    }

    fn one_of(&self, who: &str, mut found: Vec<Entity>) -> Result<Entity> {
        if found.len() == 1 {
            return Ok(found.remove(0));
        }
        Err(Error::Ambiguous {
            query: who.to_string(),
            candidates: found.iter().take(10).map(|e| self.describe(e)).collect(),
        })
    }

    /// "Edna Miggins (Miggins & Daughters) 3k9m2x1a": how a candidate is listed.
    pub fn describe(&self, e: &Entity) -> String {
        let name = e.str("name").unwrap_or("(no name)");
        let company = e
            .str("company")
            .and_then(|c| Id::parse(c).ok())
            .and_then(|c| self.index().entity(&c).ok().flatten())
            .and_then(|c| c.str("name").map(str::to_string));
        match company {
            Some(c) => format!("{name} ({c}) {}", e.id.short()),
            None => format!("{name} {}", e.id.short()),
        }
    }

    pub fn resolve_person(&self, who: &str) -> Result<Entity> {
        self.resolve(who, &[Kind::Person], false)
    }

    /// Sets one field of a person or company. Set-like fields (email, phone,
    /// address, tag) gain the value; other fields are replaced.
    pub fn set_field(
        &mut self,
        who: &Entity,
        field: &str,
        value: &str,
        forced: Option<Privacy>,
    ) -> Result<()> {
        let field = canonical_field(who.kind, field)?;
        let privacy = match who.kind {
            Kind::Person => forced
                .or_else(|| who.privacy_of(&field))
                .unwrap_or_else(|| self.settings.person_field(&field)),
            _ => forced.unwrap_or(Privacy::Shared),
        };
        let mut changes = Vec::new();
        let value = value.trim();
        let stored = match field.as_str() {
            "emails" | "phones" | "addresses" | "tags" | "urls" | "impps" => {
                let pos = self.sequence();
                let (key, meta) = member(&field, value, pos)?;
                // Each member has its own place; a new one goes where the
                // settings say unless the command says otherwise.
                let privacy = forced.unwrap_or_else(|| self.settings.person_field(&field));
                changes.push(Change::PutMember {
                    kind: who.kind,
                    id: who.id.clone(),
                    field: field.clone(),
                    member: key,
                    meta,
                    privacy,
                });
                None
            }
            "birthday" | "anniversary" => Some(text(check_date(&field, value)?)),
            "cadence_days" => Some(Json::from(parse_cadence(value)?)),
            "company" => Some(text(self.company_for(value, &mut changes)?.as_str())),
            "name" => {
                if value.is_empty() {
                    return Err(Error::invalid("a name cannot be empty"));
                }
                // A sort name kith derived from the old name follows the new
                // one; one the user set stays.
                let old = who.str("name").unwrap_or("");
                let derived = who
                    .str("sort_name")
                    .is_none_or(|s| s == default_sort_name(old));
                if who.kind == Kind::Person && derived {
                    changes.push(Change::Put {
                        kind: who.kind,
                        id: who.id.clone(),
                        field: "sort_name".into(),
                        value: text(default_sort_name(value)),
                        privacy: who.privacy_of("sort_name").unwrap_or(Privacy::Shared),
                    });
                }
                Some(text(value))
            }
            "domain" => Some(text(value.to_lowercase())),
            _ => Some(text(value)),
        };
        if let Some(v) = stored {
            changes.push(Change::Put {
                kind: who.kind,
                id: who.id.clone(),
                field: field.clone(),
                value: v,
                privacy,
            });
        }
        let name = who.str("name").unwrap_or("").to_string();
        self.write(&format!("set {field} of {name}"), changes)
    }

    /// Removes a field, or one value of a set-like field.
    pub fn unset_field(&mut self, who: &Entity, field: &str, value: Option<&str>) -> Result<()> {
        let field = canonical_field(who.kind, field)?;
        if field == "name" {
            return Err(Error::invalid("a name cannot be removed; use `kith rm`"));
        }
        let change = match value {
            Some(v) => {
                let (key, _) = member(&field, v, 0)?;
                let present = who.set_values(&field).iter().any(|m| m.value == key);
                if !present {
                    return Err(Error::invalid(format!(
                        "{} has no {field} '{v}'",
                        who.str("name").unwrap_or("")
                    )));
                }
                Change::RemoveMember {
                    kind: who.kind,
                    id: who.id.clone(),
                    field: field.clone(),
                    member: key,
                }
            }
            None => Change::Remove {
                kind: who.kind,
                id: who.id.clone(),
                field: field.clone(),
            },
        };
        let name = who.str("name").unwrap_or("").to_string();
        self.write(&format!("unset {field} of {name}"), vec![change])
    }

    /// Marks a person or company removed; `restore` brings them back.
    pub fn remove(&mut self, who: &Entity) -> Result<()> {
        let name = who.str("name").unwrap_or("").to_string();
        self.write(
            &format!("remove {name}"),
            vec![Change::Put {
                kind: who.kind,
                id: who.id.clone(),
                field: "deleted".into(),
                value: text(self.now_string()),
                privacy: Privacy::Shared,
            }],
        )
    }

    pub fn restore(&mut self, who: &Entity) -> Result<()> {
        let name = who.str("name").unwrap_or("").to_string();
        self.write(
            &format!("restore {name}"),
            vec![Change::Remove {
                kind: who.kind,
                id: who.id.clone(),
                field: "deleted".into(),
            }],
        )
    }

    /// Adds an item that lives wholly in one part, near its owner's shard.
    fn add_item(
        &mut self,
        kind: Kind,
        owner: &Id,
        fields: Fields,
        privacy: Privacy,
        what: String,
    ) -> Result<Id> {
        let id = Id::near(owner);
        let (shared, private) = match privacy {
            Privacy::Shared => (fields, Fields::new()),
            Privacy::Private => (Fields::new(), fields),
        };
        self.write(
            &what,
            vec![Change::Create {
                kind,
                id: id.clone(),
                shared,
                private,
            }],
        )?;
        Ok(id)
    }

    pub fn add_fact(
        &mut self,
        about: &Entity,
        fact: &str,
        learned: Option<&str>,
        privacy: Option<Privacy>,
    ) -> Result<Id> {
        let fact = non_empty("fact", fact)?;
        let learned = match learned {
            Some(d) => parse_day(d, self.today(), Lean::Past)?,
            None => self.today(),
        };
        let fields = Fields::from([
            ("subject".into(), text(about.id.as_str())),
            ("text".into(), text(fact)),
            ("learned".into(), text(learned.to_string())),
            ("created".into(), text(self.now_string())),
        ]);
        let privacy = privacy.unwrap_or(self.settings.privacy.facts);
        let name = about.str("name").unwrap_or("").to_string();
        self.add_item(
            Kind::Fact,
            &about.id,
            fields,
            privacy,
            format!("fact about {name}"),
        )
    }

    pub fn add_note(&mut self, about: &Entity, note: &str, privacy: Option<Privacy>) -> Result<Id> {
        let note = non_empty("note", note)?;
        let fields = Fields::from([
            ("subject".into(), text(about.id.as_str())),
            ("text".into(), text(note)),
            ("at".into(), text(self.now_string())),
        ]);
        let privacy = privacy.unwrap_or(self.settings.privacy.notes);
        let name = about.str("name").unwrap_or("").to_string();
        self.add_item(
            Kind::Note,
            &about.id,
            fields,
            privacy,
            format!("note on {name}"),
        )
    }

    pub fn link(
        &mut self,
        from: &Entity,
        relation: &str,
        to: &Entity,
        privacy: Option<Privacy>,
    ) -> Result<Id> {
        let relation = non_empty("relationship", relation)?.to_lowercase();
        if from.id == to.id {
            return Err(Error::invalid("a person cannot be linked to themselves"));
        }
        let fields = Fields::from([
            ("from".into(), text(from.id.as_str())),
            ("relation".into(), text(&relation)),
            ("to".into(), text(to.id.as_str())),
            ("at".into(), text(self.now_string())),
        ]);
        let privacy = privacy.unwrap_or(self.settings.privacy.relationships);
        let what = format!(
            "link {} {relation} {}",
            from.str("name").unwrap_or(""),
            to.str("name").unwrap_or("")
        );
        self.add_item(Kind::Link, &from.id, fields, privacy, what)
    }

    /// Records an interaction. That it happened, when, how and with whom is
    /// shared; the summary goes where the settings (or `privacy`) say.
    pub fn log(
        &mut self,
        people: &[Entity],
        summary: &str,
        channel: &str,
        date: Option<&str>,
        privacy: Option<Privacy>,
    ) -> Result<Id> {
        self.log_directed(people, summary, channel, date, privacy, None)
    }

    /// [`Ledger::log`], saying who got in touch: "in" (they did) or "out"
    /// (we did). Relationship strength counts it as reciprocity.
    pub fn log_directed(
        &mut self,
        people: &[Entity],
        summary: &str,
        channel: &str,
        date: Option<&str>,
        privacy: Option<Privacy>,
        direction: Option<crate::strength::Direction>,
    ) -> Result<Id> {
        let summary = non_empty("summary", summary)?;
        let Some(first) = people.first() else {
            return Err(Error::invalid("an interaction needs at least one person"));
        };
        let at = match date {
            Some(d) => parse_moment(d, self.today())?,
            None => self.local_now().strftime("%Y-%m-%dT%H:%M").to_string(),
        };
        let channel = non_empty("channel", channel)?.to_lowercase();
        let ids: Vec<Json> = people.iter().map(|p| text(p.id.as_str())).collect();
        let id = Id::near(&first.id);
        let mut shared = Fields::from([
            ("at".into(), text(&at)),
            ("channel".into(), text(&channel)),
            ("people".into(), Json::Array(ids)),
        ]);
        if let Some(d) = direction {
            shared.insert("direction".into(), text(d.as_str()));
        }
        let mut private = Fields::new();
        match privacy.unwrap_or(self.settings.privacy.summaries) {
            Privacy::Shared => shared.insert("summary".into(), text(summary)),
            Privacy::Private => private.insert("summary".into(), text(summary)),
        };
        let names: Vec<&str> = people.iter().filter_map(|p| p.str("name")).collect();
        self.write(
            &format!("log {channel} with {}", names.join(", ")),
            vec![Change::Create {
                kind: Kind::Interaction,
                id: id.clone(),
                shared,
                private,
            }],
        )?;
        Ok(id)
    }

    pub fn follow_up(
        &mut self,
        person: &Entity,
        what: &str,
        due: &str,
        privacy: Option<Privacy>,
    ) -> Result<Id> {
        let what = non_empty("follow-up", what)?;
        let due = parse_day(due, self.today(), Lean::Future)?;
        let fields = Fields::from([
            ("person".into(), text(person.id.as_str())),
            ("text".into(), text(what)),
            ("due".into(), text(due.to_string())),
            ("created".into(), text(self.now_string())),
        ]);
        let name = person.str("name").unwrap_or("").to_string();
        self.add_item(
            Kind::FollowUp,
            &person.id,
            fields,
            privacy.unwrap_or(Privacy::Private),
            format!("follow-up for {name}"),
        )
    }

    /// Marks a follow-up done. `id` is its id or a prefix of it.
    pub fn done(&mut self, id: &str) -> Result<Entity> {
        let found = self
            .index()
            .ids_with_prefix(&id.trim().to_lowercase(), &[Kind::FollowUp])?;
        let item = match found.as_slice() {
            [] => {
                return Err(Error::invalid(format!(
                    "no follow-up has an id starting with '{id}'"
                )));
            }
            [(id, _)] => self.entity(id)?,
            many => {
                return Err(Error::Ambiguous {
                    query: id.to_string(),
                    candidates: many.iter().map(|(i, _)| i.to_string()).collect(),
                });
            }
        };
        if item.get("done").is_some_and(|v| !v.is_null()) {
            return Err(Error::invalid(format!(
                "follow-up {} is done already",
                item.id.short()
            )));
        }
        let privacy = item.privacy_of("text").unwrap_or(Privacy::Private);
        self.write(
            "follow-up done",
            vec![Change::Put {
                kind: Kind::FollowUp,
                id: item.id.clone(),
                field: "done".into(),
                value: text(self.now_string()),
                privacy,
            }],
        )?;
        Ok(item)
    }

    /// Sets (or with `None` stops) how often to be in touch with someone.
    pub fn keep_in_touch(&mut self, person: &Entity, every: Option<&str>) -> Result<()> {
        match every {
            Some(e) => self.set_field(person, "cadence_days", e, None),
            None => self.unset_field(person, "cadence_days", None),
        }
    }
}

fn non_empty<'a>(what: &str, s: &'a str) -> Result<&'a str> {
    let t = s.trim();
    if t.is_empty() {
        Err(Error::invalid(format!("the {what} is empty")))
    } else {
        Ok(t)
    }
}

/// Field names as users type them (`email`, `sort-name`, `keep-in-touch`)
/// mapped to how they are stored.
pub fn canonical_field(kind: Kind, field: &str) -> Result<String> {
    let f = field.trim().to_lowercase().replace('-', "_");
    let f = match f.as_str() {
        "email" => "emails",
        "phone" => "phones",
        "address" => "addresses",
        "tag" | "interest" | "interests" => "tags",
        "role" | "job" => "title",
        "nick" => "nickname",
        "cadence" | "keep_in_touch" | "every" => "cadence_days",
        "birth_day" | "bday" => "birthday",
        "url" | "website" | "web" => "urls",
        "impp" | "im" | "chat" => "impps",
        "language" => "lang",
        "dept" => "department",
        other => other,
    }
    .to_string();
    let allowed: &[&str] = match kind {
        Kind::Person => &[
            "name",
            "sort_name",
            "nickname",
            "emails",
            "phones",
            "addresses",
            "company",
            "title",
            "birthday",
            "anniversary",
            "tags",
            "cadence_days",
            "department",
            "urls",
            "impps",
            "lang",
            "gender",
        ],
        Kind::Company => &["name", "domain", "tags", "urls"],
        _ => &[],
    };
    if allowed.contains(&f.as_str()) {
        Ok(f)
    } else {
        Err(Error::invalid(format!(
            "'{field}' is not a {} field; fields are: {}",
            kind.name(),
            allowed.join(", ").replace('_', "-")
        )))
    }
}

/// Which people `kith list` shows.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub tag: Option<String>,
    pub company: Option<Id>,
    /// Removed people instead of live ones.
    pub removed: bool,
    pub limit: Option<usize>,
}

impl Ledger {
    /// People matching the filter, by sort name.
    pub fn list_people(&self, f: &ListFilter) -> Result<Vec<Entity>> {
        Ok(self
            .list_people_json(f, false)?
            .iter()
            .filter_map(|(j, _)| serde_json::from_str(j).ok())
            .collect())
    }

    /// The records of the people matching the filter, by sort name, as
    /// the index holds them, each with its last contact if `last` (one
    /// query; the record is found by the person's rowid, which is its own).
    /// People with the same sort name come in the order the index got
    /// them, as in [`Ledger::people_page`].
    fn list_people_json(
        &self,
        f: &ListFilter,
        last: bool,
    ) -> Result<Vec<(String, Option<String>)>> {
        let limit = f.limit.map(|l| l as i64).unwrap_or(-1);
        let company = f.company.as_ref().map(|c| c.to_string());
        let json =
            |r: &rusqlite::Row<'_>| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?));
        let removed = f.removed as i64;
        // One statement per filter rather than "?2 IS NULL OR company = ?2",
        // and `+p.deleted` so no index is chosen for that column: for "the
        // first person" SQLite read all 100,000 people through an index
        // holding `deleted` and sorted them (130 ms) instead of reading
        // the sort index (0.1 ms).
        match (&f.tag, company) {
            // The tag's index entries come in list order and say who is
            // removed: only the records are read, and a person's row only
            // for the last contact.
            (Some(tag), None) => self.index().rows(
                "SELECT e.json, CASE WHEN ?3 THEN (SELECT last FROM people WHERE rowid = t.row) END \
                 FROM tags t JOIN entities e ON e.rowid = t.row \
                 WHERE t.tag = ?1 AND t.deleted = ?2 AND t.sort_key IS NOT NULL \
                 ORDER BY t.sort_key, t.row LIMIT ?4",
                rusqlite::params![tag.trim().to_lowercase(), removed, last, limit],
                json,
            ),
            (Some(tag), company) => self.index().rows(
                "SELECT e.json, p.last FROM tags t JOIN people p ON p.rowid = t.row JOIN entities e ON e.rowid = t.row \
                 WHERE t.tag = ?1 AND +p.deleted = ?2 AND (?3 IS NULL OR p.company = ?3) \
                 ORDER BY p.sort_key, p.rowid LIMIT ?4",
                rusqlite::params![tag.trim().to_lowercase(), removed, company, limit],
                json,
            ),
            (None, Some(company)) => self.index().rows(
                "SELECT e.json, p.last FROM people p JOIN entities e ON e.rowid = p.rowid \
                 WHERE p.company = ?1 AND +p.deleted = ?2 ORDER BY p.sort_key, p.rowid LIMIT ?3",
                rusqlite::params![company, removed, limit],
                json,
            ),
            // The few removed people are found through their own index
            // and sorted (`+` keeps the sort index from being read whole).
            (None, None) if f.removed => self.index().rows(
                "SELECT e.json, p.last FROM people p JOIN entities e ON e.rowid = p.rowid \
                 WHERE p.deleted = 1 ORDER BY +p.sort_key, p.rowid LIMIT ?1",
                [limit],
                json,
            ),
            (None, None) => self.index().rows(
                "SELECT e.json, p.last FROM people p JOIN entities e ON e.rowid = p.rowid \
                 WHERE +p.deleted = 0 ORDER BY p.sort_key, p.rowid LIMIT ?1",
                [limit],
                json,
            ),
        }
    }

    /// People matching the filter as `kith list` shows them, by sort name,
    /// handed to `each` one at a time. They are read with one query and
    /// completed a batch at a time ([`view::summaries`]), so a thousand
    /// people cost a few queries, and only a batch of them is held as views
    /// while `each` writes them out. Without `facts`, the views' facts and
    /// last contacts are left empty, for output that does not show them.
    /// Returns how many there were.
    pub fn list_summaries<E: From<Error>>(
        &self,
        f: &ListFilter,
        facts: bool,
        mut each: impl FnMut(PersonView) -> std::result::Result<(), E>,
    ) -> std::result::Result<usize, E> {
        let rows = self.list_people_json(f, facts)?;
        for batch in rows.chunks(SUMMARY_BATCH) {
            let people = batch
                .iter()
                .filter_map(|(j, last)| {
                    Some(view::Listed {
                        person: serde_json::from_str(j).ok()?,
                        last_contact: last.clone(),
                    })
                })
                .collect();
            for person in view::listed_summaries(self.index(), people, facts)? {
                each(person)?;
            }
        }
        Ok(rows.len())
    }

    pub fn list_companies(&self, removed: bool, limit: Option<usize>) -> Result<Vec<Entity>> {
        self.index().query_entities(
            "SELECT e.json FROM companies c JOIN entities e ON e.id = c.id WHERE c.deleted = ?1 ORDER BY c.name_key LIMIT ?2",
            rusqlite::params![removed as i64, limit.map(|l| l as i64).unwrap_or(-1)],
        )
    }
}

/// One page of a listing of people, and where the next one starts.
#[derive(Debug, Default)]
pub struct PeoplePage {
    pub people: Vec<Entity>,
    /// Pass to [`Ledger::people_page`] for the page after this one; None on
    /// the last page.
    pub next: Option<String>,
    /// How many people the filter matches in all.
    pub total: usize,
}

impl Ledger {
    /// People matching the filter by sort name, `size` at a time. `after` is
    /// the previous page's `next`: the page starts from that row in the sort
    /// index, so the thousandth page costs what the first does.
    pub fn people_page(
        &self,
        f: &ListFilter,
        after: Option<&str>,
        size: usize,
    ) -> Result<PeoplePage> {
        let (after_key, after_row) = after
            .and_then(|a| a.split_once(':'))
            .and_then(|(row, key)| Some((key.to_string(), row.parse::<i64>().ok()?)))
            .unwrap_or_default();
        let company = f.company.as_ref().map(|c| c.to_string());
        let tag = f.tag.as_ref().map(|t| t.trim().to_lowercase());
        let rows = self.index().rows(
            "SELECT e.json, p.sort_key, p.rowid FROM people p JOIN entities e ON e.rowid = p.rowid \
             WHERE p.deleted = ?1 AND (?2 IS NULL OR p.company = ?2) \
             AND (?3 IS NULL OR p.id IN (SELECT id FROM tags WHERE tag = ?3)) \
             AND (p.sort_key, p.rowid) > (?4, ?5) \
             ORDER BY p.sort_key, p.rowid LIMIT ?6",
            rusqlite::params![
                f.removed as i64,
                company,
                tag,
                after_key,
                after_row,
                size as i64 + 1
            ],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            },
        )?;
        // Counted from the tag's rows when there is a tag: a few thousand
        // lookups instead of a pass over every person.
        let total = match &tag {
            Some(tag) => self.index().count_with(
                "SELECT count(*) FROM tags t JOIN people p ON p.id = t.id \
                 WHERE t.tag = ?1 AND p.deleted = ?2 AND (?3 IS NULL OR p.company = ?3)",
                rusqlite::params![tag, f.removed as i64, company],
            )?,
            None => self.index().count_with(
                "SELECT count(*) FROM people p WHERE p.deleted = ?1 AND (?2 IS NULL OR p.company = ?2)",
                rusqlite::params![f.removed as i64, company],
            )?,
        };
        let more = rows.len() > size;
        let next = more
            .then(|| rows.get(size - 1))
            .flatten()
            .map(|(_, key, row)| format!("{row}:{key}"));
        let people = rows
            .iter()
            .take(size)
            .filter_map(|(json, _, _)| serde_json::from_str(json).ok())
            .collect();
        Ok(PeoplePage {
            people,
            next,
            total,
        })
    }

    /// The tags in the ledger, in order, for a filter to choose from. Read
    /// from the tag index alone (a few milliseconds at 100,000 people):
    /// counting only live people's tags would read every tagged person.
    pub fn tag_names(&self, limit: usize) -> Result<Vec<String>> {
        self.index().rows(
            "SELECT DISTINCT tag FROM tags ORDER BY tag LIMIT ?1",
            [limit as i64],
            |r| r.get::<_, String>(0),
        )
    }
}
