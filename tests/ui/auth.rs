//! Who may talk to `kith ui`, in plain HTTP: nobody without the start-up
//! token or the cookie it is traded for, no page that reached 127.0.0.1
//! under another name, and no form that lacks this run's CSRF token or
//! comes from another site. A refused change leaves the ledger as it was.

use super::{Reply, UiServer, http};
use crate::common::Home;

/// A home with one follow-up due; its id.
fn home_with_follow_up() -> (Home, String) {
    let home = Home::new();
    home.add(&["Edna Miggins", "--company", "Miggins & Daughters"]);
    let f = home.json(&[
        "follow-up",
        "edna",
        "Send a quote for the Christmas order",
        "--due",
        "2026-11-28",
        "--json",
    ]);
    let id = f["id"].as_str().expect("the follow-up's id").to_string();
    (home, id)
}

fn get(ui: &UiServer, path: &str, extra: &str) -> Reply {
    http(
        ui.port,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{extra}Connection: close\r\n\r\n",
            ui.port
        ),
    )
}

fn post(ui: &UiServer, path: &str, extra: &str, body: &str) -> Reply {
    http(
        ui.port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{extra}\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            ui.port,
            body.len()
        ),
    )
}

/// Trades the start-up token for the session cookie: `name=value`.
fn sign_in(ui: &UiServer) -> String {
    let r = get(ui, &format!("/?token={}", ui.token), "");
    assert_eq!(r.status, 303, "the token is traded with a redirect");
    let cookie = r.header("set-cookie").expect("a cookie");
    cookie.split(';').next().unwrap().trim().to_string()
}

/// The CSRF token a signed-in page carries in its meta tag.
fn csrf_of(ui: &UiServer, cookie: &str) -> String {
    let page = get(ui, "/", &format!("Cookie: {cookie}\r\n"));
    assert_eq!(page.status, 200, "{}", page.body);
    let at = page
        .body
        .find(r#"name="kith-csrf" content=""#)
        .expect("the CSRF meta tag");
    let rest = &page.body[at + r#"name="kith-csrf" content=""#.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

fn follow_up_done(home: &Home, id: &str) -> bool {
    let shown = home.show("edna");
    let f = shown["follow_ups"]
        .as_array()
        .expect("follow-ups")
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no follow-up {id} in {shown}"));
    !f["done"].is_null()
}

#[test]
fn without_the_token_nothing_is_shown() {
    let (home, _) = home_with_follow_up();
    let ui = UiServer::start(&home);
    for path in [
        "/",
        "/people",
        "/people?q=edna",
        "/assets/app.js",
        "/events",
    ] {
        let r = get(&ui, path, "");
        assert_eq!(r.status, 401, "GET {path} without the token");
        assert!(!r.body.contains("Edna"), "GET {path} showed a name");
    }
    // A wrong token is no token; nor is a made-up cookie.
    let r = get(&ui, &format!("/?token={}", "0".repeat(64)), "");
    assert_eq!(r.status, 401);
    let r = get(
        &ui,
        "/",
        &format!("Cookie: kith_{}={}\r\n", ui.port, "0".repeat(64)),
    );
    assert_eq!(r.status, 401);
}

#[test]
fn the_token_becomes_a_strict_http_only_cookie_and_leaves_the_url() {
    let (home, _) = home_with_follow_up();
    let ui = UiServer::start(&home);
    let r = get(&ui, &format!("/people?token={}", ui.token), "");
    assert_eq!(r.status, 303);
    // Back to the same page, the token gone from the address.
    assert_eq!(r.header("location"), Some("/people"));
    let cookie = r.header("set-cookie").expect("a cookie").to_string();
    let attrs: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attrs.contains(&"HttpOnly"), "{cookie}");
    assert!(attrs.contains(&"SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains(&ui.token), "the cookie is not the token");
    // The cookie alone opens the pages.
    let jar = attrs[0];
    let page = get(&ui, "/people", &format!("Cookie: {jar}\r\n"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Edna Miggins"), "{}", page.body);
    assert!(!page.body.contains(&ui.token), "the page repeats the token");
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("script-src 'self'"), "{csp}");
}

#[test]
fn a_foreign_host_is_refused_even_with_the_token() {
    let (home, _) = home_with_follow_up();
    let ui = UiServer::start(&home);
    let cookie = sign_in(&ui);
    for host in [
        format!("evil.example:{}", ui.port),
        "evil.example".to_string(),
        format!("127.0.0.1.evil.example:{}", ui.port),
    ] {
        let r = http(
            ui.port,
            &format!(
                "GET /?token={} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
                ui.token
            ),
        );
        assert_eq!(r.status, 403, "Host: {host} with the token");
        assert!(
            r.header("set-cookie").is_none(),
            "Host: {host} got a cookie"
        );
        let r = http(
            ui.port,
            &format!(
                "GET /people HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
            ),
        );
        assert_eq!(r.status, 403, "Host: {host} with the cookie");
        assert!(!r.body.contains("Edna"), "Host: {host} showed a name");
    }
}

#[test]
fn a_form_without_the_csrf_token_or_from_another_site_changes_nothing() {
    let (home, follow_up) = home_with_follow_up();
    let ui = UiServer::start(&home);
    let cookie = sign_in(&ui);
    let csrf = csrf_of(&ui, &cookie);
    let action = format!("/follow-ups/{follow_up}/done");
    let jar = format!("Cookie: {cookie}\r\n");

    // No CSRF field, a wrong one, and the right one from another site.
    let r = post(&ui, &action, &jar, "next=%2F");
    assert_eq!(r.status, 403, "no CSRF token: {}", r.body);
    let r = post(&ui, &action, &jar, &format!("csrf={}", "0".repeat(64)));
    assert_eq!(r.status, 403, "a wrong CSRF token");
    let r = post(
        &ui,
        &action,
        &format!("{jar}Origin: http://evil.example:{}\r\n", ui.port),
        &format!("csrf={csrf}"),
    );
    assert_eq!(r.status, 403, "a foreign Origin");
    // Nor without the cookie, CSRF token or not.
    let r = post(&ui, &action, "", &format!("csrf={csrf}"));
    assert_eq!(r.status, 401, "no cookie");
    assert!(
        !follow_up_done(&home, &follow_up),
        "a refused POST changed the ledger"
    );

    // The same form, whole and from this page, works.
    let r = post(
        &ui,
        &action,
        &format!("{jar}Origin: http://127.0.0.1:{}\r\n", ui.port),
        &format!("csrf={csrf}&next=%2F"),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        follow_up_done(&home, &follow_up),
        "the good POST did nothing"
    );
}

#[test]
fn only_loopback_is_served_and_sigterm_stops_it_cleanly() {
    let home = Home::new();
    home.add(&["Edna Miggins"]);
    for address in ["0.0.0.0", "::", "192.168.1.20"] {
        let (code, err) = home.fails(&["ui", "--no-open", "--address", address]);
        assert_eq!(code, 1, "--address {address}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(
            err.contains("only on 127.0.0.1 or ::1") && err.contains(address),
            "{err}"
        );
    }
    let (code, _) = home.fails(&["ui", "--no-open", "--address", "not-an-address"]);
    assert_eq!(code, 2, "a malformed address is a usage error");

    // It runs beside the CLI on the same home, and SIGTERM ends it with 0.
    let ui = UiServer::start(&home);
    home.add(&["Albert Miggins"]);
    let r = http(
        ui.port,
        &format!(
            "GET /?token={} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            ui.token, ui.port
        ),
    );
    assert_eq!(r.status, 303);
    assert_eq!(ui.stop(), Some(0), "kith ui exits cleanly on SIGTERM");
}

#[test]
fn an_unknown_record_is_a_readable_404_and_an_oversized_form_a_413() {
    let home = Home::new();
    let edna = home.add(&["Edna Miggins"]);
    let edna = edna.trim();
    let ui = UiServer::start(&home);
    let cookie = sign_in(&ui);
    let jar = format!("Cookie: {cookie}\r\n");

    for path in [
        "/people/zzzzzzzzzzzzzzzz",
        "/companies/zzzzzzzzzzzzzzzz",
        "/no/such/page",
    ] {
        let r = get(&ui, path, &jar);
        assert_eq!(r.status, 404, "{path}");
        assert!(r.body.contains("<h1>Not found</h1>"), "{path}: {}", r.body);
        assert!(r.body.contains("Back to today"), "a way back: {}", r.body);
    }

    // A note of 300 KiB is more than any form may send: refused, unwritten.
    let csrf = csrf_of(&ui, &cookie);
    let body = format!(
        "csrf={csrf}&text={}&privacy=private",
        "a".repeat(300 * 1024)
    );
    let r = post(&ui, &format!("/people/{edna}/note"), &jar, &body);
    assert_eq!(r.status, 413, "{}", r.body);
    let shown = home.show(edna);
    assert_eq!(shown["notes"].as_array().map(Vec::len), Some(0), "{shown}");
    // A sane note still goes in.
    let r = post(
        &ui,
        &format!("/people/{edna}/note"),
        &jar,
        &format!("csrf={csrf}&text=Prefers+morning+calls&privacy=private"),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(home.show(edna)["notes"][0]["text"], "Prefers morning calls");
}
