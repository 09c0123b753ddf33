//! TLS by default: a private CA and a server certificate made at first start, or the
//! operator's own certificate and key.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS could not be set up
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Reading or writing a PEM file failed
    #[error("{path}: {source}")]
    Io {
        /// The file
        path: PathBuf,
        /// What went wrong
        source: io::Error,
    },
    /// Certificate generation failed
    #[error("generating certificates: {0}")]
    Generate(String),
    /// A PEM file does not hold what it should
    #[error("{path}: {what}")]
    Pem {
        /// The file
        path: PathBuf,
        /// What is wrong with it
        what: &'static str,
    },
    /// rustls refused the certificate or key
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// Where the server's certificate material lives
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The CA bundle clients should trust (absent when the operator brought a certificate)
    pub ca_bundle: Option<PathBuf>,
    /// The server certificate chain
    pub certificate: PathBuf,
    /// The server private key
    pub private_key: PathBuf,
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn generate(e: rcgen::Error) -> TlsError {
    TlsError::Generate(e.to_string())
}

/// Writes a file readable only by its owner, via a temporary file and a rename
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let temporary = path.with_extension("tmp");
    {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)
}

/// Makes (once) a CA and a server certificate for `names` in `dir`, and returns their paths
///
/// The CA key never leaves `dir` (mode 0600). Names are IP addresses or DNS names; the server
/// certificate always covers `127.0.0.1`, `::1` and `localhost`.
pub fn ensure_self_signed(dir: &Path, names: &[String]) -> Result<TlsFiles, TlsError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let files = TlsFiles {
        ca_bundle: Some(dir.join("ca.pem")),
        certificate: dir.join("server.pem"),
        private_key: dir.join("server-key.pem"),
    };
    let ca_key_path = dir.join("ca-key.pem");
    if files.certificate.exists() && files.private_key.exists() {
        return Ok(files);
    }
    let now = time_now();
    let ca_key = KeyPair::generate().map_err(generate)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(generate)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Portcullis local CA");
    dn.push(DnType::OrganizationName, "Portcullis");
    ca_params.distinguished_name = dn;
    ca_params.not_before = now;
    ca_params.not_after = now + rcgen_days(3650);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(generate)?;

    let mut all_names: Vec<String> = vec!["127.0.0.1".into(), "::1".into(), "localhost".into()];
    for name in names {
        if !all_names.contains(name) {
            all_names.push(name.clone());
        }
    }
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(generate)?;
    params.subject_alt_names = all_names
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => n.clone().try_into().map(SanType::DnsName).map_err(generate),
        })
        .collect::<Result<_, _>>()?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "portcullis");
    params.distinguished_name = dn;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now;
    params.not_after = now + rcgen_days(825);
    let key = KeyPair::generate().map_err(generate)?;
    let issuer = Issuer::new(ca_params, &ca_key);
    let cert = params.signed_by(&key, &issuer).map_err(generate)?;

    write_private(&ca_key_path, ca_key.serialize_pem().as_bytes())
        .map_err(io_error(&ca_key_path))?;
    let ca_path = files.ca_bundle.clone().unwrap_or_default();
    std::fs::write(&ca_path, ca_cert.pem()).map_err(io_error(&ca_path))?;
    write_private(&files.private_key, key.serialize_pem().as_bytes())
        .map_err(io_error(&files.private_key))?;
    std::fs::write(
        &files.certificate,
        format!("{}{}", cert.pem(), ca_cert.pem()),
    )
    .map_err(io_error(&files.certificate))?;
    Ok(files)
}

/// Yesterday at midnight UTC, so a client whose clock runs a little behind still accepts
/// the certificate
fn time_now() -> time::OffsetDateTime {
    let yesterday = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::UTC)
        .date()
        .yesterday()
        .unwrap_or(jiff::civil::date(2026, 1, 1));
    rcgen::date_time_ymd(
        i32::from(yesterday.year()),
        u8::try_from(yesterday.month()).unwrap_or(1),
        u8::try_from(yesterday.day()).unwrap_or(1),
    )
}

fn rcgen_days(days: i64) -> std::time::Duration {
    std::time::Duration::from_secs(u64::try_from(days).unwrap_or(0) * 86_400)
}

/// Loads a certificate chain and key into a rustls server config (HTTP/2 and HTTP/1.1)
pub fn server_config(
    certificate: &Path,
    private_key: &Path,
) -> Result<Arc<ServerConfig>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certificate)
        .map_err(|_| TlsError::Pem {
            path: certificate.to_path_buf(),
            what: "cannot read certificates",
        })?
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::Pem {
            path: certificate.to_path_buf(),
            what: "not a PEM certificate chain",
        })?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            path: certificate.to_path_buf(),
            what: "no certificate in the file",
        });
    }
    let key = PrivateKeyDer::from_pem_file(private_key).map_err(|_| TlsError::Pem {
        path: private_key.to_path_buf(),
        what: "not a PEM private key",
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
