//! `kith about WHO`: everything held about one person, as Markdown, HTML or
//! JSON, to hand to them.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use kith::about::{self, Account, Owner, Part, Section};
use kith::model::Entity;

use super::{Env, Replica, person};

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// Markdown
    Md,
    /// A self-contained HTML page
    Html,
    /// Structured, for programs
    Json,
}

/// Write an account of everything held about a person, to hand to them
#[derive(Args, Debug)]
pub struct AboutArgs {
    /// A name (typos are fine), an email, or an id prefix
    who: String,
    /// Also what teammates' ledgers hold (their shared parts)
    #[arg(long)]
    team: bool,
    /// The format
    #[arg(long, value_enum, default_value_t = Format::Md)]
    format: Format,
    /// Write to this file instead of standard output
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(env: &Env, args: AboutArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    // With --team, someone only a teammate knows is still someone to account for.
    let (own, missing) = match person(&ledger, &args.who) {
        Ok(p) => (Some(p), None),
        Err(e) if args.team && not_found(&e) => (None, Some(e)),
        Err(e) => return Err(e),
    };
    if !args.team
        && let Some(p) = &own
    {
        let account = about::own_account(&mut ledger, p)?;
        return write_out(&args, account);
    }
    let mut sections = Vec::new();
    if let Some(p) = &own {
        let owner = my_owner(env);
        sections.push(about::section(&mut ledger, p, owner, Part::All)?);
    }
    sections.extend(team_sections(env, own.as_ref(), &args.who)?);
    if let (true, Some(e)) = (sections.is_empty(), missing) {
        return Err(e);
    }
    finish(env, &args, sections)
}

fn not_found(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref(), Some(kith::Error::NotFound(_)))
}

/// The own ledger's section in a team account, under the member's name.
fn my_owner(env: &Env) -> Owner {
    let id = kith::identity::Keys::load_or_create(&env.home)
        .ok()
        .map(|k| k.member_id().to_string());
    Owner {
        name: env.my_name(),
        id,
        ..Owner::me()
    }
}

/// A section for each teammate whose shared part holds the person.
fn team_sections(env: &Env, own: Option<&Entity>, who: &str) -> anyhow::Result<Vec<Section>> {
    let mut out = Vec::new();
    for mut replica in env.replicas()? {
        let Some(found) = find_in(&replica, own, who, env)? else {
            continue;
        };
        let owner = Owner {
            name: replica.owner.name.clone(),
            id: Some(replica.owner.id.clone()),
            left_on: left_on(&replica, &env.tz),
            mine: false,
        };
        let section = about::section(&mut replica.ledger, &found, owner, Part::Shared)
            .with_context(|| format!("reading {}'s ledger", replica.owner.name))?;
        out.push(section);
    }
    Ok(out)
}

/// The person in a teammate's ledger: the same emails or name as ours, or,
/// when we have no record, WHO as `show MEMBER/WHO` would read it. More
/// than one candidate is reported and left out rather than guessed.
fn find_in(
    replica: &Replica,
    own: Option<&Entity>,
    who: &str,
    env: &Env,
) -> anyhow::Result<Option<Entity>> {
    let found = match own {
        Some(p) => about::same_person(replica.ledger.index(), p),
        None => replica.ledger.resolve_person(who).map(Some),
    };
    match found {
        Ok(found) => Ok(found),
        Err(kith::Error::NotFound(_) | kith::Error::Invalid(_)) => Ok(None),
        Err(kith::Error::Ambiguous { candidates, .. }) => {
            eprintln!(
                "kith: warning: {}'s ledger has more than one possible match ({}); left out",
                replica.label(&env.tz),
                candidates.join("; ")
            );
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The day a removed member left, as `Replica::label` writes it.
fn left_on(replica: &Replica, tz: &jiff::tz::TimeZone) -> Option<String> {
    let t = replica.owner.removed?;
    jiff::Timestamp::from_second(t)
        .ok()
        .map(|ts| ts.to_zoned(tz.clone()).date().to_string())
}

fn finish(env: &Env, args: &AboutArgs, sections: Vec<Section>) -> anyhow::Result<()> {
    let account = Account::new(about::generated_at(env.now, &env.tz), sections);
    write_out(args, account)
}

fn write_out(args: &AboutArgs, account: Account) -> anyhow::Result<()> {
    let text = match args.format {
        Format::Md => account.markdown(),
        Format::Html => account.html(),
        Format::Json => serde_json::to_string_pretty(&account)? + "\n",
    };
    match &args.output {
        Some(path) => {
            write_file(path, text.as_bytes())?;
            eprintln!(
                "wrote what is held about {} to {}",
                account.person,
                path.display()
            );
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Writes beside the target and renames, so a reader never sees half an
/// account under the final name.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let cannot = || format!("cannot write {}", path.display());
    let name = path.file_name().with_context(cannot)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(cannot);
    }
    Ok(())
}
