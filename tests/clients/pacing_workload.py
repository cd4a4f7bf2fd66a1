"""Several sessions at once on one mailbox, each looping over APPEND, SELECT, STATUS, FETCH of a
body, STORE, NOOP and LIST: a workload that costs a mailbox more Graph requests than a small
budget allows (tests/pacing.rs). Every tagged answer is counted; the summary is one JSON line:
{"ok": N, "no": N, "bad": N, "failures": [first few NO/BAD/errors]}. The script itself checks
nothing: the test decides what the counts must be (with pacing on, no NO at all).

usage: pacing_workload.py MAILBOX SESSIONS ROUNDS
"""

import imaplib
import json
import sys
import threading

import gwtest

MAILBOX, SESSIONS, ROUNDS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

lock = threading.Lock()
counts = {"ok": 0, "no": 0, "bad": 0}
failures = []


def note(status, what):
    with lock:
        key = {"OK": "ok", "NO": "no"}.get(status, "bad")
        counts[key] += 1
        if key != "ok" and len(failures) < 20:
            failures.append(what)


def run(imap, label, command, *args):
    """One command; its tagged status counted, never raised."""
    try:
        typ, data = getattr(imap, command)(*args)
    except imaplib.IMAP4.abort as err:
        note("BAD", "%s: connection lost: %s" % (label, err))
        raise
    except imaplib.IMAP4.error as err:
        text = str(err)
        note("BAD" if " BAD " in text or "BAD" in text[:8] else "NO", "%s: %s" % (label, text))
        return None
    note(typ, "%s: %s %r" % (label, typ, data))
    return data


def session(number):
    imap = gwtest.connect()
    try:
        run(imap, "LOGIN", "login", gwtest.name(MAILBOX), gwtest.SECRET)
        for round_ in range(ROUNDS):
            message = (
                "From: pacing@contoso.example\r\n"
                "To: %s\r\n"
                "Subject: pacing %d.%d\r\n"
                "Message-ID: <pacing-%d-%d@contoso.example>\r\n"
                "\r\n"
                "Voice message %d of session %d.\r\n" % (MAILBOX, number, round_, number, round_, round_, number)
            ).encode()
            run(imap, "APPEND", "append", "INBOX", None, None, message)
            data = run(imap, "SELECT", "select", "INBOX")
            exists = int(data[0]) if data and data[0] else 0
            run(imap, "STATUS", "status", "INBOX", "(MESSAGES UNSEEN UIDNEXT)")
            if exists:
                run(imap, "FETCH", "fetch", str(exists), "(UID FLAGS BODY.PEEK[])")
                run(imap, "STORE", "store", str(exists), "+FLAGS", "(\\Seen)")
            run(imap, "NOOP", "noop")
            run(imap, "LIST", "list", '""', "*")
        imap.logout()
    except imaplib.IMAP4.abort:
        pass


threads = [threading.Thread(target=session, args=(n,)) for n in range(SESSIONS)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
summary = dict(counts)
summary["failures"] = failures
print(json.dumps(summary), flush=True)
