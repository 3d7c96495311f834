//! `kith history WHO`: a person's whole timeline, from the automerge history.

use clap::Args;

use kith::history::Event;

use super::{Env, person, print_json};

/// Show a person's timeline: interactions and every change to their record
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// A name (typos are fine), an email, or an id prefix
    who: String,
    /// Only the latest N events
    #[arg(long)]
    limit: Option<usize>,
    /// Also what each teammate's shared ledger recorded about them, and who
    #[arg(long)]
    team: bool,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: HistoryArgs) -> anyhow::Result<()> {
    if args.team {
        return run_team(env, args);
    }
    let mut ledger = env.open()?;
    let who = person(&ledger, &args.who)?;
    let events = ledger.history(&who, args.limit)?;
    if args.json {
        return print_json(&events);
    }
    let s = env.style();
    for e in &events {
        let at = e.at.replace('T', " ");
        let at = super::style::first_chars(&at, 16);
        let device = e
            .device
            .as_deref()
            .map(|d| format!(" on {d}"))
            .unwrap_or_default();
        println!(
            "{}  {}{}{}",
            s.dim(at),
            e.summary,
            s.dim(&device),
            s.private(e.private)
        );
        for d in &e.details {
            println!("      {}", s.dim(d));
        }
    }
    Ok(())
}

/// One event and whose ledger recorded it.
#[derive(serde::Serialize)]
struct TeamEvent {
    owner: String,
    owner_id: Option<String>,
    #[serde(flatten)]
    event: Event,
}

/// The person's timeline in every ledger on the team, newest first: who
/// added what, when, and on which device.
fn run_team(env: &Env, args: HistoryArgs) -> anyhow::Result<()> {
    let mut team = super::TeamLedgers::open(env, None)?;
    let found = kith::knows::locate(&team.sources(), &args.who)?;
    let mut events = Vec::new();
    for (source, id) in found {
        let (owner, owner_id) = team.owner_of(source);
        let ledger = team.ledger_mut(source);
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
    if let Some(n) = args.limit {
        events.truncate(n);
    }
    if args.json {
        return print_json(&events);
    }
    let s = env.style();
    let width = events.iter().map(|e| e.owner.len()).max().unwrap_or(0);
    for e in &events {
        let at = e.event.at.replace('T', " ");
        let at = super::style::first_chars(&at, 16);
        let device = e
            .event
            .device
            .as_deref()
            .map(|d| format!(" on {d}"))
            .unwrap_or_default();
        println!(
            "{}  {:width$}  {}{}{}",
            s.dim(at),
            e.owner,
            e.event.summary,
            s.dim(&device),
            s.private(e.event.private)
        );
        for d in &e.event.details {
            println!("      {:width$}  {}", "", s.dim(d));
        }
    }
    Ok(())
}
