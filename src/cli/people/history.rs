//! `kith history WHO`: a person's whole timeline, from the automerge history.

use clap::Args;

use kith::replicas::TeamLedgers;

use crate::cli::{Env, person, print_json};

/// Show a person's timeline: interactions and every change to their record
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// A name (typos are fine), an email, or an id prefix
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
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
        let at = crate::cli::style::first_chars(&at, 16);
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

/// The person's timeline in every ledger on the team, newest first: who
/// added what, when, and on which device.
fn run_team(env: &Env, args: HistoryArgs) -> anyhow::Result<()> {
    let mut team = TeamLedgers::open(&env.opener(), env.open()?, None)?;
    let events = team.history(&args.who, args.limit)?;
    if args.json {
        return print_json(&events);
    }
    let s = env.style();
    let width = events.iter().map(|e| e.owner.len()).max().unwrap_or(0);
    for e in &events {
        let at = e.event.at.replace('T', " ");
        let at = crate::cli::style::first_chars(&at, 16);
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
