//! Key shapes and protection modes (`oci-reference.md` §7.1). Lengths are in bytes, as in
//! OCI's `KeyShape`: AES 16/24/32, RSA 256/384/512, ECDSA 32/48/66.

use serde::{Deserialize, Serialize};

use crate::{KmsError, KmsResult};

/// The key algorithm
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Algorithm {
    /// Symmetric: Encrypt, Decrypt and data keys
    Aes,
    /// Asymmetric: RSA-OAEP encryption and signatures
    Rsa,
    /// Asymmetric: signatures only
    Ecdsa,
}

/// The NIST curve of an ECDSA key
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, PartialEq, Serialize)]
pub enum Curve {
    /// P-256 (32-byte keys)
    #[serde(rename = "NIST_P256")]
    NistP256,
    /// P-384 (48-byte keys)
    #[serde(rename = "NIST_P384")]
    NistP384,
    /// P-521 (66-byte keys)
    #[serde(rename = "NIST_P521")]
    NistP521,
}

impl Curve {
    /// The key length OCI reports for the curve
    pub fn length(self) -> u32 {
        match self {
            Curve::NistP256 => 32,
            Curve::NistP384 => 48,
            Curve::NistP521 => 66,
        }
    }
}

/// `KeyShape {algorithm, length, curveId?}`
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyShape {
    /// AES, RSA or ECDSA
    pub algorithm: Algorithm,
    /// Bytes: AES 16/24/32, RSA 256/384/512, ECDSA 32/48/66
    pub length: u32,
    /// The curve of an ECDSA key
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curve_id: Option<Curve>,
}

impl KeyShape {
    /// A 256-bit AES shape, the platform default
    pub const AES_256: KeyShape = KeyShape {
        algorithm: Algorithm::Aes,
        length: 32,
        curve_id: None,
    };

    /// Checks the shape is one OCI offers, filling in the curve for ECDSA lengths
    pub fn validate(self) -> KmsResult<KeyShape> {
        match self.algorithm {
            Algorithm::Aes if self.curve_id.is_some() => Err(KmsError::InvalidParameter(
                "`keyShape.curveId` applies only to ECDSA keys".into(),
            )),
            Algorithm::Aes if matches!(self.length, 16 | 24 | 32) => Ok(self),
            Algorithm::Aes => Err(KmsError::InvalidParameter(format!(
                "an AES key is 16, 24 or 32 bytes long, not {}",
                self.length
            ))),
            Algorithm::Rsa if self.curve_id.is_some() => Err(KmsError::InvalidParameter(
                "`keyShape.curveId` applies only to ECDSA keys".into(),
            )),
            Algorithm::Rsa if matches!(self.length, 256 | 384 | 512) => Ok(self),
            Algorithm::Rsa => Err(KmsError::InvalidParameter(format!(
                "an RSA key is 256, 384 or 512 bytes long (2048, 3072 or 4096 bits), not {}",
                self.length
            ))),
            Algorithm::Ecdsa => {
                let by_length = match self.length {
                    32 => Some(Curve::NistP256),
                    48 => Some(Curve::NistP384),
                    66 => Some(Curve::NistP521),
                    _ => None,
                };
                match (self.curve_id, by_length) {
                    (Some(curve), Some(expected)) if curve == expected => Ok(self),
                    (None, Some(curve)) => Ok(KeyShape {
                        curve_id: Some(curve),
                        ..self
                    }),
                    (Some(curve), _) => Err(KmsError::InvalidParameter(format!(
                        "a {curve:?} key is {} bytes long, not {}",
                        curve.length(),
                        self.length
                    ))),
                    (None, None) => Err(KmsError::InvalidParameter(format!(
                        "an ECDSA key is 32, 48 or 66 bytes long (NIST_P256, NIST_P384, NIST_P521), not {}",
                        self.length
                    ))),
                }
            }
        }
    }

    /// The curve of an ECDSA shape (validated shapes always have one)
    pub fn curve(self) -> Option<Curve> {
        self.curve_id
    }
}

/// Where key material lives and is used
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProtectionMode {
    /// In a hardware security module (OCI's default; no HSM backend here yet)
    #[default]
    Hsm,
    /// On the server, wrapped by the root key; crypto runs on the server
    Software,
    /// In an external key manager (hold-your-own-key)
    External,
}

impl ProtectionMode {
    /// Refuses modes this vault cannot serve, with the reason
    pub fn require_supported(self) -> KmsResult<()> {
        match self {
            ProtectionMode::Software => Ok(()),
            ProtectionMode::Hsm => Err(KmsError::Unsupported(
                "protection mode HSM needs a hardware security module, which this vault does not have; create the key with `protectionMode: SOFTWARE`".into(),
            )),
            ProtectionMode::External => Err(KmsError::Unsupported(
                "protection mode EXTERNAL needs an external key manager, which this vault does not have; create the key with `protectionMode: SOFTWARE`".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(algorithm: Algorithm, length: u32, curve_id: Option<Curve>) -> KeyShape {
        KeyShape {
            algorithm,
            length,
            curve_id,
        }
    }

    #[test]
    fn the_offered_shapes_validate() {
        for length in [16, 24, 32] {
            assert!(shape(Algorithm::Aes, length, None).validate().is_ok());
        }
        for length in [256, 384, 512] {
            assert!(shape(Algorithm::Rsa, length, None).validate().is_ok());
        }
        assert_eq!(
            shape(Algorithm::Ecdsa, 48, None).validate(),
            Ok(shape(Algorithm::Ecdsa, 48, Some(Curve::NistP384)))
        );
        assert!(
            shape(Algorithm::Ecdsa, 66, Some(Curve::NistP521))
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn other_shapes_are_refused_with_the_allowed_lengths() {
        let err = shape(Algorithm::Aes, 64, None).validate().unwrap_err();
        assert!(err.to_string().contains("16, 24 or 32"), "{err}");
        assert!(shape(Algorithm::Rsa, 128, None).validate().is_err());
        assert!(
            shape(Algorithm::Ecdsa, 32, Some(Curve::NistP384))
                .validate()
                .is_err()
        );
        assert!(
            shape(Algorithm::Aes, 32, Some(Curve::NistP256))
                .validate()
                .is_err()
        );
    }

    #[test]
    fn json_uses_oci_spellings() {
        let parsed: KeyShape =
            serde_json::from_str(r#"{"algorithm":"ECDSA","length":32,"curveId":"NIST_P256"}"#)
                .unwrap();
        assert_eq!(parsed, shape(Algorithm::Ecdsa, 32, Some(Curve::NistP256)));
        assert_eq!(
            serde_json::to_string(&KeyShape::AES_256).unwrap(),
            r#"{"algorithm":"AES","length":32}"#
        );
    }
}
