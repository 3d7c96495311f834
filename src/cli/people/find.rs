//! `kith find QUERY`: search everything, typos forgiven.

use clap::Args;
use kith::model::Kind;
use kith::replicas::{find, find_team};

use crate::cli::{Env, print_json};

/// Find people and companies by name (typos are fine), email, phone, company, fact, note or interaction
#[derive(Args, Debug)]
pub struct FindArgs {
    /// What to look for
    #[arg(value_parser = crate::cli::lookup)]
    query: String,
    /// At most this many results
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Also search teammates' ledgers
    #[arg(long)]
    team: bool,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: FindArgs) -> anyhow::Result<()> {
    let ledger = env.open()?;
    let found = if args.team {
        find_team(&env.opener(), &ledger, &args.query, args.limit)?
    } else {
        find(&ledger, &args.query, args.limit)?
    };
    if args.json {
        return print_json(&found);
    }
    if found.is_empty() {
        eprintln!("nothing matches '{}'", args.query);
        return Ok(());
    }
    let s = env.style();
    for f in &found {
        let company = f
            .company
            .as_deref()
            .map(|c| format!(", {c}"))
            .unwrap_or_default();
        let kind = if f.kind == Kind::Company {
            " (company)"
        } else {
            ""
        };
        let owner = f
            .owner
            .as_deref()
            .map(|o| format!("  [{o}]"))
            .unwrap_or_default();
        println!(
            "{}{company}{kind}{}  {}  {}",
            s.bold(&f.name),
            s.dim(&owner),
            s.dim(&f.why),
            s.dim(f.id.short())
        );
    }
    Ok(())
}
