"""Two gateway instances sharing one uid store (PostgreSQL): a session on each, on alice's
INBOX. What one session changes — \\Seen (held by Graph), \\Deleted (held by the shared store)
and an EXPUNGE — the session on the other instance learns on NOOP, with the same UIDs.

usage: instances.py OTHER_PORT   (the first instance's port comes from I2G_IMAP_PORT)
"""

import sys

import gwtest as t


def noop_lines(imap):
    imap.untagged_responses.clear()
    typ, _ = imap.noop()
    t.check(typ == "OK", "NOOP answered %s" % typ)
    return dict(imap.untagged_responses)


def main():
    other_port = int(sys.argv[1])
    a = t.connect()
    t.login(a, t.name(t.ALICE))
    b = t.connect(port=other_port)
    t.login(b, t.name(t.ALICE))
    exists_a, validity_a = t.select(a, "INBOX", readonly=False)
    exists_b, validity_b = t.select(b, "INBOX", readonly=False)
    t.check(exists_a == exists_b, "both instances see %d = %d messages" % (exists_a, exists_b))
    t.check(validity_a == validity_b, "one UIDVALIDITY")
    typ, data = a.uid("SEARCH", "UNSEEN")
    unseen = data[0].split()
    t.check(len(unseen) >= 2, "INBOX has unseen mail")
    seen_uid, deleted_uid = unseen[0].decode(), unseen[1].decode()

    typ, _ = a.uid("STORE", seen_uid, "+FLAGS.SILENT", "(\\Seen)")
    t.check(typ == "OK", "A: STORE \\Seen answered %s" % typ)
    updates = noop_lines(b)
    fetches = [f.decode() for f in updates.get("FETCH", [])]
    t.log("B after A's \\Seen:", fetches)
    t.check(
        any(("UID %s " % seen_uid) in f and "\\Seen" in f for f in fetches),
        "B sees UID %s become \\Seen" % seen_uid,
    )

    typ, _ = a.uid("STORE", deleted_uid, "+FLAGS.SILENT", "(\\Deleted)")
    t.check(typ == "OK", "A: STORE \\Deleted answered %s" % typ)
    updates = noop_lines(b)
    fetches = [f.decode() for f in updates.get("FETCH", [])]
    t.log("B after A's \\Deleted:", fetches)
    t.check(
        any(("UID %s " % deleted_uid) in f and "\\Deleted" in f for f in fetches),
        "B sees UID %s marked \\Deleted" % deleted_uid,
    )

    typ, data = a.expunge()
    t.check(typ == "OK", "A: EXPUNGE answered %s" % typ)
    updates = noop_lines(b)
    t.log("B after A's EXPUNGE:", updates)
    t.check(updates.get("EXPUNGE"), "B sees the message expunged")
    typ, data = b.uid("FETCH", deleted_uid, "(UID)")
    t.check(typ == "OK" and data in ([None], []), "UID %s is gone on B: %r" % (deleted_uid, data))
    a.logout()
    b.logout()
    t.finish()


if __name__ == "__main__":
    main()
