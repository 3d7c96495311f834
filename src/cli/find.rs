//! `kith find QUERY`: search everything, typos forgiven.

use clap::Args;
use kith::model::Kind;

use super::{Env, print_json};

/// Find people and companies by name (typos are fine), email, phone, company, fact, note or interaction
#[derive(Args, Debug)]
pub struct FindArgs {
    /// What to look for
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

#[derive(serde::Serialize)]
struct Found {
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner_id: Option<String>,
    id: kith::model::Id,
    kind: Kind,
    name: String,
    company: Option<String>,
    score: f64,
    why: String,
}

pub fn run(env: &Env, args: FindArgs) -> anyhow::Result<()> {
    let ledger = env.open()?;
    let mut found = search(&ledger, &args.query, args.limit)?;
    if args.team {
        let me = env.my_name();
        for f in &mut found {
            f.owner = Some(me.clone());
        }
        for replica in env.replicas()? {
            let mut theirs = search(&replica.ledger, &args.query, args.limit)?;
            for f in &mut theirs {
                f.owner = Some(replica.label(&env.tz));
                f.owner_id = Some(replica.owner.id.clone());
            }
            found.extend(theirs);
        }
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        found.truncate(args.limit);
    }
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

fn search(ledger: &kith::Ledger, query: &str, limit: usize) -> anyhow::Result<Vec<Found>> {
    let index = ledger.index();
    let hits = index.find(query, limit, false)?;
    Ok(hits
        .into_iter()
        .filter_map(|h| {
            let e = index.entity(&h.id).ok().flatten()?;
            let company = e
                .str("company")
                .and_then(|c| kith::model::Id::parse(c).ok())
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
