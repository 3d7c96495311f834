//! Who is turned away, and how: no credentials, a wrong password, a device
//! unpaired while the server runs, paths outside the book, writes where
//! nothing may be written, too many failures from one address, and plain
//! HTTP on an address other than loopback.

use super::*;

const PROPFIND: &str = "<propfind xmlns=\"DAV:\"><prop><resourcetype/></prop></propfind>";

#[test]
fn credentials() {
    let home = Home::new();
    home.ok(&["add", "Ann Lee"]);
    let dav = Dav::start(&home, &[]);
    let book = "/dav/books/kith/";

    // None at all.
    let r = http(
        dav.port,
        "PROPFIND",
        book,
        &[("Depth", "0")],
        PROPFIND.as_bytes(),
    );
    assert_eq!(r.status, 401);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains("Basic realm=\"kith\"")
    );
    // Not Basic, or not decodable.
    for auth in ["Bearer abc", "Basic !!!"] {
        let r = http(dav.port, "GET", book, &[("Authorization", auth)], b"");
        assert_eq!(r.status, 401, "{auth}");
    }
    // A wrong password, and an unknown user.
    let wrong = basic(&dav.user, "not-the-password");
    let r = http(dav.port, "GET", book, &[("Authorization", &wrong)], b"");
    assert_eq!(r.status, 401);
    let stranger = basic("stranger", &dav.password);
    let r = http(dav.port, "GET", book, &[("Authorization", &stranger)], b"");
    assert_eq!(r.status, 401);

    // The right ones work, and the sync is recorded on the device.
    assert_eq!(dav.propfind(book, "0", PROPFIND).status, 207);
    let devices = kith::devices::list(home.path()).unwrap();
    assert!(devices[0].last_sync.is_some(), "{devices:?}");

    // Unpaired while the server runs: refused at once.
    kith::devices::unpair(home.path(), "iphone").unwrap();
    assert_eq!(dav.propfind(book, "0", PROPFIND).status, 401);
    // Paired again under the same name: only the new password works.
    let (_, fresh) = kith::devices::pair(home.path(), "iphone", jiff::Timestamp::now()).unwrap();
    assert_eq!(dav.propfind(book, "0", PROPFIND).status, 401);
    let ok = basic(&dav.user, &fresh);
    let r = http(
        dav.port,
        "PROPFIND",
        book,
        &[("Authorization", &ok), ("Depth", "0")],
        PROPFIND.as_bytes(),
    );
    assert_eq!(r.status, 207);
}

#[test]
fn paths_and_writes_outside_the_book() {
    let home = Home::new();
    home.ok(&["add", "Ann Lee"]);
    let dav = Dav::start(&home, &[]);
    for path in [
        "/etc/passwd",
        "/dav/books/other/",
        "/dav/books/other/a.vcf",
        "/dav/books/kith/a/b.vcf",
        "/dav/books/team/",
        "/dav/books/kith/..%2F..%2Fsecret",
    ] {
        assert_eq!(
            dav.propfind(path, "0", PROPFIND).status,
            404,
            "PROPFIND {path}"
        );
        assert_eq!(dav.call("GET", path, &[], "").status, 404, "GET {path}");
    }
    // Above the cards: no writing.
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:X\r\nEND:VCARD\r\n";
    for path in [
        "/",
        "/dav/",
        "/dav/principal/",
        "/dav/books/",
        "/dav/books/kith/",
    ] {
        assert_eq!(dav.call("PUT", path, &[], card).status, 403, "PUT {path}");
        assert_eq!(
            dav.call("DELETE", path, &[], "").status,
            403,
            "DELETE {path}"
        );
    }
    assert_eq!(dav.call("MKCOL", "/dav/books/new/", &[], "").status, 403);
    assert_eq!(
        dav.call("PROPPATCH", "/dav/books/kith/", &[], "").status,
        403
    );
    assert_eq!(dav.call("BREW", "/dav/books/kith/", &[], "").status, 405);
    // A REPORT must be asked of a book, and be one this server knows.
    assert_eq!(
        dav.report(
            "/dav/books/",
            "<sync-collection xmlns=\"DAV:\"><sync-token/></sync-collection>"
        )
        .status,
        403
    );
    assert_eq!(
        dav.report("/dav/books/kith/", "<expand-property xmlns=\"DAV:\"/>")
            .status,
        403
    );
    assert_eq!(dav.report("/dav/books/kith/", "<not xml").status, 400);
}

#[test]
fn team_book_is_read_only() {
    let home = Home::new();
    home.ok(&["add", "Ann Lee"]);
    let dav = Dav::start(&home, &["--team"]);
    // Listed second, after the own book.
    let ms = dav
        .propfind(
            "/dav/books/",
            "1",
            "<propfind xmlns=\"DAV:\"><prop><resourcetype/><displayname/></prop></propfind>",
        )
        .multistatus();
    let books: Vec<&str> = ms
        .members
        .iter()
        .filter(|m| m.found["resourcetype"].child(CARD, "addressbook").is_some())
        .map(|m| m.href.as_str())
        .collect();
    assert_eq!(books, ["/dav/books/kith/", "/dav/books/team/"]);
    let ms = dav
        .propfind("/dav/books/team/", "0", "<propfind xmlns=\"DAV:\"><prop><sync-token/><current-user-privilege-set/></prop></propfind>")
        .multistatus();
    let team = ms.member("/dav/books/team/");
    assert!(
        team.found["current-user-privilege-set"]
            .find(DAV, "write")
            .is_none()
    );
    let token = team.text("sync-token");
    // The same token: nothing changed; another: sync afresh.
    let sync = |t: &str| {
        dav.report(
            "/dav/books/team/",
            &format!("<sync-collection xmlns=\"DAV:\"><sync-token>{t}</sync-token><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"),
        )
    };
    let ms = sync(&token).multistatus();
    assert!(ms.members.is_empty());
    assert_eq!(sync("").status, 207);
    assert_eq!(sync("urn:x-kith:team:0").status, 403);
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:X\r\nEND:VCARD\r\n";
    assert_eq!(
        dav.call("PUT", "/dav/books/team/x.vcf", &[], card).status,
        403
    );
    assert_eq!(
        dav.call("DELETE", "/dav/books/team/x.vcf", &[], "").status,
        403
    );
}

#[test]
fn too_many_failures_get_429() {
    let home = Home::new();
    let dav = Dav::start(&home, &[]);
    let wrong = basic(&dav.user, "wrong");
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(http(dav.port, "GET", "/dav/", &[("Authorization", &wrong)], b"").status);
    }
    assert_eq!(&statuses[..10], &[401; 10], "{statuses:?}");
    assert_eq!(statuses[11], 429, "{statuses:?}");
    // Blocked before the password is looked at: the right one gets 429 too.
    let r = dav.propfind("/dav/", "0", PROPFIND);
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    // OPTIONS and the well-known URL still answer.
    assert_eq!(http(dav.port, "OPTIONS", "/", &[], b"").status, 200);
}

#[test]
fn plain_http_only_on_loopback() {
    let home = Home::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let refused = runtime.block_on(kith::carddav::Server::bind(kith::carddav::Options {
        home: home.path().to_path_buf(),
        time_zone: jiff::tz::TimeZone::UTC,
        clock: kith::ui::Clock::System,
        listen: "0.0.0.0:0".parse().unwrap(),
        team: false,
        tls: None,
    }));
    let Err(e) = refused else {
        panic!("plain HTTP on 0.0.0.0 was not refused")
    };
    let message = e.to_string();
    assert!(
        message.contains("0.0.0.0") && message.contains("TLS"),
        "{message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
}
