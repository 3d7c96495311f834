//! `kith log WHO… SUMMARY`: a call, email, meeting, visit or message.

use anyhow::bail;
use clap::Args;
use kith::strength::Direction;

use crate::cli::{Env, PrivacyFlags, person, print_json};

/// Record an interaction with one or more people
#[derive(Args, Debug)]
pub struct LogArgs {
    /// The people involved, then the summary last
    #[arg(required = true, num_args = 2.., value_name = "WHO… SUMMARY")]
    words: Vec<String>,
    /// call, email, meeting, visit, message, or any word
    #[arg(long, short, default_value = "call")]
    channel: String,
    /// When: 2026-11-24, 2026-11-24 10:30, yesterday, tuesday, -3d [default: now]
    #[arg(long, short, allow_hyphen_values = true)]
    date: Option<String>,
    /// They got in touch (counts towards relationship strength as reciprocity)
    #[arg(long, conflicts_with = "outbound")]
    inbound: bool,
    /// We got in touch
    #[arg(long)]
    outbound: bool,
    /// Where the summary goes; that it happened is always shared
    #[command(flatten)]
    privacy: PrivacyFlags,
    /// Print the new interaction's id as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: LogArgs) -> anyhow::Result<()> {
    let Some((summary, names)) = args.words.split_last() else {
        bail!("name at least one person and a summary");
    };
    let mut ledger = env.open()?;
    let people = names
        .iter()
        .map(|n| person(&ledger, n))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let direction = match (args.inbound, args.outbound) {
        (true, _) => Some(Direction::In),
        (_, true) => Some(Direction::Out),
        _ => None,
    };
    let id = ledger.log_directed(
        &people,
        summary,
        &args.channel,
        args.date.as_deref(),
        args.privacy.choice(),
        direction,
    )?;
    if args.json {
        return print_json(&serde_json::json!({ "id": id }));
    }
    let names: Vec<&str> = people.iter().filter_map(|p| p.str("name")).collect();
    println!(
        "logged {} with {}",
        args.channel.to_lowercase(),
        names.join(", ")
    );
    Ok(())
}
