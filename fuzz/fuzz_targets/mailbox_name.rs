//! Modified UTF-7 mailbox names from clients (`imap2graph::wire`, RFC 3501 5.1.3).
//!
//! Checks, besides "no panic":
//! - a name that decodes is the one spelling of what it decodes to: encoding it gives the same
//!   bytes back (so one folder never has two spellings);
//! - any UTF-8 text encodes to modified UTF-7 that decodes back to it, and is printable ASCII.
#![no_main]

use imap2graph::wire::{utf7_decode, utf7_encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(name) = utf7_decode(data) {
        let again = utf7_encode(&name);
        assert_eq!(
            again.as_bytes(),
            data,
            "{name:?} has two spellings: {:?} and {again:?}",
            String::from_utf8_lossy(data)
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let encoded = utf7_encode(text);
        assert!(encoded.bytes().all(|b| (0x20..0x7f).contains(&b)));
        assert_eq!(utf7_decode(encoded.as_bytes()).as_deref(), Some(text));
    }
});
