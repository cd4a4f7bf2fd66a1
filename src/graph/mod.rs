//! Owns everything that speaks HTTP to Microsoft Graph and the identity platform: tokens
//! (`token`), typed requests with paging, throttling and retries (`client`), the JSON models
//! (`model`), the requests that change a mailbox (`mutate`), MIME turned into a message to
//! create (`compose`) and Graph's errors (`error`).
//! Nothing here knows IMAP.

pub mod attachments;
pub mod client;
pub mod compose;
pub mod error;
pub mod model;
pub mod mutate;
pub mod pacing;
pub mod token;

pub use client::{GraphClient, MailboxGraph};
pub use error::{AuthFailure, GraphError};
pub use token::{Credentials, MailAccess};
