//! `kith link WHO RELATION WHO2`: "Daisy child Edna" reads "Daisy is Edna's child".

use clap::Args;

use crate::cli::{Env, PrivacyFlags, person, print_json};

/// Record how two people are related: WHO is RELATION of WHO2
#[derive(Args, Debug)]
pub struct LinkArgs {
    /// The first person
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
    who: String,
    /// spouse, child, parent, sibling, colleague, reports-to, friend, introduced-by, or any word
    relation: String,
    /// The second person
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
    who2: String,
    #[command(flatten)]
    privacy: PrivacyFlags,
    /// Print the new relationship's id as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: LinkArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let a = person(&ledger, &args.who)?;
    let b = person(&ledger, &args.who2)?;
    let id = ledger.link(&a, &args.relation, &b, args.privacy.choice())?;
    if args.json {
        return print_json(&serde_json::json!({ "id": id }));
    }
    println!(
        "{} is {} of {}",
        a.str("name").unwrap_or(""),
        args.relation.to_lowercase(),
        b.str("name").unwrap_or("")
    );
    Ok(())
}
