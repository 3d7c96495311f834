//! kith performance benchmark: whole `kith` processes against a large
//! synthetic ledger.
//!
//! ```text
//! cargo bench --bench kith_bench                      # 100k people, 30 runs
//! cargo bench --bench kith_bench -- --people 10000    # smaller ledger
//! cargo bench --bench kith_bench -- --runs 10 --out /tmp/kb
//! ```
//!
//! Flags (after `--`): `--people N` (companies N/10, interactions 10N),
//! `--runs R` (default 30), `--out DIR` (default `<target>/kith-bench/data`),
//! `--kith PATH` (binary to measure; default the one cargo built for this
//! bench), `--import-timeout SECS` (default 600; the import is killed past
//! it), `--reuse` (keep an already imported ledger in DIR if it was made
//! with the same --people, skipping the import; the JSONL is still written, as the queries come from it).
//!
//! What it does: writes a deterministic JSONL ledger (the format of
//! `kith export`), imports it into an empty home, then times whole
//! processes of the read and write commands with KITH_HOME and KITH_NOW
//! set, recording each child's peak RSS through `wait4`. The figures are
//! printed as a table and written as markdown to
//! `<target>/kith-bench/results.md`. Targets are reported, not asserted.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The moment every command runs at.
const NOW: &str = "2026-03-01T09:00:00Z";
const NOW_YEAR: i32 = 2026;
/// Crockford base32, as kith's ids.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

// ---------------------------------------------------------------- options

struct Opts {
    people: usize,
    runs: usize,
    out: PathBuf,
    kith: PathBuf,
    import_timeout: Duration,
    reuse: bool,
    target_dir: PathBuf,
}

/// The target directory this bench was built into: the bench executable is
/// `<target>/<profile>/deps/kith_bench-<hash>`.
fn target_dir() -> PathBuf {
    if let Ok(exe) = std::env::current_exe()
        && let Some(t) = exe.ancestors().nth(3)
        && t.join("release").is_dir()
    {
        return t.to_path_buf();
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        let t = PathBuf::from(t);
        return if t.is_absolute() {
            t
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(t)
        };
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target")
}

/// The kith binary: cargo builds it for benches and says where.
fn default_kith(target: &Path) -> PathBuf {
    let built = PathBuf::from(env!("CARGO_BIN_EXE_kith"));
    if built.is_file() {
        return built;
    }
    let guess = target.join("release").join("kith");
    if guess.is_file() {
        return guess;
    }
    eprintln!("kith binary not found; building it with cargo build --release --bin kith");
    let ok = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--bin", "kith"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CARGO_TARGET_DIR", target)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        panic!("cargo build --release --bin kith failed");
    }
    guess
}

fn parse_opts() -> Opts {
    let target = target_dir();
    let mut opts = Opts {
        people: 100_000,
        runs: 30,
        out: target.join("kith-bench").join("data"),
        kith: PathBuf::new(),
        import_timeout: Duration::from_secs(600),
        reuse: false,
        target_dir: target.clone(),
    };
    let mut kith = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> String {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match flag.as_str() {
            "--bench" => {}
            "--people" => opts.people = value("--people").parse().expect("--people N"),
            "--runs" => opts.runs = value("--runs").parse().expect("--runs R"),
            "--out" => opts.out = PathBuf::from(value("--out")),
            "--kith" => kith = Some(PathBuf::from(value("--kith"))),
            "--import-timeout" => {
                opts.import_timeout =
                    Duration::from_secs(value("--import-timeout").parse().expect("seconds"))
            }
            "--reuse" => opts.reuse = true,
            "-h" | "--help" => {
                println!(
                    "kith_bench [--people N] [--runs R] [--out DIR] [--kith PATH] [--import-timeout SECS] [--reuse]"
                );
                std::process::exit(0);
            }
            other if other.starts_with('-') => {
                eprintln!("kith_bench: ignoring unknown flag {other}")
            }
            _ => {} // a cargo bench filter: nothing to filter
        }
    }
    opts.runs = opts.runs.max(1);
    opts.people = opts.people.max(10);
    opts.kith = kith.unwrap_or_else(|| default_kith(&target));
    opts
}

// ---------------------------------------------------------------- random

/// SplitMix64: deterministic, no crate needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (((self.next() >> 11) as u128 * n as u128) >> 53) as usize
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as usize) as i64
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn weighted<'a>(&mut self, items: &'a [(&'a str, u32)]) -> &'a str {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut x = self.below(total as usize) as u32;
        for (s, w) in items {
            if x < *w {
                return s;
            }
            x -= w;
        }
        items[0].0
    }
    fn id(&mut self) -> String {
        (0..16).map(|_| ALPHABET[self.below(32)] as char).collect()
    }
    /// An id in the same shard as `owner`.
    fn id_near(&mut self, owner: &str) -> String {
        let mut id = owner[..2].to_string();
        id.extend((0..14).map(|_| ALPHABET[self.below(32)] as char));
        id
    }
}

// ---------------------------------------------------------------- vocabulary

const FIRST: &[&str] = &[
    "Aaron", "Abigail", "Adam", "Adrian", "Agnes", "Aidan", "Alan", "Albert", "Alice", "Amelia",
    "Amir", "Andrew", "Angela", "Anna", "Arthur", "Ava", "Barbara", "Ben", "Bernard", "Beth",
    "Brian", "Bridget", "Caleb", "Carla", "Carmen", "Caroline", "Cecil", "Charles", "Chloe",
    "Claire", "Colin", "Connor", "Daisy", "Daniel", "David", "Deborah", "Derek", "Diana", "Dylan",
    "Edna", "Edward", "Eileen", "Eleanor", "Elena", "Eliot", "Emily", "Emma", "Eric", "Ethan",
    "Fatima", "Felix", "Fiona", "Frances", "Frank", "Freya", "Gareth", "George", "Gloria", "Grace",
    "Graham", "Hannah", "Harriet", "Harry", "Hector", "Helen", "Henry", "Hugo", "Ian", "Imogen",
    "Irene", "Isaac", "Isla", "Jack", "Jacob", "James", "Jane", "Jasmine", "Jessica", "Joan",
    "John", "Jonah", "Joseph", "Julia", "Karen", "Kate", "Keith", "Kevin", "Laura", "Leo", "Lily",
    "Linda", "Lucas", "Lucy", "Malcolm", "Margaret", "Maria", "Mark", "Martha", "Martin",
    "Matthew", "Maya", "Megan", "Michael", "Nadia", "Naomi", "Nathan", "Nicholas", "Nina", "Noah",
    "Olivia", "Omar", "Oscar", "Patrick", "Paul", "Peter", "Philip", "Priya", "Rachel", "Raj",
    "Rebecca", "Richard", "Robert", "Rosa", "Ruth", "Samuel", "Sarah", "Simon", "Sofia", "Sophie",
    "Stephen", "Susan", "Teresa", "Thomas", "Tobias", "Ursula", "Victor", "Victoria", "Walter",
    "Wendy", "William", "Yusuf", "Zara", "Zoe",
];
const STEMS: &[&str] = &[
    "Ash", "Bar", "Bell", "Black", "Brad", "Brook", "Cal", "Car", "Chad", "Clif", "Col", "Crom",
    "Dal", "Dar", "Dun", "Eld", "Fair", "Far", "Fen", "Fitz", "Gar", "Gold", "Good", "Gran",
    "Green", "Hal", "Ham", "Har", "Hart", "Hay", "Hol", "Hux", "Kel", "Ken", "Kings", "Lan",
    "Lock", "Mar", "Mer", "Mig", "Mor", "Nor", "Old", "Pem", "Pen", "Pres", "Rad", "Red", "Ren",
    "Rob", "Ros", "Sal", "Shel", "Stan", "Stock", "Sut", "Tal", "Thorn", "Tom", "Wal", "War",
    "Wes", "Whit", "Wil", "Win", "Wood", "Wren", "Yar",
];
const ENDINGS: &[&str] = &[
    "by", "den", "field", "ford", "gins", "ham", "ley", "man", "more", "ton", "well", "wick",
    "worth", "son", "ridge", "stead", "ington", "ett", "ins", "ings", "cott", "hurst",
];
const TITLES: &[&str] = &[
    "Buyer",
    "Head of Purchasing",
    "Procurement Manager",
    "CEO",
    "CFO",
    "COO",
    "Owner",
    "Store Manager",
    "Sales Director",
    "Operations Lead",
    "Category Manager",
    "Account Manager",
    "Office Manager",
    "Founder",
    "Managing Director",
    "Head of IT",
    "Marketing Manager",
    "Finance Director",
    "Logistics Coordinator",
    "Senior Buyer",
    "Product Manager",
    "Regional Manager",
    "Partner",
    "Consultant",
    "Engineer",
    "Architect",
    "Chef",
    "Designer",
];
const CO_A: &[&str] = &[
    "Northwind",
    "Blue",
    "Red",
    "Golden",
    "Silver",
    "Iron",
    "Oak",
    "Pine",
    "River",
    "Harbour",
    "Summit",
    "Crown",
    "Eagle",
    "Fox",
    "Lion",
    "Maple",
    "Cedar",
    "Stone",
    "Bright",
    "Swift",
    "Atlas",
    "Nova",
    "Orbit",
    "Pioneer",
    "Quantum",
    "Royal",
    "Sterling",
    "Thames",
    "Vista",
    "Willow",
    "Apex",
    "Beacon",
    "Coastal",
    "Delta",
    "Emerald",
    "Falcon",
    "Granite",
    "Highland",
    "Jade",
    "Kestrel",
];
const CO_B: &[&str] = &[
    "Traders",
    "Foods",
    "Logistics",
    "Systems",
    "Textiles",
    "Wines",
    "Bakery",
    "Hardware",
    "Motors",
    "Media",
    "Pharma",
    "Labs",
    "Supplies",
    "Outfitters",
    "Brewing",
    "Furniture",
    "Print",
    "Electric",
    "Builders",
    "Farms",
    "Optics",
    "Marine",
    "Analytics",
    "Clinics",
    "Studios",
    "Partners",
    "Holdings",
    "Imports",
    "Distribution",
    "Kitchens",
    "Garden",
    "Paper",
    "Steel",
    "Glass",
    "Pottery",
    "Travel",
    "Software",
    "Dairy",
    "Coffee",
    "Tea",
];
const CO_C: &[&str] = &[
    "Ltd",
    "Inc",
    "& Co",
    "Group",
    "GmbH",
    "LLC",
    "& Sons",
    "& Daughters",
    "Co-op",
    "PLC",
];
const TAGS: &[(&str, u32)] = &[
    ("customer", 30),
    ("prospect", 25),
    ("supplier", 10),
    ("golf", 8),
    ("conference", 7),
    ("wine", 6),
    ("partner", 6),
    ("vip", 5),
    ("referral", 5),
    ("tennis", 4),
    ("sailing", 3),
    ("alumni", 3),
    ("investor", 2),
    ("press", 2),
    ("board", 1),
    ("chess", 1),
];
/// The tag whose list is timed (a few % of people), and a common one.
const BENCH_TAG: &str = "sailing";
const COMMON_TAG: &str = "customer";
const HOBBIES: &[&str] = &[
    "sailing",
    "golf",
    "tennis",
    "chess",
    "cycling",
    "running",
    "fishing",
    "birdwatching",
    "pottery",
    "painting",
    "jazz",
    "opera",
    "gardening",
    "climbing",
    "skiing",
    "baking",
    "photography",
    "woodwork",
    "knitting",
    "rowing",
    "cricket",
    "rugby",
    "football",
    "poker",
    "bridge",
    "crosswords",
    "vintage cars",
    "motorbikes",
    "hiking",
    "yoga",
    "swimming",
    "astronomy",
    "archery",
    "fencing",
    "sourdough",
    "whisky",
    "craft beer",
    "wine tasting",
    "beekeeping",
    "kayaking",
];
const PLACES: &[&str] = &[
    "Cornwall",
    "Devon",
    "Yorkshire",
    "Kent",
    "Norfolk",
    "Tuscany",
    "Provence",
    "Lisbon",
    "Porto",
    "Madrid",
    "Seville",
    "Barcelona",
    "Berlin",
    "Munich",
    "Vienna",
    "Prague",
    "Krakow",
    "Oslo",
    "Bergen",
    "Stockholm",
    "Copenhagen",
    "Helsinki",
    "Reykjavik",
    "Dublin",
    "Galway",
    "Edinburgh",
    "Glasgow",
    "Inverness",
    "Cardiff",
    "Snowdonia",
    "Brittany",
    "Normandy",
    "Bordeaux",
    "Lyon",
    "Geneva",
    "Zurich",
    "Lucerne",
    "Milan",
    "Venice",
    "Naples",
    "Sicily",
    "Crete",
    "Athens",
    "Istanbul",
    "Marrakesh",
    "Cairo",
    "Nairobi",
    "Cape Town",
    "Lagos",
    "Mumbai",
    "Goa",
    "Kyoto",
    "Tokyo",
    "Seoul",
    "Bali",
    "Sydney",
    "Auckland",
    "Vancouver",
    "Boston",
    "Chicago",
];
/// The word `find` looks for: a place, in about one fact in a hundred.
const FACT_WORD: &str = "Cornwall";
const UNIS: &[&str] = &[
    "Oxford",
    "Cambridge",
    "Durham",
    "Bristol",
    "Leeds",
    "Manchester",
    "Warwick",
    "Exeter",
    "St Andrews",
    "Trinity",
    "Imperial",
    "LSE",
    "Harvard",
    "Stanford",
    "MIT",
    "INSEAD",
    "Sorbonne",
    "Bocconi",
    "ETH",
    "McGill",
];
const FOODS: &[&str] = &[
    "peanuts",
    "shellfish",
    "gluten",
    "dairy",
    "eggs",
    "soy",
    "sesame",
    "strawberries",
    "mustard",
    "celery",
];
const TEAMS: &[&str] = &[
    "Arsenal",
    "Leeds United",
    "Celtic",
    "Everton",
    "Liverpool",
    "Spurs",
    "Newcastle",
    "Chelsea",
    "Harlequins",
    "Leicester Tigers",
    "Saracens",
    "Yorkshire CCC",
    "Surrey CCC",
];
const CHANNELS: &[(&str, u32)] = &[
    ("call", 35),
    ("email", 30),
    ("meeting", 20),
    ("message", 10),
    ("visit", 5),
];
const VERBS: &[&str] = &[
    "Discussed",
    "Talked about",
    "Followed up on",
    "Sent notes on",
    "Agreed",
    "Reviewed",
    "Asked about",
    "Chased",
    "Negotiated",
    "Presented",
    "Confirmed",
    "Updated them on",
];
const TOPICS: &[&str] = &[
    "the spring order",
    "the autumn order",
    "pricing for next year",
    "the renewal",
    "the new catalogue",
    "shipping delays",
    "a new contract",
    "the trade show",
    "samples",
    "the overdue invoice",
    "volume discounts",
    "the product roadmap",
    "the pilot project",
    "their expansion plans",
    "payment terms",
    "the delivery schedule",
    "a referral",
    "the budget freeze",
    "quality complaints",
    "the warehouse move",
    "the tender",
    "the Christmas range",
    "stock levels",
    "the rebrand",
    "the framework agreement",
    "the onboarding",
    "a joint webinar",
    "the case study",
    "a price increase",
    "the audit",
];
const FOLLOW_UPS: &[&str] = &[
    "Send the catalogue",
    "Send a quote",
    "Call back about the order",
    "Book a demo",
    "Chase the invoice",
    "Send samples",
    "Introduce to the product team",
    "Share the case study",
    "Confirm the delivery date",
    "Send the contract",
    "Arrange lunch",
    "Check in after the launch",
];

// ---------------------------------------------------------------- dates

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y } as i64;
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

fn today_days() -> i64 {
    days_from_civil(NOW_YEAR, 3, 1)
}

fn date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

// ---------------------------------------------------------------- generator

/// What the benchmark asks about, chosen from the generated ledger.
#[derive(Clone, Debug, Default)]
struct Targets {
    /// A person whose full name is unique.
    id: String,
    name: String,
    /// That name with a letter dropped from the surname.
    typo: String,
    /// People tagged BENCH_TAG / COMMON_TAG.
    bench_tag_people: usize,
    common_tag_people: usize,
    counts: Counts,
}

#[derive(Clone, Debug, Default)]
struct Counts {
    people: usize,
    companies: usize,
    interactions: usize,
    facts: usize,
    follow_ups: usize,
    open_follow_ups: usize,
    cadences: usize,
    birthdays: usize,
    lines: usize,
    fact_word_facts: usize,
}

/// A JSON string literal; the vocabulary has nothing that needs escaping
/// but quotes and backslashes are handled anyway.
fn js(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn timestamp(rng: &mut Rng, days: i64) -> String {
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date(days),
        rng.range(7, 19),
        rng.below(60),
        rng.below(60)
    )
}

fn fact_text(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => format!("Loves {}", rng.pick(HOBBIES)),
        1 => format!("Spent last summer in {}", rng.pick(PLACES)),
        2 => format!("Has {} children", rng.range(1, 4)),
        3 => format!("Studied at {}", rng.pick(UNIS)),
        4 => format!("Supports {}", rng.pick(TEAMS)),
        5 => format!("Allergic to {}", rng.pick(FOODS)),
        6 => format!(
            "Daughter plays {} in {}",
            rng.pick(HOBBIES),
            rng.pick(PLACES)
        ),
        _ => format!(
            "Grew up in {}, now into {}",
            rng.pick(PLACES),
            rng.pick(HOBBIES)
        ),
    }
}

/// Writes a ledger of `people` people as kith JSONL; returns what to ask.
fn generate(path: &Path, people: usize, seed: u64) -> std::io::Result<Targets> {
    let mut rng = Rng(seed);
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut c = Counts::default();
    let today = today_days();
    writeln!(
        out,
        "{{\"exported\":{},\"kith-export\":1,\"private\":true}}",
        js(NOW)
    )?;
    c.lines += 1;

    // Companies.
    let n_companies = (people / 10).max(1);
    let mut companies: Vec<(String, String)> = Vec::with_capacity(n_companies); // (id, domain)
    for _ in 0..n_companies {
        let id = rng.id();
        let (a, b, s) = (rng.pick(CO_A), rng.pick(CO_B), rng.pick(CO_C));
        let name = format!("{a} {b} {s}");
        let domain = format!("{}{}.com", a.to_lowercase(), b.to_lowercase());
        let days = today - rng.range(200, 1500);
        let created = timestamp(&mut rng, days);
        let mut shared = format!(
            "\"created\":{},\"domain\":{},\"name\":{}",
            js(&created),
            js(&domain),
            js(&name)
        );
        if rng.chance(0.3) {
            let _ = write!(
                shared,
                ",\"tags\":{{{}:{{\"pos\":0}}}}",
                js(b.to_lowercase().as_str())
            );
        }
        writeln!(
            out,
            "{{\"kind\":\"company\",\"id\":\"{id}\",\"shared\":{{{shared}}}}}"
        )?;
        companies.push((id, domain));
        c.companies += 1;
        c.lines += 1;
    }

    // People ids and names first: interactions may involve a second person.
    let mut ids = Vec::with_capacity(people);
    let mut names = Vec::with_capacity(people);
    for _ in 0..people {
        ids.push(rng.id());
        let first = *rng.pick(FIRST);
        let last = format!("{}{}", rng.pick(STEMS), rng.pick(ENDINGS));
        names.push((first, last));
    }
    let mut name_count: HashMap<String, u32> = HashMap::new();
    for (f, l) in &names {
        *name_count.entry(format!("{f} {l}")).or_default() += 1;
    }

    // Interactions per person: 0..=20 each, then nudged to exactly 10 per person.
    let mut per_person: Vec<u32> = (0..people).map(|_| rng.range(0, 20) as u32).collect();
    let mut total: i64 = per_person.iter().map(|&n| n as i64).sum();
    let want = people as i64 * 10;
    while total != want {
        let i = rng.below(people);
        if total < want && per_person[i] < 30 {
            per_person[i] += 1;
            total += 1;
        } else if total > want && per_person[i] > 0 {
            per_person[i] -= 1;
            total -= 1;
        }
    }

    let mut targets = Targets::default();
    for i in 0..people {
        let id = &ids[i];
        let (first, last) = (names[i].0, names[i].1.clone());
        let name = format!("{first} {last}");
        let created_days = today - rng.range(60, 1500);
        let created = timestamp(&mut rng, created_days);

        // Shared fields, keys in sorted order as kith writes them.
        let mut shared = String::new();
        let company = rng.chance(0.8).then(|| rng.pick(&companies).clone());
        if let Some((cid, _)) = &company {
            let _ = write!(shared, "\"company\":\"{cid}\",");
        }
        let domain = company
            .as_ref()
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| "example.net".into());
        let email = format!(
            "{}.{}{}@{domain}",
            first.to_lowercase(),
            last.to_lowercase(),
            rng.below(100)
        );
        let _ = write!(
            shared,
            "\"emails\":{{{}:{{\"label\":\"work\",\"pos\":0}}}},",
            js(&email)
        );
        let _ = write!(
            shared,
            "\"name\":{},\"sort_name\":{}",
            js(&name),
            js(&format!("{last}, {first}"))
        );
        let n_tags = match rng.below(10) {
            0 | 1 => 0,
            2..=5 => 1,
            6..=8 => 2,
            _ => 3,
        };
        let mut tags: Vec<&str> = Vec::new();
        for _ in 0..n_tags {
            let t = rng.weighted(TAGS);
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        if !tags.is_empty() {
            targets.bench_tag_people += tags.contains(&BENCH_TAG) as usize;
            targets.common_tag_people += tags.contains(&COMMON_TAG) as usize;
            let members: Vec<String> = tags
                .iter()
                .enumerate()
                .map(|(p, t)| format!("{}:{{\"pos\":{p}}}", js(t)))
                .collect();
            let _ = write!(shared, ",\"tags\":{{{}}}", members.join(","));
        }
        if rng.chance(0.7) {
            let _ = write!(shared, ",\"title\":{}", js(rng.pick::<&str>(TITLES)));
        }

        // Private fields.
        let mut private = String::new();
        if rng.chance(0.7) {
            let (m, d) = {
                let m = rng.range(1, 12) as u32;
                (m, rng.range(1, days_in_month(2000, m) as i64) as u32)
            };
            let b = if rng.chance(0.85) {
                format!("{}-{m:02}-{d:02}", rng.range(1950, 2000))
            } else {
                format!("--{m:02}-{d:02}")
            };
            let _ = write!(private, "\"birthday\":{},", js(&b));
            c.birthdays += 1;
        }
        if rng.chance(0.1) {
            let days = *rng.pick(&[14, 30, 30, 60, 90, 90, 180]);
            let _ = write!(private, "\"cadence_days\":{days},");
            c.cadences += 1;
        }
        let _ = write!(private, "\"created\":{}", js(&created));
        if rng.chance(0.15) {
            let _ = write!(
                private,
                ",\"nickname\":{}",
                js(&first[..first.len().min(3)])
            );
        }
        if rng.chance(0.6) {
            let phone = format!("+44 7700 9{:05}", rng.below(100_000));
            let _ = write!(
                private,
                ",\"phones\":{{{}:{{\"label\":\"mobile\",\"pos\":0}}}}",
                js(&phone)
            );
        }
        writeln!(
            out,
            "{{\"kind\":\"person\",\"id\":\"{id}\",\"shared\":{{{shared}}},\"private\":{{{private}}}}}"
        )?;
        c.people += 1;
        c.lines += 1;

        // Facts: 0, 1 or 2 (about 1 on average).
        let n_facts = match rng.below(10) {
            0..=2 => 0,
            3..=6 => 1,
            _ => 2,
        };
        for _ in 0..n_facts {
            let fid = rng.id_near(id);
            let learned_days = rng.range(created_days, today);
            let text = fact_text(&mut rng);
            c.fact_word_facts += text.contains(FACT_WORD) as usize;
            writeln!(
                out,
                "{{\"kind\":\"fact\",\"id\":\"{fid}\",\"private\":{{\"created\":{},\"learned\":\"{}\",\"subject\":\"{id}\",\"text\":{}}}}}",
                js(&timestamp(&mut rng, learned_days)),
                date(learned_days),
                js(&text)
            )?;
            c.facts += 1;
            c.lines += 1;
        }
        if targets.id.is_empty()
            && i >= people / 2
            && n_facts > 0
            && last.len() >= 7
            && name_count[&name] == 1
        {
            targets.id = id.clone();
            targets.name = name.clone();
            let cut = last.len() / 2;
            targets.typo = format!("{first} {}{}", &last[..cut], &last[cut + 1..]);
        }

        // Interactions, about one in seven with a second person.
        for _ in 0..per_person[i] {
            let iid = rng.id_near(id);
            let days = today - rng.range(0, 1095);
            let at = format!(
                "{}T{:02}:{:02}",
                date(days),
                rng.range(8, 18),
                rng.below(60)
            );
            let channel = rng.weighted(CHANNELS);
            let mut with = format!("\"{id}\"");
            if rng.chance(0.15) {
                let other = &ids[rng.below(people)];
                if other != id {
                    let _ = write!(with, ",\"{other}\"");
                }
            }
            let mut summary = format!("{} {}", rng.pick(VERBS), rng.pick(TOPICS));
            if rng.chance(0.3) {
                let _ = write!(summary, "; they mentioned {}", rng.pick(HOBBIES));
            }
            writeln!(
                out,
                "{{\"kind\":\"interaction\",\"id\":\"{iid}\",\"shared\":{{\"at\":\"{at}\",\"channel\":\"{channel}\",\"people\":[{with}]}},\"private\":{{\"summary\":{}}}}}",
                js(&summary)
            )?;
            c.interactions += 1;
            c.lines += 1;
        }

        // Follow-ups: about one person in twelve; most open.
        if rng.chance(0.08) {
            let fid = rng.id_near(id);
            let due = date(today + rng.range(-30, 60));
            let made_days = today - rng.range(1, 90);
            let made = timestamp(&mut rng, made_days);
            let done = if rng.chance(0.3) {
                format!(
                    ",\"done\":{}",
                    js(&{
                        let d = today - rng.range(0, 10);
                        timestamp(&mut rng, d)
                    })
                )
            } else {
                c.open_follow_ups += 1;
                String::new()
            };
            writeln!(
                out,
                "{{\"kind\":\"follow-up\",\"id\":\"{fid}\",\"private\":{{\"created\":{}{done},\"due\":\"{due}\",\"person\":\"{id}\",\"text\":{}}}}}",
                js(&made),
                js(rng.pick::<&str>(FOLLOW_UPS))
            )?;
            c.follow_ups += 1;
            c.lines += 1;
        }
    }
    out.flush()?;
    if targets.id.is_empty() {
        // Tiny ledgers: take the first person, whatever their name.
        let (f, l) = (names[0].0, names[0].1.clone());
        targets.id = ids[0].clone();
        targets.name = format!("{f} {l}");
        targets.typo = format!("{f} {}", &l[..l.len() - 1]);
    }
    targets.counts = c;
    Ok(targets)
}

// ---------------------------------------------------------------- running

#[derive(Clone, Copy, Debug)]
struct Sample {
    wall: Duration,
    /// Peak resident set of the child, bytes.
    rss: u64,
    /// This process's resident set when it spawned the child: the least
    /// `rss` can be.
    floor: u64,
    code: i32,
}

/// Runs one whole process and waits for it with wait4 to get its peak RSS.
/// Stdout and stderr go to files, so pipes never fill. Killed past `timeout`.
fn run_once(mut cmd: Command, stdout: &Path, stderr: &Path, timeout: Option<Duration>) -> Sample {
    cmd.stdin(Stdio::null())
        .stdout(File::create(stdout).expect("stdout file"))
        .stderr(File::create(stderr).expect("stderr file"));
    // The child's ru_maxrss starts from this process's peak RSS: spawning
    // shares (or copies) our address space until exec, and Linux keeps the
    // larger figure across exec. Resetting our peak (clear_refs 5) makes the
    // floor our current RSS, which is recorded so the report can show it.
    let _ = fs::write("/proc/self/clear_refs", "5");
    let floor = self_rss();
    let start = Instant::now();
    let child = cmd.spawn().expect("spawn kith");
    let pid = child.id() as libc::pid_t;
    let (cancel, watch) = std::sync::mpsc::channel::<()>();
    let watchdog = timeout.map(|t| {
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = watch.recv_timeout(t) {
                // SAFETY: the pid is our unreaped child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        })
    });
    let mut status: libc::c_int = 0;
    // SAFETY: zeroed rusage is valid; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = loop {
        // SAFETY: valid pointers to locals; pid is our child.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break rc;
    };
    let wall = start.elapsed();
    let _ = cancel.send(());
    if let Some(w) = watchdog {
        let _ = w.join();
    }
    assert_eq!(rc, pid, "wait4 failed");
    std::mem::forget(child); // already reaped
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    Sample {
        wall,
        rss: usage.ru_maxrss as u64 * 1024,
        floor,
        code,
    }
}

/// This process's resident set, bytes.
fn self_rss() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

struct Runner {
    kith: PathBuf,
    scratch: PathBuf,
}

impl Runner {
    fn command(&self, home: Option<&Path>, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.kith);
        cmd.args(args)
            .env_remove("RUST_LOG")
            .env("KITH_NOW", NOW)
            .env("KITH_TZ", "UTC")
            .env("NO_COLOR", "1");
        match home {
            Some(h) => cmd.env("KITH_HOME", h),
            None => cmd.env_remove("KITH_HOME"),
        };
        cmd
    }

    fn out_path(&self) -> PathBuf {
        self.scratch.join("stdout.txt")
    }

    fn err_path(&self) -> PathBuf {
        self.scratch.join("stderr.txt")
    }

    /// One run; returns the sample, the first MB of stdout, stdout's length
    /// and stderr. Output is never read whole: this process's own memory
    /// would show up in the next child's peak RSS (see [`run_once`]).
    fn once(&self, cmd: Command, timeout: Option<Duration>) -> (Sample, String, u64, String) {
        use std::io::Read;
        let (o, e) = (self.out_path(), self.err_path());
        let s = run_once(cmd, &o, &e, timeout);
        let mut head = Vec::new();
        if let Ok(f) = File::open(&o) {
            let _ = f.take(1 << 20).read_to_end(&mut head);
        }
        let len = fs::metadata(&o).map(|m| m.len()).unwrap_or(0);
        let mut err = Vec::new();
        if let Ok(f) = File::open(&e) {
            let _ = f.take(1 << 20).read_to_end(&mut err);
        }
        (
            s,
            String::from_utf8_lossy(&head).into_owned(),
            len,
            String::from_utf8_lossy(&err).into_owned(),
        )
    }
}

/// A command to time: its label, target, arguments and output check.
type Timed = (String, &'static str, Vec<String>, Box<dyn Fn(&str) -> bool>);

/// Figures for one command over many runs.
struct Row {
    name: String,
    target: String,
    first: Sample,
    samples: Vec<Sample>,
    /// Did the output hold what it should (e.g. the person searched for)?
    check: String,
    note: String,
}

impl Row {
    fn walls_ms(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self
            .samples
            .iter()
            .map(|s| s.wall.as_secs_f64() * 1e3)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }
    fn pct(&self, p: f64) -> f64 {
        let v = self.walls_ms();
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }
    fn peak_rss(&self) -> u64 {
        self.samples
            .iter()
            .chain([&self.first])
            .map(|s| s.rss)
            .max()
            .unwrap_or(0)
    }
    fn floor(&self) -> u64 {
        self.samples
            .iter()
            .chain([&self.first])
            .map(|s| s.floor)
            .max()
            .unwrap_or(0)
    }
    fn failures(&self) -> usize {
        self.samples
            .iter()
            .chain([&self.first])
            .filter(|s| s.code != 0)
            .count()
    }
}

/// Runs `args` once (the first, reported apart) and then `runs` times.
fn measure(
    r: &Runner,
    home: &Path,
    name: &str,
    target: &str,
    args: &[&str],
    runs: usize,
    check: &dyn Fn(&str) -> bool,
) -> Row {
    let (first, out, first_len, err) = r.once(r.command(Some(home), args), None);
    // Kept for a look at what the command said.
    let slug: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    let _ = fs::copy(r.out_path(), r.scratch.join(format!("first-{slug}.txt")));
    let mut ok = check(&out) && first.code == 0;
    let mut note = String::new();
    if first.code != 0 {
        note = format!("exit {}: {}", first.code, err.lines().next().unwrap_or(""));
    }
    let mut samples = Vec::with_capacity(runs);
    let mut out_bytes = first_len;
    for _ in 0..runs {
        let (s, _, len, err) = r.once(r.command(Some(home), args), None);
        if s.code != 0 && note.is_empty() {
            note = format!("exit {}: {}", s.code, err.lines().next().unwrap_or(""));
        }
        ok &= s.code == 0;
        out_bytes = len;
        samples.push(s);
    }
    if note.is_empty() && out_bytes > 100_000 {
        note = format!("{:.1} MB of output", out_bytes as f64 / 1e6);
    }
    let row = Row {
        name: name.to_string(),
        target: target.to_string(),
        first,
        samples,
        check: if ok { "ok".into() } else { "MISS".into() },
        note,
    };
    eprintln!(
        "  {:<44} p50 {:>9.1} ms  p90 {:>9.1} ms  rss {:>6.1} MB  {}",
        row.name,
        row.pct(50.0),
        row.pct(90.0),
        mb(row.peak_rss()),
        row.check
    );
    row
}

// ---------------------------------------------------------------- disk

#[derive(Default, Clone, Copy)]
struct Usage {
    apparent: u64,
    allocated: u64,
    files: u64,
    dirs: u64,
}

fn disk_usage(path: &Path) -> Usage {
    use std::os::unix::fs::MetadataExt;
    let mut u = Usage::default();
    let Ok(meta) = fs::symlink_metadata(path) else {
        return u;
    };
    if meta.is_dir() {
        u.dirs += 1;
        u.allocated += meta.blocks() * 512;
        if let Ok(entries) = fs::read_dir(path) {
            for e in entries.flatten() {
                let sub = disk_usage(&e.path());
                u.apparent += sub.apparent;
                u.allocated += sub.allocated;
                u.files += sub.files;
                u.dirs += sub.dirs;
            }
        }
    } else {
        u.files += 1;
        u.apparent += meta.len();
        u.allocated += meta.blocks() * 512;
    }
    u
}

fn sqlite_usage(home: &Path) -> Usage {
    let mut u = Usage::default();
    for suffix in ["", "-wal", "-shm"] {
        let s = disk_usage(&home.join(format!("index.sqlite{suffix}")));
        u.apparent += s.apparent;
        u.allocated += s.allocated;
        u.files += s.files;
    }
    u
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

// ---------------------------------------------------------------- import phases

/// Seconds since process start of each tracing line kith printed at debug.
fn import_phases(stderr: &str, total: Duration) -> Vec<(String, f64)> {
    let strip = |s: &str| {
        let mut out = String::new();
        let mut esc = false;
        for c in s.chars() {
            match (esc, c) {
                (false, '\x1b') => esc = true,
                (true, 'm') => esc = false,
                (true, _) => {}
                (false, c) => out.push(c),
            }
        }
        out
    };
    let mut spooled = None;
    let mut parse = 0.0;
    let mut write = 0.0;
    let mut last = None;
    let mut first_bucket = None;
    for line in stderr.lines().map(strip) {
        let t: Option<f64> = line
            .split_whitespace()
            .next()
            .and_then(|w| w.trim_end_matches('s').parse().ok());
        let Some(t) = t else { continue };
        if line.contains("lines checked and spooled") {
            spooled = Some(t);
            last = Some(t);
        } else if line.contains("bucket parsed") {
            first_bucket.get_or_insert(t);
            parse += t - last.unwrap_or(t);
            last = Some(t);
        } else if line.contains("bucket written") {
            write += t - last.unwrap_or(t);
            last = Some(t);
        }
    }
    let mut out = Vec::new();
    if let Some(s) = spooled {
        out.push(("open + read, check and spool every line".into(), s));
        out.push(("parse buckets again into changes".into(), parse));
        out.push((
            "write shards (automerge + chunks + index rows)".into(),
            write,
        ));
        if let Some(l) = last {
            out.push((
                "after the last bucket: end_bulk (CREATE INDEX, touch) + exit".into(),
                total.as_secs_f64() - l,
            ));
        }
    }
    out
}

// ---------------------------------------------------------------- main

fn git_state() -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = run(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "?".into());
    let dirty = run(&["status", "--porcelain", "--untracked-files=no", "src"])
        .is_some_and(|s| !s.is_empty());
    format!(
        "{head}{}",
        if dirty {
            " + uncommitted changes in src/"
        } else {
            ""
        }
    )
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn import(
    r: &Runner,
    home: &Path,
    jsonl: &Path,
    timeout: Duration,
) -> (Sample, String, Vec<(String, f64)>) {
    let _ = fs::remove_dir_all(home);
    let mut cmd = r.command(Some(home), &["import", jsonl.to_str().expect("utf-8 path")]);
    cmd.env("RUST_LOG", "warn,kith=debug");
    let (s, out, _, err) = r.once(cmd, Some(timeout));
    let phases = import_phases(&err, s.wall);
    let mut summary = out.lines().last().unwrap_or("").to_string();
    if s.code != 0 {
        let tail: Vec<&str> = err
            .lines()
            .filter(|l| !l.contains("DEBUG"))
            .take(3)
            .collect();
        summary = format!("exit {}: {summary} {}", s.code, tail.join(" / "));
    }
    (s, summary, phases)
}

fn main() {
    let opts = parse_opts();
    fs::create_dir_all(&opts.out).expect("create --out");
    let scratch = opts.out.join("scratch");
    fs::create_dir_all(&scratch).expect("scratch dir");
    let r = Runner {
        kith: opts.kith.clone(),
        scratch,
    };
    let load_before = loadavg();
    eprintln!(
        "kith bench: {} people, {} runs, binary {}, data in {}",
        opts.people,
        opts.runs,
        opts.kith.display(),
        opts.out.display()
    );

    // 1. The ledgers, as JSONL.
    let big = opts.out.join(format!("big-{}.jsonl", opts.people));
    let small = opts.out.join("small-100.jsonl");
    let big_home = opts.out.join(format!("home-{}", opts.people));
    let small_home = opts.out.join("home-100");
    let stamp = big_home.join("bench-stamp");
    let reuse = opts.reuse
        && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == opts.people.to_string())
        && big.is_file();
    let t = Instant::now();
    let targets = generate(&big, opts.people, 0x6b69_7468).expect("write the big ledger");
    let gen_secs = t.elapsed().as_secs_f64();
    let small_targets = generate(&small, 100, 0x736d_616c).expect("write the small ledger");
    // Give the generator's memory back: children start from our RSS.
    // SAFETY: malloc_trim only releases free heap memory.
    unsafe { libc::malloc_trim(0) };
    let jsonl_bytes = fs::metadata(&big).map(|m| m.len()).unwrap_or(0);
    let c = &targets.counts;
    eprintln!(
        "generated {} ({:.1} MB, {} lines) in {gen_secs:.1} s; target {} '{}', typo '{}'",
        big.display(),
        mb(jsonl_bytes),
        c.lines,
        targets.id,
        targets.name,
        targets.typo
    );

    // 2. kith --version.
    let version = measure(
        &r,
        &opts.out,
        "kith --version",
        "≤ 5 ms",
        &["--version"],
        opts.runs,
        &|o| o.starts_with("kith"),
    );

    // 3. Import into an empty home.
    let (import_sample, import_summary, import_phases) = if reuse {
        eprintln!("reusing the imported ledger in {}", big_home.display());
        (
            Sample {
                wall: Duration::ZERO,
                rss: 0,
                floor: 0,
                code: 0,
            },
            "(reused; not measured)".to_string(),
            Vec::new(),
        )
    } else {
        eprintln!("importing {} …", big.display());
        let got = import(&r, &big_home, &big, opts.import_timeout);
        eprintln!(
            "  import: {:.1} s, peak RSS {:.1} MB, exit {}: {}",
            got.0.wall.as_secs_f64(),
            mb(got.0.rss),
            got.0.code,
            got.1
        );
        if got.0.code == 0 {
            let _ = fs::write(&stamp, opts.people.to_string());
        }
        got
    };
    let imported = import_sample.code == 0;
    let (small_import, small_summary, _) = import(&r, &small_home, &small, opts.import_timeout);
    if small_import.code != 0 {
        eprintln!("small import failed: {small_summary}");
    }

    // 4. Size on disk, right after the import.
    let ledger_du = disk_usage(&big_home.join("ledger"));
    let index_du = sqlite_usage(&big_home);
    let home_du = disk_usage(&big_home);

    // 5. Commands.
    let mut rows = vec![version];
    if imported {
        let prefix = &targets.id[..8];
        let name_l = targets.name.clone();
        let has_name = move |o: &str| o.contains(&name_l);
        let cmds: Vec<Timed> = vec![
            (
                format!("find '{}' (typo)", targets.typo),
                "≤ 20 ms",
                vec!["find".into(), targets.typo.clone()],
                Box::new(has_name.clone()),
            ),
            (
                format!(
                    "find {} (fact word, {} facts)",
                    FACT_WORD.to_lowercase(),
                    c.fact_word_facts
                ),
                "≤ 20 ms",
                vec!["find".into(), FACT_WORD.to_lowercase()],
                Box::new(|o: &str| o.contains("fact:")),
            ),
            (
                format!("show {prefix} (id prefix)"),
                "≤ 20 ms",
                vec!["show".into(), prefix.to_string()],
                Box::new(has_name.clone()),
            ),
            (
                format!("show '{}' (full name)", targets.name),
                "≤ 20 ms",
                vec!["show".into(), targets.name.clone()],
                Box::new(has_name.clone()),
            ),
            (
                format!(
                    "list --tag {BENCH_TAG} --json ({} people)",
                    targets.bench_tag_people
                ),
                "≤ 20 ms",
                vec![
                    "list".into(),
                    "--tag".into(),
                    BENCH_TAG.into(),
                    "--json".into(),
                ],
                Box::new(|o: &str| o.contains("\"id\"")),
            ),
            (
                format!(
                    "list --tag {COMMON_TAG} --json ({} people) [extra]",
                    targets.common_tag_people
                ),
                "(extra)",
                vec![
                    "list".into(),
                    "--tag".into(),
                    COMMON_TAG.into(),
                    "--json".into(),
                ],
                Box::new(|o: &str| o.contains("\"id\"")),
            ),
            (
                "today".into(),
                "≤ 20 ms",
                vec!["today".into()],
                Box::new(|o: &str| o.starts_with("Today")),
            ),
        ];
        eprintln!("timing commands on the {}-person ledger …", opts.people);
        for (name, target, args, check) in &cmds {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            rows.push(measure(
                &r,
                &big_home,
                name,
                target,
                &args,
                opts.runs,
                check.as_ref(),
            ));
        }
        rows.push(measure(
            &r,
            &big_home,
            &format!("log {prefix} \"…\" ({} people)", opts.people),
            "≤ 10 ms",
            &["log", prefix, "Bench call about the spring order"],
            opts.runs,
            &|o| o.starts_with("logged"),
        ));
    }
    if small_import.code == 0 {
        let prefix = &small_targets.id[..8];
        rows.push(measure(
            &r,
            &small_home,
            &format!("log {prefix} \"…\" (100 people)"),
            "baseline",
            &["log", prefix, "Bench call about the spring order"],
            opts.runs,
            &|o| o.starts_with("logged"),
        ));
    }
    let load_after = loadavg();

    // 6. Report.
    let report = render(&Report {
        opts: &opts,
        targets: &targets,
        jsonl_bytes,
        gen_secs,
        import_sample,
        import_summary: &import_summary,
        import_phases: &import_phases,
        reused: reuse,
        ledger_du,
        index_du,
        home_du,
        rows: &rows,
        load: (load_before, load_after),
    });
    println!("{report}");
    let dir = opts.target_dir.join("kith-bench");
    let _ = fs::create_dir_all(&dir);
    let md = dir.join("results.md");
    fs::write(&md, &report).expect("write results.md");
    let _ = fs::write(dir.join(format!("results-{}.md", opts.people)), &report);
    eprintln!("wrote {}", md.display());
}

struct Report<'a> {
    opts: &'a Opts,
    targets: &'a Targets,
    jsonl_bytes: u64,
    gen_secs: f64,
    import_sample: Sample,
    import_summary: &'a str,
    import_phases: &'a [(String, f64)],
    reused: bool,
    ledger_du: Usage,
    index_du: Usage,
    home_du: Usage,
    rows: &'a [Row],
    load: (String, String),
}

fn verdict(ok: bool) -> &'static str {
    if ok { "meets" } else { "**misses**" }
}

/// The figures as markdown; the same text is printed and written.
fn render(rep: &Report<'_>) -> String {
    let mut s = String::new();
    let c = &rep.targets.counts;
    let o = rep.opts;
    let _ = writeln!(s, "# kith benchmark: {} people\n", o.people);
    let _ = writeln!(
        s,
        "- binary: `{}` (kith {}), source {}",
        o.kith.display(),
        env!("CARGO_PKG_VERSION"),
        git_state()
    );
    let _ = writeln!(
        s,
        "- machine: {} cores, load average {} before, {} after; other builds may be running, so figures are noisy",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        rep.load.0,
        rep.load.1
    );
    let _ = writeln!(
        s,
        "- KITH_NOW={NOW}, KITH_TZ=UTC; every figure is a whole process (spawn to exit, wall clock); RSS is the child's ru_maxrss from wait4"
    );
    let floor = rep
        .rows
        .iter()
        .map(Row::floor)
        .chain([rep.import_sample.floor])
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        s,
        "- a child's ru_maxrss cannot read below the bench process's own RSS when it spawns (Linux carries it across exec); the bench resets its peak before each spawn, and its RSS then was at most {:.1} MB",
        mb(floor)
    );
    let _ = writeln!(
        s,
        "- ledger: {} people, {} companies, {} interactions, {} facts, {} follow-ups ({} open), {} keep-in-touch cadences, {} birthdays; {} JSONL lines, {:.1} MB (generated in {:.1} s)",
        c.people,
        c.companies,
        c.interactions,
        c.facts,
        c.follow_ups,
        c.open_follow_ups,
        c.cadences,
        c.birthdays,
        c.lines,
        mb(rep.jsonl_bytes),
        rep.gen_secs
    );
    let _ = writeln!(
        s,
        "- asked about: `{}` \"{}\" (typo \"{}\"); {} runs per command after one first run\n",
        rep.targets.id, rep.targets.name, rep.targets.typo, o.runs
    );

    let _ = writeln!(s, "## Import\n");
    let _ = writeln!(s, "| what | figure | target | verdict |");
    let _ = writeln!(s, "|---|---:|---|---|");
    let imp = rep.import_sample;
    if rep.reused {
        let _ = writeln!(
            s,
            "| `kith import` | reused an earlier import; not measured | ≤ 10 s | |"
        );
    } else {
        let _ = writeln!(
            s,
            "| `kith import` wall time | {:.2} s | ≤ 10 s | {} |",
            imp.wall.as_secs_f64(),
            verdict(imp.code == 0 && imp.wall.as_secs_f64() <= 10.0)
        );
        let _ = writeln!(
            s,
            "| `kith import` peak RSS | {:.1} MB | ≤ 300 MB | {} |",
            mb(imp.rss),
            verdict(imp.code == 0 && mb(imp.rss) <= 300.0)
        );
        let _ = writeln!(s, "| import said | {} | | |", rep.import_summary);
        for (phase, secs) in rep.import_phases {
            let _ = writeln!(s, "| phase: {phase} | {secs:.2} s | | |");
        }
    }
    let _ = writeln!(s);

    let _ = writeln!(s, "## Size on disk (right after the import)\n");
    let _ = writeln!(
        s,
        "| what | apparent | allocated | files | × JSONL (allocated) |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    let j = rep.jsonl_bytes.max(1) as f64;
    let _ = writeln!(
        s,
        "| JSONL export | {:.1} MB | | 1 | 1.00 |",
        mb(rep.jsonl_bytes)
    );
    for (name, u) in [
        ("ledger/ (automerge chunks)", rep.ledger_du),
        ("index.sqlite (+wal, shm)", rep.index_du),
        ("whole home", rep.home_du),
    ] {
        let _ = writeln!(
            s,
            "| {name} | {:.1} MB | {:.1} MB | {} | {:.2} |",
            mb(u.apparent),
            mb(u.allocated),
            u.files,
            u.allocated as f64 / j
        );
    }
    let _ = writeln!(
        s,
        "\nTarget: ledger on disk ≤ 2× the JSONL: ledger/ alone {}, whole home {}.\n",
        verdict(rep.ledger_du.allocated as f64 <= 2.0 * j),
        verdict(rep.home_du.allocated as f64 <= 2.0 * j)
    );

    let _ = writeln!(s, "## Commands\n");
    let _ = writeln!(
        s,
        "| command | p50 ms | p90 ms | p99 ms | first ms | peak RSS MB | target | verdict (p50, RSS ≤ 300 MB) | output | note |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---|---|---|---|");
    let mut log_big = None;
    let mut log_small = None;
    for row in rep.rows {
        let p50 = row.pct(50.0);
        let limit = match row.target.as_str() {
            "≤ 5 ms" => Some(5.0),
            "≤ 10 ms" => Some(10.0),
            "≤ 20 ms" => Some(20.0),
            _ => None,
        };
        let rss_ok = mb(row.peak_rss()) <= 300.0;
        let v = match limit {
            Some(l) => verdict(p50 <= l && rss_ok && row.failures() == 0).to_string(),
            None => format!("RSS {}", verdict(rss_ok)),
        };
        if row.name.starts_with("log ") {
            if row.target == "baseline" {
                log_small = Some(p50);
            } else {
                log_big = Some(p50);
            }
        }
        let _ = writeln!(
            s,
            "| `{}` | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} |",
            row.name,
            p50,
            row.pct(90.0),
            row.pct(99.0),
            row.first.wall.as_secs_f64() * 1e3,
            mb(row.peak_rss()),
            row.target,
            v,
            row.check,
            row.note
        );
    }
    if let (Some(b), Some(sm)) = (log_big, log_small) {
        let ratio = b / sm;
        let _ = writeln!(
            s,
            "\n`log` on {} people vs 100 people: {b:.1} ms / {sm:.1} ms = **{ratio:.2}×** (target ≤ 1.5×: {}).",
            o.people,
            verdict(ratio <= 1.5)
        );
    }
    let peak = rep
        .rows
        .iter()
        .map(Row::peak_rss)
        .chain([rep.import_sample.rss])
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        s,
        "\nPeak RSS of any command: {:.1} MB (target ≤ 300 MB: {}).",
        mb(peak),
        verdict(mb(peak) <= 300.0)
    );
    let _ = writeln!(
        s,
        "\n`first` is the first run of each command, not counted in the percentiles; `output` says whether the output held what it should (the person searched for, a fact hit, JSON rows, `logged`). `log` runs append to the same shard each time, so its p90/p99 include the compactions that kith does every 16 chunks."
    );
    s
}
