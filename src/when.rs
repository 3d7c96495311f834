//! Dates as people type them: `2026-11-24`, `today`, `yesterday`, `tuesday`,
//! `last tuesday`, `next friday`, `+3d`, `-2w`, `in 3 days`. Relative words
//! are read against a day given by the caller, never the system clock.

use jiff::ToSpan;
use jiff::civil::{Date, DateTime, Weekday};

use crate::error::{Error, Result};

/// Whether a bare weekday means the last one (for when something happened)
/// or the next one (for when something is due).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lean {
    Past,
    Future,
}

fn weekday(word: &str) -> Option<Weekday> {
    let w = word.to_ascii_lowercase();
    let all = [
        ("monday", Weekday::Monday),
        ("tuesday", Weekday::Tuesday),
        ("wednesday", Weekday::Wednesday),
        ("thursday", Weekday::Thursday),
        ("friday", Weekday::Friday),
        ("saturday", Weekday::Saturday),
        ("sunday", Weekday::Sunday),
    ];
    all.into_iter()
        .find(|(name, _)| w.len() >= 3 && name.starts_with(&w))
        .map(|(_, d)| d)
}

/// A day from what a person typed, relative to `today`.
pub fn parse_day(input: &str, today: Date, lean: Lean) -> Result<Date> {
    let bad = || {
        Error::invalid(format!(
            "'{input}' is not a date: use YYYY-MM-DD, today, yesterday, tomorrow, a weekday, or +3d / -2w"
        ))
    };
    let s = input.trim().to_ascii_lowercase();
    if let Ok(d) = s.parse::<Date>() {
        return Ok(d);
    }
    match s.as_str() {
        "today" | "now" => return Ok(today),
        "yesterday" => return today.checked_sub(1.day()).map_err(|_| bad()),
        "tomorrow" => return today.checked_add(1.day()).map_err(|_| bad()),
        _ => {}
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    let (lean, day_word) = match words.as_slice() {
        ["last", w] => (Lean::Past, *w),
        ["next", w] => (Lean::Future, *w),
        ["this", w] => (lean, *w),
        [w] => (lean, *w),
        ["in", n, unit] => return offset(today, n, unit, 1).ok_or_else(bad),
        [n, unit, "ago"] => return offset(today, n, unit, -1).ok_or_else(bad),
        _ => return Err(bad()),
    };
    if let Some(wd) = weekday(day_word) {
        let d = match lean {
            Lean::Past => today.nth_weekday(-1, wd),
            Lean::Future => today.nth_weekday(1, wd),
        };
        return d.map_err(|_| bad());
    }
    if let Some(rest) = day_word.strip_prefix('+') {
        let split = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        return offset(today, &rest[..split], &rest[split..], 1).ok_or_else(bad);
    }
    if let Some(rest) = day_word.strip_prefix('-') {
        let split = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        return offset(today, &rest[..split], &rest[split..], -1).ok_or_else(bad);
    }
    Err(bad())
}

fn offset(today: Date, n: &str, unit: &str, sign: i64) -> Option<Date> {
    let n: i64 = n.parse().ok()?;
    let n = n * sign;
    // A count past what a date can span is refused, not a panic.
    let span = jiff::Span::new();
    let span = match unit.trim_end_matches('s') {
        "d" | "day" => span.try_days(n),
        "w" | "week" => span.try_weeks(n),
        "m" | "month" => span.try_months(n),
        "y" | "year" => span.try_years(n),
        _ => return None,
    };
    today.checked_add(span.ok()?).ok()
}

/// When something happened: a day, or a day and a time (`2026-11-24 10:30`).
/// Stored as `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` so that text order is time order.
pub fn parse_moment(input: &str, today: Date) -> Result<String> {
    let s = input.trim();
    if let Ok(dt) = s.replacen(' ', "T", 1).parse::<DateTime>() {
        return Ok(dt.strftime("%Y-%m-%dT%H:%M").to_string());
    }
    Ok(parse_day(s, today, Lean::Past)?.to_string())
}

/// The day part of a stored moment.
pub fn day_of(moment: &str) -> Option<Date> {
    moment.get(..10)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn relative_days() {
        // 2026-11-28 is a Saturday.
        let today = date(2026, 11, 28);
        assert_eq!(
            parse_day("tuesday", today, Lean::Past).unwrap(),
            date(2026, 11, 24)
        );
        assert_eq!(
            parse_day("friday", today, Lean::Future).unwrap(),
            date(2026, 12, 4)
        );
        assert_eq!(
            parse_day("+3d", today, Lean::Future).unwrap(),
            date(2026, 12, 1)
        );
        assert_eq!(
            parse_day("2 weeks ago", today, Lean::Past).unwrap(),
            date(2026, 11, 14)
        );
        assert_eq!(
            parse_day("2026-01-02", today, Lean::Past).unwrap(),
            date(2026, 1, 2)
        );
        assert!(parse_day("someday", today, Lean::Past).is_err());
        // Past what a date can span: refused, not a panic.
        assert!(parse_day("-99999999999d", today, Lean::Past).is_err());
        assert!(parse_day("in 99999999999 years", today, Lean::Future).is_err());
        assert_eq!(
            parse_moment("2026-11-24 10:30", today).unwrap(),
            "2026-11-24T10:30"
        );
    }
}
