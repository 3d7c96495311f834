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
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct Found {
    id: kith::model::Id,
    kind: Kind,
    name: String,
    company: Option<String>,
    score: f64,
    why: String,
}

pub fn run(env: &Env, args: FindArgs) -> anyhow::Result<()> {
    let ledger = env.open()?;
    let index = ledger.index();
    let hits = index.find(&args.query, args.limit, false)?;
    let found: Vec<Found> = hits
        .into_iter()
        .filter_map(|h| {
            let e = index.entity(&h.id).ok().flatten()?;
            let company = e
                .str("company")
                .and_then(|c| kith::model::Id::parse(c).ok())
                .and_then(|c| index.entity(&c).ok().flatten())
                .and_then(|c| c.str("name").map(str::to_string));
            Some(Found {
                name: e.str("name").unwrap_or("").to_string(),
                id: h.id,
                kind: h.kind,
                company,
                score: (h.score * 1000.0).round() / 1000.0,
                why: h.why,
            })
        })
        .collect();
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
        println!(
            "{}{company}{kind}  {}  {}",
            s.bold(&f.name),
            s.dim(&f.why),
            s.dim(f.id.short())
        );
    }
    Ok(())
}
