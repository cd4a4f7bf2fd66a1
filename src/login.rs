//! Owns the grammar of a gateway login: `TENANT/CLIENT_ID[/MAILBOX]` (or with `\`), and the
//! mailbox named by SASL PLAIN's authorization identity.
//!
//! Everything a client types here ends up in a URL of the identity platform or of Graph, so every
//! part is checked against a strict shape before anything else sees it: a tenant is a DNS domain
//! or a GUID, a client id is a GUID, a mailbox is an SMTP address, a GUID, or a bare alias that
//! becomes `alias@TENANT`. Parts are normalised to lower case (Graph and Entra ID compare them
//! case-insensitively), so one mailbox has one key in caches and in the uid store.

use std::fmt;

/// Upper bound on a whole login name; RFC 5321 caps an address at 254 octets.
const MAX_LOGIN_LEN: usize = 600;

/// Why a login name was refused; the text is safe to show to the client (it never repeats input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginNameError {
    #[error("login name must be tenant/client-id or tenant/client-id/mailbox")]
    Shape,
    #[error("tenant must be a DNS domain or a GUID")]
    Tenant,
    #[error("client id must be a GUID")]
    ClientId,
    #[error("mailbox must be an e-mail address, a GUID, or an alias")]
    Mailbox,
    #[error("a bare alias needs a tenant given as a domain")]
    AliasNeedsDomain,
    #[error("authorization identity names another tenant or application")]
    AuthzMismatch,
}

/// A tenant: its DNS domain or directory GUID, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant(String);

/// A mailbox as Graph addresses it in `/users/{mailbox}`: an address or a GUID, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxName(String);

/// An application (client) id: a GUID, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

macro_rules! string_newtype {
    ($($ty:ident),*) => {$(
        impl $ty {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
string_newtype!(Tenant, MailboxName, ClientId);

impl Tenant {
    pub fn parse(text: &str) -> Result<Self, LoginNameError> {
        let lower = text.to_ascii_lowercase();
        if is_guid(&lower) || is_domain(&lower) {
            Ok(Tenant(lower))
        } else {
            Err(LoginNameError::Tenant)
        }
    }

    pub fn is_domain(&self) -> bool {
        !is_guid(&self.0)
    }
}

impl ClientId {
    pub fn parse(text: &str) -> Result<Self, LoginNameError> {
        let lower = text.to_ascii_lowercase();
        if is_guid(&lower) {
            Ok(ClientId(lower))
        } else {
            Err(LoginNameError::ClientId)
        }
    }
}

impl MailboxName {
    /// Parses an address, a GUID, or a bare alias (which needs a tenant given as a domain).
    pub fn parse(text: &str, tenant: &Tenant) -> Result<Self, LoginNameError> {
        let lower = text.to_ascii_lowercase();
        if is_guid(&lower) {
            return Ok(MailboxName(lower));
        }
        match lower.split_once('@') {
            Some((local, domain)) if is_local_part(local) && is_domain(domain) => {
                Ok(MailboxName(lower))
            }
            Some(_) => Err(LoginNameError::Mailbox),
            None if is_local_part(&lower) => {
                if tenant.is_domain() {
                    Ok(MailboxName(format!("{lower}@{}", tenant.0)))
                } else {
                    Err(LoginNameError::AliasNeedsDomain)
                }
            }
            None => Err(LoginNameError::Mailbox),
        }
    }
}

/// A parsed login name. `mailbox` is `None` when the name had two parts: the mailbox then comes
/// from the authorization identity or from the application's configured default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginName {
    pub tenant: Tenant,
    pub client_id: ClientId,
    pub mailbox: Option<MailboxName>,
}

impl LoginName {
    pub fn parse(text: &str) -> Result<Self, LoginNameError> {
        if text.is_empty() || text.len() > MAX_LOGIN_LEN {
            return Err(LoginNameError::Shape);
        }
        let parts: Vec<&str> = text.split(['/', '\\']).collect();
        let (tenant, client_id, mailbox) = match parts.as_slice() {
            [tenant, client_id] => (*tenant, *client_id, None),
            [tenant, client_id, mailbox] => (*tenant, *client_id, Some(*mailbox)),
            _ => return Err(LoginNameError::Shape),
        };
        let tenant = Tenant::parse(tenant)?;
        let client_id = ClientId::parse(client_id)?;
        let mailbox = mailbox
            .map(|mailbox| MailboxName::parse(mailbox, &tenant))
            .transpose()?;
        Ok(LoginName {
            tenant,
            client_id,
            mailbox,
        })
    }

    /// Applies SASL PLAIN's authorization identity (RFC 4616). Clients differ: curl sends none,
    /// mbsync and neomutt repeat the login name. Only an identity that says something new names
    /// the mailbox: a bare mailbox, or a full login name for the same tenant and application.
    pub fn with_authorization_identity(
        mut self,
        login_text: &str,
        authzid: &str,
    ) -> Result<Self, LoginNameError> {
        if authzid.is_empty() || authzid == login_text {
            return Ok(self);
        }
        let mailbox = if authzid.contains(['/', '\\']) {
            let other = LoginName::parse(authzid)?;
            if other.tenant != self.tenant || other.client_id != self.client_id {
                return Err(LoginNameError::AuthzMismatch);
            }
            match other.mailbox {
                Some(mailbox) => mailbox,
                None => return Ok(self),
            }
        } else {
            MailboxName::parse(authzid, &self.tenant)?
        };
        if self.mailbox.as_ref().is_some_and(|named| *named != mailbox) {
            return Err(LoginNameError::AuthzMismatch);
        }
        self.mailbox = Some(mailbox);
        Ok(self)
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lower-case hex.
fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(group, len)| {
            group.len() == len
                && group
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// A lower-case DNS name with at least two labels (RFC 1035 lengths, LDH labels).
fn is_domain(text: &str) -> bool {
    if text.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = text.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The conservative subset of RFC 5321's dot-atom that Exchange accepts in an address: no
/// characters with a meaning in URLs (`/ ? # %`), no quoting, no leading, trailing or double dot.
fn is_local_part(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && !text.starts_with('.')
        && !text.ends_with('.')
        && !text.contains("..")
        && text.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'.' | b'_' | b'-' | b'+' | b'\'')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "11111111-2222-3333-4444-555555555555";

    #[test]
    fn three_part_names_with_either_separator() {
        for text in [
            format!("contoso.example/{APP}/alice@contoso.example"),
            format!("Contoso.Example\\{APP}\\Alice@Contoso.Example"),
            format!("contoso.example/{APP}/alice"),
        ] {
            let name = LoginName::parse(&text).unwrap();
            assert_eq!(name.tenant.as_str(), "contoso.example");
            assert_eq!(name.client_id.as_str(), APP);
            assert_eq!(name.mailbox.unwrap().as_str(), "alice@contoso.example");
        }
    }

    #[test]
    fn two_part_name_and_guid_tenant() {
        let tenant = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
        let name = LoginName::parse(&format!("{tenant}/{APP}")).unwrap();
        assert_eq!(name.tenant.as_str(), tenant);
        assert!(name.mailbox.is_none());
        assert_eq!(
            LoginName::parse(&format!("{tenant}/{APP}/alice")),
            Err(LoginNameError::AliasNeedsDomain)
        );
        let guid_mailbox = LoginName::parse(&format!("{tenant}/{APP}/{tenant}")).unwrap();
        assert_eq!(guid_mailbox.mailbox.unwrap().as_str(), tenant);
    }

    #[test]
    fn hostile_names_are_refused() {
        let hostile = [
            format!("../{APP}/alice@contoso.example"),
            format!("contoso.example/{APP}/../alice"),
            format!("contoso.example/{APP}/alice%2f..@contoso.example"),
            format!("contoso.example%2f/{APP}/alice"),
            format!("contoso.example/{APP}/alice?x=1"),
            format!("contoso.example/{APP}/alice#frag"),
            format!("contoso.example/{APP}/al ice"),
            format!("contoso.example/{APP}/alice\r\n@contoso.example"),
            format!("contoso.example/{APP}/alice\0"),
            format!("contoso.example/{APP}/alice@contoso.example/extra"),
            format!("contoso.example/{APP}/{}", "a".repeat(65)),
            format!("{}.example/{APP}", "a".repeat(64)),
            format!("{}/{APP}", "a.".repeat(300)),
            format!("contoso.example/{APP}/"),
            "contoso.example/not-a-guid/alice".to_string(),
            format!("contoso.example/{APP}x/alice"),
            "contoso/".to_string(),
            "localhost/x".to_string(),
            String::new(),
            format!("contoso.example/{APP}/alice@-bad-.example"),
            format!("contoso.example/{APP}/.alice"),
            format!("contoso.example/{APP}/a..b"),
        ];
        for text in hostile {
            assert!(LoginName::parse(&text).is_err(), "accepted {text:?}");
        }
    }

    #[test]
    fn authorization_identity() {
        let login = format!("contoso.example/{APP}");
        let name = LoginName::parse(&login).unwrap();
        let same = name
            .clone()
            .with_authorization_identity(&login, &login)
            .unwrap();
        assert_eq!(same.mailbox, None);
        let empty = name
            .clone()
            .with_authorization_identity(&login, "")
            .unwrap();
        assert_eq!(empty.mailbox, None);
        let bob = name
            .clone()
            .with_authorization_identity(&login, "bob@contoso.example")
            .unwrap();
        assert_eq!(bob.mailbox.unwrap().as_str(), "bob@contoso.example");
        let full = name
            .clone()
            .with_authorization_identity(&login, &format!("contoso.example/{APP}/carol"))
            .unwrap();
        assert_eq!(full.mailbox.unwrap().as_str(), "carol@contoso.example");
        assert_eq!(
            name.clone().with_authorization_identity(
                &login,
                "fabrikam.example/11111111-2222-3333-4444-555555555555/carol"
            ),
            Err(LoginNameError::AuthzMismatch)
        );
        assert!(name.with_authorization_identity(&login, "x/../y").is_err());
        let three = LoginName::parse(&format!("{login}/alice")).unwrap();
        assert_eq!(
            three.with_authorization_identity(&login, "bob"),
            Err(LoginNameError::AuthzMismatch)
        );
    }
}
