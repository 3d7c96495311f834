//! `kith device link` / `kith device join`: the same person on another
//! machine. Own devices sync both parts of the ledger.

use anyhow::bail;
use clap::{Args, Subcommand};
use kith::identity::Keys;
use kith::sync::proto::{JoinRequest, Response};
use kith::team::{Claim, Statement, TeamDir, TicketKind};

use crate::cli::Env;
use crate::cli::team::{InviteArgs, JoinArgs};

/// Your other devices: link one, or join from one
#[derive(Args, Debug)]
pub struct DeviceArgs {
    #[command(subcommand)]
    command: DeviceCommand,
}

#[derive(Subcommand, Debug)]
enum DeviceCommand {
    /// Print a one-time ticket for your other machine's `kith device join`
    Link(InviteArgs),
    /// Make this machine another device of the person who linked it
    Join(JoinArgs),
}

pub fn run(env: &Env, args: DeviceArgs) -> anyhow::Result<()> {
    match args.command {
        DeviceCommand::Link(a) => crate::cli::team::invite(env, TicketKind::Device, a),
        DeviceCommand::Join(a) => join(env, a),
    }
}

fn join(env: &Env, args: JoinArgs) -> anyhow::Result<()> {
    let (ticket, keys) = crate::cli::team::accept_ticket(env, &args.ticket, TicketKind::Device)?;
    let dir = TeamDir::new(&env.home);
    if let Some(team) = dir.roster()?.team_name() {
        bail!("this home is already in team '{team}' as someone else");
    }
    let device = Statement::sign(
        &keys.member,
        &Claim::Device {
            device: keys.device_id().to_string(),
            name: kith::replicas::device_name(&env.home),
            at: env.now.as_second(),
        },
    )?;
    let req = JoinRequest {
        kind: TicketKind::Device,
        device,
        member_name: kith::replicas::device_name(&env.home),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let resp = rt.block_on(kith::sync::net::join(&ticket, req, args.timeout))?;
    let Response::Joined {
        team,
        statements,
        member_key: Some(key),
    } = resp
    else {
        if let Response::Refused(why) = resp {
            bail!("the other device refused: {why}");
        }
        bail!("the other device gave an unexpected answer");
    };
    let member = libp2p::identity::Keypair::from_protobuf_encoding(&key)
        .map_err(|e| anyhow::anyhow!("the other device sent a damaged key: {e}"))?;
    let lock = dir.lock()?;
    let mut roster = dir.roster()?;
    roster.team = team;
    roster.statements.clear();
    roster.merge(statements.clone());
    if roster.team.is_none() {
        // Not in a team: keep the device certificates as they are.
        roster.statements = statements;
    }
    if !roster
        .own_devices(&member.public().to_peer_id())
        .contains(&keys.device_id())
    {
        bail!("the other device did not certify this one; nothing changed");
    }
    Keys::replace_member(&env.home, &member)?;
    dir.save_roster(&roster, &lock)?;
    crate::cli::team::remember_inviter(&dir, &ticket, &lock)?;
    println!(
        "this device now belongs to member {}; `kith daemon` or `kith sync` brings over your ledger, private part included",
        member.public().to_peer_id()
    );
    Ok(())
}
