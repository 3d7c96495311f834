//! `kith note WHO TEXT`: a free-form note.

use clap::Args;
use kith::model::{Kind, Privacy};

use crate::cli::{Env, PrivacyFlags, print_json};

/// Add a note to a person or company (private unless --shared)
#[derive(Args, Debug)]
pub struct NoteArgs {
    /// A name (typos are fine), an email, or an id prefix
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
    who: String,
    /// The note
    text: String,
    #[command(flatten)]
    privacy: PrivacyFlags,
    /// Print the new note's id as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: NoteArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let who = ledger.resolve(&args.who, &[Kind::Person, Kind::Company], false)?;
    let privacy = args
        .privacy
        .choice()
        .unwrap_or(ledger.settings.privacy.notes);
    let id = ledger.add_note(&who, &args.text, Some(privacy))?;
    if args.json {
        return print_json(
            &serde_json::json!({ "id": id, "private": privacy == Privacy::Private }),
        );
    }
    println!(
        "note {} on {}{}",
        id.short(),
        who.str("name").unwrap_or(""),
        env.style().private(privacy == Privacy::Private)
    );
    Ok(())
}
