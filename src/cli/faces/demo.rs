//! `kith demo`: a guided tour on a throwaway ledger. Every step runs the real
//! kith binary, in a temporary home, and prints what it printed. The user's
//! own ledger is never opened.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;
use jiff::ToSpan;

use crate::cli::Env;

/// Take a guided tour of kith on a throwaway ledger
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo ledger and print where it is
    #[arg(long)]
    keep: bool,
}

struct Tour<'a> {
    exe: std::path::PathBuf,
    home: &'a Path,
    env: &'a Env,
}

impl Tour<'_> {
    fn say(&self, text: &str) {
        println!("\n{}", self.env.style().bold(text));
    }

    /// Runs `kith ARGS` in the demo home, prints the command and its output.
    fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                if a.contains(' ') || a.contains('&') || a.contains(';') {
                    format!("\"{a}\"")
                } else {
                    a.to_string()
                }
            })
            .collect();
        println!(
            "{}",
            self.env.style().dim(&format!("$ kith {}", shown.join(" ")))
        );
        let color = if self.env.color { "always" } else { "never" };
        let out = Command::new(&self.exe)
            .args(args)
            .arg("--color")
            .arg(color)
            .env("KITH_HOME", self.home)
            .env("KITH_NOW", self.env.now.to_string())
            .env_remove("KITH_MDNS")
            .output()
            .with_context(|| format!("cannot run {}", self.exe.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        for line in stdout.lines() {
            println!("  {line}");
        }
        for line in String::from_utf8_lossy(&out.stderr).lines() {
            println!("  {line}");
        }
        if !out.status.success() {
            bail!("the demo step `kith {}` failed", args.join(" "));
        }
        Ok(stdout.trim().to_string())
    }
}

pub fn run(env: &Env, args: DemoArgs) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("kith-demo-")
        .tempdir()
        .context("cannot make a temporary directory for the demo")?;
    let home = dir.path().join("home");
    let tour = Tour {
        exe: std::env::current_exe().context("cannot find the kith binary")?,
        home: &home,
        env,
    };
    println!(
        "{}",
        env.style()
            .bold("kith demo: a guided tour on a throwaway ledger")
    );
    println!(
        "The ledger lives in {} and is deleted at the end; yours is not touched.",
        home.display()
    );
    tour_steps(&tour, env)?;
    ui_step(&tour)?;
    let bob_home = dir.path().join("bob");
    let bob = Tour {
        exe: tour.exe.clone(),
        home: &bob_home,
        env,
    };
    team_steps(&tour, &bob)?;
    if args.keep {
        let kept = dir.keep();
        println!(
            "\nThe demo ledger is kept: try `kith --home {} show edna`",
            kept.join("home").display()
        );
    } else {
        println!("\nThat was kith. The demo ledger is gone; `kith add` starts your own.");
    }
    Ok(())
}

fn tour_steps(t: &Tour<'_>, env: &Env) -> anyhow::Result<()> {
    let today = env.now.to_zoned(env.tz.clone()).date();
    let in_three_days = today.checked_add(3.days())?;
    let raj_birthday = format!(
        "1975-{:02}-{:02}",
        in_three_days.month(),
        in_three_days.day()
    );

    t.say("Mrs Miggins runs the corner shop. She goes in with what we know about her:");
    t.run(&[
        "add",
        "Edna Miggins",
        "--company",
        "Miggins & Daughters",
        "--title",
        "Owner",
        "--email",
        "shop:edna@miggins.co.uk",
        "--phone",
        "shop:01632 960123",
        "--birthday",
        "--04-05",
        "--tag",
        "sweets",
        "--tag",
        "tobacco",
    ])?;
    t.run(&["add", "Albert Miggins", "--company", "Miggins & Daughters"])?;
    t.run(&["add", "Daisy Miggins", "--tag", "penny chews"])?;

    t.say("Her family, and the things a good shopkeeper remembers (facts are private unless --shared):");
    t.run(&["link", "albert", "spouse", "edna"])?;
    t.run(&["link", "daisy", "child", "edna"])?;
    t.run(&["fact", "albert", "smokes Old Holborn, prefers the 50 g tin"])?;
    t.run(&["fact", "daisy", "loves penny chews"])?;
    t.run(&["note", "edna", "likes to be called on Tuesdays"])?;

    t.say("We phoned her last Tuesday about the Christmas order and promised a quote by Friday:");
    t.run(&[
        "log",
        "edna",
        "Christmas order: more Old Holborn and a sweets hamper; quote promised by Friday",
        "--channel",
        "call",
        "--date",
        "last tuesday",
    ])?;
    t.run(&[
        "follow-up",
        "edna",
        "Send the Christmas order quote",
        "--due",
        "friday",
    ])?;
    t.run(&["keep-in-touch", "edna", "--every", "3w"])?;

    t.say("A few other customers:");
    t.run(&[
        "add",
        "Raj Patel",
        "--company",
        "Patel's Newsagents",
        "--title",
        "Manager",
        "--birthday",
        &raj_birthday,
        "--tag",
        "newspapers",
        "--email",
        "raj@patelnews.example",
    ])?;
    t.run(&[
        "add",
        "Winifred Dobbs",
        "--nickname",
        "Mrs Dobbs",
        "--tag",
        "sweets",
    ])?;
    t.run(&[
        "log",
        "dobbs",
        "Bought a jar of humbugs; asked about sugar-free ones",
        "--channel",
        "visit",
        "--date",
        "-20d",
    ])?;
    t.run(&["keep-in-touch", "dobbs", "--every", "2w"])?;
    t.run(&[
        "add",
        "Sam Okafor",
        "--company",
        "Lagos Freight",
        "--title",
        "Buyer",
        "--tag",
        "wholesale",
    ])?;
    t.run(&[
        "log",
        "sam okafor",
        "edna",
        "Introduced Sam to Edna about bulk deliveries",
        "--channel",
        "meeting",
        "--date",
        "-5d",
        "--shared",
    ])?;

    t.say("Everything about Edna in one place ([private] marks what never leaves this machine):");
    t.run(&["show", "edna"])?;

    t.say("What matters this morning:");
    t.run(&["today"])?;

    t.say("Finding people forgives typos, and searches facts and conversations too:");
    t.run(&["find", "migins"])?;
    t.run(&["find", "old holborn"])?;
    t.run(&["list", "--tag", "sweets"])?;

    t.say("Relationships read from both sides:");
    t.run(&["show", "daisy"])?;

    t.say("Every change is kept, with when and on which device:");
    t.run(&["history", "edna", "--limit", "4"])?;

    t.say("The whole ledger exports as JSON Lines; --no-private leaves out every private item:");
    let export = t.home.with_file_name("backup.jsonl");
    let export_s = export.display().to_string();
    t.run(&[
        "export",
        "--format",
        "jsonl",
        "--no-private",
        "-o",
        &export_s,
    ])?;
    let text = std::fs::read_to_string(&export).context("reading the demo export")?;
    let leaked = text.contains("Old Holborn");
    println!(
        "  {} lines; the private fact about Old Holborn is {}",
        text.lines().count(),
        if leaked {
            "IN IT (this is a bug)"
        } else {
            "not in it"
        }
    );
    if leaked {
        bail!("the export without private data contains a private fact");
    }
    Ok(())
}

/// `kith ui` on the demo ledger: started, asked for the Today page the way
/// a browser would (the link's key traded for a cookie), and stopped.
fn ui_step(t: &Tour<'_>) -> anyhow::Result<()> {
    use std::io::{BufRead, Read, Write};
    t.say("The same ledger in a browser, served on this machine only:");
    println!("{}", t.env.style().dim("$ kith ui --no-open"));
    let mut child = Command::new(&t.exe)
        .args(["ui", "--no-open"])
        .env("KITH_HOME", t.home)
        .env("KITH_NOW", t.env.now.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("cannot start kith ui")?;
    let stop = |child: &mut std::process::Child| {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let _ = child.wait();
    };
    let mut url = String::new();
    let read = child
        .stdout
        .take()
        .map(|out| std::io::BufReader::new(out).read_line(&mut url));
    if !matches!(read, Some(Ok(n)) if n > 0) {
        stop(&mut child);
        bail!("kith ui did not print its link");
    }
    let url = url.trim().to_string();
    println!("  {url}");
    let get = |path: &str, cookie: &str| -> anyhow::Result<String> {
        let addr = url
            .strip_prefix("http://")
            .and_then(|r| r.split('/').next())
            .context("kith ui printed no address")?;
        let mut s = std::net::TcpStream::connect(addr).context("cannot reach kith ui")?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        )?;
        let mut all = String::new();
        s.read_to_string(&mut all)?;
        Ok(all)
    };
    let path = &url[url.find("/?").unwrap_or(url.len())..];
    let result = get(path, "").and_then(|first| {
        let cookie = first
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .and_then(|c| c.split(';').next())
            .context("kith ui did not take its own link")?
            .to_string();
        get("/", &cookie)
    });
    stop(&mut child);
    let page = result?;
    let title = page
        .split("<h1>")
        .nth(1)
        .and_then(|r| r.split("</h1>").next())
        .context("the Today page has no title")?;
    let done_buttons = page.matches(">Done</button>").count();
    println!(
        "  the browser's Today page: \"{title}\", {done_buttons} follow-up(s) with a Done button"
    );
    println!("  Run `kith ui` on your own ledger to open it in your browser.");
    Ok(())
}

/// A daemon the tour started, stopped (SIGTERM) when dropped.
struct DemoDaemon {
    child: std::process::Child,
    addr: String,
}

impl DemoDaemon {
    /// Starts `kith daemon` on 127.0.0.1 with mDNS off: the demo never
    /// talks to any other address.
    fn start(t: &Tour<'_>) -> anyhow::Result<DemoDaemon> {
        use std::io::BufRead;
        println!(
            "{}",
            t.env
                .style()
                .dim("$ kith daemon --listen /ip4/127.0.0.1/tcp/0 --no-mdns &")
        );
        let mut child = Command::new(&t.exe)
            .args(["daemon", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"])
            .env("KITH_HOME", t.home)
            .env("KITH_NOW", t.env.now.to_string())
            .env("KITH_MDNS", "off")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("cannot start the demo daemon")?;
        let stdout = child.stdout.take().context("no daemon output")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let mut daemon = DemoDaemon {
            child,
            addr: String::new(),
        };
        daemon.addr = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .context("the demo daemon did not start listening")?;
        println!("  listening on {}", daemon.addr);
        Ok(daemon)
    }
}

impl Drop for DemoDaemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls bob's view of the team for `query` (bounded: 5 s).
fn wait_for(bob: &Tour<'_>, query: &str) -> Option<std::time::Duration> {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(5) {
        let out = Command::new(&bob.exe)
            .args(["find", query, "--team", "--json"])
            .env("KITH_HOME", bob.home)
            .env("KITH_NOW", bob.env.now.to_string())
            .output()
            .ok()?;
        if String::from_utf8_lossy(&out.stdout).contains("\"owner\": \"alice\"") {
            return Some(start.elapsed());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    None
}

/// Part two: Alice and Bob, two ledgers, two daemons on 127.0.0.1.
fn team_steps(alice: &Tour<'_>, bob: &Tour<'_>) -> anyhow::Result<()> {
    alice.say("That ledger is Alice's. She starts a team and runs the daemon that syncs it:");
    alice.run(&["team", "create", "corner-shops", "--as", "alice"])?;
    let alice_daemon = DemoDaemon::start(alice)?;
    alice.say("She invites Bob with a one-time ticket (it expires in 24 hours):");
    let ticket = alice.run(&["team", "invite"])?;
    bob.say("Bob, on his own machine with his own ledger, joins with it:");
    bob.run(&["team", "join", &ticket, "--as", "bob"])?;
    let _bob_daemon = DemoDaemon::start(bob)?;
    let first = wait_for(bob, "edna");
    bob.say("Bob's daemon now holds a read-only replica of Alice's shared ledger:");
    if first.is_none() {
        bail!("Alice's ledger did not reach Bob");
    }
    bob.run(&["find", "edna", "--team"])?;
    alice.say("Alice meets a new customer while both daemons run:");
    alice.run(&[
        "add",
        "Walter Wobble",
        "--company",
        "Wobble & Sons",
        "--tag",
        "tobacco",
    ])?;
    let took = wait_for(bob, "wobble").context("the new customer did not reach Bob")?;
    println!(
        "  {}",
        bob.env.style().bold(&format!(
            "Walter appeared in Bob's replica {} ms later, with no command at Bob's end",
            took.as_millis()
        ))
    );
    bob.say("Bob sees what Alice shares about Edna, marked as hers; the private fact stays on Alice's machine:");
    let shown = bob.run(&["show", "alice/edna"])?;
    let leaked = shown.contains("Old Holborn");
    println!(
        "  the private fact about Old Holborn is {}",
        if leaked {
            "IN IT (this is a bug)"
        } else {
            "not in Bob's replica"
        }
    );
    if leaked {
        bail!("a private fact reached a teammate");
    }
    bob.say("Bob asks who on the team knows anyone who sells tobacco, and how well (0-100, from the interactions logged):");
    bob.run(&["who-knows", "#tobacco"])?;
    bob.say("And the warmest way to reach Edna's daughter Daisy, through the team and recorded relationships:");
    bob.run(&["intro-path", "daisy"])?;
    bob.say("Each replica stays Alice's: Bob can read it, only Alice can change it.");
    bob.run(&["status"])?;
    drop(alice_daemon);
    Ok(())
}
