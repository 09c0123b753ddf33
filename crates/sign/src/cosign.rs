//! Cosign's key-based signature format (`supply-chain.md` §2), so signatures made with
//! vault keys travel and verify like any cosign signature: the "simple signing" payload
//! naming the image by digest, signed as is, stored as a layer of an image tagged
//! `sha256-<hex>.sig` in the image's repository, the signature (standard base64) in the
//! layer's `dev.cosignproject.cosign/signature` annotation.

use serde::Deserialize;
use serde_json::json;

use crate::SignError;

/// The media type of the payload layer
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// The layer annotation holding the base64 signature
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// The payload's `critical.type`
pub const PAYLOAD_TYPE: &str = "cosign container image signature";

/// Payloads larger than this are not cosign payloads (they are a few hundred bytes)
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// The tag cosign keeps an image's signatures under: `sha256:abc…` → `sha256-abc….sig`
pub fn signature_tag(image_digest: &str) -> Option<String> {
    let (algorithm, hex) = image_digest.split_once(':')?;
    (!algorithm.is_empty() && !hex.is_empty()).then(|| format!("{algorithm}-{hex}.sig"))
}

/// The payload for an image: `docker_reference` is `host[:port]/repository`
pub fn payload(docker_reference: &str, image_digest: &str) -> Vec<u8> {
    json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": image_digest},
            "type": PAYLOAD_TYPE,
        },
        "optional": null,
    })
    .to_string()
    .into_bytes()
}

/// What a payload claims
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Payload {
    /// `critical.identity.docker-reference`
    pub docker_reference: String,
    /// `critical.image.docker-manifest-digest`
    pub image_digest: String,
}

#[derive(Deserialize)]
struct Wire {
    critical: Critical,
}

#[derive(Deserialize)]
struct Critical {
    identity: Identity,
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

/// Reads a payload; unknown `optional` fields are allowed, as cosign allows them
pub fn read_payload(bytes: &[u8]) -> Result<Payload, SignError> {
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(SignError::MalformedMessage(
            "the cosign payload is too large".into(),
        ));
    }
    let wire: Wire = serde_json::from_slice(bytes)
        .map_err(|e| SignError::MalformedMessage(format!("not a cosign payload ({e})")))?;
    if wire.critical.kind != PAYLOAD_TYPE {
        return Err(SignError::MalformedMessage(format!(
            "the cosign payload's type is {:?}, not {PAYLOAD_TYPE:?}",
            wire.critical.kind
        )));
    }
    Ok(Payload {
        docker_reference: wire.critical.identity.docker_reference,
        image_digest: wire.critical.image.docker_manifest_digest,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_tags_follow_digests() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let bytes = payload("127.0.0.1:9443/team/app", digest);
        let read = read_payload(&bytes).unwrap();
        assert_eq!(read.docker_reference, "127.0.0.1:9443/team/app");
        assert_eq!(read.image_digest, digest);
        assert_eq!(
            signature_tag(digest).unwrap(),
            "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sig"
        );
        assert_eq!(signature_tag("nodigest"), None);
        assert!(read_payload(br#"{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"y"},"type":"other"}}"#).is_err());
        assert!(read_payload(b"[]").is_err());
    }

    proptest::proptest! {
        #[test]
        fn reading_never_panics(bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..512)) {
            let _ = read_payload(&bytes);
        }
    }
}
