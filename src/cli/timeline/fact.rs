//! `kith fact WHO TEXT`: something learned about a person or company.

use clap::Args;
use kith::model::Kind;

use crate::cli::{Env, PrivacyFlags, print_json};

/// Record a fact about a person or company (private unless --shared)
#[derive(Args, Debug)]
pub struct FactArgs {
    /// A name (typos are fine), an email, or an id prefix
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
    who: String,
    /// The fact, e.g. "husband smokes Old Holborn, 50 g tin"
    text: String,
    /// When you learned it [default: today]
    #[arg(long)]
    learned: Option<String>,
    #[command(flatten)]
    privacy: PrivacyFlags,
    /// Print the new fact's id as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: FactArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let who = ledger.resolve(&args.who, &[Kind::Person, Kind::Company], false)?;
    let privacy = args
        .privacy
        .choice()
        .unwrap_or(ledger.settings.privacy.facts);
    let id = ledger.add_fact(&who, &args.text, args.learned.as_deref(), Some(privacy))?;
    if args.json {
        return print_json(
            &serde_json::json!({ "id": id, "private": privacy == kith::model::Privacy::Private }),
        );
    }
    println!(
        "fact {} about {}{}",
        id.short(),
        who.str("name").unwrap_or(""),
        env.style()
            .private(privacy == kith::model::Privacy::Private)
    );
    Ok(())
}
