"""The voicemail scenario of issue 5, with imaplib against the gateway and Graph's own API on
the emulator as the witness:

1. APPEND a voice message (short text body, 5 MB audio/mpeg attachment, an X- header naming the
   caller) into INBOX of voicemail@; the tagged OK carries APPENDUID;
2. a second session fetches it: the attachment's bytes, the X- header, the subject come back;
   Graph holds it as received mail (isDraft false), unread;
3. STORE \\Seen: Graph's isRead becomes true (the message-waiting lamp goes off);
4. STORE \\Deleted and EXPUNGE: Graph no longer has it in the Inbox.

Prints Graph request counts per step (from the emulator's stats) for the record.
"""

import email
import email.policy
import hashlib
import random
import re
import time

import gwtest
from gwtest import check, finish, log

CALLER = "+1 555 0100 (Jane Caller)"
random.seed(5)
AUDIO = bytes(random.getrandbits(8) for _ in range(5 * 1024 * 1024))
MESSAGE_ID = "<vm-%d@pbx.example>" % int(time.time() * 1000)


def voice_message():
    import base64

    encoded = base64.encodebytes(AUDIO).decode("ascii").replace("\n", "\r\n")
    return (
        "From: Voice Mail System <pbx@contoso.example>\r\n"
        "To: Voicemail <voicemail@contoso.example>\r\n"
        "Subject: Voice message from %s\r\n"
        "Date: Tue, 03 Mar 2026 10:00:00 +0000\r\n"
        "Message-ID: %s\r\n"
        "X-Caller-ID: %s\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="vm-boundary"\r\n'
        "\r\n"
        "--vm-boundary\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "You received a voice message of 42 seconds.\r\n"
        "--vm-boundary\r\n"
        'Content-Type: audio/mpeg; name="voicemail.mp3"\r\n'
        'Content-Disposition: attachment; filename="voicemail.mp3"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "%s"
        "--vm-boundary--\r\n" % (CALLER, MESSAGE_ID, CALLER, encoded)
    ).encode("ascii")


def requests_so_far():
    status, body = gwtest.http("GET", gwtest.GRAPH + "/_emulator/stats")
    if status != 200:
        return None
    import json

    stats = json.loads(body)
    return stats.get("total", stats.get("requests"))


def graph_message(graph, inbox_id):
    for message in graph.get_all(
        "/mailFolders/%s/messages?$select=id,subject,isRead,isDraft,internetMessageId&$top=100"
        % inbox_id
    ):
        if message.get("internetMessageId") == MESSAGE_ID:
            return message
    return None


graph = gwtest.Graph(gwtest.VOICEMAIL)
inbox_id = graph.well_known("inbox")

writer = gwtest.connect()
gwtest.login(writer, gwtest.name(gwtest.VOICEMAIL))
before = requests_so_far()
typ, data = writer.append("INBOX", "", '"03-Mar-2026 10:00:05 +0000"', voice_message())
after = requests_so_far()
text = (data[0] or b"").decode()
log("APPEND:", typ, text, "- Graph requests:", None if before is None else after - before)
check(typ == "OK", "APPEND answered %s %s" % (typ, text))
match = re.search(r"\[APPENDUID (\d+) (\d+)\]", text)
check(match is not None, "APPEND's tagged OK has APPENDUID: %r" % text)
uid = match.group(2) if match else "*"

reader = gwtest.connect()
gwtest.login(reader, gwtest.name(gwtest.VOICEMAIL))
typ, data = reader.select("INBOX")
check(typ == "OK", "SELECT INBOX")
typ, data = reader.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
check(typ == "OK" and data and isinstance(data[0], tuple), "UID FETCH of the appended message")
if typ == "OK" and data and isinstance(data[0], tuple):
    meta, raw = data[0]
    check(b"\\Draft" not in meta and b"\\Seen" not in meta, "flags: no \\Draft, no \\Seen: %r" % meta)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    check(str(message["X-Caller-ID"]) == CALLER, "X-Caller-ID survives: %r" % message["X-Caller-ID"])
    check(CALLER in str(message["Subject"]), "Subject survives: %r" % message["Subject"])
    check("pbx@contoso.example" in str(message["From"]), "From survives: %r" % message["From"])
    attachments = [p for p in message.iter_attachments() if p.get_content_type() == "audio/mpeg"]
    check(len(attachments) == 1, "one audio/mpeg attachment (found %d)" % len(attachments))
    if attachments:
        got = attachments[0].get_content()
        check(
            got == AUDIO,
            "attachment bytes equal (%d vs %d bytes, sha256 %s vs %s)"
            % (
                len(got),
                len(AUDIO),
                hashlib.sha256(got).hexdigest()[:12],
                hashlib.sha256(AUDIO).hexdigest()[:12],
            ),
        )
        check(attachments[0].get_filename() == "voicemail.mp3", "file name survives")
    body = message.get_body(preferencelist=("plain", "html"))
    check(body is not None and "42 seconds" in body.get_content(), "text body survives")

held = graph_message(graph, inbox_id)
check(held is not None, "Graph has the message in the Inbox")
if held:
    check(held["isDraft"] is False, "Graph: isDraft is false (received mail)")
    check(held["isRead"] is False, "Graph: isRead is false before STORE")

before = requests_so_far()
typ, data = reader.uid("STORE", uid, "+FLAGS", "(\\Seen)")
after = requests_so_far()
log("STORE +FLAGS \\Seen:", typ, data, "- Graph requests:", None if before is None else after - before)
check(typ == "OK", "UID STORE +FLAGS (\\Seen)")
check(any(b"\\Seen" in (d or b"") for d in data), "the FETCH response shows \\Seen: %r" % data)
if held:
    now = graph.get_json("/messages/%s?$select=isRead" % held["id"])
    check(now.get("isRead") is True, "Graph: isRead is true after STORE \\Seen")

typ, data = reader.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
check(typ == "OK", "UID STORE +FLAGS.SILENT (\\Deleted)")
# Another session sees the \Deleted mark (it lives in the uid store).
writer.select("INBOX")
typ, data = writer.uid("FETCH", uid, "(FLAGS)")
check(typ == "OK" and b"\\Deleted" in (data[0] or b""), "a second session sees \\Deleted: %r" % data)
if held:
    still = graph_message(graph, inbox_id)
    check(still is not None, "Graph still has it before EXPUNGE")
before = requests_so_far()
typ, data = reader.expunge()
after = requests_so_far()
log("EXPUNGE:", typ, data, "- Graph requests:", None if before is None else after - before)
check(typ == "OK", "EXPUNGE answered %s" % typ)
check(data and data[0] is not None, "EXPUNGE reported a message: %r" % data)
check(graph_message(graph, inbox_id) is None, "Graph: the message is gone from the Inbox")
typ, data = reader.uid("FETCH", uid, "(FLAGS)")
check(typ == "OK" and (not data or data[0] is None), "the UID is gone from the session: %r" % data)

# Graph fails half-way (the upload session of the large attachment cannot be opened): the
# APPEND answers NO and leaves nothing behind, not even a draft.
import json

faults = {"errors": [{"route": "POST /users/{id}/messages/{id}/attachments/createUploadSession",
                      "status": 500, "probability": 1.0}]}
status, _ = gwtest.http("POST", gwtest.GRAPH + "/_emulator/faults", json.dumps(faults).encode(),
                        {"Content-Type": "application/json"})
check(status in (200, 204), "faults set (%s)" % status)
MESSAGE_ID = "<vm-failed-%d@pbx.example>" % int(time.time() * 1000)
try:
    typ, data = writer.append("INBOX", "", None, voice_message())
except gwtest.imaplib.IMAP4.error as err:
    typ, data = "NO", [str(err).encode()]
log("APPEND with a failing upload session:", typ, data)
check(typ == "NO", "APPEND answered NO when Graph failed half-way: %s %s" % (typ, data))
gwtest.http("DELETE", gwtest.GRAPH + "/_emulator/faults")
check(graph_message(graph, inbox_id) is None, "no half-made message stayed in the Inbox")
drafts = graph.well_known("drafts")
check(graph_message(graph, drafts) is None, "no half-made message stayed in Drafts")

reader.logout()
writer.logout()
finish()
