//! `kith who-knows QUERY`: who on the team knows the people a company,
//! name, email domain or tag names, and how well.

use clap::Args;
use kith::knows::Contact;
use kith::replicas::{WhoKnows, who_knows};

use crate::cli::{Env, print_json};

/// Who on the team knows someone: a company, a person, an email domain (acme.com) or a tag (#wine)
#[derive(Args, Debug)]
pub struct WhoKnowsArgs {
    /// A company, a person, an email domain (acme.com, @acme.com) or a tag (#wine, tag:wine)
    #[arg(value_parser = crate::cli::lookup)]
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
    // Damage found loading it is reported when the command is done.
    let own = env.open()?;
    let WhoKnows { contacts, as_of } = who_knows(
        &env.opener(),
        &*own,
        &args.query,
        args.at.as_deref(),
        args.limit,
        args.explain,
    )?;
    if args.json {
        return print_json(&contacts);
    }
    if contacts.is_empty() {
        eprintln!("no one on the team knows anyone matching '{}'", args.query);
        return Ok(());
    }
    if let Some(day) = as_of {
        println!("As of {day} (end of day):");
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
