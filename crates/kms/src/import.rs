//! Bring-your-own-key import: each vault has an RSA-4096 wrapping key, and key material
//! arrives wrapped under its public half (`oci-reference.md` §7.1), in one of OCI's two
//! `wrappingAlgorithm`s:
//!
//! - `RSA_OAEP_SHA256`: the material itself is RSA-OAEP encrypted (SHA-256, MGF1-SHA-256).
//!   It fits only short material: AES keys and EC keys.
//! - `RSA_OAEP_AES_SHA256`: a temporary AES key is RSA-OAEP encrypted and the material is
//!   wrapped under it with AES key wrap with padding (RFC 5649); the two are concatenated.
//!   This is what `openssl pkeyutl` plus `openssl enc -id-aes256-wrap-pad` produce, and what
//!   an RSA private key needs.
//!
//! Unwrapping errors never say which step failed beyond "does not open": a caller probing
//! with chosen ciphertexts learns nothing about the padding.

use aws_lc_rs::key_wrap::{AES_128, AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{EcdsaKeyPair, RsaKeyPair};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::material::{KeyMaterial, ec_signing};
use crate::root::random_bytes;
use crate::shape::{Algorithm, KeyShape};
use crate::{KmsError, KmsResult};

/// The wrapping key's shape: RSA-4096, as OCI's
pub const WRAPPING_KEY_SHAPE: KeyShape = KeyShape {
    algorithm: Algorithm::Rsa,
    length: 512,
    curve_id: None,
};

/// The most wrapped bytes an import takes: an RSA-4096 PKCS#8 key wrapped with
/// `RSA_OAEP_AES_SHA256` is about 2.9 KB
pub const MAX_WRAPPED_BYTES: usize = 16 * 1024;

/// `WrappedImportKey.wrappingAlgorithm`
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub enum WrappingAlgorithm {
    /// The material is RSA-OAEP encrypted directly
    #[serde(rename = "RSA_OAEP_SHA256")]
    RsaOaepSha256,
    /// A temporary AES key is RSA-OAEP encrypted; the material is AES-KWP wrapped under it
    #[serde(rename = "RSA_OAEP_AES_SHA256")]
    RsaOaepAesSha256,
}

fn does_not_open() -> KmsError {
    KmsError::InvalidParameter(
        "the wrapped key material does not open with this vault's wrapping key; wrap it under the public key from GetWrappingKey with the stated `wrappingAlgorithm`".into(),
    )
}

/// Opens material wrapped under `wrapping` (the vault's wrapping key, an RSA key)
pub fn unwrap_import(
    wrapping: &KeyMaterial,
    algorithm: WrappingAlgorithm,
    wrapped: &[u8],
) -> KmsResult<Zeroizing<Vec<u8>>> {
    if wrapped.len() > MAX_WRAPPED_BYTES {
        return Err(KmsError::InvalidParameter(format!(
            "`keyMaterial` is {} bytes wrapped; at most {MAX_WRAPPED_BYTES} are taken",
            wrapped.len()
        )));
    }
    let KeyMaterial::Rsa(der) = wrapping else {
        return Err(KmsError::Crypto("the wrapping key is not an RSA key"));
    };
    let private = PrivateDecryptingKey::from_pkcs8(der)
        .map_err(|_| KmsError::Crypto("wrapping key decoding"))
        .and_then(|key| {
            OaepPrivateDecryptingKey::new(key).map_err(|_| KmsError::Crypto("wrapping key setup"))
        })?;
    let modulus = private.key_size_bytes();
    let oaep_open = |ciphertext: &[u8]| -> KmsResult<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; modulus]);
        let len = private
            .decrypt(&OAEP_SHA256_MGF1SHA256, ciphertext, &mut out, None)
            .map_err(|_| does_not_open())?
            .len();
        out.truncate(len);
        Ok(out)
    };
    match algorithm {
        WrappingAlgorithm::RsaOaepSha256 => {
            if wrapped.len() != modulus {
                return Err(does_not_open());
            }
            oaep_open(wrapped)
        }
        WrappingAlgorithm::RsaOaepAesSha256 => {
            let (head, body) = wrapped
                .split_at_checked(modulus)
                .ok_or_else(does_not_open)?;
            let temporary = oaep_open(head)?;
            let kek = match temporary.len() {
                16 => AesKek::new(&AES_128, &temporary),
                32 => AesKek::new(&AES_256, &temporary),
                _ => {
                    return Err(KmsError::InvalidParameter(
                        "the temporary AES key inside `RSA_OAEP_AES_SHA256` must be 128 or 256 bits".into(),
                    ));
                }
            }
            .map_err(|_| does_not_open())?;
            // RFC 5649 output is the input rounded up to 8 bytes, plus 8.
            if body.len() < 16 || body.len() % 8 != 0 {
                return Err(does_not_open());
            }
            let mut out = Zeroizing::new(vec![0u8; body.len()]);
            let len = kek
                .unwrap_with_padding(body, &mut out)
                .map_err(|_| does_not_open())?
                .len();
            out.truncate(len);
            Ok(out)
        }
    }
}

/// Wraps `material` for import under a vault's public wrapping key (PEM or
/// SubjectPublicKeyInfo DER), as a client does before `ImportKey`
pub fn wrap_for_import(
    wrapping_public_key: &[u8],
    algorithm: WrappingAlgorithm,
    material: &[u8],
) -> KmsResult<Vec<u8>> {
    let der = crate::material::pem_or_der(wrapping_public_key, "PUBLIC KEY").ok_or_else(|| {
        KmsError::InvalidParameter("the wrapping key is not a PEM public key".into())
    })?;
    let not_rsa = || KmsError::InvalidParameter("the wrapping key is not an RSA public key".into());
    let public = PublicEncryptingKey::from_der(&der)
        .map_err(|_| not_rsa())
        .and_then(|key| OaepPublicEncryptingKey::new(key).map_err(|_| not_rsa()))?;
    let mut head = vec![0u8; public.ciphertext_size()];
    match algorithm {
        WrappingAlgorithm::RsaOaepSha256 => {
            if material.len() > public.max_plaintext_size(&OAEP_SHA256_MGF1SHA256) {
                return Err(KmsError::InvalidParameter(
                    "this material is too long for RSA_OAEP_SHA256; use RSA_OAEP_AES_SHA256".into(),
                ));
            }
            public
                .encrypt(&OAEP_SHA256_MGF1SHA256, material, &mut head, None)
                .map_err(|_| KmsError::Crypto("RSA-OAEP wrap"))?;
            Ok(head)
        }
        WrappingAlgorithm::RsaOaepAesSha256 => {
            let temporary = random_bytes::<32>()?;
            public
                .encrypt(
                    &OAEP_SHA256_MGF1SHA256,
                    temporary.as_slice(),
                    &mut head,
                    None,
                )
                .map_err(|_| KmsError::Crypto("RSA-OAEP wrap"))?;
            let kek = AesKek::new(&AES_256, temporary.as_slice())
                .map_err(|_| KmsError::Crypto("AES key wrap setup"))?;
            let mut body = vec![0u8; material.len() + 16];
            let len = kek
                .wrap_with_padding(material, &mut body)
                .map_err(|_| KmsError::Crypto("AES key wrap"))?
                .len();
            body.truncate(len);
            head.extend_from_slice(&body);
            Ok(head)
        }
    }
}

impl KeyMaterial {
    /// Imported material of `shape`: AES bytes of exactly the shape's length, or an RSA or
    /// EC private key as unencrypted PKCS#8 DER whose size or curve matches the shape.
    /// OCI imports AES and RSA keys only; EC keys are taken too, because cosign's key
    /// pairs are ECDSA P-256 and signing with them through the vault is why one imports.
    pub fn import(shape: KeyShape, bytes: Zeroizing<Vec<u8>>) -> KmsResult<KeyMaterial> {
        let shape = shape.validate()?;
        match shape.algorithm {
            Algorithm::Aes => {
                if u32::try_from(bytes.len()).ok() != Some(shape.length) {
                    return Err(KmsError::InvalidParameter(format!(
                        "the key material is {} bytes; the key shape says {}",
                        bytes.len(),
                        shape.length
                    )));
                }
                Ok(KeyMaterial::Aes(bytes))
            }
            Algorithm::Rsa => {
                let pair = RsaKeyPair::from_pkcs8(&bytes).map_err(|_| {
                    KmsError::InvalidParameter(
                        "the key material is not an RSA private key in unencrypted PKCS#8 DER"
                            .into(),
                    )
                })?;
                if u32::try_from(pair.public_modulus_len()).ok() != Some(shape.length) {
                    return Err(KmsError::InvalidParameter(format!(
                        "the RSA key is {} bytes; the key shape says {}",
                        pair.public_modulus_len(),
                        shape.length
                    )));
                }
                KeyMaterial::from_rsa_pair(&pair)
            }
            Algorithm::Ecdsa => {
                let curve = shape.curve().ok_or_else(|| {
                    KmsError::InvalidParameter("an ECDSA key needs `keyShape.curveId`".into())
                })?;
                let pair = EcdsaKeyPair::from_pkcs8(ec_signing(curve), &bytes).map_err(|_| {
                    KmsError::InvalidParameter(format!(
                        "the key material is not a {curve:?} EC private key in unencrypted PKCS#8 DER"
                    ))
                })?;
                KeyMaterial::from_ec_pair(curve, &pair)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        reason = "test code: a panic is a failed test"
    )]

    use proptest::prelude::*;

    use super::*;
    use crate::shape::Curve;

    fn wrapping_pair() -> (KeyMaterial, String) {
        let material = KeyMaterial::generate(KeyShape {
            length: 256,
            ..WRAPPING_KEY_SHAPE
        })
        .unwrap();
        let pem = material.public_key_pem().unwrap().unwrap();
        (material, pem)
    }

    #[test]
    fn every_importable_shape_round_trips_under_both_algorithms() {
        let (wrapping, pem) = wrapping_pair();
        let shapes = [
            KeyShape::AES_256,
            KeyShape {
                algorithm: Algorithm::Rsa,
                length: 256,
                curve_id: None,
            },
            KeyShape {
                algorithm: Algorithm::Ecdsa,
                length: 32,
                curve_id: Some(Curve::NistP256),
            },
        ];
        for shape in shapes {
            let original = KeyMaterial::generate(shape).unwrap();
            for algorithm in [
                WrappingAlgorithm::RsaOaepAesSha256,
                WrappingAlgorithm::RsaOaepSha256,
            ] {
                let Ok(wrapped) =
                    wrap_for_import(pem.as_bytes(), algorithm, original.secret_bytes())
                else {
                    // An RSA private key is too long for RSA-OAEP alone.
                    assert_eq!(shape.algorithm, Algorithm::Rsa);
                    continue;
                };
                let opened = unwrap_import(&wrapping, algorithm, &wrapped).unwrap();
                let imported = KeyMaterial::import(shape, opened).unwrap();
                assert_eq!(
                    imported.public_key_der().unwrap(),
                    original.public_key_der().unwrap()
                );
            }
        }
    }

    #[test]
    fn material_that_disagrees_with_the_shape_is_refused() {
        let aes = Zeroizing::new(vec![7u8; 16]);
        let error = KeyMaterial::import(KeyShape::AES_256, aes).unwrap_err();
        assert!(error.to_string().contains("16 bytes"), "{error}");
        let rsa = KeyMaterial::generate(KeyShape {
            algorithm: Algorithm::Rsa,
            length: 256,
            curve_id: None,
        })
        .unwrap();
        let bigger = KeyShape {
            algorithm: Algorithm::Rsa,
            length: 384,
            curve_id: None,
        };
        let error =
            KeyMaterial::import(bigger, Zeroizing::new(rsa.secret_bytes().to_vec())).unwrap_err();
        assert!(error.to_string().contains("256 bytes"), "{error}");
        let p384 = KeyShape {
            algorithm: Algorithm::Ecdsa,
            length: 48,
            curve_id: Some(Curve::NistP384),
        };
        let ec = KeyMaterial::generate(KeyShape {
            algorithm: Algorithm::Ecdsa,
            length: 32,
            curve_id: Some(Curve::NistP256),
        })
        .unwrap();
        assert!(KeyMaterial::import(p384, Zeroizing::new(ec.secret_bytes().to_vec())).is_err());
        assert!(KeyMaterial::import(p384, Zeroizing::new(b"not a key".to_vec())).is_err());
    }

    #[test]
    fn tampered_or_foreign_wrapping_does_not_open() {
        let (wrapping, _) = wrapping_pair();
        let (_, other_pem) = wrapping_pair();
        let material = [9u8; 32];
        let foreign = wrap_for_import(
            other_pem.as_bytes(),
            WrappingAlgorithm::RsaOaepAesSha256,
            &material,
        )
        .unwrap();
        assert!(unwrap_import(&wrapping, WrappingAlgorithm::RsaOaepAesSha256, &foreign).is_err());
        let pem = wrapping.public_key_pem().unwrap().unwrap();
        let mut good = wrap_for_import(
            pem.as_bytes(),
            WrappingAlgorithm::RsaOaepAesSha256,
            &material,
        )
        .unwrap();
        let last = good.len() - 1;
        good[last] ^= 1;
        assert!(unwrap_import(&wrapping, WrappingAlgorithm::RsaOaepAesSha256, &good).is_err());
        // The right bytes under the wrong algorithm name.
        good[last] ^= 1;
        assert!(unwrap_import(&wrapping, WrappingAlgorithm::RsaOaepSha256, &good).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
            static WRAPPING: std::sync::OnceLock<KeyMaterial> = std::sync::OnceLock::new();
            let wrapping = WRAPPING.get_or_init(|| wrapping_pair().0);
            for algorithm in [WrappingAlgorithm::RsaOaepSha256, WrappingAlgorithm::RsaOaepAesSha256] {
                prop_assert!(unwrap_import(wrapping, algorithm, &bytes).is_err());
            }
            for shape in [KeyShape::AES_256, WRAPPING_KEY_SHAPE] {
                let _ = KeyMaterial::import(shape, Zeroizing::new(bytes.clone()));
            }
        }
    }
}
