//! `imap2graph check` against the emulator, as an operator runs it before going live: all green
//! for the demo application and mailbox; red (exit status 1, the failing row and what to do)
//! with a wrong secret, with an application that lacks Mail.ReadWrite, and for a mailbox that
//! does not exist. The secret comes from IMAP2GRAPH_CHECK_SECRET and is never printed.

mod common;

use common::*;

const READ_ONLY_CLIENT: &str = "22222222-3333-4444-5555-666666666666";
const READ_ONLY_SECRET: &str = "demo-readonly-secret";

/// Runs `imap2graph check` with the gateway configuration for `emulator`; returns whether it
/// exited 0 and what it printed.
fn check(
    emulator: &EmulatorProcess,
    login: &str,
    secret: &str,
    mailboxes: &[&str],
) -> (bool, String) {
    let dir = temp_dir();
    let config = write_serve_config(dir.path(), &emulator.url);
    let mut command = binary_command();
    command
        .arg("check")
        .arg("--config")
        .arg(&config)
        .args(["--login", login])
        .env("IMAP2GRAPH_CHECK_SECRET", secret);
    for mailbox in mailboxes {
        command.args(["--mailbox", mailbox]);
    }
    let output = run(command, CLIENT_TIMEOUT);
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !printed.contains(secret),
        "the secret was printed:\n{printed}"
    );
    (output.status.success(), printed)
}

/// The report's line for `what`, failing the test when there is none.
fn row<'a>(printed: &'a str, mark: char, what: &str) -> &'a str {
    printed
        .lines()
        .find(|line| line.starts_with(mark) && line.contains(what))
        .unwrap_or_else(|| panic!("no {mark} row for {what:?}:\n{printed}"))
}

#[test]
fn green_for_the_demo_application() {
    let emulator = EmulatorProcess::start();
    let (ok, printed) = check(
        &emulator,
        &format!("{TENANT}/{CLIENT_ID}"),
        SECRET,
        &[VOICEMAIL],
    );
    assert!(ok, "{printed}");
    assert!(!printed.contains('✘'), "{printed}");
    for what in [
        "configuration",
        "DNS 127.0.0.1",
        "identity platform",
        "Microsoft Graph",
        "token",
        "roles",
        "certificate",
    ] {
        row(&printed, '✔', what);
    }
    assert!(
        row(&printed, '✔', "roles").contains("Mail.ReadWrite"),
        "{printed}"
    );
    // The application's default mailbox (alice, in the configuration) and the one named.
    assert!(
        row(&printed, '✔', ALICE).contains("Inbox holds"),
        "{printed}"
    );
    assert!(
        row(&printed, '✔', VOICEMAIL).contains("Inbox holds"),
        "{printed}"
    );
    assert!(
        row(&printed, '✔', "certificate").contains("127.0.0.1"),
        "{printed}"
    );
    assert!(printed.contains("All checks passed."), "{printed}");
}

#[test]
fn red_for_a_wrong_secret() {
    let emulator = EmulatorProcess::start();
    let (ok, printed) = check(&emulator, &login_name(ALICE), "not-the-secret", &[]);
    assert!(!ok, "{printed}");
    assert!(
        row(&printed, '✘', "token").contains("invalid or expired client secret"),
        "{printed}"
    );
    assert!(
        printed.contains("→ create a new client secret"),
        "{printed}"
    );
}

#[test]
fn red_for_a_missing_role() {
    let emulator = EmulatorProcess::start();
    let (ok, printed) = check(
        &emulator,
        &format!("{TENANT}/{READ_ONLY_CLIENT}/{ALICE}"),
        READ_ONLY_SECRET,
        &[],
    );
    assert!(!ok, "{printed}");
    let roles = row(&printed, '✘', "roles");
    assert!(
        roles.contains("missing: Mail.ReadWrite, Mail.Send"),
        "{printed}"
    );
    assert!(printed.contains("Grant admin consent"), "{printed}");
    // Reading still works: the mailbox row is green.
    row(&printed, '✔', ALICE);
}

#[test]
fn red_for_an_unknown_mailbox() {
    let emulator = EmulatorProcess::start();
    let (ok, printed) = check(
        &emulator,
        &login_name(ALICE),
        SECRET,
        &["nobody@contoso.example"],
    );
    assert!(!ok, "{printed}");
    assert!(
        row(&printed, '✘', "nobody@contoso.example").contains("404"),
        "{printed}"
    );
    row(&printed, '✔', ALICE);
    assert!(printed.contains("1 check(s) failed."), "{printed}");
}
