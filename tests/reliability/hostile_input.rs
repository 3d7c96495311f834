//! Address books from anywhere: arbitrary bytes, and real cards with bytes
//! flipped, cut or repeated, fed to the vCard and CSV importers. They never
//! panic, and an import that fails leaves the ledger byte for byte as it
//! was.

use kith::import::{self, csv::ColumnMap};
use proptest::prelude::*;

use crate::common::Home;

const CARD: &str = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=B6rg;;;\r\n\
FN:Edna Miggins\r\nitem1.EMAIL;type=INTERNET:edna@miggins.co.uk\r\nitem1.X-ABLabel:Shop\r\n\
BDAY;X-APPLE-OMIT-YEAR=1604:1604-11-30\r\nNOTE;ENCODING=QUOTED-PRINTABLE:a soft=\r\nbreak\r\n\
PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRg\r\n ABAQEASABIAAD\r\nRELATED;TYPE=spouse:urn:uuid:1\r\nEND:VCARD\r\n";

const CSV: &str = "First Name,Last Name,Labels,E-mail 1 - Value,Phone 1 - Value,Birthday\n\
Edna,Miggins,* myContacts ::: VIP,edna@miggins.co.uk,01632 960123 ::: 07700 900123,--04-05\n\
\"Al\nbert\",Miggins,,,,1958-02-14\n";

/// A valid input with some bytes changed, cut or repeated.
fn mutated(base: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let len = base.len();
    prop::collection::vec((0..len, any::<u8>(), 0..3u8), 1..12).prop_map(move |edits| {
        let mut b = base.as_bytes().to_vec();
        for (at, byte, how) in edits {
            let at = at.min(b.len().saturating_sub(1));
            match how {
                0 => b[at] = byte,
                1 => b.truncate(at),
                _ => {
                    let tail = b[at..].to_vec();
                    b.extend_from_slice(&tail[..tail.len().min(64)]);
                }
            }
            if b.is_empty() {
                break;
            }
        }
        b
    })
}

fn read_everything(bytes: &[u8]) {
    let Ok(text) = import::decode("input", bytes) else {
        return;
    };
    let _ = import::detect(&text);
    let _ = import::vcard::parse("input", &text);
    let _ = import::csv::parse("input", &text, None);
    let map = ColumnMap::parse("First Name=first,Last Name=last,E-mail 1 - Value=email").unwrap();
    let _ = import::csv::parse("input", &text, Some(&map));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        read_everything(&bytes);
    }

    #[test]
    fn damaged_cards_and_rows_never_panic(card in mutated(CARD), row in mutated(CSV)) {
        read_everything(&card);
        read_everything(&row);
    }
}

proptest! {
    // Each case runs the real binary: fewer cases.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn a_failed_import_leaves_the_ledger_alone(card in mutated(CARD), row in mutated(CSV)) {
        let h = Home::new();
        h.add(&["Edna Miggins", "--email", "edna@miggins.co.uk"]);
        for (name, bytes) in [("in.vcf", &card), ("in.csv", &row), ("in.dat", &card)] {
            let before = h.ledger_files();
            let file = h.path().join(name);
            std::fs::write(&file, bytes).unwrap();
            let r = h.run(&["import", file.to_str().unwrap()]);
            prop_assert!(matches!(r.code, Some(0) | Some(1)), "{name}: exit {:?}\n{}", r.code, r.stderr);
            if r.stderr.contains("kith: error:") {
                prop_assert_eq!(h.ledger_files(), before, "{}: a refused import wrote", name);
            }
            h.ok(&["check"]);
        }
    }
}
