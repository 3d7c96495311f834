//! `kith today`: what matters this morning. Birthdays and anniversaries
//! coming up, follow-ups due or overdue, and people whose keep-in-touch
//! cadence says it is time to call.

use jiff::ToSpan;
use jiff::civil::Date;
use serde::Serialize;

use crate::error::Result;
use crate::ledger::Ledger;
use crate::model::{Id, PartialDate, format_cadence};
use crate::view::{FollowUpView, follow_up_view};
use crate::when::day_of;

#[derive(Debug, Serialize)]
pub struct Occasion {
    pub person_id: Id,
    pub person: String,
    /// "birthday" or "anniversary".
    pub occasion: &'static str,
    pub date: String,
    pub in_days: i64,
    /// The age reached or years married, when the year is known.
    pub years: Option<i16>,
}

#[derive(Debug, Serialize)]
pub struct Overdue {
    pub person_id: Id,
    pub person: String,
    pub every: String,
    pub last_contact: Option<String>,
    pub due: String,
    /// Positive when overdue, negative when due in that many days.
    pub days_overdue: i64,
}

#[derive(Debug, Serialize)]
pub struct Agenda {
    pub today: String,
    pub days: u32,
    pub occasions: Vec<Occasion>,
    pub follow_ups: Vec<FollowUpView>,
    pub keep_in_touch: Vec<Overdue>,
}

impl Ledger {
    /// The agenda for today and the `days` after it.
    pub fn agenda(&self, days: u32) -> Result<Agenda> {
        let today = self.today();
        let until = today.checked_add((days as i64).days()).unwrap_or(today);
        let mut occasions = Vec::new();
        for (field, label) in [("birthday", "birthday"), ("anniversary", "anniversary")] {
            occasions.extend(self.occasions(field, label, today, until)?);
        }
        occasions.sort_by(|a, b| a.in_days.cmp(&b.in_days).then(a.person.cmp(&b.person)));
        let index = self.index();
        let follow_ups = index
            .query_entities(
                "SELECT e.json FROM follow_ups f JOIN entities e ON e.id = f.id JOIN people p ON p.id = f.person WHERE f.done = 0 AND f.due <= ?1 AND p.deleted = 0 ORDER BY f.due, f.id",
                [until.to_string()],
            )?
            .into_iter()
            .map(|f| follow_up_view(index, f))
            .collect();
        let mut keep_in_touch = Vec::new();
        // Due = last contact (or, never contacted, the day they were added)
        // plus the cadence; SQLite does the date sums so only people who are
        // due come back.
        let due = index.rows3(
            "SELECT p.id, p.cadence, (SELECT max(v.at) FROM involved v WHERE v.person = p.id) AS last, p.since FROM people p
             WHERE p.cadence IS NOT NULL AND p.deleted = 0
               AND julianday(substr(coalesce((SELECT max(v.at) FROM involved v WHERE v.person = p.id), p.since, ?1), 1, 10)) + p.cadence <= julianday(?2)",
            [today.to_string(), until.to_string()],
        )?;
        for (id, cadence, last, since) in due {
            let Ok(id) = Id::parse(&id) else { continue };
            let Some(person) = index.entity(&id)? else {
                continue;
            };
            let start = last
                .as_deref()
                .or(since.as_deref())
                .and_then(day_of)
                .unwrap_or(today);
            let due = start.checked_add(cadence.days()).unwrap_or(start);
            keep_in_touch.push(Overdue {
                person: person.str("name").unwrap_or("").to_string(),
                every: format_cadence(cadence as u32),
                last_contact: last,
                due: due.to_string(),
                days_overdue: (today - due).get_days() as i64,
                person_id: id,
            });
        }
        keep_in_touch.sort_by(|a, b| {
            b.days_overdue
                .cmp(&a.days_overdue)
                .then(a.person.cmp(&b.person))
        });
        Ok(Agenda {
            today: today.to_string(),
            days,
            occasions,
            follow_ups,
            keep_in_touch,
        })
    }

    fn occasions(
        &self,
        field: &str,
        label: &'static str,
        today: Date,
        until: Date,
    ) -> Result<Vec<Occasion>> {
        let md = |d: Date| d.month() as i64 * 100 + d.day() as i64;
        let (from, to) = (md(today), md(until));
        let column = format!("{field}_md");
        let range = if until.year() > today.year() || to < from {
            format!("({column} >= {from} OR {column} <= {to})")
        } else {
            format!("{column} BETWEEN {from} AND {to}")
        };
        // 29 February falls on the 28th in common years: always a candidate.
        let sql = format!(
            "SELECT e.json FROM people p JOIN entities e ON e.id = p.id WHERE p.deleted = 0 AND ({range} OR {column} = 229)"
        );
        let mut out = Vec::new();
        for person in self.index().query_entities(&sql, [])? {
            let Some(date) = person.str(field).and_then(|s| PartialDate::parse(s).ok()) else {
                continue;
            };
            let next = date.next_on_or_after(today);
            if next > until {
                continue;
            }
            out.push(Occasion {
                person: person.str("name").unwrap_or("").to_string(),
                occasion: label,
                date: next.to_string(),
                in_days: (next - today).get_days() as i64,
                years: date.year.map(|y| next.year() - y),
                person_id: person.id,
            });
        }
        Ok(out)
    }
}
