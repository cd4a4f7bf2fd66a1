//! Login names and authorization identities come straight from the network and end up in URLs:
//! parsing must never panic, and what it accepts must never carry a character with a meaning in
//! a URL path or query.
#![no_main]

use imap2graph::login::LoginName;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (login, authzid) = text.split_once('\0').unwrap_or((text, ""));
    if let Ok(name) = LoginName::parse(login) {
        let parts = [name.tenant.as_str(), name.client_id.as_str()];
        for part in parts.into_iter().chain(name.mailbox.as_ref().map(|m| m.as_str())) {
            assert!(!part.contains(['/', '\\', '?', '#', '%', ' ', '\r', '\n', '\0']));
        }
        let _ = name.with_authorization_identity(login, authzid);
    }
});
