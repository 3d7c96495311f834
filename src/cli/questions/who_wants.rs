//! `kith who-wants TOPIC`: the people most likely to care about something,
//! with the evidence.

use clap::Args;
use kith::replicas::who_wants;

use crate::cli::{Env, print_json};

/// Who is most likely to want something: tags, facts, notes and interactions that mention it, ranked
#[derive(Args, Debug)]
pub struct WhoWantsArgs {
    /// A product, an interest, a word
    #[arg(value_parser = crate::cli::lookup)]
    topic: String,
    /// Also use teammates' shared ledgers
    #[arg(long)]
    team: bool,
    /// At most this many people
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: WhoWantsArgs) -> anyhow::Result<()> {
    let own = env.open()?;
    let wants = who_wants(&env.opener(), &*own, &args.topic, args.team, args.limit)?;
    if args.json {
        return print_json(&wants);
    }
    if wants.is_empty() {
        eprintln!("nothing recorded mentions '{}'", args.topic);
        return Ok(());
    }
    let s = env.style();
    for w in &wants {
        let company = w
            .company
            .as_deref()
            .map(|c| format!(" · {c}"))
            .unwrap_or_default();
        println!("{:>3}  {}{}", w.score, s.bold(&w.name), s.dim(&company));
        for e in &w.evidence {
            let date = e
                .date
                .as_deref()
                .map(|d| format!(" {d}"))
                .unwrap_or_default();
            let owner = if args.team {
                format!("  [{}]", e.owner)
            } else {
                String::new()
            };
            println!(
                "       {} {}{}{}{}",
                s.dim(e.kind),
                e.text,
                s.dim(&date),
                s.dim(&owner),
                s.private(e.private)
            );
        }
    }
    Ok(())
}
