"""LIST, LSUB, STATUS and SELECT of alice's folders, checked against the folder tree Graph holds.

- LIST "" "*" names every Graph folder exactly once, with delimiter "/", the inbox as INBOX,
  display names in modified UTF-7 joined by "/";
- SPECIAL-USE attributes on the well-known folders (\\Sent, \\Drafts, \\Trash, \\Junk, \\Archive)
  and on no other folder; \\HasChildren / \\HasNoChildren as Graph's childFolderCount says;
- the non-ASCII folders are listed in modified UTF-7 and can be selected by that name;
- LIST "" "%" gives the top level only; LIST "" "INBOX/%" the inbox's children;
- STATUS (MESSAGES) of every folder equals Graph's count; SELECT works for every folder.
"""

import imaplib

import gwtest as t

SPECIAL = {"\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive", "\\All", "\\Flagged"}


def main():
    graph = t.Graph(t.ALICE)
    tree = graph.folders()
    expected = {f["imap"]: f for f in tree}
    t.log("Graph folders: %s" % sorted(expected))

    imap = t.connect()
    t.login(imap, t.name(t.ALICE))

    listed = t.list_folders(imap, "*")
    for attrs, delim, name in listed:
        t.log("LIST (%s) %r %s" % (" ".join(attrs), delim, name))
    names = [name for _, _, name in listed]
    t.check(len(names) == len(set(names)), "LIST names a folder twice: %r" % names)
    t.check(set(names) == set(expected),
            "LIST and Graph differ: only in LIST %r, only in Graph %r"
            % (sorted(set(names) - set(expected)), sorted(set(expected) - set(names))))
    t.check("INBOX" in names, "INBOX is not listed as INBOX")

    non_ascii = [f for f in tree if any(ord(c) > 127 for c in f["displayName"])]
    t.check(non_ascii, "the demo mailbox has no folder with a non-ASCII name")
    for f in non_ascii:
        t.check("&" in f["imap"] and f["imap"] in names,
                "non-ASCII folder %r is not listed as %r" % (f["displayName"], f["imap"]))

    for attrs, delim, name in listed:
        t.check(delim == "/", "%s: delimiter %r, expected '/'" % (name, delim))
        folder = expected.get(name)
        if folder is None:
            continue
        lower = {a.lower() for a in attrs}
        special = {a for a in attrs if a in SPECIAL}
        want = {folder["special"]} if folder["special"] else set()
        t.check(special == want, "%s: SPECIAL-USE %r, expected %r" % (name, sorted(special), sorted(want)))
        if folder["children"] > 0:
            t.check("\\haschildren" in lower and "\\hasnochildren" not in lower,
                    "%s has %d child folders but LIST says %r" % (name, folder["children"], attrs))
        else:
            t.check("\\hasnochildren" in lower and "\\haschildren" not in lower,
                    "%s has no child folders but LIST says %r" % (name, attrs))
    for attr in ["\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive"]:
        t.check(any(attr in attrs for attrs, _, _ in listed), "no folder carries %s" % attr)

    top = {name for _, _, name in t.list_folders(imap, "%")}
    want_top = {name for name in expected if "/" not in name}
    t.check(top == want_top, 'LIST "" "%%" gave %r, expected %r' % (sorted(top), sorted(want_top)))
    inbox_children = {name for _, _, name in t.list_folders(imap, "INBOX/%")}
    want_children = {name for name in expected if name.startswith("INBOX/") and name.count("/") == 1}
    t.check(inbox_children == want_children,
            'LIST "" "INBOX/%%" gave %r, expected %r' % (sorted(inbox_children), sorted(want_children)))

    typ, data = imap.lsub('""', "*")
    t.check(typ == "OK", "LSUB failed: %r" % data)

    for name, folder in sorted(expected.items()):
        try:
            typ, data = imap.status(t.quote(name), "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
            t.check(typ == "OK", "STATUS %s: %s %r" % (name, typ, data))
            text = b" ".join(d for d in data if isinstance(d, bytes))
            messages = t.fetch_number(text, b"MESSAGES")
            t.check(messages == folder["total"], "STATUS %s: MESSAGES %s, Graph holds %d" % (name, messages, folder["total"]))
            exists, uidvalidity = t.select(imap, name)
            t.check(exists == folder["total"], "SELECT %s: EXISTS %s, Graph holds %d" % (name, exists, folder["total"]))
            t.log("%s: STATUS MESSAGES %s, SELECT EXISTS %s, UIDVALIDITY %s" % (name, messages, exists, uidvalidity))
        except (imaplib.IMAP4.error, RuntimeError) as err:
            t.check(False, "%s: %s" % (name, err))

    # INBOX is case-insensitive (RFC 3501 5.1).
    exists, _ = t.select(imap, "inbox")
    t.check(exists == expected["INBOX"]["total"], "SELECT inbox (lower case): EXISTS %s" % exists)
    imap.logout()
    t.finish()


if __name__ == "__main__":
    main()
