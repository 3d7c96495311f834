//! The own ledger and teammates' replicas, opened for reading, for
//! questions put to the whole team.
//!
//! Every face (the CLI, the web UI) opens them the same way, through an
//! [`Opener`]: the home, the time and the time zone the caller resolved.
//! [`TeamLedgers`] holds the own ledger and every replica held here (each as
//! it stood at the end of a past day, when asked); [`TeamIndexed`] holds the
//! own ledger and the team index, which `who-knows` reads without opening
//! every replica. Nothing here writes to a replica; only sync does.
//!
//! Also what faces ask of them: `MEMBER/WHO` (a person in a teammate's
//! ledger), `find` and `list` across the team, a person's history in every
//! ledger, `who-knows` with or without `--at`, `who-wants`, `intro-path`,
//! `adopt`, the `about` account with the team's part, and [`status`]: whether
//! the daemon runs and each member's sync state.

use std::borrow::{Borrow, BorrowMut};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::about::{self, Account, Owner, Part, Section};
use crate::error::{Error, Result};
use crate::history::Event;
use crate::identity::Keys;
use crate::index::team::TeamIndex;
use crate::knows::{self, Source, TeamPart};
use crate::ledger::{Ledger, OpenOptions};
use crate::model::{Entity, Id, Kind};
use crate::ops::ListFilter;
use crate::team::{Member, TeamDir};
use crate::view::{self, CompanyView, Detail, PersonView};

/// What opening a ledger here takes: the home, the time commands act at and
/// the time zone, as the caller resolved them.
#[derive(Clone, Debug)]
pub struct Opener {
    pub home: PathBuf,
    pub now: jiff::Timestamp,
    pub tz: TimeZone,
}

impl Opener {
    pub fn new(home: impl Into<PathBuf>, now: jiff::Timestamp, tz: TimeZone) -> Opener {
        Opener {
            home: home.into(),
            now,
            tz,
        }
    }

    /// Opens the own ledger (rebuilding its index silently if it must).
    pub fn open(&self) -> Result<Ledger> {
        self.open_with(&|_, _| {})
    }

    /// Opens the own ledger, told (done, total) while the index is rebuilt.
    pub fn open_with(&self, progress: &dyn Fn(usize, usize)) -> Result<Ledger> {
        self.open_at(&self.home, progress)
    }

    fn open_at(&self, home: &Path, progress: &dyn Fn(usize, usize)) -> Result<Ledger> {
        Ledger::open(
            home,
            OpenOptions {
                now: self.now,
                time_zone: self.tz.clone(),
                progress,
            },
        )
    }

    /// One teammate's replica, opened for reading.
    pub fn open_replica(&self, owner: Member) -> Result<Replica> {
        let home = crate::sync::replica_home(&self.home, &owner.id)?;
        let ledger = self.open_at(&home, &|_, _| {}).map_err(|e| {
            e.context(format!(
                "cannot open {}'s replica in {}",
                owner.name,
                home.display()
            ))
        })?;
        Ok(Replica { owner, ledger })
    }

    /// Every teammate's replica held here.
    pub fn replicas(&self) -> Result<Vec<Replica>> {
        let roster = TeamDir::new(&self.home).roster()?;
        let me = Keys::load_or_create(&self.home)?.member_id().to_string();
        roster
            .members()
            .into_iter()
            .filter(|m| m.id != me && crate::sync::replica_exists(&self.home, &m.id))
            .map(|m| self.open_replica(m))
            .collect()
    }

    /// One teammate's replica, by member name or id; None when no member
    /// is called that, [`Error::NotReplicated`] when nothing of theirs is
    /// here yet.
    pub fn replica(&self, member: &str) -> Result<Option<Replica>> {
        let roster = TeamDir::new(&self.home).roster()?;
        let Ok(m) = roster.find_member(member) else {
            return Ok(None);
        };
        if !crate::sync::replica_exists(&self.home, &m.id) {
            return Err(Error::NotReplicated(m.name));
        }
        self.open_replica(m).map(Some)
    }

    /// `MEMBER/WHO`, where MEMBER names a teammate: their replica and WHO.
    /// None when `who` has no `/` or what comes before it is no member
    /// (then all of `who` is for the own ledger).
    pub fn member_who<'a>(&self, who: &'a str) -> Result<Option<(Replica, &'a str)>> {
        let Some((member, rest)) = who.split_once('/') else {
            return Ok(None);
        };
        Ok(self.replica(member)?.map(|r| (r, rest)))
    }

    /// `MEMBER/WHO` that must name a person in a teammate's ledger (what
    /// `adopt` takes): the replica and the person in it.
    pub fn teammate_person(&self, who: &str) -> Result<(Replica, Entity)> {
        let Some((member, who)) = who.split_once('/') else {
            return Err(Error::invalid(
                "say whose ledger to adopt from: MEMBER/WHO, e.g. johnny/edna",
            ));
        };
        let Some(replica) = self.replica(member)? else {
            return Err(Error::invalid(format!(
                "no teammate called '{member}' (see `kith team members`)"
            )));
        };
        let person = replica
            .ledger
            .resolve_person(who)
            .map_err(|e| e.context(format!("in {}'s ledger", replica.owner.name)))?;
        Ok((replica, person))
    }

    /// This person's member id, if their keys can be read or made.
    pub fn my_id(&self) -> Option<String> {
        Keys::load_or_create(&self.home)
            .ok()
            .map(|k| k.member_id().to_string())
    }

    /// This person's name on the team, or "me".
    pub fn my_name(&self) -> String {
        let roster = TeamDir::new(&self.home).roster().unwrap_or_default();
        let me = self.my_id().unwrap_or_default();
        roster
            .members()
            .into_iter()
            .find(|m| m.id == me)
            .map(|m| m.name)
            .unwrap_or_else(|| "me".into())
    }

    /// This device's name, as `device.json` has it.
    pub fn device_name(&self) -> String {
        device_name(&self.home)
    }
}

/// This device's name, as `device.json` in `home` has it.
pub fn device_name(home: &Path) -> String {
    std::fs::read(home.join("device.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_string))
        .unwrap_or_else(|| "this device".into())
}

/// A teammate's ledger as replicated here: opened only for reading.
pub struct Replica {
    pub owner: Member,
    pub ledger: Ledger,
}

impl Replica {
    /// "alice", or "alice (left on 2026-11-28)".
    pub fn label(&self, tz: &TimeZone) -> String {
        member_label(&self.owner, tz)
    }

    /// The day the owner left the team, if they did.
    pub fn left_on(&self, tz: &TimeZone) -> Option<String> {
        left_on(&self.owner, tz)
    }
}

/// "alice", or "alice (left on 2026-11-28)".
pub fn member_label(m: &Member, tz: &TimeZone) -> String {
    match m.removed {
        Some(_) => format!(
            "{} (left on {})",
            m.name,
            left_on(m, tz).unwrap_or_default()
        ),
        None => m.name.clone(),
    }
}

/// The day a removed member left, in `tz`.
fn left_on(m: &Member, tz: &TimeZone) -> Option<String> {
    let t = m.removed?;
    jiff::Timestamp::from_second(t)
        .ok()
        .map(|ts| ts.to_zoned(tz.clone()).date().to_string())
}

/// Adds `owner` (and `owner_id`) to a JSON object.
pub fn with_owner<T: Serialize>(
    value: &T,
    owner: &str,
    owner_id: Option<&str>,
) -> serde_json::Value {
    let mut v = serde_json::to_value(value).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("owner".into(), owner.into());
        obj.insert(
            "owner_id".into(),
            owner_id.map(Into::into).unwrap_or(serde_json::Value::Null),
        );
    }
    v
}

/// The own ledger and every teammate's replica, for questions put to the
/// whole team. The own ledger is any `L` that lends a [`Ledger`]: one
/// owned, `&mut Ledger`, or a face's own wrapper.
pub struct TeamLedgers<L = Ledger> {
    own: L,
    me: String,
    me_id: Option<String>,
    replicas: Vec<Replica>,
    tz: TimeZone,
    /// The day answers are for: today, or the day asked about.
    pub today: Date,
    /// With `at` a past day: each ledger as it stood then, own first.
    as_of: Vec<crate::asof::AsOf>,
}

impl<L: Borrow<Ledger>> TeamLedgers<L> {
    /// The own ledger and every replica held here; with `at` (a day as
    /// people type it), each as it stood at the end of that day.
    pub fn open(opener: &Opener, own: L, at: Option<&str>) -> Result<TeamLedgers<L>> {
        let mut team = Self::own(opener, own);
        team.replicas = opener.replicas()?;
        let Some(at) = at else {
            return Ok(team);
        };
        let day = crate::asof::parse_at(at, team.today)?;
        // Today or later is simply now.
        if day >= team.today {
            return Ok(team);
        }
        team.today = day;
        let moment = crate::asof::end_of_day(day, &team.tz)?;
        team.as_of
            .push(crate::asof::index_at(team.own.borrow(), moment)?);
        for r in &team.replicas {
            let past = crate::asof::index_at(&r.ledger, moment)
                .map_err(|e| e.context(format!("{}'s ledger as of {day}", r.owner.name)))?;
            team.as_of.push(past);
        }
        Ok(team)
    }

    /// Only the own ledger.
    pub fn own(opener: &Opener, own: L) -> TeamLedgers<L> {
        let today = own.borrow().today();
        TeamLedgers {
            own,
            me: "you".into(),
            me_id: opener.my_id(),
            replicas: Vec::new(),
            tz: opener.tz.clone(),
            today,
            as_of: Vec::new(),
        }
    }

    /// The own ledger.
    pub fn own_ledger(&self) -> &Ledger {
        self.own.borrow()
    }

    /// The replicas held here, in roster order.
    pub fn replicas(&self) -> &[Replica] {
        &self.replicas
    }

    /// Each ledger to put a question to, own first, then each replica.
    pub fn sources(&self) -> Vec<Source<'_>> {
        let index = |i: usize, now| self.as_of.get(i).map_or(now, crate::asof::AsOf::index);
        let mut out = vec![Source {
            owner: self.me.clone(),
            owner_id: self.me_id.clone(),
            mine: true,
            index: index(0, self.own.borrow().index()),
        }];
        for (i, r) in self.replicas.iter().enumerate() {
            out.push(Source {
                owner: r.label(&self.tz),
                owner_id: Some(r.owner.id.clone()),
                mine: false,
                index: index(i + 1, r.ledger.index()),
            });
        }
        out
    }

    /// Whose ledger `sources()[source]` is: (label, member id).
    pub fn owner_of(&self, source: usize) -> (String, Option<String>) {
        match source {
            0 => (self.me.clone(), self.me_id.clone()),
            i => (
                self.replicas[i - 1].label(&self.tz),
                Some(self.replicas[i - 1].owner.id.clone()),
            ),
        }
    }

    /// The past day answers are for, when one was asked about.
    pub fn as_of(&self) -> Option<Date> {
        (!self.as_of.is_empty()).then_some(self.today)
    }

    /// The line saying answers are as of a past day, if they are.
    pub fn as_of_note(&self) -> Option<String> {
        self.as_of().map(|day| format!("As of {day} (end of day):"))
    }
}

impl<L: BorrowMut<Ledger>> TeamLedgers<L> {
    /// The ledger behind `sources()[source]`.
    pub fn ledger_mut(&mut self, source: usize) -> &mut Ledger {
        match source {
            0 => self.own.borrow_mut(),
            i => &mut self.replicas[i - 1].ledger,
        }
    }

    /// The person `who` names, in every ledger on the team, newest first:
    /// who added what, when, and on which device (`history --team`).
    pub fn history(&mut self, who: &str, limit: Option<usize>) -> Result<Vec<TeamEvent>> {
        let found = knows::locate(&self.sources(), who)?;
        let mut events = Vec::new();
        for (source, id) in found {
            let (owner, owner_id) = self.owner_of(source);
            let ledger = self.ledger_mut(source);
            let Some(person) = ledger.index().entity(&id)? else {
                continue;
            };
            for event in ledger.history(&person, None)? {
                events.push(TeamEvent {
                    owner: owner.clone(),
                    owner_id: owner_id.clone(),
                    event,
                });
            }
        }
        events.sort_by(|a, b| b.event.at.cmp(&a.event.at).then(a.owner.cmp(&b.owner)));
        if let Some(n) = limit {
            events.truncate(n);
        }
        Ok(events)
    }
}

/// One event of a person's history and whose ledger recorded it.
#[derive(Debug, Serialize)]
pub struct TeamEvent {
    pub owner: String,
    pub owner_id: Option<String>,
    #[serde(flatten)]
    pub event: Event,
}

/// The own ledger and the team index: what `who-knows` and `who-wants
/// --team` read, without
/// opening every replica (docs/ARCHITECTURE.md, "The team index").
pub struct TeamIndexed<L = Ledger> {
    team: TeamLedgers<L>,
    /// None while no teammate's ledger is held here.
    index: Option<TeamIndex>,
    owners: Vec<(String, String)>,
}

impl<L: Borrow<Ledger>> TeamIndexed<L> {
    /// The own ledger, and the team index brought up to date with every
    /// replica held here.
    pub fn open(opener: &Opener, own: L) -> Result<TeamIndexed<L>> {
        let team = TeamLedgers::own(opener, own);
        let home = &opener.home;
        if !home.join("replicas").is_dir() {
            return Ok(TeamIndexed {
                team,
                index: None,
                owners: Vec::new(),
            });
        }
        let path = home.join("team.sqlite");
        let mut index = TeamIndex::open(&path)?;
        let members = index.roster_members(&TeamDir::new(home))?;
        let mut held = Vec::new();
        let mut owners = Vec::new();
        for m in members {
            if Some(&m.id) == team.me_id.as_ref() || !crate::sync::replica_exists(home, &m.id) {
                continue;
            }
            held.push((m.id.clone(), crate::sync::replica_home(home, &m.id)?));
            owners.push((member_label(&m, &opener.tz), m.id));
        }
        let open = |home: &Path| opener.open_at(home, &|_, _| {});
        let report = index.refresh(&held, &open).map_err(|e| {
            e.context(format!(
                "cannot bring the team index {} up to date",
                path.display()
            ))
        })?;
        if !report.copied.is_empty() || !report.busy.is_empty() {
            tracing::info!(
                copied = report.copied.len(),
                busy = report.busy.len(),
                "team index refreshed"
            );
        }
        Ok(TeamIndexed {
            team,
            index: Some(index),
            owners,
        })
    }

    pub fn today(&self) -> Date {
        self.team.today
    }

    /// The own ledger.
    pub fn own_ledger(&self) -> &Ledger {
        self.team.own_ledger()
    }

    /// The own ledger, read on its own.
    pub fn sources(&self) -> Vec<Source<'_>> {
        self.team.sources()
    }

    /// Every replica, read through the team index.
    pub fn team(&self) -> Option<TeamPart<'_>> {
        self.index.as_ref().map(|index| TeamPart {
            index,
            owners: self.owners.clone(),
        })
    }
}

/// What `who-knows` answers, and the past day it answers for, if one.
#[derive(Debug)]
pub struct WhoKnows {
    pub contacts: Vec<knows::Contact>,
    pub as_of: Option<Date>,
}

/// Who on the team knows the people `query` names (`kith who-knows`): now,
/// through the team index; or, with `at`, from each ledger's history.
pub fn who_knows<L: Borrow<Ledger>>(
    opener: &Opener,
    own: L,
    query: &str,
    at: Option<&str>,
    limit: usize,
    explain: bool,
) -> Result<WhoKnows> {
    match at {
        // The past is derived from each ledger's history, one by one.
        Some(at) => {
            let team = TeamLedgers::open(opener, own, Some(at))?;
            let contacts =
                knows::who_knows(&team.sources(), None, query, team.today, limit, explain)?;
            Ok(WhoKnows {
                contacts,
                as_of: team.as_of(),
            })
        }
        None => {
            let team = TeamIndexed::open(opener, own)?;
            let contacts = knows::who_knows(
                &team.sources(),
                team.team(),
                query,
                team.today(),
                limit,
                explain,
            )?;
            Ok(WhoKnows {
                contacts,
                as_of: None,
            })
        }
    }
}

/// The warmest ways to reach `who` (`kith intro-path`), through teammates
/// and the relationships recorded in every ledger.
pub fn intro_paths<L: Borrow<Ledger>>(
    opener: &Opener,
    own: L,
    who: &str,
    limit: usize,
) -> Result<Vec<knows::IntroPath>> {
    let team = TeamLedgers::open(opener, own, None)?;
    knows::intro_paths(&team.sources(), who, team.today, limit)
}

/// Who is most likely to want `topic` (`kith who-wants`): from the own
/// ledger, or with `team` every replica too.
pub fn who_wants<L: Borrow<Ledger>>(
    opener: &Opener,
    own: L,
    topic: &str,
    team: bool,
    limit: usize,
) -> Result<Vec<knows::Want>> {
    if team {
        let team = TeamIndexed::open(opener, own)?;
        return knows::who_wants(&team.sources(), team.team(), topic, team.today(), limit);
    }
    let own = TeamLedgers::own(opener, own);
    knows::who_wants(&own.sources(), None, topic, own.today, limit)
}

/// Copies `person` from a teammate's replica into `own`, with what `choice`
/// names (`kith adopt`): where it came from, and what was copied.
pub fn adopt(
    own: &mut Ledger,
    replica: &Replica,
    person: &Entity,
    choice: &crate::adopt::Choice,
) -> Result<(crate::adopt::Provenance, crate::adopt::Adopted)> {
    let from = crate::adopt::Provenance {
        member: replica.owner.name.clone(),
        member_id: replica.owner.id.clone(),
        on: own.today().to_string(),
    };
    let adopted = own.adopt(replica.ledger.index(), person, &from, choice)?;
    Ok((from, adopted))
}

/// An account of everything held about the person `who` names, to hand to
/// them (`kith about`): the own ledger's; with `team`, also each teammate's
/// shared part, under the member's name. With `team`, someone only a
/// teammate knows is still someone to account for. A replica with more than
/// one possible match is left out rather than guessed, and `warn` told why.
pub fn account(
    opener: &Opener,
    own: &mut Ledger,
    who: &str,
    team: bool,
    warn: &mut dyn FnMut(String),
) -> Result<Account> {
    let (mine, missing) = match own.resolve_person(who) {
        Ok(p) => (Some(p), None),
        Err(e @ Error::NotFound(_)) if team => (None, Some(e)),
        Err(e) => return Err(e),
    };
    if !team && let Some(p) = &mine {
        return about::own_account(own, p);
    }
    let mut sections = Vec::new();
    if let Some(p) = &mine {
        let owner = Owner {
            name: opener.my_name(),
            id: opener.my_id(),
            ..Owner::me()
        };
        sections.push(about::section(own, p, owner, Part::All)?);
    }
    sections.extend(team_sections(opener, mine.as_ref(), who, warn)?);
    if let (true, Some(e)) = (sections.is_empty(), missing) {
        return Err(e);
    }
    Ok(Account::new(
        about::generated_at(opener.now, &opener.tz),
        sections,
    ))
}

/// A section for each teammate whose shared part holds the person.
fn team_sections(
    opener: &Opener,
    own: Option<&Entity>,
    who: &str,
    warn: &mut dyn FnMut(String),
) -> Result<Vec<Section>> {
    let mut out = Vec::new();
    for mut replica in opener.replicas()? {
        let Some(found) = find_in(&replica, own, who, &opener.tz, warn)? else {
            continue;
        };
        let owner = Owner {
            name: replica.owner.name.clone(),
            id: Some(replica.owner.id.clone()),
            left_on: replica.left_on(&opener.tz),
            mine: false,
        };
        let section = about::section(&mut replica.ledger, &found, owner, Part::Shared)
            .map_err(|e| e.context(format!("reading {}'s ledger", replica.owner.name)))?;
        out.push(section);
    }
    Ok(out)
}

/// The person in a teammate's ledger: the same emails or name as ours, or,
/// when we have no record, WHO as `show MEMBER/WHO` would read it. More
/// than one candidate is reported and left out rather than guessed.
fn find_in(
    replica: &Replica,
    own: Option<&Entity>,
    who: &str,
    tz: &TimeZone,
    warn: &mut dyn FnMut(String),
) -> Result<Option<Entity>> {
    let found = match own {
        Some(p) => about::same_person(replica.ledger.index(), p),
        None => replica.ledger.resolve_person(who).map(Some),
    };
    match found {
        Ok(found) => Ok(found),
        Err(Error::NotFound(_) | Error::Invalid(_)) => Ok(None),
        Err(Error::Ambiguous { candidates, .. }) => {
            warn(format!(
                "{}'s ledger has more than one possible match ({}); left out",
                replica.label(tz),
                candidates.join("; ")
            ));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// One hit of `find`, and whose ledger it is in (with `--team`).
#[derive(Debug, Serialize)]
pub struct Found {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    pub id: Id,
    pub kind: Kind,
    pub name: String,
    pub company: Option<String>,
    pub score: f64,
    pub why: String,
}

/// People and companies in one ledger that match `query`, best first.
pub fn find(ledger: &Ledger, query: &str, limit: usize) -> Result<Vec<Found>> {
    let index = ledger.index();
    let hits = index.find(query, limit, false)?;
    Ok(hits
        .into_iter()
        .filter_map(|h| {
            let e = index.entity(&h.id).ok().flatten()?;
            let company = e
                .str("company")
                .and_then(|c| Id::parse(c).ok())
                .and_then(|c| index.entity(&c).ok().flatten())
                .and_then(|c| c.str("name").map(str::to_string));
            Some(Found {
                owner: None,
                owner_id: None,
                name: e.str("name").unwrap_or("").to_string(),
                id: h.id,
                kind: h.kind,
                company,
                score: (h.score * 1000.0).round() / 1000.0,
                why: h.why,
            })
        })
        .collect())
}

/// `find --team`: the own ledger (under this person's team name) and every
/// replica, best `limit` hits overall, each marked with whose it is.
pub fn find_team(opener: &Opener, own: &Ledger, query: &str, limit: usize) -> Result<Vec<Found>> {
    let mut found = find(own, query, limit)?;
    let me = opener.my_name();
    for f in &mut found {
        f.owner = Some(me.clone());
    }
    for replica in opener.replicas()? {
        let mut theirs = find(&replica.ledger, query, limit)?;
        for f in &mut theirs {
            f.owner = Some(replica.label(&opener.tz));
            f.owner_id = Some(replica.owner.id.clone());
        }
        found.extend(theirs);
    }
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    found.truncate(limit);
    Ok(found)
}

/// What `list --team` lists.
#[derive(Clone, Debug, Default)]
pub struct TeamListFilter {
    /// Only people with this tag.
    pub tag: Option<String>,
    /// Only people at this company (named as each ledger names it; a
    /// ledger without it lists no one).
    pub company: Option<String>,
    /// Companies instead of people.
    pub companies: bool,
    pub limit: Option<usize>,
}

/// A person or a company, as a list shows it.
#[derive(Debug)]
pub enum Listed {
    Person(Box<PersonView>),
    Company(Box<CompanyView>),
}

impl Listed {
    pub fn name(&self) -> &str {
        match self {
            Listed::Person(p) => &p.name,
            Listed::Company(c) => &c.name,
        }
    }
}

/// One row of `list --team`, and whose ledger it comes from.
#[derive(Debug)]
pub struct TeamListed {
    pub owner: String,
    pub owner_id: Option<String>,
    pub item: Listed,
}

impl TeamListed {
    /// The view with `owner` and `owner_id` added: the `--json` form.
    pub fn json(&self) -> serde_json::Value {
        match &self.item {
            Listed::Person(v) => with_owner(&**v, &self.owner, self.owner_id.as_deref()),
            Listed::Company(v) => with_owner(&**v, &self.owner, self.owner_id.as_deref()),
        }
    }
}

/// People (or companies) in the own ledger and every replica, by sort name,
/// each marked with whose it is (`list --team`).
pub fn list_team(opener: &Opener, own: &Ledger, f: &TeamListFilter) -> Result<Vec<TeamListed>> {
    let replicas = opener.replicas()?;
    let mut sources: Vec<(String, Option<String>, &Ledger)> = vec![(opener.my_name(), None, own)];
    for r in &replicas {
        sources.push((r.label(&opener.tz), Some(r.owner.id.clone()), &r.ledger));
    }
    let mut rows: Vec<(String, TeamListed)> = Vec::new();
    for (owner, owner_id, ledger) in sources {
        let index = ledger.index();
        let row = |item| TeamListed {
            owner: owner.clone(),
            owner_id: owner_id.clone(),
            item,
        };
        if f.companies {
            for c in ledger.list_companies(false, f.limit)? {
                let v = view::company(index, &c, Detail::Summary)?;
                rows.push((v.name.to_lowercase(), row(Listed::Company(Box::new(v)))));
            }
            continue;
        }
        let company = match &f.company {
            Some(c) => match ledger.resolve(c, &[Kind::Company], false) {
                Ok(e) => Some(e.id),
                Err(Error::NotFound(_)) => continue,
                Err(e) => return Err(e),
            },
            None => None,
        };
        let filter = ListFilter {
            tag: f.tag.clone(),
            company,
            removed: false,
            limit: f.limit,
        };
        for p in ledger.list_people(&filter)? {
            let v = view::person(index, &p, Detail::Summary)?;
            rows.push((v.sort_name.to_lowercase(), row(Listed::Person(Box::new(v)))));
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(limit) = f.limit {
        rows.truncate(limit);
    }
    Ok(rows.into_iter().map(|r| r.1).collect())
}

/// Whether the daemon runs, where it listens, and each member's sync state:
/// what `kith status` shows.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub daemon: bool,
    pub device: String,
    pub member: String,
    pub team: Option<String>,
    pub listen: Vec<String>,
    /// Where teammates reach this device through a relay.
    pub relayed: Vec<String>,
    /// AutoNAT's verdict on this device: `public`, `private` or `unknown`.
    pub nat: String,
    /// Whether this daemon relays for the team.
    pub relay: bool,
    pub members: Vec<MemberStatus>,
}

/// How a member is reached now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    Direct,
    Relayed,
    Unreachable,
}

#[derive(Clone, Debug, Serialize)]
pub struct MemberStatus {
    pub name: String,
    pub id: String,
    pub you: bool,
    pub connected: bool,
    /// None for yourself.
    pub link: Option<LinkKind>,
    /// The relay's name (its member's, and the device's when the member
    /// has several) when `link` is relayed.
    pub via: Option<String>,
    /// Local time, `2026-11-28 09:00:00`.
    pub last_synced: Option<String>,
    /// When they left the team, as `last_synced`.
    pub left: Option<String>,
}

/// The sync state of this home (which must exist): read from files, so it
/// is cheap and never waits for the daemon.
pub fn status(home: &Path, tz: &TimeZone) -> Result<Status> {
    use crate::sync::daemon;
    let keys = Keys::load_or_create(home)?;
    let dir = TeamDir::new(home);
    let roster = dir.roster()?;
    let book = dir.peers()?;
    let running = daemon::is_running(home);
    let connected = daemon::connected(home);
    let file = running
        .then(|| daemon::status_file(home))
        .flatten()
        .unwrap_or_default();
    let strings = |key: &str| -> Vec<String> {
        file.get(key)
            .cloned()
            .and_then(|l| serde_json::from_value(l).ok())
            .unwrap_or_default()
    };
    let listen = strings("listen");
    let relayed = strings("relayed");
    let links: BTreeMap<String, serde_json::Value> = file
        .get("links")
        .cloned()
        .and_then(|l| serde_json::from_value(l).ok())
        .unwrap_or_default();
    let relay_name = |device: &str| -> String {
        let all = roster.members();
        let owner = all
            .iter()
            .find(|m| m.devices.iter().any(|d| d.id == device));
        match owner {
            Some(m) if m.devices.len() > 1 => {
                let dev = m.devices.iter().find(|d| d.id == device);
                format!(
                    "{} ({})",
                    m.name,
                    dev.map(|d| d.name.as_str()).unwrap_or("?")
                )
            }
            Some(m) => m.name.clone(),
            None => device.to_string(),
        }
    };
    let me = keys.member_id().to_string();
    let when = |t: i64| {
        jiff::Timestamp::from_second(t)
            .map(|ts| {
                ts.to_zoned(tz.clone())
                    .strftime("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default()
    };
    let members = roster
        .members()
        .into_iter()
        .map(|m| {
            let you = m.id == me;
            // Direct beats relayed across a member's devices.
            let mut link = (!you).then_some(LinkKind::Unreachable);
            let mut via = None;
            for d in &m.devices {
                if you || !connected.contains(&d.id) {
                    continue;
                }
                let l = links.get(&d.id);
                match l.and_then(|l| l.get("link")).and_then(|k| k.as_str()) {
                    Some("relayed") => {
                        if link != Some(LinkKind::Direct) {
                            link = Some(LinkKind::Relayed);
                            via = l
                                .and_then(|l| l.get("via"))
                                .and_then(|v| v.as_str())
                                .map(relay_name);
                        }
                    }
                    // An older daemon wrote no links: connected is direct.
                    _ => {
                        link = Some(LinkKind::Direct);
                        via = None;
                    }
                }
            }
            MemberStatus {
                you,
                link,
                via,
                connected: m.devices.iter().any(|d| connected.contains(&d.id)),
                last_synced: m
                    .devices
                    .iter()
                    .filter_map(|d| book.devices.get(&d.id).and_then(|r| r.last_synced))
                    .max()
                    .map(when),
                left: m.removed.map(when),
                name: m.name,
                id: m.id,
            }
        })
        .collect();
    Ok(Status {
        daemon: running,
        device: keys.device_id().to_string(),
        member: me,
        team: roster.team_name(),
        listen,
        relayed,
        nat: file
            .get("nat")
            .and_then(|n| n.as_str())
            .unwrap_or("unknown")
            .to_string(),
        relay: file.get("relay").and_then(|r| r.as_bool()).unwrap_or(false),
        members,
    })
}

/// One teammate's replica as `kith check` found it.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaCheck {
    /// The member's name, or their id when the roster does not say.
    pub owner: String,
    pub id: String,
    pub home: PathBuf,
    /// What is wrong with it, one line each; empty when it is whole.
    pub problems: Vec<String>,
    /// Removed so that the next sync fetches it again (`--repair`).
    pub dropped: bool,
    /// Why it was damaged but not dropped.
    pub not_dropped: Option<String>,
}

/// Checks every teammate's replica held here: every chunk verified (bad
/// ones quarantined, as in the own ledger), and chunks quarantined earlier
/// count too, since a replica missing them is behind its owner. With
/// `repair`, a damaged replica is removed with this home's sync state for
/// it, so the next sync fetches it whole from peers; not while the daemon
/// runs, which holds that state in memory and would write it back.
pub fn check_replicas(opener: &Opener, repair: bool) -> Result<Vec<ReplicaCheck>> {
    let dir = opener.home.join("replicas");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    let names: BTreeMap<String, String> = TeamDir::new(&opener.home)
        .roster()
        .map(|r| r.members().into_iter().map(|m| (m.id, m.name)).collect())
        .unwrap_or_default();
    let mut ids: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|id| crate::sync::replica_exists(&opener.home, id))
        .collect();
    ids.sort();
    let mut out = Vec::new();
    for id in ids {
        let home = crate::sync::replica_home(&opener.home, &id)?;
        let mut problems = replica_problems(opener, &home);
        let mut dropped = false;
        let mut not_dropped = None;
        if repair && !problems.is_empty() {
            if crate::sync::daemon::is_running(&opener.home) {
                not_dropped = Some(
                    "the daemon is running; stop it, run `kith check --repair` again, then start it"
                        .to_string(),
                );
            } else {
                match drop_replica(&opener.home, &id) {
                    Ok(()) => dropped = true,
                    Err(e) => problems.push(format!("could not be removed: {e}")),
                }
            }
        }
        out.push(ReplicaCheck {
            owner: names.get(&id).cloned().unwrap_or_else(|| id.clone()),
            id,
            home,
            problems,
            dropped,
            not_dropped,
        });
    }
    Ok(out)
}

/// What is wrong with the replica in `home`, one line each.
fn replica_problems(opener: &Opener, home: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut ledger = match opener.open_at(home, &|_, _| {}) {
        Ok(l) => l,
        Err(e) => return vec![format!("cannot be opened: {e}")],
    };
    // Set aside before this check (by any command that loaded it).
    let qdir = ledger.store().quarantine_dir();
    let earlier = std::fs::read_dir(&qdir)
        .map(|d| d.flatten().count())
        .unwrap_or(0);
    match ledger.check() {
        Ok(report) => {
            for m in &report.missing {
                problems.push(format!(
                    "{} is missing (it held {} chunk files)",
                    m.dir.display(),
                    m.chunks
                ));
            }
        }
        Err(e) => problems.push(format!("cannot be checked: {e}")),
    }
    for q in &ledger.report.quarantined {
        problems.push(format!(
            "{} is damaged ({}); moved to {}",
            q.file.display(),
            q.reason,
            q.moved_to.display()
        ));
    }
    for shard in &ledger.report.incomplete {
        problems.push(format!(
            "{} holds changes that wait for a missing chunk",
            home.join("ledger").join(shard).display()
        ));
    }
    if earlier > 0 {
        problems.push(format!(
            "{earlier} damaged chunk files were set aside earlier in {}",
            qdir.display()
        ));
    }
    problems
}

/// Removes the replica of member `id` and what this home remembers of
/// syncing it (its entries in the per-peer sync states, the heads cache,
/// the team index), so the next sync fetches it again from scratch rather
/// than trusting a state that says it is already here.
pub fn drop_replica(home: &Path, id: &str) -> Result<()> {
    let replica = crate::sync::replica_home(home, id)?;
    // The ledger first: a replica without its `ledger/` is not held.
    let ledger = replica.join("ledger");
    let aside = replica.join(format!(".dropped-ledger-{}", std::process::id()));
    match std::fs::rename(&ledger, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&ledger, e)),
    }
    crate::store::chunk::sync_dir(&replica)?;
    std::fs::remove_dir_all(&replica).map_err(|e| Error::io(&replica, e))?;
    let sync = home.join("sync");
    if let Ok(entries) = std::fs::read_dir(&sync) {
        let prefix = format!("{id}/");
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "state") {
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                let Ok(mut states) =
                    crate::sync::proto::decode::<BTreeMap<String, Vec<u8>>>(&bytes)
                else {
                    // Unreadable: the daemon starts that peer afresh anyway.
                    let _ = std::fs::remove_file(&path);
                    continue;
                };
                let before = states.len();
                states.retain(|k, _| !k.starts_with(&prefix));
                if states.len() != before {
                    let bytes =
                        crate::sync::proto::encode(&states).map_err(|e| Error::io(&path, e))?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    crate::store::chunk::write_durable(&sync, &name, &bytes)?;
                }
            }
        }
        match std::fs::remove_file(sync.join("heads.cache")) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(sync.join("heads.cache"), e)),
        }
    }
    TeamIndex::remove(home);
    Ok(())
}
