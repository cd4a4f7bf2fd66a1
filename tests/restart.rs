//! UIDs and UIDVALIDITY survive a restart of the gateway with the same uid store: every folder
//! keeps its UIDVALIDITY and UIDNEXT, and every UID names the same message (by Message-ID) with
//! the same FLAGS and INTERNALDATE.
//! Seen through imaplib (`tests/clients/uids.py`), against every way Graph may send delta items
//! ([`DeltaMode`]).

mod common;

use serde_json::Value;

use common::*;

fn uids(gateway: &Gateway, mailbox: &str) -> Value {
    let json = client_view(&gateway.client_env(), mailbox);
    let folders = json.as_object().expect("an object");
    assert!(folders.len() > 5, "too few folders: {json}");
    let messages: usize = folders
        .values()
        .map(|f| f["uids"].as_object().map_or(0, |u| u.len()))
        .sum();
    assert!(messages > 0, "no messages seen: {json}");
    for (name, folder) in folders {
        assert!(
            folder["uidvalidity"]
                .as_str()
                .is_some_and(|v| !v.is_empty()),
            "{name}: no UIDVALIDITY"
        );
        assert!(
            folder["uids"]
                .as_object()
                .is_some_and(|u| u.values().all(|m| m.is_string())),
            "{name}: a message without Message-ID: {folder}"
        );
    }
    json
}

fn assert_same(before: &Value, after: &Value) {
    if before == after {
        return;
    }
    let mut differences = Vec::new();
    let empty = serde_json::Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    for (name, old) in b {
        match a.get(name) {
            None => differences.push(format!("{name}: gone after the restart")),
            Some(new) if new != old => {
                for key in ["uidvalidity", "uidnext", "exists"] {
                    if old[key] != new[key] {
                        differences.push(format!("{name}: {key} {} -> {}", old[key], new[key]));
                    }
                }
                if old["uids"] != new["uids"] {
                    differences.push(format!(
                        "{name}: UID → Message-ID map changed: {} -> {}",
                        old["uids"], new["uids"]
                    ));
                }
                if old["states"] != new["states"] {
                    differences.push(format!(
                        "{name}: FLAGS or INTERNALDATE changed: {} -> {}",
                        old["states"], new["states"]
                    ));
                }
            }
            Some(_) => {}
        }
    }
    for name in a.keys().filter(|n| !b.contains_key(*n)) {
        differences.push(format!("{name}: new after the restart"));
    }
    panic!(
        "the restart changed what clients remember:\n{}",
        differences.join("\n")
    );
}

in_each_delta_mode! {
    fn uids_survive_a_gateway_restart(mode: DeltaMode) {
        // The emulator keeps running; only the gateway restarts, on the same data directory.
        let dir = temp_dir();
        let emulator = EmulatorProcess::start_in(mode);
        let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
        let alice_before = uids(&gateway, ALICE);
        let voicemail_before = uids(&gateway, VOICEMAIL);
        gateway.stop();
        assert!(dir.path().join("uids.sqlite").is_file(), "no uid store");

        let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
        let voicemail_after = uids(&gateway, VOICEMAIL);
        let alice_after = uids(&gateway, ALICE);
        gateway.stop();
        assert_same(&alice_before, &alice_after);
        assert_same(&voicemail_before, &voicemail_after);
        emulator.process.stop();
    }
}

in_each_delta_mode! {
    fn uids_survive_a_demo_restart(mode: DeltaMode) {
        // The whole demo restarts: the emulator reseeds deterministically (same message ids), the
        // uid store is the one in the data directory.
        let dir = temp_dir();
        let gateway = Gateway::demo_in(dir.path(), mode);
        let before = uids(&gateway, ALICE);
        gateway.stop();
        let gateway = Gateway::demo_in(dir.path(), mode);
        let after = uids(&gateway, ALICE);
        gateway.stop();
        assert_same(&before, &after);
    }
}

in_each_delta_mode! {
    fn a_new_uid_store_keeps_message_identity_order(mode: DeltaMode) {
        // Two gateways with separate stores see the same mailbox: UIDVALIDITY may differ, but UIDs
        // are given in the same (receivedDateTime) order, so the UID → message map is the same.
        let dir_a = temp_dir();
        let dir_b = temp_dir();
        let emulator = EmulatorProcess::start_in(mode);
        let a = Gateway::serve(dir_a.path(), &emulator.url, &[]);
        let b = Gateway::serve(dir_b.path(), &emulator.url, &[]);
        let seen_a = uids(&a, ALICE);
        let seen_b = uids(&b, ALICE);
        for (name, folder) in seen_a.as_object().expect("object") {
            assert_eq!(
                folder["uids"], seen_b[name]["uids"],
                "{name}: two fresh uid stores numbered the messages differently"
            );
        }
        a.stop();
        b.stop();
        emulator.process.stop();
    }
}

in_each_delta_mode! {
    fn a_lost_uid_store_gives_new_uidvalidity_and_touches_no_mail(mode: DeltaMode) {
        // The store is deleted between two runs: every folder must get a new (larger) UIDVALIDITY,
        // so clients resynchronise instead of trusting old UIDs, and Graph keeps every message.
        let dir = temp_dir();
        let emulator = EmulatorProcess::start_in(mode);
        let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
        let before = uids(&gateway, ALICE);
        gateway.stop();
        std::fs::remove_file(dir.path().join("uids.sqlite")).expect("remove the uid store");
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.path().join(format!("uids.sqlite{suffix}")));
        }
        // UIDVALIDITY counts seconds: let one pass so the new value is distinguishable.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
        let after = uids(&gateway, ALICE);
        gateway.stop();
        let validity = |folder: &Value| -> u64 {
            folder["uidvalidity"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no UIDVALIDITY in {folder}"))
        };
        for (name, old) in before.as_object().expect("object") {
            let new = &after[name];
            assert!(
                validity(new) > validity(old),
                "{name}: UIDVALIDITY {} did not grow after the store was lost (now {})",
                validity(old),
                validity(new)
            );
            assert_eq!(
                old["uids"].as_object().map(|u| u.len()),
                new["uids"].as_object().map(|u| u.len()),
                "{name}: the mailbox lost or gained messages"
            );
        }
        emulator.process.stop();
    }
}
