//! today: follow-ups due, birthdays within --days, keep-in-touch overdue.

use serde_json::json;

use super::story;
use crate::common::{Home, strings};

#[test]
fn today_on_the_day_of_the_story() {
    let s = story();
    let h = &s.home;
    let t = h.json(&["today", "--json"]);
    assert_eq!(t["today"], "2026-11-28");
    assert_eq!(t["days"], 7);
    assert_eq!(t["limit"], 20);
    // The quote is due on Friday, within the week.
    assert_eq!(t["follow_ups_total"], 1);
    let f = &t["follow_ups"][0];
    assert_eq!(f["id"], s.quote.as_str());
    assert_eq!(f["person"], "Edna Miggins");
    assert_eq!(f["person_id"], s.edna.as_str());
    assert_eq!(f["due"], "2026-12-04");
    // Her birthday is months away; she was called four days ago.
    assert_eq!(t["occasions"], json!([]));
    assert_eq!(t["occasions_total"], 0);
    assert_eq!(t["keep_in_touch"], json!([]));
    assert_eq!(t["keep_in_touch_total"], 0);
    let text = h.ok(&["today"]);
    assert_eq!(
        text,
        format!(
            "Today, 2026-11-28\nFollow-ups\n  {}  Edna Miggins: Send a quote for the Christmas order  due 2026-12-04\n",
            &s.quote[..8]
        )
    );
    // --days 3 does not reach Friday.
    let t = h.json(&["today", "--days", "3", "--json"]);
    assert_eq!(t["follow_ups"], json!([]));
    assert_eq!(
        h.ok(&["today", "--days", "3"]),
        "Today, 2026-11-28\n  nothing due in the next 3 days\n"
    );
}

#[test]
fn follow_ups_become_due_then_overdue() {
    let s = story();
    let h = &s.home;
    let on_friday = h.ok_at("2026-12-04", &["today", "--days", "0"]);
    assert!(
        on_friday.contains("Send a quote for the Christmas order  due today"),
        "{on_friday}"
    );
    let later = h.ok_at("2026-12-10", &["today", "--days", "0"]);
    assert!(
        later.contains("Send a quote for the Christmas order  overdue since 2026-12-04"),
        "{later}"
    );
    h.ok_at("2026-12-10", &["done", &s.quote[..6]]);
    let t = h.json_at("2026-12-10", &["today", "--json"]);
    assert_eq!(t["follow_ups_total"], 0);
}

#[test]
fn birthdays_within_the_days_asked() {
    let s = story();
    let h = &s.home;
    // 5 April is 6 days after 30 March 2027.
    let t = h.json_at("2027-03-30", &["today", "--json"]);
    assert_eq!(t["occasions_total"], 1);
    assert_eq!(
        t["occasions"][0],
        json!({
            "person_id": s.edna, "person": "Edna Miggins", "occasion": "birthday",
            "date": "2027-04-05", "in_days": 6, "years": null
        })
    );
    let text = h.ok_at("2027-03-30", &["today"]);
    assert!(
        text.contains(
            "Birthdays and anniversaries\n  Edna Miggins birthday  2027-04-05, in 6 days\n"
        ),
        "{text}"
    );
    let t = h.json_at("2027-03-30", &["today", "--days", "5", "--json"]);
    assert_eq!(t["occasions"], json!([]));
    // With the year known, the age; on the day, "today"; the day before, "tomorrow".
    h.ok(&["set", "edna", "birthday", "1961-04-05"]);
    h.ok(&["set", "albert", "anniversary", "1985-04-06"]);
    let text = h.ok_at("2027-04-05", &["today"]);
    assert!(
        text.contains("  Edna Miggins birthday (turns 66)  2027-04-05, today\n"),
        "{text}"
    );
    assert!(
        text.contains("  Albert Miggins anniversary (42 years)  2027-04-06, tomorrow\n"),
        "{text}"
    );
    let t = h.json_at("2027-04-05", &["today", "--json"]);
    assert_eq!(
        strings(&t["occasions"], Some("occasion")),
        ["birthday", "anniversary"]
    );
    assert_eq!(t["occasions"][0]["years"], 66);
    // The days wrap round the end of the year.
    h.ok(&["set", "daisy", "birthday", "--01-02"]);
    let t = h.json_at("2026-12-30", &["today", "--json"]);
    assert_eq!(t["occasions"][0]["person"], "Daisy Miggins");
    assert_eq!(t["occasions"][0]["date"], "2027-01-02");
    assert_eq!(t["occasions"][0]["in_days"], 3);
    // A removed person has no birthday.
    h.ok(&["rm", "daisy"]);
    assert_eq!(
        h.json_at("2026-12-30", &["today", "--json"])["occasions_total"],
        0
    );
}

#[test]
fn a_leap_day_birthday_falls_on_the_28th() {
    let h = Home::new();
    h.add(&["Leap Baby", "--birthday", "--02-29"]);
    let t = h.json_at("2027-02-25", &["today", "--json"]);
    assert_eq!(t["occasions"][0]["date"], "2027-02-28");
    let t = h.json_at("2028-02-25", &["today", "--json"]);
    assert_eq!(t["occasions"][0]["date"], "2028-02-29");
}

#[test]
fn keep_in_touch_overdue() {
    let s = story();
    let h = &s.home;
    // Last contact Tuesday 24 November; every three weeks: due 15 December.
    let t = h.json_at("2026-12-10", &["today", "--json"]);
    assert_eq!(
        t["keep_in_touch"],
        json!([{
            "person_id": s.edna, "person": "Edna Miggins", "every": "3w",
            "last_contact": "2026-11-24", "due": "2026-12-15", "days_overdue": -5
        }])
    );
    let text = h.ok_at("2026-12-10", &["today"]);
    assert!(
        text.contains(
            "Keep in touch\n  Edna Miggins (every 3w, last contact 2026-11-24): due in 5 days\n"
        ),
        "{text}"
    );
    assert!(h.ok_at("2026-12-15", &["today"]).contains("): due today\n"));
    let t = h.json_at("2026-12-20", &["today", "--days", "0", "--json"]);
    assert_eq!(t["keep_in_touch_total"], 1);
    assert_eq!(t["keep_in_touch"][0]["days_overdue"], 5);
    assert!(
        h.ok_at("2026-12-20", &["today"])
            .contains("): 5 days overdue\n")
    );
    // A call puts her back three weeks.
    h.ok_at("2026-12-20", &["log", "edna", "Christmas wishes"]);
    let t = h.json_at("2026-12-20", &["today", "--json"]);
    assert_eq!(t["keep_in_touch"], json!([]));
    let t = h.json_at("2027-01-12", &["today", "--json"]);
    assert_eq!(t["keep_in_touch"][0]["due"], "2027-01-10");
    assert_eq!(t["keep_in_touch"][0]["last_contact"], "2026-12-20T09:00");
    // Someone never contacted is due a cadence after they were added.
    h.ok(&["keep-in-touch", "albert", "--every", "10d"]);
    let t = h.json_at("2026-12-08", &["today", "--days", "0", "--json"]);
    assert_eq!(t["keep_in_touch"][0]["person"], "Albert Miggins");
    assert_eq!(t["keep_in_touch"][0]["due"], "2026-12-08");
    assert_eq!(t["keep_in_touch"][0]["last_contact"], json!(null));
    // Most overdue first.
    let t = h.json_at("2027-03-01", &["today", "--json"]);
    assert_eq!(
        strings(&t["keep_in_touch"], Some("person")),
        ["Albert Miggins", "Edna Miggins"]
    );
}

#[test]
fn limit_caps_each_list_and_counts_the_rest() {
    let h = Home::new();
    for i in 0..5 {
        let id = h.add(&[&format!("Customer Number{i}")]);
        h.ok(&[
            "follow-up",
            &id,
            &format!("call back {i}"),
            "--due",
            "tomorrow",
        ]);
    }
    let t = h.json(&["today", "--limit", "2", "--json"]);
    assert_eq!(t["follow_ups"].as_array().unwrap().len(), 2);
    assert_eq!(t["follow_ups_total"], 5);
    let text = h.ok(&["today", "--limit", "2"]);
    assert!(text.contains("…and 3 more (--limit to see them)"), "{text}");
}

#[test]
fn the_first_birthdays_across_the_new_year_come_by_day_then_name() {
    let h = Home::new();
    // Listed a day at a time with --limit: the last days of December first,
    // then January, each day by name, and the total counts everyone.
    h.add(&["Zoe Early", "--birthday", "--12-31"]);
    h.add(&["Anna Later", "--birthday", "--01-01"]);
    h.add(&["Bob Later", "--birthday", "--01-01"]);
    h.add(&["Carl Last", "--birthday", "--01-02"]);
    h.add(&["Ada Before", "--birthday", "--12-29"]);
    let t = h.json_at("2026-12-30", &["today", "--limit", "3", "--json"]);
    assert_eq!(t["occasions_total"], 4);
    assert_eq!(
        strings(&t["occasions"], Some("person")),
        ["Zoe Early", "Anna Later", "Bob Later"]
    );
    let t = h.json_at("2026-12-30", &["today", "--limit", "1", "--json"]);
    assert_eq!(strings(&t["occasions"], Some("person")), ["Zoe Early"]);
}
