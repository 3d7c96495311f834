//! What the team knows, end to end: three members with their own ledgers and
//! real daemons on 127.0.0.1 (mDNS off). Who knows whom and how well, warm
//! intro paths, who wants what, team history, and what happens when a
//! member leaves: frozen replicas, relayed edits refused, adoption with
//! provenance. Private data never appears in any team answer.

use serde_json::Value as Json;

use super::team::{Daemon, team_hits, team_of, wait_until};
use crate::common::Home;

fn json(s: &str) -> Json {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn owners(contact: &Json) -> Vec<String> {
    contact["known_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["owner"].as_str().unwrap().to_string())
        .collect()
}

fn strength_of(contact: &Json, owner: &str) -> u64 {
    contact["known_by"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["owner"] == owner)
        .and_then(|k| k["strength"].as_u64())
        .unwrap_or_else(|| panic!("{owner} does not know them: {contact}"))
}

/// Alice saw Edna every month for two years, both ways, until a year ago;
/// bob emailed her once, in February. Bob records Edna's daughter Daisy; carol knows Sam.
/// Each keeps something private that must never leave them.
fn realistic_team() -> (Home, Home, Home, Vec<Daemon>) {
    let (alice, bob, carol) = (Home::new(), Home::new(), Home::new());
    alice.add(&[
        "Edna Miggins",
        "--email",
        "edna@miggins.co.uk",
        "--company",
        "Miggins & Daughters",
    ]);
    for month in 0..24 {
        let date = format!("{}-{:02}-15", 2024 + month / 12, month % 12 + 1);
        let way = if month % 2 == 0 {
            "--inbound"
        } else {
            "--outbound"
        };
        alice.ok(&[
            "log",
            "edna",
            "CANARY-ALICE-SUMMARY",
            "-c",
            "visit",
            "-d",
            &date,
            way,
        ]);
    }
    alice.ok(&["fact", "edna", "CANARY-ALICE-FACT", "--private"]);
    alice.ok(&["fact", "edna", "wants to try the new Rioja", "--shared"]);
    alice.add(&["Sam Baker", "--email", "sam@bakery.example"]);
    alice.ok(&["fact", "sam", "Rioja lover CANARY-ALICE-RIOJA", "--private"]);

    bob.add(&["Edna Miggins", "--email", "edna@miggins.co.uk"]);
    bob.ok(&[
        "log",
        "edna",
        "price list",
        "-c",
        "email",
        "-d",
        "2026-02-01",
        "--outbound",
    ]);
    bob.ok(&["note", "edna", "asked about Rioja prices", "--shared"]);
    bob.add(&["Daisy Miggins", "--company", "Lagos Freight"]);
    bob.ok(&["link", "daisy", "child", "edna"]);
    bob.ok(&["fact", "daisy", "CANARY-BOB-FACT", "--private"]);

    carol.add(&[
        "Sam Baker",
        "--email",
        "sam@bakery.example",
        "--tag",
        "rioja",
    ]);
    carol.ok(&["log", "sam", "tasting", "-c", "meeting", "-d", "2026-11-01"]);

    let a = team_of(&alice, &[(&bob, "bob"), (&carol, "carol")]);
    let b = Daemon::start(&bob, &["--peer", &a.addr]);
    let c = Daemon::start(&carol, &["--peer", &a.addr, "--peer", &b.addr]);
    // Shards arrive one by one: wait until every part the answers use is
    // here (the company, both Ednas, the relationship, the evidence).
    let synced = || {
        let answer = |args: &[&str]| {
            let r = carol.run(args);
            if r.code == Some(0) {
                json(&r.stdout)
            } else {
                Json::Null
            }
        };
        let knows = answer(&["who-knows", "Miggins & Daughters", "--json"]);
        let wants = answer(&["who-wants", "rioja", "--team", "--json"]);
        let paths = answer(&["intro-path", "Daisy Miggins", "--json"]);
        knows[0]["known_by"].as_array().map(Vec::len) == Some(2)
            && wants.as_array().map(Vec::len) == Some(2)
            && wants[0]["evidence"].as_array().map(Vec::len) == Some(2)
            && paths.as_array().is_some_and(|p| p.len() >= 2)
    };
    assert!(
        wait_until(60, synced),
        "carol never got both ledgers\n{}\n{}",
        a.log(),
        c.log()
    );
    (alice, bob, carol, vec![a, b, c])
}

/// A count from a home's team index, read directly (0 if it cannot be read).
fn team_index_count(home: &Home, sql: &str) -> i64 {
    rusqlite::Connection::open_with_flags(
        home.path().join("team.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
    .unwrap_or(0)
}

fn assert_no_canary(what: &str, output: &str) {
    assert!(
        !output.contains("CANARY"),
        "private data in a team answer ({what}): {output}"
    );
}

#[test]
fn the_team_answers_who_knows_intro_path_and_who_wants() {
    let (alice, bob, carol, _daemons) = realistic_team();

    // Who knows someone at the company: alice, far better than bob, though
    // only alice recorded the company (bob's Edna is the same by email).
    let out = carol.ok(&["who-knows", "Miggins & Daughters", "--json"]);
    assert_no_canary("who-knows", &out);
    let found = json(&out);
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let edna = &found[0];
    assert_eq!(edna["name"], "Edna Miggins");
    assert_eq!(owners(edna), ["alice", "bob"], "{edna}");
    assert!(strength_of(edna, "alice") >= 40, "{edna}");
    assert!(strength_of(edna, "bob") < 20, "{edna}");
    assert_eq!(edna["known_by"][0]["last_channel"], "visit");
    assert_eq!(edna["known_by"][1]["last_contact"], "2026-02-01");
    // The same by email domain, and with the terms explained.
    let by_domain = json(&carol.ok(&["who-knows", "miggins.co.uk", "--json"]));
    assert_eq!(owners(&by_domain[0]), ["alice", "bob"]);
    let explained = carol.ok(&["who-knows", "edna", "--explain"]);
    assert_no_canary("who-knows --explain", &explained);
    for term in ["recency", "frequency", "channel", "reciprocity", "duration"] {
        assert!(explained.contains(term), "{explained}");
    }
    assert!(
        explained.contains("12 from them, 12 from us"),
        "{explained}"
    );
    // Nothing of it had been recorded the day before, in any ledger.
    let before = json(&carol.ok(&["who-knows", "miggins.co.uk", "--at", "yesterday", "--json"]));
    assert_eq!(before, serde_json::json!([]));
    // A tag in carol's own ledger.
    let tagged = json(&carol.ok(&["who-knows", "#rioja", "--json"]));
    assert_eq!(tagged[0]["name"], "Sam Baker");
    assert_eq!(owners(&tagged[0])[0], "you");

    // The strength follows the history: once bob sees Edna often, he leads.
    for day in 1..=12 {
        let date = format!("2026-11-{day:02}");
        let way = if day % 2 == 0 {
            "--inbound"
        } else {
            "--outbound"
        };
        bob.ok(&["log", "edna", "visit", "-c", "visit", "-d", &date, way]);
    }
    // Carol's daemon brings her team index up to date itself, with no
    // question asked: the next who-knows has nothing to copy.
    assert!(
        wait_until(30, || team_index_count(
            &carol,
            "SELECT count(*) FROM people WHERE name = 'Edna Miggins' AND interactions = 13"
        ) == 1),
        "carol's daemon did not take bob's visits into her team index"
    );
    assert!(
        wait_until(30, || {
            let r = carol.run(&["who-knows", "edna", "--json"]);
            let first = &json(&r.stdout)[0]["known_by"][0];
            // All twelve visits and the first email have arrived.
            r.code == Some(0) && first["owner"] == "bob" && first["interactions"] == 13
        }),
        "bob's new visits did not make him the strongest link"
    );
    // The team index replicas are read through is derived: damaged, it is
    // rebuilt and answers the same; and it agrees with reading every
    // replica on its own (as `--at` today does).
    let through_index = carol.ok(&["who-knows", "edna", "--json"]);
    let one_by_one = carol.ok(&["who-knows", "edna", "--at", "2026-11-28", "--json"]);
    assert_eq!(json(&through_index), json(&one_by_one));
    std::fs::write(carol.path().join("team.sqlite"), vec![0x5a_u8; 8192]).unwrap();
    assert_eq!(
        json(&carol.ok(&["who-knows", "edna", "--json"])),
        json(&through_index)
    );

    // The warm way to Daisy: through alice, who knows her mother well,
    // using the relationship bob recorded.
    let out = carol.ok(&["intro-path", "Daisy Miggins", "--json"]);
    assert_no_canary("intro-path", &out);
    let paths = json(&out);
    let first: Vec<(String, String)> = paths[0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["how"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(first.len(), 3, "{paths}");
    assert_eq!(first[1], ("Edna Miggins".into(), "knows".into()), "{paths}");
    assert_eq!(
        first[2],
        ("Daisy Miggins".into(), "child".into()),
        "{paths}"
    );
    assert!(
        ["alice", "bob"].contains(&first[0].0.as_str()) && first[0].1 == "teammate",
        "{paths}"
    );
    // Bob only has Daisy's name, never spoke to her: that path ranks last.
    let last = paths.as_array().unwrap().last().unwrap();
    assert_eq!(last["weakest"], 0, "{paths}");
    let human = carol.ok(&["intro-path", "daisy"]);
    assert!(human.contains("you → "), "{human}");
    assert!(human.contains("Daisy Miggins (child, per bob)"), "{human}");

    // Who will want the new Rioja: Edna (alice's fact and bob's note) ahead
    // of Sam (carol's tag); alice's private fact about Sam stays hers.
    let out = carol.ok(&["who-wants", "rioja", "--team", "--json"]);
    assert_no_canary("who-wants --team", &out);
    let wants = json(&out);
    let names: Vec<&str> = wants
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Edna Miggins", "Sam Baker"], "{wants}");
    let evidence_owners: Vec<&str> = wants[0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["owner"].as_str().unwrap())
        .collect();
    assert_eq!(evidence_owners, ["alice", "bob"], "{wants}");
    // Without --team, only carol's own ledger answers.
    let own = json(&carol.ok(&["who-wants", "rioja", "--json"]));
    assert_eq!(own.as_array().unwrap().len(), 1);
    // The owner sees her own private evidence, marked private.
    let alices = json(&alice.ok(&["who-wants", "rioja", "--json"]));
    let sam = alices
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "Sam Baker")
        .expect("alice's own private fact counts for her");
    assert_eq!(sam["evidence"][0]["private"], true, "{sam}");
    // A teammate's new evidence is in the next question: bob's replica
    // changed, so carol's team index copies it again (her daemon, or the
    // question itself) before answering; never the answer of before.
    bob.ok(&["note", "daisy", "loves Rioja too", "--shared"]);
    assert!(
        wait_until(30, || {
            let r = carol.run(&["who-wants", "rioja", "--team", "--json"]);
            r.code == Some(0)
                && json(&r.stdout).as_array().is_some_and(|w| {
                    w.iter()
                        .any(|w| w["name"] == "Daisy Miggins" && w["evidence"][0]["owner"] == "bob")
                })
        }),
        "bob's new note about Daisy never reached carol's who-wants --team"
    );
    let out = carol.ok(&["who-wants", "rioja", "--team"]);
    assert_no_canary("who-wants --team (human)", &out);
    assert!(
        out.contains("loves Rioja too") && out.contains("[bob]"),
        "{out}"
    );

    // Who added what about Edna, across the team.
    let out = carol.ok(&["history", "edna", "--team", "--json"]);
    assert_no_canary("history --team", &out);
    let events = json(&out);
    let by: std::collections::BTreeSet<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["owner"].as_str().unwrap())
        .collect();
    assert!(by.contains("alice") && by.contains("bob"), "{events}");
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["owner"] == "bob" && e["summary"].as_str().unwrap().contains("note")),
        "{events}"
    );
    let human = carol.ok(&["history", "edna", "--team"]);
    assert_no_canary("history --team (human)", &human);
}

#[test]
fn when_johnny_leaves_his_replica_freezes_and_his_customers_can_be_adopted() {
    let (alice, bob, johnny) = (Home::new(), Home::new(), Home::new());
    johnny.add(&["Kate Customer", "--email", "kate@shop.example"]);
    johnny.ok(&["fact", "kate", "orders every Friday", "--shared"]);
    johnny.ok(&[
        "log",
        "kate",
        "weekly order",
        "-c",
        "visit",
        "-d",
        "2026-11-20",
        "--shared",
    ]);
    johnny.ok(&["fact", "kate", "CANARY-JOHNNY", "--private"]);
    let a = team_of(&alice, &[(&bob, "bob"), (&johnny, "johnny")]);
    let b = Daemon::start(&bob, &["--peer", &a.addr]);
    let j = Daemon::start(&johnny, &["--peer", &a.addr, "--peer", &b.addr]);
    for home in [&alice, &bob] {
        assert!(
            wait_until(60, || team_hits(home, "kate")
                .contains(&("Kate Customer".into(), "johnny".into()))),
            "kate never arrived\n{}",
            j.log()
        );
    }

    // Bob and johnny go offline; alice removes johnny.
    drop(b);
    drop(j);
    alice.ok(&["team", "remove", "johnny"]);
    // Johnny, not told, keeps working.
    johnny.add(&["Later Larry"]);
    johnny.ok(&["fact", "kate", "after-removal-fact", "--shared"]);
    // Bob, who has not heard of the removal, meets johnny and takes his
    // later edits while alice is away.
    drop(a);
    let j = Daemon::start(&johnny, &[]);
    let b = Daemon::start(&bob, &["--peer", &j.addr]);
    assert!(
        wait_until(60, || !team_hits(&bob, "larry").is_empty()),
        "bob should take johnny's edits before he hears of the removal\n{}",
        b.log()
    );
    drop(j);
    // Alice comes back; bob hears of the removal from her, and relays what
    // he has of johnny's: she must take none of it.
    let a = Daemon::start(&alice, &["--peer", &b.addr]);
    alice.add(&["Marker Mary"]);
    assert!(
        wait_until(60, || {
            let members = json(&bob.ok(&["team", "members", "--json"]));
            members
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["name"] == "johnny" && !m["left"].is_null())
        }),
        "bob never heard of the removal\n{}",
        b.log()
    );
    assert!(wait_until(60, || !team_hits(&bob, "marker").is_empty()));
    // Two full rounds of offers between alice and bob (every 10 s).
    std::thread::sleep(std::time::Duration::from_secs(21));
    assert!(
        team_hits(&alice, "larry").is_empty(),
        "a removed member's later edit reached alice through bob\n{}",
        a.log()
    );
    let kate = alice.ok(&["show", "johnny/kate", "--json"]);
    assert!(kate.contains("orders every Friday"), "{kate}");
    assert!(!kate.contains("after-removal-fact"), "{kate}");
    assert_no_canary("show johnny/kate", &kate);

    // His frozen replica still answers, marked as left.
    let known = json(&alice.ok(&["who-knows", "kate", "--json"]));
    let owner = known[0]["known_by"][0]["owner"].as_str().unwrap();
    assert!(owner.starts_with("johnny (left on 2026-11-28)"), "{known}");

    // Alice adopts Kate, with where she came from on every copy.
    let adopted = json(&alice.ok(&["adopt", "johnny/kate", "--all", "--json"]));
    assert_eq!(adopted["created"], true, "{adopted}");
    assert_eq!(adopted["items"].as_array().unwrap().len(), 2, "{adopted}");
    let shown = alice.show("kate");
    assert_eq!(shown["adopted_from"]["member"], "johnny", "{shown}");
    assert_eq!(shown["adopted_from"]["on"], "2026-11-28", "{shown}");
    assert!(
        shown["facts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["text"] == "orders every Friday"),
        "{shown}"
    );
    let human = alice.ok(&["show", "kate"]);
    assert!(
        human.contains("from johnny's ledger, 2026-11-28"),
        "{human}"
    );
    // The account handed to Kate says where each copied item came from.
    let account = alice.ok(&["about", "kate"]);
    assert!(
        account.matches("from johnny's ledger, 2026-11-28").count() >= 2,
        "{account}"
    );
    // Adopting again copies nothing twice.
    let again = json(&alice.ok(&["adopt", "johnny/kate", "--all", "--json"]));
    assert_eq!(again["created"], false);
    assert_eq!(again["items"].as_array().unwrap().len(), 0, "{again}");

    // Johnny keeps his whole ledger, and can move on to another team.
    let his = johnny.ok(&["show", "kate", "--json"]);
    assert!(his.contains("CANARY-JOHNNY") && his.contains("after-removal-fact"));
    let r = johnny.run(&["team", "create", "newco"]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("team leave"), "{}", r.stderr);
    johnny.ok(&["team", "leave"]);
    assert!(!johnny.path().join("replicas").exists());
    johnny.ok(&["team", "create", "newco", "--as", "johnny"]);
    let his = johnny.ok(&["show", "kate", "--json"]);
    assert!(his.contains("CANARY-JOHNNY") && his.contains("orders every Friday"));
    drop(a);
    drop(b);
}

/// `--at DATE` answers from the automerge history: what was recorded by the
/// end of that day, with strengths as they stood then.
#[test]
fn who_knows_at_a_past_day_answers_from_history() {
    let home = Home::new();
    home.ok_at(
        "2026-11-01T10:00:00Z",
        &["add", "Edna Miggins", "--company", "Acme"],
    );
    home.ok_at(
        "2026-11-05T10:00:00Z",
        &["log", "edna", "visit", "-c", "visit"],
    );
    home.ok_at(
        "2026-11-10T10:00:00Z",
        &["add", "Bert Stone", "--company", "Acme Ltd"],
    );
    home.ok_at(
        "2026-11-20T10:00:00Z",
        &["log", "bert", "call", "-c", "call"],
    );
    home.ok_at(
        "2026-11-21T10:00:00Z",
        &["set", "edna", "company", "Globex"],
    );

    let now = json(&home.ok(&["who-knows", "acme", "--json"]));
    assert_eq!(crate::common::names(&now), ["Bert Stone"], "{now}");
    let then = json(&home.ok(&["who-knows", "acme", "--at", "2026-11-06", "--json"]));
    assert_eq!(crate::common::names(&then), ["Edna Miggins"], "{then}");
    assert_eq!(then[0]["known_by"][0]["last_contact"], "2026-11-05");
    assert_eq!(then[0]["known_by"][0]["interactions"], 1);
    let later = json(&home.ok(&["who-knows", "acme", "--at", "2026-11-15", "--json"]));
    assert_eq!(
        crate::common::names(&later),
        ["Edna Miggins", "Bert Stone"],
        "{later}"
    );
    // Bert's call on the 20th had not happened yet on the 15th.
    assert_eq!(later[1]["known_by"][0]["interactions"], 0, "{later}");
    let human = home.ok(&["who-knows", "acme", "--at", "2026-11-06"]);
    assert!(
        human.starts_with("As of 2026-11-06 (end of day):"),
        "{human}"
    );
    let (code, err) = home.fails(&["who-knows", "acme", "--at", "someday"]);
    assert_eq!(code, 1);
    assert!(err.contains("--at someday"), "{err}");
}

/// However few people are asked for, the list starts as the long one does:
/// who is strongest is decided over everyone the query names, the ones
/// known only a little included (a short list scores fewer of them in
/// full). Ties on strength go by name.
#[test]
fn a_short_list_starts_as_the_long_one_does() {
    let home = Home::new();
    let people = [
        ("Ann Ashby", 0, "visit"),
        ("Ben Brook", 3, "email"),
        ("Cal Crane", 1, "call"),
        ("Dee Dale", 0, "note"),
        ("Eve Eaton", 2, "visit"),
        ("Fay Frost", 5, "email"),
        ("Gus Grant", 1, "visit"),
        ("Hal Hurst", 4, "call"),
        ("Ida Irwin", 0, "visit"),
        ("Jo Jarvis", 6, "note"),
    ];
    for (name, _, _) in people {
        home.ok_at("2026-01-02T09:00:00Z", &["add", name, "--tag", "wine"]);
    }
    // Up to three interactions each, months apart, ending some months
    // before now (2026-11-28): recency, frequency and channel all differ,
    // and Ann and Ida have the same history.
    for (name, months_ago, channel) in people {
        for k in 0..3 {
            let month = 10 - months_ago - 2 * k;
            if month >= 1 {
                let at = format!("2026-{month:02}-10T10:00:00Z");
                home.ok_at(&at, &["log", name, "met", "-c", channel]);
            }
        }
    }
    let long = json(&home.ok(&["who-knows", "#wine", "--limit", "100", "--json"]));
    let long = long.as_array().unwrap();
    assert_eq!(long.len(), people.len(), "{long:?}");
    let strengths: Vec<u64> = long.iter().map(|c| strength_of(c, "you")).collect();
    assert!(strengths.windows(2).all(|w| w[0] >= w[1]), "{strengths:?}");
    let ann = long.iter().position(|c| c["name"] == "Ann Ashby").unwrap();
    assert_eq!(long[ann + 1]["name"], "Ida Irwin", "{long:?}");
    for limit in [1, 2, 3, 5, 9] {
        let short = json(&home.ok(&[
            "who-knows",
            "#wine",
            "--limit",
            &limit.to_string(),
            "--json",
        ]));
        assert_eq!(
            short.as_array().unwrap()[..],
            long[..limit],
            "--limit {limit}"
        );
    }
}
