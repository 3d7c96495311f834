//! Tickets as pasted: any text gives a ticket or a clear error; a ticket
//! that decodes encodes to one that decodes to the same.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kith::team::Ticket;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Raw text, and the same bytes as a ticket's body, so decoding gets
    // past the prefix and base64 into the JSON and keys.
    let wrapped = format!("kith1{}", URL_SAFE_NO_PAD.encode(data));
    for candidate in [text.as_ref(), wrapped.as_str()] {
        let Ok(ticket) = Ticket::decode(candidate) else {
            continue;
        };
        let _ = ticket.dial_addrs();
        ticket.peer().expect("a decoded ticket has a key");
        let again = Ticket::decode(&ticket.encode()).expect("an encoded ticket decodes");
        assert_eq!(again.encode(), ticket.encode());
        assert_eq!(again.peer().unwrap(), ticket.peer().unwrap());
    }
});
