//! Key material: made here, kept only wrapped (see [`crate::root`]), and unwrapped into
//! buffers that are zeroed when dropped.

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, ECDSA_P521_SHA512_ASN1_SIGNING,
    EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair, RsaKeyPair,
};
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::root::random_bytes;
use crate::shape::{Algorithm, Curve, KeyShape};
use crate::{KmsError, KmsResult};

/// The private half of one key version
pub enum KeyMaterial {
    /// Raw AES key bytes
    Aes(Zeroizing<Vec<u8>>),
    /// An RSA private key, PKCS#8 DER
    Rsa(Zeroizing<Vec<u8>>),
    /// An EC private key on `Curve`, PKCS#8 DER
    Ecdsa(Curve, Zeroizing<Vec<u8>>),
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyMaterial::Aes(k) => write!(f, "KeyMaterial::Aes({} bytes)", k.len()),
            KeyMaterial::Rsa(_) => f.write_str("KeyMaterial::Rsa(..)"),
            KeyMaterial::Ecdsa(c, _) => write!(f, "KeyMaterial::Ecdsa({c:?}, ..)"),
        }
    }
}

/// The signing algorithm aws-lc uses to load an EC key of `curve`
pub(crate) fn ec_signing(curve: Curve) -> &'static EcdsaSigningAlgorithm {
    match curve {
        Curve::NistP256 => &ECDSA_P256_SHA256_ASN1_SIGNING,
        Curve::NistP384 => &ECDSA_P384_SHA384_ASN1_SIGNING,
        Curve::NistP521 => &ECDSA_P521_SHA512_ASN1_SIGNING,
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER inside a PEM block labelled `label`, or the bytes themselves when they are not
/// PEM (already DER); `None` for PEM with another label or a broken body
pub fn pem_or_der(bytes: &[u8], label: &str) -> Option<Vec<u8>> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Some(bytes.to_vec());
    };
    let begin = format!("-----BEGIN {label}-----");
    let Some(start) = text.find(&begin) else {
        return (!text.trim_start().starts_with("-----")).then(|| bytes.to_vec());
    };
    let rest = text.get(start + begin.len()..)?;
    let body = rest.get(..rest.find(&format!("-----END {label}-----"))?)?;
    let compact: String = body.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}

impl KeyMaterial {
    /// New material for a validated shape. RSA-4096 takes about a second.
    pub fn generate(shape: KeyShape) -> KmsResult<KeyMaterial> {
        match shape.algorithm {
            Algorithm::Aes => {
                let bytes = random_bytes::<32>()?;
                let len = usize::try_from(shape.length).unwrap_or(32).min(32);
                Ok(KeyMaterial::Aes(Zeroizing::new(
                    bytes.get(..len).unwrap_or_default().to_vec(),
                )))
            }
            Algorithm::Rsa => {
                let size = match shape.length {
                    256 => KeySize::Rsa2048,
                    384 => KeySize::Rsa3072,
                    512 => KeySize::Rsa4096,
                    other => {
                        return Err(KmsError::InvalidParameter(format!(
                            "no RSA key is {other} bytes long"
                        )));
                    }
                };
                let pair = RsaKeyPair::generate(size)
                    .map_err(|_| KmsError::Crypto("RSA key generation"))?;
                KeyMaterial::from_rsa_pair(&pair)
            }
            Algorithm::Ecdsa => {
                let curve = shape.curve().ok_or_else(|| {
                    KmsError::InvalidParameter("an ECDSA key needs `keyShape.curveId`".into())
                })?;
                let pair = EcdsaKeyPair::generate(ec_signing(curve))
                    .map_err(|_| KmsError::Crypto("EC key generation"))?;
                KeyMaterial::from_ec_pair(curve, &pair)
            }
        }
    }

    /// An RSA pair kept in aws-lc's PKCS#8 encoding, whether generated or imported
    pub(crate) fn from_rsa_pair(pair: &RsaKeyPair) -> KmsResult<KeyMaterial> {
        let der = pair
            .as_der()
            .map_err(|_| KmsError::Crypto("RSA key encoding"))?;
        Ok(KeyMaterial::Rsa(Zeroizing::new(der.as_ref().to_vec())))
    }

    /// An EC pair kept as PKCS#8 v1, whether generated or imported
    pub(crate) fn from_ec_pair(curve: Curve, pair: &EcdsaKeyPair) -> KmsResult<KeyMaterial> {
        let der = pair
            .to_pkcs8v1()
            .map_err(|_| KmsError::Crypto("EC key encoding"))?;
        Ok(KeyMaterial::Ecdsa(
            curve,
            Zeroizing::new(der.as_ref().to_vec()),
        ))
    }

    /// The bytes that get wrapped under the root key
    pub fn secret_bytes(&self) -> &[u8] {
        match self {
            KeyMaterial::Aes(k) | KeyMaterial::Rsa(k) | KeyMaterial::Ecdsa(_, k) => k,
        }
    }

    /// Material of `shape` from unwrapped bytes
    pub fn from_secret_bytes(shape: KeyShape, bytes: Zeroizing<Vec<u8>>) -> KmsResult<KeyMaterial> {
        match shape.algorithm {
            Algorithm::Aes => Ok(KeyMaterial::Aes(bytes)),
            Algorithm::Rsa => Ok(KeyMaterial::Rsa(bytes)),
            Algorithm::Ecdsa => shape
                .curve()
                .map(|c| KeyMaterial::Ecdsa(c, bytes))
                .ok_or(KmsError::Unwrap),
        }
    }

    pub(crate) fn rsa_pair(&self) -> KmsResult<RsaKeyPair> {
        match self {
            KeyMaterial::Rsa(der) => {
                RsaKeyPair::from_pkcs8(der).map_err(|_| KmsError::Crypto("RSA key decoding"))
            }
            _ => Err(KmsError::Unsupported("this is not an RSA key".into())),
        }
    }

    pub(crate) fn ec_pair(&self) -> KmsResult<(Curve, EcdsaKeyPair)> {
        match self {
            KeyMaterial::Ecdsa(curve, der) => EcdsaKeyPair::from_pkcs8(ec_signing(*curve), der)
                .map(|pair| (*curve, pair))
                .map_err(|_| KmsError::Crypto("EC key decoding")),
            _ => Err(KmsError::Unsupported("this is not an ECDSA key".into())),
        }
    }

    /// The SubjectPublicKeyInfo DER of an asymmetric key
    pub fn public_key_der(&self) -> KmsResult<Option<Vec<u8>>> {
        match self {
            KeyMaterial::Aes(_) => Ok(None),
            KeyMaterial::Rsa(_) => {
                let pair = self.rsa_pair()?;
                let der: PublicKeyX509Der<'static> = pair
                    .public_key()
                    .as_der()
                    .map_err(|_| KmsError::Crypto("RSA public key encoding"))?;
                Ok(Some(der.as_ref().to_vec()))
            }
            KeyMaterial::Ecdsa(..) => {
                let (_, pair) = self.ec_pair()?;
                let der: PublicKeyX509Der<'static> = pair
                    .public_key()
                    .as_der()
                    .map_err(|_| KmsError::Crypto("EC public key encoding"))?;
                Ok(Some(der.as_ref().to_vec()))
            }
        }
    }

    /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`), as OCI's `KeyVersion.publicKey`
    pub fn public_key_pem(&self) -> KmsResult<Option<String>> {
        Ok(self.public_key_der()?.map(|der| pem("PUBLIC KEY", &der)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_generates_and_reloads() {
        let shapes = [
            KeyShape::AES_256,
            KeyShape {
                algorithm: Algorithm::Aes,
                length: 16,
                curve_id: None,
            },
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
            KeyShape {
                algorithm: Algorithm::Ecdsa,
                length: 48,
                curve_id: Some(Curve::NistP384),
            },
            KeyShape {
                algorithm: Algorithm::Ecdsa,
                length: 66,
                curve_id: Some(Curve::NistP521),
            },
        ];
        for shape in shapes {
            let material = KeyMaterial::generate(shape).unwrap();
            let again = KeyMaterial::from_secret_bytes(
                shape,
                Zeroizing::new(material.secret_bytes().to_vec()),
            )
            .unwrap();
            assert_eq!(
                material.public_key_der().unwrap(),
                again.public_key_der().unwrap()
            );
            if shape.algorithm == Algorithm::Aes {
                assert_eq!(material.secret_bytes().len(), shape.length as usize);
            } else {
                let pem = material.public_key_pem().unwrap().unwrap();
                assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
            }
        }
    }

    #[test]
    fn debug_never_shows_material() {
        let material = KeyMaterial::generate(KeyShape::AES_256).unwrap();
        assert_eq!(format!("{material:?}"), "KeyMaterial::Aes(32 bytes)");
    }
}
