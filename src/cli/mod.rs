//! The command line: one file per subcommand, grouped by what they serve
//! (people, timeline, peers, questions, interop, faces, machine), a shared
//! [`Env`] that knows where the ledger is and opens it only when a command
//! needs it, and the one place errors become messages and exit codes (0 ok,
//! 1 error, 2 usage).

mod faces;
mod interop;
mod machine;
mod peers;
mod people;
mod questions;
mod style;
mod timeline;

use faces::{carddav, demo, ui};
use interop::{export, import};
use machine::{completions, maintenance, man};
use peers::{daemon, device, status, sync, team};
use people::{about, add, add_company, dupes, find, history, id, list, rm, set, show};
use questions::{adopt, intro_path, who_knows, who_wants};
use timeline::{done, fact, follow_up, keep_in_touch, link, log, note, today};

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use kith::Ledger;
use kith::model::Privacy;
use kith::replicas::Opener;

#[derive(Parser, Debug)]
#[command(
    name = "kith",
    version,
    about = "A local-first contact and relationship ledger for people who sell"
)]
pub struct Cli {
    /// The kith home holding the ledger [default: the platform data directory]
    #[arg(long, global = true, env = "KITH_HOME", value_name = "DIR")]
    home: Option<PathBuf>,

    /// Say more about what kith does (-vv for more still); RUST_LOG also works
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// When to use colour
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,

    #[command(subcommand)]
    command: Command,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
enum Command {
    Demo(demo::DemoArgs),
    Add(add::AddArgs),
    AddCompany(add_company::AddCompanyArgs),
    Show(show::ShowArgs),
    List(list::ListArgs),
    Set(set::SetArgs),
    Unset(set::UnsetArgs),
    Rm(rm::RmArgs),
    Restore(rm::RestoreArgs),
    Fact(fact::FactArgs),
    Note(note::NoteArgs),
    Link(link::LinkArgs),
    Log(log::LogArgs),
    FollowUp(follow_up::FollowUpArgs),
    Done(done::DoneArgs),
    KeepInTouch(keep_in_touch::KeepInTouchArgs),
    Today(today::TodayArgs),
    Find(find::FindArgs),
    History(history::HistoryArgs),
    About(about::AboutArgs),
    Export(export::ExportArgs),
    Import(import::ImportArgs),
    Dupes(dupes::DupesArgs),
    Merge(dupes::MergeArgs),
    Unmerge(dupes::UnmergeArgs),
    Check(maintenance::CheckArgs),
    Reindex(maintenance::ReindexArgs),
    Compact(maintenance::CompactArgs),
    Id(id::IdArgs),
    Team(team::TeamArgs),
    Device(device::DeviceArgs),
    Daemon(daemon::DaemonArgs),
    Sync(sync::SyncArgs),
    Status(status::StatusArgs),
    WhoKnows(who_knows::WhoKnowsArgs),
    IntroPath(intro_path::IntroPathArgs),
    WhoWants(who_wants::WhoWantsArgs),
    Adopt(adopt::AdoptArgs),
    Ui(ui::UiArgs),
    Carddav(carddav::CarddavArgs),
    Man(man::ManArgs),
    Completions(completions::CompletionsArgs),
    /// The candidates a shell completion is offered (for kith's own scripts)
    #[command(name = "__complete", hide = true)]
    Complete(completions::CompleteArgs),
}

/// `--shared` / `--private`, for commands that add an item.
#[derive(Args, Debug, Clone, Copy)]
#[group(multiple = false)]
pub struct PrivacyFlags {
    /// Keep it in the shared part, which teammates may read
    #[arg(long)]
    shared: bool,
    /// Keep it in the private part, which never leaves your own devices
    #[arg(long)]
    private: bool,
}

impl PrivacyFlags {
    pub fn choice(&self) -> Option<Privacy> {
        if self.shared {
            Some(Privacy::Shared)
        } else if self.private {
            Some(Privacy::Private)
        } else {
            None
        }
    }
}

/// What every command may need, resolved once; the ledger is opened only
/// by commands that use it.
pub struct Env {
    pub home: PathBuf,
    pub now: jiff::Timestamp,
    /// KITH_NOW pinned the clock: long-running faces keep it pinned.
    pub pinned_now: bool,
    pub tz: jiff::tz::TimeZone,
    pub color: bool,
    pub interactive: bool,
}

impl Env {
    fn new(cli: &Cli) -> anyhow::Result<Env> {
        let home = match &cli.home {
            Some(h) => h.clone(),
            None => directories::ProjectDirs::from("", "", "kith")
                .context("no home directory to keep the ledger in; pass --home or set KITH_HOME")?
                .data_dir()
                .to_path_buf(),
        };
        // KITH_NOW pins the clock, for tests and demos.
        let pinned = std::env::var("KITH_NOW").ok();
        let now = match &pinned {
            Some(s) => parse_now(s).with_context(|| format!("KITH_NOW='{s}' is not a time"))?,
            None => jiff::Timestamp::now(),
        };
        let tz = match std::env::var("KITH_TZ") {
            // UTC needs no time zone database (reading it costs a millisecond).
            Ok(name) if name == "UTC" => jiff::tz::TimeZone::UTC,
            Ok(name) => jiff::tz::TimeZone::get(&name)
                .with_context(|| format!("KITH_TZ='{name}' is not a time zone"))?,
            Err(_) => jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC),
        };
        let stdout_tty = std::io::stdout().is_terminal();
        let color = match cli.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stdout_tty && std::env::var_os("NO_COLOR").is_none(),
        };
        Ok(Env {
            home,
            now,
            pinned_now: pinned.is_some(),
            tz,
            color,
            interactive: std::io::stderr().is_terminal(),
        })
    }

    /// Opens the ledger, with a progress bar if the index must be rebuilt.
    pub fn open(&self) -> anyhow::Result<Session> {
        let bar = style::Progress::new(self.interactive, "indexing");
        let ledger = self
            .opener()
            .open_with(&|done, total| bar.set(done, total))
            .with_context(|| format!("cannot open the ledger in {}", self.home.display()))?;
        bar.finish();
        Ok(Session(ledger))
    }

    /// What the library needs to open this home's ledgers: the own one
    /// and teammates' replicas.
    pub fn opener(&self) -> Opener {
        Opener::new(&self.home, self.now, self.tz.clone())
    }

    pub fn style(&self) -> style::Style {
        style::Style::new(self.color)
    }
}

fn parse_now(s: &str) -> anyhow::Result<jiff::Timestamp> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let date: jiff::civil::Date = s.parse()?;
    Ok(date
        .at(9, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)?
        .timestamp())
}

/// An open ledger that, when the command is done with it, tells the user
/// about any damage found while loading, whatever the command was.
pub struct Session(Ledger);

impl std::ops::Deref for Session {
    type Target = Ledger;
    fn deref(&self) -> &Ledger {
        &self.0
    }
}

impl std::ops::DerefMut for Session {
    fn deref_mut(&mut self) -> &mut Ledger {
        &mut self.0
    }
}

impl std::borrow::Borrow<Ledger> for Session {
    fn borrow(&self) -> &Ledger {
        &self.0
    }
}

impl std::borrow::BorrowMut<Ledger> for Session {
    fn borrow_mut(&mut self) -> &mut Ledger {
        &mut self.0
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        report_problems(&self.0);
    }
}

/// Tells the user about chunks that loading had to set aside.
pub fn report_problems(ledger: &Ledger) {
    for q in &ledger.report.quarantined {
        eprintln!(
            "kith: warning: {} is damaged ({}); moved to {}; everything else loads",
            q.file.display(),
            q.reason,
            q.moved_to.display()
        );
    }
    for shard in &ledger.report.incomplete {
        eprintln!(
            "kith: warning: {shard} holds changes that wait for a missing chunk; they are kept and will apply when it returns"
        );
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .with_target(false)
        .try_init();
}

/// Answers a shell's completion request (`KITH_COMPLETE=SHELL kith -- …`,
/// made by the `kith completions` scripts) and exits; returns at once
/// otherwise. Call before anything else writes to stdout.
pub fn complete_if_asked() {
    use clap::CommandFactory;
    completions::note_shell();
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(completions::VAR)
        .complete();
}

pub fn run(cli: Cli) -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes
    // away (`kith list | head`) instead of failing to print.
    // SAFETY: restoring the default action of a signal has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    init_logging(cli.verbose);
    let env = match Env::new(&cli) {
        Ok(env) => env,
        Err(err) => {
            print_error(&err, None);
            return ExitCode::from(1);
        }
    };
    match dispatch(&env, cli.command) {
        Ok(code) => code,
        Err(err) => {
            print_error(&err, Some(&env.home));
            ExitCode::from(1)
        }
    }
}

/// Free bytes on the file system holding `path` (or its nearest existing parent).
fn free_bytes(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let existing = path.ancestors().find(|p| p.exists())?;
    let c_path = std::ffi::CString::new(existing.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: c_path is a valid NUL-terminated string and stat a valid out pointer.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let stat = unsafe { stat.assume_init() };
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

fn dispatch(env: &Env, command: Command) -> anyhow::Result<ExitCode> {
    let ok = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
    match command {
        Command::Demo(a) => ok(demo::run(env, a)),
        Command::Add(a) => ok(add::run(env, a)),
        Command::AddCompany(a) => ok(add_company::run(env, a)),
        Command::Show(a) => ok(show::run(env, a)),
        Command::List(a) => ok(list::run(env, a)),
        Command::Set(a) => ok(set::run(env, a)),
        Command::Unset(a) => ok(set::run_unset(env, a)),
        Command::Rm(a) => ok(rm::run(env, a)),
        Command::Restore(a) => ok(rm::run_restore(env, a)),
        Command::Fact(a) => ok(fact::run(env, a)),
        Command::Note(a) => ok(note::run(env, a)),
        Command::Link(a) => ok(link::run(env, a)),
        Command::Log(a) => ok(log::run(env, a)),
        Command::FollowUp(a) => ok(follow_up::run(env, a)),
        Command::Done(a) => ok(done::run(env, a)),
        Command::KeepInTouch(a) => ok(keep_in_touch::run(env, a)),
        Command::Today(a) => ok(today::run(env, a)),
        Command::Find(a) => ok(find::run(env, a)),
        Command::History(a) => ok(history::run(env, a)),
        Command::About(a) => ok(about::run(env, a)),
        Command::Export(a) => ok(export::run(env, a)),
        Command::Import(a) => import::run(env, a),
        Command::Dupes(a) => ok(dupes::dupes(env, a)),
        Command::Merge(a) => ok(dupes::merge(env, a)),
        Command::Unmerge(a) => ok(dupes::unmerge(env, a)),
        Command::Check(a) => ok(maintenance::run_check(env, a)),
        Command::Reindex(a) => ok(maintenance::run_reindex(env, a)),
        Command::Compact(a) => ok(maintenance::run_compact(env, a)),
        Command::Id(a) => ok(id::run(env, a)),
        Command::Team(a) => ok(team::run(env, a)),
        Command::Device(a) => ok(device::run(env, a)),
        Command::Daemon(a) => ok(daemon::run(env, a)),
        Command::Sync(a) => sync::run(env, a),
        Command::Status(a) => ok(status::run(env, a)),
        Command::WhoKnows(a) => ok(who_knows::run(env, a)),
        Command::IntroPath(a) => ok(intro_path::run(env, a)),
        Command::WhoWants(a) => ok(who_wants::run(env, a)),
        Command::Adopt(a) => ok(adopt::run(env, a)),
        Command::Ui(a) => ok(ui::run(env, a)),
        Command::Carddav(a) => ok(carddav::run(env, a)),
        Command::Man(a) => ok(man::run(env, a)),
        Command::Completions(a) => ok(completions::run(env, a)),
        Command::Complete(a) => ok(completions::run_complete(env, a)),
    }
}

/// One line for the error and its causes; candidates for an ambiguous name
/// on the lines after; a hint when the disk is full.
fn print_error(err: &anyhow::Error, home: Option<&std::path::Path>) {
    let mut line = format!("kith: error: {err}");
    let mut candidates = Vec::new();
    for cause in err.chain() {
        // The library may wrap it in what it was doing: the candidates are
        // what to show.
        if let Some(kith::Error::Ambiguous {
            query,
            candidates: c,
        }) = cause.downcast_ref::<kith::Error>().map(kith::Error::root)
        {
            line = format!("kith: error: '{query}' could be more than one; name one of:");
            candidates = c.clone();
            break;
        }
        let text = cause.to_string();
        // Libraries often repeat their cause in their own message.
        if !line.contains(&text) {
            line.push_str(&format!(": {text}"));
        }
    }
    if let Some(home) = home
        && free_bytes(home).is_some_and(|free| free < 1 << 20)
    {
        line.push_str(&format!(
            " (the disk holding {} is full; nothing was changed)",
            home.display()
        ));
    }
    eprintln!("{line}");
    for c in candidates {
        eprintln!("  {c}");
    }
}

/// Resolves on Ctrl-C or SIGTERM: how the long-running faces (`kith ui`,
/// `kith carddav serve`) are told to stop.
pub async fn stopped() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    println!("{text}");
    Ok(())
}

/// Parses a WHO or a lookup's query: something to look for. An empty or
/// blank one, or one with no letter or digit at all, is a usage error
/// (exit 2 with the usage), not an empty answer.
pub fn lookup(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("nothing to look for in an empty string".into());
    }
    if !s.chars().any(char::is_alphanumeric) {
        return Err(format!("'{s}' has no letter or digit to look for"));
    }
    Ok(s.to_string())
}

/// Resolves a WHO argument to a person, with the argument named on failure.
pub fn person(ledger: &Ledger, who: &str) -> anyhow::Result<kith::model::Entity> {
    Ok(ledger.resolve_person(who)?)
}
