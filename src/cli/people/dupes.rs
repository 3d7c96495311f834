//! `kith dupes`, `kith merge`, `kith unmerge`: people entered twice.

use clap::Args;
use kith::model::Kind;

use crate::cli::{Env, print_json};

/// List people who are probably entered twice, with why
#[derive(Args, Debug)]
pub struct DupesArgs {
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

/// Merge a second record of someone into the first: fields, emails and
/// phones it lacks, and every fact, note, relationship, interaction and
/// follow-up; `kith unmerge` undoes it
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The record to keep
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
    who: String,
    /// The record to merge into it (it is removed)
    other: String,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

/// Undo a merge: both records back as they were
#[derive(Args, Debug)]
pub struct UnmergeArgs {
    /// The record that was merged away, or the one kept
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
    who: String,
}

pub fn dupes(env: &Env, args: DupesArgs) -> anyhow::Result<()> {
    let ledger = env.open()?;
    let found = ledger.dupes()?;
    if args.json {
        return print_json(&found);
    }
    let s = env.style();
    if found.is_empty() {
        println!("No likely duplicates.");
        return Ok(());
    }
    for d in &found {
        println!(
            "{} {}  and  {} {}  — {}",
            s.bold(&d.a_name),
            s.dim(d.a.short()),
            s.bold(&d.b_name),
            s.dim(d.b.short()),
            d.reasons.join(", ")
        );
    }
    println!(
        "{}",
        s.dim(&format!(
            "{} pairs; merge one with `kith merge {} {}`",
            found.len(),
            found[0].a.short(),
            found[0].b.short()
        ))
    );
    Ok(())
}

pub fn merge(env: &Env, args: MergeArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let keep = ledger.resolve(&args.who, &[Kind::Person], false)?;
    let other = ledger.resolve(&args.other, &[Kind::Person], false)?;
    let report = ledger.merge(&keep, &other)?;
    if args.json {
        return print_json(&report);
    }
    println!(
        "Merged {} into {}: {} fields, {} emails/phones/tags, {} records moved. Undo with `kith unmerge {}`.",
        ledger.describe(&other),
        ledger.describe(&keep),
        report.fields,
        report.members,
        report.items,
        report.merged.short()
    );
    Ok(())
}

pub fn unmerge(env: &Env, args: UnmergeArgs) -> anyhow::Result<()> {
    let mut ledger = env.open()?;
    let (keep, merged) = ledger.unmerge(&args.who)?;
    println!(
        "{} and {} are two records again.",
        ledger.describe(&keep),
        ledger.describe(&merged)
    );
    Ok(())
}
