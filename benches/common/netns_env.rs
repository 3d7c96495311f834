//! What `tests/common/netns.rs` takes from its `common` module, for a
//! bench that includes it: a kith home in a temporary directory
//! ([`Home`]), a finished process ([`Run`]) and the binary ([`kith_bin`]).
//! The bench sets the binary once, with [`set_kith_bin`], before it makes
//! the small internet.
//!
//! Include it beside `common/mod.rs` and re-export the lot, with `NOW`,
//! as a module named `common`:
//!
//! ```text
//! #[path = "common/mod.rs"] mod bench;
//! #[path = "common/netns_env.rs"] mod netns_env;
//! mod common { pub use crate::bench::NOW; pub use crate::netns_env::*; }
//! #[path = "../tests/common/netns.rs"] mod netns;
//! ```

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

static KITH: OnceLock<PathBuf> = OnceLock::new();

/// Sets the binary every command runs (the first call wins).
pub fn set_kith_bin(path: &Path) {
    let _ = KITH.set(path.to_path_buf());
}

/// The binary measured: the one given to [`set_kith_bin`], else the one
/// cargo built beside the bench.
pub fn kith_bin() -> &'static Path {
    KITH.get_or_init(|| PathBuf::from(env!("CARGO_BIN_EXE_kith")))
}

/// What a finished process left behind.
#[derive(Debug)]
pub struct Run {
    /// The exit code, or None when a signal ended the process.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A kith home in a temporary directory, removed when dropped.
pub struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    /// A home in a new directory under PARENT.
    pub fn new_in(parent: &Path) -> Home {
        Home {
            dir: tempfile::Builder::new()
                .prefix("kith-bench-")
                .tempdir_in(parent)
                .expect("a temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}
