"""FETCH every message of one or more folders with imaplib and compare them byte for byte with
the MIME the emulator holds ($value).

usage: fetch_compare.py MAILBOX (--all | FOLDER...)

For each folder: EXAMINE; EXISTS equals Graph's message count; UID FETCH 1:* (UID RFC822.SIZE
INTERNALDATE BODY.PEEK[]) returns every message once; the multiset of BODY[] equals the multiset
of $value; RFC822.SIZE equals the length of BODY[]; UIDs ascend with receivedDateTime; UIDNEXT
is above every UID.
"""

import imaplib
import sys
import time
from collections import Counter
from datetime import datetime, timezone

import gwtest as t




def graph_epoch(value):
    return datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()


def compare_folder(imap, graph, folder):
    t.log("== folder %s (Graph id %s, %d items)" % (folder["imap"], folder["id"][:16], folder["total"]))
    messages = graph.messages(folder["id"])
    expected = {}
    received = {}
    for message in messages:
        mime = graph.mime(message["id"])
        expected.setdefault(mime, []).append(message["id"])
        received[mime] = message.get("receivedDateTime")
    expected_bodies = Counter({mime: len(ids) for mime, ids in expected.items()})

    exists, uidvalidity = t.select(imap, folder["imap"])
    t.check(exists == len(messages), "%s: EXISTS %s, Graph holds %d" % (folder["imap"], exists, len(messages)))
    t.check(uidvalidity is not None, "%s: no UIDVALIDITY in SELECT" % folder["imap"])
    uidnext = t.response_code(imap, "UIDNEXT")
    if exists == 0:
        t.log("   empty")
        return len(messages)

    typ, data = imap.uid("FETCH", "1:*", "(UID RFC822.SIZE INTERNALDATE BODY.PEEK[])")
    t.check(typ == "OK", "%s: UID FETCH answered %s %r" % (folder["imap"], typ, data[-1:]))
    fetched = t.parse_fetch(data)
    t.check(len(fetched) == len(messages), "%s: %d FETCH responses for %d messages" % (folder["imap"], len(fetched), len(messages)))

    got = Counter()
    uids = []
    order = []
    for item in fetched:
        text = item["text"]
        uid = t.fetch_number(text, b"UID")
        size = t.fetch_number(text, b"RFC822.SIZE")
        if not t.check(uid is not None, "%s: FETCH without UID: %r" % (folder["imap"], text[:200])):
            continue
        if not t.check(len(item["literals"]) == 1 and b"BODY[]" in text, "%s UID %s: BODY[] not returned as one literal: %r" % (folder["imap"], uid, text[:200])):
            continue
        body = item["literals"][0]
        uids.append(uid)
        got[body] += 1
        t.check(size == len(body), "%s UID %d: RFC822.SIZE %s but BODY[] has %d octets" % (folder["imap"], uid, size, len(body)))
        if body not in expected:
            first = body.split(b"\r\n\r\n", 1)[0][:400]
            t.check(False, "%s UID %d: BODY[] (%d octets) equals no message the emulator holds; header: %r" % (folder["imap"], uid, len(body), first))
        else:
            order.append((uid, received[body]))
            date = t.re.search(rb'INTERNALDATE "([^"]+)"', text)
            if t.check(date is not None, "%s UID %d: no INTERNALDATE" % (folder["imap"], uid)) and received[body]:
                got_epoch = time.mktime(imaplib.Internaldate2tuple(b'INTERNALDATE "' + date.group(1) + b'"'))
                t.check(abs(got_epoch - graph_epoch(received[body])) < 1.5,
                        "%s UID %d: INTERNALDATE %s but receivedDateTime %s" % (folder["imap"], uid, date.group(1).decode(), received[body]))

    t.check(len(set(uids)) == len(uids), "%s: duplicate UIDs %r" % (folder["imap"], sorted(uids)))
    missing = expected_bodies - got
    extra = got - expected_bodies
    t.check(not missing and not extra,
            "%s: %d message(s) of the emulator not returned, %d returned that differ" % (folder["imap"], sum(missing.values()), sum(extra.values())))
    order.sort()
    dates = [d for _, d in order]
    t.check(dates == sorted(dates), "%s: UIDs do not ascend with receivedDateTime: %r" % (folder["imap"], order[:20]))
    if uidnext is not None and uids:
        t.check(int(uidnext) > max(uids), "%s: UIDNEXT %s not above the highest UID %d" % (folder["imap"], uidnext, max(uids)))
    t.log("   %d messages, %d octets, byte-identical: %s" % (len(uids), sum(len(b) for b in got.elements()), not missing and not extra))
    return len(messages)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    mailbox = sys.argv[1]
    graph = t.Graph(mailbox)
    tree = graph.folders()
    if sys.argv[2] == "--all":
        folders = tree
    else:
        by_name = {f["imap"]: f for f in tree}
        folders = []
        for name in sys.argv[2:]:
            if t.check(name in by_name, "no folder %s in Graph (have %r)" % (name, sorted(by_name))):
                folders.append(by_name[name])

    imap = t.connect()
    t.login(imap, t.name(mailbox))
    total = 0
    for folder in folders:
        try:
            total += compare_folder(imap, graph, folder)
        except (imaplib.IMAP4.error, RuntimeError) as err:
            t.check(False, "%s: %s" % (folder["imap"], err))
    imap.logout()
    t.log("compared %d messages in %d folders of %s" % (total, len(folders), mailbox))
    t.check(total > 0, "no messages compared at all")
    t.finish()


if __name__ == "__main__":
    main()
