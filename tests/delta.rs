//! Delta sync, counted with the emulator's stats: after a restart the gateway resumes every
//! folder from the deltaLink kept in the uid store (no folder is listed or synchronised from
//! scratch) and still shows what changed meanwhile, including a message APPENDed (with curl)
//! just before the stop; when Graph drops the delta tokens, the folders are synchronised from
//! scratch without changing the UID of any message still present; and a folder of 2100 messages
//! comes in several pages of a first round and is resumed after a restart; and a NOOP-polling
//! session converges while Graph throttles, resets and drops tokens (`delta_faults.py`); and
//! delta items are patches (`delta_patches.py`): a folder whose counts change keeps its name,
//! \Flagged survives a read in Outlook and a `-FLAGS \Seen`, polls that bring only replays send
//! nothing, and a message moved in whose item says nothing else is read whole in one `$batch`.
//! Seen through imaplib (`tests/clients/uids.py`) and curl. Every scenario runs against each
//! way Graph may send delta items ([`DeltaMode`]).

mod common;

use serde_json::Value;

use common::*;

const FIRST_ROUND: &str = "GET /users/{id}/mailFolders/{id}/messages/delta";
const RESUMED_ROUND: &str = "GET /users/{id}/mailFolders/{id}/messages/delta?$deltatoken";
const LISTING: &str = "GET /users/{id}/mailFolders/{id}/messages";

/// Requests the emulator answered on `route` (any status) between two stats snapshots.
fn requests_between(before: &Value, after: &Value, route: &str) -> u64 {
    let count = |stats: &Value| stats["routeTotals"][route].as_u64().unwrap_or(0);
    count(after) - count(before)
}

/// Answers of `status` on `route` between two stats snapshots.
fn answers_between(before: &Value, after: &Value, route: &str, status: u16) -> u64 {
    let count = |stats: &Value| {
        stats["routes"][route][status.to_string()]
            .as_u64()
            .unwrap_or(0)
    };
    count(after) - count(before)
}

/// Changes made behind the gateway's back, as Outlook and a mail server would: a delivery to
/// INBOX, the oldest unread INBOX message marked read, and the oldest read one deleted.
/// Returns the Message-IDs of the messages delivered, read and deleted.
fn change_inbox(graph: &Graph, token: &str) -> (String, String, String) {
    let inbox = graph.well_known(token, ALICE, "inbox");
    let listed = graph.get_all(
        token,
        &format!(
            "/users/{}/mailFolders/{}/messages?$select=id,isRead,receivedDateTime,internetMessageId&$orderby=receivedDateTime&$top=1000",
            path_encode(ALICE),
            path_encode(&inbox)
        ),
    );
    let unread = listed
        .iter()
        .find(|m| m["isRead"] == false)
        .expect("an unread INBOX message");
    let oldest_read = listed
        .iter()
        .find(|m| m["isRead"] == true)
        .expect("a read INBOX message");
    let [read_id, deleted_id] =
        [unread, oldest_read].map(|m| m["id"].as_str().expect("id").to_string());
    let [read, deleted] = [unread, oldest_read].map(|m| {
        m["internetMessageId"]
            .as_str()
            .expect("internetMessageId")
            .to_string()
    });
    assert_ne!(read_id, deleted_id, "the test needs two different messages");
    let auth = format!("Bearer {token}");
    let patched = graph.request(
        "PATCH",
        &format!(
            "/v1.0/users/{}/messages/{}",
            path_encode(ALICE),
            path_encode(&read_id)
        ),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        br#"{"isRead": true}"#,
    );
    assert_eq!(patched.status, 200, "PATCH isRead");
    let deletion = graph.request(
        "DELETE",
        &format!(
            "/v1.0/users/{}/messages/{}",
            path_encode(ALICE),
            path_encode(&deleted_id)
        ),
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(deletion.status, 204, "DELETE");
    let message_id = format!("<delta-{}@test.example>", fastrand::u64(..));
    let mime = format!(
        "From: Bob <bob@example.net>\r\nTo: alice@contoso.example\r\nSubject: arrived meanwhile\r\n\
         Date: Sat, 28 Nov 2026 12:00:00 +0000\r\nMessage-ID: {message_id}\r\n\r\nhello\r\n"
    );
    let delivered = graph.request(
        "POST",
        &format!(
            "/_emulator/mailboxes/{}/deliver?folder=inbox",
            path_encode(ALICE)
        ),
        &[("Content-Type", "message/rfc822")],
        mime.as_bytes(),
    );
    assert_eq!(delivered.status, 201, "deliver");
    (message_id, read, deleted)
}

/// APPENDs a message to alice's INBOX with curl (AUTHENTICATE PLAIN, then APPEND of the file);
/// returns its Message-ID.
fn append_with_curl(gateway: &Gateway, dir: &std::path::Path) -> String {
    let message_id = format!("<appended-{}@test.example>", fastrand::u64(..));
    let file = dir.join("appended.eml");
    std::fs::write(
        &file,
        format!(
            "From: Carol <carol@example.net>\r\nTo: alice@contoso.example\r\n\
             Subject: appended before the stop\r\nDate: Sat, 28 Nov 2026 11:00:00 +0000\r\n\
             Message-ID: {message_id}\r\n\r\nkept\r\n"
        ),
    )
    .expect("write the message");
    let mut command = curl_command(gateway, &login_name(ALICE), SECRET, "INBOX");
    command.arg("--upload-file").arg(&file);
    let output = run(command, CLIENT_TIMEOUT);
    assert_success("curl APPEND", &output, Some(gateway));
    message_id
}

/// What the client sees of INBOX after `change_inbox`, compared with before: the same
/// UIDVALIDITY, every remaining message under its old UID with its old state (but the one read
/// now \Seen), the deleted one gone, the delivered one (and the `appended` one, if any) under a
/// UID at least the old UIDNEXT; every other folder exactly as before.
fn assert_changes_seen(
    before: &Value,
    after: &Value,
    delivered: &str,
    read: &str,
    deleted: &str,
    appended: Option<&str>,
) {
    let folders = before.as_object().expect("an object");
    for (name, old) in folders {
        let new = &after[name];
        if name != "INBOX" {
            assert_eq!(old, new, "{name} changed though nothing changed in it");
            continue;
        }
        assert_eq!(old["uidvalidity"], new["uidvalidity"], "INBOX UIDVALIDITY");
        let old_uids = old["uids"].as_object().expect("uids");
        let new_uids = new["uids"].as_object().expect("uids");
        let uid_of = |uids: &serde_json::Map<String, Value>, mid: &str| {
            uids.iter()
                .find(|(_, m)| m.as_str() == Some(mid))
                .map(|(uid, _)| uid.clone())
        };
        let deleted_uid = uid_of(old_uids, deleted).expect("the deleted message was seen before");
        let read_uid = uid_of(old_uids, read).expect("the read message was seen before");
        assert!(
            !new_uids.contains_key(&deleted_uid),
            "the deleted message (UID {deleted_uid}) is still shown"
        );
        for (uid, mid) in old_uids {
            if *uid == deleted_uid {
                continue;
            }
            assert_eq!(
                new_uids.get(uid),
                Some(mid),
                "UID {uid} no longer names the same message"
            );
            let (old_state, new_state) = (&old["states"][uid], &new["states"][uid]);
            if *uid == read_uid {
                assert!(
                    !old_state.as_str().unwrap_or("").contains("\\Seen")
                        && new_state.as_str().unwrap_or("").contains("\\Seen"),
                    "the message read through Graph: {old_state} -> {new_state}"
                );
            } else {
                assert_eq!(old_state, new_state, "UID {uid}'s FLAGS or INTERNALDATE");
            }
        }
        let old_next: u64 = old["uidnext"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("UIDNEXT");
        let new_messages: Vec<&str> = std::iter::once(delivered).chain(appended).collect();
        for message in &new_messages {
            let new_uid: u64 = uid_of(new_uids, message)
                .unwrap_or_else(|| panic!("{message} is not shown"))
                .parse()
                .expect("numeric UID");
            assert!(
                new_uid >= old_next,
                "{message} got UID {new_uid}, below the old UIDNEXT {old_next}"
            );
        }
        assert_eq!(
            new_uids.len(),
            old_uids.len() - 1 + new_messages.len(),
            "one message gone and {} new",
            new_messages.len()
        );
    }
}

in_each_delta_mode! {
    fn a_restart_resumes_every_folder_from_its_stored_delta_link(mode: DeltaMode) {
        let emulator = EmulatorProcess::start_in(mode);
        let graph = emulator.graph();
        let dir = temp_dir();
        let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
        let before = client_view(&gateway.client_env(), ALICE);
        // Stopped right after: the store holds the appended message's UID, not yet its state.
        let appended = append_with_curl(&gateway, dir.path());
        gateway.stop();

        let (delivered, read, deleted) = change_inbox(&graph, &graph.token());

        let stats_before = graph.stats();
        let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
        let after = client_view(&gateway.client_env(), ALICE);
        let stats_after = graph.stats();
        gateway.stop();

        let folders = before.as_object().expect("an object").len() as u64;
        assert_eq!(
            requests_between(&stats_before, &stats_after, FIRST_ROUND),
            0,
            "a folder was synchronised from scratch after the restart"
        );
        assert_eq!(
            requests_between(&stats_before, &stats_after, LISTING),
            0,
            "a folder was listed after the restart"
        );
        let resumed = requests_between(&stats_before, &stats_after, RESUMED_ROUND);
        assert!(
            (1..=2 * folders).contains(&resumed),
            "{resumed} resumed delta rounds for {folders} folders"
        );
        assert_changes_seen(
            &before,
            &after,
            &delivered,
            &read,
            &deleted,
            Some(&appended),
        );
        emulator.process.stop();
    }
}

in_each_delta_mode! {
    fn a_dropped_delta_token_resyncs_without_changing_uids(mode: DeltaMode) {
        let emulator = EmulatorProcess::start_in(mode);
        let graph = emulator.graph();
        let dir = temp_dir();
        let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
        let before = client_view(&gateway.client_env(), ALICE);

        let (delivered, read, deleted) = change_inbox(&graph, &graph.token());
        let faults = graph.request(
            "POST",
            "/_emulator/faults",
            &[("Content-Type", "application/json")],
            br#"{"invalidateDeltaTokens": true}"#,
        );
        assert_eq!(faults.status, 200, "setting the fault");
        // Past the second in which a folder synchronised for one session is served to the next.
        std::thread::sleep(std::time::Duration::from_millis(1200));

        let stats_before = graph.stats();
        let after = client_view(&gateway.client_env(), ALICE);
        let stats_after = graph.stats();
        gateway.stop();

        assert!(
            answers_between(&stats_before, &stats_after, RESUMED_ROUND, 410) >= 1,
            "Graph never refused a delta token: {}",
            stats_after["routes"]
        );
        assert!(
            requests_between(&stats_before, &stats_after, FIRST_ROUND) >= 1,
            "no folder was synchronised from scratch after Graph dropped the tokens"
        );
        assert_changes_seen(&before, &after, &delivered, &read, &deleted, None);
        emulator.process.stop();
    }
}

/// `UID SEARCH ALL` of a folder of alice's, through curl: the UIDs.
fn folder_uids(gateway: &Gateway, folder: &str) -> Vec<u32> {
    let output = run(
        curl_command(
            gateway,
            &login_name(ALICE),
            SECRET,
            &format!("{folder}?ALL"),
        ),
        CLIENT_TIMEOUT,
    );
    assert_success("curl SEARCH ALL", &output, Some(gateway));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.trim().strip_prefix("* SEARCH"))
        .flat_map(|uids| {
            uids.split_whitespace()
                .filter_map(|uid| uid.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

in_each_delta_mode! {
    fn a_folder_of_many_pages_is_synchronised_and_resumed(mode: DeltaMode) {
        const MESSAGES: u32 = 2100;
        let emulator = EmulatorProcess::start_in(mode);
        let graph = emulator.graph();
        let token = graph.token();
        let auth = format!("Bearer {token}");
        let created = graph.request(
            "POST",
            &format!("/v1.0/users/{}/mailFolders", path_encode(ALICE)),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            br#"{"displayName": "Bulk"}"#,
        );
        assert_eq!(created.status, 201, "create the folder");
        let folder_id = created.json()["id"]
            .as_str()
            .expect("folder id")
            .to_string();
        for n in 0..MESSAGES {
            let mime = format!(
                "From: robot@example.net\r\nTo: alice@contoso.example\r\nSubject: bulk {n}\r\n\
                 Message-ID: <bulk-{n}@example.net>\r\n\r\nnumber {n}\r\n"
            );
            let delivered = graph.request(
                "POST",
                &format!(
                    "/_emulator/mailboxes/{}/deliver?folder={}",
                    path_encode(ALICE),
                    path_encode(&folder_id)
                ),
                &[("Content-Type", "message/rfc822")],
                mime.as_bytes(),
            );
            assert_eq!(delivered.status, 201, "deliver message {n}");
        }

        let dir = temp_dir();
        let stats_before = graph.stats();
        let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
        let first = folder_uids(&gateway, "Bulk");
        gateway.stop();
        let stats_between = graph.stats();
        assert_eq!(
            first,
            (1..=MESSAGES).collect::<Vec<u32>>(),
            "UIDs 1..={MESSAGES} without gaps"
        );
        let pages = requests_between(
            &stats_before,
            &stats_between,
            "GET /users/{id}/mailFolders/{id}/messages/delta?$skiptoken",
        );
        assert!(
            pages >= 2,
            "{MESSAGES} messages came in {pages} further pages of the first round"
        );

        let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
        let again = folder_uids(&gateway, "Bulk");
        gateway.stop();
        let stats_after = graph.stats();
        assert_eq!(again, first, "the restart kept every UID");
        assert_eq!(
            requests_between(&stats_between, &stats_after, FIRST_ROUND),
            0,
            "the restart synchronised the folder from scratch"
        );
        emulator.process.stop();
    }
}

in_each_delta_mode! {
    fn delta_sync_converges_while_graph_throttles_resets_and_drops_tokens(mode: DeltaMode) {
        EmulatorProcess::run_script(
            mode,
            &[("IMAP2GRAPH_IMAP_NOOP_FRESHNESS_SECS", "0")],
            "delta_faults.py",
        );
    }
}

in_each_delta_mode! {
    fn delta_items_are_merged_into_what_is_known(mode: DeltaMode) {
        let emulator = EmulatorProcess::start_in(mode);
        let dir = temp_dir();
        let gateway = Gateway::serve(
            dir.path(),
            &emulator.url,
            &[("IMAP2GRAPH_IMAP_NOOP_FRESHNESS_SECS", "0")],
        );
        let out = gateway.python_ok("delta_patches.py", &[]);
        assert!(out.contains("all checks passed"), "{out}");
        let moved_in: Value = out
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find_map(|json| json.get("movedIn").cloned())
            .unwrap_or_else(|| panic!("delta_patches.py printed no request counts:\n{out}"));
        let counts = (moved_in["batches"].as_u64(), moved_in["gets"].as_u64());
        match mode {
            // The moved message came whole: nothing to read.
            DeltaMode::WholeObjects => assert_eq!(counts, (Some(0), Some(0)), "{moved_in}"),
            // It came as its id alone: read whole, once, in one $batch.
            _ => assert_eq!(counts, (Some(1), Some(1)), "{moved_in}"),
        }
        gateway.stop();
        emulator.process.stop();
    }
}
