//! Owns the command line: `serve`, `demo`, `emulator`, `check`, `loadtest` and `cert`, with every
//! flag documented in `--help` (`loadtest`'s flags are in imap2graph::loadtest::Options).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use imap2graph_emulator::{DeltaConfig, MimeConfig, MimeDrafts, UpdatedItems};

#[derive(Debug, Parser)]
#[command(
    name = "imap2graph",
    version,
    about = "An IMAP server whose mail store is Microsoft Graph",
    long_about = "An IMAP server whose mail store is Microsoft Graph.\n\n\
        IMAP clients log in with an Azure application's credentials (account \
        `tenant-domain/client-id[/mailbox]`, password = the client secret) and read the mailbox \
        through Microsoft Graph.\n\n\
        Logging: set RUST_LOG (e.g. RUST_LOG=debug or RUST_LOG=imap2graph=trace); secrets and \
        tokens are never logged."
)]
pub struct Cli {
    /// How log lines are written to standard error: `text` for people, `json` (one JSON object
    /// a line) for log collectors.
    #[arg(
        long,
        global = true,
        value_name = "text|json",
        default_value = "text",
        env = "IMAP2GRAPH_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway with a configuration file.
    Serve {
        /// TOML configuration file; every key can be overridden by IMAP2GRAPH_<SECTION>_<KEY>.
        #[arg(long, value_name = "FILE", env = "IMAP2GRAPH_CONFIG")]
        config: PathBuf,
    },
    /// Run the Graph emulator and the gateway in one process, with seeded demo mailboxes.
    Demo {
        /// Address of the IMAPS listener.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9993")]
        imap: SocketAddr,
        /// Address of the Graph emulator's HTTP listener (identity platform and Graph).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9994")]
        graph: SocketAddr,
        /// Directory for the uid store and the self-signed certificate (default: the user's data
        /// directory, e.g. ~/.local/share/imap2graph/demo).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        delta: EmulatorDelta,
        #[command(flatten)]
        mime: EmulatorMime,
    },
    /// Run the Graph emulator alone (serves the demo tenant unless --seed is given).
    Emulator {
        /// Address of the HTTP listener.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9994")]
        listen: SocketAddr,
        /// Load mailboxes from DIR/<mailbox>/<folder path>/*.eml instead of the demo seed.
        #[arg(long, value_name = "DIR")]
        seed: Option<PathBuf>,
        #[command(flatten)]
        delta: EmulatorDelta,
        #[command(flatten)]
        mime: EmulatorMime,
    },
    /// Check, from this host, that the gateway can serve an application: DNS and HTTPS to the
    /// identity platform and Graph, the clock, a token and its roles, each mailbox's Inbox, the
    /// TLS certificate. Prints a ✔/✘ table with what to do for each ✘; exits 1 if any failed.
    /// The client secret is read from IMAP2GRAPH_CHECK_SECRET or asked for on the terminal.
    Check {
        /// The gateway's TOML configuration file (as for `serve`).
        #[arg(long, value_name = "FILE", env = "IMAP2GRAPH_CONFIG")]
        config: PathBuf,
        /// TENANT/CLIENT_ID, or TENANT/CLIENT_ID/MAILBOX, as an IMAP client logs in.
        #[arg(long, value_name = "LOGIN")]
        login: String,
        /// A mailbox to open besides the login's (or the application's default); repeatable.
        #[arg(long, value_name = "ADDR")]
        mailbox: Vec<String>,
    },
    /// Load-test an IMAP server (this gateway, Dovecot, Exchange…): N sessions over M mailboxes
    /// run a workload for a while, checking consistency as they go; prints a table per command
    /// (or --json). Exits 1 if a command failed or a consistency check found a discrepancy.
    Loadtest(imap2graph::loadtest::Options),
    /// Write a self-signed certificate and key (PEM) for a host name.
    Cert {
        /// Directory to write cert.pem and key.pem into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Host name (or IP address) the certificate is for; may be given more than once.
        #[arg(long, value_name = "HOST", required = true)]
        name: Vec<String>,
    },
}

/// How the emulator answers delta queries (its `POST /_emulator/delta` changes it at run time).
#[derive(Debug, Args)]
pub struct EmulatorDelta {
    /// How an updated item comes in a delta page: `changed` (its id and only the properties that
    /// changed, the least Graph's documentation allows) or `whole` (the whole object).
    #[arg(
        long,
        value_name = "changed|whole",
        default_value = "changed",
        env = "IMAP2GRAPH_EMULATOR_DELTA_ITEMS"
    )]
    pub delta_items: UpdatedItems,
    /// Delta pages send again, unchanged, what the previous page sent (Graph's documentation
    /// warns of such replays).
    #[arg(long, env = "IMAP2GRAPH_EMULATOR_DELTA_REPLAY")]
    pub delta_replay: bool,
}

impl EmulatorDelta {
    pub fn config(&self) -> DeltaConfig {
        DeltaConfig {
            updated_items: self.delta_items,
            replay: self.delta_replay,
        }
    }
}

/// What the emulator does with drafts created from MIME (its `POST /_emulator/mime` changes it
/// at run time).
#[derive(Debug, Args)]
pub struct EmulatorMime {
    /// `$value` of a draft created from MIME: `regenerated` (written anew from the item, as
    /// Exchange converts MIME it is given: new boundaries, its own header fields) or `kept`
    /// (byte for byte as posted). Graph's documentation does not say which.
    #[arg(
        long,
        value_name = "regenerated|kept",
        default_value = "regenerated",
        env = "IMAP2GRAPH_EMULATOR_MIME_DRAFTS"
    )]
    pub mime_drafts: MimeDrafts,
}

impl EmulatorMime {
    pub fn config(&self) -> MimeConfig {
        MimeConfig {
            drafts: self.mime_drafts,
        }
    }
}
