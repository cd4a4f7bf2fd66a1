//! The PROXY protocol v2 header a load balancer sends before TLS (`imap2graph::proxy`), read
//! from a connection the way the listener reads it: `read_header` over an async reader (here a
//! byte slice, on one current-thread runtime made once).
//!
//! Checks, besides "no panic":
//! - `read_header` consumes exactly the header (16 octets plus its declared length) when the
//!   signature, version and length are acceptable, and exactly the 16 fixed octets when they
//!   are not, so the TLS handshake that follows is never touched; it fails only when the input
//!   is shorter than that;
//! - it answers what `parse_header` answers for the same octets;
//! - an address is given only for PROXY (not LOCAL) over AF_INET or AF_INET6, and is the one
//!   the header carries;
//! - a header built from the input's address (first octet picks the family) parses back to it.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use imap2graph::proxy::{header_len, parse_header, read_header, ProxyError};
use libfuzzer_sys::fuzz_target;

const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    check_stream(data);
    // The same octets behind a valid signature, so the fuzzer need not find it first.
    let mut signed = SIGNATURE.to_vec();
    signed.extend_from_slice(data);
    check_stream(&signed);
    check_round_trip(data);
});

fn check_stream(data: &[u8]) {
    let mut reader = data;
    let answer = runtime().block_on(read_header(&mut reader));
    let consumed = data.len() - reader.len();
    let fixed: Option<&[u8; 16]> = data.get(..16).and_then(|f| f.try_into().ok());
    match answer {
        Err(_) => {
            // Only a short read fails.
            let needed = match fixed.map(header_len) {
                None => 16,
                Some(Ok(total)) => total,
                Some(Err(err)) => panic!("read failed though the fixed part says {err}"),
            };
            assert!(
                data.len() < needed,
                "read failed with {needed} octets there"
            );
        }
        Ok(Err(err)) => {
            let fixed = fixed.expect("16 octets were read");
            if is_fixed(&err) {
                assert_eq!(header_len(fixed), Err(err.clone()));
                assert_eq!(consumed, 16, "read past a refused fixed part");
            } else {
                let total = header_len(fixed).expect("the fixed part was accepted");
                assert_eq!(consumed, total);
            }
            assert_eq!(parse_header(&data[..consumed]), Err(err));
        }
        Ok(Ok(header)) => {
            let fixed = fixed.expect("16 octets were read");
            let total = header_len(fixed).expect("the fixed part was accepted");
            assert_eq!(consumed, total, "read more or less than the header");
            assert_eq!(parse_header(&data[..consumed]), Ok(header));
            // Anything after the header is not part of it.
            assert_eq!(parse_header(data), Ok(header));
            let command = data[12] & 0x0f;
            let family = data[13] >> 4;
            match header.source {
                None => assert!(command == 0 || !matches!(family, 1 | 2)),
                Some(source) => {
                    assert_eq!(command, 1);
                    let addresses = &data[16..total];
                    let expected = match family {
                        1 => SocketAddr::new(
                            IpAddr::V4(Ipv4Addr::new(
                                addresses[0],
                                addresses[1],
                                addresses[2],
                                addresses[3],
                            )),
                            u16::from_be_bytes([addresses[8], addresses[9]]),
                        ),
                        2 => {
                            let octets: [u8; 16] = addresses[..16].try_into().unwrap();
                            SocketAddr::new(
                                IpAddr::V6(Ipv6Addr::from(octets)),
                                u16::from_be_bytes([addresses[32], addresses[33]]),
                            )
                        }
                        other => panic!("an address from family {other}"),
                    };
                    assert_eq!(source, expected);
                }
            }
        }
    }
}

/// Errors decided by the 16 fixed octets alone.
fn is_fixed(err: &ProxyError) -> bool {
    matches!(
        err,
        ProxyError::NoSignature | ProxyError::Version(_) | ProxyError::TooLong(_)
    )
}

/// What HAProxy would send for the address in `data`: PROXY, TCP, then the addresses and ports,
/// then any TLVs (the rest of the input, up to the length limit).
fn check_round_trip(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let v6 = kind & 1 == 1;
    let address_len = if v6 { 36 } else { 12 };
    if rest.len() < address_len {
        return;
    }
    let (addresses, tlvs) = rest.split_at(address_len);
    let tlvs = &tlvs[..tlvs.len().min(2048 - address_len)];
    let mut header = SIGNATURE.to_vec();
    header.push(0x21);
    header.push(if v6 { 0x21 } else { 0x11 });
    header.extend_from_slice(&((address_len + tlvs.len()) as u16).to_be_bytes());
    header.extend_from_slice(addresses);
    header.extend_from_slice(tlvs);
    let expected = if v6 {
        let octets: [u8; 16] = addresses[..16].try_into().unwrap();
        SocketAddr::new(
            IpAddr::V6(Ipv6Addr::from(octets)),
            u16::from_be_bytes([addresses[32], addresses[33]]),
        )
    } else {
        SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(
                addresses[0],
                addresses[1],
                addresses[2],
                addresses[3],
            )),
            u16::from_be_bytes([addresses[8], addresses[9]]),
        )
    };
    assert_eq!(parse_header(&header).map(|h| h.source), Ok(Some(expected)));
    let mut stream = header.clone();
    stream.extend_from_slice(b"\x16\x03\x01 TLS");
    let mut reader = &stream[..];
    let read = runtime().block_on(read_header(&mut reader));
    assert_eq!(
        read.ok().and_then(Result::ok).map(|h| h.source),
        Some(Some(expected))
    );
    assert_eq!(reader, b"\x16\x03\x01 TLS");
}
