//! `kith follow-up WHO TEXT --due D`: something promised.

use clap::Args;

use crate::cli::{Env, PrivacyFlags, person, print_json};

/// Add a follow-up for a person, due on a day
#[derive(Args, Debug)]
pub struct FollowUpArgs {
    /// A name (typos are fine), an email, or an id prefix
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
    who: String,
    /// What to do
    text: String,
    /// When: 2026-12-04, friday, tomorrow, +3d
    #[arg(long, allow_hyphen_values = true)]
    due: String,
    #[command(flatten)]
    privacy: PrivacyFlags,
    /// Print the new follow-up's id as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: FollowUpArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let who = person(&ledger, &args.who)?;
    let id = ledger.follow_up(&who, &args.text, &args.due, args.privacy.choice())?;
    let item = ledger.entity(&id)?;
    if args.json {
        return print_json(&serde_json::json!({ "id": id, "due": item.str("due") }));
    }
    println!(
        "follow-up {} for {} due {}",
        id.short(),
        who.str("name").unwrap_or(""),
        item.str("due").unwrap_or("")
    );
    Ok(())
}
