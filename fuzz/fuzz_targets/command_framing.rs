//! A client's byte stream as the connection reads it: framed by `imap2graph::framing::Framer`
//! under the limits of the session's phase (before login, then after it), then each complete
//! message decoded as `connection` decodes it: a command with imap-codec's `CommandCodec`,
//! AUTHENTICATE data with `AuthenticateDataCodec`, IDLE's end with `IdleDoneCodec`.
//!
//! Input: octet 0 drives the run (bits 0-1: the line limit after login, 64 << n; bits 2-4:
//! the literal limit after login, 16 << n; bit 5: a LOGIN or AUTHENTICATE that decodes logs in;
//! bits 6-7 and the length: how the stream is cut into reads), the rest is what the client
//! sends.
//!
//! Checks, besides "no panic":
//! - the frames and the messages are the same however the stream is cut into reads (one
//!   read, or many small ones), and reads are only pushed when the framer asks for more;
//! - what the framer holds never exceeds its limits: a message's lines within the line limit,
//!   each literal and the literals together within theirs, the kept bytes of a refused message
//!   within the line limit;
//! - every byte is accounted for: read byte by byte, each frame comes with the byte that ends
//!   it, and its message is exactly the bytes read since the previous message ended (a dropped
//!   message: their first bytes); when the framer wants more input it holds none unframed;
//! - a complete message that decodes re-encodes (imap-codec) to text that decodes again.
#![no_main]

use imap2graph::framing::{Frame, FrameLimits, Framer, PRELOGIN_MAX_MESSAGE_BYTES};
use imap_codec::decode::Decoder;
use imap_codec::encode::Encoder;
use imap_codec::imap_types::auth::AuthMechanism;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::{AuthenticateDataCodec, CommandCodec, IdleDoneCodec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let after_login = FrameLimits::after_login(64 << (control & 3), 16 << ((control >> 2) & 7));
    let logins_succeed = control & 0x20 != 0;

    // The whole stream in one read, then in reads of pseudo-random sizes.
    let whole = run(stream, &[stream.len().max(1)], after_login, logins_succeed);
    let cuts = cuts(control, stream.len());
    let pieces = run(stream, &cuts, after_login, logins_succeed);
    assert_eq!(whole, pieces, "the reads' sizes changed the frames");
    let bytewise = run(stream, &[1], after_login, logins_succeed);
    assert_eq!(whole, bytewise, "reads of one byte changed the frames");
});

/// What the client is expected to send next (as in `connection`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expecting {
    Command,
    AuthenticateData,
    IdleDone,
}

/// Read sizes: 1..=64 (or 1..=4096 when bit 6 of `control` is set), from a xorshift seeded by
/// the control octet and the length.
fn cuts(control: u8, len: usize) -> Vec<usize> {
    let mut state = (u64::from(control) << 32 | len as u64) | 1;
    let bound = if control & 0x40 != 0 { 4096 } else { 64 };
    (0..64)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound) as usize + 1
        })
        .collect()
}

/// Frames `stream` read in pieces of the sizes `cuts` gives (cycled); returns every frame with
/// the message bytes it came with.
fn run(
    stream: &[u8],
    cuts: &[usize],
    after_login: FrameLimits,
    logins_succeed: bool,
) -> Vec<(Frame, Vec<u8>)> {
    let mut framer = Framer::new(FrameLimits::before_login());
    let mut authenticated = false;
    let mut expecting = Expecting::Command;
    let mut frames = Vec::new();
    let mut read = 0usize;
    let mut cut = cuts.iter().cycle();
    // Read byte by byte, a frame ends with the last byte read: where the current message
    // started is then known exactly.
    let exact = cuts == [1];
    let mut message_start = 0usize;
    loop {
        let limits = if authenticated {
            after_login
        } else {
            FrameLimits::before_login()
        };
        framer.set_limits(limits);
        let Some(frame) = framer.next(expecting == Expecting::Command) else {
            assert!(!framer.has_input(), "asks for more while holding input");
            check_held(&framer, limits);
            if read == stream.len() {
                return frames;
            }
            let size = (*cut.next().expect("cycled")).min(stream.len() - read);
            framer.push(&stream[read..read + size]);
            read += size;
            continue;
        };
        let _ = framer.tag();
        let message = framer.message().to_vec();
        check_held(&framer, limits);
        frames.push((frame, message.clone()));
        if exact {
            // Every byte accounted for: the frame's message is the bytes read since the last
            // message ended (a dropped message keeps only its first bytes).
            assert!(!framer.has_input(), "a frame before the byte that ends it");
            let read_since = &stream[message_start..read];
            match frame {
                Frame::TooBig | Frame::Broken => assert!(
                    read_since.starts_with(&message),
                    "a dropped message's bytes are not the stream's"
                ),
                _ => assert_eq!(
                    read_since,
                    &message[..],
                    "a message is not the stream's bytes"
                ),
            }
            if frame != Frame::ContinueLiteral {
                message_start = read;
            }
        }
        match frame {
            Frame::ContinueLiteral => continue,
            Frame::LiteralRefused { length } => {
                // Only a length IMAP allows is refused (a longer one breaks the stream).
                assert!(length <= u64::from(u32::MAX));
                assert!(length > limits.max_literal_bytes || length > 0);
                expecting = Expecting::Command;
                continue;
            }
            Frame::TooBig => {
                expecting = Expecting::Command;
                continue;
            }
            Frame::Broken => {
                assert!(!framer.has_input(), "input kept after a broken message");
                // The connection closes here.
                return frames;
            }
            Frame::Message => {}
        }
        assert!(message.len() as u64 <= limits.max_message_bytes());

        match expecting {
            Expecting::Command => match CommandCodec::default().decode(&message) {
                Ok((rest, command)) => {
                    assert!(rest.is_empty(), "a framed message is one command");
                    let encoded = CommandCodec::default().encode(&command).dump();
                    let (_, again) = CommandCodec::default()
                        .decode(&encoded)
                        .unwrap_or_else(|err| panic!("{err:?} reading what was written"));
                    assert_eq!(CommandCodec::default().encode(&again).dump(), encoded);
                    match command.body {
                        CommandBody::Login { .. } => authenticated |= logins_succeed,
                        CommandBody::Authenticate {
                            mechanism: AuthMechanism::Plain,
                            initial_response: None,
                        } => expecting = Expecting::AuthenticateData,
                        CommandBody::Authenticate { .. } => authenticated |= logins_succeed,
                        CommandBody::Idle => expecting = Expecting::IdleDone,
                        _ => {}
                    }
                }
                Err(_) => {}
            },
            Expecting::AuthenticateData => {
                if let Ok((b"", _)) = AuthenticateDataCodec::default().decode(&message) {
                    authenticated |= logins_succeed;
                }
                expecting = Expecting::Command;
            }
            Expecting::IdleDone => {
                let _ = IdleDoneCodec::default().decode(&message);
                expecting = Expecting::Command;
            }
        }
    }
}

/// What the framer holds is within its limits.
fn check_held(framer: &Framer, limits: FrameLimits) {
    let held = framer.message().len() as u64;
    // Before login everything is bounded by a few KB whatever the stream.
    let bound = limits
        .max_message_bytes()
        .max(FrameLimits::before_login().max_message_bytes());
    assert!(held <= bound, "holds {held} bytes, limits {limits:?}");
    assert!(
        FrameLimits::before_login().max_message_bytes() <= 2 * PRELOGIN_MAX_MESSAGE_BYTES as u64
    );
}
