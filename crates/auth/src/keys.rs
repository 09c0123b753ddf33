//! RSA API keys: the public half users upload, the private half the CLI signs with.

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicEncryptingKey};
use aws_lc_rs::signature::{self, KeyPair as _, RSA_PKCS1_SHA256, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};
use zeroize::Zeroizing;

/// The smallest RSA modulus accepted for API keys, as OCI requires
pub const MIN_RSA_BITS: usize = 2048;

/// Why a key was rejected
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not PEM, or not the PEM section expected
    #[error("expected a PEM `{expected}` block")]
    NotPem {
        /// The PEM label that was expected
        expected: &'static str,
    },
    /// PEM, but the key inside does not parse as RSA
    #[error("the key is not a valid RSA key")]
    NotRsa,
    /// The modulus is too small
    #[error("RSA keys must be at least {MIN_RSA_BITS} bits; this one has {0}")]
    TooSmall(usize),
    /// The private key is encrypted; Portcullis needs it in the clear
    #[error("encrypted private keys are not supported; decrypt it with `openssl pkey`")]
    Encrypted,
    /// A private key was given where the public key belongs
    #[error("this is a private key; upload only the public key (`openssl rsa -pubout`)")]
    PrivateKeyGiven,
    /// Key generation failed inside the crypto library
    #[error("the crypto library could not generate a key")]
    Generation,
}

/// An RSA public key in SubjectPublicKeyInfo form, as uploaded with `api-key upload`
#[derive(Clone, Eq, PartialEq)]
pub struct ApiPublicKey {
    spki_der: Vec<u8>,
}

impl ApiPublicKey {
    /// Parses a `-----BEGIN PUBLIC KEY-----` PEM block holding an RSA key of at least 2048 bits
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        if text.contains("PRIVATE KEY-----") {
            return Err(KeyError::PrivateKeyGiven);
        }
        let not_pem = KeyError::NotPem {
            expected: "PUBLIC KEY",
        };
        let der =
            SubjectPublicKeyInfoDer::from_pem_slice(text.trim().as_bytes()).map_err(|_| not_pem)?;
        Self::from_spki_der(der.as_ref())
    }

    /// Accepts a DER SubjectPublicKeyInfo holding an RSA key of at least 2048 bits
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let key = PublicEncryptingKey::from_der(der).map_err(|_| KeyError::NotRsa)?;
        let bits = key.key_size_bits();
        if bits < MIN_RSA_BITS {
            return Err(KeyError::TooSmall(bits));
        }
        Ok(ApiPublicKey {
            spki_der: der.to_vec(),
        })
    }

    /// OCI's fingerprint: MD5 of the DER public key, colon-separated lowercase hex
    pub fn fingerprint(&self) -> String {
        let digest = Md5::digest(&self.spki_der);
        let hex: Vec<String> = digest.iter().map(|b| format!("{b:02x}")).collect();
        hex.join(":")
    }

    /// The key as PEM, the way OCI returns `keyValue`
    pub fn to_pem(&self) -> String {
        to_pem("PUBLIC KEY", &self.spki_der)
    }

    /// The DER SubjectPublicKeyInfo
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// Checks an RSASSA-PKCS1-v1_5 SHA-256 signature (`rsa-sha256`)
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &self.spki_der)
            .verify(message, signature)
            .is_ok()
    }
}

impl fmt::Debug for ApiPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiPublicKey")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

/// An RSA private key used to sign requests
///
/// The PEM text is kept in zeroizing memory and never printed.
pub struct ApiPrivateKey {
    pair: KeyPair,
    pkcs8_pem: Zeroizing<String>,
}

impl ApiPrivateKey {
    /// Generates a fresh RSA-2048 key
    pub fn generate() -> Result<Self, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generation)?;
        let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| KeyError::Generation)?;
        let pkcs8_pem = Zeroizing::new(to_pem("PRIVATE KEY", der.as_ref()));
        Ok(ApiPrivateKey { pair, pkcs8_pem })
    }

    /// Parses an unencrypted PEM private key: PKCS#8 (`PRIVATE KEY`) or PKCS#1
    /// (`RSA PRIVATE KEY`), as `openssl genrsa` and `oci setup keys` write them
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        if text.contains("ENCRYPTED") {
            return Err(KeyError::Encrypted);
        }
        let der = PrivateKeyDer::from_pem_slice(text.trim().as_bytes()).map_err(|_| {
            KeyError::NotPem {
                expected: "PRIVATE KEY",
            }
        })?;
        let pair = match &der {
            PrivateKeyDer::Pkcs8(k) => KeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => KeyPair::from_der(k.secret_pkcs1_der()),
            _ => return Err(KeyError::NotRsa),
        }
        .map_err(|_| KeyError::NotRsa)?;
        let bits = pair.public_modulus_len() * 8;
        if bits < MIN_RSA_BITS {
            return Err(KeyError::TooSmall(bits));
        }
        let pkcs8: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| KeyError::NotRsa)?;
        let pkcs8_pem = Zeroizing::new(to_pem("PRIVATE KEY", pkcs8.as_ref()));
        Ok(ApiPrivateKey { pair, pkcs8_pem })
    }

    /// The key as PKCS#8 PEM, for writing to a `key_file` with mode 0600
    pub fn to_pkcs8_pem(&self) -> &str {
        &self.pkcs8_pem
    }

    /// The public half
    pub fn public_key(&self) -> Result<ApiPublicKey, KeyError> {
        let der = self
            .pair
            .public_key()
            .as_der()
            .map_err(|_| KeyError::NotRsa)?;
        ApiPublicKey::from_spki_der(der.as_ref())
    }

    /// Signs `message` with RSASSA-PKCS1-v1_5 SHA-256 (`rsa-sha256`)
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| KeyError::NotRsa)?;
        Ok(signature)
    }
}

impl fmt::Debug for ApiPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiPrivateKey(<redacted>)")
    }
}

fn to_pem(label: &str, der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_verify_and_round_trip() {
        let key = ApiPrivateKey::generate().unwrap();
        let public = key.public_key().unwrap();
        let signature = key.sign(b"hello").unwrap();
        assert!(public.verify(b"hello", &signature));
        assert!(!public.verify(b"hellO", &signature));
        let reparsed = ApiPrivateKey::from_pem(key.to_pkcs8_pem()).unwrap();
        assert_eq!(reparsed.public_key().unwrap(), public);
        // With the label line OCI asks key files to end with.
        let labelled = format!("{}OCI_API_KEY\n", key.to_pkcs8_pem());
        let reparsed = ApiPrivateKey::from_pem(&labelled).unwrap();
        assert_eq!(reparsed.public_key().unwrap(), public);
        let from_pem = ApiPublicKey::from_pem(&public.to_pem()).unwrap();
        assert_eq!(from_pem.fingerprint(), public.fingerprint());
        let fp = public.fingerprint();
        assert_eq!(fp.len(), 47);
        assert_eq!(fp.matches(':').count(), 15);
        assert!(!format!("{key:?}").contains("PRIVATE"));
        assert_eq!(
            ApiPublicKey::from_pem(key.to_pkcs8_pem()).unwrap_err(),
            KeyError::PrivateKeyGiven
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(ApiPublicKey::from_pem("hello").is_err());
        assert!(
            ApiPublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
                .is_err()
        );
        assert_eq!(
            ApiPrivateKey::from_pem("-----BEGIN ENCRYPTED PRIVATE KEY-----").unwrap_err(),
            KeyError::Encrypted
        );
    }
}
