//! Owns everything that speaks HTTP to Microsoft Graph and the identity platform: tokens
//! (`token`), typed requests with paging, throttling and retries (`client`), the JSON models
//! (`model`) and Graph's errors (`error`). Nothing here knows IMAP.

pub mod client;
pub mod error;
pub mod model;
pub mod token;

pub use client::{GraphClient, MailboxGraph};
pub use error::{AuthFailure, GraphError};
pub use token::Credentials;
