"""Changes made behind the gateway's back reach selected sessions as untagged responses:
session A IDLEs on alice's INBOX while mail is delivered (the emulator's admin API, as a
transport would), a message is marked read, another deleted and a third moved through Graph's
own API (as Outlook would). A must see EXISTS, FETCH FLAGS and EXPUNGE while idling; session B,
which only sends NOOP, must see the same; the moved message must show up in Archive under a new
UID; a folder created, renamed and deleted through Graph must show in LIST each time; and a
session with that folder selected goes on through the rename and the move into Deleted Items,
and is told BYE when the folder is deleted for good.
"""

import imaplib
import json
import urllib.parse

import gwtest as t

def status_items(imap, folder):
    """STATUS folder (MESSAGES UIDNEXT) -> {"MESSAGES": n, "UIDNEXT": n}."""
    typ, data = imap.status('"%s"' % folder, "(MESSAGES UIDNEXT)")
    t.check(typ == "OK", "STATUS %s: %s %r" % (folder, typ, data))
    items = data[0].decode().split("(", 1)[1].rstrip(")").split()
    return {items[i]: int(items[i + 1]) for i in range(0, len(items), 2)}


def graph_request(graph, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": "Bearer " + graph.token}
    if data is not None:
        headers["Content-Type"] = "application/json"
    return t.http(method, graph.user + path, data, headers)


def main():
    graph = t.Graph(t.ALICE)
    inbox = graph.well_known("inbox")
    archive = graph.well_known("archive")
    messages = graph.get_all(
        "/mailFolders/%s/messages?$select=id,isRead,internetMessageId&$top=1000"
        % urllib.parse.quote(inbox, safe="")
    )
    unread = [m for m in messages if not m["isRead"]]
    t.check(len(unread) >= 1 and len(messages) >= 3, "the seed has unread mail in INBOX")

    a = t.connect()
    t.login(a, t.name(t.ALICE))
    exists_a, _ = t.select(a, "INBOX", readonly=False)
    b = t.connect()
    t.login(b, t.name(t.ALICE))
    exists_b, _ = t.select(b, "INBOX", readonly=False)
    t.check(exists_a == exists_b == len(messages), "both sessions see every message")
    archive_before = status_items(b, "Archive")

    tag = a._new_tag()
    a.send(tag + b" IDLE\r\n")
    t.check(a.readline().startswith(b"+"), "IDLE is accepted with a continuation")

    status, body = t.http(
        "POST",
        "%s/_emulator/mailboxes/%s/deliver?folder=inbox"
        % (t.GRAPH, urllib.parse.quote(t.ALICE, safe="")),
        b"From: caller@example.net\r\nTo: alice@contoso.example\r\nSubject: New voice message\r\n"
        b"Message-ID: <live-1@example.net>\r\n\r\nPlease call back.\r\n",
        {"Content-Type": "message/rfc822"},
    )
    t.check(status in (200, 201), "delivery through the emulator: %s %s" % (status, body[:200]))
    t.idle_until(a, lambda l: l == "* %d EXISTS" % (len(messages) + 1), "A")

    status, _ = graph_request(
        graph, "PATCH", "/messages/%s" % urllib.parse.quote(unread[0]["id"], safe=""), {"isRead": True}
    )
    t.check(status == 200, "PATCH isRead through Graph: %s" % status)
    t.idle_until(a, lambda l: " FETCH (" in l and "\\Seen" in l, "A")

    victim = [m for m in messages if m["id"] != unread[0]["id"]][0]
    status, _ = graph_request(graph, "DELETE", "/messages/%s" % urllib.parse.quote(victim["id"], safe=""))
    t.check(status == 204, "DELETE through Graph: %s" % status)
    t.idle_until(a, lambda l: l.endswith(" EXPUNGE"), "A")

    a.send(b"DONE\r\n")
    done = a.readline().decode().rstrip()
    t.log("A <", done)
    t.check(done.startswith(tag.decode() + " OK"), "DONE ends IDLE with OK: %r" % done)

    b.untagged_responses.clear()
    typ, _ = b.noop()
    t.log("B NOOP:", typ, b.untagged_responses)
    t.check(typ == "OK", "B's NOOP completes")
    # One message came, one went: after its EXPUNGE, B's EXISTS counts what Graph holds now.
    now = len(graph.get_all("/mailFolders/%s/messages?$select=id&$top=1000" % urllib.parse.quote(inbox, safe="")))
    t.check(
        b.untagged_responses.get("EXISTS", [b""])[-1] == str(now).encode(),
        "B learns of the new message on NOOP (EXISTS %d)" % now,
    )
    t.check(b.untagged_responses.get("EXPUNGE"), "B learns of the deleted message on NOOP")
    t.check(b.untagged_responses.get("FETCH"), "B learns of the flag change on NOOP")

    mover = [m for m in messages if m["id"] not in (victim["id"], unread[0]["id"])][0]
    status, _ = graph_request(
        graph, "POST", "/messages/%s/move" % urllib.parse.quote(mover["id"], safe=""),
        {"destinationId": archive},
    )
    t.check(status == 201, "move through Graph: %s" % status)
    b.untagged_responses.clear()
    typ, _ = b.noop()
    t.check(b.untagged_responses.get("EXPUNGE"), "B sees the moved message leave INBOX")
    archive_after = status_items(b, "Archive")
    t.check(
        archive_after["MESSAGES"] == archive_before["MESSAGES"] + 1,
        "Archive has the moved message: %r -> %r" % (archive_before, archive_after),
    )
    t.check(
        archive_after["UIDNEXT"] > archive_before["UIDNEXT"],
        "the moved message has a new UID in Archive: %r -> %r" % (archive_before, archive_after),
    )

    # Folders made, renamed and deleted in Outlook show in the next LIST.
    def names():
        return [name for _, _, name in t.list_folders(b, "*")]

    status, body = graph_request(graph, "POST", "/mailFolders", {"displayName": "Made in Outlook"})
    t.check(status == 201, "folder created through Graph: %s" % status)
    made = json.loads(body)["id"]
    t.check("Made in Outlook" in names(), "LIST shows a folder created through Graph")
    # Session C has the folder selected while it is renamed (C stays: the folder keeps its id)
    # and then deleted (C is told BYE, as Dovecot tells it).
    c = t.connect()
    t.login(c, t.name(t.ALICE))
    t.select(c, "Made in Outlook", readonly=False)
    status, _ = graph_request(
        graph, "PATCH", "/mailFolders/%s" % urllib.parse.quote(made, safe=""),
        {"displayName": "Renamed in Outlook"},
    )
    t.check(status == 200, "folder renamed through Graph: %s" % status)
    listed = names()
    t.check(
        "Renamed in Outlook" in listed and "Made in Outlook" not in listed,
        "LIST shows the folder's new name only: %r" % listed,
    )
    typ, _ = c.noop()
    t.check(typ == "OK", "a session in a folder renamed elsewhere goes on")
    # Deleting a folder moves it into Deleted Items (it keeps its id, so C goes on); deleting it
    # there removes it for good.
    status, _ = graph_request(graph, "DELETE", "/mailFolders/%s" % urllib.parse.quote(made, safe=""))
    t.check(status == 204, "folder deleted through Graph: %s" % status)
    listed = names()
    t.check(
        "Renamed in Outlook" not in listed and "Deleted Items/Renamed in Outlook" in listed,
        "LIST shows the deleted folder in Deleted Items: %r" % listed,
    )
    typ, _ = c.noop()
    t.check(typ == "OK", "a session in a folder moved to Deleted Items goes on")
    status, _ = graph_request(graph, "DELETE", "/mailFolders/%s" % urllib.parse.quote(made, safe=""))
    t.check(status == 204, "folder deleted from Deleted Items through Graph: %s" % status)
    t.check(
        not any("Renamed in Outlook" in name for name in names()),
        "LIST no longer shows a folder deleted for good",
    )
    try:
        typ, data = c.noop()
        t.check(False, "NOOP in a folder deleted elsewhere answered %s %r, not BYE" % (typ, data))
    except imaplib.IMAP4.abort as err:
        t.check("deleted" in str(err), "BYE says the selected folder was deleted: %s" % err)
    a.logout()
    b.logout()
    t.finish()


if __name__ == "__main__":
    main()
