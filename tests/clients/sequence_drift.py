"""Sequence numbers never drift (issue 10, item 10): many sessions at once on two folders, on
one gateway or several sharing a uid store, each doing random APPEND, STORE, EXPUNGE, UID
EXPUNGE, MOVE, UID MOVE, COPY and NOOP, while new mail arrives through Graph and, optionally,
Graph fails half-way through writes (429 with Retry-After, 503, connection resets).

Each session keeps its own model of the selected folder purely from the untagged responses it
was sent (`* n EXISTS`, `* n EXPUNGE`, `* n FETCH (UID u ...)`), and now and then checks it:
`FETCH 1:* (UID RFC822.SIZE FLAGS)` must name, sequence number by sequence number, the UIDs and
flags of its model, with no EXPUNGE while it answers (RFC 3501 7.4.1); a UID must keep the
Message-ID it had when any session first saw it, and its RFC822.SIZE must never change; a UID
expunged must never come back. At the end, with Graph well again, every session after a NOOP
must hold what a new session sees, and that must be what Graph holds (Message-IDs, \\Seen,
\\Flagged).

Usage: sequence_drift.py PORT[,PORT...] [--sessions N] [--ops N] [--faults] [--seed N]
(the host, certificate and Graph come from the environment, as for every client script).
Every discrepancy is counted; the script fails with the first few described.
"""

import argparse
import json
import random
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse

import gwtest as t

STAMP = "%x" % int(time.time() * 1000)
FOLDERS = ("Drift", "Drift Other")
SEEDED = 8
# A folder this full gets more EXPUNGEs than APPENDs, so the run stays small.
CROWDED = 30


class Discrepancies:
    """Every disagreement between a session's model and what the gateway said, counted by kind;
    the first few kept whole for the report."""

    def __init__(self):
        self.lock = threading.Lock()
        self.count = 0
        self.by_kind = {}
        self.first = []

    def add(self, kind, text):
        with self.lock:
            self.count += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
            if len(self.first) < 12:
                self.first.append("%s: %s" % (kind, text))
                t.log("DRIFT", kind, text)


DRIFT = Discrepancies()


class Known:
    """What every session agrees a UID is: one UID, one message, forever (per folder)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.message_id = {}  # (folder, uid) -> Message-ID
        self.size = {}  # (folder, uid) -> RFC822.SIZE

    def message(self, folder, uid, message_id, who):
        with self.lock:
            first = self.message_id.setdefault((folder, uid), message_id)
        if first != message_id:
            DRIFT.add("message-id", "%s: %s UID %d is %s, first seen as %s"
                      % (who, folder, uid, message_id, first))

    def sized(self, folder, uid, size, who, command):
        with self.lock:
            first = self.size.setdefault((folder, uid), size)
        if first != size:
            DRIFT.add("size", "%s: %s: %s UID %d has RFC822.SIZE %d, first seen as %d"
                      % (who, command, folder, uid, size, first))


KNOWN = Known()


class Response:
    """One response line with its literals: `text` has each literal replaced by `{}`."""

    def __init__(self, text, literals):
        self.text = text
        self.literals = literals


class Connection:
    """A small IMAP client that keeps every response in order and reads literals."""

    def __init__(self, port, who):
        self.who = who
        raw = socket.create_connection((t.HOST, port), timeout=120)
        self.sock = t.tls_context().wrap_socket(raw, server_hostname=t.HOST)
        self.buf = b""
        self.tag = 0
        greeting = self.read_response()
        if not greeting.text.startswith("* OK"):
            raise RuntimeError("%s: greeting %r" % (who, greeting.text))

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("%s: the gateway closed the connection" % self.who)
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self):
        text = b""
        literals = []
        while True:
            line = self._line()
            match = re.search(rb"\{(\d+)\}$", line)
            if not match:
                text += line
                return Response(text.decode("utf-8", "replace"), literals)
            text += line[: match.start()] + b"{}"
            literals.append(self._bytes(int(match.group(1))))

    def command(self, text, literal=None):
        """Sends `tag text` (with a LITERAL+ literal appended) and returns (untagged responses in
        order, tagged status, tagged text)."""
        self.tag += 1
        tag = "d%d" % self.tag
        if literal is None:
            self.sock.sendall(("%s %s\r\n" % (tag, text)).encode())
        else:
            self.sock.sendall(("%s %s {%d+}\r\n" % (tag, text, len(literal))).encode()
                              + literal + b"\r\n")
        untagged = []
        while True:
            response = self.read_response()
            if response.text.startswith(tag + " "):
                status, _, rest = response.text[len(tag) + 1:].partition(" ")
                return untagged, status, rest
            untagged.append(response)

    def close(self):
        try:
            self.command("LOGOUT")
        except (OSError, EOFError):
            pass
        self.sock.close()


FETCH = re.compile(r"^\* (\d+) FETCH \((.*)\)$", re.S)


def fetch_items(text):
    """UID, RFC822.SIZE and FLAGS of a FETCH response's text (None when absent)."""
    uid = re.search(r"(?:^|[ (])UID (\d+)", text)
    size = re.search(r"RFC822\.SIZE (\d+)", text)
    flags = re.search(r"FLAGS \(([^)]*)\)", text)
    return (
        int(uid.group(1)) if uid else None,
        int(size.group(1)) if size else None,
        frozenset(f for f in flags.group(1).split() if f != "\\Recent") if flags else None,
    )


def header_message_id(literal):
    match = re.search(rb"(?im)^Message-ID:\s*(<[^>\r\n]*>)", literal)
    return match.group(1).decode() if match else None


class Session:
    """One client: its connection, its selected folder and its model of that folder, kept only
    from the responses it was sent."""

    def __init__(self, port, who, folder, rng):
        self.who = who
        self.rng = rng
        self.conn = Connection(port, who)
        self.ops = {}
        _, status, text = self.conn.command("LOGIN %s %s" % (t.quote(t.name(t.ALICE)), t.quote(t.SECRET)))
        if status != "OK":
            raise RuntimeError("%s: LOGIN %s %s" % (who, status, text))
        self.select(folder)

    # ---- the model -------------------------------------------------------------------------

    def select(self, folder):
        self.folder = folder
        self.model = []  # UID (None until a FETCH names it) per sequence number
        self.flags = {}  # UID -> flags as last sent
        self.expunged = set()  # UIDs this session was told are gone
        untagged, status, text = self.conn.command("SELECT " + t.quote(folder))
        if status != "OK":
            raise RuntimeError("%s: SELECT %s: %s %s" % (self.who, folder, status, text))
        self.absorb(untagged, "SELECT")
        self.learn_uids()

    def absorb(self, untagged, command, expunge_allowed=True):
        """Applies untagged responses to the model, checking each against it; returns the FETCH
        responses as (sequence number, UID, size, flags, literals)."""
        fetched = []
        for response in untagged:
            text = response.text
            match = re.match(r"^\* (\d+) (EXISTS|EXPUNGE|RECENT)$", text)
            if match:
                n, what = int(match.group(1)), match.group(2)
                if what == "EXISTS":
                    if n < len(self.model):
                        DRIFT.add("exists", "%s: %s answered EXISTS %d with %d messages known"
                                  % (self.who, command, n, len(self.model)))
                        del self.model[n:]
                    self.model.extend([None] * (n - len(self.model)))
                elif what == "EXPUNGE":
                    if not expunge_allowed:
                        DRIFT.add("expunge-during-fetch", "%s: %s sent EXPUNGE %d"
                                  % (self.who, command, n))
                    if not 1 <= n <= len(self.model):
                        DRIFT.add("expunge", "%s: %s sent EXPUNGE %d with %d messages known"
                                  % (self.who, command, n, len(self.model)))
                        continue
                    uid = self.model.pop(n - 1)
                    if uid is not None:
                        self.expunged.add(uid)
                        self.flags.pop(uid, None)
                continue
            if text.startswith("* VANISHED"):
                DRIFT.add("vanished", "%s: %s sent %s unasked" % (self.who, command, text))
                continue
            match = FETCH.match(text)
            if not match:
                continue
            n = int(match.group(1))
            uid, size, flags = fetch_items(match.group(2))
            if not 1 <= n <= len(self.model):
                DRIFT.add("fetch-number", "%s: %s sent FETCH for %d with %d messages known: %s"
                          % (self.who, command, n, len(self.model), text[:160]))
                continue
            if uid is not None:
                known = self.model[n - 1]
                if known is None:
                    before = [u for u in self.model[: n - 1] if u is not None]
                    after = [u for u in self.model[n:] if u is not None]
                    if (before and before[-1] >= uid) or (after and after[0] <= uid):
                        DRIFT.add("uid-order", "%s: %s names UID %d at %d, between %s and %s"
                                  % (self.who, command, uid, n, before[-1:], after[:1]))
                    if uid in self.expunged:
                        DRIFT.add("reappeared", "%s: %s UID %d came back after its EXPUNGE"
                                  % (self.who, self.folder, uid))
                    self.model[n - 1] = uid
                elif known != uid:
                    DRIFT.add("uid", "%s: %s: message %d is UID %d in the model, the gateway says %d"
                              % (self.who, command, n, known, uid))
                    continue
            uid = self.model[n - 1]
            if uid is not None and size is not None:
                KNOWN.sized(self.folder, uid, size, self.who, command)
            if uid is not None and flags is not None:
                self.flags[uid] = flags
            fetched.append((n, uid, size, flags, response.literals))
        return fetched

    def run(self, command, literal=None):
        verb = command.split()[0].upper()
        if verb == "UID":
            verb = "UID " + command.split()[1].upper()
        no_expunge = verb in ("FETCH", "STORE", "SEARCH")
        untagged, status, text = self.conn.command(command, literal)
        fetched = self.absorb(untagged, verb, expunge_allowed=not no_expunge)
        key = "%s %s" % (verb, status)
        self.ops[key] = self.ops.get(key, 0) + 1
        if status == "NO" and len(REFUSALS) < 10:
            REFUSALS.append("%s: %s: NO %s" % (self.who, command[:60], text))
        if status == "BAD":
            DRIFT.add("bad", "%s: %s answered BAD %s (the model holds %d messages)"
                      % (self.who, command[:80], text, len(self.model)))
        return fetched, status, text

    def learn_uids(self):
        """UIDs of messages whose EXISTS came without them."""
        unknown = [i for i, uid in enumerate(self.model) if uid is None]
        if unknown:
            self.run("FETCH %d:%d (UID)" % (unknown[0] + 1, unknown[-1] + 1))

    # ---- the checks ------------------------------------------------------------------------

    def verify(self):
        """FETCH 1:* must give the model's UIDs and flags, number by number; UID FETCH of the
        Message-IDs must give each UID's first Message-ID."""
        if not self.model:
            self.run("NOOP")
            return
        before = list(self.model)
        flags_before = dict(self.flags)
        fetched, status, text = self.run("FETCH 1:* (UID RFC822.SIZE FLAGS)")
        # The answers carry RFC822.SIZE; news of flags changed elsewhere, which may follow
        # them, do not.
        for n, uid, size, flags, _ in fetched:
            if size is None:
                continue
            if flags is not None and uid in flags_before and flags != flags_before[uid]:
                DRIFT.add("flags", "%s: FETCH 1:* gives UID %d (message %d) flags %s, the responses sent said %s"
                          % (self.who, uid, n, sorted(flags), sorted(flags_before[uid])))
        answered = {n for n, _, _, _, _ in fetched}
        if status == "OK":
            missing = [n for n in range(1, len(before) + 1) if n not in answered]
            if missing:
                DRIFT.add("fetch-missing", "%s: FETCH 1:* left out %s of %d"
                          % (self.who, missing[:5], len(before)))
        elif "EXPUNGEISSUED" not in text:
            self.ops["verify failed"] = self.ops.get("verify failed", 0) + 1
        self.learn_uids()
        uids = [u for u in self.model if u is not None]
        if not uids:
            return
        fetched, status, text = self.run(
            "UID FETCH %s (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])" % ",".join(map(str, uids)))
        for _, uid, _, _, literals in fetched:
            if uid is None or not literals:
                continue
            message_id = header_message_id(literals[0])
            if message_id:
                KNOWN.message(self.folder, uid, message_id, self.who)

    # ---- the operations --------------------------------------------------------------------

    def some(self, most=3):
        """A few sequence numbers of the model (ascending), as a set for a command."""
        count = self.rng.randint(1, min(most, len(self.model)))
        numbers = sorted(self.rng.sample(range(1, len(self.model) + 1), count))
        return numbers

    def as_uids(self, numbers):
        uids = [self.model[n - 1] for n in numbers]
        return [u for u in uids if u is not None]

    def append(self, folder, serial):
        message_id = "<drift-%s-%s-%d@test.example>" % (STAMP, self.who, serial)
        padding = "x" * self.rng.randint(0, 400)
        raw = ("From: drift@test.example\r\nTo: alice@contoso.example\r\n"
               "Subject: drift %s %d\r\nMessage-ID: %s\r\n\r\n%s\r\n"
               % (self.who, serial, message_id, padding)).encode()
        flags = self.rng.choice(["", "\\Seen", "\\Flagged", "\\Seen \\Flagged"])
        self.run("APPEND %s (%s)" % (t.quote(folder), flags), raw)

    def store(self):
        numbers = self.some(4)
        flag = self.rng.choice(["\\Deleted", "\\Deleted", "\\Seen", "\\Flagged", "\\Seen \\Flagged"])
        kind = self.rng.choice(["+FLAGS", "+FLAGS", "-FLAGS"])
        if self.rng.random() < 0.5:
            self.run("STORE %s %s (%s)" % (",".join(map(str, numbers)), kind, flag))
        else:
            uids = self.as_uids(numbers)
            if uids:
                self.run("UID STORE %s %s (%s)" % (",".join(map(str, uids)), kind, flag))

    def expunge(self):
        if self.rng.random() < 0.6:
            self.run("EXPUNGE")
        else:
            uids = self.as_uids(self.some(6))
            if uids:
                self.run("UID EXPUNGE %s" % ",".join(map(str, uids)))

    def transfer(self, verb):
        other = other_folder(self.folder)
        numbers = self.some(3)
        if self.rng.random() < 0.5:
            self.run("%s %s %s" % (verb, ",".join(map(str, numbers)), t.quote(other)))
        else:
            uids = self.as_uids(numbers)
            if not uids:
                return
            self.run("UID %s %s %s" % (verb, ",".join(map(str, uids)), t.quote(other)))

    def step(self, serial):
        crowded = len(self.model) >= CROWDED
        roll = self.rng.random()
        if not self.model or roll < (0.08 if crowded else 0.2):
            self.append(self.folder if self.rng.random() < 0.8 else other_folder(self.folder), serial)
        elif roll < 0.42:
            self.store()
        elif roll < (0.62 if crowded else 0.52):
            self.expunge()
        elif roll < 0.68:
            self.transfer("MOVE")
        elif roll < 0.72:
            if len(self.model) < CROWDED:
                self.transfer("COPY")
        elif roll < 0.78:
            deliver(self.who, serial, self.folder)
        elif roll < 0.88:
            self.run("NOOP")
        else:
            self.verify()
        self.learn_uids()


# The first NO answers, for the log: under faults they are expected, and they say why.
REFUSALS = []


def other_folder(folder):
    return FOLDERS[1] if folder == FOLDERS[0] else FOLDERS[0]


FOLDER_IDS = {}


def deliver(who, serial, folder):
    """New mail through Graph's side, as a transport (or Outlook) would bring it."""
    message_id = "<delivered-%s-%s-%d@test.example>" % (STAMP, who, serial)
    status, body = t.http(
        "POST",
        "%s/_emulator/mailboxes/%s/deliver?folder=%s"
        % (t.GRAPH, urllib.parse.quote(t.ALICE, safe=""), urllib.parse.quote(FOLDER_IDS[folder], safe="")),
        ("From: caller@example.net\r\nTo: alice@contoso.example\r\nSubject: delivered\r\n"
         "Message-ID: %s\r\n\r\nnew mail %d\r\n" % (message_id, serial)).encode(),
        {"Content-Type": "message/rfc822"},
    )
    if status not in (200, 201):
        DRIFT.add("setup", "delivery into %s: %s %s" % (folder, status, body[:200]))


def set_faults(on):
    """Graph fails the write routes now and then (throttled, unavailable) and resets some
    connections after answering, so EXPUNGEs and MOVEs fail half-way."""
    if not on:
        t.http("DELETE", t.GRAPH + "/_emulator/faults")
        return
    routes = [
        "PATCH /users/{id}/messages/{id}",
        "POST /users/{id}/messages/{id}/move",
        "POST /users/{id}/messages/{id}/copy",
        "DELETE /users/{id}/messages/{id}",
        "POST /users/{id}/mailFolders/{id}/messages",
    ]
    errors = []
    for route in routes:
        errors.append({"route": route, "status": 429, "probability": 0.15, "retryAfter": 0.2})
        errors.append({"route": route, "status": 503, "probability": 0.1, "retryAfter": 0.1})
    body = json.dumps({"seed": 10, "errors": errors, "resetProbability": 0.04}).encode()
    status, text = t.http("POST", t.GRAPH + "/_emulator/faults", body,
                          {"Content-Type": "application/json"})
    if status not in (200, 204):
        raise RuntimeError("faults not set: %s %s" % (status, text[:200]))


def worker(index, port, folder, ops, seed, sessions, errors):
    who = "s%d" % index
    rng = random.Random(seed * 1000 + index)
    try:
        session = Session(port, who, folder, rng)
        sessions[index] = session
        for serial in range(ops):
            session.step(serial)
        session.verify()
    except Exception as err:  # a broken session is a failure, not a hang
        errors.append("%s: %s: %s" % (who, type(err).__name__, err))


def final_check(ports, sessions, graph):
    """With Graph well again: after a NOOP every session holds what a new session sees, which
    holds what Graph holds."""
    for folder in FOLDERS:
        fresh = Session(ports[0], "final", folder, random.Random(0))
        fresh.run("NOOP")
        fresh.verify()
        fetched, _, _ = fresh.run("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        shown = sorted((header_message_id(lits[0]) if lits else None, "\\Seen" in flags, "\\Flagged" in flags)
                       for _, _, _, flags, lits in fetched if flags is not None)
        in_graph = sorted(
            (m.get("internetMessageId"), bool(m.get("isRead")),
             (m.get("flag") or {}).get("flagStatus") == "flagged")
            for m in graph.get_all("/mailFolders/%s/messages?$select=internetMessageId,isRead,flag&$top=1000"
                                   % urllib.parse.quote(FOLDER_IDS[folder], safe="")))
        if shown != in_graph:
            only_imap = [m for m in shown if m not in in_graph]
            only_graph = [m for m in in_graph if m not in shown]
            t.log("only in Graph:", [(m.get("id"), m.get("internetMessageId")) for m in graph.get_all(
                "/mailFolders/%s/messages?$select=id,internetMessageId&$top=1000"
                % urllib.parse.quote(FOLDER_IDS[folder], safe="")) if any(m.get("internetMessageId") == o[0] for o in only_graph)])
            DRIFT.add("graph", "%s: IMAP shows %d messages, Graph holds %d; only in IMAP %s, only in Graph %s"
                      % (folder, len(shown), len(in_graph), only_imap[:3], only_graph[:3]))
        for session in sessions:
            if session is None or session.folder != folder:
                continue
            session.run("NOOP")
            session.learn_uids()
            if session.model != fresh.model:
                DRIFT.add("final-view", "%s: after NOOP holds %d messages %s, a new session %d %s"
                          % (session.who, len(session.model), diff(session.model, fresh.model),
                             len(fresh.model), diff(fresh.model, session.model)))
        t.log("%s: %d messages at the end" % (folder, len(fresh.model)))
        fresh.conn.close()


def diff(mine, theirs):
    return "(not in the other: %s)" % [u for u in mine if u not in theirs][:5]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ports")
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--ops", type=int, default=60)
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    graph = t.Graph(t.ALICE)

    setup = Connection(ports[0], "setup")
    setup.command("LOGIN %s %s" % (t.quote(t.name(t.ALICE)), t.quote(t.SECRET)))
    for folder in FOLDERS:
        _, status, text = setup.command("CREATE " + t.quote(folder))
        t.check(status == "OK", "CREATE %s: %s %s" % (folder, status, text))
        for n in range(SEEDED):
            raw = ("From: seed@test.example\r\nSubject: seed %d\r\nMessage-ID: <seed-%s-%s-%d@test.example>"
                   "\r\n\r\nseed %s\r\n" % (n, STAMP, folder.replace(" ", "_"), n, "y" * (n * 7))).encode()
            _, status, text = setup.command("APPEND %s" % t.quote(folder), raw)
            t.check(status == "OK", "seeding %s: %s %s" % (folder, status, text))
    setup.close()
    for folder in graph.folders():
        if folder["imap"] in FOLDERS:
            FOLDER_IDS[folder["imap"]] = folder["id"]
    t.check(len(FOLDER_IDS) == len(FOLDERS), "Graph holds the folders: %s" % FOLDER_IDS)

    if args.faults:
        set_faults(True)
    sessions = [None] * args.sessions
    errors = []
    threads = []
    for index in range(args.sessions):
        # Half the sessions in each folder; sessions take the gateways in turn.
        folder = FOLDERS[index % 2]
        port = ports[(index // 2) % len(ports)]
        thread = threading.Thread(target=worker, args=(index, port, folder, args.ops, args.seed, sessions, errors))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    set_faults(False)
    for error in errors:
        t.check(False, "session failed: " + error)
    final_check(ports, sessions, graph)
    totals = {}
    for session in sessions:
        if session is not None:
            for key, value in session.ops.items():
                totals[key] = totals.get(key, 0) + value
            session.conn.close()
    t.log("commands:", json.dumps(totals, sort_keys=True))
    if args.faults:
        # Else the faults never made Graph fail half-way, and the run proves little.
        for verb in ("EXPUNGE", "MOVE"):
            failed = totals.get(verb + " NO", 0) + totals.get("UID %s NO" % verb, 0)
            t.check(failed > 0, "no %s failed under faults: %s" % (verb, totals))
    for refusal in REFUSALS:
        t.log("refused:", refusal)
    t.log("discrepancies: %d %s" % (DRIFT.count, json.dumps(DRIFT.by_kind, sort_keys=True)))
    for text in DRIFT.first:
        t.check(False, text)
    t.finish()


if __name__ == "__main__":
    main()
