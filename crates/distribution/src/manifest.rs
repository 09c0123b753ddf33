//! Manifests and indexes: the OCI image manifest and index, Docker's schema 2 manifest and
//! manifest list, and artifacts (`artifactType`, or any config media type). The registry
//! stores a manifest's exact bytes; this module reads what it must know from them: the
//! descriptors it references, its `subject`, and what a referrers index says about it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::digest::Digest;
use crate::error::{Code, DistributionError, DistributionResult};

/// OCI image manifest
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 manifest
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The largest manifest accepted (the spec asks for at least 4 MB)
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// A content descriptor
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The content's media type
    pub media_type: String,
    /// Its digest
    pub digest: String,
    /// Its size in bytes
    pub size: u64,
    /// For artifacts and referrers
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Annotations
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Platform of an index entry (kept as given)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Value>,
}

/// Whether a manifest references blobs or other manifests
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Kind {
    /// Config and layers: blobs
    Image,
    /// Manifests
    Index,
}

/// What the registry needs to know about a pushed manifest
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Manifest {
    /// The media type it was pushed with
    pub media_type: String,
    /// Image or index
    pub kind: Kind,
    /// The config descriptor of an image manifest
    pub config: Option<Descriptor>,
    /// Every descriptor it references (config and layers, or manifests), except `subject`
    pub references: Vec<Descriptor>,
    /// The manifest it refers to
    pub subject: Option<Descriptor>,
    /// `artifactType`
    pub artifact_type: Option<String>,
    /// Top-level annotations
    pub annotations: BTreeMap<String, String>,
}

fn invalid(message: impl Into<String>) -> DistributionError {
    DistributionError::new(Code::ManifestInvalid, message)
}

fn descriptor(value: &Value, field: &str) -> DistributionResult<Descriptor> {
    let descriptor: Descriptor = serde_json::from_value(value.clone())
        .map_err(|e| invalid(format!("`{field}` is not a descriptor: {e}")))?;
    Digest::parse(&descriptor.digest).map_err(|e| invalid(format!("`{field}`: {}", e.message)))?;
    if descriptor.media_type.is_empty() {
        return Err(invalid(format!("`{field}` has no mediaType")));
    }
    Ok(descriptor)
}

fn descriptors(value: Option<&Value>, field: &str) -> DistributionResult<Vec<Descriptor>> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| descriptor(item, &format!("{field}[{i}]")))
            .collect(),
        Some(_) => Err(invalid(format!("`{field}` must be a list"))),
    }
}

/// The media type a manifest is stored under: the body's `mediaType`, else the request's
/// `Content-Type`, else inferred from its fields. A body and header that disagree are
/// refused, as the spec requires clients to send the body's type.
fn media_type(
    body: &serde_json::Map<String, Value>,
    content_type: Option<&str>,
) -> DistributionResult<String> {
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| !c.is_empty() && *c != "application/json" && *c != "application/octet-stream");
    let declared = match body.get("mediaType") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(invalid("`mediaType` must be a string")),
    };
    match (declared, header) {
        (Some(d), Some(h)) if d != h => Err(invalid(format!(
            "the manifest's mediaType `{d}` differs from its Content-Type `{h}`"
        ))),
        (Some(d), _) => Ok(d.to_owned()),
        (None, Some(h)) => Ok(h.to_owned()),
        (None, None) if body.contains_key("manifests") => Ok(OCI_INDEX.to_owned()),
        (None, None) => Ok(OCI_MANIFEST.to_owned()),
    }
}

/// Parses a pushed manifest
pub fn parse(bytes: &[u8], content_type: Option<&str>) -> DistributionResult<Manifest> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(DistributionError::new(
            Code::TooLarge,
            format!("a manifest is at most {MAX_MANIFEST_BYTES} bytes"),
        ));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("the manifest is not JSON: {e}")))?;
    let Value::Object(body) = value else {
        return Err(invalid("a manifest is a JSON object"));
    };
    match body.get("schemaVersion") {
        Some(Value::Number(n)) if n.as_u64() == Some(2) => {}
        None => {}
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {
            return Err(DistributionError::new(
                Code::ManifestInvalid,
                "Docker schema 1 manifests are not supported; push schema 2 or OCI",
            ));
        }
        Some(_) => return Err(invalid("`schemaVersion` must be 2")),
    }
    let media_type = media_type(&body, content_type)?;
    if media_type.contains("distribution.manifest.v1") {
        return Err(invalid(
            "Docker schema 1 manifests are not supported; push schema 2 or OCI",
        ));
    }
    let is_index = media_type == OCI_INDEX
        || media_type == DOCKER_MANIFEST_LIST
        || (body.contains_key("manifests") && !body.contains_key("config"));
    let (kind, config, references) = if is_index {
        (
            Kind::Index,
            None,
            descriptors(body.get("manifests"), "manifests")?,
        )
    } else {
        let config = match body.get("config") {
            Some(value) => Some(descriptor(value, "config")?),
            None if media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST => {
                return Err(invalid("an image manifest needs `config`"));
            }
            None => None,
        };
        let mut references: Vec<Descriptor> = config.iter().cloned().collect();
        references.extend(descriptors(body.get("layers"), "layers")?);
        (Kind::Image, config, references)
    };
    let subject = match body.get("subject") {
        None | Some(Value::Null) => None,
        Some(value) => Some(descriptor(value, "subject")?),
    };
    let artifact_type = match body.get("artifactType") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(invalid("`artifactType` must be a string")),
    };
    let annotations = match body.get("annotations") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|_| invalid("`annotations` must map strings to strings"))?,
    };
    Ok(Manifest {
        media_type,
        kind,
        config,
        references,
        subject,
        artifact_type,
        annotations,
    })
}

impl Manifest {
    /// The descriptor a referrers index lists for this manifest: `artifactType` from the
    /// manifest, else its config's media type (image manifests), and its annotations
    pub fn referrer(&self, digest: &Digest, size: u64) -> Descriptor {
        let artifact_type = self.artifact_type.clone().or_else(|| {
            (self.kind == Kind::Image)
                .then(|| self.config.as_ref().map(|c| c.media_type.clone()))
                .flatten()
        });
        Descriptor {
            media_type: self.media_type.clone(),
            digest: digest.to_string(),
            size,
            artifact_type,
            annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
            platform: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn image_manifests_and_their_references() {
        let body = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest('a'), "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest('b'), "size": 10}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": digest('c'), "size": 100},
            "annotations": {"org.example": "yes"},
        });
        let m = parse(body.to_string().as_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(m.kind, Kind::Image);
        assert_eq!(m.references.len(), 2);
        assert_eq!(m.subject.as_ref().unwrap().digest, digest('c'));
        let referrer = m.referrer(&Digest::parse(&digest('d')).unwrap(), 5);
        assert_eq!(
            referrer.artifact_type.as_deref(),
            Some("application/vnd.oci.image.config.v1+json")
        );
        assert_eq!(referrer.annotations.unwrap().len(), 1);
    }

    #[test]
    fn indexes_docker_types_and_artifacts() {
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest('a'), "size": 1, "platform": {"os": "linux"}}]});
        let m = parse(index.to_string().as_bytes(), Some(OCI_INDEX)).unwrap();
        assert_eq!((m.kind, m.references.len()), (Kind::Index, 1));
        let docker = serde_json::json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": digest('a'), "size": 1}, "layers": []});
        assert_eq!(
            parse(docker.to_string().as_bytes(), None)
                .unwrap()
                .media_type,
            DOCKER_MANIFEST
        );
        let artifact = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sbom",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest('e'), "size": 2}, "layers": []});
        let m = parse(artifact.to_string().as_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(
            m.referrer(&Digest::parse(&digest('f')).unwrap(), 1)
                .artifact_type
                .as_deref(),
            Some("application/vnd.example.sbom")
        );
    }

    #[test]
    fn malformed_manifests_are_refused() {
        for (body, content_type) in [
            ("not json", None),
            ("[]", None),
            (r#"{"schemaVersion": 1}"#, None),
            (r#"{"schemaVersion": 3}"#, None),
            (
                r#"{"mediaType": "application/vnd.oci.image.manifest.v1+json"}"#,
                None,
            ),
            (
                r#"{"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{"digest": "sha256:x"}]}"#,
                None,
            ),
            (r#"{"mediaType": "a"}"#, Some("b")),
            (r#"{"manifests": 5}"#, None),
        ] {
            let err = parse(body.as_bytes(), content_type).unwrap_err();
            assert_eq!(err.code, Code::ManifestInvalid, "{body}: {err}");
        }
        let huge = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert_eq!(parse(&huge, None).unwrap_err().code, Code::TooLarge);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..500)) {
            let _ = parse(&bytes, Some(OCI_MANIFEST));
        }
    }
}
