//! imap2graph: an IMAP server whose mail store is Microsoft Graph.
//!
//! The layers, from the socket down (see DESIGN.md): `listener` accepts TLS connections,
//! `connection` frames IMAP commands, `session` runs the IMAP state machine, `hub` is the shared
//! per-mailbox view of Graph, `graph` speaks HTTP to Graph and the identity platform, and `store`
//! keeps UIDs durable. The emulator lives in its own crate and is wired in only by the binary.

pub mod categories;
pub mod check;
pub mod config;
pub mod connection;
pub mod exact;
pub mod framing;
pub mod graph;
pub mod hub;
pub mod listener;
pub mod loadtest;
pub mod login;
pub mod memory;
pub mod metrics;
pub mod mime;
pub mod proxy;
pub mod secret;
pub mod server;
pub mod session;
pub mod store;
pub mod throttle;
pub mod tls;
pub mod wire;
