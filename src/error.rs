//! The library's error type. Every variant names what went wrong and where, in
//! words a user can act on; the binary adds the exit code and hints.

use std::path::PathBuf;

/// Everything the kith library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a kith chunk ({reason})")]
    BadChunk { path: PathBuf, reason: String },
    #[error("{path}: automerge data could not be read: {reason}")]
    BadDocument { path: PathBuf, reason: String },
    #[error("index {path}: {source}")]
    Index {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("no one matches '{0}'")]
    NotFound(String),
    #[error("'{query}' is ambiguous: {}", candidates.join("; "))]
    Ambiguous {
        query: String,
        candidates: Vec<String>,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{file}:{line}: {reason}")]
    BadInput {
        file: String,
        line: usize,
        reason: String,
    },
    #[error("settings {path}: {reason}")]
    Settings { path: PathBuf, reason: String },
    #[error("automerge: {0}")]
    Automerge(String),
    /// A file handed in (to import) that could not be read.
    #[error("cannot read {name}")]
    Read {
        name: String,
        #[source]
        source: std::io::Error,
    },
    /// A teammate is on the roster but nothing of their ledger is here.
    #[error("nothing of {0}'s ledger has reached this device yet: is the daemon running?")]
    NotReplicated(String),
    /// An error with what was being done when it happened ("--at 2026-13-01",
    /// "cannot open alice's replica in …").
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    /// This error, said to have happened while doing `context`.
    pub fn context(self, context: impl Into<String>) -> Self {
        Error::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// The error beneath any [`Error::Context`]: what actually went wrong.
    pub fn root(&self) -> &Error {
        match self {
            Error::Context { source, .. } => source.root(),
            e => e,
        }
    }
}

impl From<automerge::AutomergeError> for Error {
    fn from(e: automerge::AutomergeError) -> Self {
        Error::Automerge(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
