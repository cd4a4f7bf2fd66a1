"""Prints, as JSON, what a client remembers between sessions: for every folder of a mailbox its
UIDVALIDITY, UIDNEXT, the UID of every message with that message's Message-ID (taken from
BODY.PEEK[] and parsed here), and each UID's FLAGS and INTERNALDATE.

usage: uids.py MAILBOX
"""

import json
import re
import sys

import gwtest as t


def main():
    mailbox = sys.argv[1] if len(sys.argv) > 1 else t.ALICE
    imap = t.connect()
    t.login(imap, t.name(mailbox))
    result = {}
    for _, _, name in t.list_folders(imap, "*"):
        exists, uidvalidity = t.select(imap, name)
        uidnext = t.response_code(imap, "UIDNEXT")
        uids = {}
        states = {}
        if exists:
            typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
            if typ != "OK":
                t.check(False, "%s: UID FETCH answered %s %r" % (name, typ, data))
            for item in t.parse_fetch(data):
                uid = t.fetch_number(item["text"], b"UID")
                mid = t.message_id(item["literals"][0]) if item["literals"] else None
                uids[str(uid)] = mid
                flags = re.search(rb"FLAGS \(([^)]*)\)", item["text"])
                date = re.search(rb'INTERNALDATE "([^"]*)"', item["text"])
                states[str(uid)] = "%s %s" % (
                    " ".join(sorted(flags.group(1).decode().split())) if flags else "?",
                    date.group(1).decode() if date else "?",
                )
        t.check(len(uids) == exists, "%s: EXISTS %d but %d UIDs" % (name, exists, len(uids)))
        result[name] = {
            "uidvalidity": uidvalidity.decode() if uidvalidity else None,
            "uidnext": uidnext.decode() if uidnext else None,
            "exists": exists,
            "uids": uids,
            "states": states,
        }
    imap.logout()
    print(json.dumps(result, sort_keys=True))
    if t.FAILURES:
        sys.exit(1)


if __name__ == "__main__":
    main()
