//! Fitting the machine: the manual pages `kith man` makes from the same
//! definitions as `--help`, shown one at a time or written to a folder
//! for packaging, and rendered by the real `man` where it is installed
//! (CI sets KITH_REQUIRE_MAN so that part cannot skip there).

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::Home;

/// Whether `man` is here to render pages; a missing one fails the test
/// where KITH_REQUIRE_MAN is set.
fn have_man() -> bool {
    let found = Command::new("man").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("KITH_REQUIRE_MAN").is_none(),
            "KITH_REQUIRE_MAN is set but man is not on PATH"
        );
        eprintln!("skipping the man rendering: man is not installed");
    }
    found
}

#[test]
fn a_subcommand_page_says_what_its_help_says() {
    let home = Home::new();
    let page = home.ok(&["man", "show"]);
    assert!(page.contains(".TH kith-show 1"), "{page}");
    assert!(
        page.contains("Show everything about a person or company"),
        "{page}"
    );
    // Every option `kith show --help` lists is on the page.
    let help = home.ok(&["show", "--help"]);
    for option in ["--interactions", "--json", "--home", "--at"] {
        assert!(help.contains(option), "{option} not in show's help");
        assert!(
            page.contains(&option.replace('-', "\\-")),
            "{option} not on the page"
        );
    }
    let nested = home.ok(&["man", "team", "invite"]);
    assert!(nested.contains(".TH kith-team-invite 1"), "{nested}");
    assert!(nested.contains("\\-\\-expires"), "{nested}");
}

#[test]
fn a_page_for_a_command_kith_does_not_have_is_a_usage_error() {
    let home = Home::new();
    let (code, stderr) = home.fails(&["man", "team", "frobnicate"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("there is no `kith team frobnicate`"),
        "{stderr}"
    );
    let (code, _) = home.fails(&["man", "--out", "x", "show"]);
    assert_eq!(code, 2);
}

#[test]
fn every_page_is_written_to_a_folder_and_man_renders_them() {
    let home = Home::new();
    let dir = home.path().join("pages");
    let listed = home.ok(&["man", "--out", dir.to_str().unwrap()]);
    let written: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed.lines().count(), written.len(), "{listed}");
    for page in [
        "kith.1",
        "kith-show.1",
        "kith-team-join.1",
        "kith-carddav-serve.1",
        "kith-man.1",
    ] {
        assert!(written.contains(page), "{page} missing from {written:?}");
    }
    // One page per command `--help` lists, and none for clap's `help`.
    let help = home.ok(&["--help"]);
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        // A command's line starts two spaces in; wrapped help goes deeper.
        .filter(|l| l.starts_with("  ") && !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() > 30, "{help}");
    for c in &commands {
        assert!(written.contains(&format!("kith-{c}.1")), "no page for {c}");
    }
    assert!(!written.iter().any(|p| p.contains("help")), "{written:?}");
    if !have_man() {
        return;
    }
    let rendered = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(dir.join("kith-team-join.1"))
        .env("MANWIDTH", "80")
        .output()
        .unwrap();
    assert!(rendered.status.success(), "{rendered:?}");
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{text}");
    assert!(text.contains("kith-team-join"), "{text}");
}

/// Runs kith's bash completion for `words` (the last being completed) in a
/// real bash, with the script `kith completions bash` prints; returns what
/// bash would offer.
fn bash_completes(home: &Home, words: &[&str]) -> Vec<String> {
    let script = home.ok(&["completions", "bash"]);
    let dir = std::path::Path::new(crate::common::kith_bin())
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let line = format!(
        "{script}\nCOMP_WORDS=({}); COMP_CWORD={}; COMP_TYPE=9\n\
         _clap_complete_kith kith '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
        quoted.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &line])
        .env("PATH", path)
        .env("KITH_HOME", home.path())
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_commands_and_names_from_the_ledger() {
    let home = Home::new();
    home.add(&["Edna Miggins", "--company", "Miggins Corner Shop"]);
    home.add(&["Zoë Ångström"]);
    let albert = home.add(&["Albert Miggins"]);
    let other_albert = home.add(&["Albert Miggins"]);
    let removed = home.add(&["Edwin Gone"]);
    home.ok(&["rm", &removed]);

    assert_eq!(bash_completes(&home, &["kith", "sho"]), ["show"]);
    // A name is offered whole, its space escaped for bash; the removed are not.
    assert_eq!(
        bash_completes(&home, &["kith", "show", "Ed"]),
        ["Edna\\ Miggins"]
    );
    // Accents and case aside, as WHO itself matches.
    assert_eq!(
        bash_completes(&home, &["kith", "note", "zoe"]),
        ["Zoë\\ Ångström"]
    );
    // Two people of one name: each by id, so what is completed names one.
    let mut both = bash_completes(&home, &["kith", "set", "albert"]);
    both.sort();
    let mut ids = vec![albert.clone(), other_albert.clone()];
    ids.sort();
    assert_eq!(both, ids);
    // An id prefix completes to the whole id.
    assert_eq!(
        bash_completes(&home, &["kith", "history", &albert[..6]]),
        std::slice::from_ref(&albert)
    );
    // What bash completes is what WHO resolves.
    let shown = home.json(&["show", "Edna Miggins", "--json"]);
    assert_eq!(shown["name"], "Edna Miggins");
}

#[test]
fn completion_reads_the_index_without_changing_anything() {
    let home = Home::new();
    home.add(&["Edna Miggins"]);
    let before = home.ledger_files();
    let listed = home.ok(&["__complete", "who", "edna m"]);
    assert_eq!(listed.trim(), "Edna Miggins");
    assert_eq!(home.ledger_files(), before);
    // No ledger at all: no candidates, no error, and no home made.
    let empty = tempfile::tempdir().unwrap();
    let missing = empty.path().join("nobody");
    let out = Command::new(crate::common::kith_bin())
        .args(["__complete", "who", "ed"])
        .env("KITH_HOME", &missing)
        .output()
        .unwrap();
    assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
    assert!(!missing.exists(), "completion made a home");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = home.ok(&["completions", shell]);
        assert!(script.contains("KITH_COMPLETE"), "{shell}: {script}");
    }
    let (code, _) = home.fails(&["completions", "tcsh"]);
    assert_eq!(code, 2);
}

/// A vdir (a folder of .vcf files, one card each, as khard and vdirsyncer
/// keep them) imports as one address book, problems named FILE:LINE.
#[test]
fn a_vdir_folder_imports_as_one_address_book() {
    let home = Home::new();
    let dir = home.path().join("contacts");
    std::fs::create_dir(&dir).unwrap();
    let card = |uid: &str, fn_: &str| {
        format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{fn_}\r\nEND:VCARD\r\n")
    };
    std::fs::write(dir.join("a1.vcf"), card("a1", "Edna Miggins")).unwrap();
    std::fs::write(dir.join("b2.VCF"), card("b2", "Albert Miggins")).unwrap();
    std::fs::write(
        dir.join("c3.vcf"),
        "BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n",
    )
    .unwrap();
    std::fs::write(dir.join("README.txt"), "not a card").unwrap();
    std::fs::create_dir(dir.join(".git")).unwrap();

    let r = home.run(&["import", dir.to_str().unwrap()]);
    assert_eq!(
        r.code,
        Some(1),
        "a skipped card makes the exit 1: {}",
        r.stderr
    );
    assert!(r.stderr.contains("c3.vcf:1:"), "{}", r.stderr);
    assert!(r.stdout.contains("2 created"), "{}", r.stdout);
    let listed = home.ok(&["list"]);
    assert!(
        listed.contains("Edna Miggins") && listed.contains("Albert Miggins"),
        "{listed}"
    );
    // Again: matched, not doubled.
    std::fs::remove_file(dir.join("c3.vcf")).unwrap();
    let again = home.ok(&["import", dir.to_str().unwrap()]);
    assert!(
        again.contains("0 created") && again.contains("2 unchanged"),
        "{again}"
    );

    // A folder with no card, or one with a file that is no text at all,
    // is an error that changes nothing.
    let before = home.ledger_files();
    let empty = home.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = home.error(&["import", empty.to_str().unwrap()]);
    assert!(e.contains("no .vcf file"), "{e}");
    std::fs::write(dir.join("z9.vcf"), card("z9", "Daisy Miggins")).unwrap();
    std::fs::write(dir.join("zz.vcf"), [0u8, 159, 146, 150]).unwrap();
    let e = home.error(&["import", dir.to_str().unwrap()]);
    assert!(e.contains("zz.vcf"), "{e}");
    assert_eq!(home.ledger_files(), before);
    assert!(!home.ok(&["list"]).contains("Daisy"));
}

/// The systemd user units the Debian package installs (packaging/systemd/)
/// must start real kith commands: each ExecStart is /usr/bin/kith, the path
/// the package puts the binary at, with a subcommand this kith accepts, and
/// the man page its Documentation= names is one `kith man` writes.
#[test]
fn the_packaged_user_units_start_real_kith_commands() {
    let home = Home::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/systemd");
    for (unit, summary) in [
        ("kith-daemon.service", "Sync with teammates"),
        ("kith-carddav.service", "Serve your contacts"),
    ] {
        let text = std::fs::read_to_string(dir.join(unit)).unwrap();
        let value = |key: &str| -> Vec<&str> {
            text.lines()
                .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .collect()
        };
        let exec = value("ExecStart");
        assert_eq!(exec.len(), 1, "{unit}: one ExecStart, got {exec:?}");
        let argv: Vec<&str> = exec[0].split_whitespace().collect();
        assert_eq!(argv[0], "/usr/bin/kith", "{unit}");
        let mut help_args = argv[1..].to_vec();
        help_args.push("--help");
        let help = home.ok(&help_args);
        assert!(
            help.contains(summary),
            "{unit}: kith {help_args:?}:\n{help}"
        );
        // The package is installed disabled and each user enables it:
        // the unit must say where it goes then.
        assert_eq!(value("WantedBy"), ["default.target"], "{unit}");
        assert_eq!(value("Restart"), ["on-failure"], "{unit}");

        let docs = value("Documentation");
        let page = docs
            .iter()
            .flat_map(|d| d.split_whitespace())
            .find_map(|d| d.strip_prefix("man:")?.strip_suffix("(1)"))
            .unwrap_or_else(|| panic!("{unit}: no man page in Documentation= {docs:?}"));
        let words: Vec<&str> = page
            .strip_prefix("kith-")
            .unwrap_or_else(|| panic!("{unit}: {page} is not a kith page"))
            .split('-')
            .collect();
        assert_eq!(words, argv[1..], "{unit}: the page is not the command's");
        let mut man_args = vec!["man"];
        man_args.extend(&words);
        let roff = home.ok(&man_args);
        assert!(roff.contains(&format!(".TH {page} 1")), "{unit}: {roff}");
    }
}

/// Installed where zsh looks for completion functions (`_kith` in $fpath:
/// the package's vendor-completions, or ~/.zfunc), the zsh script completes
/// on the very first Tab, commands and names alike. zsh runs such a file as
/// the function `_kith` itself; `_describe` is replaced by one that prints
/// what zsh would offer, so no terminal is needed. Skips without zsh,
/// except where KITH_REQUIRE_ZSH is set (CI).
#[test]
fn zsh_completes_on_the_first_tab_from_its_fpath_file() {
    if Command::new("zsh").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("KITH_REQUIRE_ZSH").is_none(),
            "KITH_REQUIRE_ZSH is set but zsh is not on PATH"
        );
        eprintln!("skipping the zsh completion: zsh is not installed");
        return;
    }
    let home = Home::new();
    home.add(&["Edna Miggins"]);
    let fpath = home.path().join("zfunc");
    std::fs::create_dir(&fpath).unwrap();
    std::fs::write(fpath.join("_kith"), home.ok(&["completions", "zsh"])).unwrap();
    let bin_dir = std::path::Path::new(crate::common::kith_bin())
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let first_tab = |words: &str| -> String {
        let line = format!(
            "fpath=({} $fpath)\n\
             compdef() {{ : }}\n\
             _describe() {{ print -rl -- \"${{(@P)3}}\" }}\n\
             words=({words}); CURRENT=${{#words}}\n\
             autoload -Uz _kith; _kith",
            fpath.display()
        );
        let out = Command::new("zsh")
            .args(["-f", "-c", &line])
            .env("PATH", &path)
            .env("KITH_HOME", home.path())
            .output()
            .expect("zsh runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let commands = first_tab("kith sho");
    assert!(commands.starts_with("show:"), "{commands}");
    let names = first_tab("kith show ed");
    assert!(names.contains("Edna Miggins"), "{names}");
}
