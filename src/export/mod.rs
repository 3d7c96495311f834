//! Taking contacts out to other programs: vCard 3.0 and 4.0 for address
//! books, Google Contacts CSV for spreadsheets, and an iCalendar file of
//! birthdays, anniversaries and follow-ups for calendars; vCards also as a
//! vdir, a folder of one `.vcf` file per card (`vdir.rs`). (The complete
//! native backup, JSONL, is [`crate::transfer`].)
//!
//! Everything is read from the index. With `include_private` off, only the
//! shared part goes out: private fields, notes, facts and relationships are
//! left behind exactly as they are for teammates.

pub mod csv;
pub mod ics;
pub mod vcard;
pub mod vdir;

use serde::Serialize;

use crate::error::Result;
use crate::ledger::Ledger;
use crate::model::{Entity, Id, Kind};
use crate::view;

/// One person or company, as much of it as goes out.
#[derive(Clone, Debug)]
pub struct Record {
    /// The record, with private fields removed unless they go out.
    pub entity: Entity,
    pub company: Option<String>,
    pub notes: Vec<String>,
    /// Facts with the day they were learned.
    pub facts: Vec<(String, String)>,
    /// (relation, name) of related people, read from this record's side.
    pub related: Vec<(String, String)>,
}

impl Record {
    pub fn name(&self) -> &str {
        self.entity.str("name").unwrap_or("")
    }
}

#[derive(Debug, Default, Serialize)]
pub struct ExportSummary {
    pub people: usize,
    pub companies: usize,
    pub events: usize,
}

impl Ledger {
    /// The records an export covers: `who`, or every live person and
    /// company, in the order `list` shows them.
    pub fn export_records(&self, who: &[Entity], include_private: bool) -> Result<Vec<Record>> {
        let entities = if who.is_empty() {
            let mut all = self.index().query_entities(
                "SELECT e.json FROM people p JOIN entities e ON e.id = p.id WHERE p.deleted = 0 ORDER BY p.sort_key, p.id",
                [],
            )?;
            all.extend(self.index().query_entities(
                "SELECT e.json FROM companies c JOIN entities e ON e.id = c.id WHERE c.deleted = 0 ORDER BY c.name_key, c.id",
                [],
            )?);
            all
        } else {
            who.to_vec()
        };
        entities
            .into_iter()
            .map(|e| self.record(e, include_private))
            .collect()
    }

    fn record(&self, mut entity: Entity, include_private: bool) -> Result<Record> {
        if !include_private {
            entity.private.clear();
        }
        let index = self.index();
        let company = entity
            .shared
            .get("company")
            .or_else(|| entity.private.get("company"))
            .and_then(|c| c.as_str())
            .and_then(|c| Id::parse(c).ok())
            .and_then(|id| index.entity(&id).ok().flatten())
            .and_then(|c| c.str("name").map(str::to_string));
        let items = index.query_entities(
            "SELECT e.json FROM items i JOIN entities e ON e.id = i.id WHERE i.subject = ?1 AND i.kind IN ('note', 'fact') ORDER BY i.at, i.id",
            [entity.id.as_str()],
        )?;
        let mut notes = Vec::new();
        let mut facts = Vec::new();
        for item in items {
            if !include_private && !item.private.is_empty() {
                continue;
            }
            let body = item.str("text").unwrap_or("").to_string();
            match item.kind {
                Kind::Note => notes.push(body),
                _ => facts.push((body, item.str("learned").unwrap_or("").to_string())),
            }
        }
        // Sorted: ids, and so the order links are found in, differ
        // between ledgers, and an export should not.
        let mut related: Vec<(String, String)> = if entity.kind == Kind::Person {
            view::relationships(index, &entity.id)?
                .into_iter()
                .filter(|r| include_private || !r.private)
                .map(|r| (r.relation, r.person))
                .collect()
        } else {
            Vec::new()
        };
        related.sort();
        Ok(Record {
            entity,
            company,
            notes,
            facts,
            related,
        })
    }
}

/// Folds a content line at 75 octets, as vCard and iCalendar require,
/// never inside a UTF-8 character.
pub fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for ch in line.chars() {
        let n = ch.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(ch);
        width += n;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folds_at_75_octets_on_character_boundaries() {
        let line = format!("NOTE:{}", "é".repeat(60));
        let mut out = String::new();
        fold(&line, &mut out);
        for l in out.split("\r\n") {
            assert!(l.len() <= 75, "{l}");
        }
        assert_eq!(out.replace("\r\n ", ""), format!("{line}\r\n"));
    }
}
