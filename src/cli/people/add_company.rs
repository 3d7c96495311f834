//! `kith add-company NAME`: a new company.

use clap::Args;

use crate::cli::{Env, print_json};

/// Add a company and print its id
#[derive(Args, Debug)]
pub struct AddCompanyArgs {
    /// The company's name
    name: String,
    /// Its web or email domain, such as miggins.co.uk
    #[arg(long)]
    domain: Option<String>,
    /// A tag (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Print the new company's id as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: AddCompanyArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let id = ledger.add_company(&args.name, args.domain.as_deref(), &args.tags)?;
    if args.json {
        print_json(&serde_json::json!({ "id": id }))
    } else {
        println!("{id}");
        Ok(())
    }
}
