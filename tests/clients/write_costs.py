"""Graph requests per write workload, read from the emulator's stats (GET /_emulator/stats,
`total` counts HTTP requests, a `$batch` as one): COPY of 50 messages, STORE of 50 (and the
same STORE again, which changes nothing in Graph), \\Deleted on 50 (uid store only), EXPUNGE
of 50. Prints the figures and checks the batched ones exactly: ceil(50 / 20) = 3 requests.
"""

import json
import time

import gwtest
from gwtest import check, finish, log

FOLDER = "CostTest" + str(int(time.time() * 1000))
N = 50


def total():
    status, body = gwtest.http("GET", gwtest.GRAPH + "/_emulator/stats")
    return json.loads(body)["total"]


def measured(what, command, expected=None):
    before = total()
    result = command()
    cost = total() - before
    log("%-40s %3d Graph request(s)  -> %s" % (what, cost, result[0]))
    check(result[0] == "OK", "%s answered %s %s" % (what, result[0], result[1]))
    if expected is not None:
        check(cost == expected, "%s cost %d requests, expected %d" % (what, cost, expected))
    return result


imap = gwtest.connect()
gwtest.login(imap, gwtest.name(gwtest.ALICE))
check(imap.create(FOLDER)[0] == "OK", "CREATE " + FOLDER)
typ, data = imap.select("INBOX", readonly=True)
check(int(data[0]) >= N, "INBOX has at least %d messages" % N)
measured("COPY 1:%d (into a new folder)" % N, lambda: imap._simple_command("COPY", "1:%d" % N, FOLDER))
imap.select(FOLDER)
measured("STORE 1:%d +FLAGS.SILENT (\\Flagged)" % N,
         lambda: imap.store("1:%d" % N, "+FLAGS.SILENT", "(\\Flagged)"), expected=3)
measured("the same STORE again", lambda: imap.store("1:%d" % N, "+FLAGS.SILENT", "(\\Flagged)"), expected=0)
measured("STORE 1:%d FLAGS (\\Seen \\Flagged Blue)" % N,
         lambda: imap.store("1:%d" % N, "FLAGS", "(\\Seen \\Flagged Blue)"), expected=3)
measured("STORE 1:%d +FLAGS.SILENT (\\Deleted)" % N,
         lambda: imap.store("1:%d" % N, "+FLAGS.SILENT", "(\\Deleted)"), expected=0)
result = measured("EXPUNGE of %d" % N, lambda: imap.expunge(), expected=3)
check(len(result[1]) == N, "EXPUNGE reported %d messages" % len(result[1]))
imap.close()
check(imap.delete(FOLDER)[0] == "OK", "DELETE " + FOLDER)
imap.logout()
finish()
