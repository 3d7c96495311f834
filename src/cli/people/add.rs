//! `kith add NAME`: a new person.

use clap::Args;
use kith::ops::NewPerson;

use crate::cli::{Env, PrivacyFlags, print_json};

/// Add a person and print their id
#[derive(Args, Debug)]
pub struct AddArgs {
    /// Their full name, as you would say it
    name: String,
    /// An email address; `shop:edna@example.com` labels it (repeatable)
    #[arg(long = "email", value_name = "EMAIL")]
    emails: Vec<String>,
    /// A phone number; `mobile:07700 900123` labels it (repeatable)
    #[arg(long = "phone", value_name = "PHONE")]
    phones: Vec<String>,
    /// A postal address; `home:12 High St, Leeds` labels it (repeatable)
    #[arg(long = "address", value_name = "ADDRESS")]
    addresses: Vec<String>,
    /// The company they work for; created if new
    #[arg(long)]
    company: Option<String>,
    /// Their role or job title
    #[arg(long, visible_alias = "role")]
    title: Option<String>,
    /// 1961-04-05, or --04-05 when the year is unknown
    #[arg(long, allow_hyphen_values = true)]
    birthday: Option<String>,
    /// A wedding or other anniversary, as for --birthday
    #[arg(long, allow_hyphen_values = true)]
    anniversary: Option<String>,
    /// What they go by
    #[arg(long)]
    nickname: Option<String>,
    /// A tag or interest (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    #[command(flatten)]
    privacy: PrivacyFlags,
    /// Print the new person as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: AddArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let person = NewPerson {
        name: args.name,
        nickname: args.nickname,
        emails: args.emails,
        phones: args.phones,
        addresses: args.addresses,
        company: args.company,
        title: args.title,
        birthday: args.birthday,
        anniversary: args.anniversary,
        tags: args.tags,
        privacy: args.privacy.choice(),
    };
    let id = ledger.add_person(&person)?;
    if args.json {
        print_json(&serde_json::json!({ "id": id }))
    } else {
        println!("{id}");
        Ok(())
    }
}
