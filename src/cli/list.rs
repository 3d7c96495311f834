//! `kith list`: people, filtered by tag or company; or companies.

use clap::Args;
use kith::model::Kind;
use kith::ops::ListFilter;
use kith::view::{self, Detail};

use super::{Env, print_json};

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
    let views = ledger
        .list_people(&filter)?
        .iter()
        .map(|p| view::person(index, p, Detail::Summary))
        .collect::<kith::Result<Vec<_>>>()?;
    if args.json {
        return print_json(&views);
    }
    for p in &views {
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
        println!(
            "{:<28} {at}{}  {}",
            p.name,
            s.dim(&tags),
            s.dim(p.id.short())
        );
    }
    Ok(())
}

/// People (or companies) in this ledger and every replica, marked by owner.
fn run_team(env: &Env, args: ListArgs) -> anyhow::Result<()> {
    let own = env.open()?;
    let replicas = env.replicas()?;
    let mut sources: Vec<(String, Option<String>, &kith::Ledger)> =
        vec![(env.my_name(), None, &own)];
    for r in &replicas {
        sources.push((r.label(&env.tz), Some(r.owner.id.clone()), &r.ledger));
    }
    let s = env.style();
    let mut rows: Vec<(String, serde_json::Value, String)> = Vec::new();
    for (owner, owner_id, ledger) in sources {
        let index = ledger.index();
        if args.companies {
            for c in ledger.list_companies(false, args.limit)? {
                let v = view::company(index, &c, Detail::Summary)?;
                let line = format!("{:<32} {}", v.name, s.dim(&format!("[{owner}]")));
                rows.push((
                    v.name.to_lowercase(),
                    super::with_owner(&v, &owner, owner_id.as_deref()),
                    line,
                ));
            }
            continue;
        }
        let company = match &args.company {
            Some(c) => match ledger.resolve(c, &[Kind::Company], false) {
                Ok(e) => Some(e.id),
                Err(kith::Error::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let filter = ListFilter {
            tag: args.tag.clone(),
            company,
            removed: false,
            limit: args.limit,
        };
        for p in ledger.list_people(&filter)? {
            let v = view::person(index, &p, Detail::Summary)?;
            let at = v.company.clone().unwrap_or_default();
            let line = format!("{:<28} {at}  {}", v.name, s.dim(&format!("[{owner}]")));
            rows.push((
                v.sort_name.to_lowercase(),
                super::with_owner(&v, &owner, owner_id.as_deref()),
                line,
            ));
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(limit) = args.limit {
        rows.truncate(limit);
    }
    if args.json {
        return print_json(&rows.into_iter().map(|r| r.1).collect::<Vec<_>>());
    }
    for (_, _, line) in rows {
        println!("{line}");
    }
    Ok(())
}
