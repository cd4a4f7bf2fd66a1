//! IMAP semantics as a real server keeps them (issue 10), in front of a Graph that may send
//! delta items whole, with only the changed properties, or replayed: keywords named in FLAGS
//! before they show (`tests/clients/keywords.py`), \Recent claimed by exactly one session
//! (`tests/clients/recent.py`). Each runs against every [`DeltaMode`].

mod common;

use common::*;

/// NOOP synchronises the selected folder every time, so a script sees changes at once.
const NOOP_SYNCS: &[(&str, &str)] = &[("IMAP2GRAPH_IMAP_NOOP_FRESHNESS_SECS", "0")];

in_each_delta_mode! {
    fn keywords_are_named_in_flags_before_they_show(mode: DeltaMode) {
        EmulatorProcess::run_script(mode, NOOP_SYNCS, "keywords.py");
    }
}

in_each_delta_mode! {
    fn recent_is_claimed_by_exactly_one_session(mode: DeltaMode) {
        EmulatorProcess::run_script(mode, NOOP_SYNCS, "recent.py");
    }
}

in_each_delta_mode! {
    fn flags_graph_cannot_hold_are_kept_and_categories_are_keywords(mode: DeltaMode) {
        let emulator = EmulatorProcess::start_in(mode);
        let dir = temp_dir();
        let env = [("IMAP2GRAPH_IMAP_NOOP_FRESHNESS_SECS", "0")];
        let gateway = Gateway::serve(dir.path(), &emulator.url, &env);
        let out = gateway.python_ok("held_flags.py", &["set"]);
        assert!(out.contains("all checks passed"), "{out}");
        gateway.stop();
        // A restart on the same uid store keeps them.
        let gateway = Gateway::serve(dir.path(), &emulator.url, &env);
        let out = gateway.python_ok("held_flags.py", &["check"]);
        assert!(out.contains("all checks passed"), "{out}");
        gateway.stop();
    }
}
