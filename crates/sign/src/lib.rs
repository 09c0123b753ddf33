//! Container image signatures as OCIR keeps them, as pure logic (`oci-reference.md` §6.1).
//!
//! A signature is the vault's `Sign` (message type `RAW`) over the *base64 text* of a compact
//! JSON message naming the image digest, repository, region, key, key version and
//! algorithm. The `oci` CLI builds that message with Python's `json.dumps(message,
//! separators=(',', ':'))`: keys in a fixed order, non-ASCII escaped as `\uXXXX`. We build
//! the same bytes ([`SignedMessage::encode`]) and, for uploads, read a message back and check
//! every field against the image and key it is uploaded for ([`SignedMessage::check`]), so a
//! signature made for one image cannot be replayed onto another.

pub mod cosign;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// Why a signature or its message was refused
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// Not one of the four RSA-PSS algorithms OCIR accepts
    #[error(
        "`signingAlgorithm` {0} is not accepted for images: use SHA_224_RSA_PKCS_PSS, SHA_256_RSA_PKCS_PSS, SHA_384_RSA_PKCS_PSS or SHA_512_RSA_PKCS_PSS"
    )]
    UnsupportedAlgorithm(String),
    /// The message is not base64 of a JSON object of exactly the eight string fields
    #[error("`message` is malformed: {0}")]
    MalformedMessage(String),
    /// A field of the message disagrees with the request or the image
    #[error("`message` says {field} is {found:?}, but the signature is for {expected:?}")]
    Disagrees {
        /// The message's field
        field: &'static str,
        /// What the message says
        found: String,
        /// What the request or image says
        expected: String,
    },
    /// `metadata` is not JSON (the CLI's own rule)
    #[error(
        "`metadata` must be valid JSON (alphanumeric characters only, no whitespace or escape characters)"
    )]
    MalformedMetadata,
}

/// The four algorithms OCIR takes for image signatures
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    /// RSA-PSS with SHA-224
    #[serde(rename = "SHA_224_RSA_PKCS_PSS")]
    Sha224RsaPkcsPss,
    /// RSA-PSS with SHA-256
    #[serde(rename = "SHA_256_RSA_PKCS_PSS")]
    Sha256RsaPkcsPss,
    /// RSA-PSS with SHA-384
    #[serde(rename = "SHA_384_RSA_PKCS_PSS")]
    Sha384RsaPkcsPss,
    /// RSA-PSS with SHA-512
    #[serde(rename = "SHA_512_RSA_PKCS_PSS")]
    Sha512RsaPkcsPss,
}

impl SigningAlgorithm {
    /// Every accepted algorithm
    pub const ALL: [SigningAlgorithm; 4] = [
        SigningAlgorithm::Sha224RsaPkcsPss,
        SigningAlgorithm::Sha256RsaPkcsPss,
        SigningAlgorithm::Sha384RsaPkcsPss,
        SigningAlgorithm::Sha512RsaPkcsPss,
    ];

    /// The API's spelling
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::Sha224RsaPkcsPss => "SHA_224_RSA_PKCS_PSS",
            SigningAlgorithm::Sha256RsaPkcsPss => "SHA_256_RSA_PKCS_PSS",
            SigningAlgorithm::Sha384RsaPkcsPss => "SHA_384_RSA_PKCS_PSS",
            SigningAlgorithm::Sha512RsaPkcsPss => "SHA_512_RSA_PKCS_PSS",
        }
    }

    /// Reads the API's spelling; anything else (PKCS#1 v1.5, ECDSA) is refused by name
    pub fn parse(text: &str) -> Result<SigningAlgorithm, SignError> {
        SigningAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| SignError::UnsupportedAlgorithm(text.to_owned()))
    }
}

/// The message OCIR signatures sign, field for field as the `oci` CLI writes it
#[derive(Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedMessage {
    /// Free text, `""` when none
    pub description: String,
    /// `sha256:…` of the image manifest
    pub image_digest: String,
    /// The vault key
    pub kms_key_id: String,
    /// The key version that signed
    pub kms_key_version_id: String,
    /// A JSON object *as a string*, `""` when none
    pub metadata: String,
    /// The region of the registry (`us-ashburn-1`)
    pub region: String,
    /// The repository name
    pub repository_name: String,
    /// One of [`SigningAlgorithm`]'s names
    pub signing_algorithm: String,
}

/// What an uploaded signature's message must agree with
#[derive(Clone, Debug)]
pub struct Expected<'a> {
    /// The image's digest
    pub image_digest: &'a str,
    /// The image's repository
    pub repository_name: &'a str,
    /// This registry's region
    pub region: &'a str,
    /// The key named in the upload
    pub kms_key_id: &'a str,
    /// The key version named in the upload
    pub kms_key_version_id: &'a str,
    /// The algorithm named in the upload
    pub signing_algorithm: SigningAlgorithm,
}

impl SignedMessage {
    /// The compact JSON the CLI signs, byte for byte: keys in this order, `,` and `:` with no
    /// spaces, every non-ASCII character escaped as Python's `json.dumps` does
    pub fn to_json(&self) -> String {
        let fields: [(&str, &str); 8] = [
            ("description", &self.description),
            ("imageDigest", &self.image_digest),
            ("kmsKeyId", &self.kms_key_id),
            ("kmsKeyVersionId", &self.kms_key_version_id),
            ("metadata", &self.metadata),
            ("region", &self.region),
            ("repositoryName", &self.repository_name),
            ("signingAlgorithm", &self.signing_algorithm),
        ];
        let mut out = String::from("{");
        for (i, (key, value)) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            python_json_string(&mut out, key);
            out.push(':');
            python_json_string(&mut out, value);
        }
        out.push('}');
        out
    }

    /// Standard base64 of [`to_json`](Self::to_json): the `message` field and the bytes the
    /// vault signs
    pub fn encode(&self) -> String {
        STANDARD.encode(self.to_json())
    }

    /// Reads a `message` field: standard base64 of a JSON object with exactly the eight
    /// string fields
    pub fn decode(message: &str) -> Result<SignedMessage, SignError> {
        let bytes = STANDARD
            .decode(message.trim())
            .map_err(|e| SignError::MalformedMessage(format!("not base64 ({e})")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| SignError::MalformedMessage(format!("not the signed JSON ({e})")))
    }

    /// Checks every field against the image and key the signature is uploaded for, and the
    /// metadata against the CLI's rule
    pub fn check(&self, expected: &Expected<'_>) -> Result<(), SignError> {
        let pairs: [(&'static str, &str, &str); 6] = [
            ("imageDigest", &self.image_digest, expected.image_digest),
            (
                "repositoryName",
                &self.repository_name,
                expected.repository_name,
            ),
            ("region", &self.region, expected.region),
            ("kmsKeyId", &self.kms_key_id, expected.kms_key_id),
            (
                "kmsKeyVersionId",
                &self.kms_key_version_id,
                expected.kms_key_version_id,
            ),
            (
                "signingAlgorithm",
                &self.signing_algorithm,
                expected.signing_algorithm.as_str(),
            ),
        ];
        for (field, found, wanted) in pairs {
            if found != wanted {
                return Err(SignError::Disagrees {
                    field,
                    found: found.to_owned(),
                    expected: wanted.to_owned(),
                });
            }
        }
        if !self.metadata.is_empty()
            && serde_json::from_str::<serde_json::Value>(&self.metadata).is_err()
        {
            return Err(SignError::MalformedMetadata);
        }
        Ok(())
    }
}

/// Appends `text` as a JSON string the way Python's `json.dumps` writes it with its default
/// `ensure_ascii=True`: the short escapes for `"`, `\`, `\n`, `\r`, `\t`, `\b`, `\f`,
/// and `\uXXXX` (surrogate pairs beyond the BMP) for everything else outside printable ASCII
/// (`' '..='~'`, the range Python leaves alone), DEL included. `/` stays as it is.
fn python_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if !(' '..='~').contains(&c) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]
mod tests {
    use super::*;

    fn message() -> SignedMessage {
        SignedMessage {
            description: "Image for UAT testing".into(),
            image_digest: "sha256:aa".into(),
            kms_key_id: "ocid1.key.oc1.iad.x.y".into(),
            kms_key_version_id: "ocid1.keyversion.oc1.iad.x.z".into(),
            metadata: "{\"buildNumber\":\"123\"}".into(),
            region: "us-ashburn-1".into(),
            repository_name: "team/web".into(),
            signing_algorithm: "SHA_256_RSA_PKCS_PSS".into(),
        }
    }

    fn expected(m: &SignedMessage) -> Expected<'_> {
        Expected {
            image_digest: &m.image_digest,
            repository_name: &m.repository_name,
            region: &m.region,
            kms_key_id: &m.kms_key_id,
            kms_key_version_id: &m.kms_key_version_id,
            signing_algorithm: SigningAlgorithm::Sha256RsaPkcsPss,
        }
    }

    #[test]
    fn the_message_is_compact_ordered_json() {
        assert_eq!(
            message().to_json(),
            r#"{"description":"Image for UAT testing","imageDigest":"sha256:aa","kmsKeyId":"ocid1.key.oc1.iad.x.y","kmsKeyVersionId":"ocid1.keyversion.oc1.iad.x.z","metadata":"{\"buildNumber\":\"123\"}","region":"us-ashburn-1","repositoryName":"team/web","signingAlgorithm":"SHA_256_RSA_PKCS_PSS"}"#
        );
    }

    #[test]
    fn non_ascii_is_escaped_as_python_does() {
        let mut m = message();
        m.description = "caf\u{e9} \u{2615} \u{1d11e} \u{1} \u{7f} / \"q\"".into();
        // json.dumps("caf\xe9 \u2615 \U0001d11e \x01 \x7f / \"q\"")
        assert!(
            m.to_json()
                .contains(r#""description":"caf\u00e9 \u2615 \ud834\udd1e \u0001 \u007f / \"q\"""#),
            "{}",
            m.to_json()
        );
    }

    #[test]
    fn messages_round_trip_and_check() {
        let m = message();
        let decoded = SignedMessage::decode(&m.encode()).unwrap();
        assert_eq!(decoded, m);
        assert_eq!(decoded.check(&expected(&m)), Ok(()));
    }

    #[test]
    fn a_message_for_another_image_or_key_is_refused() {
        let m = message();
        let mut other = expected(&m);
        other.image_digest = "sha256:bb";
        assert!(matches!(
            m.check(&other),
            Err(SignError::Disagrees {
                field: "imageDigest",
                ..
            })
        ));
        let mut other = expected(&m);
        other.repository_name = "team/other";
        assert!(matches!(
            m.check(&other),
            Err(SignError::Disagrees {
                field: "repositoryName",
                ..
            })
        ));
        let mut other = expected(&m);
        other.signing_algorithm = SigningAlgorithm::Sha512RsaPkcsPss;
        assert!(m.check(&other).is_err());
        let mut bad = m.clone();
        bad.metadata = "{not json".into();
        assert_eq!(bad.check(&expected(&m)), Err(SignError::MalformedMetadata));
    }

    #[test]
    fn malformed_messages_and_algorithms_are_named() {
        assert!(matches!(
            SignedMessage::decode("%%%"),
            Err(SignError::MalformedMessage(_))
        ));
        assert!(SignedMessage::decode(&STANDARD.encode(r#"{"description":""}"#)).is_err());
        let mut extra: serde_json::Value = serde_json::from_str(&message().to_json()).unwrap();
        extra["extra"] = "x".into();
        assert!(SignedMessage::decode(&STANDARD.encode(extra.to_string())).is_err());
        assert!(SigningAlgorithm::parse("SHA_256_RSA_PKCS1_V1_5").is_err());
        assert!(SigningAlgorithm::parse("ECDSA_SHA_256").is_err());
        for a in SigningAlgorithm::ALL {
            assert_eq!(SigningAlgorithm::parse(a.as_str()), Ok(a));
        }
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(text in ".{0,200}") {
            let _ = SignedMessage::decode(&text);
            let _ = SignedMessage::decode(&STANDARD.encode(&text));
        }

        #[test]
        fn any_text_round_trips(description in "\\PC{0,40}", metadata in "\\PC{0,20}") {
            let mut m = message();
            m.description = description;
            m.metadata = metadata;
            let decoded = SignedMessage::decode(&m.encode()).unwrap();
            proptest::prop_assert_eq!(decoded, m);
        }
    }
}
