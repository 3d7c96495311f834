//! `kith who-knows QUERY`: who on the team knows the people a company,
//! name, email domain or tag names, and how well.

use clap::Args;
use kith::knows::{Contact, who_knows};

use super::{Env, print_json};

/// Who on the team knows someone: a company, a person, an email domain (acme.com) or a tag (#wine)
#[derive(Args, Debug)]
pub struct WhoKnowsArgs {
    /// A company, a person, an email domain (acme.com, @acme.com) or a tag (#wine, tag:wine)
    query: String,
    /// Show the terms each strength is the sum of
    #[arg(long)]
    explain: bool,
    /// What the team knew at the end of this day: 2026-11-20, yesterday, -30d
    #[arg(long, allow_hyphen_values = true)]
    at: Option<String>,
    /// At most this many people
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: WhoKnowsArgs) -> anyhow::Result<()> {
    let (contacts, note) = match args.at.as_deref() {
        // The past is derived from each ledger's history, one by one.
        Some(at) => {
            let team = super::TeamLedgers::open(env, Some(at))?;
            let contacts = who_knows(
                &team.sources(),
                None,
                &args.query,
                team.today,
                args.limit,
                args.explain,
            )?;
            (contacts, team.as_of_note())
        }
        None => {
            let team = super::TeamIndexed::open(env)?;
            let contacts = who_knows(
                &team.sources(),
                team.team(),
                &args.query,
                team.today(),
                args.limit,
                args.explain,
            )?;
            (contacts, None)
        }
    };
    if args.json {
        return print_json(&contacts);
    }
    if contacts.is_empty() {
        eprintln!("no one on the team knows anyone matching '{}'", args.query);
        return Ok(());
    }
    if let Some(note) = note {
        println!("{note}");
    }
    for c in &contacts {
        print_contact(env, c, args.explain);
    }
    Ok(())
}

fn print_contact(env: &Env, c: &Contact, explain: bool) {
    let s = env.style();
    let company = c
        .company
        .as_deref()
        .map(|c| format!(" · {c}"))
        .unwrap_or_default();
    println!("{}{}", s.bold(&c.name), s.dim(&company));
    let width = c.known_by.iter().map(|k| k.owner.len()).max().unwrap_or(0);
    for k in &c.known_by {
        let last = match (&k.last_contact, &k.last_channel) {
            (Some(d), Some(ch)) => format!("last {d} {ch}"),
            (Some(d), None) => format!("last {d}"),
            _ => "no interactions recorded".into(),
        };
        println!(
            "  {:width$}  {} {:>3}  {}",
            k.owner,
            bar(k.strength),
            k.strength,
            s.dim(&last),
        );
        if explain && let Some(terms) = &k.terms {
            for t in terms {
                println!(
                    "  {:width$}      {:<12} {:>5.1} of {:>2}  {}",
                    "",
                    t.name,
                    t.points,
                    t.max,
                    s.dim(&t.why)
                );
            }
        }
    }
}

/// A ten-step bar for a 0–100 strength.
pub fn bar(strength: u8) -> String {
    let full = (usize::from(strength) + 5) / 10;
    format!(
        "{}{}",
        "█".repeat(full.min(10)),
        "░".repeat(10 - full.min(10))
    )
}
