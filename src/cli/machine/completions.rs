//! `kith completions SHELL`: the script that makes a shell complete kith's
//! commands, flags and WHO arguments. The script calls back into kith
//! (`KITH_COMPLETE=SHELL kith -- WORDS…`, clap_complete's protocol), and
//! `main` answers that before anything else runs, so the answer always
//! matches this binary's commands. A WHO is completed from the ledger's
//! index alone, opened read-only (`kith::index::Index::people_starting`):
//! nothing is created, migrated or locked, and it costs the same at
//! 100,000 people as at 100. `kith __complete who PREFIX` prints the same
//! candidates, one per line, to see or time what a shell would get.

use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};
use clap_complete::env::Shells;

use crate::cli::Env;

/// The variable the completion scripts set when they call kith back.
pub const VAR: &str = "KITH_COMPLETE";

/// How many people a WHO completion offers at most.
const MAX_PEOPLE: usize = 50;

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

/// Print the script that makes your shell complete kith's commands and names
///
/// bash: `kith completions bash > ~/.local/share/bash-completion/completions/kith`;
/// zsh: `kith completions zsh > ~/.zfunc/_kith`; fish:
/// `kith completions fish > ~/.config/fish/completions/kith.fish`. Names come
/// from the ledger in KITH_HOME, or the default home.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    shell: Shell,
}

pub fn run(_env: &Env, args: CompletionsArgs) -> anyhow::Result<()> {
    let name = args
        .shell
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    let shells = Shells::builtins();
    let Some(shell) = shells.completer(&name) else {
        anyhow::bail!("no completion script for {name}");
    };
    let mut out = std::io::stdout().lock();
    shell.write_registration(VAR, "kith", "kith", "kith", &mut out)?;
    if matches!(args.shell, Shell::Zsh) {
        // clap_complete's zsh script is made to be sourced. Installed as
        // `_kith` in $fpath (~/.zfunc, or the package's vendor-completions),
        // zsh instead runs the whole file on the first Tab, which then only
        // registers the completer: that Tab offered nothing. Complete it
        // too, only when run as `_kith`, so sourcing is unchanged (and
        // still ends with status 0).
        writeln!(
            out,
            "if [[ ${{funcstack[1]}} = _kith ]]; then _clap_dynamic_completer_kith \"$@\"; fi"
        )?;
    }
    out.flush()?;
    Ok(())
}

/// What a shell completes a WHO argument with: kith's completer.
pub fn who() -> ArgValueCompleter {
    ArgValueCompleter::new(complete_who)
}

/// The shell asking, noted before clap_complete clears the variable: bash
/// inserts a candidate as it is, so a name's spaces must come escaped.
static SHELL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Notes which shell is asking for completions, if one is.
pub fn note_shell() {
    if let Some(shell) = std::env::var_os(VAR) {
        let _ = SHELL.set(shell.to_string_lossy().into_owned());
    }
}

fn complete_who(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(current) = current.to_str() else {
        return Vec::new();
    };
    let bash = SHELL.get().is_some_and(|s| s == "bash");
    people(current)
        .into_iter()
        .map(|(value, help)| {
            let value = if bash {
                value.replace(' ', "\\ ")
            } else {
                value
            };
            CompletionCandidate::new(value).help((!help.is_empty()).then(|| help.into()))
        })
        .collect()
}

/// The home a completion reads: KITH_HOME, else the default, as `Env`
/// finds it (a `--home` on the line being completed is not seen).
fn home() -> Option<PathBuf> {
    match std::env::var_os("KITH_HOME") {
        Some(h) if !h.is_empty() => Some(PathBuf::from(h)),
        _ => directories::ProjectDirs::from("", "", "kith").map(|d| d.data_dir().to_path_buf()),
    }
}

/// (value, help) for each person starting with `prefix`: the name where it
/// names one person, else the id (with the name as help), so that every
/// value completed resolves to exactly one person.
fn people(prefix: &str) -> Vec<(String, String)> {
    let Some(index) =
        home().and_then(|h| kith::index::Index::open_read_only(&h.join("index.sqlite")))
    else {
        return Vec::new();
    };
    let Ok(found) = index.people_starting(prefix, MAX_PEOPLE) else {
        return Vec::new();
    };
    let key = |n: &str| kith::index::name_key(n);
    found
        .iter()
        .map(|(id, name, company)| {
            let help = company.clone().unwrap_or_default();
            let shared = found.iter().filter(|(_, n, _)| key(n) == key(name)).count() > 1;
            let by_id = shared || !key(name).starts_with(&key(prefix));
            if by_id {
                (
                    id.clone(),
                    format!(
                        "{name}{}",
                        company
                            .as_deref()
                            .map(|c| format!(", {c}"))
                            .unwrap_or_default()
                    ),
                )
            } else {
                (name.clone(), help)
            }
        })
        .collect()
}

/// `kith __complete who PREFIX`: the candidates a shell would be offered.
#[derive(Args, Debug)]
pub struct CompleteArgs {
    /// What to complete: `who`
    #[arg(value_parser = ["who"])]
    what: String,
    /// What has been typed so far
    #[arg(default_value = "")]
    prefix: String,
}

pub fn run_complete(_env: &Env, args: CompleteArgs) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (value, help) in people(&args.prefix) {
        if help.is_empty() {
            writeln!(out, "{value}")?;
        } else {
            writeln!(out, "{value}\t{help}")?;
        }
    }
    out.flush()?;
    Ok(())
}
