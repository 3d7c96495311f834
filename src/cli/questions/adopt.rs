//! `kith adopt MEMBER/WHO`: continue a teammate's relationship in one's own
//! ledger, with where it came from kept on every copy.

use clap::Args;
use kith::adopt::Choice;

use crate::cli::{Env, print_json};

/// Copy a person (and chosen facts, notes, interactions, relationships) from a teammate's ledger into yours, marked with where it came from
#[derive(Args, Debug)]
pub struct AdoptArgs {
    /// MEMBER/WHO: the teammate, then a name, email or id in their ledger
    #[arg(value_parser = crate::cli::lookup)]
    who: String,
    /// Also copy their facts about the person
    #[arg(long)]
    facts: bool,
    /// Also copy their notes
    #[arg(long)]
    notes: bool,
    /// Also copy the interactions (when, how, and any shared summary)
    #[arg(long)]
    interactions: bool,
    /// Also copy relationships to people already in your ledger
    #[arg(long)]
    relationships: bool,
    /// Copy everything listed above
    #[arg(long)]
    all: bool,
    /// Copy this one item (an id or prefix, as `kith show MEMBER/WHO --json` lists); repeatable
    #[arg(long = "item", value_name = "ID")]
    items: Vec<String>,
    /// Print what was copied as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: AdoptArgs) -> anyhow::Result<()> {
    let (replica, person) = env.opener().teammate_person(&args.who)?;
    let mut ledger = env.open()?;
    let choice = Choice {
        facts: args.facts || args.all,
        notes: args.notes || args.all,
        interactions: args.interactions || args.all,
        relationships: args.relationships || args.all,
        items: args.items.clone(),
    };
    let (from, adopted) = kith::replicas::adopt(&mut ledger, &replica, &person, &choice)?;
    if args.json {
        return print_json(&adopted);
    }
    let s = env.style();
    let how = if adopted.created {
        "adopted"
    } else {
        "already here; added what was missing to"
    };
    println!(
        "{how} {} from {}'s ledger ({} field{}, {} item{})  {}",
        s.bold(&adopted.name),
        from.member,
        adopted.fields.len(),
        if adopted.fields.len() == 1 { "" } else { "s" },
        adopted.items.len(),
        if adopted.items.len() == 1 { "" } else { "s" },
        s.dim(adopted.person.short()),
    );
    for why in &adopted.skipped {
        eprintln!("skipped {why}");
    }
    Ok(())
}
