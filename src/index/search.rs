//! `kith find` and name resolution: typo-tolerant matching of names, full
//! text over everything else, ranked.
//!
//! Names are found through a trigram index (any shared trigram makes a
//! candidate), then scored in Rust by edit distance per word, so "migins"
//! finds Miggins. Other text (emails, phones, companies, facts, notes,
//! interaction summaries, follow-ups) goes through a word index with prefix
//! matching and is ranked below name matches.

use std::collections::HashMap;

use rusqlite::params;
use serde::Serialize;
use serde_json::Value as Json;

use super::{Index, name_key};
use crate::error::Result;
use crate::model::{Entity, Id, Kind};

/// How many candidates each index may offer before scoring.
const CANDIDATES: usize = 300;
/// Above this many matches, word-index results are taken unranked.
const RANK_LIMIT: i64 = 5000;
/// Word similarity below which a name does not match.
const NAME_THRESHOLD: f64 = 0.72;

#[derive(Clone, Debug, Serialize)]
pub struct Hit {
    pub id: Id,
    pub kind: Kind,
    /// 0 to 1; names score above other text.
    pub score: f64,
    /// What matched: "name", "email", "fact: …", "interaction 2026-11-24: …".
    pub why: String,
}

/// The least string greater than every string starting with `prefix`: the
/// prefix with its last character moved up by one. None for an empty
/// prefix or one ending in the last character there is.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    let last = chars.pop()?;
    let next = char::from_u32(last as u32 + 1)?;
    chars.push(next);
    Some(chars.into_iter().collect())
}

/// Similarity of one query word to one name word.
fn word_similarity(q: &str, w: &str) -> f64 {
    if q == w {
        1.0
    } else if w.starts_with(q) && q.chars().count() >= 2 {
        0.9 + 0.05 * (q.len() as f64 / w.len() as f64)
    } else if w.starts_with(q) {
        // An initial: "edna m".
        0.85
    } else if q.chars().count() < 3 {
        0.0
    } else {
        strsim::normalized_damerau_levenshtein(q, w)
    }
}

/// How well `query` matches `name`, 0 to 1: every query word must find a
/// similar word in the name.
pub fn name_score(query: &str, name: &str) -> f64 {
    let q = name_key(query);
    let n = name_key(name);
    if q.is_empty() || n.is_empty() {
        return 0.0;
    }
    if q == n {
        return 1.0;
    }
    let words: Vec<&str> = n.split(' ').collect();
    let mut total = 0.0;
    let mut count = 0.0;
    for qw in q.split(' ') {
        let best = words
            .iter()
            .map(|w| word_similarity(qw, w))
            .fold(0.0, f64::max);
        if best < NAME_THRESHOLD {
            // The query with its spaces removed may still match ("mcdonald" / "mc donald").
            let joined =
                strsim::normalized_damerau_levenshtein(&q.replace(' ', ""), &n.replace(' ', ""));
            return if joined >= 0.85 { joined * 0.95 } else { 0.0 };
        }
        total += best;
        count += 1.0;
    }
    // Matching every word of the name beats matching some of them.
    let coverage = (count / words.len() as f64).min(1.0);
    (total / count) * (0.97 + 0.03 * coverage) * 0.99
}

/// The distinct trigrams of each word of `q`.
fn trigrams(q: &str) -> Vec<String> {
    let mut grams = Vec::new();
    for word in q.split(' ') {
        let chars: Vec<char> = word.chars().collect();
        for w in chars.windows(3) {
            let g: String = w.iter().collect();
            if !g.contains('"') && !grams.contains(&g) {
                grams.push(g);
            }
        }
    }
    grams
}

/// An FTS query needing every word of `q`, each as a whole word or, with
/// `prefix`, as the start of one.
pub(crate) fn word_query(q: &str, prefix: bool) -> Option<String> {
    let star = if prefix { "*" } else { "" };
    let words: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"{star}", w.to_lowercase()))
        .collect();
    (!words.is_empty()).then(|| words.join(" AND "))
}

impl Index {
    /// People and companies whose name is like `query`, best first.
    pub fn match_names(&self, query: &str, kinds: &[Kind]) -> Result<Vec<(Entity, f64)>> {
        let q = name_key(query);
        let rowids = self.name_candidates(&q)?;
        let mut entities = self.entities_by_rowid(&rowids)?;
        if q.chars().count() < 3
            && let Some(end) = prefix_end(&q)
        {
            // Too short for trigrams: names whose first word starts so
            // (name_key), or whose last name does (sort_key is "last,
            // first"), as ranges of their indexes. A LIKE '% jo%' for any
            // word would read every name: 120 ms at 100,000 people, where
            // these take a few, which matters for search as you type.
            let ids = self.ids(
                "SELECT id FROM (SELECT id FROM people WHERE name_key >= ?1 AND name_key < ?2 LIMIT 300) \
                 UNION SELECT id FROM (SELECT id FROM people WHERE sort_key >= ?1 AND sort_key < ?2 LIMIT 300) \
                 UNION SELECT id FROM (SELECT id FROM companies WHERE name_key >= ?1 AND name_key < ?2 LIMIT 300) \
                 LIMIT 300",
                params![q, end],
            )?;
            entities.extend(self.entities(&ids)?);
        }
        let mut out: Vec<(Entity, f64)> = entities
            .into_iter()
            .filter(|e| kinds.contains(&e.kind))
            .filter_map(|e| {
                let mut score = name_score(query, e.str("name").unwrap_or(""));
                if let Some(nick) = e.str("nickname") {
                    score = score.max(name_score(query, nick) * 0.98);
                }
                (score > 0.0).then_some((e, score))
            })
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out.dedup_by(|a, b| a.0.id == b.0.id);
        Ok(out)
    }

    /// Names sharing the most trigrams with `q`, at most CANDIDATES of them.
    /// Counting shared trigrams per name finds a misspelt name among tens of
    /// thousands that share one trigram with it, where FTS ranking would
    /// have to score every one of them.
    fn name_candidates(&self, q: &str) -> Result<Vec<i64>> {
        let mut shared: HashMap<i64, u32> = HashMap::new();
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT rowid FROM names WHERE names MATCH ?1")
            .map_err(|e| self.err(e))?;
        for gram in trigrams(q) {
            let rows = stmt
                .query_map([format!("\"{gram}\"")], |r| r.get::<_, i64>(0))
                .map_err(|e| self.err(e))?;
            for row in rows {
                *shared.entry(row.map_err(|e| self.err(e))?).or_default() += 1;
            }
        }
        let mut ranked: Vec<(i64, u32)> = shared.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(ranked
            .into_iter()
            .take(CANDIDATES)
            .map(|(rowid, _)| rowid)
            .collect())
    }

    /// Up to CANDIDATES rows matching an FTS query, best ranked first.
    /// Ranking scores every match, which is slow for a word found in half the
    /// ledger; past RANK_LIMIT matches the first rows found are taken as they
    /// come, since a word that common ranks nothing anyway.
    fn fts_candidates(&self, table: &str, query: &str) -> Result<Vec<i64>> {
        let count_sql = format!(
            "SELECT count(*) FROM (SELECT rowid FROM {table} WHERE {table} MATCH ?1 LIMIT ?2)"
        );
        let matches: i64 = self
            .conn()
            .prepare_cached(&count_sql)
            .and_then(|mut st| st.query_row(params![query, RANK_LIMIT + 1], |r| r.get(0)))
            .map_err(|e| self.err(e))?;
        let sql = if matches > RANK_LIMIT {
            format!("SELECT rowid FROM {table} WHERE {table} MATCH ?1 LIMIT ?2")
        } else {
            format!("SELECT rowid FROM {table} WHERE {table} MATCH ?1 ORDER BY rank LIMIT ?2")
        };
        let mut stmt = self.conn().prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows: Vec<i64> = stmt
            .query_map(params![query, CANDIDATES as i64], |r| r.get(0))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    fn entities_by_rowid(&self, rowids: &[i64]) -> Result<Vec<Entity>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT json FROM entities WHERE rowid=?1")
            .map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(rowids.len());
        for rowid in rowids {
            let json: rusqlite::Result<String> = stmt.query_row([rowid], |r| r.get(0));
            if let Ok(e) = json
                .ok()
                .and_then(|j| serde_json::from_str::<Entity>(&j).ok())
                .ok_or(())
            {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Everything that matches `query`, resolved to the people and companies
    /// it is about, best first.
    pub fn find(&self, query: &str, limit: usize, deleted: bool) -> Result<Vec<Hit>> {
        let mut best: HashMap<Id, Hit> = HashMap::new();
        let mut offer = |id: &Id, kind: Kind, score: f64, why: String| {
            let entry = best.entry(id.clone()).or_insert(Hit {
                id: id.clone(),
                kind,
                score: 0.0,
                why: String::new(),
            });
            if score > entry.score {
                entry.score = score + entry.score.min(0.0);
                entry.why = why;
            }
        };
        if query.contains('@') {
            let email = query.trim().to_lowercase();
            for id in self.ids("SELECT id FROM emails WHERE email = ?1", [&email])? {
                offer(&id, Kind::Person, 0.98, "email".to_string());
            }
        }
        for (e, score) in self.match_names(query, &[Kind::Person, Kind::Company])? {
            // Exact and prefix name matches rank first; names that are only
            // similar rank below exact words found in other text, so "find
            // cornwall" shows facts about Cornwall before Mr Cornwell.
            let why = if score >= 0.999 {
                "name"
            } else {
                "name (similar)"
            };
            let score = if score >= 0.85 {
                score
            } else {
                0.2 + 0.3 * score
            };
            offer(&e.id, e.kind, score, why.to_string());
        }
        if let Some(exact) = word_query(query, false) {
            // Whole words first: a prefix query reads every matching word's
            // postings, which for a common word is most of the index. Only
            // when whole words find nothing are prefixes tried.
            let mut rowids = self.fts_candidates("texts", &exact)?;
            // A word of one or two letters (a name half typed: "joseph t")
            // is the start of a good part of the language: as a prefix it
            // would read most of the index (850 ms at 100,000 people), so
            // the prefix pass leaves it out.
            let long: Vec<&str> = query
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.chars().count() >= 3)
                .collect();
            if rowids.is_empty()
                && let Some(prefixed) = word_query(&long.join(" "), true)
            {
                rowids = self.fts_candidates("texts", &prefixed)?;
            }
            for (rank, e) in self.entities_by_rowid(&rowids)?.into_iter().enumerate() {
                // Earlier rows ranked better by bm25: a small bonus keeps that order.
                let bonus = 0.05 * (1.0 - rank as f64 / CANDIDATES as f64);
                for (id, kind, score, why) in self.text_targets(&e, query)? {
                    offer(&id, kind, score + bonus, why);
                }
            }
        }
        // Best score first; whether a hit is removed, and its sort key (the
        // order among equal scores), come from the columns, and only for the
        // hits that can still be among the first `limit`: a whole group of
        // equal scores at a time, until `limit` live hits are in hand. Reading
        // them for every hit took two page reads each (600 hits for "find
        // cornwall" at 100,000 people) to show 20.
        let score_key = |h: &Hit| std::cmp::Reverse((h.score * 1e6) as i64);
        let mut ranked: Vec<Hit> = best.into_values().collect();
        ranked.sort_by_key(score_key);
        let mut keyed = Vec::with_capacity(limit.min(ranked.len()));
        let mut ranked = ranked.into_iter().peekable();
        while keyed.len() < limit
            && let Some(first) = ranked.next()
        {
            let group_key = score_key(&first);
            let mut group = vec![first];
            while let Some(next) = ranked.next_if(|h| score_key(h) == group_key) {
                group.push(next);
            }
            for hit in group {
                let row = self.rows(
                    "SELECT sort_key, deleted FROM people WHERE id = ?1
                     UNION ALL SELECT name_key, deleted FROM companies WHERE id = ?1",
                    [hit.id.as_str()],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
                )?;
                let Some((sort_key, removed)) = row.into_iter().next() else {
                    continue;
                };
                if removed == 0 || deleted {
                    keyed.push((score_key(&hit), sort_key, hit));
                }
            }
        }
        keyed.sort_by(|a, b| (&a.0, &a.1, &a.2.id).cmp(&(&b.0, &b.1, &b.2.id)));
        Ok(keyed.into_iter().take(limit).map(|(_, _, h)| h).collect())
    }

    /// Who a text match is about, and how to say why it matched.
    fn text_targets(&self, e: &Entity, query: &str) -> Result<Vec<(Id, Kind, f64, String)>> {
        let s = |f: &str| e.str(f).unwrap_or("").to_string();
        let subject = |f: &str| e.str(f).and_then(|s| Id::parse(s).ok());
        Ok(match e.kind {
            Kind::Person => {
                let q = query.to_lowercase();
                let field = ["emails", "phones", "addresses"]
                    .into_iter()
                    .find(|f| {
                        e.set_values(f)
                            .iter()
                            .any(|v| v.value.to_lowercase().contains(&q))
                    })
                    .map(|f| f.trim_end_matches('s').replace("addresse", "address"))
                    .unwrap_or_else(|| "title".into());
                vec![(e.id.clone(), Kind::Person, 0.7, field)]
            }
            Kind::Company => {
                let mut out = vec![(e.id.clone(), Kind::Company, 0.65, "company".into())];
                for id in self.ids(
                    "SELECT id FROM people WHERE company=?1 AND deleted=0 LIMIT 50",
                    [e.id.as_str()],
                )? {
                    out.push((id, Kind::Person, 0.6, format!("works at {}", s("name"))));
                }
                out
            }
            Kind::Fact | Kind::Note => subject("subject")
                .map(|id| {
                    let kind = self.kind_of(&id);
                    vec![(id, kind, 0.55, format!("{}: {}", e.kind.name(), s("text")))]
                })
                .unwrap_or_default(),
            Kind::FollowUp => subject("person")
                .map(|id| vec![(id, Kind::Person, 0.5, format!("follow-up: {}", s("text")))])
                .unwrap_or_default(),
            Kind::Interaction => match e.get("people") {
                Some(Json::Array(people)) => people
                    .iter()
                    .filter_map(|p| p.as_str().and_then(|p| Id::parse(p).ok()))
                    .map(|id| {
                        (
                            id,
                            Kind::Person,
                            0.5,
                            format!("{} {}: {}", s("channel"), s("at"), s("summary")),
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            },
            Kind::Link => Vec::new(),
        })
    }

    fn kind_of(&self, id: &Id) -> Kind {
        let is_company = self
            .count_with(
                "SELECT count(*) FROM companies WHERE id = ?1",
                [id.as_str()],
            )
            .unwrap_or(0);
        if is_company > 0 {
            Kind::Company
        } else {
            Kind::Person
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{name_score, prefix_end};
    use crate::index::Index;
    use crate::model::{Entity, Id, Kind};

    #[test]
    fn a_prefix_ends_past_every_string_that_starts_with_it() {
        assert_eq!(prefix_end("jo").as_deref(), Some("jp"));
        assert_eq!(prefix_end("é").as_deref(), Some("ê"));
        assert_eq!(prefix_end(""), None);
        assert!("joz" < "jp" && "jo" < "jp" && "jp" >= "jp");
    }

    #[test]
    fn two_letters_find_a_first_or_last_name() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut index = Index::open(&dir.path().join("index.sqlite")).expect("an index");
        let mut edna = Entity::new(Kind::Person, Id::random());
        edna.shared.insert("name".into(), "Edna Miggins".into());
        edna.shared
            .insert("sort_name".into(), "Miggins, Edna".into());
        index.begin().expect("begin");
        index.put(&edna).expect("put");
        index.commit().expect("commit");
        for q in ["ed", "Mi", "mi"] {
            let found = index.match_names(q, &[Kind::Person]).expect("match");
            assert_eq!(found.len(), 1, "{q}");
        }
        assert!(
            index
                .match_names("xq", &[Kind::Person])
                .expect("match")
                .is_empty()
        );
    }

    #[test]
    fn typos_still_match() {
        assert!(name_score("migins", "Edna Miggins") > 0.8);
        assert!(name_score("edna", "Edna Miggins") > 0.9);
        assert!(name_score("Edna Miggins", "Edna Miggins") == 1.0);
        assert!(name_score("albert", "Edna Miggins") == 0.0);
        assert!(name_score("edna m", "Edna Miggins") > 0.8);
    }
}
