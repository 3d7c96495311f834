//! `kith done ID`: a follow-up done.

use clap::Args;

use crate::cli::Env;

/// Mark a follow-up done
#[derive(Args, Debug)]
pub struct DoneArgs {
    /// The follow-up's id or its first characters, as `kith today` shows it
    id: String,
}

pub fn run(env: &Env, args: DoneArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let item = ledger.done(&args.id)?;
    println!("done: {}", item.str("text").unwrap_or(""));
    Ok(())
}
