//! `kith history WHO`: a person's whole timeline, from the automerge history.

use clap::Args;

use super::{Env, person, print_json};

/// Show a person's timeline: interactions and every change to their record
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// A name (typos are fine), an email, or an id prefix
    who: String,
    /// Only the latest N events
    #[arg(long)]
    limit: Option<usize>,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: HistoryArgs) -> anyhow::Result<()> {
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
