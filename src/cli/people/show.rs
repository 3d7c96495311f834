//! `kith show WHO`: everything about one person or company.

use clap::Args;
use kith::Ledger;
use kith::model::{Kind, join_labeled as labeled};
use kith::view::{self, CompanyView, Detail, PersonView};

use crate::cli::style::Style;
use crate::cli::{Env, print_json};

/// Show everything about a person or company
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// A name (typos are fine), an email, or an id prefix; MEMBER/WHO for a teammate's ledger
    #[arg(add = crate::cli::completions::who(), value_parser = crate::cli::lookup)]
    who: String,
    /// How many interactions to show
    #[arg(long, default_value_t = 10)]
    interactions: usize,
    /// As the ledger held them at the end of this day: 2026-11-20, yesterday, -30d (today or later: as now)
    #[arg(long, allow_hyphen_values = true)]
    at: Option<String>,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(env: &Env, args: ShowArgs) -> anyhow::Result<()> {
    // MEMBER/WHO reads a teammate's replica.
    if let Some((replica, who)) = env.opener().member_who(&args.who)? {
        let owner = Owner {
            label: replica.label(&env.tz),
            name: replica.owner.name.clone(),
            id: replica.owner.id.clone(),
        };
        return show(env, &args, &replica.ledger, who, Some(owner));
    }
    let ledger = env.open()?;
    show(env, &args, &ledger, &args.who, None)
}

/// Whose ledger a teammate's record comes from.
struct Owner {
    label: String,
    name: String,
    id: String,
}

fn show(
    env: &Env,
    args: &ShowArgs,
    ledger: &Ledger,
    who: &str,
    owner: Option<Owner>,
) -> anyhow::Result<()> {
    let kinds = [Kind::Person, Kind::Company];
    let (entity, past) = match &args.at {
        None => (ledger.resolve(who, &kinds, false)?, None),
        Some(at) => kith::asof::resolve_at(ledger, who, &kinds, at)?,
    };
    let index = past.as_ref().map_or(ledger.index(), |(_, p)| p.index());
    let detail = Detail::Full {
        interactions: args.interactions,
    };
    let json = |v: serde_json::Value| match &owner {
        Some(o) => print_json(&kith::replicas::with_owner(&v, &o.name, Some(&o.id))),
        None => print_json(&v),
    };
    let s = env.style();
    let text = match entity.kind {
        Kind::Company => {
            let v = view::company(index, &entity, detail)?;
            if args.json {
                return json(serde_json::to_value(&v)?);
            }
            render_company(&v, s)
        }
        _ => {
            let v = view::person(index, &entity, detail)?;
            if args.json {
                return json(serde_json::to_value(&v)?);
            }
            render_person(&v, s)
        }
    };
    if let Some((day, _)) = &past {
        println!("{}", s.dim(&format!("as of {day} (end of day)")));
    }
    if let Some(o) = &owner {
        println!("{}", s.dim(&format!("from {}'s ledger", o.label)));
    }
    print!("{text}");
    Ok(())
}

/// A person as people read it. Private items carry a marker.
pub fn render_person(v: &PersonView, s: Style) -> String {
    let mut out = String::new();
    let mut line = |t: String| {
        out.push_str(&t);
        out.push('\n');
    };
    let removed = if v.deleted {
        s.alert(" (removed)")
    } else {
        String::new()
    };
    line(format!(
        "{}{removed}  {}",
        s.bold(&v.name),
        s.dim(v.id.short())
    ));
    let title = match (&v.title, &v.department) {
        (Some(t), Some(d)) => Some(format!("{t}, {d}")),
        (t, d) => t.clone().or_else(|| d.clone()),
    };
    match (&title, &v.company) {
        (Some(t), Some(c)) => line(format!("  {t} at {c}")),
        (None, Some(c)) => line(format!("  {c}")),
        (Some(t), None) => line(format!("  {t}")),
        (None, None) => {}
    }
    if v.name_only {
        line(s.dim("  known only by name (named on someone else's card)"));
    }
    if let Some(from) = &v.adopted_from {
        line(s.dim(&format!("  {}", kith::adopt::describe(from))));
    }
    let private = |f: &str| s.private(v.private.iter().any(|p| p == f));
    let mut field = |label: &str, value: String, key: &str| {
        if !value.is_empty() {
            line(format!("  {:<14}{value}{}", s.dim(label), private(key)));
        }
    };
    field(
        "nickname",
        v.nickname.clone().unwrap_or_default(),
        "nickname",
    );
    field("email", labeled(&v.emails), "emails");
    field("phone", labeled(&v.phones), "phones");
    field("address", labeled(&v.addresses), "addresses");
    field(
        "birthday",
        v.birthday.clone().unwrap_or_default(),
        "birthday",
    );
    field(
        "anniversary",
        v.anniversary.clone().unwrap_or_default(),
        "anniversary",
    );
    field("tags", v.tags.join(", "), "tags");
    field("web", labeled(&v.urls), "urls");
    field("chat", labeled(&v.impps), "impps");
    field("language", v.lang.clone().unwrap_or_default(), "lang");
    field("gender", v.gender.clone().unwrap_or_default(), "gender");
    field(
        "photo",
        if v.photo { "yes".into() } else { String::new() },
        "photo",
    );
    let touch = match (&v.keep_in_touch, &v.last_contact) {
        (Some(every), Some(last)) => format!(
            "every {every}, last contact {}",
            crate::cli::style::first_chars(last, 10)
        ),
        (Some(every), None) => format!("every {every}, no contact yet"),
        _ => String::new(),
    };
    field("keep in touch", touch, "cadence_days");
    if !v.facts.is_empty() {
        line(s.bold("Facts"));
        for f in &v.facts {
            let from = f
                .adopted_from
                .as_ref()
                .map(|o| format!(", {}", kith::adopt::describe(o)))
                .unwrap_or_default();
            line(format!(
                "  - {} {}{}",
                f.text,
                s.dim(&format!("({}{from})", f.date)),
                s.private(f.private)
            ));
        }
    }
    if let Some(rels) = v.relationships.as_ref().filter(|r| !r.is_empty()) {
        line(s.bold("Relationships"));
        for r in rels {
            line(format!(
                "  {:<14}{}{}",
                r.relation,
                r.person,
                s.private(r.private)
            ));
        }
    }
    if let Some(items) = v.interactions.as_ref().filter(|r| !r.is_empty()) {
        line(s.bold("Interactions"));
        for i in items {
            let others: Vec<&String> = i.with.iter().filter(|n| **n != v.name).collect();
            let with = if others.is_empty() {
                String::new()
            } else {
                format!(
                    " (with {})",
                    others
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            line(format!(
                "  {}  {:<8}{}{with}{}",
                crate::cli::style::first_chars(&i.at, 10),
                i.channel,
                i.summary.clone().unwrap_or_default(),
                s.private(i.private)
            ));
        }
    }
    if let Some(items) = v.follow_ups.as_ref().filter(|r| !r.is_empty()) {
        line(s.bold("Follow-ups"));
        for f in items {
            let mark = if f.done.is_some() {
                s.good("done")
            } else {
                "open".to_string()
            };
            line(format!(
                "  {mark}  due {}  {}  {}{}",
                f.due,
                f.text,
                s.dim(f.id.short()),
                s.private(f.private)
            ));
        }
    }
    if let Some(notes) = v.notes.as_ref().filter(|r| !r.is_empty()) {
        line(s.bold("Notes"));
        for n in notes {
            line(format!(
                "  - {} {}{}",
                n.text,
                s.dim(&format!("({})", n.date)),
                s.private(n.private)
            ));
        }
    }
    out
}

fn render_company(v: &CompanyView, s: Style) -> String {
    let mut out = format!("{}  {}\n", s.bold(&v.name), s.dim(v.id.short()));
    if let Some(d) = &v.domain {
        out.push_str(&format!("  {:<14}{d}\n", s.dim("domain")));
    }
    if !v.tags.is_empty() {
        out.push_str(&format!("  {:<14}{}\n", s.dim("tags"), v.tags.join(", ")));
    }
    if !v.people.is_empty() {
        out.push_str(&format!("{}\n", s.bold("People")));
        for p in &v.people {
            let title = p
                .title
                .as_deref()
                .map(|t| format!(", {t}"))
                .unwrap_or_default();
            out.push_str(&format!("  {}{title}\n", p.name));
        }
    }
    for (heading, items) in [("Facts", Some(&v.facts)), ("Notes", v.notes.as_ref())] {
        if let Some(items) = items.filter(|i| !i.is_empty()) {
            out.push_str(&format!("{}\n", s.bold(heading)));
            for f in items {
                out.push_str(&format!(
                    "  - {} ({}){}\n",
                    f.text,
                    f.date,
                    s.private(f.private)
                ));
            }
        }
    }
    out
}
