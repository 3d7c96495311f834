//! `kith demo`: a guided tour on a throwaway ledger. Every step runs the real
//! kith binary, in a temporary home, and prints what it printed. The user's
//! own ledger is never opened.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;
use jiff::ToSpan;

use super::Env;

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
