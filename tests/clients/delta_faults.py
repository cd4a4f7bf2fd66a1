"""Delta sync while Graph misbehaves: the delta routes answer 429 and 503 (with Retry-After) a
third of the time, some connections are reset mid-answer, and half-way Graph drops every delta
token. Mail delivered and read meanwhile must still reach a NOOP-polling session, every message
must keep one UID, no UID may name two messages, and a fresh session must see exactly what the
polling one sees.
"""

import json
import re
import time
import urllib.parse

import gwtest as t

NEW = 6
WAIT_LIMIT = 90


def set_faults(body):
    status, text = t.http("POST", t.GRAPH + "/_emulator/faults", json.dumps(body).encode(),
                          {"Content-Type": "application/json"})
    t.check(status in (200, 204), "faults set: %s %s" % (status, text[:200]))


def deliver(n):
    status, body = t.http(
        "POST",
        "%s/_emulator/mailboxes/%s/deliver?folder=inbox" % (t.GRAPH, urllib.parse.quote(t.ALICE, safe="")),
        b"From: caller@example.net\r\nTo: alice@contoso.example\r\nSubject: faulty %d\r\n"
        b"Message-ID: <delta-fault-%d@example.net>\r\n\r\nmessage %d\r\n" % (n, n, n),
        {"Content-Type": "message/rfc822"},
    )
    t.check(status == 201, "delivery %d: %s %s" % (n, status, body[:200]))


def view(imap):
    """UID -> (Message-ID, \\Seen) of the selected folder."""
    typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    t.check(typ == "OK", "UID FETCH answered %s" % typ)
    seen = {}
    for item in t.parse_fetch(data):
        uid = t.fetch_number(item["text"], b"UID")
        flags = re.search(rb"FLAGS \(([^)]*)\)", item["text"])
        mid = t.message_id(item["literals"][0]) if item["literals"] else None
        seen[uid] = (mid, bool(flags and b"\\Seen" in flags.group(1)))
    return seen


def main():
    graph = t.Graph(t.ALICE)
    inbox = graph.well_known("inbox")
    poller = t.connect()
    t.login(poller, t.name(t.ALICE))
    exists, _ = t.select(poller, "INBOX", readonly=True)
    before = view(poller)
    t.check(len(before) == exists, "the first view has every message")

    route = "GET /users/{id}/mailFolders/{id}/messages/delta"
    set_faults({
        "seed": 5,
        "errors": [
            {"route": route, "status": 429, "probability": 0.2, "retryAfter": 0.2},
            {"route": route, "status": 503, "probability": 0.15, "retryAfter": 0.1},
        ],
        "resetProbability": 0.05,
    })
    unread = [m for m in graph.get_all(
        "/mailFolders/%s/messages?$select=id,isRead&$top=1000" % urllib.parse.quote(inbox, safe="")
    ) if not m["isRead"]]
    for n in range(NEW):
        deliver(n)
        if n == NEW // 2:
            # Graph forgets every delta token: the next rounds start from scratch.
            set_faults({"invalidateDeltaTokens": True, "seed": 5, "errors": [
                {"route": route, "status": 503, "probability": 0.3, "retryAfter": 0.1}]})
        poller.noop()
    status, _ = t.http(
        "PATCH", graph.user + "/messages/%s" % urllib.parse.quote(unread[0]["id"], safe=""),
        json.dumps({"isRead": True}).encode(),
        {"Authorization": "Bearer " + graph.token, "Content-Type": "application/json"},
    )
    t.check(status == 200, "PATCH isRead: %s" % status)

    deadline = time.time() + WAIT_LIMIT
    while time.time() < deadline:
        poller.untagged_responses.clear()
        typ, _ = poller.noop()
        t.check(typ == "OK", "NOOP under faults answers OK, not %s" % typ)
        now = view(poller)
        if len(now) == exists + NEW and sum(1 for _, s in now.values() if s) > sum(1 for _, s in before.values() if s):
            break
        time.sleep(0.5)
    t.http("DELETE", t.GRAPH + "/_emulator/faults")
    status, body = t.http("GET", t.GRAPH + "/_emulator/stats")
    answered = {}
    for name, statuses in json.loads(body)["routes"].items():
        if name.startswith(route):
            for code, count in statuses.items():
                answered[code] = answered.get(code, 0) + count
    t.log("delta answers by status:", answered)
    t.check(answered.get("429", 0) + answered.get("503", 0) > 0, "Graph throttled delta rounds")
    t.check(answered.get("410", 0) > 0, "Graph refused a dropped delta token")

    after = view(poller)
    t.check(len(after) == exists + NEW, "every delivery arrived: %d of %d" % (len(after), exists + NEW))
    for uid, (mid, _) in before.items():
        t.check(after.get(uid, (None,))[0] == mid, "UID %s still names %s" % (uid, mid))
    mids = [mid for mid, _ in after.values()]
    t.check(len(set(mids)) == len(mids), "no message has two UIDs")
    new_uids = [uid for uid, (mid, _) in after.items() if mid and mid.startswith("<delta-fault-")]
    t.check(len(new_uids) == NEW and min(new_uids) > max(before), "the new messages got new UIDs: %r" % new_uids)
    t.check(
        sum(1 for _, s in after.values() if s) == sum(1 for _, s in before.values() if s) + 1,
        "the message read through Graph shows \\Seen",
    )

    fresh = t.connect()
    t.login(fresh, t.name(t.ALICE))
    t.select(fresh, "INBOX", readonly=True)
    t.check(view(fresh) == after, "a fresh session sees what the polling one sees")
    fresh.logout()
    poller.logout()
    t.finish()


if __name__ == "__main__":
    main()
