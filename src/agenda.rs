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
    /// At most `limit` of each list below; the totals say how many there are.
    pub limit: usize,
    pub occasions: Vec<Occasion>,
    pub occasions_total: usize,
    pub follow_ups: Vec<FollowUpView>,
    pub follow_ups_total: usize,
    pub keep_in_touch: Vec<Overdue>,
    pub keep_in_touch_total: usize,
}

impl Ledger {
    /// The agenda for today and the `days` after it: in each list the
    /// `limit` most pressing items, and how many there are in all.
    pub fn agenda(&self, days: u32, limit: usize) -> Result<Agenda> {
        let today = self.today();
        let until = today.checked_add((days as i64).days()).unwrap_or(today);
        let mut occasions = Vec::new();
        let mut occasions_total = 0;
        for (field, label) in [("birthday", "birthday"), ("anniversary", "anniversary")] {
            let (found, total) = self.occasions(field, label, today, until, limit)?;
            occasions.extend(found);
            occasions_total += total;
        }
        occasions.sort_by(|a, b| a.in_days.cmp(&b.in_days).then(a.person.cmp(&b.person)));
        occasions.truncate(limit);

        let index = self.index();
        // Removed people are few: one small set to exclude, not a lookup
        // per follow-up.
        let open = "FROM follow_ups f WHERE f.done = 0 AND f.due <= ?1
                    AND f.person NOT IN (SELECT id FROM people WHERE deleted = 1)";
        let follow_ups_total =
            index.count_with(&format!("SELECT count(*) {open}"), [until.to_string()])?;
        let follow_ups = index
            .query_entities(
                &format!(
                    "SELECT (SELECT json FROM entities WHERE id = f.id) {open} ORDER BY f.due, f.id LIMIT ?2"
                ),
                rusqlite::params![until.to_string(), limit as i64],
            )?
            .into_iter()
            .map(|f| follow_up_view(index, f))
            .collect();

        // The index keeps each person's keep-in-touch due date (last contact,
        // or the day they were added, plus the cadence) up to date.
        let due_sql = "FROM people WHERE touch_due <= ?1 AND deleted = 0";
        let keep_in_touch_total =
            index.count_with(&format!("SELECT count(*) {due_sql}"), [until.to_string()])?;
        let rows = index.rows(
            &format!(
                "SELECT id, name, cadence, last, touch_due {due_sql} ORDER BY touch_due, name LIMIT ?2"
            ),
            rusqlite::params![until.to_string(), limit as i64],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
        )?;
        let mut keep_in_touch = Vec::with_capacity(rows.len());
        for (id, name, cadence, last, due) in rows {
            let (Ok(id), Some(due)) = (Id::parse(&id), day_of(&due)) else {
                continue;
            };
            keep_in_touch.push(Overdue {
                person: name,
                every: format_cadence(cadence as u32),
                last_contact: last,
                due: due.to_string(),
                days_overdue: (today - due).get_days() as i64,
                person_id: id,
            });
        }
        Ok(Agenda {
            today: today.to_string(),
            days,
            limit,
            occasions,
            occasions_total,
            follow_ups,
            follow_ups_total,
            keep_in_touch,
            keep_in_touch_total,
        })
    }

    /// The first `limit` birthdays (or anniversaries) from today to
    /// `until`, in calendar order, and how many there are in all.
    fn occasions(
        &self,
        field: &str,
        label: &'static str,
        today: Date,
        until: Date,
        limit: usize,
    ) -> Result<(Vec<Occasion>, usize)> {
        // The month-days the window covers; 29 February is kept on the
        // 28th in common years.
        let mut days = Vec::new();
        let mut d = today;
        while d <= until && days.len() < 366 {
            days.push(d.month() as i64 * 100 + d.day() as i64);
            if d.month() == 2 && d.day() == 28 && !d.in_leap_year() {
                days.push(229);
            }
            d = match d.tomorrow() {
                Ok(next) => next,
                Err(_) => break,
            };
        }
        let list = days
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let column = format!("{field}_md");
        let from = today.month() as i64 * 100 + today.day() as i64;
        let total = self.index().count_with(
            &format!("SELECT count(*) FROM people WHERE {column} IN ({list}) AND deleted = 0"),
            [],
        )?;
        // Calendar order from today, wrapping at the year's end, then by
        // name: one month-day at a time through the index on (month-day,
        // deleted, name), which stops at `limit` people instead of reading
        // and sorting everyone born in the window (1,400 people in a week
        // at 100,000).
        days.sort_by_key(|&d| if d >= from { d - from } else { d + 1300 - from });
        days.dedup();
        let sql = format!(
            "SELECT id, name, {field} FROM people WHERE {column} = ?1 AND deleted = 0 ORDER BY name LIMIT ?2"
        );
        let mut rows = Vec::new();
        for day in days {
            if rows.len() >= limit {
                break;
            }
            rows.extend(self.index().rows(
                &sql,
                rusqlite::params![day, (limit - rows.len()) as i64],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                },
            )?);
        }
        let mut out = Vec::new();
        for (id, name, date) in rows {
            let (Ok(id), Some(date)) = (
                Id::parse(&id),
                date.and_then(|d| PartialDate::parse(&d).ok()),
            ) else {
                continue;
            };
            let next = date.next_on_or_after(today);
            out.push(Occasion {
                person: name,
                occasion: label,
                date: next.to_string(),
                in_days: (next - today).get_days() as i64,
                years: date.year.map(|y| next.year() - y),
                person_id: id,
            });
        }
        Ok((out, total))
    }
}
