"""APPEND keeps the message exactly as the client wrote it (issue 11), seen through imaplib, with
Graph's own API on the emulator as the hand of an Outlook user.

Modes (first argument):
- `voice`: a 2.8 MB voice message (Content-Class: voice, an MP3 attachment in base64 lines of
  72 characters, a quoted-printable text part, a Date in +0100) is APPENDed into voicemail@'s
  INBOX, and a 6 MB one (its MP3 goes through an upload session); a second session finds
  BODY[], RFC822.SIZE, every part and the header byte for byte as appended, and BINARY[2] the
  MP3's octets;
- `verify [PORT]`: a new session (on the instance at PORT when given) finds those voice
  messages, by their Message-ID, byte for byte (after a restart, or on another instance sharing the store);
- `copymove`: the voice message COPYed and MOVEd to other folders is byte for byte the same
  there (and still in the source after COPY);
- `draft MODE`: the voice message APPENDed with \\Draft into Drafts (a draft Graph creates from
  MIME) comes back byte for byte, with the emulator's drafts `regenerated` or `kept` (MODE,
  set through `POST /_emulator/mime`);
- `outlook`: a message with two attachments is APPENDed and watched by a session; when the MP3
  attachment is deleted through Graph (as an Outlook user does), the session sees the old UID
  EXPUNGEd and a new UID EXISTS, whose body is Graph's (no MP3); the old UID never answers
  with other bytes than the ones appended.
"""

import base64
import datetime
import random
import re
import sys
import time
import urllib.parse

import gwtest
from gwtest import check, finish, log

MODE = sys.argv[1] if len(sys.argv) > 1 else "voice"
VOICE_ID = "<vm-exact-20240309-1803@pbx.example>"
# A longer message: its MP3 (4.5 MB) goes to Graph through an upload session.
LONG_VOICE_ID = "<vm-exact-long@pbx.example>"
VOICES = [(VOICE_ID, 2_100_000), (LONG_VOICE_ID, 4_500_000)]


def mp3(size, seed):
    """MP3-like octets: an ID3v2 header, then pseudo-random frames."""
    rng = random.Random(seed)
    header = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10
    return header + rng.randbytes(size - len(header))


def b64_lines(data, width):
    text = base64.b64encode(data).decode("ascii")
    return "".join(text[i : i + width] + "\r\n" for i in range(0, len(text), width))


def voice_message(message_id=VOICE_ID, audio_octets=2_100_000):
    """About 2.8 MB, as a unified-messaging server writes it."""
    audio = mp3(audio_octets, 11)
    text = (
        "Sie haben eine neue Sprachnachricht von +49 30 1234567 erhalten.=0D=0A=\r\n"
        "Dauer: 2 Minuten 11 Sekunden. Gr=C3=BC=C3=9Fe, Ihr Anrufbeantworter\r\n"
    )
    raw = (
        "Return-Path: <pbx@pbx.example>\r\n"
        "Received: from pbx.example (pbx.example [192.0.2.10])\r\n"
        "\tby mx.contoso.example with ESMTPS; Sat, 9 Mar 2024 18:03:12 +0100\r\n"
        "From: \"Voice Mail\" <pbx@pbx.example>\r\n"
        "To: Voicemail <voicemail@contoso.example>\r\n"
        "Subject: Voice message from +49 30 1234567 (2:11)\r\n"
        "Date: Sat, 9 Mar 2024 18:03:11 +0100\r\n"
        "Message-ID: %s\r\n"
        "Content-Class: voice\r\n"
        "X-CallingTelephoneNumber: +49 30 1234567\r\n"
        "X-VoiceMessageDuration: 131\r\n"
        "X-VoiceMessageSenderName: +49 30 1234567\r\n"
        "X-AttachmentOrder: voicemessage.mp3\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed;\r\n\tboundary="----=_Part_4711_1709998991.UM"\r\n'
        "\r\n"
        "This is a multi-part message in MIME format.\r\n"
        "------=_Part_4711_1709998991.UM\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "%s"
        "------=_Part_4711_1709998991.UM\r\n"
        "Content-Type: audio/mpeg; name=voicemessage.mp3\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=voicemessage.mp3\r\n"
        "Content-Description: Voice message\r\n"
        "\r\n"
        "%s"
        "------=_Part_4711_1709998991.UM--\r\n"
        "\r\n"
    ) % (message_id, text, b64_lines(audio, 72))
    return raw.encode("ascii"), audio


def parts_of(raw):
    """(header, text part body, MP3 part body) of `voice_message` as BODY[...] must give them."""
    header_end = raw.index(b"\r\n\r\n") + 4
    boundary = b"------=_Part_4711_1709998991.UM"
    pieces = raw.split(boundary)
    # pieces[1] and pieces[2] are "\r\n" + part header + "\r\n\r\n" + body + "\r\n".
    bodies = []
    for piece in pieces[1:3]:
        start = piece.index(b"\r\n\r\n") + 4
        bodies.append(piece[start:-2])
    return raw[:header_end], bodies[0], bodies[1]


def fetch_items(imap, uid, items):
    """UID FETCH uid (items) -> (text, [literals]) of the one FETCH response, or None."""
    typ, data = imap.uid("FETCH", str(uid), "(%s)" % items)
    if typ != "OK":
        raise RuntimeError("UID FETCH %s %s: %s %r" % (uid, items, typ, data))
    messages = gwtest.parse_fetch(data)
    messages = [m for m in messages if re.search(rb"UID %d\b" % uid, m["text"])]
    if not messages:
        return None
    return messages[0]["text"], messages[0]["literals"]


def uid_of(imap, message_id):
    typ, data = imap.uid("SEARCH", None, "HEADER", "Message-ID", '"%s"' % message_id)
    uids = [int(u) for u in (data[0] or b"").split()]
    check(len(uids) == 1, "one message with Message-ID %s: %r" % (message_id, uids))
    return uids[0] if uids else None


def check_exact(imap, uid, raw, audio, where):
    """BODY[], RFC822.SIZE, the header, each part and BINARY[2] are what was appended."""
    header, text, encoded = parts_of(raw)
    got = fetch_items(imap, uid, "RFC822.SIZE BODY.PEEK[]")
    if not check(got is not None, "%s: UID %s answers FETCH" % (where, uid)):
        return
    text_items, literals = got
    size = gwtest.fetch_number(text_items, b"RFC822.SIZE")
    check(size == len(raw), "%s: RFC822.SIZE %s, appended %d" % (where, size, len(raw)))
    body = literals[0] if literals else b""
    if body != raw:
        at = next((i for i, (a, b) in enumerate(zip(body, raw)) if a != b), min(len(body), len(raw)))
        check(
            False,
            "%s: BODY[] differs from the appended literal (%d vs %d octets) at %d: %r / %r"
            % (where, len(body), len(raw), at, body[max(0, at - 80) : at + 80], raw[max(0, at - 80) : at + 80]),
        )
    for item, want in [
        ("BODY.PEEK[HEADER]", header),
        ("BODY.PEEK[1]", text),
        ("BODY.PEEK[2]", encoded),
        ("BINARY.PEEK[2]", audio),
    ]:
        got = fetch_items(imap, uid, item)
        value = got[1][0] if got and got[1] else None
        check(
            value == want,
            "%s: %s is %s octets, appended %d" % (where, item, None if value is None else len(value), len(want)),
        )
    got = fetch_items(imap, uid, "ENVELOPE")
    check(
        got is not None and b'"Sat, 9 Mar 2024 18:03:11 +0100"' in got[0],
        "%s: ENVELOPE has the Date as written: %r" % (where, got and got[0][:200]),
    )
    got = fetch_items(imap, uid, "BODYSTRUCTURE")
    check(
        got is not None
        and b'("TEXT" "PLAIN" ("CHARSET" "UTF-8") NIL NIL "QUOTED-PRINTABLE"' in got[0].upper()
        and b'"AUDIO" "MPEG" ("NAME" "VOICEMESSAGE.MP3") NIL "VOICE MESSAGE" "BASE64" %d'
        % len(encoded)
        in got[0].upper(),
        "%s: BODYSTRUCTURE as appended: %r" % (where, got and got[0][:400]),
    )


def graph_differs(mailbox, folder_imap, message_id, raw, where):
    """Checks Graph's MIME of the message is not what was appended (the emulator wrote it anew,
    as Exchange does), so bytes that come back exact came from the gateway."""
    graph = gwtest.Graph(mailbox)
    folder = next(f for f in graph.folders() if f["imap"] == folder_imap)
    ids = [m["id"] for m in graph.messages(folder["id"]) if m.get("internetMessageId") == message_id]
    if check(len(ids) == 1, "%s: Graph holds %s once: %r" % (where, message_id, ids)):
        check(graph.mime(ids[0]) != raw, "%s: Graph's MIME is not the appended literal" % where)


def session_on(mailbox, port=None):
    imap = gwtest.connect(port=port)
    gwtest.login(imap, gwtest.name(mailbox))
    return imap


def append(imap, folder, raw, flags="(\\Seen)", date='"09-Mar-2024 18:03:11 +0100"'):
    typ, data = imap.append(gwtest.imap_mailbox_arg(folder), flags, date, raw)
    check(typ == "OK", "APPEND to %s: %s %r" % (folder, typ, data))
    code = gwtest.response_code(imap, "APPENDUID")
    match = re.match(rb"(\d+) (\d+)", code or b"")
    check(match is not None, "APPENDUID in the APPEND answer: %r" % code)
    return int(match.group(2)) if match else None


def voice():
    for message_id, audio_octets in VOICES:
        raw, audio = voice_message(message_id, audio_octets)
        log("voice message %s: %d octets, MP3 %d octets" % (message_id, len(raw), len(audio)))
        a = session_on(gwtest.VOICEMAIL)
        uid = append(a, "INBOX", raw)
        a.logout()
        graph_differs(gwtest.VOICEMAIL, "INBOX", message_id, raw, "voice")
        b = session_on(gwtest.VOICEMAIL)
        gwtest.select(b, "INBOX")
        check(uid_of(b, message_id) == uid, "the appended UID is the one SEARCH finds")
        check_exact(b, uid, raw, audio, "second session")
        b.logout()


def verify():
    port = int(sys.argv[2]) if len(sys.argv) > 2 else None
    imap = session_on(gwtest.VOICEMAIL, port)
    gwtest.select(imap, "INBOX")
    for message_id, audio_octets in VOICES:
        raw, audio = voice_message(message_id, audio_octets)
        uid = uid_of(imap, message_id)
        if uid is not None:
            check_exact(imap, uid, raw, audio, "%s on port %s" % (message_id, port or gwtest.PORT))
    imap.logout()


def copymove():
    imap = session_on(gwtest.ALICE)
    for folder in ["Exact", "Exact/Copies", "Exact/Moved"]:
        typ, data = imap.create(gwtest.imap_mailbox_arg(folder))
        check(typ == "OK", "CREATE %s: %r" % (folder, data))
    raw, audio = voice_message("<vm-copymove@pbx.example>")
    uid = append(imap, "Exact", raw)
    gwtest.select(imap, "Exact", readonly=False)
    check_exact(imap, uid, raw, audio, "Exact (appended)")
    typ, data = imap.uid("COPY", str(uid), gwtest.imap_mailbox_arg("Exact/Copies"))
    check(typ == "OK", "UID COPY: %s %r" % (typ, data))
    typ, data = imap.uid("MOVE", str(uid), gwtest.imap_mailbox_arg("Exact/Moved"))
    check(typ == "OK", "UID MOVE: %s %r" % (typ, data))
    for folder in ["Exact/Copies", "Exact/Moved"]:
        graph_differs(gwtest.ALICE, folder, "<vm-copymove@pbx.example>", raw, folder)
        gwtest.select(imap, folder)
        found = uid_of(imap, "<vm-copymove@pbx.example>")
        if found is not None:
            check_exact(imap, found, raw, audio, folder)
    # The copy's and the moved message's bytes after the gateway forgot its caches: a new session.
    imap.logout()
    imap = session_on(gwtest.ALICE)
    for folder in ["Exact/Copies", "Exact/Moved"]:
        gwtest.select(imap, folder)
        found = uid_of(imap, "<vm-copymove@pbx.example>")
        if found is not None:
            check_exact(imap, found, raw, audio, folder + " (new session)")
    imap.logout()


def draft():
    mode = sys.argv[2]
    status, body = gwtest.http(
        "POST", gwtest.GRAPH + "/_emulator/mime", ('{"drafts": "%s"}' % mode).encode(),
        {"Content-Type": "application/json"},
    )
    check(status == 200, "emulator MIME mode %s: %s %r" % (mode, status, body[:200]))
    message_id = "<vm-draft-%s@pbx.example>" % mode
    raw, audio = voice_message(message_id)
    imap = session_on(gwtest.ALICE)
    drafts = next(f["imap"] for f in gwtest.Graph(gwtest.ALICE).folders() if f["special"] == "\\Drafts")
    uid = append(imap, drafts, raw, flags="(\\Draft \\Seen)")
    # Graph sets a draft's time when it creates it; the UID shows that time from the start,
    # not the gateway's clock a moment later (a round would change its INTERNALDATE).
    gwtest.select(imap, drafts)
    typ, data = imap.uid("FETCH", str(uid), "(INTERNALDATE)")
    shown = re.search(rb'INTERNALDATE "([^"]+)"', data[0] if data and data[0] else b"")
    graph = gwtest.Graph(gwtest.ALICE)
    folder = next(f for f in graph.folders() if f["imap"] == drafts)
    received = [m.get("receivedDateTime") for m in graph.messages(folder["id"])
                if m.get("internetMessageId") == message_id]
    if check(shown is not None and len(received) == 1,
             "draft: INTERNALDATE %r and Graph's receivedDateTime %r" % (data, received)):
        graph_time = datetime.datetime.fromisoformat(received[0].replace("Z", "+00:00"))
        imap_time = datetime.datetime.strptime(shown.group(1).decode(), "%d-%b-%Y %H:%M:%S %z")
        check(imap_time == graph_time.replace(microsecond=0),
              "draft (%s): INTERNALDATE %s is Graph's receivedDateTime %s" % (mode, imap_time, graph_time))
    imap.logout()
    if mode == "regenerated":
        graph_differs(gwtest.ALICE, drafts, message_id, raw, "draft")
    imap = session_on(gwtest.ALICE)
    gwtest.select(imap, drafts)
    check(uid_of(imap, message_id) == uid, "the appended draft's UID is the one SEARCH finds")
    check_exact(imap, uid, raw, audio, "draft (%s)" % mode)
    imap.logout()


def two_attachments():
    audio = mp3(200_000, 7)
    raw = (
        "From: Caller <caller@example.net>\r\n"
        "To: alice@contoso.example\r\n"
        "Subject: attachment removed in Outlook\r\n"
        "Date: Tue, 10 Mar 2026 08:00:00 -0500\r\n"
        "Message-ID: <outlook-removes@example.net>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n'
        "\r\n"
        "--b1\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "Two files attached.\r\n"
        "--b1\r\n"
        'Content-Type: audio/mpeg; name="call.mp3"\r\n'
        'Content-Disposition: attachment; filename="call.mp3"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "%s"
        "--b1\r\n"
        'Content-Type: text/csv; name="calls.csv"\r\n'
        'Content-Disposition: attachment; filename="calls.csv"\r\n'
        "\r\n"
        "when,who\r\n2026-03-10,caller\r\n"
        "--b1--\r\n"
    ) % b64_lines(audio, 76)
    return raw.encode("ascii")


def outlook():
    raw = two_attachments()
    imap = session_on(gwtest.ALICE)
    typ, data = imap.create(gwtest.imap_mailbox_arg("Outlook"))
    check(typ == "OK", "CREATE Outlook: %r" % data)
    uid = append(imap, "Outlook", raw)
    exists, _ = gwtest.select(imap, "Outlook", readonly=False)
    got = fetch_items(imap, uid, "BODY.PEEK[]")
    check(got is not None and got[1] and got[1][0] == raw, "the appended message is exact at first")

    graph = gwtest.Graph(gwtest.ALICE)
    folder = next(f for f in graph.folders() if f["imap"] == "Outlook")
    ids = [
        m["id"]
        for m in graph.messages(folder["id"])
        if m.get("internetMessageId") == "<outlook-removes@example.net>"
    ]
    check(len(ids) == 1, "Graph holds the message once: %r" % ids)
    message = urllib.parse.quote(ids[0], safe="")
    attachments = graph.get_json("/messages/%s/attachments?$select=id,name" % message)["value"]
    mp3_ids = [a["id"] for a in attachments if a["name"] == "call.mp3"]
    check(len(mp3_ids) == 1, "Graph lists call.mp3: %r" % attachments)
    status, body = graph.request(
        "DELETE", "/messages/%s/attachments/%s" % (message, urllib.parse.quote(mp3_ids[0], safe=""))
    )
    check(status == 204, "DELETE of the attachment in Outlook: %s %r" % (status, body[:200]))

    # The session learns of it; until then, the old UID answers with the appended bytes only.
    expunged, new_exists = False, False
    deadline = time.time() + 90
    while time.time() < deadline and not (expunged and new_exists):
        lines = gwtest.command_lines(imap, "NOOP")
        check(lines and " OK" in lines[-1], "NOOP: %r" % lines)
        for line in lines:
            if re.match(r"\* \d+ EXPUNGE", line):
                expunged = True
            if re.match(r"\* \d+ EXISTS", line):
                new_exists = True
        got = fetch_items(imap, uid, "BODY.PEEK[]")
        if got is not None:
            check(got[1] and got[1][0] == raw, "UID %d answers with other bytes than appended" % uid)
        if not (expunged and new_exists):
            time.sleep(1)
    check(expunged, "the session saw the old UID EXPUNGEd")
    check(new_exists, "the session saw EXISTS for the message under a new UID")
    check(fetch_items(imap, uid, "BODY.PEEK[]") is None, "UID %d is gone" % uid)
    typ, data = imap.uid("SEARCH", None, "HEADER", "Message-ID", '"<outlook-removes@example.net>"')
    uids = [int(u) for u in (data[0] or b"").split()]
    check(len(uids) == 1 and uids[0] > uid, "one message, under a new UID above %d: %r" % (uid, uids))
    if uids:
        got = fetch_items(imap, uids[0], "RFC822.SIZE BODY.PEEK[]")
        body = got[1][0] if got and got[1] else b""
        check(body != raw, "the new UID shows Graph's message, not the appended bytes")
        check(b"call.mp3" not in body, "the new UID's body has no call.mp3")
        check(b"calls.csv" in body, "the new UID's body still has calls.csv")
        size = gwtest.fetch_number(got[0], b"RFC822.SIZE") if got else None
        check(size == len(body), "RFC822.SIZE %s of the new UID is its BODY[] (%d)" % (size, len(body)))
        check(body == graph.mime(ids[0]).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"),
              "the new UID's body is Graph's MIME")
    imap.logout()


{"voice": voice, "verify": verify, "copymove": copymove, "draft": draft, "outlook": outlook}[MODE]()
finish()
