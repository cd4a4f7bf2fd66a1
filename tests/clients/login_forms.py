"""Log in with every name form the gateway accepts and check which mailbox each one opened.

The mailbox behind a session is recognised by its INBOX: EXISTS must equal the number of
messages Graph holds in that mailbox's inbox (alice's and voicemail's differ), and the first
message's Message-ID must be one of that inbox's.
"""

import imaplib

import gwtest as t


def inbox_fingerprint(mailbox):
    graph = t.Graph(mailbox)
    messages = graph.messages(graph.well_known("inbox"))
    return len(messages), {m.get("internetMessageId") for m in messages}


def opened(imap):
    exists, _ = t.select(imap, "INBOX")
    mid = None
    if exists:
        typ, data = imap.fetch("1", "(BODY.PEEK[])")
        fetched = t.parse_fetch(data)
        if fetched and fetched[0]["literals"]:
            mid = t.message_id(fetched[0]["literals"][0])
    return exists, mid


def user_guid(mailbox):
    graph = t.Graph(mailbox)
    try:
        return graph.get_json("")["id"]
    except RuntimeError as err:
        t.log("cannot read the user object of %s: %s" % (mailbox, err))
        return None


def main():
    expected = {t.ALICE: inbox_fingerprint(t.ALICE), t.VOICEMAIL: inbox_fingerprint(t.VOICEMAIL)}
    t.log("Graph: alice's inbox holds %d, voicemail's %d" % (expected[t.ALICE][0], expected[t.VOICEMAIL][0]))
    t.check(expected[t.ALICE][0] != expected[t.VOICEMAIL][0], "the two inboxes cannot be told apart by size")

    alice_guid = user_guid(t.ALICE)
    bs = "\\"
    cases = [
        ("LOGIN, name as imaplib sends it (atom)", "login", t.name(t.ALICE), False, t.ALICE),
        ("LOGIN, quoted name", "login", t.name(t.ALICE), True, t.ALICE),
        ("LOGIN, quoted name, voicemail", "login", t.name(t.VOICEMAIL), True, t.VOICEMAIL),
        ("LOGIN, backslash separators, quoted", "login", t.name(t.ALICE, sep=bs), True, t.ALICE),
        ("LOGIN, backslash separators, bare (imaplib)", "login", t.name(t.ALICE, sep=bs), False, t.ALICE),
        ("LOGIN, alias alice", "login", t.name("alice"), True, t.ALICE),
        ("LOGIN, alias voicemail", "login", t.name("voicemail"), True, t.VOICEMAIL),
        ("LOGIN, two-part name (default mailbox)", "login", t.name(), True, t.ALICE),
        ("LOGIN, tenant as GUID", "login", "%s/%s/%s" % (t.TENANT_ID, t.CLIENT_ID, t.ALICE), True, t.ALICE),
        ("AUTHENTICATE PLAIN, two-part name, authzid voicemail", "plain", (t.VOICEMAIL, t.name()), None, t.VOICEMAIL),
        ("AUTHENTICATE PLAIN, two-part name, empty authzid (default)", "plain", ("", t.name()), None, t.ALICE),
        ("AUTHENTICATE PLAIN, authzid equal to the login name (mbsync)", "plain", (t.name(t.VOICEMAIL), t.name(t.VOICEMAIL)), None, t.VOICEMAIL),
        ("AUTHENTICATE PLAIN, empty authzid, full name (curl)", "plain", ("", t.name(t.VOICEMAIL)), None, t.VOICEMAIL),
    ]
    if alice_guid:
        cases.append(("LOGIN, mailbox as its object id (GUID)", "login", t.name(alice_guid), True, t.ALICE))
    if not t.TENANT_ID:
        cases = [c for c in cases if "tenant as GUID" not in c[0]]

    for title, how, who, quoted, mailbox in cases:
        t.log("-- %s: %r" % (title, who))
        try:
            imap = t.connect()
        except OSError as err:
            t.check(False, "%s: cannot connect: %s" % (title, err))
            continue
        try:
            if how == "login":
                status, text = t.raw_login(imap, who, t.SECRET, quoted=quoted)
                if status == "OK":
                    imap.state = "AUTH"
            else:
                authzid, authcid = who
                status, text = t.raw_authenticate_plain(imap, authzid.encode(), authcid.encode(), t.SECRET.encode())
            t.log("   %s %s" % (status, text))
            if not t.check(status == "OK", "%s: login answered %s %s" % (title, status, text)):
                continue
            exists, mid = opened(imap)
            count, ids = expected[mailbox]
            t.log("   INBOX EXISTS %d, first Message-ID %s" % (exists, mid))
            t.check(exists == count, "%s: opened an INBOX with %d messages, %s's holds %d" % (title, exists, mailbox, count))
            t.check(mid in ids, "%s: first message %s is not in %s's inbox" % (title, mid, mailbox))
            imap.logout()
        except (imaplib.IMAP4.error, OSError, RuntimeError) as err:
            t.check(False, "%s: %s: %s" % (title, type(err).__name__, err))
    t.finish()


if __name__ == "__main__":
    main()
