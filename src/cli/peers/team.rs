//! `kith team …`: create a team, invite, join, list and remove members.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use kith::identity::Keys;
use kith::sync::proto::{JoinRequest, Response};
use kith::team::{Claim, Invite, Roster, Statement, TeamDir, Ticket, TicketKind};

use crate::cli::{Env, print_json};

/// Your team: create one, invite teammates, join with a ticket, list or remove members
#[derive(Args, Debug)]
pub struct TeamArgs {
    #[command(subcommand)]
    command: TeamCommand,
}

#[derive(Subcommand, Debug)]
enum TeamCommand {
    /// Start a team, with you as its first member
    Create {
        /// The team's name
        name: String,
        /// Your name as teammates will see it [default: your login name]
        #[arg(long = "as", value_name = "NAME")]
        member_name: Option<String>,
    },
    /// Print a one-time ticket a teammate pastes into `kith team join`
    Invite(InviteArgs),
    /// Join a team with a ticket (the inviter's daemon must be running)
    Join(JoinArgs),
    /// Who is on the team, their devices, and when each last synced
    Members {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove a member: their devices are refused from then on
    Remove {
        /// The member's name or id
        member: String,
    },
    /// The team's relays: always-on daemons started with `kith daemon
    /// --relay` that members behind NATs reach each other through
    Relays {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Leave the team: your own ledger stays as it is; the copies of
    /// teammates' ledgers held here are deleted
    Leave,
}

#[derive(Args, Debug)]
pub struct InviteArgs {
    /// How long the ticket stays valid (30m, 24h, 7d)
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub expires: Duration,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct JoinArgs {
    /// The ticket, as printed by `kith team invite`
    pub ticket: String,
    /// Your name as teammates will see it [default: your login name]
    #[arg(long = "as", value_name = "NAME")]
    pub member_name: Option<String>,
    /// How long to try reaching the inviter
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub timeout: Duration,
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("'{s}' is not a duration: use e.g. 90s, 30m, 24h or 7d"))?;
    let secs = match unit {
        "s" | "" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => {
            return Err(format!(
                "'{s}' is not a duration: use e.g. 90s, 30m, 24h or 7d"
            ));
        }
    };
    Ok(Duration::from_secs(secs))
}

pub fn run(env: &Env, args: TeamArgs) -> anyhow::Result<()> {
    match args.command {
        TeamCommand::Create { name, member_name } => create(env, &name, member_name),
        TeamCommand::Invite(a) => invite(env, TicketKind::Team, a),
        TeamCommand::Join(a) => join(env, a),
        TeamCommand::Members { json } => members(env, json),
        TeamCommand::Remove { member } => remove(env, &member),
        TeamCommand::Relays { json } => relays(env, json),
        TeamCommand::Leave => leave(env),
    }
}

pub fn login_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "me".into())
}

fn create(env: &Env, name: &str, member_name: Option<String>) -> anyhow::Result<()> {
    drop(env.open()?);
    let keys = Keys::load_or_create(&env.home)?;
    let dir = TeamDir::new(&env.home);
    let lock = dir.lock()?;
    let existing = dir.roster()?;
    refuse_if_in_team(&existing, &keys)?;
    let member_name = member_name.unwrap_or_else(login_name);
    let mut roster = Roster::create(
        &keys.member,
        &keys.device_id(),
        name,
        &member_name,
        &kith::replicas::device_name(&env.home),
        env.now.as_second(),
    )?;
    // Devices linked before the team existed stay this person's devices.
    roster.merge(existing.statements);
    dir.save_roster(&roster, &lock)?;
    println!("created team '{name}' with you ({member_name}) as its first member");
    println!("next: `kith daemon`, then `kith team invite` for each teammate");
    Ok(())
}

/// The addresses a ticket should carry: where this home's daemon listens.
fn daemon_addrs(env: &Env) -> (Vec<libp2p::Multiaddr>, bool) {
    let running = kith::sync::daemon::is_running(&env.home);
    let addrs = kith::sync::daemon::status_file(&env.home)
        .and_then(|v| v.get("listen").cloned())
        .and_then(|l| serde_json::from_value::<Vec<String>>(l).ok())
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect();
    (without_loopback(addrs), running)
}

/// A teammate on another machine cannot reach our loopback address, so a
/// ticket carries it only when there is nothing else (a single-machine
/// setup, the demo, tests).
fn without_loopback(addrs: Vec<libp2p::Multiaddr>) -> Vec<libp2p::Multiaddr> {
    use libp2p::multiaddr::Protocol;
    let loopback = |a: &libp2p::Multiaddr| {
        a.iter().any(|p| match p {
            Protocol::Ip4(ip) => ip.is_loopback(),
            Protocol::Ip6(ip) => ip.is_loopback(),
            _ => false,
        })
    };
    if addrs.iter().all(loopback) {
        return addrs;
    }
    addrs.into_iter().filter(|a| !loopback(a)).collect()
}

pub fn invite(env: &Env, kind: TicketKind, args: InviteArgs) -> anyhow::Result<()> {
    drop(env.open()?);
    let keys = Keys::load_or_create(&env.home)?;
    let dir = TeamDir::new(&env.home);
    let lock = dir.lock()?;
    let roster = dir.roster()?;
    if kind == TicketKind::Team && roster.team.is_none() {
        bail!("you are not in a team yet: `kith team create NAME` first");
    }
    let (addrs, running) = daemon_addrs(env);
    if addrs.is_empty() {
        bail!(
            "no address to put in the ticket: start `kith daemon` first, so that the ticket says where to reach you"
        );
    }
    let now = env.now.as_second();
    let expires = now + args.expires.as_secs() as i64;
    let ticket = Ticket::new(kind, &roster, &keys.device_id(), &addrs, expires);
    let mut invites = dir.invites()?;
    invites.retain(|i| i.expires > now && !i.used);
    invites.push(Invite {
        peer: ticket.peer()?.to_string(),
        kind,
        created: now,
        expires,
        used: false,
    });
    dir.save_invites(&invites, &lock)?;
    let text = ticket.encode();
    let until = jiff::Timestamp::from_second(expires)?.to_zoned(env.tz.clone());
    if args.json {
        return print_json(&serde_json::json!({
            "ticket": text,
            "expires": until.timestamp().to_string(),
            "addrs": ticket.addrs,
        }));
    }
    println!("{text}");
    eprintln!(
        "kith: this ticket works once, until {}",
        until.strftime("%Y-%m-%d %H:%M %Z")
    );
    if !running {
        eprintln!("kith: warning: no daemon is running: start `kith daemon` before it is used");
    }
    Ok(())
}

fn run_join(ticket: &Ticket, req: JoinRequest, timeout: Duration) -> anyhow::Result<Response> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    Ok(rt.block_on(kith::sync::net::join(ticket, req, timeout))?)
}

/// Reads a ticket of the kind expected, refusing an expired one, and makes
/// sure the home and its keys exist before joining with it.
pub fn accept_ticket(env: &Env, text: &str, kind: TicketKind) -> anyhow::Result<(Ticket, Keys)> {
    let ticket = Ticket::decode(text)?;
    if ticket.kind != kind {
        match kind {
            TicketKind::Team => bail!("this ticket links a device: use `kith device join`"),
            TicketKind::Device => bail!("this ticket invites a teammate: use `kith team join`"),
        }
    }
    if ticket.expires <= env.now.as_second() {
        bail!("this ticket expired: ask for a new one");
    }
    drop(env.open()?);
    Ok((ticket, Keys::load_or_create(&env.home)?))
}

fn join(env: &Env, args: JoinArgs) -> anyhow::Result<()> {
    let (ticket, keys) = accept_ticket(env, &args.ticket, TicketKind::Team)?;
    let dir = TeamDir::new(&env.home);
    refuse_if_in_team(&dir.roster()?, &keys)?;
    let member_name = args.member_name.unwrap_or_else(login_name);
    let device = Statement::sign(
        &keys.member,
        &Claim::Device {
            device: keys.device_id().to_string(),
            name: kith::replicas::device_name(&env.home),
            at: env.now.as_second(),
        },
    )?;
    let req = JoinRequest {
        kind: TicketKind::Team,
        device,
        member_name: member_name.clone(),
    };
    let resp = run_join(&ticket, req, args.timeout)?;
    let Response::Joined {
        team, statements, ..
    } = resp
    else {
        if let Response::Refused(why) = resp {
            bail!("the inviter refused: {why}");
        }
        bail!("the inviter gave an unexpected answer");
    };
    if team != ticket.team {
        bail!("the inviter answered for another team than the ticket names");
    }
    let lock = dir.lock()?;
    let mut roster = dir.roster()?;
    let own = std::mem::take(&mut roster.statements);
    roster.team = team;
    roster.merge(statements);
    roster.merge(own);
    let me = keys.member_id().to_string();
    if !roster.members().iter().any(|m| m.id == me) {
        bail!("the inviter's answer does not admit you; nothing changed");
    }
    dir.save_roster(&roster, &lock)?;
    remember_inviter(&dir, &ticket, &lock)?;
    let names: Vec<String> = roster.members().into_iter().map(|m| m.name).collect();
    println!(
        "joined team '{}' as {member_name}; members: {}",
        roster.team_name().unwrap_or_default(),
        names.join(", ")
    );
    println!("next: `kith daemon` keeps you in sync (or `kith sync` once)");
    Ok(())
}

pub fn remember_inviter(
    dir: &TeamDir,
    ticket: &Ticket,
    lock: &kith::team::TeamLock,
) -> anyhow::Result<()> {
    let mut book = dir.peers()?;
    let rec = book.devices.entry(ticket.inviter.clone()).or_default();
    rec.addrs.extend(ticket.addrs.iter().cloned());
    book.relays.extend(ticket.relays.iter().cloned());
    dir.save_peers(&book, lock)?;
    Ok(())
}

fn relays(env: &Env, json: bool) -> anyhow::Result<()> {
    let roster = TeamDir::new(&env.home).roster()?;
    let relays = roster.relays();
    if json {
        return print_json(&relays);
    }
    if relays.is_empty() {
        println!("no relays: run `kith daemon --relay` on an always-on machine of the team");
        return Ok(());
    }
    let s = env.style();
    for r in &relays {
        let since = jiff::Timestamp::from_second(r.at)?
            .to_zoned(env.tz.clone())
            .strftime("%Y-%m-%d");
        println!(
            "{} {}",
            s.bold(&format!("{} ({})", r.member, r.device_name)),
            s.dim(&format!("since {since}"))
        );
        for a in r.dial_addrs() {
            println!("  {a}");
        }
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct MemberRow {
    name: String,
    id: String,
    creator: bool,
    you: bool,
    joined: String,
    left: Option<String>,
    devices: Vec<DeviceRow>,
    last_synced: Option<String>,
    connected: bool,
}

#[derive(serde::Serialize)]
struct DeviceRow {
    id: String,
    name: String,
    connected: bool,
    last_synced: Option<String>,
}

fn members(env: &Env, json: bool) -> anyhow::Result<()> {
    let rows = member_rows(env)?;
    if json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        eprintln!("not in a team yet: `kith team create NAME` or `kith team join TICKET`");
        return Ok(());
    }
    let s = env.style();
    for m in rows {
        let mut tags = Vec::new();
        if m.you {
            tags.push("you".to_string());
        }
        if m.creator {
            tags.push("created the team".into());
        }
        if let Some(left) = &m.left {
            tags.push(format!("left on {left}"));
        }
        let state = if m.you {
            String::new()
        } else if m.connected {
            "connected".into()
        } else {
            match &m.last_synced {
                Some(t) => format!("last synced {t}"),
                None => "never synced".into(),
            }
        };
        println!(
            "{:<16} {:<26} {}  {}",
            s.bold(&m.name),
            state,
            s.dim(&tags.join(", ")),
            s.dim(&m.id)
        );
    }
    Ok(())
}

fn member_rows(env: &Env) -> anyhow::Result<Vec<MemberRow>> {
    let dir = TeamDir::new(&env.home);
    let roster = dir.roster()?;
    let book = dir.peers()?;
    let connected = kith::sync::daemon::connected(&env.home);
    let me = Keys::load_or_create(&env.home)
        .map(|k| k.member_id().to_string())
        .unwrap_or_default();
    let when = |t: i64| {
        jiff::Timestamp::from_second(t)
            .map(|ts| {
                ts.to_zoned(env.tz.clone())
                    .strftime("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_default()
    };
    Ok(roster
        .members()
        .into_iter()
        .map(|m| {
            let devices: Vec<DeviceRow> = m
                .devices
                .iter()
                .map(|d| DeviceRow {
                    id: d.id.clone(),
                    name: d.name.clone(),
                    connected: connected.contains(&d.id),
                    last_synced: book
                        .devices
                        .get(&d.id)
                        .and_then(|r| r.last_synced)
                        .map(when),
                })
                .collect();
            let last = m
                .devices
                .iter()
                .filter_map(|d| book.devices.get(&d.id).and_then(|r| r.last_synced))
                .max();
            MemberRow {
                you: m.id == me,
                connected: devices.iter().any(|d| d.connected),
                name: m.name,
                creator: m.creator,
                joined: when(m.joined),
                left: m.removed.map(|t| when(t)[..10].to_string()),
                last_synced: last.map(when),
                devices,
                id: m.id,
            }
        })
        .collect())
}

fn remove(env: &Env, who: &str) -> anyhow::Result<()> {
    let keys = Keys::load_or_create(&env.home)?;
    let dir = TeamDir::new(&env.home);
    let lock = dir.lock()?;
    let mut roster = dir.roster()?;
    let team = roster.team.clone().context("you are not in a team")?;
    let member = roster.find_member(who)?;
    if roster.creator() != Some(keys.member_id()) {
        bail!("only the team's creator can remove members");
    }
    if member.id == keys.member_id().to_string() {
        bail!("the creator cannot remove themselves");
    }
    if member.removed.is_some() {
        bail!("{} has already left the team", member.name);
    }
    roster.add(Statement::sign(
        &keys.member,
        &Claim::Remove {
            team,
            member: member.id.clone(),
            at: env.now.as_second(),
        },
    )?);
    dir.save_roster(&roster, &lock)?;
    println!(
        "removed {} from the team: their devices are refused from now on; what they shared until now stays readable",
        member.name
    );
    Ok(())
}

/// A home is in one team at a time; one removed from its team is told how
/// to move on.
fn refuse_if_in_team(roster: &Roster, keys: &Keys) -> anyhow::Result<()> {
    let Some(team) = roster.team_name() else {
        return Ok(());
    };
    let me = keys.member_id().to_string();
    if roster
        .members()
        .iter()
        .any(|m| m.id == me && m.removed.is_some())
    {
        bail!(
            "you were removed from team '{team}': run `kith team leave` first (your ledger stays)"
        );
    }
    bail!("this home is already in team '{team}' (`kith team leave` to leave it)")
}

fn leave(env: &Env) -> anyhow::Result<()> {
    if kith::sync::daemon::is_running(&env.home) {
        bail!("the daemon is running: stop it first");
    }
    let dir = TeamDir::new(&env.home);
    let roster = dir.roster()?;
    let Some(team) = roster.team_name() else {
        bail!("this home is not in a team");
    };
    let keys = Keys::load_or_create(&env.home)?;
    let lock = dir.lock()?;
    dir.save_roster(&roster.without_team(&keys.member_id()), &lock)?;
    dir.save_invites(&[], &lock)?;
    dir.save_peers(&Default::default(), &lock)?;
    drop(lock);
    for sub in ["replicas", "sync"] {
        let path = env.home.join(sub);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
        }
    }
    kith::index::team::TeamIndex::remove(&env.home);
    println!("left team '{team}'; your own ledger is unchanged");
    Ok(())
}
