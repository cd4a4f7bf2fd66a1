"""Delta items are patches: what a change made elsewhere does not touch stays as it was.

Run against a gateway whose NOOP synchronises the selected folder (noop freshness 0), and an
emulator in any delta mode (whole objects, only the changed properties, replays):
- a folder whose unread count changes in Outlook (a message read through Graph) is still
  LISTed under its name, and STATUS answers for it;
- a folder CREATEd through IMAP below INBOX is LISTed at once, and INBOX with it (the parent's
  child count changed);
- a message \\Flagged through IMAP and then read in Outlook keeps \\Flagged;
- `-FLAGS (\\Seen)` through IMAP keeps \\Flagged;
- polls that bring nothing new (replays, when the emulator replays) send no untagged FETCH;
- a message moved into Archive in Outlook (an update of its parentFolderId in Archive's delta)
  shows there with its flags. The emulator's request counts around that poll are printed as a
  line of JSON, {"movedIn": {"batches": n, "gets": n}}, for the test to check.
"""

import json
import random
import time
import urllib.parse

import gwtest as t

GET_MESSAGE = "GET /users/{id}/mailFolders/{id}/messages/{id}"
BATCH = "POST /$batch"


def stats():
    status, body = t.http("GET", t.GRAPH + "/_emulator/stats")
    if status != 200:
        raise RuntimeError("GET /_emulator/stats: %s" % status)
    return json.loads(body)


def count(before, after, route):
    return after["routeTotals"].get(route, 0) - before["routeTotals"].get(route, 0)


def graph_request(graph, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": "Bearer " + graph.token}
    if data is not None:
        headers["Content-Type"] = "application/json"
    status, answer = t.http(method, graph.user + path, data, headers)
    t.check(200 <= status < 300, "%s %s: %s %r" % (method, path, status, answer[:300]))
    return answer


def names(imap):
    return {name for _, _, name in t.list_folders(imap)}


def status(imap, folder):
    """STATUS folder (MESSAGES UNSEEN) -> {"MESSAGES": n, "UNSEEN": n}, or None."""
    typ, data = imap.status(t.quote(folder), "(MESSAGES UNSEEN)")
    if not t.check(typ == "OK", "STATUS %s: %s %r" % (folder, typ, data)):
        return None
    items = data[0].decode().split("(", 1)[1].rstrip(")").split()
    return {items[i]: int(items[i + 1]) for i in range(0, len(items), 2)}


def noop_fetches(imap, who):
    """NOOP, and the untagged FETCH responses it brought."""
    imap.untagged_responses.pop("FETCH", None)
    typ, _ = imap.noop()
    t.check(typ == "OK", "%s: NOOP" % who)
    fetches = imap.untagged_responses.pop("FETCH", None) or []
    t.log(who, "NOOP brought", fetches)
    return fetches


def flags_of(imap, uid):
    typ, data = imap.uid("FETCH", str(uid), "(FLAGS)")
    t.check(typ == "OK" and data and data[0], "UID FETCH %s FLAGS: %r" % (uid, data))
    text = data[0].decode() if data and data[0] else ""
    return text.split("FLAGS (", 1)[1].split(")", 1)[0].split() if "FLAGS (" in text else []


def message_ids(graph, folder_id):
    """internetMessageId -> Graph id in a folder."""
    return {
        m["internetMessageId"]: m["id"]
        for m in graph.get_all(
            "/mailFolders/%s/messages?$select=id,internetMessageId,isRead&$top=1000"
            % urllib.parse.quote(folder_id, safe="")
        )
    }


def graph_id_of_uid(imap, graph, folder_id, uid):
    typ, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    t.check(typ == "OK", "UID FETCH %s Message-ID" % uid)
    header = next(item[1] for item in data if isinstance(item, tuple))
    mid = t.message_id(header)
    return message_ids(graph, folder_id).get(mid)


def counts_keep_names(imap, graph):
    """A folder whose unread count changes in Outlook keeps its name in LIST and in STATUS."""
    inbox = graph.well_known("inbox")
    target = None
    for folder in graph.folders():
        if folder["id"] == inbox or "/" not in folder["imap"]:
            continue
        unread = graph.get_all(
            "/mailFolders/%s/messages?$select=id&$filter=isRead%%20eq%%20false&$top=1"
            % urllib.parse.quote(folder["id"], safe="")
        )
        if unread:
            target = (folder, unread[0]["id"])
            break
    if not t.check(target is not None, "the seed has a nested folder with unread mail"):
        return
    folder, message = target
    before_names = names(imap)
    before = status(imap, folder["imap"])
    graph_request(graph, "PATCH", "/messages/" + urllib.parse.quote(message, safe=""),
                  {"isRead": True})
    # The folder tree is served from memory for a few seconds; the next LIST after that asks
    # Graph's mailFolders/delta.
    time.sleep(5.5)
    after_names = names(imap)
    t.check(after_names == before_names,
            "LIST changed after a count changed: gone %r, new %r"
            % (sorted(before_names - after_names), sorted(after_names - before_names)))
    t.check(not any("(unnamed)" in n for n in after_names), "a folder lost its name: %r"
            % sorted(after_names))
    after = status(imap, folder["imap"])
    if before and after:
        t.check(after["UNSEEN"] == before["UNSEEN"] - 1,
                "STATUS %s UNSEEN %d -> %d" % (folder["imap"], before["UNSEEN"], after["UNSEEN"]))


def created_folder_is_listed(imap):
    """CREATE below INBOX: the new folder and INBOX are both LISTed, and STATUS answers."""
    fresh = "INBOX/Fresh-%d" % random.randrange(10**9)
    typ, data = imap.create(t.quote(fresh))
    t.check(typ == "OK", "CREATE %s: %r" % (fresh, data))
    listed = names(imap)
    t.check(fresh in listed, "%s is not LISTed after CREATE: %r" % (fresh, sorted(listed)))
    t.check("INBOX" in listed, "INBOX is not LISTed after a child was created")
    t.check(not any("(unnamed)" in n for n in listed), "a folder lost its name: %r"
            % sorted(listed))
    status(imap, fresh)
    status(imap, "INBOX")


def flags_survive_patches(imap, graph):
    """\\Flagged survives a read in Outlook and a -FLAGS \\Seen through IMAP; quiet polls send
    nothing."""
    inbox = graph.well_known("inbox")
    t.select(imap, "INBOX", readonly=False)
    typ, data = imap.uid("SEARCH", "UNSEEN UNFLAGGED")
    uids = data[0].split() if typ == "OK" and data and data[0] else []
    if not t.check(uids, "an unseen, unflagged INBOX message"):
        return
    uid = int(uids[0])
    graph_id = graph_id_of_uid(imap, graph, inbox, uid)
    if not t.check(graph_id, "UID %d found in Graph" % uid):
        return
    typ, _ = imap.uid("STORE", str(uid), "+FLAGS", "(\\Flagged)")
    t.check(typ == "OK", "STORE +FLAGS \\Flagged")
    noop_fetches(imap, "after +FLAGS")

    graph_request(graph, "PATCH", "/messages/" + urllib.parse.quote(graph_id, safe=""),
                  {"isRead": True})
    fetches = noop_fetches(imap, "after the read in Outlook")
    t.check(any(b"\\Seen" in f and b"\\Flagged" in f for f in fetches),
            "the read in Outlook came as FETCH (\\Seen \\Flagged): %r" % fetches)
    flags = flags_of(imap, uid)
    t.check("\\Seen" in flags and "\\Flagged" in flags,
            "read in Outlook: UID %d FLAGS %r" % (uid, flags))

    typ, _ = imap.uid("STORE", str(uid), "-FLAGS", "(\\Seen)")
    t.check(typ == "OK", "STORE -FLAGS \\Seen")
    for poll in range(3):
        fetches = noop_fetches(imap, "quiet poll %d" % poll)
        t.check(not fetches, "a poll that brought nothing new sent FETCH %r" % fetches)
    flags = flags_of(imap, uid)
    t.check("\\Seen" not in flags and "\\Flagged" in flags,
            "after -FLAGS \\Seen: UID %d FLAGS %r" % (uid, flags))
    other = t.connect()
    t.login(other, t.name(t.ALICE))
    t.select(other, "INBOX")
    flags = flags_of(other, uid)
    t.check("\\Seen" not in flags and "\\Flagged" in flags,
            "a new session: UID %d FLAGS %r" % (uid, flags))
    other.logout()


def moved_in_is_completed(imap, graph):
    """A message moved into Archive in Outlook shows there with its flags."""
    inbox = graph.well_known("inbox")
    archive = graph.well_known("archive")
    exists, _ = t.select(imap, "Archive", readonly=False)
    listed = graph.get_all(
        "/mailFolders/%s/messages?$select=id,internetMessageId&$top=1000"
        % urllib.parse.quote(inbox, safe="")
    )
    message = listed[-1]
    path = "/messages/" + urllib.parse.quote(message["id"], safe="")
    graph_request(graph, "PATCH", path, {"isRead": True, "flag": {"flagStatus": "flagged"}})
    graph_request(graph, "POST", path + "/move", {"destinationId": archive})
    before = stats()
    imap.untagged_responses.pop("EXISTS", None)
    typ, _ = imap.noop()
    after = stats()
    t.check(typ == "OK", "NOOP on Archive")
    now = int((imap.untagged_responses.pop("EXISTS", None) or [b"0"])[-1])
    t.check(now == exists + 1, "Archive EXISTS %d -> %d after the move" % (exists, now))
    typ, data = imap.fetch(str(now), "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    t.check(typ == "OK", "FETCH the moved message")
    text = b" ".join(item[0] if isinstance(item, tuple) else item for item in data if item)
    header = next((item[1] for item in data if isinstance(item, tuple)), b"")
    t.check(t.message_id(header) == message["internetMessageId"],
            "the new Archive message is the one moved: %r" % header)
    t.check(b"\\Seen" in text and b"\\Flagged" in text,
            "the moved message shows its flags: %r" % text)
    t.log(json.dumps({"movedIn": {"batches": count(before, after, BATCH),
                                  "gets": count(before, after, GET_MESSAGE)}}))


def main():
    graph = t.Graph(t.ALICE)
    imap = t.connect()
    t.login(imap, t.name(t.ALICE))
    counts_keep_names(imap, graph)
    created_folder_is_listed(imap)
    flags_survive_patches(imap, graph)
    moved_in_is_completed(imap, graph)
    imap.logout()
    t.finish()


if __name__ == "__main__":
    main()
