//! `kith about WHO`: everything held about one person, as Markdown, HTML or
//! JSON, to hand to them.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use kith::about::Account;

use crate::cli::Env;

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
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
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
    let account = kith::replicas::account(
        &env.opener(),
        &mut ledger,
        &args.who,
        args.team,
        &mut |why| eprintln!("kith: warning: {why}"),
    )?;
    write_out(&args, account)
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
