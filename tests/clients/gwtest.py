"""Helpers shared by the imaplib client scripts that the Rust integration tests run.

The Rust harness passes where things are through the environment:
I2G_IMAP_HOST, I2G_IMAP_PORT, I2G_CA_FILE (the gateway's self-signed certificate),
I2G_GRAPH_URL (the emulator, http://ADDR), I2G_TENANT, I2G_TENANT_ID, I2G_CLIENT_ID, I2G_SECRET.

Scripts print what they do, record failed checks with `check`, and end with `finish()`, which
exits 1 if any check failed. Nothing here is part of the gateway: only the standard library.
"""

import base64
import email
import email.policy
import imaplib
import json
import os
import re
import ssl
import sys
import urllib.parse
import urllib.request

ENV = os.environ
HOST = ENV.get("I2G_IMAP_HOST", "127.0.0.1")
PORT = int(ENV.get("I2G_IMAP_PORT", "9993"))
CA_FILE = ENV.get("I2G_CA_FILE", "")
GRAPH = ENV.get("I2G_GRAPH_URL", "http://127.0.0.1:9994").rstrip("/")
TENANT = ENV.get("I2G_TENANT", "contoso.example")
TENANT_ID = ENV.get("I2G_TENANT_ID", "")
CLIENT_ID = ENV.get("I2G_CLIENT_ID", "11111111-2222-3333-4444-555555555555")
SECRET = ENV.get("I2G_SECRET", "demo-secret")
ALICE = "alice@" + TENANT
VOICEMAIL = "voicemail@" + TENANT

FAILURES = []


def log(*args):
    print(*args, flush=True)


def check(condition, message):
    """Records a failed check (and prints it) without stopping the script."""
    if condition:
        return True
    FAILURES.append(message)
    log("FAIL:", message)
    return False


def finish():
    if FAILURES:
        log("\n%d check(s) failed:" % len(FAILURES))
        for failure in FAILURES:
            log("  -", failure)
        sys.exit(1)
    log("all checks passed")
    sys.exit(0)


def name(mailbox=None, sep="/"):
    parts = [TENANT, CLIENT_ID] + ([mailbox] if mailbox else [])
    return sep.join(parts)


def tls_context():
    context = ssl.create_default_context(cafile=CA_FILE)
    # Connecting to 127.0.0.1: the certificate names it as an IP SAN, so the host name check
    # stays on.
    return context


def connect(debug=0, port=None):
    """A TLS connection to the gateway (to another instance on the same host with `port`)."""
    imap = imaplib.IMAP4_SSL(HOST, port or PORT, ssl_context=tls_context(), timeout=60)
    imap.debug = debug
    return imap


def session(port=None):
    """A connection logged in to alice's mailbox."""
    imap = connect(port=port)
    login(imap, name(ALICE))
    return imap


def quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def login(imap, user, secret=SECRET, quoted=False):
    """LOGIN as imaplib sends it (user as given, i.e. an atom) or quoted (as fetchmail)."""
    return imap.login(quote(user) if quoted else user, secret)


def raw_login(imap, user, secret, quoted=True):
    """LOGIN returning (status, text) instead of raising; BAD comes back as ('BAD', text)."""
    try:
        typ, data = imap._simple_command("LOGIN", quote(user) if quoted else user, quote(secret))
    except imaplib.IMAP4.abort as err:
        return ("ABORT", str(err))
    except imaplib.IMAP4.error as err:
        text = str(err)
        return ("BAD" if " BAD " in text else "ERROR", text)
    return (typ, b" ".join(d for d in data if d).decode("utf-8", "replace"))


def command_lines(imap, command):
    """Sends `tag command` and returns every line up to the tagged one, in order (imaplib keeps
    untagged responses in a dict, which loses their order). No literals are expected."""
    tag = imap._new_tag()
    imap.send(tag + b" " + command.encode() + b"\r\n")
    lines = []
    while True:
        line = imap.readline().decode("utf-8", "replace").rstrip("\r\n")
        lines.append(line)
        if line.startswith(tag.decode() + " ") or not line:
            return lines


def raw_authenticate_plain(imap, authzid, authcid, secret):
    """AUTHENTICATE PLAIN (no initial response: imaplib waits for `+`); returns (status, text)."""
    payload = authzid + b"\0" + authcid + b"\0" + secret
    imap.literal = imaplib._Authenticator(lambda _: payload).process
    try:
        typ, data = imap._simple_command("AUTHENTICATE", "PLAIN")
    except imaplib.IMAP4.abort as err:
        return ("ABORT", str(err))
    except imaplib.IMAP4.error as err:
        text = str(err)
        return ("BAD" if " BAD " in text else "ERROR", text)
    if typ == "OK":
        imap.state = "AUTH"
    return (typ, b" ".join(d for d in data if d).decode("utf-8", "replace"))


# ---------------------------------------------------------------------------------------------
# The emulator (identity platform and Graph)


def http(method, url, data=None, headers=None):
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def token(tenant=TENANT, client_id=CLIENT_ID, secret=SECRET):
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": "https://graph.microsoft.com/.default",
        }
    ).encode()
    status, body = http(
        "POST",
        "%s/%s/oauth2/v2.0/token" % (GRAPH, urllib.parse.quote(tenant, safe="")),
        form,
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    if status != 200:
        raise RuntimeError("token request failed: %s %s" % (status, body[:500]))
    return json.loads(body)["access_token"]


class Graph:
    def __init__(self, mailbox):
        self.mailbox = mailbox
        self.token = token()
        self.user = "%s/v1.0/users/%s" % (GRAPH, urllib.parse.quote(mailbox, safe=""))

    def get(self, url):
        if not url.startswith("http"):
            url = self.user + url
        status, body = http("GET", url, headers={"Authorization": "Bearer " + self.token})
        if status != 200:
            raise RuntimeError("GET %s: %s %s" % (url, status, body[:500]))
        return body

    def get_json(self, url):
        return json.loads(self.get(url))

    def get_all(self, url):
        items = []
        while url:
            page = self.get_json(url)
            items.extend(page.get("value", []))
            url = page.get("@odata.nextLink")
        return items

    def well_known(self, wk):
        return self.get_json("/mailFolders/" + wk)["id"]

    def request(self, method, path, body=None):
        """METHOD on the mailbox's PATH (JSON body) as Outlook would: returns (status, body)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": "Bearer " + self.token}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return http(method, self.user + path, data, headers)

    def folders(self):
        """[{imap, id, displayName, total, special}] for the whole tree, depth first."""
        inbox = self.well_known("inbox")
        special = {}
        for wk, attr in [
            ("sentitems", "\\Sent"),
            ("drafts", "\\Drafts"),
            ("deleteditems", "\\Trash"),
            ("junkemail", "\\Junk"),
            ("archive", "\\Archive"),
        ]:
            try:
                special[self.well_known(wk)] = attr
            except RuntimeError:
                pass
        out = []

        def walk(url, prefix):
            for folder in self.get_all(url):
                if prefix == "" and folder["id"] == inbox:
                    leaf = "INBOX"
                else:
                    leaf = imap_utf7(folder["displayName"])
                full = prefix + leaf
                out.append(
                    {
                        "imap": full,
                        "id": folder["id"],
                        "displayName": folder["displayName"],
                        "total": folder.get("totalItemCount", 0),
                        "children": folder.get("childFolderCount", 0),
                        "special": special.get(folder["id"]),
                    }
                )
                if folder.get("childFolderCount", 0) > 0:
                    walk(
                        "/mailFolders/%s/childFolders?$top=100"
                        % urllib.parse.quote(folder["id"], safe=""),
                        full + "/",
                    )

        walk("/mailFolders?$top=100", "")
        return out

    def messages(self, folder_id):
        return self.get_all(
            "/mailFolders/%s/messages?$select=id,receivedDateTime,internetMessageId&$top=1000"
            % urllib.parse.quote(folder_id, safe="")
        )

    def mime(self, message_id):
        return self.get("/messages/%s/$value" % urllib.parse.quote(message_id, safe=""))


def imap_utf7(text):
    """RFC 3501 modified UTF-7."""
    out = []
    pending = []

    def flush():
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in text:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# IMAP response helpers


def idle_until(imap, predicate, who, limit=60):
    """Reads untagged lines while `imap` IDLEs until one satisfies `predicate` (failing the check
    after `limit` seconds of silence, so a broken gateway fails instead of hanging); returns the
    lines read."""
    seen = []
    imap.sock.settimeout(limit)
    try:
        while True:
            line = imap.readline().decode(errors="replace").rstrip("\r\n")
            if not line:
                break
            log(who, "<", line)
            seen.append(line)
            if predicate(line):
                return seen
    except OSError as err:
        log(who, ": no more lines:", err)
    check(False, "%s saw no matching line while idling; got %r" % (who, seen))
    return seen


def parse_fetch(data):
    """imaplib FETCH data -> [{'text': bytes without literals, 'literals': [bytes]}].

    imaplib gives a tuple (prefix, literal) per literal and then the rest of the line as bytes;
    a message without literals is one bytes item.
    """
    messages = []
    current = None
    open_after_literal = False
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):
            prefix, literal = item
            if current is not None and open_after_literal:
                current["text"] += prefix + b"{}"
                current["literals"].append(literal)
            else:
                current = {"text": prefix + b"{}", "literals": [literal]}
                messages.append(current)
            open_after_literal = True
        else:
            if current is not None and open_after_literal:
                current["text"] += item
            else:
                current = {"text": item, "literals": []}
                messages.append(current)
            open_after_literal = False
    return messages


def fetch_number(text, item):
    match = re.search(rb"(?:^|[ (])" + re.escape(item) + rb" (\d+)", text)
    return int(match.group(1)) if match else None


def list_folders(imap, pattern="*"):
    """LIST "" pattern -> [(attributes, delimiter, name)]."""
    typ, data = imap.list('""', pattern)
    if typ != "OK":
        raise RuntimeError("LIST failed: %r" % data)
    return [parse_list_line(line) for line in data if line]


def parse_list_line(line):
    if isinstance(line, tuple):
        # The name came as a literal.
        head, literal = line
        match = re.match(rb'\((.*?)\) (NIL|"(?:[^"\\]|\\.)*") ', head)
        attrs, delim = match.group(1), match.group(2)
        name = literal
    else:
        match = re.match(rb'\((.*?)\) (NIL|"(?:[^"\\]|\\.)*") (.*)$', line)
        if not match:
            raise RuntimeError("cannot parse LIST line %r" % line)
        attrs, delim, name = match.groups()
        if name.startswith(b'"'):
            name = re.sub(rb"\\(.)", rb"\1", name[1:-1])
    delim = None if delim == b"NIL" else re.sub(rb"\\(.)", rb"\1", delim[1:-1])
    return (
        [a.decode() for a in attrs.split()],
        delim.decode() if delim is not None else None,
        name.decode("ascii"),
    )


def imap_mailbox_arg(name):
    return quote(name)


def select(imap, folder, readonly=True):
    typ, data = imap.select(imap_mailbox_arg(folder), readonly=readonly)
    if typ != "OK":
        raise RuntimeError("SELECT %s failed: %r" % (folder, data))
    exists = int(data[0])
    uidvalidity = imap.untagged_responses.get("UIDVALIDITY", [None])[-1]
    return exists, uidvalidity


def message_id(raw):
    """The Message-ID header of a raw message (parsed here, not by the gateway)."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    value = message.get("Message-ID")
    return value.strip() if value else None


def response_code(imap, code):
    values = imap.untagged_responses.get(code)
    return values[-1] if values else None
