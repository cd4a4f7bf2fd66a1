//! Modified UTF-7 mailbox names from clients: decoding never panics, and whatever decodes
//! encodes back to the same bytes (one spelling per name).
#![no_main]

use imap2graph::wire::{utf7_decode, utf7_encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(name) = utf7_decode(data) {
        let again = utf7_encode(&name);
        assert_eq!(utf7_decode(again.as_bytes()).as_deref(), Some(name.as_str()));
    }
});
