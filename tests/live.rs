//! Live mailboxes: changes made behind the gateway's back (delivery, Outlook marking read,
//! deleting, moving) reach selected sessions — during IDLE and on NOOP — as untagged responses.
//! Driven by imaplib (`tests/clients/live_updates.py`) against `imap2graph serve` polling every
//! 2 s; and three sessions of one mailbox seeing each other's STORE, APPEND and EXPUNGE at once
//! (`tests/clients/sessions_together.py`), with polling out of the way. Each runs against every
//! way Graph may send delta items ([`DeltaMode`]).

mod common;

use common::*;

in_each_delta_mode! {
    fn idle_and_noop_see_changes_made_elsewhere(mode: DeltaMode) {
        EmulatorProcess::run_script(
            mode,
            &[
                ("IMAP2GRAPH_IMAP_IDLE_POLL_SECS", "2"),
                ("IMAP2GRAPH_IMAP_NOOP_FRESHNESS_SECS", "0"),
            ],
            "live_updates.py",
        );
    }
}

in_each_delta_mode! {
    fn sessions_on_one_mailbox_see_each_others_changes(mode: DeltaMode) {
        // No polling needed: a change made through the gateway reaches the mailbox's other sessions
        // at once. The poll interval is long so that only that path is exercised.
        EmulatorProcess::run_script(
            mode,
            &[
                ("IMAP2GRAPH_IMAP_IDLE_POLL_SECS", "600"),
                ("IMAP2GRAPH_IMAP_NOOP_FRESHNESS_SECS", "600"),
            ],
            "sessions_together.py",
        );
    }
}
