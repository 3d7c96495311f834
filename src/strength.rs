//! Relationship strength: a 0–100 score for how well a ledger's owner knows
//! one person, from the interactions the owner recorded with them. Only what
//! every ledger shares is used (when, which channel, who got in touch), never
//! a summary, so a teammate's score reads the same on every device.
//!
//! The formula is documented in docs/USER-GUIDE.md ("Relationship
//! strength") and is part of kith's interface: the same history on the same
//! day always gives the same score.

use jiff::civil::Date;
use serde::Serialize;

/// Who got in touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// They got in touch.
    In,
    /// The ledger's owner did.
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "in" => Some(Direction::In),
            "out" => Some(Direction::Out),
            _ => None,
        }
    }
}

/// One recorded interaction, as strength sees it.
#[derive(Clone, Debug)]
pub struct Touch {
    pub date: Date,
    pub channel: String,
    pub direction: Option<Direction>,
}

/// The most each term can add; they sum to 100.
const RECENCY: f64 = 35.0;
const FREQUENCY: f64 = 25.0;
const CHANNEL: f64 = 15.0;
const RECIPROCITY: f64 = 15.0;
const DURATION: f64 = 10.0;

/// Days for the recency term to halve.
const RECENCY_HALF_LIFE: f64 = 90.0;
/// Interactions in the last year that fill half the frequency term.
const FREQUENCY_HALF: f64 = 4.0;
/// How many of the latest interactions the channel term averages.
const CHANNEL_WINDOW: usize = 10;
/// Days of relationship that fill the duration term (two years).
const DURATION_FULL: f64 = 730.0;

/// How much a channel says about closeness: meeting in person most.
pub fn channel_weight(channel: &str) -> f64 {
    match channel {
        "meeting" | "visit" | "lunch" | "dinner" | "coffee" => 1.0,
        "call" | "video" | "phone" => 0.8,
        "email" | "letter" => 0.4,
        _ => 0.5,
    }
}

/// A strength and the terms it is the sum of.
#[derive(Clone, Debug, Serialize)]
pub struct Strength {
    /// 0–100: the terms' sum, rounded.
    pub score: u8,
    pub terms: Vec<Term>,
    pub interactions: usize,
    /// The latest interaction on or before the day asked about.
    pub last: Option<Date>,
}

/// One part of a strength, with the figure it came from.
#[derive(Clone, Debug, Serialize)]
pub struct Term {
    pub name: &'static str,
    pub points: f64,
    pub max: f64,
    pub why: String,
}

/// The strength of a relationship on `today`. Interactions dated after
/// `today` are ignored, so a score "as of" a past day is the same score
/// that day would have given.
pub fn strength(touches: &[Touch], today: Date) -> Strength {
    let mut past: Vec<&Touch> = touches.iter().filter(|t| t.date <= today).collect();
    past.sort_by(|a, b| b.date.cmp(&a.date).then(a.channel.cmp(&b.channel)));
    let (Some(latest), Some(first)) = (past.first(), past.last()) else {
        return Strength {
            score: 0,
            terms: Vec::new(),
            interactions: 0,
            last: None,
        };
    };
    let days = |from: Date, to: Date| (to - from).get_days().max(0) as f64;
    let since_last = days(latest.date, today);
    let year_ago = today.saturating_sub(jiff::Span::new().days(365));
    let in_year = past.iter().filter(|t| t.date > year_ago).count();
    let window = &past[..past.len().min(CHANNEL_WINDOW)];
    let channel_mean = window
        .iter()
        .map(|t| channel_weight(&t.channel))
        .sum::<f64>()
        / window.len() as f64;
    let inbound = past
        .iter()
        .filter(|t| t.direction == Some(Direction::In))
        .count();
    let outbound = past
        .iter()
        .filter(|t| t.direction == Some(Direction::Out))
        .count();
    let span = days(first.date, latest.date);

    let terms = vec![
        Term {
            name: "recency",
            points: RECENCY * 0.5f64.powf(since_last / RECENCY_HALF_LIFE),
            max: RECENCY,
            why: format!("last contact {since_last} days ago"),
        },
        Term {
            name: "frequency",
            points: FREQUENCY * (1.0 - 0.5f64.powf(in_year as f64 / FREQUENCY_HALF)),
            max: FREQUENCY,
            why: format!("{in_year} in the last 365 days"),
        },
        Term {
            name: "channel",
            points: CHANNEL * channel_mean,
            max: CHANNEL,
            why: format!(
                "mean weight {channel_mean:.2} over the last {}",
                window.len()
            ),
        },
        reciprocity(inbound, outbound),
        Term {
            name: "duration",
            points: DURATION * (span / DURATION_FULL).min(1.0),
            max: DURATION,
            why: format!("{span} days from first to last contact"),
        },
    ];
    let total: f64 = terms.iter().map(|t| t.points).sum();
    Strength {
        score: total.round().clamp(0.0, 100.0) as u8,
        terms,
        interactions: past.len(),
        last: Some(latest.date),
    }
}

/// Balanced is best: a relationship where both sides get in touch. With no
/// direction recorded, it counts as half.
fn reciprocity(inbound: usize, outbound: usize) -> Term {
    let known = inbound + outbound;
    let (share, why) = if known == 0 {
        (0.5, "who got in touch not recorded".to_string())
    } else {
        let gap = inbound.abs_diff(outbound) as f64 / known as f64;
        (
            1.0 - gap,
            format!("{inbound} from them, {outbound} from us"),
        )
    };
    Term {
        name: "reciprocity",
        points: RECIPROCITY * share,
        max: RECIPROCITY,
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn touch(d: Date, channel: &str, direction: Option<Direction>) -> Touch {
        Touch {
            date: d,
            channel: channel.into(),
            direction,
        }
    }

    #[test]
    fn no_history_is_zero() {
        assert_eq!(strength(&[], date(2026, 11, 28)).score, 0);
    }

    #[test]
    fn recent_frequent_in_person_and_balanced_is_strongest() {
        let today = date(2026, 11, 28);
        let close: Vec<Touch> = (0..12)
            .map(|i| {
                let dir = if i % 2 == 0 {
                    Direction::In
                } else {
                    Direction::Out
                };
                touch(today - jiff::Span::new().days(i * 60), "visit", Some(dir))
            })
            .collect();
        let distant = vec![touch(date(2025, 1, 10), "email", Some(Direction::Out))];
        let a = strength(&close, today);
        let b = strength(&distant, today);
        assert!(a.score > 80, "{a:?}");
        assert!(b.score < 20, "{b:?}");
        assert_eq!(a.terms.len(), 5);
    }

    #[test]
    fn the_future_does_not_count_and_the_result_is_stable() {
        let today = date(2026, 6, 1);
        let t = vec![
            touch(date(2026, 5, 1), "call", None),
            touch(date(2026, 7, 1), "visit", None),
        ];
        let a = strength(&t, today);
        assert_eq!(a.interactions, 1);
        assert_eq!(a.last, Some(date(2026, 5, 1)));
        assert_eq!(a.score, strength(&t, today).score);
    }
}
