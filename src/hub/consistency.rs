//! Tests of how changes made through the hub and synchronisation rounds keep each folder's
//! snapshot what Graph holds, in UID order, against the emulator in-process: sessions take their
//! EXISTS and EXPUNGE from these snapshots, so a message missing, back after it left, or
//! arriving below a UID already shown is a sequence number drifting in every session.

use std::sync::Arc;
use std::time::Duration;

use super::{HubRegistry, MailboxHub, MessageFlags};
use crate::config::Config;
use crate::graph::mutate::MessageAction;
use crate::graph::{Credentials, GraphClient};
use crate::login::{ClientId, MailboxName, Tenant};
use crate::secret::Secret;
use crate::store::UidStore;
use imap2graph_emulator::{demo, Emulator};

/// A hub of the demo mailbox on an emulator of its own; the temporary directory holds the uid
/// store.
pub(super) async fn demo_hub() -> (Arc<MailboxHub>, Emulator, tempfile::TempDir) {
    let (emulator, address) = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let store = UidStore::open_sqlite(&dir.path().join("uids.sqlite")).unwrap();
    (hub_of(address, store).await, emulator, dir)
}

pub(super) async fn emulator() -> (Emulator, std::net::SocketAddr) {
    crate::tls::install_crypto_provider();
    let emulator = Emulator::demo();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn({
        let emulator = emulator.clone();
        async move { emulator.serve(listener, std::future::pending()).await }
    });
    (emulator, address)
}

/// The demo mailbox's hub in a registry of its own (as in a gateway instance of its own).
pub(super) async fn hub_of(address: std::net::SocketAddr, store: UidStore) -> Arc<MailboxHub> {
    open_demo(&registry_of(address, store)).await
}

/// A registry (a gateway instance) on the emulator at `address`.
fn registry_of(address: std::net::SocketAddr, store: UidStore) -> HubRegistry {
    let mut config = Config::default();
    config.graph.base_url = format!("http://{address}/v1.0");
    config.identity.authority = format!("http://{address}");
    let graph = GraphClient::new(&config.graph, &config.identity.authority).unwrap();
    HubRegistry::new(Arc::new(config), graph, store)
}

/// The demo mailbox's hub, as a login opens it.
async fn open_demo(registry: &HubRegistry) -> Arc<MailboxHub> {
    let tenant = Tenant::parse(demo::TENANT).unwrap();
    let credentials = Credentials {
        client_id: ClientId::parse(demo::CLIENT_ID).unwrap(),
        secret: Secret::new(demo::SECRET),
        tenant: tenant.clone(),
    };
    let mailbox = MailboxName::parse(demo::ALICE, &tenant).unwrap();
    registry.open(credentials, mailbox).await.unwrap()
}

pub(super) async fn folder(hub: &MailboxHub, name: &str) -> String {
    hub.create_folder(name).await.unwrap();
    hub.folders(true)
        .await
        .unwrap()
        .find(name)
        .unwrap()
        .id
        .clone()
}

async fn append(hub: &MailboxHub, folder_id: &str, n: usize) -> u32 {
    let mime = format!(
        "From: a@example.net\r\nSubject: {n}\r\nMessage-ID: <{n}@example.net>\r\n\r\nbody {n}\r\n"
    );
    let (_, uid) = hub
        .append(folder_id, mime.as_bytes(), &MessageFlags::default(), None)
        .await
        .unwrap();
    uid
}

/// The folder's UIDs as its latest snapshot shows them, after a round with Graph.
async fn synchronised_uids(hub: &MailboxHub, folder_id: &str) -> Vec<u32> {
    hub.invalidate(folder_id);
    let snapshot = hub.fresh_snapshot(folder_id, Duration::ZERO).await.unwrap();
    snapshot.messages.iter().map(|m| m.uid).collect()
}

fn uids(hub: &MailboxHub, folder_id: &str) -> Vec<u32> {
    let snapshot = hub.latest_snapshot(folder_id).unwrap();
    snapshot.messages.iter().map(|m| m.uid).collect()
}

#[tokio::test]
async fn messages_appended_together_all_show_in_uid_order() {
    let (hub, _emulator, _dir) = demo_hub().await;
    let folder_id = folder(&hub, "Together").await;
    let appends = (0..6).map(|n| append(&hub, &folder_id, n));
    let mut given: Vec<u32> = futures_util::future::join_all(appends).await;
    given.sort_unstable();
    assert_eq!(
        uids(&hub, &folder_id),
        given,
        "every APPENDUID, before any round"
    );
    assert_eq!(synchronised_uids(&hub, &folder_id).await, given);
}

#[tokio::test]
async fn a_moved_message_shows_in_its_destination_at_once() {
    let (hub, _emulator, _dir) = demo_hub().await;
    let (source, destination) = (folder(&hub, "From").await, folder(&hub, "To").await);
    append(&hub, &source, 1).await;
    let message = hub.folder_snapshot(&source).await.unwrap().messages[0].clone();
    let before = hub.folder_snapshot(&destination).await.unwrap();
    assert!(before.messages.is_empty());
    let moved = hub
        .transfer(&source, &destination, &[message], true)
        .await
        .unwrap();
    let uid = *moved.results[0].as_ref().unwrap();
    assert!(uids(&hub, &source).is_empty());
    assert_eq!(
        uids(&hub, &destination),
        vec![uid],
        "shown before any round"
    );
    assert_eq!(synchronised_uids(&hub, &destination).await, vec![uid]);
}

#[tokio::test]
async fn a_message_moved_back_by_outlook_after_it_left_through_the_hub_shows_again() {
    let (hub, _emulator, _dir) = demo_hub().await;
    let (here, there) = (folder(&hub, "Here").await, folder(&hub, "There").await);
    let first = append(&hub, &here, 1).await;
    // A round knows the message's state, so it is no stranger when it comes back.
    assert_eq!(synchronised_uids(&hub, &here).await, vec![first]);
    let message = hub.latest_snapshot(&here).unwrap().messages[0].clone();
    hub.transfer(&here, &there, std::slice::from_ref(&message), true)
        .await
        .unwrap();
    assert!(uids(&hub, &here).is_empty());
    // Outlook moves it back, unchanged (immutable ids: the same id).
    let answers = hub
        .graph
        .message_actions(&[&message.id], &MessageAction::Move(here.clone()))
        .await
        .unwrap();
    assert!(answers[0].is_ok(), "{answers:?}");
    let shown = synchronised_uids(&hub, &here).await;
    assert_eq!(shown.len(), 1, "the message is back: {shown:?}");
    assert!(shown[0] > first, "under a new UID: {shown:?}");
}

#[tokio::test]
async fn a_uid_given_after_another_instances_shows_after_it() {
    let (_emulator, address) = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let store = UidStore::open_sqlite(&dir.path().join("uids.sqlite")).unwrap();
    let (a, b) = (
        hub_of(address, store.clone()).await,
        hub_of(address, store).await,
    );
    let folder_id = folder(&a, "Shared").await;
    a.folder_snapshot(&folder_id).await.unwrap();
    b.folder_snapshot(&folder_id).await.unwrap();
    let earlier = append(&b, &folder_id, 1).await;
    let later = append(&a, &folder_id, 2).await;
    assert!(earlier < later);
    let shown = uids(&a, &folder_id);
    assert!(
        !shown.contains(&later) || shown.contains(&earlier),
        "{later} shown before {earlier}: {shown:?}"
    );
    assert_eq!(
        synchronised_uids(&a, &folder_id).await,
        vec![earlier, later]
    );
    assert_eq!(
        synchronised_uids(&b, &folder_id).await,
        vec![earlier, later]
    );
}

/// A hub no session holds gives up its folder indexes once it has been unused for the linger
/// (memory that returns, issue 13 item 4), and the folder's next snapshot, rebuilt from the uid
/// store, shows the same UIDs, those the hub gave included.
#[tokio::test]
async fn a_hub_without_sessions_gives_up_its_folder_indexes() {
    let (_emulator, address) = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let registry = registry_of(
        address,
        UidStore::open_sqlite(&dir.path().join("uids.sqlite")).unwrap(),
    );
    let hub = open_demo(&registry).await;
    let inbox = hub
        .folders(false)
        .await
        .unwrap()
        .find("INBOX")
        .unwrap()
        .id
        .clone();
    append(&hub, &inbox, 1).await;
    let before = synchronised_uids(&hub, &inbox).await;
    assert_eq!(registry.folder_indexes(), 1);
    // While a session holds the hub, nothing goes, however long it has been.
    assert_eq!(registry.release_unused_indexes(Duration::ZERO), 0);
    assert_eq!(registry.release_unused_indexes(Duration::ZERO), 0);
    assert_eq!(registry.folder_indexes(), 1);
    drop(hub);
    assert_eq!(
        registry.release_unused_indexes(Duration::from_secs(60)),
        0,
        "kept while the linger lasts"
    );
    assert_eq!(registry.release_unused_indexes(Duration::ZERO), 1);
    assert_eq!(registry.folder_indexes(), 0);
    let hub = open_demo(&registry).await;
    let after = hub.folder_snapshot(&inbox).await.unwrap();
    assert_eq!(
        after.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
        before
    );
    assert_eq!(registry.folder_indexes(), 1);
}
