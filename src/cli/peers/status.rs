//! `kith status`: the daemon, its addresses, and each member's sync state.

use clap::Args;

use kith::replicas::LinkKind;

use crate::cli::{Env, print_json};

/// Show whether the daemon runs, where it listens, and who is connected and synced
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: StatusArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&env.home)?;
    let status = kith::replicas::status(&env.home, &env.tz)?;
    if args.json {
        return print_json(&status);
    }
    let s = env.style();
    if status.daemon {
        println!("daemon   running");
        for a in &status.listen {
            println!("         {a}/p2p/{}", status.device);
        }
        for a in &status.relayed {
            println!("         {a} {}", s.dim("(through the relay)"));
        }
        let nat = match status.nat.as_str() {
            "public" => "teammates can reach this device directly",
            "private" => "behind a NAT: teammates reach this device through a relay",
            _ => "not known yet whether teammates can reach this device directly",
        };
        println!("reach    {}", s.dim(nat));
        if status.relay {
            println!("relay    relaying for the team");
        }
    } else {
        println!("daemon   {}", s.dim("not running (`kith daemon`)"));
    }
    match &status.team {
        Some(t) => println!("team     {t}"),
        None => println!("team     {}", s.dim("none")),
    }
    for m in &status.members {
        if m.you {
            continue;
        }
        let state = if let Some(left) = &m.left {
            format!("left on {}", &left[..10])
        } else if m.connected {
            match (m.link, &m.via) {
                (Some(LinkKind::Relayed), Some(via)) => format!("relayed via {via}"),
                (Some(LinkKind::Relayed), None) => "relayed".into(),
                _ => "direct".into(),
            }
        } else if status.daemon {
            "unreachable".into()
        } else {
            "not connected".into()
        };
        let last = m
            .last_synced
            .as_deref()
            .map(|t| format!("last synced {t}"))
            .unwrap_or_else(|| "never synced".into());
        println!("{:<16} {state:<24} {}", s.bold(&m.name), s.dim(&last));
    }
    Ok(())
}
