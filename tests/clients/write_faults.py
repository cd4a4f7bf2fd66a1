"""Write commands while Graph throttles (issue 5, faults): 429 and 503 answers, with
Retry-After, on a third of the PATCH, move, copy, DELETE and create requests, also inside
`$batch`. Every command must still end with Graph holding exactly what its answer said:
STORE's FETCH responses equal Graph's flags, COPY's COPYUID counts the copies Graph holds, MOVE
and EXPUNGE report exactly the messages that left, APPEND's APPENDUID names a message that
exists once, also when connection resets lose the answer to its create request.
"""

import json
import re
import time

import gwtest
from gwtest import check, finish, log

STAMP = str(int(time.time() * 1000))
SOURCE = "FaultSrc" + STAMP
TARGET = "FaultDst" + STAMP
N = 30
graph = gwtest.Graph(gwtest.ALICE)


def set_faults(enabled):
    if not enabled:
        gwtest.http("DELETE", gwtest.GRAPH + "/_emulator/faults")
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
        errors.append({"route": route, "status": 429, "probability": 0.2, "retryAfter": 0.2})
        errors.append({"route": route, "status": 503, "probability": 0.15, "retryAfter": 0.1})
    body = json.dumps({"seed": 11, "errors": errors}).encode()
    status, text = gwtest.http("POST", gwtest.GRAPH + "/_emulator/faults", body,
                               {"Content-Type": "application/json"})
    check(status in (200, 204), "faults set: %s %s" % (status, text[:200]))


def graph_folder(path):
    for folder in graph.folders():
        if folder["imap"] == path:
            return folder["id"]
    return None


def graph_messages(path):
    return graph.get_all("/mailFolders/%s/messages?$select=id,isRead,flag,subject&$top=1000" % graph_folder(path))


imap = gwtest.connect()
gwtest.login(imap, gwtest.name(gwtest.ALICE))
imap.create(SOURCE)
imap.create(TARGET)
imap.select("INBOX", readonly=True)
typ, text = imap._simple_command("COPY", "1:%d" % N, SOURCE)
check(typ == "OK", "setup COPY: %s %s" % (typ, text))

set_faults(True)
imap.select(SOURCE)

typ, data = imap.store("1:%d" % N, "+FLAGS", "(\\Flagged)")
log("STORE under faults:", typ)
flagged_in_imap = sum(1 for d in data if d and b"\\Flagged" in d)
flagged_in_graph = sum(1 for m in graph_messages(SOURCE) if m["flag"]["flagStatus"] == "flagged")
check(flagged_in_imap == flagged_in_graph,
      "STORE: the FETCH responses say %d flagged, Graph holds %d" % (flagged_in_imap, flagged_in_graph))
check(typ == "OK" or flagged_in_graph < N, "STORE answered OK only if every message changed")

typ, text = imap._simple_command("UID", "COPY", "1:*", TARGET)
text = b" ".join(t for t in text if t).decode()
log("COPY under faults:", typ, text[:120])
copies = len(graph_messages(TARGET))
if typ == "OK":
    match = re.search(r"COPYUID \d+ ([\d:,]+) ([\d:,]+)", text)
    count = sum(
        (int(b) - int(a) + 1) if ":" in part else 1
        for part in (match.group(2).split(",") if match else [])
        for a, b in [part.split(":") if ":" in part else (part, part)]
    )
    check(copies == count == N, "COPY OK: COPYUID names %d, Graph holds %d copies" % (count, copies))
else:
    check(copies < N, "COPY NO: Graph holds %d of %d copies" % (copies, N))

before = len(graph_messages(SOURCE))
typ, text = imap._simple_command("MOVE", "1:10", TARGET)
expunged = [x for x in imap.response("EXPUNGE")[1] if x]
after = len(graph_messages(SOURCE))
log("MOVE under faults:", typ, "expunged", len(expunged))
check(before - after == len(expunged), "MOVE: %d EXPUNGE responses, %d messages left Graph's folder"
      % (len(expunged), before - after))

imap.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
typ, data = imap.expunge()
expunged = [x for x in (data or []) if x]
remaining = len(graph_messages(SOURCE))
log("EXPUNGE under faults:", typ, "expunged", len(expunged), "remaining", remaining)
check(after - remaining == len(expunged), "EXPUNGE reported %d, Graph lost %d" % (len(expunged), after - remaining))
check(typ == "OK" or remaining > 0, "EXPUNGE answered OK only if all went")

uids = []
for n in range(5):
    raw = ("Subject: fault append %d %s\r\nMessage-ID: <fa-%d-%s@x>\r\n\r\nbody\r\n" % (n, STAMP, n, STAMP)).encode()
    try:
        typ, data = imap.append(TARGET, None, None, raw)
    except gwtest.imaplib.IMAP4.error as err:
        typ, data = "NO", [str(err).encode()]
    subjects = [m["subject"] for m in graph_messages(TARGET)]
    held = subjects.count("fault append %d %s" % (n, STAMP))
    check(held == (1 if typ == "OK" else 0), "APPEND %d answered %s, Graph holds it %d time(s)" % (n, typ, held))

# Connection resets after Graph acted (the emulator cuts half of the answers short): an
# APPEND whose create answer was lost finds the message it made instead of making another.
set_faults(False)
body = json.dumps({"seed": 9, "resetProbability": 0.5}).encode()
gwtest.http("POST", gwtest.GRAPH + "/_emulator/faults", body, {"Content-Type": "application/json"})
for n in range(8):
    raw = ("Subject: reset append %d %s\r\nMessage-ID: <ra-%d-%s@x>\r\n\r\nbody\r\n" % (n, STAMP, n, STAMP)).encode()
    try:
        typ, data = imap.append(TARGET, None, None, raw)
    except (gwtest.imaplib.IMAP4.error, gwtest.imaplib.IMAP4.abort, OSError) as err:
        typ, data = "NO", [str(err).encode()]
    gwtest.http("DELETE", gwtest.GRAPH + "/_emulator/faults")
    subjects = [m["subject"] for m in graph_messages(TARGET)]
    # A new seed for each APPEND, so the resets fall on different requests.
    body = json.dumps({"seed": 100 + n, "resetProbability": 0.5}).encode()
    gwtest.http("POST", gwtest.GRAPH + "/_emulator/faults", body, {"Content-Type": "application/json"})
    held = subjects.count("reset append %d %s" % (n, STAMP))
    log("APPEND %d under resets: %s, held %d time(s)" % (n, typ, held))
    check(held == (1 if typ == "OK" else 0), "APPEND %d answered %s, Graph holds it %d time(s)" % (n, typ, held))

# COPY under the same resets: copies whose answers were lost are found again, so COPYUID (or
# the NO's count) says exactly how many copies Graph holds.
gwtest.http("DELETE", gwtest.GRAPH + "/_emulator/faults")
imap.select(TARGET)
before = len(graph_messages(SOURCE))
body = json.dumps({"seed": 3, "resetProbability": 0.5}).encode()
gwtest.http("POST", gwtest.GRAPH + "/_emulator/faults", body, {"Content-Type": "application/json"})
try:
    typ, text = imap._simple_command("COPY", "1:25", SOURCE)
    text = b" ".join(t for t in text if t).decode()
except (gwtest.imaplib.IMAP4.error, gwtest.imaplib.IMAP4.abort, OSError) as err:
    typ, text = "NO", str(err)
gwtest.http("DELETE", gwtest.GRAPH + "/_emulator/faults")
made = len(graph_messages(SOURCE)) - before
log("COPY under resets:", typ, text[:160], "- copies in Graph:", made)
if typ == "OK":
    check(made == 25, "COPY OK under resets: Graph holds %d of 25 copies" % made)
else:
    match = re.search(r"(\d+) of (\d+) were copied", text)
    check(made == (int(match.group(1)) if match else 0),
          "COPY NO under resets says %s, Graph holds %d copies" % (text[:120], made))

set_faults(False)
stats = json.loads(gwtest.http("GET", gwtest.GRAPH + "/_emulator/stats")[1])
log("throttled answers seen:", stats.get("throttled"))
imap.close()
imap.delete(SOURCE)
imap.delete(TARGET)
imap.logout()
finish()
