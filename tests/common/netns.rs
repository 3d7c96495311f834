//! A small internet in Linux network namespaces, for tests (and benches)
//! of teammates behind NATs.
//!
//! ```text
//!                     wan: bridge br0, 10.99.0.0/24 ("the internet")
//!     ┌──────────┬───────────┬──────────────┬──────────────┬──────────────┐
//!   relay      stranger    nat-a .2       nat-b .3       nat-c .4
//!   10.99.0.1  10.99.0.9   masquerade     masquerade     masquerade fully-random
//!                          10.98.1.1/24   10.98.2.1/24   10.98.3.1/24
//!                            alice .2       bob .2         carol .2
//! ```
//!
//! nat-a and nat-b masquerade as Linux does by default: a flow keeps its
//! source port when it is free, so a host's mapping is the same whatever it
//! talks to (endpoint-independent mapping) and hole punching can work.
//! nat-c masquerades `fully-random`: every flow gets a new random port (a
//! symmetric NAT), so hole punching through it must fail. All three
//! routers drop new connections that arrive on their wan side, as a home
//! router does, and nothing on the wan has a route into 10.98.x.x.
//!
//! Every namespace is made by this module (`kith-ROLE-PID-N`), every veth
//! pair is made inside one of them with its other end moved straight into
//! another: nothing is added to the machine's own namespace. Dropping the
//! [`Internet`] kills whatever still runs in its namespaces and deletes
//! them. Needs root, `ip` (Debian's iproute2) and `nft` (nftables); skips
//! with a message elsewhere, but fails where KITH_REQUIRE_NETNS is set.
//!
//! It uses only std, libc and `crate::common` (`Home`, `Run`, `kith_bin`,
//! `NOW`), so a bench can include it beside a `common` module of its own
//! (with `#[allow(dead_code)]` on the module: each includer uses part).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::common::{Home, NOW, Run, kith_bin};

/// The machines of the small internet, routers and the wan included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// The bridge that is the internet; nothing runs here.
    Wan,
    /// The team's always-on relay, on the wan.
    Relay,
    /// A device with a valid key that is on no team, on the wan.
    Stranger,
    NatA,
    NatB,
    NatC,
    /// Behind nat-a.
    Alice,
    /// Behind nat-b.
    Bob,
    /// Behind nat-c, the symmetric one.
    Carol,
}

use Host::*;

impl Host {
    pub const ALL: [Host; 9] = [Wan, Relay, Stranger, NatA, NatB, NatC, Alice, Bob, Carol];

    /// The role in the namespace's name.
    pub fn role(self) -> &'static str {
        match self {
            Wan => "wan",
            Relay => "relay",
            Stranger => "stranger",
            NatA => "nat-a",
            NatB => "nat-b",
            NatC => "nat-c",
            Alice => "alice",
            Bob => "bob",
            Carol => "carol",
        }
    }

    /// The host's own address: on the wan for the relay, the stranger and
    /// the routers, on its LAN for a host behind a NAT. None for the wan.
    pub fn ip(self) -> Option<&'static str> {
        Some(match self {
            Wan => return None,
            Relay => "10.99.0.1",
            Stranger => "10.99.0.9",
            NatA => "10.99.0.2",
            NatB => "10.99.0.3",
            NatC => "10.99.0.4",
            Alice => "10.98.1.2",
            Bob => "10.98.2.2",
            Carol => "10.98.3.2",
        })
    }

    /// The NAT router a host sits behind, if it does.
    pub fn router(self) -> Option<Host> {
        match self {
            Alice => Some(NatA),
            Bob => Some(NatB),
            Carol => Some(NatC),
            _ => None,
        }
    }

    /// The address the wan sees this host's traffic come from: its
    /// router's wan address for a host behind a NAT.
    pub fn public_ip(self) -> Option<&'static str> {
        match self {
            Alice => NatA.ip(),
            Bob => NatB.ip(),
            Carol => NatC.ip(),
            other => other.ip(),
        }
    }
}

/// Each NAT: its router, the host behind it, the LAN's number (10.98.N.0/24)
/// and whether it picks a random port for every flow.
const NATS: [(Host, Host, u8, bool); 3] = [
    (NatA, Alice, 1, false),
    (NatB, Bob, 2, false),
    (NatC, Carol, 3, true),
];

/// The small internet. Dropping it kills whatever still runs inside and
/// deletes every namespace, which deletes the veth pairs too.
pub struct Internet {
    ip: PathBuf,
    nft: PathBuf,
    sysctl: PathBuf,
    tag: String,
    /// Every namespace created so far, wan first.
    made: Vec<String>,
}

/// A program in PATH or in the sbin and bin directories (PATH may lack
/// the sbin ones).
pub fn find_bin(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs BIN ARGS, with STDIN on its standard input if given; its stderr
/// when it fails.
fn run(bin: &Path, args: &[&str], stdin: Option<&str>) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new(bin)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(text.as_bytes())
            .map_err(|e| format!("writing to {}: {e}", bin.display()))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for {}: {e}", bin.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{} {}` failed: {}",
            bin.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Skips with a message, or fails where KITH_REQUIRE_NETNS is set.
fn unavailable(why: &str) -> Option<Internet> {
    assert!(
        std::env::var_os("KITH_REQUIRE_NETNS").is_none(),
        "KITH_REQUIRE_NETNS is set but the NAT namespaces cannot be made: {why}"
    );
    eprintln!("skipped: this test needs network namespaces with nftables: {why}");
    None
}

/// A router's rules: masquerade what leaves by the wan (with a new random
/// port for every flow when FULLY_RANDOM), and drop new connections that
/// arrive by the wan, for the router or for the LAN.
fn router_rules(fully_random: bool) -> String {
    let random = if fully_random { " fully-random" } else { "" };
    format!(
        "table ip nat {{
    chain post {{
        type nat hook postrouting priority 100;
        oifname \"wan0\" masquerade{random}
    }}
}}
table ip filter {{
    chain input {{
        type filter hook input priority 0;
        iifname \"wan0\" ct state new drop
    }}
    chain forward {{
        type filter hook forward priority 0;
        iifname \"wan0\" ct state new drop
    }}
}}
"
    )
}

impl Internet {
    /// Makes the whole topology, or None (with a message) where it cannot
    /// be made and KITH_REQUIRE_NETNS is not set.
    pub fn new() -> Option<Internet> {
        // SAFETY: geteuid(2) has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return unavailable("not running as root");
        }
        let Some(ip) = find_bin("ip") else {
            return unavailable("`ip` is not installed (Debian package iproute2)");
        };
        let Some(nft) = find_bin("nft") else {
            return unavailable("`nft` is not installed (Debian package nftables)");
        };
        let Some(sysctl) = find_bin("sysctl") else {
            return unavailable("`sysctl` is not installed (Debian package procps)");
        };
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let tag = format!(
            "{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut net = Internet {
            ip,
            nft,
            sysctl,
            tag,
            made: Vec::new(),
        };
        for host in Host::ALL {
            let ns = net.ns(host);
            if let Err(e) = run(&net.ip, &["netns", "add", &ns], None) {
                return unavailable(&e);
            }
            net.made.push(ns);
        }
        // The routers' rules first: a kernel without nf_tables is a
        // missing feature, not a broken setup.
        for (router, _, _, fully_random) in NATS {
            let ns = net.ns(router);
            let rules = router_rules(fully_random);
            let args = ["netns", "exec", &ns, path_str(&net.nft), "-f", "-"];
            if let Err(e) = run(&net.ip, &args, Some(&rules)) {
                return unavailable(&e);
            }
        }
        // From here on a failure is a broken setup.
        if let Err(e) = net.wire() {
            panic!("setting up the NAT namespaces: {e}");
        }
        Some(net)
    }

    fn wire(&self) -> Result<(), String> {
        let wan = self.ns(Wan);
        let ip = |args: &[&str]| run(&self.ip, args, None);
        for host in Host::ALL {
            ip(&["-n", &self.ns(host), "link", "set", "lo", "up"])?;
        }
        ip(&["-n", &wan, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &wan, "link", "set", "br0", "up"])?;
        // Everything on the wan: a veth pair made in the wan's namespace,
        // its other end moved straight into the host's as wan0.
        for host in [Relay, Stranger, NatA, NatB, NatC] {
            let ns = self.ns(host);
            let port = host.role();
            let cidr = format!("{}/24", host.ip().expect("a wan address"));
            ip(&[
                "-n", &wan, "link", "add", port, "type", "veth", "peer", "name", "wan0", "netns",
                &ns,
            ])?;
            ip(&["-n", &wan, "link", "set", port, "master", "br0"])?;
            ip(&["-n", &wan, "link", "set", port, "up"])?;
            ip(&["-n", &ns, "addr", "add", &cidr, "dev", "wan0"])?;
            ip(&["-n", &ns, "link", "set", "wan0", "up"])?;
        }
        // Each LAN: a veth pair made in the router's namespace (lan0), its
        // other end moved straight into the host's (eth0); the host's
        // default route is the router, which forwards.
        for (router, host, n, _) in NATS {
            let (r, h) = (self.ns(router), self.ns(host));
            let gateway = format!("10.98.{n}.1");
            ip(&[
                "-n", &r, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns",
                &h,
            ])?;
            ip(&[
                "-n",
                &r,
                "addr",
                "add",
                &format!("{gateway}/24"),
                "dev",
                "lan0",
            ])?;
            ip(&["-n", &r, "link", "set", "lan0", "up"])?;
            let cidr = format!("{}/24", host.ip().expect("a LAN address"));
            ip(&["-n", &h, "addr", "add", &cidr, "dev", "eth0"])?;
            ip(&["-n", &h, "link", "set", "eth0", "up"])?;
            ip(&["-n", &h, "route", "add", "default", "via", &gateway])?;
            run(
                &self.ip,
                &[
                    "netns",
                    "exec",
                    &r,
                    path_str(&self.sysctl),
                    "-w",
                    "net.ipv4.ip_forward=1",
                ],
                None,
            )?;
        }
        Ok(())
    }

    /// The namespace of HOST.
    pub fn ns(&self, host: Host) -> String {
        format!("kith-{}-{}", host.role(), self.tag)
    }

    /// `kith ARGS` inside HOST's namespace, with the same clean, pinned
    /// environment as `Home::command`. `ip netns exec` execs kith in its
    /// own place, so the child's pid is kith's.
    pub fn kith(&self, host: Host, home: &Home, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.ip);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KITH_HOME", home.path())
            .env("KITH_NOW", NOW)
            .env("KITH_TZ", "UTC")
            .env("NO_COLOR", "1")
            .args(["netns", "exec", &self.ns(host)])
            .arg(kith_bin())
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `kith ARGS` inside HOST's namespace.
    pub fn run(&self, host: Host, home: &Home, args: &[&str]) -> Run {
        self.kith(host, home, args)
            .output()
            .expect("ip netns exec runs")
            .into()
    }

    /// Runs `kith ARGS` inside HOST's namespace; it must succeed. Returns
    /// its stdout. CONTEXT (daemons' logs, say) goes into the failure
    /// message.
    pub fn ok(
        &self,
        host: Host,
        home: &Home,
        args: &[&str],
        context: &dyn Fn() -> String,
    ) -> String {
        let r = self.run(host, home, args);
        assert_eq!(
            r.code,
            Some(0),
            "kith {args:?} in {} failed\nstdout:\n{}\nstderr:\n{}\n{}",
            host.role(),
            r.stdout,
            r.stderr,
            context()
        );
        r.stdout
    }

    /// Runs ARGV (a program and its arguments) inside HOST's namespace.
    pub fn sh(&self, host: Host, argv: &[&str]) -> Run {
        Command::new(&self.ip)
            .args(["netns", "exec", &self.ns(host)])
            .args(argv)
            .stdin(Stdio::null())
            .output()
            .expect("ip netns exec runs")
            .into()
    }

    /// Whether one ping from HOST to IP is answered within a second.
    pub fn pings(&self, host: Host, ip: &str) -> bool {
        let ping = find_bin("ping").expect("`ping` is installed (Debian package iputils-ping)");
        self.sh(host, &[path_str(&ping), "-c1", "-W1", "-n", ip])
            .code
            == Some(0)
    }

    /// The ruleset `nft list ruleset` prints inside HOST's namespace.
    pub fn ruleset(&self, host: Host) -> String {
        let r = self.sh(host, &[path_str(&self.nft), "list", "ruleset"]);
        assert_eq!(r.code, Some(0), "nft list ruleset: {}", r.stderr);
        r.stdout
    }

    /// The connections ROUTER tracks (`/proc/net/nf_conntrack` in its
    /// namespace), one a line: `... src=10.98.1.2 dst=10.99.0.3 sport=…
    /// dport=… src=… …`, marked `[UNREPLIED]` until a packet came back
    /// (`[ASSURED]` comes later, and for UDP only after a while).
    pub fn conntrack(&self, router: Host) -> String {
        let r = self.sh(router, &["cat", "/proc/net/nf_conntrack"]);
        assert_eq!(r.code, Some(0), "reading nf_conntrack: {}", r.stderr);
        r.stdout
    }

    /// Whether FROM, behind its NAT, has a flow to TO's public address
    /// that packets crossed both ways: a path not through the relay.
    /// Only a punched hole makes one, as every router drops what comes
    /// unasked.
    pub fn two_way_flow(&self, from: Host, to: Host) -> bool {
        let (Some(router), Some(src), Some(dst)) = (from.router(), from.ip(), to.public_ip())
        else {
            return false;
        };
        let (src, dst) = (format!(" src={src} "), format!(" dst={dst} "));
        self.conntrack(router)
            .lines()
            .any(|l| l.contains(&src) && l.contains(&dst) && !l.contains("[UNREPLIED]"))
    }

    /// Runs F on a thread of its own that has entered HOST's namespace:
    /// sockets F opens belong to that namespace for their whole life, even
    /// when F returns them.
    pub fn within<T: Send>(&self, host: Host, f: impl FnOnce() -> T + Send) -> T {
        let path = Path::new("/run/netns").join(self.ns(host));
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = std::fs::File::open(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                use std::os::fd::AsRawFd;
                // SAFETY: setns(2) on a namespace file we hold open; it
                // moves only this thread, which ends after F.
                let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(
                    r,
                    0,
                    "setns into {}: {}",
                    path.display(),
                    std::io::Error::last_os_error()
                );
                f()
            })
            .join()
            .expect("the thread in the namespace")
        })
    }

    /// The pids of every process running in HOST's namespace.
    pub fn pids(&self, host: Host) -> Vec<i32> {
        pids_in(&self.ip, &self.ns(host))
    }

    /// `kith daemon --no-mdns EXTRA` inside HOST's namespace, not yet
    /// started: the tests' `Daemon::spawn` runs it and waits for its first
    /// listen address.
    pub fn daemon_command(&self, host: Host, home: &Home, extra: &[&str]) -> Command {
        let mut args = vec!["daemon", "--no-mdns"];
        args.extend_from_slice(extra);
        self.kith(host, home, &args)
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn pids_in(ip: &Path, ns: &str) -> Vec<i32> {
    Command::new(ip)
        .args(["netns", "pids", ns])
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

impl Drop for Internet {
    fn drop(&mut self) {
        // Anything still running in our namespaces was started by the test
        // (the daemons' own guards normally got there first).
        for ns in &self.made {
            for pid in pids_in(&self.ip, ns) {
                // SAFETY: kill(2) on a process in a namespace we created.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
        // Deleting a namespace deletes the veth ends in it, and with them
        // their peers.
        for ns in self.made.iter().rev() {
            if let Err(e) = run(&self.ip, &["netns", "del", ns], None) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}
