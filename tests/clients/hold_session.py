"""Logs in, selects INBOX, prints READY and waits for the server to speak: when the gateway
is stopped it must send `* BYE` before closing. Exits 0 if the first line read is `* BYE`.
"""

import gwtest as t


def main():
    imap = t.connect()
    t.login(imap, t.name(t.ALICE))
    t.select(imap, "INBOX")
    t.log("READY")
    imap.sock.settimeout(120)
    line = imap.readline()
    t.log("server said: %r" % line)
    t.check(line.startswith(b"* BYE"), "expected * BYE, got %r" % line)
    t.finish()


if __name__ == "__main__":
    main()
