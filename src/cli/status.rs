//! `kith status`: the daemon, its addresses, and each member's sync state.

use clap::Args;
use kith::identity::Keys;
use kith::team::TeamDir;

use super::{Env, print_json};

/// Show whether the daemon runs, where it listens, and who is connected and synced
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct Status {
    daemon: bool,
    device: String,
    member: String,
    team: Option<String>,
    listen: Vec<String>,
    members: Vec<MemberStatus>,
}

#[derive(serde::Serialize)]
struct MemberStatus {
    name: String,
    id: String,
    you: bool,
    connected: bool,
    last_synced: Option<String>,
    left: Option<String>,
}

pub fn run(env: &Env, args: StatusArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&env.home)?;
    let keys = Keys::load_or_create(&env.home)?;
    let dir = TeamDir::new(&env.home);
    let roster = dir.roster()?;
    let book = dir.peers()?;
    let running = super::daemon::is_running(&env.home);
    let connected = super::daemon::connected(&env.home);
    let listen: Vec<String> = if running {
        super::daemon::status_file(&env.home)
            .and_then(|v| v.get("listen").cloned())
            .and_then(|l| serde_json::from_value(l).ok())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let me = keys.member_id().to_string();
    let when = |t: i64| {
        jiff::Timestamp::from_second(t)
            .map(|ts| {
                ts.to_zoned(env.tz.clone())
                    .strftime("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default()
    };
    let members = roster
        .members()
        .into_iter()
        .map(|m| MemberStatus {
            you: m.id == me,
            connected: m.devices.iter().any(|d| connected.contains(&d.id)),
            last_synced: m
                .devices
                .iter()
                .filter_map(|d| book.devices.get(&d.id).and_then(|r| r.last_synced))
                .max()
                .map(when),
            left: m.removed.map(when),
            name: m.name,
            id: m.id,
        })
        .collect();
    let status = Status {
        daemon: running,
        device: keys.device_id().to_string(),
        member: me,
        team: roster.team_name(),
        listen,
        members,
    };
    if args.json {
        return print_json(&status);
    }
    let s = env.style();
    if status.daemon {
        println!("daemon   running");
        for a in &status.listen {
            println!("         {a}/p2p/{}", status.device);
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
            "connected".into()
        } else {
            "not connected".into()
        };
        let last = m
            .last_synced
            .as_deref()
            .map(|t| format!("last synced {t}"))
            .unwrap_or_else(|| "never synced".into());
        println!("{:<16} {state:<16} {}", s.bold(&m.name), s.dim(&last));
    }
    Ok(())
}
