//! `kith set WHO FIELD VALUE` and `kith unset WHO FIELD [VALUE]`.

use clap::Args;
use kith::model::Kind;

use crate::cli::{Env, PrivacyFlags};

/// Set a field of a person or company; email, phone, address and tag add a value
#[derive(Args, Debug)]
pub struct SetArgs {
    /// A name (typos are fine), an email, or an id prefix
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
    who: String,
    /// name, sort-name, nickname, email, phone, address, company, title,
    /// birthday, anniversary, tag, keep-in-touch (domain for companies)
    field: String,
    /// The new value
    #[arg(allow_hyphen_values = true)]
    value: String,
    /// Move the field to the shared or private part as well
    #[command(flatten)]
    privacy: PrivacyFlags,
}

/// Remove a field, or one value of email, phone, address or tag
#[derive(Args, Debug)]
pub struct UnsetArgs {
    /// A name (typos are fine), an email, or an id prefix
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
    who: String,
    /// The field to clear
    field: String,
    /// For email, phone, address or tag: the one value to remove
    value: Option<String>,
}

pub fn run(env: &Env, args: SetArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let who = ledger.resolve(&args.who, &[Kind::Person, Kind::Company], false)?;
    ledger.set_field(&who, &args.field, &args.value, args.privacy.choice())?;
    println!("{}: {} set", who.str("name").unwrap_or(""), args.field);
    Ok(())
}

pub fn run_unset(env: &Env, args: UnsetArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let who = ledger.resolve(&args.who, &[Kind::Person, Kind::Company], false)?;
    ledger.unset_field(&who, &args.field, args.value.as_deref())?;
    println!("{}: {} removed", who.str("name").unwrap_or(""), args.field);
    Ok(())
}
