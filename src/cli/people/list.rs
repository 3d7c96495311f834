//! `kith list`: people, filtered by tag or company; or companies.

use std::io::{BufWriter, Write};

use clap::Args;
use kith::model::Kind;
use kith::ops::ListFilter;
use kith::replicas::{Listed, TeamListFilter, TeamListed, list_team};
use kith::view::{self, Detail};
use serde::ser::{SerializeSeq, Serializer};

use crate::cli::{Env, print_json};

/// List people by sort name, or companies
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only people with this tag
    #[arg(long)]
    tag: Option<String>,
    /// Only people at this company
    #[arg(long)]
    company: Option<String>,
    /// List companies instead of people
    #[arg(long, conflicts_with_all = ["tag", "company"])]
    companies: bool,
    /// List removed people, whom `kith restore` can bring back
    #[arg(long)]
    removed: bool,
    /// At most this many
    #[arg(long)]
    limit: Option<usize>,
    /// Also list teammates' ledgers, each person marked with whose it is
    #[arg(long, conflicts_with_all = ["removed"])]
    team: bool,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: ListArgs) -> anyhow::Result<()> {
    if args.team {
        return run_team(env, args);
    }
    let ledger = env.open()?;
    let index = ledger.index();
    let s = env.style();
    if args.companies {
        let views = ledger
            .list_companies(args.removed, args.limit)?
            .iter()
            .map(|c| view::company(index, c, Detail::Summary))
            .collect::<kith::Result<Vec<_>>>()?;
        if args.json {
            return print_json(&views);
        }
        for c in views {
            let n = c.people.len();
            let people = if n == 1 { "person" } else { "people" };
            println!("{:<32} {n:>4} {people}  {}", c.name, s.dim(c.id.short()));
        }
        return Ok(());
    }
    let company = match &args.company {
        Some(c) => Some(ledger.resolve(c, &[Kind::Company], false)?.id),
        None => None,
    };
    let filter = ListFilter {
        tag: args.tag,
        company,
        removed: args.removed,
        limit: args.limit,
    };
    // One lock on stdout and one buffer for the whole listing: a line per
    // person through println! cost a write(2) each.
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.json {
        // Streamed a person at a time, byte for byte what
        // serde_json::to_string_pretty gives for the whole list.
        let mut json = serde_json::Serializer::with_formatter(
            &mut out,
            serde_json::ser::PrettyFormatter::new(),
        );
        let mut seq = json.serialize_seq(None)?;
        ledger.list_summaries(&filter, true, |p| {
            seq.serialize_element(&p).map_err(anyhow::Error::from)
        })?;
        seq.end()?;
        writeln!(out)?;
        out.flush()?;
        return Ok(());
    }
    // The lines show no facts and no last contact: they are not read.
    ledger.list_summaries(&filter, false, |p| {
        let at = match (&p.title, &p.company) {
            (Some(t), Some(c)) => format!("{t}, {c}"),
            (None, Some(c)) => c.clone(),
            (Some(t), None) => t.clone(),
            (None, None) => String::new(),
        };
        let tags = if p.tags.is_empty() {
            String::new()
        } else {
            format!("  #{}", p.tags.join(" #"))
        };
        writeln!(
            out,
            "{:<28} {at}{}  {}",
            p.name,
            s.dim(&tags),
            s.dim(p.id.short())
        )
        .map_err(anyhow::Error::from)
    })?;
    out.flush()?;
    Ok(())
}

/// People (or companies) in this ledger and every replica, marked by owner.
fn run_team(env: &Env, args: ListArgs) -> anyhow::Result<()> {
    let own = env.open()?;
    let filter = TeamListFilter {
        tag: args.tag,
        company: args.company,
        companies: args.companies,
        limit: args.limit,
    };
    let rows = list_team(&env.opener(), &own, &filter)?;
    if args.json {
        return print_json(&rows.iter().map(TeamListed::json).collect::<Vec<_>>());
    }
    let s = env.style();
    for row in &rows {
        let owner = s.dim(&format!("[{}]", row.owner));
        match &row.item {
            Listed::Company(v) => println!("{:<32} {owner}", v.name),
            Listed::Person(v) => {
                let at = v.company.clone().unwrap_or_default();
                println!("{:<28} {at}  {owner}", v.name);
            }
        }
    }
    Ok(())
}
