//! `kith intro-path WHO`: the warm ways to reach someone, through teammates
//! and recorded relationships.

use clap::Args;
use kith::replicas::intro_paths;

use crate::cli::{Env, print_json};

/// The warmest ways to reach someone: through teammates and the relationships recorded in every ledger
#[derive(Args, Debug)]
pub struct IntroPathArgs {
    /// A name or an email
    #[arg(value_parser = crate::cli::lookup)]
    who: String,
    /// At most this many paths
    #[arg(long, default_value_t = 5)]
    limit: usize,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: IntroPathArgs) -> anyhow::Result<()> {
    let own = env.open()?;
    let paths = intro_paths(&env.opener(), &*own, &args.who, args.limit)?;
    if args.json {
        return print_json(&paths);
    }
    if paths.is_empty() {
        eprintln!("no warm path to '{}' is recorded", args.who);
        return Ok(());
    }
    let s = env.style();
    for p in &paths {
        let mut line = s.bold("you");
        for step in &p.steps {
            let how = match (step.how.as_str(), &step.recorded_by) {
                ("teammate", _) => "teammate".to_string(),
                ("knows", Some(by)) if by == "you" => format!("knows, {}", step.strength),
                ("knows", _) => format!("knows, {}", step.strength),
                (rel, Some(by)) => format!("{rel}, per {by}"),
                (rel, None) => rel.to_string(),
            };
            line.push_str(&format!(" → {} {}", step.name, s.dim(&format!("({how})"))));
        }
        println!("{:>3}  {line}", p.weakest);
    }
    Ok(())
}
