//! `kith rm WHO` and `kith restore WHO`. Removal only marks the record:
//! everything stays in the ledger's history and comes back with restore.

use clap::Args;
use kith::model::Kind;

use crate::cli::Env;

/// Remove a person or company (kith restore brings them back)
#[derive(Args, Debug)]
pub struct RmArgs {
    /// A name (typos are fine), an email, or an id prefix
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
    who: String,
}

/// Bring back a person or company removed with kith rm
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// A name (typos are fine), an email, or an id prefix
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
    who: String,
}

pub fn run(env: &Env, args: RmArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let who = ledger.resolve(&args.who, &[Kind::Person, Kind::Company], false)?;
    ledger.remove(&who)?;
    println!(
        "removed {} ({}); `kith restore {}` brings them back",
        who.str("name").unwrap_or(""),
        who.id.short(),
        who.id.short()
    );
    Ok(())
}

pub fn run_restore(env: &Env, args: RestoreArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let who = ledger.resolve(&args.who, &[Kind::Person, Kind::Company], true)?;
    ledger.restore(&who)?;
    println!(
        "restored {} ({})",
        who.str("name").unwrap_or(""),
        who.id.short()
    );
    Ok(())
}
