//! The `/kith/sync/1` codec as a peer meets it: a stream of bytes read as
//! a request and as a response (length prefix, limits, CBOR). Nothing
//! panics; what decodes encodes again to bytes that decode to the same.

#![no_main]

use futures::executor::block_on;
use futures::io::Cursor;
use kith::sync::proto::{self, Codec, PROTOCOL, Request, Response};
use libfuzzer_sys::fuzz_target;
use libp2p::StreamProtocol;
use libp2p::request_response::Codec as _;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    // Mostly a well-framed body, so the CBOR decoder is what is tested;
    // sometimes the raw stream, length prefix and all.
    let stream = if mode & 1 == 0 {
        let mut s = (body.len() as u32).to_be_bytes().to_vec();
        s.extend_from_slice(body);
        s
    } else {
        body.to_vec()
    };
    let protocol = StreamProtocol::new(PROTOCOL);
    let mut codec = Codec::default();
    if let Ok(req) = block_on(codec.read_request(&protocol, &mut Cursor::new(&stream))) {
        if !matches!(req, Request::Malformed(_)) {
            let bytes = proto::encode(&req).expect("a decoded request encodes");
            let again: Request = proto::decode(&bytes).expect("an encoded request decodes");
            assert_eq!(proto::encode(&again).unwrap(), bytes, "{req:?}");
        }
        if let Request::Roster(statements) = &req {
            for s in statements.iter().take(16) {
                let _ = s.verified();
            }
        }
    }
    if let Ok(res) = block_on(codec.read_response(&protocol, &mut Cursor::new(&stream))) {
        let bytes = proto::encode(&res).expect("a decoded response encodes");
        let again: Response = proto::decode(&bytes).expect("an encoded response decodes");
        assert_eq!(proto::encode(&again).unwrap(), bytes, "{res:?}");
    }
});
