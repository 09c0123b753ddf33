//! Image verification at admission, as pure logic (`oci-reference.md` §6.2): which images an
//! object would run, how their references read, and what OKE's image policy says about each.
//! The I/O (reading signatures, asking the vault) is the caller's: [`plan`] says what must be
//! verified, the caller verifies it, and [`Decision`] words the answer.
//!
//! OKE's rules, and where Portcullis goes further:
//! - enabled with no keys: everything is admitted;
//! - an image from our registry must be referenced by digest and carry a valid signature by
//!   one of at most five keys (any one suffices);
//! - the pod annotation `oracle.image-policy.k8s.io/break-glass: "true"` admits the object
//!   (and the caller audits it);
//! - images from other registries pass, unless the cluster also asks to deny them;
//! - in `audit` mode every denial is recorded and the object admitted.

use portcullis_distribution::{Digest, RepositoryName};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod review;

/// The annotation that lets a pod through unverified
pub const BREAK_GLASS: &str = "oracle.image-policy.k8s.io/break-glass";

/// The most keys a policy may name
pub const MAX_KEYS: usize = 5;

/// The kinds whose pods admission checks: pods and every workload with a pod template
pub const GOVERNED_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
    "PodTemplate",
];

/// Why a policy or a reference was refused
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AdmissionError {
    /// More keys than OKE allows
    #[error("an image verification policy names at most {MAX_KEYS} keys, not {0}")]
    TooManyKeys(usize),
    /// A key listed twice
    #[error("key {0} is listed twice in the image verification policy")]
    DuplicateKey(String),
    /// An image reference that does not parse
    #[error("image {0:?} is not a valid image reference: {1}")]
    BadReference(String, String),
}

/// Checks a policy's key list as OKE does on create and update
pub fn validate_keys(keys: &[String]) -> Result<(), AdmissionError> {
    if keys.len() > MAX_KEYS {
        return Err(AdmissionError::TooManyKeys(keys.len()));
    }
    for (i, key) in keys.iter().enumerate() {
        if keys.iter().take(i).any(|k| k == key) {
            return Err(AdmissionError::DuplicateKey(key.clone()));
        }
    }
    Ok(())
}

/// What to do with a denial
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Refuse the object (OKE's behaviour)
    #[default]
    Enforce,
    /// Admit it and record what enforcement would have refused
    Audit,
}

/// A cluster's image policy as admission applies it
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Policy {
    /// `imagePolicyConfig.isPolicyEnabled`
    pub enabled: bool,
    /// `imagePolicyConfig.keyDetails[].kmsKeyId`
    pub keys: Vec<String>,
    /// Enforce or audit
    pub mode: Mode,
    /// Refuse images from any registry but ours (OKE's policy governs only its own)
    pub deny_other_registries: bool,
}

/// An image reference, normalized as container runtimes read it
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ImageRef {
    /// `host[:port]`; `docker.io` when the reference names none
    pub registry: String,
    /// Repository path (`library/nginx` for `nginx` on Docker Hub)
    pub repository: RepositoryName,
    /// Tag, when given
    pub tag: Option<String>,
    /// Digest, when given
    pub digest: Option<Digest>,
}

fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes
            .first()
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `host[:port]` as the reference grammar allows: DNS labels (or a bracketed IPv6 address)
/// and an optional numeric port
fn valid_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !port.contains(']') => (name, Some(port)),
        _ => (host, None),
    };
    let name_ok = if name.starts_with('[') {
        name.ends_with(']') && name.len() > 2
    } else {
        !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    name_ok
        && port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

impl ImageRef {
    /// Reads `[host[:port]/]path[:tag][@digest]`. The first component is a registry host
    /// when it has a `.` or `:` or is `localhost`, as the Docker reference grammar says.
    pub fn parse(reference: &str) -> Result<ImageRef, AdmissionError> {
        let bad = |why: &str| AdmissionError::BadReference(reference.to_owned(), why.to_owned());
        if reference.is_empty() || reference.len() > 4096 {
            return Err(bad("empty or too long"));
        }
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => (
                rest,
                Some(Digest::parse(digest).map_err(|e| bad(&e.message))?),
            ),
            None => (reference, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_ascii_lowercase(), path)
            }
            _ => ("docker.io".to_owned(), rest),
        };
        if !valid_host(&registry) {
            return Err(bad("the registry host is not valid"));
        }
        // A tag follows the last `:` of the path (the host's port was split off above).
        let (path, tag) = match path.rsplit_once(':') {
            Some((path, tag)) => {
                if !valid_tag(tag) {
                    return Err(bad("the tag is not valid"));
                }
                (path, Some(tag.to_owned()))
            }
            None => (path, None),
        };
        let path = if registry == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        let repository = RepositoryName::parse(&path).map_err(|e| bad(&e.message))?;
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

/// One image an object would run, and where in the object it is named
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct ImageUse {
    /// `spec.template.spec.containers[0].image`
    pub path: String,
    /// The reference as written
    pub image: String,
}

/// Where an object of `kind` keeps its pod: the path prefix of the pod spec, the spec, and
/// the metadata its annotations live in (the pod's own for a Pod, the template's otherwise)
fn pod_parts<'a>(kind: &str, object: &'a Value) -> Option<(&'static str, &'a Value, &'a Value)> {
    let (prefix, template) = match kind {
        "Pod" => return Some(("spec", object.get("spec")?, object.get("metadata")?)),
        "PodTemplate" => ("template.spec", object.get("template")?),
        "CronJob" => (
            "spec.jobTemplate.spec.template.spec",
            object.pointer("/spec/jobTemplate/spec/template")?,
        ),
        k if GOVERNED_KINDS.contains(&k) => {
            ("spec.template.spec", object.pointer("/spec/template")?)
        }
        _ => return None,
    };
    Some((
        prefix,
        template.get("spec")?,
        template.get("metadata").unwrap_or(&Value::Null),
    ))
}

/// Whether `object` is of a governed kind but has no pod spec where that kind keeps one:
/// nothing in it can be checked, so admission refuses it rather than let it through
pub fn pod_spec_missing(kind: &str, object: &Value) -> bool {
    GOVERNED_KINDS.contains(&kind) && pod_parts(kind, object).is_none()
}

/// Every image of containers, init containers, ephemeral containers and image volumes
pub fn images_of(kind: &str, object: &Value) -> Vec<ImageUse> {
    let Some((prefix, spec, _)) = pod_parts(kind, object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for field in ["initContainers", "containers", "ephemeralContainers"] {
        let Some(containers) = spec.get(field).and_then(Value::as_array) else {
            continue;
        };
        for (i, container) in containers.iter().enumerate() {
            if let Some(image) = container.get("image").and_then(Value::as_str) {
                out.push(ImageUse {
                    path: format!("{prefix}.{field}[{i}].image"),
                    image: image.to_owned(),
                });
            }
        }
    }
    // Image volumes (Kubernetes 1.31+) mount an image's files: a way to run unverified
    // content from a verified image.
    if let Some(volumes) = spec.get("volumes").and_then(Value::as_array) {
        for (i, volume) in volumes.iter().enumerate() {
            if let Some(image) = volume.pointer("/image/reference").and_then(Value::as_str) {
                out.push(ImageUse {
                    path: format!("{prefix}.volumes[{i}].image.reference"),
                    image: image.to_owned(),
                });
            }
        }
    }
    out
}

/// Whether the object's pod carries the break-glass annotation set to `"true"` (the object's
/// own metadata counts too, so a Deployment annotated at the top is let through as well)
pub fn is_break_glass(kind: &str, object: &Value) -> bool {
    let annotated = |metadata: &Value| {
        metadata
            .get("annotations")
            .and_then(|a| a.get(BREAK_GLASS))
            .and_then(Value::as_str)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    };
    pod_parts(kind, object).is_some_and(|(_, _, metadata)| annotated(metadata))
        || object.get("metadata").is_some_and(annotated)
}

/// What admission must do about one distinct image
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Check {
    /// Nothing to verify
    Pass {
        /// Why
        reason: String,
    },
    /// Refused without looking further
    Deny {
        /// Why
        reason: String,
    },
    /// Needs a valid signature by one of the policy's keys over this repository and digest
    Verify {
        /// The repository in our registry
        repository: RepositoryName,
        /// The image digest
        digest: Digest,
    },
}

/// What to check for each distinct image of an object under `policy`, where `ours` are the
/// registry addresses (`host:port`) that are this server. An image used by several
/// containers is checked once.
pub fn plan(policy: &Policy, uses: &[ImageUse], ours: &[String]) -> Vec<(String, Check)> {
    let mut out: Vec<(String, Check)> = Vec::new();
    for image_use in uses {
        if out.iter().any(|(image, _)| *image == image_use.image) {
            continue;
        }
        out.push((
            image_use.image.clone(),
            check(policy, &image_use.image, ours),
        ));
    }
    out
}

/// Whether `registry` (as an image reference names it) is one of `ours`: compared without
/// case, and with HTTPS's default port written or not
pub fn is_ours(registry: &str, ours: &[String]) -> bool {
    let plain = |host: &str| {
        let lower = host.to_ascii_lowercase();
        lower
            .strip_suffix(":443")
            .map_or(lower.clone(), str::to_owned)
    };
    let wanted = plain(registry);
    ours.iter().any(|o| plain(o) == wanted)
}

fn check(policy: &Policy, image: &str, ours: &[String]) -> Check {
    if !policy.enabled {
        return Check::Pass {
            reason: "the cluster's image verification policy is off".into(),
        };
    }
    let parsed = match ImageRef::parse(image) {
        Ok(parsed) => parsed,
        Err(e) => {
            return Check::Deny {
                reason: e.to_string(),
            };
        }
    };
    if !is_ours(&parsed.registry, ours) {
        return if policy.deny_other_registries {
            Check::Deny {
                reason: format!(
                    "images from {} are not allowed: this cluster runs images from {} only",
                    parsed.registry,
                    ours.first().map_or("this registry", String::as_str)
                ),
            }
        } else {
            Check::Pass {
                reason: "not from this registry; the policy governs its own images only".into(),
            }
        };
    }
    if policy.keys.is_empty() {
        return Check::Pass {
            reason: "the policy is enabled with no keys, which admits every image".into(),
        };
    }
    match parsed.digest {
        Some(digest) => Check::Verify {
            repository: parsed.repository,
            digest,
        },
        None => Check::Deny {
            reason: "images from this registry must be referenced by digest (repository@sha256:...), not by tag".into(),
        },
    }
}

/// The outcome for an object
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Decision {
    /// Admitted
    pub allowed: bool,
    /// Per refused image: the image and why (keys tried included)
    pub denials: Vec<(String, String)>,
    /// Admitted only because of the break-glass annotation
    pub break_glass: bool,
    /// Admitted only because the cluster audits instead of enforcing
    pub audited: bool,
    /// Admitted, with something the client should hear (an image inside its
    /// vulnerability grace period)
    pub notes: Vec<String>,
}

impl Decision {
    /// Combines per-image denials under the policy's mode and the object's break-glass
    pub fn new(policy: &Policy, denials: Vec<(String, String)>, break_glass: bool) -> Decision {
        let refused = !denials.is_empty();
        Decision {
            allowed: !refused || break_glass || policy.mode == Mode::Audit,
            break_glass: refused && break_glass,
            audited: refused && !break_glass && policy.mode == Mode::Audit,
            denials,
            notes: Vec::new(),
        }
    }

    /// An admission with nothing to say
    pub fn allow() -> Decision {
        Decision {
            allowed: true,
            denials: Vec::new(),
            break_glass: false,
            audited: false,
            notes: Vec::new(),
        }
    }

    /// A refusal of everything in the object, for `reason`
    pub fn refuse(what: &str, reason: String) -> Decision {
        Decision {
            allowed: false,
            denials: vec![(what.to_owned(), reason)],
            break_glass: false,
            audited: false,
            notes: Vec::new(),
        }
    }

    /// The same decision, carrying `notes`
    #[must_use]
    pub fn with_notes(mut self, notes: Vec<String>) -> Decision {
        self.notes = notes;
        self
    }

    /// What the client is warned of (kube-apiserver's `Warning` headers, an admission
    /// response's `warnings`): a break-glass or audit-mode admission, and the notes
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.break_glass {
            warnings.push(format!("admitted by break-glass: {}", self.message()));
        }
        if self.audited {
            warnings.push(format!("audit mode, would be refused: {}", self.message()));
        }
        warnings.extend(self.notes.iter().cloned());
        warnings
    }

    /// The refusal as kubectl shows it: every refused image with its reason
    pub fn message(&self) -> String {
        let parts: Vec<String> = self
            .denials
            .iter()
            .map(|(image, reason)| format!("image {image}: {reason}"))
            .collect();
        format!(
            "denied by the cluster's image verification policy: {}",
            parts.join("; ")
        )
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]
mod tests;
