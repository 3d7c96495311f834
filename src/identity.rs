//! Who this device is and whom it belongs to: two ed25519 keys, each kept in
//! a file only its owner can read.
//!
//! - The **device key** is this machine's libp2p identity: its peer id is
//!   what teammates put on their allow lists. It never leaves the machine.
//! - The **member key** is the person's identity, shared by all their own
//!   devices (`kith device link` hands it over an encrypted connection). It
//!   signs the heads of the person's shared ledger, their devices and the
//!   team statements they make, so a teammate can check that data relayed
//!   by someone else really came from them.
//!
//! ```text
//! keys/device.key     libp2p protobuf encoding, mode 0600
//! keys/member.key     the same, for the member identity
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use libp2p::PeerId;
use libp2p::identity::{Keypair, PublicKey};

use crate::error::{Error, Result};
use crate::store::chunk;

/// The two keys of this home.
pub struct Keys {
    pub device: Keypair,
    pub member: Keypair,
}

impl Keys {
    /// Loads both keys, creating any that do not exist yet.
    pub fn load_or_create(home: &Path) -> Result<Keys> {
        let dir = keys_dir(home);
        create_private_dir(&dir)?;
        Ok(Keys {
            device: load_or_create_key(&dir.join("device.key"))?,
            member: load_or_create_key(&dir.join("member.key"))?,
        })
    }

    pub fn device_id(&self) -> PeerId {
        self.device.public().to_peer_id()
    }

    pub fn member_id(&self) -> PeerId {
        self.member.public().to_peer_id()
    }

    /// Replaces the member key with one handed over by another of the
    /// person's devices (`kith device join`).
    pub fn replace_member(home: &Path, member: &Keypair) -> Result<()> {
        let dir = keys_dir(home);
        create_private_dir(&dir)?;
        write_key(&dir, "member.key", member)
    }
}

fn keys_dir(home: &Path) -> PathBuf {
    home.join("keys")
}

fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(e) => Err(Error::io(dir, e)),
    }
}

fn load_or_create_key(path: &Path) -> Result<Keypair> {
    match std::fs::read(path) {
        Ok(bytes) => {
            return Keypair::from_protobuf_encoding(&bytes).map_err(|e| Error::BadInput {
                file: path.display().to_string(),
                line: 0,
                reason: format!("not a kith key: {e}"),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(path, e)),
    }
    let key = Keypair::generate_ed25519();
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Two processes creating the key at once: the first link wins and both
    // read what won.
    let tmp = format!("{name}.{}.new", std::process::id());
    write_key(dir, &tmp, &key)?;
    match std::fs::hard_link(dir.join(&tmp), path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io(path, e)),
    }
    let _ = std::fs::remove_file(dir.join(&tmp));
    chunk::sync_dir(dir)?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Keypair::from_protobuf_encoding(&bytes)
        .map_err(|e| Error::invalid(format!("{}: not a kith key: {e}", path.display())))
}

/// Writes a key durably with mode 0600, replacing any file of that name.
fn write_key(dir: &Path, name: &str, key: &Keypair) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let bytes = key
        .to_protobuf_encoding()
        .map_err(|e| Error::invalid(format!("cannot encode key: {e}")))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(&tmp, e))?;
    file.write_all(&bytes).map_err(|e| Error::io(&tmp, e))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    let path = dir.join(name);
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    chunk::sync_dir(dir)
}

/// The public key inside an ed25519 peer id (ed25519 keys are inlined in
/// their peer ids), so a statement can be checked knowing only its author.
pub fn public_key_of(peer: &PeerId) -> Option<PublicKey> {
    let multihash = peer.as_ref();
    // 0x00 is the identity multihash: the digest is the key itself.
    if multihash.code() != 0 {
        return None;
    }
    PublicKey::try_decode_protobuf(multihash.digest()).ok()
}

/// Checks `sig` over `message` by `signer`'s key.
pub fn verify(signer: &PeerId, message: &[u8], sig: &[u8]) -> bool {
    public_key_of(signer).is_some_and(|key| key.verify(message, sig))
}
