"""Folder names over time, through imaplib: a name created, deleted and created again gets a
larger UIDVALIDITY each time (RFC 3501 2.3.1.1), on every instance sharing the uid store; LIST
never shows one name twice, Deleted Items included; LSUB lists an unsubscribed parent of a
subscribed folder \\Noselect where a `%` stops at it (RFC 3501 6.3.9).

usage: folder_names.py uidvalidity [OTHER_PORT]   three CREATE/DELETE rounds of one name, each
                                                  on the other instance in turn when given
       folder_names.py unique                     three CREATE/DELETE rounds, then LIST
       folder_names.py lsub                       prints LSUB answers as JSON, after checks
"""

import collections
import json
import sys

import gwtest as t

TRASH = "Deleted Items"


def ok(imap, typ, data, what):
    t.check(typ == "OK", "%s answered %s %r" % (what, typ, data))


def status(imap, name):
    """(UIDVALIDITY, UIDNEXT) of a folder, from STATUS."""
    typ, data = imap.status(t.quote(name), "(UIDVALIDITY UIDNEXT)")
    ok(imap, typ, data, "STATUS %s" % name)
    text = data[0] if typ == "OK" else b""
    return t.fetch_number(text, b"UIDVALIDITY"), t.fetch_number(text, b"UIDNEXT")


def rounds(name, sessions, count=3):
    """CREATE then DELETE `name` `count` times, each round on the next session; the
    (UIDVALIDITY, UIDNEXT) each creation had, as seen by the session that made it."""
    seen = []
    for n in range(count):
        imap = sessions[n % len(sessions)]
        typ, data = imap.create(t.quote(name))
        ok(imap, typ, data, "CREATE %s (round %d)" % (name, n + 1))
        seen.append(status(imap, name))
        for other in sessions:
            t.check(
                status(other, name) == seen[-1],
                "round %d: every instance gives %s the same UIDVALIDITY and UIDNEXT"
                % (n + 1, name),
            )
        typ, data = imap.delete(t.quote(name))
        ok(imap, typ, data, "DELETE %s (round %d)" % (name, n + 1))
    return seen


def uidvalidity(other_port):
    sessions = [t.session()]
    if other_port is not None:
        sessions.append(t.session(other_port))
    name = "Recreated"
    seen = rounds(name, sessions)
    t.log("UIDVALIDITY, UIDNEXT of each creation:", seen)
    validities = [validity for validity, _ in seen]
    t.check(all(v is not None for v in validities), "every STATUS named a UIDVALIDITY")
    t.check(
        all(a < b for a, b in zip(validities, validities[1:])),
        "each creation of %s has a larger UIDVALIDITY than the one before: %s"
        % (name, validities),
    )
    # The deleted folders keep theirs in Deleted Items, under names of their own.
    kept = [status(sessions[-1], "%s/%s" % (TRASH, deleted)) for deleted in deleted_names(name)]
    t.check(
        sorted(v for v, _ in kept) == validities,
        "the deleted folders keep their UIDVALIDITYs in %s: %s" % (TRASH, kept),
    )
    for imap in sessions:
        imap.logout()


def deleted_names(name, count=3):
    return [name] + ["%s (%d)" % (name, n) for n in range(2, count + 1)]


def unique():
    imap = t.session()
    name = "Again"
    rounds(name, [imap])
    names = [n for _, _, n in t.list_folders(imap, "*")]
    twice = [n for n, count in collections.Counter(names).items() if count > 1]
    t.check(not twice, "LIST shows every name once; twice: %s" % twice)
    in_trash = sorted(n for n in names if n.startswith(TRASH + "/" + name))
    expected = sorted("%s/%s" % (TRASH, n) for n in deleted_names(name))
    t.check(
        in_trash == expected,
        "each deletion kept in %s under a name of its own: %s" % (TRASH, in_trash),
    )
    t.check(name not in names, "%s itself is gone" % name)
    # Deleting one of them from Deleted Items removes it for good, and the name is free.
    typ, data = imap.delete(t.quote("%s/%s" % (TRASH, name)))
    ok(imap, typ, data, "DELETE from %s" % TRASH)
    names = [n for _, _, n in t.list_folders(imap, t.quote(TRASH + "/*"))]
    t.check("%s/%s" % (TRASH, name) not in names, "deleted for good from %s" % TRASH)
    imap.logout()


LSUB_PATTERNS = ["%", "*", "Lsub", "Lsub/%", "Lsub/%/%", "Ls%", "Lsub/*", "%/%", "*b/%"]


def lsub_lines(imap, pattern):
    """(name, \\Noselect?) of each LSUB line naming a folder under Lsub, in order."""
    typ, data = imap.lsub('""', t.quote(pattern))
    ok(imap, typ, data, 'LSUB "" %s' % pattern)
    lines = [t.parse_list_line(line) for line in data if line]
    return [
        [name, "\\Noselect" in attributes]
        for attributes, _, name in lines
        if name == "Lsub" or name.startswith("Lsub/")
    ]


def lsub():
    imap = t.session()
    for name in ["Lsub", "Lsub/child", "Lsub/child/leaf", "Lsub/other"]:
        typ, data = imap.create(t.quote(name))
        ok(imap, typ, data, "CREATE %s" % name)
    # CREATE does not subscribe (as in Dovecot): only the leaf is subscribed.
    typ, data = imap.subscribe(t.quote("Lsub/child/leaf"))
    ok(imap, typ, data, "SUBSCRIBE Lsub/child/leaf")
    answers = {pattern: lsub_lines(imap, pattern) for pattern in LSUB_PATTERNS}
    t.log("LSUB answers:", answers)
    t.check(answers["%"] == [["Lsub", True]], "LSUB %: Lsub, \\Noselect")
    t.check(answers["Ls%"] == [["Lsub", True]], "LSUB Ls%: Lsub, \\Noselect")
    t.check(answers["Lsub/%"] == [["Lsub/child", True]], "LSUB Lsub/%: Lsub/child, \\Noselect")
    t.check(answers["Lsub/%/%"] == [["Lsub/child/leaf", False]], "LSUB Lsub/%/%: the leaf")
    t.check(answers["*"] == [["Lsub/child/leaf", False]], "LSUB *: only what is subscribed")
    t.check(answers["Lsub"] == [], "LSUB Lsub: a pattern without % lists no parent")
    # A subscribed parent is listed as itself, selectable, and once.
    typ, data = imap.subscribe(t.quote("Lsub"))
    ok(imap, typ, data, "SUBSCRIBE Lsub")
    again = lsub_lines(imap, "%")
    t.check(again == [["Lsub", False]], "LSUB %% with Lsub subscribed: %s" % again)
    typ, data = imap.unsubscribe(t.quote("Lsub"))
    ok(imap, typ, data, "UNSUBSCRIBE Lsub")
    imap.logout()
    return answers


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "uidvalidity":
        uidvalidity(int(sys.argv[2]) if len(sys.argv) > 2 else None)
    elif what == "unique":
        unique()
    elif what == "lsub":
        answers = lsub()
        print("LSUB-JSON " + json.dumps(answers, sort_keys=True))
    else:
        sys.exit(__doc__)
    t.finish()


if __name__ == "__main__":
    main()
