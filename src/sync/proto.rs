//! The wire protocol `/kith/sync/1`: request/response pairs over one libp2p
//! stream each, framed as a 4-byte big-endian length and CBOR. Lengths are
//! checked before anything is read into memory.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use serde::{Deserialize, Serialize};

use crate::team::Statement;

pub const PROTOCOL: &str = "/kith/sync/1";
/// Requests carry rosters and sync messages stripped of changes.
pub const MAX_REQUEST: usize = 4 << 20;
/// Responses carry changes; bigger ones are split into batches of
/// [`BATCH_BYTES`] and streamed over several rounds.
pub const MAX_RESPONSE: usize = 32 << 20;
pub const BATCH_BYTES: usize = 1 << 20;

/// Which of a person's two ledger parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    Shared,
    Private,
}

/// One person's part of a ledger: the unit that is owned and signed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LedgerRef {
    /// The owner's member id.
    pub owner: String,
    pub part: PartKind,
}

/// The shards a peer holds of one ledger, each with a digest of its heads.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LedgerDigest {
    pub ledger: LedgerRef,
    pub shards: Vec<(String, [u8; 8])>,
}

/// The owner's signature over one shard's heads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    pub heads: Vec<[u8; 32]>,
    #[serde(with = "serde_bytes")]
    pub sig: Vec<u8>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JoinRequest {
    pub kind: crate::team::TicketKind,
    /// The joiner's device certificate, signed by the joiner's member key.
    pub device: Statement,
    pub member_name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    /// The sender's roster; the answer is the receiver's.
    Roster(Vec<Statement>),
    /// What can you give me?
    Offer,
    /// These shards changed at the sender: pull them if they differ.
    Changed(Vec<LedgerDigest>),
    /// One round of automerge's sync protocol for one shard. `first`
    /// starts a new session; an empty `msg` asks for the next batch.
    Sync {
        ledger: LedgerRef,
        shard: String,
        first: bool,
        #[serde(with = "serde_bytes")]
        msg: Vec<u8>,
    },
    /// Sent only by a ticket's one-time key.
    Join(JoinRequest),
    /// Never sent: what the codec hands up in place of a request that was
    /// too large or did not decode, so the node learns which peer sent it
    /// (libp2p only logs a failed read) and drops that peer.
    #[serde(skip)]
    Malformed(String),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Response {
    Roster(Vec<Statement>),
    Offer(Vec<LedgerDigest>),
    Ack,
    Sync {
        #[serde(with = "serde_bytes")]
        msg: Option<Vec<u8>>,
        proofs: Vec<Proof>,
        more: bool,
    },
    Joined {
        team: Option<String>,
        statements: Vec<Statement>,
        /// The member key, only for a device of the same person.
        #[serde(with = "serde_bytes")]
        member_key: Option<Vec<u8>>,
    },
    Refused(String),
}

/// Length-prefixed CBOR, with limits, and an optional recorder of every
/// frame received (a test hook for the private-data canary).
#[derive(Clone, Default)]
pub struct Codec {
    recorder: Option<Arc<Mutex<std::fs::File>>>,
}

impl Codec {
    pub fn recording(path: Option<PathBuf>) -> io::Result<Codec> {
        let recorder = match path {
            Some(p) => Some(Arc::new(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ))),
            None => None,
        };
        Ok(Codec { recorder })
    }

    fn record(&self, frame: &[u8]) {
        use std::io::Write;
        if let Some(r) = &self.recorder
            && let Ok(mut f) = r.lock()
        {
            let _ = f.write_all(&(frame.len() as u32).to_be_bytes());
            let _ = f.write_all(frame);
        }
    }

    async fn read_frame<T: AsyncRead + Unpin + Send>(
        &self,
        io: &mut T,
        max: usize,
    ) -> io::Result<Vec<u8>> {
        let mut len = [0u8; 4];
        io.read_exact(&mut len).await?;
        let len = u32::from_be_bytes(len) as usize;
        if len > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("message of {len} bytes is over the {max}-byte limit"),
            ));
        }
        let mut buf = vec![0u8; len];
        io.read_exact(&mut buf).await?;
        self.record(&buf);
        Ok(buf)
    }
}

pub fn encode<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    cbor4ii::serde::to_vec(Vec::new(), value)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> io::Result<T> {
    cbor4ii::serde::from_slice(bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed message: {e}"),
        )
    })
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    bytes: &[u8],
    max: usize,
) -> io::Result<()> {
    if bytes.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "message too large to send",
        ));
    }
    io.write_all(&(bytes.len() as u32).to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

#[async_trait::async_trait]
impl libp2p::request_response::Codec for Codec {
    type Protocol = libp2p::StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
    ) -> io::Result<Request> {
        let frame = match self.read_frame(io, MAX_REQUEST).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Ok(Request::Malformed(e.to_string()));
            }
            Err(e) => return Err(e),
        };
        Ok(decode(&frame).unwrap_or_else(|e| Request::Malformed(e.to_string())))
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
    ) -> io::Result<Response> {
        decode(&self.read_frame(io, MAX_RESPONSE).await?)
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        req: Request,
    ) -> io::Result<()> {
        write_frame(io, &encode(&req)?, MAX_REQUEST).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        res: Response,
    ) -> io::Result<()> {
        write_frame(io, &encode(&res)?, MAX_RESPONSE).await
    }
}
