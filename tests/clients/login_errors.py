"""Logins that must fail, and how: each on its own connection, with LOGIN (quoted name, as
fetchmail sends it) or AUTHENTICATE PLAIN (which can carry CR, LF and NUL inside base64).

- wrong secret, unknown tenant, unknown application -> NO [AUTHENTICATIONFAILED]; the answer
  never echoes the secret;
- unknown mailbox -> NO [AUTHORIZATIONFAILED];
- hostile or malformed names (path traversal, percent-encoding, query and fragment characters,
  spaces, CR/LF, NUL, over-long parts) -> NO [AUTHENTICATIONFAILED] (a NUL in a quoted string
  is not IMAP syntax, so BAD is accepted there; a malformed PLAIN authorization identity may be
  refused with NO [AUTHORIZATIONFAILED], RFC 5530), and none of them causes a Graph request;
- after a failed login the connection still accepts a correct one.
"""

import json

import gwtest as t

WRONG = "wrong-secret-7c1e0d"


def stats():
    status, body = t.http("GET", t.GRAPH + "/_emulator/stats")
    return json.loads(body)


def attempt(title, how, args, expect, allow_bad=False, retry_ok=False, also=None):
    imap = t.connect()
    if how == "login":
        user, secret = args
        status, text = t.raw_login(imap, user, secret, quoted=True)
    else:
        authzid, authcid, secret = args
        status, text = t.raw_authenticate_plain(imap, authzid, authcid, secret)
    t.log("-- %s\n   %s %s" % (title, status, text))
    good = status == "NO" and ("[%s]" % expect) in text
    if also and status == "NO" and ("[%s]" % also) in text:
        good = True
    if allow_bad and status == "BAD":
        good = True
    t.check(good, "%s: answered %s %s, expected NO [%s]" % (title, status, text, expect))
    for secret in (WRONG, t.SECRET):
        t.check(secret not in text, "%s: the answer echoes the secret: %s" % (title, text))
    if retry_ok and status in ("NO", "BAD"):
        status, text = t.raw_login(imap, t.name(t.ALICE), t.SECRET, quoted=True)
        t.check(status == "OK", "%s: a correct LOGIN after the failure answered %s %s" % (title, status, text))
    try:
        imap.logout()
    except Exception:
        pass


def main():
    cid = t.CLIENT_ID
    long_label = "a" * 300
    hostile_logins = [
        ("mailbox ../", "%s/%s/../alice@%s" % (t.TENANT, cid, t.TENANT)),
        ("mailbox ../../users", "%s/%s/../../users/alice@%s" % (t.TENANT, cid, t.TENANT)),
        ("mailbox with %2f", "%s/%s/alice%%2f..%%2f@%s" % (t.TENANT, cid, t.TENANT)),
        ("mailbox with %2e%2e", "%s/%s/%%2e%%2e" % (t.TENANT, cid)),
        ("mailbox with ?", "%s/%s/alice@%s?$select=id" % (t.TENANT, cid, t.TENANT)),
        ("mailbox with #", "%s/%s/alice@%s#x" % (t.TENANT, cid, t.TENANT)),
        ("mailbox with a space", "%s/%s/alice @%s" % (t.TENANT, cid, t.TENANT)),
        ("mailbox with a quote", '%s/%s/ali"ce@%s' % (t.TENANT, cid, t.TENANT)),
        ("four parts", "%s/%s/alice@%s/messages" % (t.TENANT, cid, t.TENANT)),
        ("tenant ..", "../%s/alice@%s" % (cid, t.TENANT)),
        ("tenant with %2f", "contoso.example%%2f..%%2f/%s/alice" % cid),
        ("tenant with /oauth2 path", "%s/oauth2/v2.0/token/%s" % (t.TENANT, cid)),
        ("client id not a GUID", "%s/not-a-guid/alice@%s" % (t.TENANT, t.TENANT)),
        ("client id with ../", "%s/../%s/alice" % (t.TENANT, cid)),
        ("empty parts", "//"),
        ("empty name", ""),
        ("over-long mailbox", "%s/%s/%s@%s" % (t.TENANT, cid, long_label * 4, t.TENANT)),
        ("over-long tenant", "%s.example/%s/alice" % (long_label, cid)),
    ]
    hostile_plain = [
        ("PLAIN: CR/LF in the mailbox", b"", ("%s/%s/alice@%s\r\nX-Evil: 1" % (t.TENANT, cid, t.TENANT)).encode()),
        ("PLAIN: CR/LF in the authzid", ("alice@%s\r\n../x" % t.TENANT).encode(), ("%s/%s" % (t.TENANT, cid)).encode()),
        ("PLAIN: NUL inside the tenant", b"", ("%s\0x/%s" % (t.TENANT, cid)).encode()),
        ("PLAIN: ../ in the authzid", ("../alice@%s" % t.TENANT).encode(), ("%s/%s" % (t.TENANT, cid)).encode()),
        ("PLAIN: %2f in the authzid", ("alice%%2f@%s" % t.TENANT).encode(), ("%s/%s" % (t.TENANT, cid)).encode()),
        ("PLAIN: invalid UTF-8", b"", b"\xff\xfe/" + cid.encode()),
    ]

    before = stats()
    for title, user in hostile_logins:
        attempt("hostile LOGIN name, " + title, "login", (user, t.SECRET), "AUTHENTICATIONFAILED")
    attempt("hostile LOGIN name, NUL", "login", ("%s/%s\0/alice" % (t.TENANT, cid), t.SECRET), "AUTHENTICATIONFAILED", allow_bad=True)
    for title, authzid, authcid in hostile_plain:
        # A malformed authorization identity may also be refused as such (RFC 5530).
        also = "AUTHORIZATIONFAILED" if authzid else None
        attempt("hostile " + title, "plain", (authzid, authcid, t.SECRET.encode()), "AUTHENTICATIONFAILED", also=also)
    after = stats()
    t.log("Graph requests during the hostile logins: %s -> %s" % (before.get("total"), after.get("total")))
    t.check(before.get("total") == after.get("total"),
            "hostile login names caused Graph requests: routes before %s, after %s"
            % (json.dumps(before.get("routeTotals")), json.dumps(after.get("routeTotals"))))

    attempt("hostile LOGIN name, then a correct one", "login", ("%s/%s/../alice@%s" % (t.TENANT, cid, t.TENANT), t.SECRET), "AUTHENTICATIONFAILED", retry_ok=True)
    attempt("wrong secret (LOGIN)", "login", (t.name(t.ALICE), WRONG), "AUTHENTICATIONFAILED", retry_ok=True)
    attempt("wrong secret (AUTHENTICATE PLAIN)", "plain", (b"", t.name(t.ALICE).encode(), WRONG.encode()), "AUTHENTICATIONFAILED")
    attempt("empty secret", "login", (t.name(t.ALICE), ""), "AUTHENTICATIONFAILED")
    attempt("unknown tenant (domain)", "login", ("fabrikam.example/%s/alice@fabrikam.example" % cid, t.SECRET), "AUTHENTICATIONFAILED")
    attempt("unknown tenant (GUID)", "login", ("00000000-1111-2222-3333-444444444444/%s/alice@%s" % (cid, t.TENANT), t.SECRET), "AUTHENTICATIONFAILED")
    attempt("unknown application", "login", ("%s/99999999-8888-7777-6666-555555555555/alice@%s" % (t.TENANT, t.TENANT), t.SECRET), "AUTHENTICATIONFAILED")
    attempt("unknown mailbox", "login", (t.name("nobody@" + t.TENANT), t.SECRET), "AUTHORIZATIONFAILED", retry_ok=True)
    attempt("unknown alias", "login", (t.name("nobody"), t.SECRET), "AUTHORIZATIONFAILED")
    attempt("unknown mailbox via PLAIN authzid", "plain", (("nobody@" + t.TENANT).encode(), t.name().encode(), t.SECRET.encode()), "AUTHORIZATIONFAILED")
    attempt("mailbox of another domain", "login", (t.name("alice@fabrikam.example"), t.SECRET), "AUTHORIZATIONFAILED")
    t.finish()


if __name__ == "__main__":
    main()
