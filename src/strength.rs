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

impl Touch {
    /// A touch from its stored fields (`at` RFC 3339, channel, direction),
    /// with `at` kept to order touches within a day.
    pub fn stored(at: String, channel: String, direction: Option<&str>) -> Option<(Touch, String)> {
        let date: Date = at.get(..10)?.parse().ok()?;
        Some((
            Touch {
                date,
                channel,
                direction: direction.and_then(Direction::parse),
            },
            at,
        ))
    }
}

/// The channel of the latest touch on or before `today` (by `at`, then
/// channel, so the answer does not depend on the order touches come in).
pub fn last_channel(touches: &[(Touch, String)], today: Date) -> Option<String> {
    touches
        .iter()
        .filter(|(t, _)| t.date <= today)
        .max_by(|a, b| a.1.cmp(&b.1).then(a.0.channel.cmp(&b.0.channel)))
        .map(|(t, _)| t.channel.clone())
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
    let past: Vec<&Touch> = touches.iter().filter(|t| t.date <= today).collect();
    match Summary::of(past) {
        Some(summary) => summary.score(today),
        None => Strength {
            score: 0,
            terms: Vec::new(),
            interactions: 0,
            last: None,
        },
    }
}

/// Days since 1970-01-01.
fn epoch_day(d: Date) -> i32 {
    d.duration_since(EPOCH).as_secs().div_euclid(86_400) as i32
}

fn from_epoch_day(n: i32) -> Date {
    EPOCH
        .checked_add(jiff::Span::new().days(n))
        .unwrap_or(if n < 0 { Date::MIN } else { Date::MAX })
}

const EPOCH: Date = jiff::civil::date(1970, 1, 1);
/// The days jiff's dates span, for checking stored summaries.
const MIN_DAY: i32 = -4_371_587;
const MAX_DAY: i32 = 2_932_896;

/// All [`strength`] needs of a history: the interactions' days and what
/// does not change with the day asked about. Taken once (the team index
/// keeps one per person), it scores the history on any day on or after
/// its last interaction exactly as [`strength`] would.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Every interaction's day, latest first, as days since 1970-01-01:
    /// scoring many people is then integer arithmetic.
    pub days: Vec<i32>,
    /// The mean channel weight of the latest [`CHANNEL_WINDOW`].
    pub channel_mean: f64,
    /// How many that is (at most the window).
    pub window: usize,
    pub inbound: usize,
    pub outbound: usize,
}

impl Summary {
    /// The summary of these interactions; None when there are none.
    pub fn of(mut past: Vec<&Touch>) -> Option<Summary> {
        if past.is_empty() {
            return None;
        }
        past.sort_by(|a, b| b.date.cmp(&a.date).then(a.channel.cmp(&b.channel)));
        let window = &past[..past.len().min(CHANNEL_WINDOW)];
        let channel_mean = window
            .iter()
            .map(|t| channel_weight(&t.channel))
            .sum::<f64>()
            / window.len() as f64;
        let count = |d| past.iter().filter(|t| t.direction == Some(d)).count();
        Some(Summary {
            days: past.iter().map(|t| epoch_day(t.date)).collect(),
            channel_mean,
            window: window.len(),
            inbound: count(Direction::In),
            outbound: count(Direction::Out),
        })
    }

    /// The last interaction's day.
    pub fn last(&self) -> Date {
        from_epoch_day(self.days[0])
    }

    /// Whether this summary can score `today`: no interaction after it.
    pub fn covers(&self, today: Date) -> bool {
        self.days[0] <= epoch_day(today)
    }

    /// The strength on `today`, which must not be before [`Summary::last`],
    /// without the terms (their wording is most of the work).
    pub fn score_only(&self, today: Date) -> Strength {
        let (points, ..) = self.points(today);
        Strength {
            score: total(&points),
            terms: Vec::new(),
            interactions: self.days.len(),
            last: Some(self.last()),
        }
    }

    /// Each term's points, in the order of [`Summary::score`]'s terms, and
    /// the figures they came from: days since the last, interactions in
    /// the last year, days from first to last.
    fn points(&self, today: Date) -> ([f64; 5], f64, usize, f64) {
        self.points_on(epoch_day(today), recency_points, frequency_points)
    }

    /// The score alone on `today` (a day number, not before
    /// [`Summary::last`]), as [`Summary::score_only`] gives it, with the
    /// terms that depend on a count of days taken from `memo`: scoring
    /// tens of thousands of people then computes each power once.
    pub fn score_memo(&self, today: i32, memo: &mut Memo) -> u8 {
        let Memo { recency, frequency } = memo;
        let (points, ..) = self.points_on(
            today,
            |since| Memo::recency(recency, since),
            |in_year| Memo::frequency(frequency, in_year),
        );
        total(&points)
    }

    fn points_on(
        &self,
        today: i32,
        recency: impl FnOnce(f64) -> f64,
        frequency: impl FnOnce(usize) -> f64,
    ) -> ([f64; 5], f64, usize, f64) {
        let days = |from: i32, to: i32| (to - from).max(0) as f64;
        let (latest, first) = (self.days[0], self.days[self.days.len() - 1]);
        let since_last = days(latest, today);
        let year_ago = today - 365;
        let in_year = self.days.partition_point(|d| *d > year_ago);
        let span = days(first, latest);
        let points = [
            recency(since_last),
            frequency(in_year),
            CHANNEL * self.channel_mean,
            RECIPROCITY * reciprocity_share(self.inbound, self.outbound),
            DURATION * (span / DURATION_FULL).min(1.0),
        ];
        (points, since_last, in_year, span)
    }

    /// The strength on `today`, which must not be before [`Summary::last`].
    pub fn score(&self, today: Date) -> Strength {
        let (points, since_last, in_year, span) = self.points(today);
        let channel_mean = self.channel_mean;
        let (inbound, outbound) = (self.inbound, self.outbound);
        let reciprocity_why = if inbound + outbound == 0 {
            "who got in touch not recorded".to_string()
        } else {
            format!("{inbound} from them, {outbound} from us")
        };
        let term = |i: usize, name, max, why| Term {
            name,
            points: points[i],
            max,
            why,
        };
        let terms = vec![
            term(
                0,
                "recency",
                RECENCY,
                format!("last contact {since_last} days ago"),
            ),
            term(
                1,
                "frequency",
                FREQUENCY,
                format!("{in_year} in the last 365 days"),
            ),
            term(
                2,
                "channel",
                CHANNEL,
                format!(
                    "mean weight {channel_mean:.2} over the last {}",
                    self.window
                ),
            ),
            term(3, "reciprocity", RECIPROCITY, reciprocity_why),
            term(
                4,
                "duration",
                DURATION,
                format!("{span} days from first to last contact"),
            ),
        ];
        Strength {
            score: total(&points),
            terms,
            interactions: self.days.len(),
            last: Some(self.last()),
        }
    }

    /// A compact form to store: the counts as varints, the channel mean's
    /// bits, the last day (zigzag varint), then each earlier day as its
    /// distance from the one after it. A person's row in the team index
    /// carries it, and a broad question reads tens of thousands.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + 2 * self.days.len());
        for n in [self.window, self.inbound, self.outbound, self.days.len()] {
            push_varint(&mut out, n as u64);
        }
        out.extend_from_slice(&self.channel_mean.to_bits().to_le_bytes());
        let mut previous = None;
        for &d in &self.days {
            match previous {
                None => push_varint(&mut out, zigzag(d)),
                Some(p) => push_varint(&mut out, (i64::from(p) - i64::from(d)) as u64),
            }
            previous = Some(d);
        }
        out
    }

    /// What [`Summary::encode`] wrote; None for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Summary> {
        let mut summary = Summary::empty();
        summary.decode_into(bytes).then_some(summary)
    }

    /// A summary with no interactions, only to be filled by
    /// [`Summary::decode_into`].
    pub fn empty() -> Summary {
        Summary {
            days: Vec::new(),
            channel_mean: 0.0,
            window: 0,
            inbound: 0,
            outbound: 0,
        }
    }

    /// [`Summary::decode`] into `self`, reusing its memory: scoring tens of
    /// thousands of stored summaries then allocates nothing. False, and
    /// `self` not to be used, for anything `encode` did not write.
    pub fn decode_into(&mut self, bytes: &[u8]) -> bool {
        let mut at = 0;
        let mut next = || take_varint(bytes, &mut at);
        let (Some(window), Some(inbound), Some(outbound), Some(n)) =
            (next(), next(), next(), next())
        else {
            return false;
        };
        let Some(mean) = bytes.get(at..at + 8).and_then(|b| b.try_into().ok()) else {
            return false;
        };
        at += 8;
        let limit = u64::from(u32::MAX);
        if n == 0
            || n > bytes.len() as u64
            || [window, inbound, outbound].iter().any(|c| *c > limit)
        {
            return false;
        }
        self.days.clear();
        let mut day = None;
        for _ in 0..n {
            let Some(v) = take_varint(bytes, &mut at) else {
                return false;
            };
            let d = match day {
                None => unzigzag(v),
                Some(p) => i64::from(p) - i64::try_from(v).unwrap_or(i64::MAX),
            };
            if !(i64::from(MIN_DAY)..=i64::from(MAX_DAY)).contains(&d) {
                return false;
            }
            day = Some(d as i32);
            self.days.push(d as i32);
        }
        if at != bytes.len() {
            return false;
        }
        self.channel_mean = f64::from_bits(u64::from_le_bytes(mean));
        self.window = window as usize;
        self.inbound = inbound as usize;
        self.outbound = outbound as usize;
        true
    }
}

fn recency_points(since_last: f64) -> f64 {
    RECENCY * 0.5f64.powf(since_last / RECENCY_HALF_LIFE)
}

fn frequency_points(in_year: usize) -> f64 {
    FREQUENCY * (1.0 - 0.5f64.powf(in_year as f64 / FREQUENCY_HALF))
}

/// The recency and frequency terms already computed, by count of days
/// and of interactions ([`Summary::score_memo`]).
#[derive(Default)]
pub struct Memo {
    recency: Vec<Option<f64>>,
    frequency: Vec<Option<f64>>,
}

impl Memo {
    /// Counts up to this are kept; larger ones are computed each time.
    const KEPT: usize = 4096;

    fn recency(kept: &mut Vec<Option<f64>>, since_last: f64) -> f64 {
        let n = since_last as usize;
        if since_last.fract() != 0.0 || n >= Self::KEPT {
            return recency_points(since_last);
        }
        memo(kept, n, || recency_points(since_last))
    }

    fn frequency(kept: &mut Vec<Option<f64>>, in_year: usize) -> f64 {
        if in_year >= Self::KEPT {
            return frequency_points(in_year);
        }
        memo(kept, in_year, || frequency_points(in_year))
    }
}

fn memo(kept: &mut Vec<Option<f64>>, n: usize, f: impl FnOnce() -> f64) -> f64 {
    if kept.len() <= n {
        kept.resize(n + 1, None);
    }
    *kept[n].get_or_insert_with(f)
}

/// How low and how high the strength of a history can be on `today`,
/// knowing only the days of its interactions: the terms they decide
/// (recency, frequency, duration) exactly, the channel and reciprocity
/// terms anywhere from nothing to their most. `days` are days since
/// 1970-01-01 ([`day_number`]), in any order; those after `today` do not
/// count, as in [`strength`].
pub fn bounds(days: &mut Vec<i32>, today: Date) -> (u8, u8) {
    let t = epoch_day(today);
    days.retain(|d| *d <= t);
    if days.is_empty() {
        return (0, 0);
    }
    days.sort_unstable_by(|a, b| b.cmp(a));
    let summary = Summary {
        days: std::mem::take(days),
        channel_mean: 0.0,
        window: 0,
        inbound: 0,
        outbound: 0,
    };
    let (mut points, ..) = summary.points(today);
    *days = summary.days;
    points[2] = 0.0;
    points[3] = 0.0;
    let low = total(&points);
    points[2] = CHANNEL;
    points[3] = RECIPROCITY;
    (low, total(&points))
}

/// A day as [`bounds`] takes it: days since 1970-01-01.
pub fn day_number(d: Date) -> i32 {
    epoch_day(d)
}

/// Appends `n` as a varint (7 bits a byte, low first).
pub fn push_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A varint at `*at`, moving past it; None past the end or over 64 bits.
pub fn take_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(n);
        }
    }
    None
}

fn zigzag(d: i32) -> u64 {
    ((i64::from(d) << 1) ^ (i64::from(d) >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Balanced is best: a relationship where both sides get in touch. With no
/// direction recorded, it counts as half.
fn reciprocity_share(inbound: usize, outbound: usize) -> f64 {
    let known = inbound + outbound;
    if known == 0 {
        0.5
    } else {
        1.0 - inbound.abs_diff(outbound) as f64 / known as f64
    }
}

/// The terms' sum, rounded, as a 0–100 score.
fn total(points: &[f64; 5]) -> u8 {
    points.iter().sum::<f64>().round().clamp(0.0, 100.0) as u8
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

    const CHANNELS: [&str; 5] = ["visit", "call", "email", "note", "lunch"];

    /// The formula as docs/USER-GUIDE.md states it, written plainly on
    /// calendar dates: what the stored, day-number form must agree with.
    fn documented(touches: &[Touch], today: Date) -> u8 {
        let mut past: Vec<&Touch> = touches.iter().filter(|t| t.date <= today).collect();
        if past.is_empty() {
            return 0;
        }
        past.sort_by(|a, b| b.date.cmp(&a.date).then(a.channel.cmp(&b.channel)));
        let days = |from: Date, to: Date| (to - from).get_days().max(0) as f64;
        let since = days(past[0].date, today);
        let year_ago = today.saturating_sub(jiff::Span::new().days(365));
        let n365 = past.iter().filter(|t| t.date > year_ago).count() as f64;
        let window = &past[..past.len().min(10)];
        let mean = window
            .iter()
            .map(|t| channel_weight(&t.channel))
            .sum::<f64>()
            / window.len() as f64;
        let dir = |d| past.iter().filter(|t| t.direction == Some(d)).count() as f64;
        let (i, o) = (dir(Direction::In), dir(Direction::Out));
        let share = if i + o == 0.0 {
            0.5
        } else {
            1.0 - (i - o).abs() / (i + o)
        };
        let span = days(past[past.len() - 1].date, past[0].date);
        let sum = 35.0 * 0.5f64.powf(since / 90.0)
            + 25.0 * (1.0 - 0.5f64.powf(n365 / 4.0))
            + 15.0 * mean
            + 15.0 * share
            + 10.0 * (span / 730.0).min(1.0);
        sum.round().clamp(0.0, 100.0) as u8
    }

    proptest::proptest! {
        /// A summary taken once and stored scores every later day exactly
        /// as the full history does: the team index relies on it.
        #[test]
        fn a_stored_summary_scores_as_the_history_does(
            raw in proptest::collection::vec((0i64..3000, 0usize..5, 0u8..3), 1..40),
            after in 0i64..2000,
        ) {
            let start = date(2018, 1, 1);
            let touches: Vec<Touch> = raw
                .iter()
                .map(|(d, c, dir)| {
                    let direction = [None, Some(Direction::In), Some(Direction::Out)][*dir as usize];
                    touch(start + jiff::Span::new().days(*d), CHANNELS[*c], direction)
                })
                .collect();
            let summary = Summary::of(touches.iter().collect()).unwrap();
            let stored = Summary::decode(&summary.encode()).unwrap();
            proptest::prop_assert_eq!(&stored, &summary);
            // Decoding into a summary that held another history.
            let mut reused = Summary::of(vec![&touches[0]]).unwrap();
            proptest::prop_assert!(reused.decode_into(&summary.encode()));
            proptest::prop_assert_eq!(&reused, &summary);
            let today = summary.last() + jiff::Span::new().days(after);
            let full = strength(&touches, today);
            let quick = stored.score(today);
            proptest::prop_assert_eq!(full.score, quick.score);
            proptest::prop_assert_eq!(full.score, documented(&touches, today));
            // And on days before the last interaction, from the history.
            let earlier = summary.last() - jiff::Span::new().days(after);
            proptest::prop_assert_eq!(strength(&touches, earlier).score, documented(&touches, earlier));
            proptest::prop_assert_eq!(stored.score_only(today).score, quick.score);
            let mut memo = Memo::default();
            for _ in 0..2 {
                proptest::prop_assert_eq!(stored.score_memo(day_number(today), &mut memo), quick.score);
            }
            proptest::prop_assert_eq!(full.interactions, quick.interactions);
            // The bounds from days alone hold the score, on any day.
            for day in [today, earlier] {
                let mut days: Vec<i32> = touches.iter().map(|t| day_number(t.date)).collect();
                let (low, high) = bounds(&mut days, day);
                let score = strength(&touches, day).score;
                proptest::prop_assert!(low <= score && score <= high, "{low} {score} {high}");
            }
            proptest::prop_assert_eq!(full.last, quick.last);
        }
    }

    #[test]
    fn epoch_days_span_every_date_and_count_as_calendar_days() {
        assert_eq!(epoch_day(Date::MIN), MIN_DAY);
        assert_eq!(epoch_day(Date::MAX), MAX_DAY);
        for (a, b) in [
            (date(2024, 2, 28), date(2024, 3, 1)),
            (date(1969, 12, 31), date(1970, 1, 1)),
            (date(1900, 3, 1), date(2100, 3, 1)),
        ] {
            assert_eq!(epoch_day(b) - epoch_day(a), (b - a).get_days());
            assert_eq!(from_epoch_day(epoch_day(a)), a);
        }
    }

    #[test]
    fn damaged_summaries_are_refused() {
        let t = [touch(date(2026, 5, 1), "call", None)];
        let bytes = Summary::of(t.iter().collect()).unwrap().encode();
        assert!(Summary::decode(&bytes[..bytes.len() - 1]).is_none());
        assert!(Summary::decode(&[]).is_none());
        let mut reused = Summary::empty();
        assert!(!reused.decode_into(&bytes[..bytes.len() - 1]));
        assert!(reused.decode_into(&bytes));
    }
}
