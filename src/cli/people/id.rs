//! `kith id`: this device's and this person's identities.

use clap::Args;
use kith::identity::Keys;
use kith::team::TeamDir;

use crate::cli::{Env, print_json};

/// Show this device's id (what teammates allow) and your member id (shared by your devices)
#[derive(Args, Debug)]
pub struct IdArgs {
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct Identity {
    device: String,
    device_name: String,
    member: String,
    name: Option<String>,
    team: Option<String>,
    team_id: Option<String>,
}

pub fn run(env: &Env, args: IdArgs) -> anyhow::Result<()> {
    drop(env.open()?);
    let keys = Keys::load_or_create(&env.home)?;
    let roster = TeamDir::new(&env.home).roster()?;
    let member = keys.member_id().to_string();
    let id = Identity {
        device: keys.device_id().to_string(),
        device_name: kith::replicas::device_name(&env.home),
        name: roster
            .members()
            .into_iter()
            .find(|m| m.id == member)
            .map(|m| m.name),
        member,
        team: roster.team_name(),
        team_id: roster.team.clone(),
    };
    if args.json {
        return print_json(&id);
    }
    let s = env.style();
    println!("device  {}  {}", id.device, s.dim(&id.device_name));
    println!(
        "member  {}  {}",
        id.member,
        s.dim(id.name.as_deref().unwrap_or(""))
    );
    match &id.team {
        Some(t) => println!("team    {t}"),
        None => println!(
            "team    {}",
            s.dim("none yet: `kith team create NAME` or `kith team join TICKET`")
        ),
    }
    Ok(())
}
