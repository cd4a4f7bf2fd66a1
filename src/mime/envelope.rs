//! ENVELOPE (RFC 3501 section 7.4.2) of a message or of a message/rfc822
//! part.
//!
//! Built from the raw header text, not from decoded values: RFC 2047 words
//! stay encoded and 8-bit bytes go out as literals, as Dovecot answers.
//! Dovecot's choices that the RFC leaves open, matched here:
//! - Date, Subject, In-Reply-To, Message-ID: the last field of that name wins;
//! - address fields of the same name are merged as if comma-separated;
//! - Sender and Reply-To default to From when absent (RFC 3501 requires it);
//! - Subject and display names have white space folded ("for humans").

use super::address::{parse_address_list, Address};
use super::imap_string::{write_nstring, write_nstring_without_newlines, write_string_for_humans};
use super::tree::Part;

#[derive(Default)]
struct Envelope {
    date: Option<Vec<u8>>,
    subject: Option<Vec<u8>>,
    from: Vec<Address>,
    sender: Vec<Address>,
    reply_to: Vec<Address>,
    to: Vec<Address>,
    cc: Vec<Address>,
    bcc: Vec<Address>,
    in_reply_to: Option<Vec<u8>>,
    message_id: Option<Vec<u8>>,
}

fn header_string(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for &byte in value {
        if byte == 0 {
            out.extend_from_slice(super::rfc822::NUL_REPLACEMENT);
        } else {
            out.push(byte);
        }
    }
    out
}

fn collect(raw: &[u8], part: &Part) -> Envelope {
    let mut envelope = Envelope::default();
    for header in &part.headers {
        let name = header.name(raw);
        let value = || header.full_value(raw);
        let addresses = if name.eq_ignore_ascii_case(b"From") {
            Some(&mut envelope.from)
        } else if name.eq_ignore_ascii_case(b"Sender") {
            Some(&mut envelope.sender)
        } else if name.eq_ignore_ascii_case(b"Reply-To") {
            Some(&mut envelope.reply_to)
        } else if name.eq_ignore_ascii_case(b"To") {
            Some(&mut envelope.to)
        } else if name.eq_ignore_ascii_case(b"Cc") {
            Some(&mut envelope.cc)
        } else if name.eq_ignore_ascii_case(b"Bcc") {
            Some(&mut envelope.bcc)
        } else {
            None
        };
        if let Some(list) = addresses {
            list.extend(parse_address_list(&value()));
            continue;
        }
        let text = if name.eq_ignore_ascii_case(b"Date") {
            &mut envelope.date
        } else if name.eq_ignore_ascii_case(b"Subject") {
            &mut envelope.subject
        } else if name.eq_ignore_ascii_case(b"In-Reply-To") {
            &mut envelope.in_reply_to
        } else if name.eq_ignore_ascii_case(b"Message-ID") {
            &mut envelope.message_id
        } else {
            continue;
        };
        *text = Some(header_string(&value()));
    }
    envelope
}

fn write_addresses(out: &mut Vec<u8>, addresses: &[Address]) {
    if addresses.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for address in addresses {
        out.push(b'(');
        match &address.name {
            None => out.extend_from_slice(b"NIL"),
            Some(name) => write_string_for_humans(out, name),
        }
        out.push(b' ');
        write_nstring(out, address.route.as_deref());
        out.push(b' ');
        write_nstring(out, address.mailbox.as_deref());
        out.push(b' ');
        write_nstring(out, address.domain.as_deref());
        out.push(b')');
    }
    out.push(b')');
}

/// Writes `(date subject from sender reply-to to cc bcc in-reply-to
/// message-id)` for the header of `part`.
pub(crate) fn write_envelope(out: &mut Vec<u8>, raw: &[u8], part: &Part) {
    let envelope = collect(raw, part);
    out.push(b'(');
    write_nstring_without_newlines(out, envelope.date.as_deref());
    out.push(b' ');
    match &envelope.subject {
        None => out.extend_from_slice(b"NIL"),
        Some(subject) => write_string_for_humans(out, subject),
    }
    out.push(b' ');
    write_addresses(out, &envelope.from);
    out.push(b' ');
    let sender = if envelope.sender.is_empty() {
        &envelope.from
    } else {
        &envelope.sender
    };
    write_addresses(out, sender);
    out.push(b' ');
    let reply_to = if envelope.reply_to.is_empty() {
        &envelope.from
    } else {
        &envelope.reply_to
    };
    write_addresses(out, reply_to);
    out.push(b' ');
    write_addresses(out, &envelope.to);
    out.push(b' ');
    write_addresses(out, &envelope.cc);
    out.push(b' ');
    write_addresses(out, &envelope.bcc);
    out.push(b' ');
    write_nstring_without_newlines(out, envelope.in_reply_to.as_deref());
    out.push(b' ');
    write_nstring_without_newlines(out, envelope.message_id.as_deref());
    out.push(b')');
}
