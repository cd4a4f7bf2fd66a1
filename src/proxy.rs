//! Owns the PROXY protocol version 2 header that a load balancer (HAProxy `send-proxy-v2`)
//! puts before the TLS handshake, carrying the real client address
//! (https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt, section 2.2).
//!
//! Parsing is sans-I/O ([`parse_header`]); [`read_header`] reads exactly the header's bytes from
//! the socket, so the TLS handshake that follows is untouched.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt};

/// The 12-byte signature that starts every version 2 header.
const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Signature, version/command, family/protocol, length.
const FIXED_LEN: usize = 16;
/// HAProxy never sends more; a larger length is refused rather than buffered.
const MAX_ADDRESS_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("connection did not start with a PROXY protocol v2 header")]
    NoSignature,
    #[error("PROXY protocol version {0} is not supported (only 2)")]
    Version(u8),
    #[error("PROXY header command {0:#x} is unknown")]
    Command(u8),
    #[error("PROXY header is too short for its address family")]
    Truncated,
    #[error("PROXY header declares {0} bytes of addresses, more than allowed")]
    TooLong(usize),
}

/// What the header says: the client's address for a proxied TCP connection, `None` for a
/// LOCAL connection (the balancer's own health check) or an address family we do not use
/// (the connection's own peer address then stands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeader {
    pub source: Option<SocketAddr>,
}

/// The header's total length once its fixed part is known, or an error if it is not one.
pub fn header_len(fixed: &[u8; FIXED_LEN]) -> Result<usize, ProxyError> {
    if fixed[..12] != SIGNATURE {
        return Err(ProxyError::NoSignature);
    }
    let version = fixed[12] >> 4;
    if version != 2 {
        return Err(ProxyError::Version(version));
    }
    let length = u16::from_be_bytes([fixed[14], fixed[15]]) as usize;
    if length > MAX_ADDRESS_LEN {
        return Err(ProxyError::TooLong(length));
    }
    Ok(FIXED_LEN + length)
}

/// Parses a complete header (`FIXED_LEN` + its declared length).
pub fn parse_header(header: &[u8]) -> Result<ProxyHeader, ProxyError> {
    let fixed: &[u8; FIXED_LEN] = header
        .get(..FIXED_LEN)
        .and_then(|f| f.try_into().ok())
        .ok_or(ProxyError::Truncated)?;
    let total = header_len(fixed)?;
    let addresses = header.get(FIXED_LEN..total).ok_or(ProxyError::Truncated)?;
    match fixed[12] & 0x0f {
        // LOCAL: sent by the proxy for its own sake; the addresses are to be ignored.
        0x0 => return Ok(ProxyHeader { source: None }),
        0x1 => {}
        other => return Err(ProxyError::Command(other)),
    }
    let port = |bytes: &[u8]| u16::from_be_bytes([bytes[0], bytes[1]]);
    let source = match fixed[13] >> 4 {
        // AF_INET: source address, destination address, source port, destination port.
        0x1 => {
            let a = addresses.get(..12).ok_or(ProxyError::Truncated)?;
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            Some(SocketAddr::new(IpAddr::V4(ip), port(&a[8..10])))
        }
        // AF_INET6.
        0x2 => {
            let a = addresses.get(..36).ok_or(ProxyError::Truncated)?;
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&a[..16]);
            Some(SocketAddr::new(
                IpAddr::V6(Ipv6Addr::from(octets)),
                port(&a[32..34]),
            ))
        }
        // AF_UNSPEC or AF_UNIX: no address we can use.
        _ => None,
    };
    Ok(ProxyHeader { source })
}

/// Reads one header from the start of a connection, and nothing after it.
pub async fn read_header<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> std::io::Result<Result<ProxyHeader, ProxyError>> {
    let mut fixed = [0u8; FIXED_LEN];
    reader.read_exact(&mut fixed).await?;
    let total = match header_len(&fixed) {
        Ok(total) => total,
        Err(err) => return Ok(Err(err)),
    };
    let mut header = fixed.to_vec();
    header.resize(total, 0);
    reader.read_exact(&mut header[FIXED_LEN..]).await?;
    Ok(parse_header(&header))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4_header(command: u8) -> Vec<u8> {
        let mut header = SIGNATURE.to_vec();
        header.extend_from_slice(&[0x20 | command, 0x11, 0, 12 + 3]);
        header.extend_from_slice(&[203, 0, 113, 7, 10, 0, 0, 1]);
        header.extend_from_slice(&51234u16.to_be_bytes());
        header.extend_from_slice(&993u16.to_be_bytes());
        header.extend_from_slice(&[0x04, 0, 0]); // a TLV (NOOP), skipped
        header
    }

    #[test]
    fn proxied_ipv4_and_ipv6() {
        let parsed = parse_header(&v4_header(1)).unwrap();
        assert_eq!(parsed.source, Some("203.0.113.7:51234".parse().unwrap()));
        let mut header = SIGNATURE.to_vec();
        header.extend_from_slice(&[0x21, 0x21, 0, 36]);
        let mut source = [0u8; 16];
        source[15] = 1;
        source[0] = 0x20;
        source[1] = 0x01;
        header.extend_from_slice(&source);
        header.extend_from_slice(&[0u8; 16]);
        header.extend_from_slice(&443u16.to_be_bytes());
        header.extend_from_slice(&993u16.to_be_bytes());
        let parsed = parse_header(&header).unwrap();
        assert_eq!(parsed.source, Some("[2001::1]:443".parse().unwrap()));
    }

    #[test]
    fn local_and_refusals() {
        assert_eq!(parse_header(&v4_header(0)).unwrap().source, None);
        assert_eq!(parse_header(&v4_header(5)), Err(ProxyError::Command(5)));
        let mut text = b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".to_vec();
        text.resize(FIXED_LEN, b' ');
        assert_eq!(parse_header(&text), Err(ProxyError::NoSignature));
        let mut short = v4_header(1);
        short[15] = 4;
        short.truncate(FIXED_LEN + 4);
        assert_eq!(parse_header(&short), Err(ProxyError::Truncated));
        let mut long = v4_header(1);
        long[14] = 0xff;
        assert!(matches!(parse_header(&long), Err(ProxyError::TooLong(_))));
    }

    #[tokio::test]
    async fn reads_exactly_the_header() {
        let mut bytes = v4_header(1);
        bytes.extend_from_slice(b"\x16\x03\x01TLS");
        let mut reader = &bytes[..];
        let header = read_header(&mut reader).await.unwrap().unwrap();
        assert_eq!(header.source.unwrap().port(), 51234);
        assert_eq!(reader, b"\x16\x03\x01TLS");
    }
}
