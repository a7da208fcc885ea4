//! TLS served directly (`serve --tls-cert FILE --tls-key FILE`): the certificate chain and private key
//! read from PEM files into a rustls configuration (ring provider, TLS 1.2 and 1.3, ALPN `http/1.1`),
//! read again on SIGHUP so a renewed certificate is served without a restart (a failed read keeps the
//! previous one).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Where the certificate chain and its private key are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, the server's certificate first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why the TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM item.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key does not go with the certificate, or rustls refused the pair.
    #[error("{cert} with {key}: {reason}")]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        reason: String,
    },
}

impl TlsFiles {
    /// Reads both files into a server configuration.
    ///
    /// # Errors
    /// A file missing or unreadable, no certificate or no private key in it, or a key that does not go
    /// with the certificate.
    pub fn load(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let file_error = |path: &Path, reason: String| TlsError::File { path: path.to_owned(), reason };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert)
            .map_err(|e| file_error(&self.cert, pem_reason(&e)))?
            .collect::<Result<_, _>>()
            .map_err(|e| file_error(&self.cert, pem_reason(&e)))?;
        if certs.is_empty() {
            return Err(file_error(&self.cert, "no CERTIFICATE in the file (PEM expected)".into()));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| file_error(&self.key, pem_reason(&e)))?;
        let provider = Arc::new(ring_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
            .map_err(|e| TlsError::Pair { cert: self.cert.clone(), key: self.key.clone(), reason: e.to_string() })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// rustls's *ring* provider: TLS 1.2 and 1.3 with X25519, P-256 and P-384 key exchange. rustls marks it
/// deprecated for lacking post-quantum key exchange, which only its aws-lc-rs provider has; that one
/// builds the AWS-LC C library under the OpenSSL licence, which this project's licence policy
/// (`deny.toml`) does not take.
#[expect(deprecated, reason = "the ring provider is kept on purpose: see the doc comment")]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn pem_reason(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM item of the expected kind in the file".into(),
        other => format!("not a valid PEM file ({other:?})"),
    }
}

/// The served configuration, replaced whole on reload.
pub type SharedTls = Arc<ArcSwap<rustls::ServerConfig>>;

/// Reads the files again and, when they are good, serves them from the next connection on; else keeps
/// the previous configuration and returns why the files could not be used.
pub fn reload(files: &TlsFiles, shared: &SharedTls) -> Result<(), TlsError> {
    let config = files.load()?;
    shared.store(config);
    Ok(())
}
