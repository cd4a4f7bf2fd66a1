//! Login names and authorization identities come straight from the network and end up in URLs
//! (`imap2graph::login`). Input: the login name, optionally NUL and SASL PLAIN's authorization
//! identity.
//!
//! Checks, besides "no panic":
//! - nothing accepted carries a character with a meaning in a URL path or query, or a capital;
//! - what is accepted, written back as `TENANT/CLIENT_ID[/MAILBOX]`, parses to the same name
//!   (so a mailbox named from an alias is a full address), whatever the case of the input;
//! - an authorization identity that is empty or the login name itself changes nothing; one that
//!   is accepted keeps the tenant and application and names a mailbox only when the login name
//!   did not name another.
#![no_main]

use imap2graph::login::LoginName;
use libfuzzer_sys::fuzz_target;

fn check_parts(name: &LoginName) {
    let parts = [name.tenant.as_str(), name.client_id.as_str()];
    for part in parts
        .into_iter()
        .chain(name.mailbox.as_ref().map(|m| m.as_str()))
    {
        assert!(!part.is_empty());
        assert!(!part.contains(['/', '\\', '?', '#', '%', ' ', '\r', '\n', '\0']));
        assert!(!part
            .chars()
            .any(|c| c.is_control() || c.is_ascii_uppercase()));
    }
}

fn written(name: &LoginName) -> String {
    match &name.mailbox {
        Some(mailbox) => format!("{}/{}/{}", name.tenant, name.client_id, mailbox),
        None => format!("{}/{}", name.tenant, name.client_id),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (login, authzid) = text.split_once('\0').unwrap_or((text, ""));
    let Ok(name) = LoginName::parse(login) else {
        return;
    };
    check_parts(&name);
    // (An alias made a full address may outgrow the 600 characters a login name may have.)
    let again = written(&name);
    if again.len() <= 600 {
        assert_eq!(LoginName::parse(&again).as_ref(), Ok(&name));
    }
    assert_eq!(
        LoginName::parse(&login.to_ascii_uppercase()).as_ref(),
        Ok(&name)
    );

    assert_eq!(
        name.clone().with_authorization_identity(login, "").as_ref(),
        Ok(&name)
    );
    assert_eq!(
        name.clone()
            .with_authorization_identity(login, login)
            .as_ref(),
        Ok(&name)
    );
    if let Ok(with) = name.clone().with_authorization_identity(login, authzid) {
        check_parts(&with);
        assert_eq!(with.tenant, name.tenant);
        assert_eq!(with.client_id, name.client_id);
        if name.mailbox.is_some() {
            assert_eq!(with.mailbox, name.mailbox);
        }
    }
});
