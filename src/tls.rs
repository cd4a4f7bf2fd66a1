//! Owns TLS for the IMAPS listener: loading the configured PEM certificate chain and key into a
//! rustls server configuration (TLS 1.2 and 1.3 only, ring), and making self-signed certificates
//! for the demo and for `imap2graph cert`. Certificates are generated where they are used, never
//! committed. Also the one client-side verifier that takes any certificate, for the places that
//! want encryption without authentication on purpose.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, ServerConfig, SignatureScheme};

/// Takes any server certificate, but still checks the handshake's signatures, so the session
/// key is the server's: for PostgreSQL's `sslmode=prefer|require` (libpq's meaning) and for the
/// load generator talking to the gateway's self-signed certificate on loopback.
#[derive(Debug)]
pub struct AnyServerCertificate(Arc<CryptoProvider>);

impl AnyServerCertificate {
    pub fn new(provider: Arc<CryptoProvider>) -> AnyServerCertificate {
        AnyServerCertificate(provider)
    }
}

impl ServerCertVerifier for AnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {problem}")]
    File { path: PathBuf, problem: String },
    #[error("TLS configuration: {0}")]
    Config(String),
    #[error("certificate generation: {0}")]
    Generate(String),
}

/// Installs ring as the process's crypto provider (reqwest needs one too). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A server configuration from PEM files.
/// The listener's TLS configuration, replaced whole when the certificate is reloaded (SIGHUP):
/// connections accepted afterwards use the new one; open sessions keep theirs.
#[derive(Clone)]
pub struct ReloadableTls {
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    current: Arc<std::sync::RwLock<Arc<ServerConfig>>>,
}

impl ReloadableTls {
    /// Loads the certificate chain and key (PEM).
    pub fn load(cert: &Path, key: &Path) -> Result<ReloadableTls, TlsError> {
        let config = server_config(cert, key)?;
        Ok(ReloadableTls {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: Arc::new(std::sync::RwLock::new(config)),
        })
    }

    /// The configuration for the next handshake.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads the files again; on an error the configuration in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
        Ok(())
    }

    pub fn cert_path(&self) -> &Path {
        &self.cert
    }
}

pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let file_error = |path: &Path, problem: String| TlsError::File {
        path: path.to_path_buf(),
        problem,
    };
    let cert_pem = std::fs::read(cert).map_err(|err| file_error(cert, err.to_string()))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|err| file_error(cert, format!("not a PEM certificate chain: {err}")))?;
    if chain.is_empty() {
        return Err(file_error(cert, "no certificate in the file".into()));
    }
    let key_pem = std::fs::read(key).map_err(|err| file_error(key, err.to_string()))?;
    // The key's own error text could quote key material; say only what is wrong.
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
        file_error(
            key,
            "no PEM private key (PKCS#8, PKCS#1 or SEC1) in the file".into(),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|err| TlsError::Config(err.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|err| TlsError::Config(format!("certificate and key do not fit: {err}")))?;
    Ok(Arc::new(config))
}

/// Paths of a certificate pair in a directory.
pub fn pair_paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// Writes a self-signed certificate (CA:FALSE, so clients can pin it as given) for `names`
/// (DNS names or IP addresses) into `dir/cert.pem` and `dir/key.pem`; the key is readable by
/// its owner only.
pub fn write_self_signed(dir: &Path, names: &[String]) -> Result<(PathBuf, PathBuf), TlsError> {
    let certified = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|err| TlsError::Generate(err.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|err| TlsError::File {
        path: dir.to_path_buf(),
        problem: err.to_string(),
    })?;
    let (cert_path, key_path) = pair_paths(dir);
    write_file(&cert_path, certified.cert.pem().as_bytes(), 0o644)?;
    write_file(
        &key_path,
        certified.signing_key.serialize_pem().as_bytes(),
        0o600,
    )?;
    Ok((cert_path, key_path))
}

/// The pair in `dir`, generated on first use.
pub fn ensure_self_signed(dir: &Path, names: &[String]) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert, key) = pair_paths(dir);
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    write_self_signed(dir, names)
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(mode);
    let _ = mode;
    options
        .open(path)
        .and_then(|mut file| file.write_all(contents))
        .map_err(|err| TlsError::File {
            path: path.to_path_buf(),
            problem: err.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pair_loads() {
        install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) =
            write_self_signed(dir.path(), &["localhost".into(), "127.0.0.1".into()]).unwrap();
        server_config(&cert, &key).unwrap();
        let err = server_config(&key, &cert).unwrap_err();
        assert!(err.to_string().contains("key.pem"), "{err}");
    }
}
