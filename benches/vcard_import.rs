//! Importing a phone's worth of vCards: 10,000 cards (10% with a photo)
//! into an empty ledger and into a 100,000-person one, timed as whole
//! `kith import` processes.
//!
//! cargo bench --bench vcard_import
//! cargo bench --bench vcard_import -- --cards 10000 --runs 5 --big DIR
//!
//! `--big DIR` is a kith home to import into (copied afresh for each run,
//! outside the timing); by default the 100k-person home `kith_bench`
//! leaves in `target/kith-bench/data/home-100000`, skipped if absent.
//! Results go to `target/kith-bench/vcard-results.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const GIVEN: [&str; 12] = [
    "Edna", "Albert", "Daisy", "Walter", "Maud", "Priya", "Tunde", "José", "Jörg", "Grace",
    "Cyril", "Mabel",
];
const FAMILY: [&str; 12] = [
    "Miggins",
    "Okafor",
    "Pike",
    "Pratt",
    "García",
    "Müller",
    "Raman",
    "Bakare",
    "Cobb",
    "Oddie",
    "Patel",
    "Wholesale",
];

fn cards(n: usize) -> String {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(n * 600);
    for i in 0..n {
        let (g, f) = (GIVEN[rng.below(12)], FAMILY[rng.below(12)]);
        let _ = write!(
            out,
            "BEGIN:VCARD\r\nVERSION:3.0\r\nN:{f};{g};;;\r\nFN:{g} {f}\r\nORG:{f} Trading {}\r\nTITLE:Buyer\r\n\
             item1.EMAIL;type=INTERNET;type=pref:{}.{}.{i}@example.com\r\nitem1.X-ABLabel:Shop\r\n\
             TEL;type=CELL;type=VOICE:+44 7700 {:06}\r\nBDAY:19{:02}-{:02}-{:02}\r\n\
             NOTE:Prefers the shop early\\, before nine. Card {i}.\r\nCATEGORIES:customer,region-{}\r\n\
             UID:bench-{i:08}\r\n",
            i % (n / 10).max(1),
            g.to_lowercase(),
            f.to_lowercase(),
            i,
            50 + rng.below(50),
            1 + rng.below(12),
            1 + rng.below(28),
            rng.below(20)
        );
        if i % 10 == 0 {
            // A 12 KB JPEG, as phones keep contact photos, base64 and folded.
            let b64: String = (0..16_000)
                .map(|_| alphabet[rng.below(64)] as char)
                .collect();
            let line = format!("PHOTO;ENCODING=b;TYPE=JPEG:/9j/{b64}");
            let mut width = 0;
            for ch in line.chars() {
                if width == 75 {
                    out.push_str("\r\n ");
                    width = 1;
                }
                out.push(ch);
                width += 1;
            }
            out.push_str("\r\n");
        }
        out.push_str("END:VCARD\r\n");
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .args(["-a", from.to_str().unwrap(), to.to_str().unwrap()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cannot copy {} to {}", from.display(), to.display());
}

fn run_import(kith: &Path, home: &Path, file: &Path) -> Duration {
    let start = Instant::now();
    let out = Command::new(kith)
        .env("KITH_HOME", home)
        .arg("import")
        .arg(file)
        .output()
        .expect("kith runs");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    let mut n = 10_000;
    let mut runs = 3;
    let mut big = target.join("kith-bench/data/home-100000");
    let mut kith = target.join("release/kith");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cards" => n = args.next().and_then(|v| v.parse().ok()).expect("--cards N"),
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs R"),
            "--big" => big = PathBuf::from(args.next().expect("--big DIR")),
            "--kith" => kith = PathBuf::from(args.next().expect("--kith PATH")),
            "--bench" => {}
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(kith.exists(), "build kith first: cargo build --release");
    let work = target.join("kith-bench/vcard");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let file = work.join("cards.vcf");
    std::fs::write(&file, cards(n)).unwrap();
    let size = std::fs::metadata(&file).unwrap().len();
    let mut report = format!(
        "# vCard import: {n} cards, 10% with a 12 KB photo ({:.1} MB)\n\n| into | median | runs |\n|---|---|---|\n",
        size as f64 / 1e6
    );
    let mut empty = Vec::new();
    for r in 0..runs {
        let home = work.join(format!("empty-{r}"));
        empty.push(run_import(&kith, &home, &file));
        let _ = std::fs::remove_dir_all(&home);
    }
    let line = format!(
        "| an empty ledger | {:.2} s | {:?} |\n",
        median(empty.clone()).as_secs_f64(),
        empty
    );
    print!("{line}");
    report.push_str(&line);
    if big.exists() {
        // Bring the master copy's index up to date once, outside the timing.
        let _ = Command::new(&kith)
            .env("KITH_HOME", &big)
            .args(["list", "--limit", "1"])
            .output();
        let mut into_big = Vec::new();
        for r in 0..runs {
            let home = work.join(format!("big-{r}"));
            copy_dir(&big, &home);
            into_big.push(run_import(&kith, &home, &file));
            let _ = std::fs::remove_dir_all(&home);
        }
        let line = format!(
            "| {} | {:.2} s | {:?} |\n",
            big.display(),
            median(into_big.clone()).as_secs_f64(),
            into_big
        );
        print!("{line}");
        report.push_str(&line);
    } else {
        println!(
            "skipping the large ledger: {} does not exist (run kith_bench first)",
            big.display()
        );
    }
    let out = target.join("kith-bench/vcard-results.md");
    std::fs::write(&out, report).unwrap();
    println!("written to {}", out.display());
}
