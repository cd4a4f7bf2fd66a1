"""Drives a gateway through the paths that handle the secret and the access token: LOGIN,
AUTHENTICATE PLAIN (the secret travels base64-encoded), LIST, SELECT, FETCH of bodies, and a
wrong secret both ways. Prints every encoded form of a secret it sent as `SENT-SECRET: ...`
lines, so the Rust test can look for them in the gateway's log.

usage: log_probe.py WRONG_SECRET
"""

import base64
import imaplib
import sys

import gwtest as t


def main():
    wrong = sys.argv[1]
    sent = set()

    imap = t.connect()
    t.login(imap, t.name(t.ALICE))
    sent.add(t.quote(t.SECRET))
    t.list_folders(imap, "*")
    exists, _ = t.select(imap, "INBOX")
    typ, data = imap.uid("FETCH", "1:10", "(UID FLAGS RFC822.SIZE BODY.PEEK[] ENVELOPE BODYSTRUCTURE)")
    t.check(typ == "OK", "UID FETCH answered %s" % typ)
    t.check(len(t.parse_fetch(data)) == min(10, exists), "fewer FETCH responses than asked for")
    imap.logout()

    for secret in (t.SECRET, wrong):
        for authzid, authcid in (("", t.name(t.VOICEMAIL)), (t.VOICEMAIL, t.name())):
            payload = authzid.encode() + b"\0" + authcid.encode() + b"\0" + secret.encode()
            sent.add(base64.b64encode(payload).decode())
            imap = t.connect()
            status, text = t.raw_authenticate_plain(imap, authzid.encode(), authcid.encode(), secret.encode())
            t.log("AUTHENTICATE PLAIN %r/%r: %s %s" % (authzid, authcid, status, text))
            t.check((status == "OK") == (secret == t.SECRET), "AUTHENTICATE PLAIN answered %s %s" % (status, text))
            if status == "OK":
                t.select(imap, "INBOX")
                imap.fetch("1", "(BODY.PEEK[])")
                imap.logout()

    # AUTHENTICATE PLAIN with SASL-IR (as curl sends it): the secret is on the command line.
    for secret in (t.SECRET, wrong):
        initial = base64.b64encode(b"\0" + t.name(t.ALICE).encode() + b"\0" + secret.encode()).decode()
        sent.add(initial)
        imap = t.connect()
        try:
            status, data = imap._simple_command("AUTHENTICATE", "PLAIN", initial)
            text = b" ".join(d for d in data if d).decode()
        except imaplib.IMAP4.error as err:
            status, text = "BAD", str(err)
        t.log("AUTHENTICATE PLAIN with SASL-IR: %s %s" % (status, text))
        t.check((status == "OK") == (secret == t.SECRET), "SASL-IR answered %s %s" % (status, text))
        if status == "OK":
            imap.state = "AUTH"
            imap.logout()

    imap = t.connect()
    status, text = t.raw_login(imap, t.name(t.ALICE), wrong)
    sent.add(t.quote(wrong))
    t.log("LOGIN with a wrong secret: %s %s" % (status, text))
    t.check(status == "NO" and "[AUTHENTICATIONFAILED]" in text, "wrong secret answered %s %s" % (status, text))

    for form in sorted(sent):
        print("SENT-SECRET: " + form)
    t.finish()


if __name__ == "__main__":
    main()
