//! Writing an iCalendar file: birthdays and anniversaries as yearly
//! all-day events, open follow-ups on their due days. UIDs are derived from
//! kith ids, so importing the file again updates a calendar's events
//! instead of doubling them.

use jiff::civil::Date;

use super::fold;
use crate::error::Result;
use crate::ledger::Ledger;
use crate::model::{Entity, PartialDate};

/// Any leap year: a year-less 29 February still has a first occurrence.
const NO_YEAR: i16 = 2000;

/// One event, before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub uid: String,
    pub day: Date,
    pub summary: String,
    pub description: Option<String>,
    pub yearly: bool,
}

/// iCalendar TEXT escaping.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            other => out.push(other),
        }
    }
    out
}

fn day_of(d: PartialDate) -> Option<Date> {
    let year = d.year.unwrap_or(NO_YEAR);
    Date::new(year, d.month as i8, d.day as i8).ok()
}

impl Ledger {
    /// The events an ICS export holds: for `people` (or everyone), their
    /// birthdays and anniversaries, and open follow-ups.
    pub fn calendar_events(&self, people: &[Entity], include_private: bool) -> Result<Vec<Event>> {
        let records = self.export_records(people, include_private)?;
        let mut events = Vec::new();
        for r in &records {
            let e = &r.entity;
            for (field, what) in [("birthday", "birthday"), ("anniversary", "anniversary")] {
                let Some(d) = e.str(field).and_then(|s| PartialDate::parse(s).ok()) else {
                    continue;
                };
                let Some(day) = day_of(d) else { continue };
                events.push(Event {
                    uid: format!("{what}-{}@kith", e.id),
                    day,
                    summary: format!("{}'s {what}", r.name()),
                    description: d.year.map(|y| format!("since {y}")),
                    yearly: true,
                });
            }
        }
        let ids: Vec<&str> = records.iter().map(|r| r.entity.id.as_str()).collect();
        let follow_ups = self.index().query_entities(
            "SELECT e.json FROM follow_ups f JOIN entities e ON e.id = f.id JOIN people p ON p.id = f.person WHERE f.done = 0 AND p.deleted = 0 ORDER BY f.due, f.id",
            [],
        )?;
        for f in follow_ups {
            let person = f.str("person").unwrap_or("");
            if !people.is_empty() && !ids.contains(&person) {
                continue;
            }
            if !include_private && !f.private.is_empty() {
                continue;
            }
            let Some(day) = f.str("due").and_then(|d| d.parse::<Date>().ok()) else {
                continue;
            };
            let name = records
                .iter()
                .find(|r| r.entity.id.as_str() == person)
                .map(|r| r.name().to_string())
                .unwrap_or_default();
            events.push(Event {
                uid: format!("follow-up-{}@kith", f.id),
                day,
                summary: format!("Follow up with {name}"),
                description: f.str("text").map(str::to_string),
                yearly: false,
            });
        }
        Ok(events)
    }
}

/// The events as one VCALENDAR. `stamp` is the DTSTAMP, UTC.
pub fn write_all(
    events: &[Event],
    stamp: &str,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut s = String::new();
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//kith//kith//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:kith",
    ] {
        fold(l, &mut s);
    }
    for e in events {
        fold("BEGIN:VEVENT", &mut s);
        fold(&format!("UID:{}", e.uid), &mut s);
        fold(&format!("DTSTAMP:{stamp}"), &mut s);
        fold(
            &format!("DTSTART;VALUE=DATE:{}", e.day.strftime("%Y%m%d")),
            &mut s,
        );
        let end = e.day.tomorrow().unwrap_or(e.day);
        fold(
            &format!("DTEND;VALUE=DATE:{}", end.strftime("%Y%m%d")),
            &mut s,
        );
        if e.yearly {
            fold("RRULE:FREQ=YEARLY", &mut s);
        }
        fold(&format!("SUMMARY:{}", escape(&e.summary)), &mut s);
        if let Some(d) = &e.description {
            fold(&format!("DESCRIPTION:{}", escape(d)), &mut s);
        }
        fold("TRANSP:TRANSPARENT", &mut s);
        fold("END:VEVENT", &mut s);
        out.write_all(s.as_bytes())?;
        s.clear();
    }
    fold("END:VCALENDAR", &mut s);
    out.write_all(s.as_bytes())
}
