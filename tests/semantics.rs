//! IMAP semantics as a real server keeps them (issue 10), in front of a Graph that may send
//! delta items whole, with only the changed properties, or replayed: keywords named in FLAGS
//! before they show (`tests/clients/keywords.py`). Each runs against every [`DeltaMode`].

mod common;

use common::*;

in_each_delta_mode! {
    fn keywords_are_named_in_flags_before_they_show(mode: DeltaMode) {
        let emulator = EmulatorProcess::start_in(mode);
        let dir = temp_dir();
        let gateway = Gateway::serve(
            dir.path(),
            &emulator.url,
            &[("IMAP2GRAPH_IMAP_NOOP_FRESHNESS_SECS", "0")],
        );
        let out = gateway.python_ok("keywords.py", &[]);
        assert!(out.contains("all checks passed"), "{out}");
        gateway.stop();
    }
}
