//! `kith keep-in-touch WHO --every 3w`.

use clap::Args;

use crate::cli::{Env, person};

/// Say how often to be in touch with someone; kith today reminds you
#[derive(Args, Debug)]
pub struct KeepInTouchArgs {
    /// A name (typos are fine), an email, or an id prefix
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
    who: String,
    /// How often: 10d, 3w, 2m, 1y
    #[arg(long, required_unless_present = "stop")]
    every: Option<String>,
    /// Stop reminding
    #[arg(long, conflicts_with = "every")]
    stop: bool,
}

pub fn run(env: &Env, args: KeepInTouchArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let who = person(&ledger, &args.who)?;
    let name = who.str("name").unwrap_or("").to_string();
    ledger.keep_in_touch(&who, args.every.as_deref())?;
    match args.every {
        Some(every) => println!("keep in touch with {name} every {every}"),
        None => println!("no more reminders for {name}"),
    }
    Ok(())
}
