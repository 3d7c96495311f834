//! placeholder
use super::Env;
use clap::Args;
/// Take a guided tour on a throwaway ledger
#[derive(Args, Debug)]
pub struct DemoArgs {}
pub fn run(_env: &Env, _args: DemoArgs) -> anyhow::Result<()> {
    Ok(())
}
