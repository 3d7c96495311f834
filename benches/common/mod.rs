//! What the benches share: the deterministic ledger generator (JSONL as
//! `kith export` writes it), its random numbers, vocabulary and dates, and
//! the helpers that find the target directory and the `kith` binary, run a
//! whole process with its peak RSS, and describe the machine.
//!
//! Each bench includes it with `#[path = "common/mod.rs"] mod common;`, so
//! each uses only part of it.

#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The moment the generated ledgers are written as of, and that commands
/// run at (KITH_NOW).
pub const NOW: &str = "2026-03-01T09:00:00Z";
pub const NOW_YEAR: i32 = 2026;
/// Crockford base32, as kith's ids.
pub const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

// ---------------------------------------------------------------- target and binary

/// The target directory this bench was built into: the bench executable is
/// `<target>/<profile>/deps/<bench>-<hash>`.
pub fn target_dir() -> PathBuf {
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
pub fn default_kith(target: &Path) -> PathBuf {
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

// ---------------------------------------------------------------- flags

/// A bench's flags after `--`: `--flag value` or `--flag=value`.
pub struct Flags(std::iter::Skip<std::env::Args>);

impl Flags {
    pub fn from_env() -> Flags {
        Flags(std::env::args().skip(1))
    }

    /// The next argument, split at its first `=` when it is a `--flag=value`.
    pub fn next_flag(&mut self) -> Option<(String, Option<String>)> {
        let arg = self.0.next()?;
        Some(match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg, None),
        })
    }

    /// A flag's value: the inline one, else the next argument.
    pub fn value(&mut self, inline: Option<String>) -> Option<String> {
        inline.or_else(|| self.0.next())
    }
}

/// Whether a comparison is left in by `--only` (empty: everything).
pub fn wanted(only: &[String], what: &str) -> bool {
    only.is_empty() || only.iter().any(|o| o == what)
}

// ---------------------------------------------------------------- random

/// SplitMix64: deterministic, no crate needed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next() >> 11) as u128 * n as u128) >> 53) as usize
    }
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as usize) as i64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    pub fn weighted<'a>(&mut self, items: &'a [(&'a str, u32)]) -> &'a str {
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
    pub fn id(&mut self) -> String {
        (0..16).map(|_| ALPHABET[self.below(32)] as char).collect()
    }
    /// An id in the same shard as `owner`.
    pub fn id_near(&mut self, owner: &str) -> String {
        let mut id = owner[..2].to_string();
        id.extend((0..14).map(|_| ALPHABET[self.below(32)] as char));
        id
    }
}

// ---------------------------------------------------------------- vocabulary

pub const FIRST: &[&str] = &[
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
pub const STEMS: &[&str] = &[
    "Ash", "Bar", "Bell", "Black", "Brad", "Brook", "Cal", "Car", "Chad", "Clif", "Col", "Crom",
    "Dal", "Dar", "Dun", "Eld", "Fair", "Far", "Fen", "Fitz", "Gar", "Gold", "Good", "Gran",
    "Green", "Hal", "Ham", "Har", "Hart", "Hay", "Hol", "Hux", "Kel", "Ken", "Kings", "Lan",
    "Lock", "Mar", "Mer", "Mig", "Mor", "Nor", "Old", "Pem", "Pen", "Pres", "Rad", "Red", "Ren",
    "Rob", "Ros", "Sal", "Shel", "Stan", "Stock", "Sut", "Tal", "Thorn", "Tom", "Wal", "War",
    "Wes", "Whit", "Wil", "Win", "Wood", "Wren", "Yar",
];
pub const ENDINGS: &[&str] = &[
    "by", "den", "field", "ford", "gins", "ham", "ley", "man", "more", "ton", "well", "wick",
    "worth", "son", "ridge", "stead", "ington", "ett", "ins", "ings", "cott", "hurst",
];
pub const TITLES: &[&str] = &[
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
pub const CO_A: &[&str] = &[
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
pub const CO_B: &[&str] = &[
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
pub const CO_C: &[&str] = &[
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
pub const TAGS: &[(&str, u32)] = &[
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
pub const BENCH_TAG: &str = "sailing";
pub const COMMON_TAG: &str = "customer";
pub const HOBBIES: &[&str] = &[
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
pub const PLACES: &[&str] = &[
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
pub const FACT_WORD: &str = "Cornwall";
pub const UNIS: &[&str] = &[
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
pub const FOODS: &[&str] = &[
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
pub const TEAMS: &[&str] = &[
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
pub const CHANNELS: &[(&str, u32)] = &[
    ("call", 35),
    ("email", 30),
    ("meeting", 20),
    ("message", 10),
    ("visit", 5),
];
pub const VERBS: &[&str] = &[
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
pub const TOPICS: &[&str] = &[
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
pub const FOLLOW_UPS: &[&str] = &[
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

pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y } as i64;
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

pub fn civil_from_days(z: i64) -> (i32, u32, u32) {
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

pub fn today_days() -> i64 {
    days_from_civil(NOW_YEAR, 3, 1)
}

pub fn date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

// ---------------------------------------------------------------- generator

/// What the benchmark asks about, chosen from the generated ledger.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    /// A person whose full name is unique.
    pub id: String,
    pub name: String,
    /// That name with a letter dropped from the surname.
    pub typo: String,
    /// People tagged BENCH_TAG / COMMON_TAG.
    pub bench_tag_people: usize,
    pub common_tag_people: usize,
    pub counts: Counts,
}

#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub people: usize,
    pub companies: usize,
    pub interactions: usize,
    pub facts: usize,
    pub follow_ups: usize,
    pub open_follow_ups: usize,
    pub cadences: usize,
    pub birthdays: usize,
    pub lines: usize,
    pub fact_word_facts: usize,
    /// Relationships (team ledgers only).
    pub links: usize,
    /// Facts and interaction summaries written to the shared part (team
    /// ledgers only; otherwise every fact and summary is private).
    pub shared_facts: usize,
    pub shared_summaries: usize,
}

/// A JSON string literal; the vocabulary has nothing that needs escaping
/// but quotes and backslashes are handled anyway.
pub fn js(s: &str) -> String {
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

pub fn timestamp(rng: &mut Rng, days: i64) -> String {
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date(days),
        rng.range(7, 19),
        rng.below(60),
        rng.below(60)
    )
}

pub fn fact_text(rng: &mut Rng) -> String {
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

/// How a generated ledger looks, beyond how many people it holds.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Interactions per person on average (exactly `people × per_person`
    /// in all).
    pub per_person: u32,
    /// A teammate's ledger as the team questions read it: some interactions
    /// say who got in touch, a quarter of facts and a fifth of summaries
    /// are shared, and about one person in four has a recorded
    /// relationship (shared, kith's default). Drawn from a second random
    /// stream, so the rest of the ledger is the same as without.
    pub team: bool,
}

impl Default for Shape {
    /// The ledger of `kith_bench`: 10 interactions per person, no extras.
    fn default() -> Shape {
        Shape {
            per_person: 10,
            team: false,
        }
    }
}

/// Relationship words for team ledgers, weighted.
pub const RELATIONS: &[(&str, u32)] = &[
    ("colleague", 30),
    ("friend", 20),
    ("introduced-by", 15),
    ("reports-to", 10),
    ("spouse", 8),
    ("sibling", 7),
    ("child", 5),
    ("parent", 5),
];

/// Writes a ledger of `people` people as kith JSONL; returns what to ask.
pub fn generate(path: &Path, people: usize, seed: u64) -> std::io::Result<Targets> {
    generate_shaped(path, people, seed, Shape::default())
}

/// [`generate`] with the interaction count and team extras chosen.
pub fn generate_shaped(
    path: &Path,
    people: usize,
    seed: u64,
    shape: Shape,
) -> std::io::Result<Targets> {
    let mut rng = Rng(seed);
    // Team extras come from here, never from `rng`.
    let mut extra = Rng(seed ^ 0x7465_616d_6578_7472);
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

    // Interactions per person: 0..=2k each, then nudged to exactly k per person.
    let k = shape.per_person;
    let mut per_person: Vec<u32> = (0..people)
        .map(|_| rng.range(0, 2 * k as i64) as u32)
        .collect();
    let mut total: i64 = per_person.iter().map(|&n| n as i64).sum();
    let want = people as i64 * k as i64;
    while total != want {
        let i = rng.below(people);
        if total < want && per_person[i] < 3 * k.max(1) {
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
            let part = if shape.team && extra.chance(0.25) {
                c.shared_facts += 1;
                "shared"
            } else {
                "private"
            };
            writeln!(
                out,
                "{{\"kind\":\"fact\",\"id\":\"{fid}\",\"{part}\":{{\"created\":{},\"learned\":\"{}\",\"subject\":\"{id}\",\"text\":{}}}}}",
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
            if !shape.team {
                writeln!(
                    out,
                    "{{\"kind\":\"interaction\",\"id\":\"{iid}\",\"shared\":{{\"at\":\"{at}\",\"channel\":\"{channel}\",\"people\":[{with}]}},\"private\":{{\"summary\":{}}}}}",
                    js(&summary)
                )?;
            } else {
                // Who got in touch, for three in four; a fifth of summaries shared.
                let direction = match extra.below(8) {
                    0..=3 => ",\"direction\":\"out\"",
                    4 | 5 => ",\"direction\":\"in\"",
                    _ => "",
                };
                let (shared_summary, private) = if extra.chance(0.2) {
                    c.shared_summaries += 1;
                    (format!(",\"summary\":{}", js(&summary)), String::new())
                } else {
                    (
                        String::new(),
                        format!(",\"private\":{{\"summary\":{}}}", js(&summary)),
                    )
                };
                writeln!(
                    out,
                    "{{\"kind\":\"interaction\",\"id\":\"{iid}\",\"shared\":{{\"at\":\"{at}\",\"channel\":\"{channel}\"{direction},\"people\":[{with}]{shared_summary}}}{private}}}"
                )?;
            }
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

    // Relationships (team ledgers): about one person in four is recorded
    // as related to someone else in the same ledger.
    if shape.team {
        for from in &ids {
            if !extra.chance(0.25) {
                continue;
            }
            let to = &ids[extra.below(people)];
            if to == from {
                continue;
            }
            let lid = extra.id_near(from);
            let relation = extra.weighted(RELATIONS);
            let days = today - extra.range(30, 900);
            let at = timestamp(&mut extra, days);
            writeln!(
                out,
                "{{\"kind\":\"link\",\"id\":\"{lid}\",\"shared\":{{\"at\":{},\"from\":\"{from}\",\"relation\":\"{relation}\",\"to\":\"{to}\"}}}}",
                js(&at)
            )?;
            c.links += 1;
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
pub struct Sample {
    pub wall: Duration,
    /// Peak resident set of the child, bytes.
    pub rss: u64,
    /// This process's resident set when it spawned the child: the least
    /// `rss` can be.
    pub floor: u64,
    pub code: i32,
}

/// Runs one whole process and waits for it with wait4 to get its peak RSS.
/// Stdout and stderr go to files, so pipes never fill. Killed past `timeout`.
pub fn run_once(
    mut cmd: Command,
    stdout: &Path,
    stderr: &Path,
    timeout: Option<Duration>,
) -> Sample {
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
pub fn self_rss() -> u64 {
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

// ---------------------------------------------------------------- machine

/// The commit measured, and whether src/ had uncommitted changes.
pub fn git_state() -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .arg("--no-optional-locks")
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

/// The 1, 5 and 15 minute load averages.
pub fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Stops a child daemon: SIGTERM, then a bounded wait; SIGKILL past
/// `grace`. Its exit code, or None if it had to be killed.
pub fn terminate(child: &mut std::process::Child, name: &str, grace: Duration) -> Option<i32> {
    if let Ok(Some(s)) = child.try_wait() {
        return s.code();
    }
    // SAFETY: kill(2) on our own child, which has not been reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let start = Instant::now();
    while start.elapsed() < grace {
        if let Ok(Some(s)) = child.try_wait() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!(
        "daemon {name} ignored SIGTERM for {} s: killed",
        grace.as_secs()
    );
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Polls every millisecond, until `limit`, for an edit to arrive at a
/// peer: `generation` reads the peer's replica nudge file (starting from
/// `seen`), `has` asks its index. The index is asked when the nudge file
/// changes, and every 50 polls regardless, in case a nudge was missed.
/// Returns when the nudge file first changed and when the edit arrived.
pub fn await_arrival(
    mut seen: Vec<u8>,
    mut generation: impl FnMut() -> Vec<u8>,
    mut has: impl FnMut() -> bool,
    limit: Duration,
) -> (Option<Instant>, Option<Instant>) {
    let start = Instant::now();
    let mut gen_at = None;
    let mut n = 0u64;
    while start.elapsed() < limit {
        let g = generation();
        let changed = g != seen;
        if changed {
            gen_at.get_or_insert_with(Instant::now);
            seen = g;
        }
        if (changed || n.is_multiple_of(50)) && has() {
            return (gen_at, Some(Instant::now()));
        }
        n += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    (gen_at, None)
}

/// Drains a spawned daemon's stdout on a thread of its own (so the daemon
/// never blocks on a full pipe), sending each address it says it listens
/// on.
pub fn listening_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(addr) = line.strip_prefix("listening on ") {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    rx
}

/// Polls `f` every `every` until it returns Some or `limit` passes.
pub fn poll<T>(limit: Duration, every: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// The p-th percentile (nearest rank) of sorted values; NaN if none.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    if s.len() % 2 == 1 {
        s[s.len() / 2]
    } else {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
    }
}
