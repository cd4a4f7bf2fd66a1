//! Owns TLS to PostgreSQL, with libpq's `sslmode` meanings
//! (https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-PROTECTION), so a
//! `store.url` written for psql means the same here:
//! - `disable`: plain TCP;
//! - `allow`, `prefer` (the default) and `require`: encrypted when (or, for `require`, only if)
//!   the server offers TLS, the server's certificate not checked;
//! - `verify-ca`: the certificate must chain to a trusted root;
//! - `verify-full`: it must also name the host connected to.
//!
//! Trusted roots are the PEM file `sslrootcert` names, else the operating system's. rustls with
//! ring, as everywhere in the gateway. Only the URL form (`postgres://…?sslmode=…`) is read for
//! `verify-*` and `sslrootcert`; tokio-postgres itself knows only `disable`, `prefer` and
//! `require`, which is what it is given.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use percent_encoding::percent_decode_str;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use crate::tls::AnyServerCertificate;

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

/// A `store.url` split into what tokio-postgres reads and how TLS is checked.
pub(super) struct PostgresUrl {
    /// The URL with `sslmode` in tokio-postgres's terms and without `sslrootcert`.
    pub url: String,
    check: Check,
    root_file: Option<String>,
}

impl PostgresUrl {
    pub(super) fn parse(url: &str) -> Result<PostgresUrl, String> {
        let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
        let (base, query) = match url.split_once('?') {
            Some((base, query)) if is_url => (base, query),
            _ => {
                return Ok(PostgresUrl {
                    url: url.to_string(),
                    check: Check::Nothing,
                    root_file: None,
                })
            }
        };
        let mut kept = Vec::new();
        let mut check = Check::Nothing;
        let mut root_file = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value_text = percent_decode_str(value).decode_utf8_lossy().into_owned();
            match key {
                "sslmode" => {
                    let (mode, wanted) = match value_text.as_str() {
                        "disable" => ("disable", Check::Nothing),
                        "allow" | "prefer" => ("prefer", Check::Nothing),
                        "require" => ("require", Check::Nothing),
                        "verify-ca" => ("require", Check::Chain),
                        "verify-full" => ("require", Check::ChainAndName),
                        other => {
                            return Err(format!(
                                "store.url: sslmode={other} is not one of disable, allow, \
                                 prefer, require, verify-ca, verify-full"
                            ))
                        }
                    };
                    check = wanted;
                    kept.push(format!("sslmode={mode}"));
                }
                "sslrootcert" => root_file = Some(value_text),
                _ => kept.push(pair.to_string()),
            }
        }
        let url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok(PostgresUrl {
            url,
            check,
            root_file,
        })
    }

    /// The TLS connector for this URL's checks.
    pub(super) fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match self.check {
            // libpq's `prefer` and `require`: encrypted, the certificate taken as it is.
            Check::Nothing => Arc::new(AnyServerCertificate::new(provider.clone())),
            Check::Chain | Check::ChainAndName => {
                let roots: Arc<dyn ServerCertVerifier> = match &self.root_file {
                    Some(path) => {
                        let mut roots = RootCertStore::empty();
                        for cert in CertificateDer::pem_file_iter(path)
                            .map_err(|err| format!("store.url: sslrootcert {path}: {err}"))?
                        {
                            let cert = cert
                                .map_err(|err| format!("store.url: sslrootcert {path}: {err}"))?;
                            roots
                                .add(cert)
                                .map_err(|err| format!("store.url: sslrootcert {path}: {err}"))?;
                        }
                        WebPkiServerVerifier::builder_with_provider(
                            Arc::new(roots),
                            provider.clone(),
                        )
                        .build()
                        .map_err(|err| format!("store.url: sslrootcert {path}: {err}"))?
                    }
                    None => Arc::new(
                        rustls_platform_verifier::Verifier::new(provider.clone())
                            .map_err(|err| format!("the system's trusted roots: {err}"))?,
                    ),
                };
                if self.check == Check::Chain {
                    Arc::new(AnyName(roots))
                } else {
                    roots
                }
            }
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| err.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustlsConnect {
            config: Arc::new(config),
        })
    }
}

/// `verify-ca`: the chain is checked, the host name is not.
#[derive(Debug)]
struct AnyName(Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// tokio-postgres's TLS hook, on rustls.
#[derive(Clone)]
pub(super) struct MakeRustlsConnect {
    config: Arc<ClientConfig>,
}

impl<S> MakeTlsConnect<S> for MakeRustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = rustls::pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnect, Self::Error> {
        Ok(RustlsConnect {
            config: self.config.clone(),
            name: ServerName::try_from(domain.to_string())?,
        })
    }
}

pub(super) struct RustlsConnect {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            tokio_rustls::TlsConnector::from(self.config)
                .connect(self.name, stream)
                .await
                .map(RustlsStream)
        })
    }
}

/// A TLS connection to PostgreSQL. No channel binding is offered: SCRAM works without it.
pub(super) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_modes_become_tokio_postgres_modes() {
        let parsed = PostgresUrl::parse(
            "postgres://u:p@db.example/x?sslmode=verify-full&sslrootcert=%2Fetc%2Froot.pem&application_name=gw",
        )
        .unwrap();
        assert_eq!(
            parsed.url,
            "postgres://u:p@db.example/x?sslmode=require&application_name=gw"
        );
        assert_eq!(parsed.check, Check::ChainAndName);
        assert_eq!(parsed.root_file.as_deref(), Some("/etc/root.pem"));
        let parsed = PostgresUrl::parse("postgres://u@h/x?sslmode=verify-ca").unwrap();
        assert_eq!(
            (parsed.url.as_str(), parsed.check),
            ("postgres://u@h/x?sslmode=require", Check::Chain)
        );
        let parsed = PostgresUrl::parse("postgres://u@h/x?sslmode=allow").unwrap();
        assert_eq!(parsed.url, "postgres://u@h/x?sslmode=prefer");
        let parsed = PostgresUrl::parse("postgres://u@h/x").unwrap();
        assert_eq!(
            (parsed.url.as_str(), parsed.check),
            ("postgres://u@h/x", Check::Nothing)
        );
        assert!(PostgresUrl::parse("postgres://u@h/x?sslmode=sometimes").is_err());
    }
}
