//! The crypto operations of OCI KMS (`oci-reference.md` §7.2): Encrypt and Decrypt,
//! Sign and Verify with the eleven signing algorithms, over key material from
//! [`crate::material`]. The vault service decides *which* version to use and whether the
//! caller may; this module only does the arithmetic and enforces the documented limits.

use std::collections::BTreeMap;

use aws_lc_rs::aead::{AES_128_GCM, AES_192_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::ciphertext::{self, Ciphertext};
use crate::material::KeyMaterial;
use crate::root::random_bytes;
use crate::shape::{Algorithm, Curve, KeyShape};
use crate::{KmsError, KmsResult};

/// The most plaintext one `Encrypt` takes. OCI does not document a limit; 4 KiB matches
/// the `Sign` message limit, and larger data belongs under a data encryption key.
pub const MAX_PLAINTEXT_BYTES: usize = 4096;
/// The most message bytes `Sign` and `Verify` take (OCI: "pass a digest for larger data")
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// The most characters `associatedData` may have, as JSON
pub const MAX_ASSOCIATED_DATA_CHARS: usize = 4096;

/// `associatedData`: extra context bound to a symmetric ciphertext, needed again to decrypt
pub type AssociatedData = BTreeMap<String, String>;

/// `encryptionAlgorithm`
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub enum EncryptionAlgorithm {
    /// AES-GCM with the key's length (OCI's name for every AES key)
    #[serde(rename = "AES_256_GCM")]
    Aes256Gcm,
    /// RSA-OAEP with SHA-1 and MGF1-SHA-1
    #[serde(rename = "RSA_OAEP_SHA_1")]
    RsaOaepSha1,
    /// RSA-OAEP with SHA-256 and MGF1-SHA-256
    #[serde(rename = "RSA_OAEP_SHA_256")]
    RsaOaepSha256,
}

/// `messageType`: whether `message` is the data or its digest
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageType {
    /// The data itself; the KMS hashes it
    #[default]
    Raw,
    /// A digest made with the algorithm's hash
    Digest,
}

/// The hash in a signing algorithm
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Hash {
    /// SHA-224 (RSA only)
    Sha224,
    /// SHA-256
    Sha256,
    /// SHA-384
    Sha384,
    /// SHA-512
    Sha512,
}

impl Hash {
    fn digest_algorithm(self) -> &'static digest::Algorithm {
        match self {
            Hash::Sha224 => &digest::SHA224,
            Hash::Sha256 => &digest::SHA256,
            Hash::Sha384 => &digest::SHA384,
            Hash::Sha512 => &digest::SHA512,
        }
    }

    /// The digest length in bytes
    pub fn len(self) -> usize {
        self.digest_algorithm().output_len
    }

    /// Never true; here because clippy pairs `len` with `is_empty`
    pub fn is_empty(self) -> bool {
        false
    }

    /// The digest of `data`
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.digest_algorithm(), data)
            .as_ref()
            .to_vec()
    }
}

/// The padding or scheme in a signing algorithm
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Scheme {
    /// RSASSA-PSS, salt as long as the digest
    RsaPss,
    /// RSASSA-PKCS1-v1_5
    RsaPkcs1,
    /// ECDSA, DER-encoded signature
    Ecdsa,
}

/// `signingAlgorithm`: the eleven OCI offers
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[expect(missing_docs, reason = "the names are OCI's and say everything")]
pub enum SigningAlgorithm {
    #[serde(rename = "SHA_224_RSA_PKCS_PSS")]
    Sha224RsaPkcsPss,
    #[serde(rename = "SHA_256_RSA_PKCS_PSS")]
    Sha256RsaPkcsPss,
    #[serde(rename = "SHA_384_RSA_PKCS_PSS")]
    Sha384RsaPkcsPss,
    #[serde(rename = "SHA_512_RSA_PKCS_PSS")]
    Sha512RsaPkcsPss,
    #[serde(rename = "SHA_224_RSA_PKCS1_V1_5")]
    Sha224RsaPkcs1V15,
    #[serde(rename = "SHA_256_RSA_PKCS1_V1_5")]
    Sha256RsaPkcs1V15,
    #[serde(rename = "SHA_384_RSA_PKCS1_V1_5")]
    Sha384RsaPkcs1V15,
    #[serde(rename = "SHA_512_RSA_PKCS1_V1_5")]
    Sha512RsaPkcs1V15,
    #[serde(rename = "ECDSA_SHA_256")]
    EcdsaSha256,
    #[serde(rename = "ECDSA_SHA_384")]
    EcdsaSha384,
    #[serde(rename = "ECDSA_SHA_512")]
    EcdsaSha512,
}

impl SigningAlgorithm {
    /// Every algorithm, in OCI's order
    pub const ALL: [SigningAlgorithm; 11] = [
        SigningAlgorithm::Sha224RsaPkcsPss,
        SigningAlgorithm::Sha256RsaPkcsPss,
        SigningAlgorithm::Sha384RsaPkcsPss,
        SigningAlgorithm::Sha512RsaPkcsPss,
        SigningAlgorithm::Sha224RsaPkcs1V15,
        SigningAlgorithm::Sha256RsaPkcs1V15,
        SigningAlgorithm::Sha384RsaPkcs1V15,
        SigningAlgorithm::Sha512RsaPkcs1V15,
        SigningAlgorithm::EcdsaSha256,
        SigningAlgorithm::EcdsaSha384,
        SigningAlgorithm::EcdsaSha512,
    ];

    /// The scheme and the hash
    pub fn parts(self) -> (Scheme, Hash) {
        use SigningAlgorithm as S;
        match self {
            S::Sha224RsaPkcsPss => (Scheme::RsaPss, Hash::Sha224),
            S::Sha256RsaPkcsPss => (Scheme::RsaPss, Hash::Sha256),
            S::Sha384RsaPkcsPss => (Scheme::RsaPss, Hash::Sha384),
            S::Sha512RsaPkcsPss => (Scheme::RsaPss, Hash::Sha512),
            S::Sha224RsaPkcs1V15 => (Scheme::RsaPkcs1, Hash::Sha224),
            S::Sha256RsaPkcs1V15 => (Scheme::RsaPkcs1, Hash::Sha256),
            S::Sha384RsaPkcs1V15 => (Scheme::RsaPkcs1, Hash::Sha384),
            S::Sha512RsaPkcs1V15 => (Scheme::RsaPkcs1, Hash::Sha512),
            S::EcdsaSha256 => (Scheme::Ecdsa, Hash::Sha256),
            S::EcdsaSha384 => (Scheme::Ecdsa, Hash::Sha384),
            S::EcdsaSha512 => (Scheme::Ecdsa, Hash::Sha512),
        }
    }

    /// OCI's spelling
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// CRC-32 (IEEE) of `bytes`: the `plaintextChecksum` OCI reports
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

fn associated_bytes(associated: Option<&AssociatedData>) -> KmsResult<Vec<u8>> {
    match associated {
        None => Ok(Vec::new()),
        Some(map) if map.is_empty() => Ok(Vec::new()),
        Some(map) => {
            // A BTreeMap serializes with sorted keys: the same map always gives the same bytes.
            let bytes = serde_json::to_vec(map)
                .map_err(|_| KmsError::Crypto("encoding associated data"))?;
            if bytes.len() > MAX_ASSOCIATED_DATA_CHARS {
                return Err(KmsError::InvalidParameter(format!(
                    "`associatedData` is {} characters as JSON; the limit is {MAX_ASSOCIATED_DATA_CHARS}",
                    bytes.len()
                )));
            }
            Ok(bytes)
        }
    }
}

fn aes_key(bytes: &[u8]) -> KmsResult<LessSafeKey> {
    let algorithm = match bytes.len() {
        16 => &AES_128_GCM,
        24 => &AES_192_GCM,
        32 => &AES_256_GCM,
        _ => return Err(KmsError::Crypto("AES key of an impossible length")),
    };
    UnboundKey::new(algorithm, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| KmsError::Crypto("AES key setup"))
}

fn oaep(algorithm: EncryptionAlgorithm) -> KmsResult<&'static OaepAlgorithm> {
    match algorithm {
        EncryptionAlgorithm::RsaOaepSha1 => Ok(&OAEP_SHA1_MGF1SHA1),
        EncryptionAlgorithm::RsaOaepSha256 => Ok(&OAEP_SHA256_MGF1SHA256),
        EncryptionAlgorithm::Aes256Gcm => Err(KmsError::Unsupported(
            "an RSA key encrypts with RSA_OAEP_SHA_1 or RSA_OAEP_SHA_256, not AES_256_GCM".into(),
        )),
    }
}

fn check_plaintext(plaintext: &[u8]) -> KmsResult<()> {
    if plaintext.is_empty() {
        return Err(KmsError::InvalidParameter("`plaintext` is empty".into()));
    }
    if plaintext.len() > MAX_PLAINTEXT_BYTES {
        return Err(KmsError::InvalidParameter(format!(
            "`plaintext` is {} bytes; Encrypt takes at most {MAX_PLAINTEXT_BYTES} (encrypt larger data under a data encryption key)",
            plaintext.len()
        )));
    }
    Ok(())
}

/// Encrypts with one key version. AES ciphertexts embed `key_version_id`; RSA ones do not,
/// so their callers keep the version (OCI behaves the same).
pub fn encrypt(
    material: &KeyMaterial,
    key_version_id: &str,
    plaintext: &[u8],
    associated: Option<&AssociatedData>,
    algorithm: Option<EncryptionAlgorithm>,
) -> KmsResult<(Vec<u8>, EncryptionAlgorithm)> {
    check_plaintext(plaintext)?;
    match material {
        KeyMaterial::Aes(bytes) => {
            if algorithm.is_some_and(|a| a != EncryptionAlgorithm::Aes256Gcm) {
                return Err(KmsError::Unsupported(
                    "an AES key encrypts with AES_256_GCM only".into(),
                ));
            }
            let key = aes_key(bytes)?;
            let header = ciphertext::header(key_version_id)?;
            let mut aad = header.clone();
            aad.extend_from_slice(&associated_bytes(associated)?);
            let nonce = random_bytes::<{ ciphertext::NONCE_LEN }>()?;
            let mut sealed = plaintext.to_vec();
            key.seal_in_place_append_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad.as_slice()),
                &mut sealed,
            )
            .map_err(|_| KmsError::Crypto("AES-GCM seal"))?;
            let mut out = header;
            out.extend_from_slice(nonce.as_slice());
            out.extend_from_slice(&sealed);
            Ok((out, EncryptionAlgorithm::Aes256Gcm))
        }
        KeyMaterial::Rsa(der) => {
            if associated.is_some_and(|a| !a.is_empty()) {
                return Err(KmsError::Unsupported(
                    "`associatedData` applies only to AES keys".into(),
                ));
            }
            let algorithm = algorithm.unwrap_or(EncryptionAlgorithm::RsaOaepSha256);
            let private = PrivateDecryptingKey::from_pkcs8(der)
                .map_err(|_| KmsError::Crypto("RSA key decoding"))?;
            let public = OaepPublicEncryptingKey::new(private.public_key())
                .map_err(|_| KmsError::Crypto("RSA public key"))?;
            let padding = oaep(algorithm)?;
            let max = public.max_plaintext_size(padding);
            if plaintext.len() > max {
                return Err(KmsError::InvalidParameter(format!(
                    "`plaintext` is {} bytes; this RSA key with {} takes at most {max}",
                    plaintext.len(),
                    if algorithm == EncryptionAlgorithm::RsaOaepSha1 {
                        "RSA_OAEP_SHA_1"
                    } else {
                        "RSA_OAEP_SHA_256"
                    }
                )));
            }
            let mut out = vec![0u8; public.ciphertext_size()];
            let len = public
                .encrypt(padding, plaintext, &mut out, None)
                .map_err(|_| KmsError::Crypto("RSA-OAEP encrypt"))?
                .len();
            out.truncate(len);
            Ok((out, algorithm))
        }
        KeyMaterial::Ecdsa(..) => Err(KmsError::Unsupported(
            "an ECDSA key can only sign and verify".into(),
        )),
    }
}

/// The key version a symmetric ciphertext names (to pick the material to decrypt with)
pub fn ciphertext_key_version(ciphertext: &[u8]) -> KmsResult<&str> {
    Ciphertext::parse(ciphertext).map(|c| c.key_version_id)
}

/// Decrypts with one key version; any mismatch or tampering is
/// [`KmsError::InvalidCiphertext`], never a partial plaintext
pub fn decrypt(
    material: &KeyMaterial,
    key_version_id: &str,
    ciphertext: &[u8],
    associated: Option<&AssociatedData>,
    algorithm: Option<EncryptionAlgorithm>,
) -> KmsResult<(Zeroizing<Vec<u8>>, EncryptionAlgorithm)> {
    match material {
        KeyMaterial::Aes(bytes) => {
            if algorithm.is_some_and(|a| a != EncryptionAlgorithm::Aes256Gcm) {
                return Err(KmsError::Unsupported(
                    "an AES key decrypts with AES_256_GCM only".into(),
                ));
            }
            let parsed = Ciphertext::parse(ciphertext)?;
            if parsed.key_version_id != key_version_id {
                return Err(KmsError::InvalidCiphertext);
            }
            let key = aes_key(bytes)?;
            let mut aad = parsed.header.to_vec();
            aad.extend_from_slice(&associated_bytes(associated)?);
            let mut buffer = Zeroizing::new(parsed.sealed.to_vec());
            let len = key
                .open_in_place(
                    Nonce::assume_unique_for_key(parsed.nonce),
                    Aad::from(aad.as_slice()),
                    buffer.as_mut_slice(),
                )
                .map_err(|_| KmsError::InvalidCiphertext)?
                .len();
            buffer.truncate(len);
            Ok((buffer, EncryptionAlgorithm::Aes256Gcm))
        }
        KeyMaterial::Rsa(der) => {
            let algorithm = algorithm.unwrap_or(EncryptionAlgorithm::RsaOaepSha256);
            let padding = oaep(algorithm)?;
            let private = PrivateDecryptingKey::from_pkcs8(der)
                .map_err(|_| KmsError::Crypto("RSA key decoding"))?;
            let key = OaepPrivateDecryptingKey::new(private)
                .map_err(|_| KmsError::Crypto("RSA key setup"))?;
            if ciphertext.len() != key.key_size_bytes() {
                return Err(KmsError::InvalidCiphertext);
            }
            let mut buffer = Zeroizing::new(vec![0u8; key.min_output_size()]);
            let len = key
                .decrypt(padding, ciphertext, buffer.as_mut_slice(), None)
                .map_err(|_| KmsError::InvalidCiphertext)?
                .len();
            buffer.truncate(len);
            Ok((buffer, algorithm))
        }
        KeyMaterial::Ecdsa(..) => Err(KmsError::Unsupported(
            "an ECDSA key can only sign and verify".into(),
        )),
    }
}

fn check_message(hash: Hash, message_type: MessageType, message: &[u8]) -> KmsResult<()> {
    if message.is_empty() {
        return Err(KmsError::InvalidParameter("`message` is empty".into()));
    }
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(KmsError::InvalidParameter(format!(
            "`message` is {} bytes; Sign and Verify take at most {MAX_MESSAGE_BYTES} (send a digest with `messageType: DIGEST` for larger data)",
            message.len()
        )));
    }
    if message_type == MessageType::Digest && message.len() != hash.len() {
        return Err(KmsError::InvalidParameter(format!(
            "a DIGEST message for this algorithm is a {}-byte digest, not {} bytes",
            hash.len(),
            message.len()
        )));
    }
    Ok(())
}

fn ec_algorithms(
    curve: Curve,
    hash: Hash,
) -> KmsResult<(
    &'static EcdsaSigningAlgorithm,
    &'static signature::EcdsaVerificationAlgorithm,
)> {
    match (curve, hash) {
        (Curve::NistP256, Hash::Sha256) => Ok((
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &signature::ECDSA_P256_SHA256_ASN1,
        )),
        (Curve::NistP384, Hash::Sha384) => Ok((
            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            &signature::ECDSA_P384_SHA384_ASN1,
        )),
        (Curve::NistP521, Hash::Sha256) => Ok((
            &signature::ECDSA_P521_SHA256_ASN1_SIGNING,
            &signature::ECDSA_P521_SHA256_ASN1,
        )),
        (Curve::NistP521, Hash::Sha384) => Ok((
            &signature::ECDSA_P521_SHA384_ASN1_SIGNING,
            &signature::ECDSA_P521_SHA384_ASN1,
        )),
        (Curve::NistP521, Hash::Sha512) => Ok((
            &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
            &signature::ECDSA_P521_SHA512_ASN1,
        )),
        (Curve::NistP256, _) => Err(KmsError::Unsupported(
            "a NIST_P256 key signs with ECDSA_SHA_256".into(),
        )),
        (Curve::NistP384, _) => Err(KmsError::Unsupported(
            "a NIST_P384 key signs with ECDSA_SHA_384".into(),
        )),
        (Curve::NistP521, _) => Err(KmsError::Unsupported(
            "a NIST_P521 key signs with ECDSA_SHA_256, ECDSA_SHA_384 or ECDSA_SHA_512".into(),
        )),
    }
}

fn rsa_encoding(scheme: Scheme, hash: Hash) -> Option<&'static signature::RsaSignatureEncoding> {
    match (scheme, hash) {
        (Scheme::RsaPss, Hash::Sha256) => Some(&signature::RSA_PSS_SHA256),
        (Scheme::RsaPss, Hash::Sha384) => Some(&signature::RSA_PSS_SHA384),
        (Scheme::RsaPss, Hash::Sha512) => Some(&signature::RSA_PSS_SHA512),
        (Scheme::RsaPkcs1, Hash::Sha256) => Some(&signature::RSA_PKCS1_SHA256),
        (Scheme::RsaPkcs1, Hash::Sha384) => Some(&signature::RSA_PKCS1_SHA384),
        (Scheme::RsaPkcs1, Hash::Sha512) => Some(&signature::RSA_PKCS1_SHA512),
        _ => None,
    }
}

fn rsa_parameters(scheme: Scheme, hash: Hash) -> Option<&'static signature::RsaParameters> {
    match (scheme, hash) {
        (Scheme::RsaPss, Hash::Sha256) => Some(&signature::RSA_PSS_2048_8192_SHA256),
        (Scheme::RsaPss, Hash::Sha384) => Some(&signature::RSA_PSS_2048_8192_SHA384),
        (Scheme::RsaPss, Hash::Sha512) => Some(&signature::RSA_PSS_2048_8192_SHA512),
        (Scheme::RsaPkcs1, Hash::Sha256) => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
        (Scheme::RsaPkcs1, Hash::Sha384) => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
        (Scheme::RsaPkcs1, Hash::Sha512) => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
        _ => None,
    }
}

fn family_mismatch(shape: Algorithm, scheme: Scheme) -> Option<KmsError> {
    match (shape, scheme) {
        (Algorithm::Rsa, Scheme::RsaPss | Scheme::RsaPkcs1) | (Algorithm::Ecdsa, Scheme::Ecdsa) => {
            None
        }
        (Algorithm::Aes, _) => Some(KmsError::Unsupported(
            "an AES key can only encrypt and decrypt".into(),
        )),
        (Algorithm::Rsa, _) => Some(KmsError::Unsupported(
            "an RSA key signs with an RSA_PKCS_PSS or RSA_PKCS1_V1_5 algorithm".into(),
        )),
        (Algorithm::Ecdsa, _) => Some(KmsError::Unsupported(
            "an ECDSA key signs with an ECDSA_SHA algorithm".into(),
        )),
    }
}

/// SHA-224 RSA signatures, which aws-lc does not offer, through RustCrypto's `rsa`
mod sha224 {
    use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
    use rsa::sha2::Sha224;
    use rsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
    use rsa::signature::{SignatureEncoding, Signer, Verifier};

    use super::{MessageType, Scheme};
    use crate::{KmsError, KmsResult};

    pub(super) fn sign(
        der: &[u8],
        scheme: Scheme,
        message_type: MessageType,
        message: &[u8],
    ) -> KmsResult<Vec<u8>> {
        let key = rsa::PrivateKey::from_pkcs8_der(der)
            .map_err(|_| KmsError::Crypto("RSA key decoding"))?;
        let failed = |_| KmsError::Crypto("RSA SHA-224 signing");
        match (scheme, message_type) {
            (Scheme::RsaPss, MessageType::Raw) => rsa::pss::SigningKey::<Sha224>::new(key)
                .try_sign(message)
                .map(|s| s.to_vec())
                .map_err(failed),
            (Scheme::RsaPss, MessageType::Digest) => rsa::pss::SigningKey::<Sha224>::new(key)
                .sign_prehash(message)
                .map(|s| s.to_vec())
                .map_err(failed),
            (_, MessageType::Raw) => rsa::pkcs1v15::SigningKey::<Sha224>::new(key)
                .try_sign(message)
                .map(|s| s.to_vec())
                .map_err(failed),
            (_, MessageType::Digest) => rsa::pkcs1v15::SigningKey::<Sha224>::new(key)
                .sign_prehash(message)
                .map(|s| s.to_vec())
                .map_err(failed),
        }
    }

    pub(super) fn verify(
        spki: &[u8],
        scheme: Scheme,
        message_type: MessageType,
        message: &[u8],
        signature: &[u8],
    ) -> KmsResult<bool> {
        let key = rsa::PublicKey::from_public_key_der(spki)
            .map_err(|_| KmsError::Crypto("RSA public key decoding"))?;
        Ok(match scheme {
            Scheme::RsaPss => {
                let Ok(signature) = rsa::pss::Signature::try_from(signature) else {
                    return Ok(false);
                };
                let key = rsa::pss::VerifyingKey::<Sha224>::new(key);
                match message_type {
                    MessageType::Raw => key.verify(message, &signature).is_ok(),
                    MessageType::Digest => key.verify_prehash(message, &signature).is_ok(),
                }
            }
            _ => {
                let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature) else {
                    return Ok(false);
                };
                let key = rsa::pkcs1v15::VerifyingKey::<Sha224>::new(key);
                match message_type {
                    MessageType::Raw => key.verify(message, &signature).is_ok(),
                    MessageType::Digest => key.verify_prehash(message, &signature).is_ok(),
                }
            }
        })
    }
}

/// Signs `message` (or its digest) with an asymmetric key version
pub fn sign(
    material: &KeyMaterial,
    algorithm: SigningAlgorithm,
    message_type: MessageType,
    message: &[u8],
) -> KmsResult<Vec<u8>> {
    let (scheme, hash) = algorithm.parts();
    let shape = match material {
        KeyMaterial::Aes(_) => Algorithm::Aes,
        KeyMaterial::Rsa(_) => Algorithm::Rsa,
        KeyMaterial::Ecdsa(..) => Algorithm::Ecdsa,
    };
    if let Some(error) = family_mismatch(shape, scheme) {
        return Err(error);
    }
    check_message(hash, message_type, message)?;
    match material {
        KeyMaterial::Rsa(der) => {
            let Some(encoding) = rsa_encoding(scheme, hash) else {
                return sha224::sign(der, scheme, message_type, message);
            };
            let pair = material.rsa_pair()?;
            let mut out = vec![0u8; pair.public_modulus_len()];
            match message_type {
                MessageType::Raw => pair.sign(encoding, &SystemRandom::new(), message, &mut out),
                MessageType::Digest => {
                    let digest = Digest::import_less_safe(message, hash.digest_algorithm())
                        .map_err(|_| {
                            KmsError::InvalidParameter("`message` is not a digest".into())
                        })?;
                    pair.sign_digest(encoding, &digest, &mut out)
                }
            }
            .map_err(|_| KmsError::Crypto("RSA signing"))?;
            Ok(out)
        }
        KeyMaterial::Ecdsa(curve, der) => {
            let (signing, _) = ec_algorithms(*curve, hash)?;
            let pair = EcdsaKeyPair::from_pkcs8(signing, der)
                .map_err(|_| KmsError::Crypto("EC key decoding"))?;
            let signature = match message_type {
                MessageType::Raw => pair.sign(&SystemRandom::new(), message),
                MessageType::Digest => {
                    let digest = Digest::import_less_safe(message, hash.digest_algorithm())
                        .map_err(|_| {
                            KmsError::InvalidParameter("`message` is not a digest".into())
                        })?;
                    pair.sign_digest(&digest)
                }
            }
            .map_err(|_| KmsError::Crypto("ECDSA signing"))?;
            Ok(signature.as_ref().to_vec())
        }
        KeyMaterial::Aes(_) => Err(KmsError::Unsupported(
            "an AES key can only encrypt and decrypt".into(),
        )),
    }
}

/// Verifies a signature against a key version's public key (SubjectPublicKeyInfo DER).
/// A wrong signature is `Ok(false)`; a request that makes no sense is an error.
pub fn verify(
    shape: KeyShape,
    public_key: &[u8],
    algorithm: SigningAlgorithm,
    message_type: MessageType,
    message: &[u8],
    signature: &[u8],
) -> KmsResult<bool> {
    let (scheme, hash) = algorithm.parts();
    if let Some(error) = family_mismatch(shape.algorithm, scheme) {
        return Err(error);
    }
    check_message(hash, message_type, message)?;
    let parameters: &'static dyn signature::VerificationAlgorithm = match scheme {
        Scheme::Ecdsa => {
            let curve = shape
                .curve()
                .ok_or(KmsError::Crypto("ECDSA key without a curve"))?;
            ec_algorithms(curve, hash)?.1
        }
        _ => match rsa_parameters(scheme, hash) {
            Some(parameters) => parameters,
            None => return sha224::verify(public_key, scheme, message_type, message, signature),
        },
    };
    let key = UnparsedPublicKey::new(parameters, public_key);
    Ok(match message_type {
        MessageType::Raw => key.verify(message, signature).is_ok(),
        MessageType::Digest => match Digest::import_less_safe(message, hash.digest_algorithm()) {
            Ok(digest) => key.verify_digest(&digest, signature).is_ok(),
            Err(_) => false,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa() -> KeyMaterial {
        KeyMaterial::generate(KeyShape {
            algorithm: Algorithm::Rsa,
            length: 256,
            curve_id: None,
        })
        .unwrap()
    }

    #[test]
    fn aes_round_trip_embeds_the_version_and_binds_associated_data() {
        let key = KeyMaterial::generate(KeyShape::AES_256).unwrap();
        let ad: AssociatedData = [("purpose".to_owned(), "test".to_owned())].into();
        let (ct, _) = encrypt(&key, "kv1", b"hello", Some(&ad), None).unwrap();
        assert_eq!(ciphertext_key_version(&ct).unwrap(), "kv1");
        let (pt, _) = decrypt(&key, "kv1", &ct, Some(&ad), None).unwrap();
        assert_eq!(pt.as_slice(), b"hello");
        assert_eq!(
            decrypt(&key, "kv1", &ct, None, None).unwrap_err(),
            KmsError::InvalidCiphertext
        );
        assert_eq!(
            decrypt(&key, "kv2", &ct, Some(&ad), None).unwrap_err(),
            KmsError::InvalidCiphertext
        );
        for i in 0..ct.len() {
            let mut tampered = ct.clone();
            tampered[i] ^= 1;
            assert!(
                decrypt(&key, "kv1", &tampered, Some(&ad), None).is_err(),
                "byte {i}"
            );
        }
    }

    #[test]
    fn limits_are_enforced() {
        let key = KeyMaterial::generate(KeyShape::AES_256).unwrap();
        assert!(encrypt(&key, "v", &[0; MAX_PLAINTEXT_BYTES], None, None).is_ok());
        let err = encrypt(&key, "v", &[0; MAX_PLAINTEXT_BYTES + 1], None, None).unwrap_err();
        assert!(matches!(err, KmsError::InvalidParameter(_)), "{err}");
        assert!(encrypt(&key, "v", b"", None, None).is_err());
        let huge: AssociatedData = [("k".to_owned(), "x".repeat(5000))].into();
        assert!(encrypt(&key, "v", b"x", Some(&huge), None).is_err());
    }

    #[test]
    fn rsa_oaep_round_trips_with_both_hashes() {
        let key = rsa();
        for algorithm in [
            EncryptionAlgorithm::RsaOaepSha1,
            EncryptionAlgorithm::RsaOaepSha256,
        ] {
            let (ct, used) = encrypt(&key, "v", b"secret", None, Some(algorithm)).unwrap();
            assert_eq!(used, algorithm);
            assert_eq!(ct.len(), 256);
            let (pt, _) = decrypt(&key, "v", &ct, None, Some(algorithm)).unwrap();
            assert_eq!(pt.as_slice(), b"secret");
        }
        assert!(encrypt(&key, "v", &[0; 250], None, None).is_err());
    }

    #[test]
    fn every_signing_algorithm_signs_and_verifies_raw_and_digest() {
        let rsa = rsa();
        let p256 = KeyMaterial::generate(KeyShape {
            algorithm: Algorithm::Ecdsa,
            length: 32,
            curve_id: Some(Curve::NistP256),
        })
        .unwrap();
        let p384 = KeyMaterial::generate(KeyShape {
            algorithm: Algorithm::Ecdsa,
            length: 48,
            curve_id: Some(Curve::NistP384),
        })
        .unwrap();
        let p521 = KeyMaterial::generate(KeyShape {
            algorithm: Algorithm::Ecdsa,
            length: 66,
            curve_id: Some(Curve::NistP521),
        })
        .unwrap();
        for algorithm in SigningAlgorithm::ALL {
            let (scheme, hash) = algorithm.parts();
            let (material, shape) = match (scheme, hash) {
                (Scheme::Ecdsa, Hash::Sha256) => (
                    &p256,
                    KeyShape {
                        algorithm: Algorithm::Ecdsa,
                        length: 32,
                        curve_id: Some(Curve::NistP256),
                    },
                ),
                (Scheme::Ecdsa, Hash::Sha384) => (
                    &p384,
                    KeyShape {
                        algorithm: Algorithm::Ecdsa,
                        length: 48,
                        curve_id: Some(Curve::NistP384),
                    },
                ),
                (Scheme::Ecdsa, _) => (
                    &p521,
                    KeyShape {
                        algorithm: Algorithm::Ecdsa,
                        length: 66,
                        curve_id: Some(Curve::NistP521),
                    },
                ),
                _ => (
                    &rsa,
                    KeyShape {
                        algorithm: Algorithm::Rsa,
                        length: 256,
                        curve_id: None,
                    },
                ),
            };
            let public = material.public_key_der().unwrap().unwrap();
            let message = b"the message";
            let signature = sign(material, algorithm, MessageType::Raw, message).unwrap();
            assert!(
                verify(
                    shape,
                    &public,
                    algorithm,
                    MessageType::Raw,
                    message,
                    &signature
                )
                .unwrap(),
                "{algorithm:?}"
            );
            assert!(
                !verify(
                    shape,
                    &public,
                    algorithm,
                    MessageType::Raw,
                    b"other",
                    &signature
                )
                .unwrap()
            );
            let digest = hash.digest(message);
            let from_digest = sign(material, algorithm, MessageType::Digest, &digest).unwrap();
            assert!(
                verify(
                    shape,
                    &public,
                    algorithm,
                    MessageType::Raw,
                    message,
                    &from_digest
                )
                .unwrap(),
                "{algorithm:?} digest"
            );
            assert!(
                verify(
                    shape,
                    &public,
                    algorithm,
                    MessageType::Digest,
                    &digest,
                    &signature
                )
                .unwrap()
            );
        }
    }

    #[test]
    fn mismatched_families_are_refused() {
        let aes = KeyMaterial::generate(KeyShape::AES_256).unwrap();
        assert!(matches!(
            sign(&aes, SigningAlgorithm::EcdsaSha256, MessageType::Raw, b"m"),
            Err(KmsError::Unsupported(_))
        ));
        let rsa = rsa();
        assert!(sign(&rsa, SigningAlgorithm::EcdsaSha256, MessageType::Raw, b"m").is_err());
        assert!(
            sign(
                &rsa,
                SigningAlgorithm::Sha256RsaPkcsPss,
                MessageType::Raw,
                &[0; 4097]
            )
            .is_err()
        );
        assert!(
            sign(
                &rsa,
                SigningAlgorithm::Sha256RsaPkcsPss,
                MessageType::Digest,
                &[0; 31]
            )
            .is_err()
        );
    }
}
