//! `kith today`: what matters this morning.

use clap::Args;

use crate::cli::{Env, print_json};

/// Show birthdays, anniversaries, follow-ups and people to call, today and the days ahead
#[derive(Args, Debug)]
pub struct TodayArgs {
    /// How many days ahead to look
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// Show at most this many items in each list
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: TodayArgs) -> anyhow::Result<()> {
    let ledger = env.open()?;
    let agenda = ledger.agenda(args.days, args.limit)?;
    if args.json {
        return print_json(&agenda);
    }
    let s = env.style();
    println!("{}", s.bold(&format!("Today, {}", agenda.today)));
    let nothing = agenda.occasions.is_empty()
        && agenda.follow_ups.is_empty()
        && agenda.keep_in_touch.is_empty();
    if nothing {
        println!("  nothing due in the next {} days", agenda.days);
    }
    if !agenda.occasions.is_empty() {
        println!("{}", s.bold("Birthdays and anniversaries"));
        for o in &agenda.occasions {
            let when = match o.in_days {
                0 => s.warn("today"),
                1 => "tomorrow".to_string(),
                n => format!("in {n} days"),
            };
            let years = match (o.years, o.occasion) {
                (Some(y), "birthday") => format!(" (turns {y})"),
                (Some(y), _) => format!(" ({y} years)"),
                _ => String::new(),
            };
            println!("  {} {}{years}  {}, {when}", o.person, o.occasion, o.date);
        }
        more(s, agenda.occasions_total, agenda.occasions.len());
    }
    if !agenda.follow_ups.is_empty() {
        println!("{}", s.bold("Follow-ups"));
        for f in &agenda.follow_ups {
            let due = if f.due.as_str() < agenda.today.as_str() {
                s.alert(&format!("overdue since {}", f.due))
            } else if f.due == agenda.today {
                s.warn("due today")
            } else {
                format!("due {}", f.due)
            };
            println!("  {}  {}: {}  {due}", s.dim(f.id.short()), f.person, f.text);
        }
        more(s, agenda.follow_ups_total, agenda.follow_ups.len());
    }
    if !agenda.keep_in_touch.is_empty() {
        println!("{}", s.bold("Keep in touch"));
        for k in &agenda.keep_in_touch {
            let last = k
                .last_contact
                .as_deref()
                .map(|l| format!("last contact {}", crate::cli::style::first_chars(l, 10)))
                .unwrap_or_else(|| "no contact yet".into());
            let state = if k.days_overdue > 0 {
                s.alert(&format!("{} days overdue", k.days_overdue))
            } else if k.days_overdue == 0 {
                s.warn("due today")
            } else {
                format!("due in {} days", -k.days_overdue)
            };
            println!("  {} (every {}, {last}): {state}", k.person, k.every);
        }
        more(s, agenda.keep_in_touch_total, agenda.keep_in_touch.len());
    }
    Ok(())
}

fn more(s: crate::cli::style::Style, total: usize, shown: usize) {
    if total > shown {
        println!(
            "  {}",
            s.dim(&format!(
                "…and {} more (--limit to see them)",
                total - shown
            ))
        );
    }
}
