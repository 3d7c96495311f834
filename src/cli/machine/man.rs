//! `kith man`: the manual pages, made from the same clap definitions as
//! `--help`, so they never drift from what kith accepts. One page for
//! `kith` and one per subcommand (`kith-team-invite(1)`), shown through
//! `man` on a terminal, printed as roff otherwise, or all written to a
//! folder for packaging.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::{Command as Process, Stdio};

use anyhow::Context;
use clap::{Args, CommandFactory};

use crate::cli::Env;

/// Show kith's manual, or write every page to a folder
#[derive(Args, Debug)]
pub struct ManArgs {
    /// The subcommand whose page to show, e.g. `show` or `team invite` [default: kith's own]
    #[arg(value_name = "SUBCOMMAND")]
    subcommand: Vec<String>,

    /// Write kith.1 and a page per subcommand into DIR (made if missing), and print their names
    #[arg(long, value_name = "DIR", conflicts_with = "subcommand")]
    out: Option<PathBuf>,
}

/// kith's command tree with every name, usage and global option filled in
/// as the pages show them (`kith-team-invite`).
fn tree() -> clap::Command {
    let mut cmd = crate::cli::Cli::command()
        .disable_help_subcommand(true)
        .display_name("kith");
    cmd.build();
    cmd
}

pub fn run(_env: &Env, args: ManArgs) -> anyhow::Result<()> {
    let root = tree();
    if let Some(dir) = args.out {
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot make {}", dir.display()))?;
        let mut written = Vec::new();
        write_pages(&root, &dir, &mut written)?;
        let mut out = std::io::stdout().lock();
        for path in written {
            writeln!(out, "{}", path.display())?;
        }
        return Ok(());
    }
    let mut cmd = &root;
    for (depth, name) in args.subcommand.iter().enumerate() {
        cmd = match cmd.get_subcommands().find(|s| {
            !s.is_hide_set() && (s.get_name() == name || s.get_all_aliases().any(|a| a == name))
        }) {
            Some(sub) => sub,
            None => {
                // A wrong name is a usage error (exit 2), as clap's own are.
                let path = args.subcommand[..=depth].join(" ");
                crate::cli::Cli::command()
                    .error(
                        clap::error::ErrorKind::InvalidValue,
                        format!("there is no `kith {path}`; `kith man` lists every command"),
                    )
                    .exit()
            }
        };
    }
    let mut roff = Vec::new();
    page(cmd).render(&mut roff)?;
    if std::io::stdout().is_terminal() && show_with_man(&roff) {
        return Ok(());
    }
    std::io::stdout().lock().write_all(&roff)?;
    Ok(())
}

/// `cmd`'s page, footed with kith's version like other tools' pages.
fn page(cmd: &clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(cmd.clone())
        .source(format!("kith {}", env!("CARGO_PKG_VERSION")))
        .manual("kith manual")
}

/// Writes `cmd`'s page and, depth first, each visible subcommand's.
fn write_pages(
    cmd: &clap::Command,
    dir: &std::path::Path,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    let man = page(cmd);
    let path = dir.join(man.get_filename());
    let mut roff = Vec::new();
    man.render(&mut roff)?;
    std::fs::write(&path, roff).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}

/// Pages the roff through `man -l -`, as `git help` does. False when
/// there is no `man` to run, so the caller prints the roff instead.
fn show_with_man(roff: &[u8]) -> bool {
    let Ok(mut child) = Process::new("man")
        .args(["-l", "-"])
        .stdin(Stdio::piped())
        .spawn()
    else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        // man may quit before reading it all (the reader pressed q).
        let _ = stdin.write_all(roff);
    }
    child.wait().is_ok()
}
