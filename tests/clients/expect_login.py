"""Logs in once and checks the tagged answer.

usage: expect_login.py LOGIN_NAME STATUS [CODE]
e.g.   expect_login.py contoso.example/<client id>/alice@contoso.example NO UNAVAILABLE
"""

import sys

import gwtest as t


def main():
    user, want_status = sys.argv[1], sys.argv[2]
    want_code = sys.argv[3] if len(sys.argv) > 3 else None
    imap = t.connect()
    status, text = t.raw_login(imap, user, t.SECRET, quoted=True)
    t.log("LOGIN %s: %s %s" % (user, status, text))
    t.check(status == want_status, "expected %s, got %s %s" % (want_status, status, text))
    if want_code:
        t.check("[%s]" % want_code in text, "expected [%s] in %s %s" % (want_code, status, text))
    t.check(t.SECRET not in text, "the answer echoes the secret")
    t.finish()


if __name__ == "__main__":
    main()
