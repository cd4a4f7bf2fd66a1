"""The non-mail commands and the states: CAPABILITY before and after login (and in the
greeting), ID, NAMESPACE, NOOP, SELECT/EXAMINE responses, CHECK, CLOSE, UNSELECT, write
commands answering OK or NO [CANNOT] (never BAD), garbage answered BAD with the
connection still usable, commands in the wrong state refused, LOGOUT with BYE.
"""

import gwtest as t


def raw(imap, tag, line):
    """Sends one raw command line; returns (untagged lines, tagged line)."""
    imap.send(("%s %s\r\n" % (tag, line)).encode())
    untagged = []
    while True:
        got = imap._get_line()
        if got.startswith(tag.encode() + b" "):
            return untagged, got
        untagged.append(got)


def main():
    imap = t.connect()
    welcome = imap.welcome
    t.log("greeting: %r" % welcome)
    t.check(welcome.startswith(b"* OK"), "greeting is not OK: %r" % welcome)
    caps = set(imap.capabilities)
    t.log("capabilities before login: %s" % sorted(caps))
    for cap in ("IMAP4REV1", "AUTH=PLAIN", "SASL-IR"):
        t.check(cap in caps, "%s missing before login" % cap)
    t.check("LOGINDISABLED" not in caps, "LOGINDISABLED advertised on a TLS connection")

    untagged, tagged = raw(imap, "p1", "SELECT INBOX")
    t.check(tagged.startswith(b"p1 NO") or tagged.startswith(b"p1 BAD"), "SELECT before login: %r" % tagged)
    untagged, tagged = raw(imap, "p2", "FOOBAR baz")
    t.check(tagged.startswith(b"p2 BAD"), "unknown command: %r" % tagged)
    untagged, tagged = raw(imap, "p3", "NOOP")
    t.check(tagged.startswith(b"p3 OK"), "NOOP after BAD: %r" % tagged)

    typ, data = imap.login(t.name(t.ALICE), t.SECRET)
    t.log("LOGIN: %s %r" % (typ, data))
    t.check(b"[CAPABILITY " in data[0], "LOGIN's OK carries no CAPABILITY code: %r" % data)
    untagged, tagged = raw(imap, "a1", "CAPABILITY")
    caps = b" ".join(untagged)
    t.log("capabilities after login: %r" % caps)
    t.check(caps.startswith(b"* CAPABILITY IMAP4rev1"), "CAPABILITY after login: %r" % untagged)
    for cap in (b"NAMESPACE", b"ID", b"UNSELECT", b"CHILDREN", b"SPECIAL-USE"):
        t.check(cap in caps.split(), "%s missing after login" % cap.decode())

    untagged, tagged = raw(imap, "a2", 'ID ("name" "gateway-test")')
    t.check(tagged.startswith(b"a2 OK") and any(l.startswith(b"* ID ") for l in untagged), "ID: %r %r" % (untagged, tagged))
    untagged, tagged = raw(imap, "a3", "NAMESPACE")
    t.check(tagged.startswith(b"a3 OK") and untagged == [b'* NAMESPACE (("" "/")) NIL NIL'], "NAMESPACE: %r %r" % (untagged, tagged))
    untagged, tagged = raw(imap, "a4", "NOOP")
    t.check(tagged.startswith(b"a4 OK"), "NOOP: %r" % tagged)
    untagged, tagged = raw(imap, "a5", "FETCH 1 (UID)")
    t.check(tagged.startswith(b"a5 NO") or tagged.startswith(b"a5 BAD"), "FETCH without a selected folder: %r" % tagged)

    untagged, tagged = raw(imap, "s1", "SELECT INBOX")
    t.log("SELECT: %r %r" % (untagged, tagged))
    joined = b"\n".join(untagged)
    for item in (b"* FLAGS (", b"[PERMANENTFLAGS (", b" EXISTS", b" RECENT", b"[UIDVALIDITY ", b"[UIDNEXT "):
        t.check(item in joined, "SELECT lacks %r" % item)
    t.check(tagged.startswith(b"s1 OK [READ-WRITE]") or tagged.startswith(b"s1 OK [READ-ONLY]"), "SELECT: %r" % tagged)
    untagged, tagged = raw(imap, "s2", "CHECK")
    t.check(tagged.startswith(b"s2 OK"), "CHECK: %r" % tagged)

    # Write commands: issue 2 allowed NO [CANNOT] until the write path lands; either way they
    # get a tagged answer, never BAD, and the session goes on. (Their effects are the write
    # path's tests' business.) Only a test folder is created, renamed and deleted.
    for tag, command in [
        ("w1", "STORE 1 +FLAGS (\\Seen)"),
        ("w2", "UID STORE 1 +FLAGS (\\Flagged)"),
        ("w3", "COPY 1 Archive"),
        ("w4", "EXPUNGE"),
        ("w5", 'CREATE "Test folder"'),
        ("w6", 'RENAME "Test folder" "Test folder 2"'),
        ("w7", 'DELETE "Test folder 2"'),
        ("w8", "SUBSCRIBE INBOX"),
    ]:
        untagged, tagged = raw(imap, tag, command)
        t.log("%s: %r" % (command, tagged))
        t.check(tagged.startswith(tag.encode() + b" OK") or tagged.startswith(tag.encode() + b" NO [CANNOT]"),
                "%s: %r, expected OK or NO [CANNOT]" % (command, tagged))
    untagged, tagged = raw(imap, "w9", "NOOP")
    t.check(tagged.startswith(b"w9 OK"), "NOOP after the write commands: %r" % tagged)

    untagged, tagged = raw(imap, "s3", "CLOSE")
    t.check(tagged.startswith(b"s3 OK"), "CLOSE: %r" % tagged)
    untagged, tagged = raw(imap, "s4", "FETCH 1 (UID)")
    t.check(not tagged.startswith(b"s4 OK"), "FETCH after CLOSE: %r" % tagged)
    untagged, tagged = raw(imap, "s5", "EXAMINE INBOX")
    t.check(tagged.startswith(b"s5 OK [READ-ONLY]"), "EXAMINE: %r" % tagged)
    untagged, tagged = raw(imap, "s6", "UNSELECT")
    t.check(tagged.startswith(b"s6 OK"), "UNSELECT: %r" % tagged)
    untagged, tagged = raw(imap, "s7", "SELECT \"No such folder\"")
    t.check(tagged.startswith(b"s7 NO"), "SELECT of a missing folder: %r" % tagged)
    untagged, tagged = raw(imap, "s8", "STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)")
    t.check(tagged.startswith(b"s8 OK") and any(l.startswith(b"* STATUS ") for l in untagged), "STATUS: %r %r" % (untagged, tagged))

    untagged, tagged = raw(imap, "z1", "LOGOUT")
    t.check(any(l.startswith(b"* BYE") for l in untagged) and tagged.startswith(b"z1 OK"), "LOGOUT: %r %r" % (untagged, tagged))
    t.finish()


if __name__ == "__main__":
    main()
