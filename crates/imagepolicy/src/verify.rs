//! A cluster's image verification policy at admission.
//!
//! Each distinct image of the object that `portcullis-admission` says needs verifying is
//! checked as the cluster's own principal: the cluster must be allowed to read the
//! repository (`read repos`) and to use a listed key (`use keys`), the key must be enabled,
//! and one signature by a listed key must verify. Anything that cannot be read denies (fail
//! closed), with the reason and the keys tried. Break-glass admissions and denials are
//! audited (target `portcullis::audit`).

use portcullis_admission::{Check, Decision, Mode, Policy, images_of, is_break_glass, plan};
use portcullis_containerengine::ContainerEngine;
use portcullis_containerengine::model::Cluster;
use portcullis_distribution::{Digest, RepositoryName};
use portcullis_iam::{Principal, Variables};
use portcullis_identity::IdentityError;
use portcullis_kube::KubeError;
use portcullis_vault::VaultError;
use serde_json::Value;

use crate::signatures::{Stored, image_prefix, verify_details};
use crate::{ImagePolicyService, PolicyResult};

/// The most objects one dry run takes
const MAX_TEST_OBJECTS: usize = 500;

/// The policy a cluster's `imagePolicyConfig` asks for
pub(crate) fn policy_of(cluster: &Cluster) -> Policy {
    let config = &cluster.image_policy_config;
    Policy {
        enabled: config.is_policy_enabled,
        keys: config
            .key_details
            .iter()
            .map(|k| k.kms_key_id.clone())
            .collect(),
        mode: if config.enforcement_mode.as_deref() == Some("AUDIT") {
            Mode::Audit
        } else {
            Mode::Enforce
        },
        deny_other_registries: config.is_other_registries_denied.unwrap_or(false),
    }
}

/// The severity at or above which an open problem refuses an image, if the cluster asks
fn threshold_of(cluster: &Cluster) -> Option<portcullis_osv::Severity> {
    cluster
        .image_policy_config
        .vulnerability_severity_threshold
        .as_deref()
        .and_then(portcullis_osv::Severity::parse)
}

/// When a problem first found at `first_detected` stops being let through, under a grace
/// period of `grace`; `None` (no grace, or a time that does not parse) means it refuses now
fn grace_until(
    first_detected: &str,
    grace: Option<jiff::SignedDuration>,
) -> Option<jiff::Timestamp> {
    let first: jiff::Timestamp = first_detected.parse().ok()?;
    first.checked_add(grace?).ok()
}

/// The denial for a cluster that may not pull from `repository`, naming OKE's policy
fn cannot_read(cluster: &Cluster, repository: &RepositoryName) -> String {
    format!(
        "cluster {} may not read repository {repository} (it needs REPOSITORY_READ: add `Allow any-user to read repos in tenancy where request.user.id = '{}'`)",
        cluster.id, cluster.id
    )
}

fn why_vault(cluster: &Cluster, key: &str, error: &VaultError) -> String {
    match error {
        VaultError::Identity(IdentityError::NotAuthorizedOrNotFound) => format!(
            "cluster {} may not use key {key} (it needs KEY_VERIFY: add `Allow any-user to use keys in tenancy where request.user.id = '{}'`), or the key does not exist",
            cluster.id, cluster.id
        ),
        other => format!("key {key} cannot verify: {other}"),
    }
}

impl ImagePolicyService {
    /// The decision for an object of `kind` in `cluster`; `None` when nothing in it is
    /// governed (no policy, or no images)
    pub async fn review(
        &self,
        cluster_id: &str,
        kind: &str,
        object: &Value,
    ) -> PolicyResult<Option<Decision>> {
        let Some(cluster) = self.containerengine.active_cluster(cluster_id).await? else {
            return Err(IdentityError::NotAuthorizedOrNotFound.into());
        };
        let decision = self.decide(&cluster, kind, object).await;
        if let Some(decision) = &decision {
            let name = object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if decision.break_glass {
                tracing::warn!(target: "portcullis::audit", cluster = %cluster.id, kind, name, reasons = %decision.message(), "image policy bypassed by break-glass");
            } else if decision.audited {
                tracing::warn!(target: "portcullis::audit", cluster = %cluster.id, kind, name, reasons = %decision.message(), "image policy in audit mode: enforcement would deny");
            } else if !decision.notes.is_empty() && decision.allowed {
                tracing::warn!(target: "portcullis::audit", cluster = %cluster.id, kind, name, notes = %decision.notes.join("; "), "image admitted inside its vulnerability grace period");
            } else if !decision.allowed {
                tracing::info!(target: "portcullis::audit", cluster = %cluster.id, kind, name, keys = ?policy_of(&cluster).keys, reasons = %decision.message(), "admission denied by the image verification policy");
            }
        }
        Ok(decision)
    }

    /// `ce cluster image-policy test`: what the cluster's policy would decide for each of
    /// `objects`, without admitting anything or auditing; the caller needs to read the
    /// cluster
    pub async fn test_policy(
        &self,
        caller: &Principal,
        cluster_id: &str,
        objects: &[Value],
    ) -> PolicyResult<Value> {
        let cluster = self
            .containerengine
            .get_cluster(caller, cluster_id)
            .await?
            .value;
        // The dry run reads signatures and scan results as the cluster: only those who may
        // change the cluster (and so its policy) may ask it.
        self.identity.authorize(
            caller,
            "UpdateCluster",
            &cluster.compartment_id,
            &Variables::new().with("target.cluster.id", cluster.id.as_str()),
        )?;
        if objects.len() > MAX_TEST_OBJECTS {
            return Err(IdentityError::InvalidParameter(format!(
                "at most {MAX_TEST_OBJECTS} objects can be tested at once"
            ))
            .into());
        }
        let mut results = Vec::new();
        for object in objects {
            let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let images: Vec<String> = images_of(kind, object)
                .into_iter()
                .map(|u| u.image)
                .collect();
            let decision = self.decide(&cluster, kind, object).await;
            let denials: Vec<Value> = decision
                .as_ref()
                .map(|d| {
                    d.denials
                        .iter()
                        .map(
                            |(image, reason)| serde_json::json!({"image": image, "reason": reason}),
                        )
                        .collect()
                })
                .unwrap_or_default();
            results.push(serde_json::json!({
                "kind": kind,
                "name": name,
                "images": images,
                "allowed": decision.as_ref().is_none_or(|d| d.allowed),
                "breakGlass": decision.as_ref().is_some_and(|d| d.break_glass),
                "audited": decision.as_ref().is_some_and(|d| d.audited),
                "denials": denials,
                "warnings": decision.as_ref().map(Decision::warnings).unwrap_or_default(),
            }));
        }
        Ok(serde_json::json!({
            "clusterId": cluster.id,
            "isPolicyEnabled": cluster.image_policy_config.is_policy_enabled,
            "results": results,
        }))
    }

    /// The decision for an object in `cluster`; `None` when nothing in it is governed
    async fn decide(&self, cluster: &Cluster, kind: &str, object: &Value) -> Option<Decision> {
        let policy = policy_of(cluster);
        if policy.enabled && portcullis_admission::pod_spec_missing(kind, object) {
            let reason = format!("a {kind} without a pod spec where one belongs cannot be checked");
            return Some(Decision::new(
                &policy,
                vec![("(none)".into(), reason)],
                false,
            ));
        }
        let uses = images_of(kind, object);
        if uses.is_empty() {
            return None;
        }
        let cluster = cluster.clone();
        let policy = policy_of(&cluster);
        if !policy.enabled {
            return None;
        }
        let principal = ContainerEngine::cluster_principal(&cluster);
        let threshold = threshold_of(&cluster);
        let mut denials = Vec::new();
        let mut notes = Vec::new();
        for (image, check) in plan(&policy, &uses, &self.registry_hosts) {
            match check {
                Check::Pass { .. } => {}
                Check::Deny { reason } => {
                    denials.push((image, reason));
                    continue;
                }
                Check::Verify { repository, digest } => {
                    if let Err(reason) = self
                        .verify_image(&cluster, &principal, &repository, &digest, &policy.keys)
                        .await
                    {
                        denials.push((image, reason));
                        continue;
                    }
                }
            }
            if let Some(threshold) = threshold {
                match self
                    .vulnerability_gate(&cluster, &principal, &image, threshold)
                    .await
                {
                    Ok(None) => {}
                    Ok(Some(note)) => notes.push(note),
                    Err(reason) => denials.push((image, reason)),
                }
            }
        }
        Some(Decision::new(&policy, denials, is_break_glass(kind, object)).with_notes(notes))
    }

    /// `Err` naming the advisories when the image from this registry (by digest; for an
    /// index, each of its platforms' images) has open problems at or above `threshold` in
    /// its latest scan. Images never scanned (or whose results aged out) and tags do not pass.
    async fn vulnerability_gate(
        &self,
        cluster: &Cluster,
        principal: &Principal,
        image: &str,
        threshold: portcullis_osv::Severity,
    ) -> Result<Option<String>, String> {
        let Ok(parsed) = portcullis_admission::ImageRef::parse(image) else {
            return Ok(None);
        };
        if !portcullis_admission::is_ours(&parsed.registry, &self.registry_hosts) {
            return Ok(None);
        }
        // A tag can move after admission; the gate judges a digest.
        let Some(digest) = parsed.digest.clone() else {
            return Err(
                "the vulnerability gate judges images by digest (repository@sha256:...), not by tag"
                    .into(),
            );
        };
        // The gate reads what the cluster could pull: its scan results are not for a cluster
        // that may not read the repository (and such a pull would fail anyway).
        let repository = match self.registry.repository(&parsed.repository).await {
            Ok(Some(repository)) => repository,
            Ok(None) => {
                return Err(format!(
                    "repository {} does not exist in this registry",
                    parsed.repository
                ));
            }
            Err(e) => {
                return Err(format!(
                    "the repository cannot be read ({e}); the policy fails closed"
                ));
            }
        };
        if self
            .identity
            .authorize(
                principal,
                "PullImage",
                &repository.compartment_id,
                &Variables::new().with("target.repo.name", parsed.repository.as_str()),
            )
            .is_err()
        {
            return Err(cannot_read(cluster, &parsed.repository));
        }
        // A multi-platform index is never scanned itself: its platforms' images are.
        let mut judged = vec![digest.clone()];
        if let Ok(fetched) = self
            .registry
            .manifest(
                &parsed.repository,
                &portcullis_distribution::Reference::Digest(digest.clone()),
            )
            .await
            && let Ok(manifest) =
                portcullis_distribution::manifest::parse(&fetched.bytes, Some(&fetched.media_type))
            && manifest.kind == portcullis_distribution::manifest::Kind::Index
        {
            judged = manifest
                .references
                .iter()
                .filter_map(|d| Digest::parse(&d.digest).ok())
                .collect();
        }
        if judged.is_empty() {
            return Err("it is an index that lists no platform images to judge".into());
        }
        let mut results = Vec::new();
        let mut unscanned = Vec::new();
        for child in &judged {
            let result = self
                .vss
                .latest_result(parsed.repository.as_str(), &child.to_string())
                .await
                .map_err(|e| {
                    format!("its scan results cannot be read ({e}); the policy fails closed")
                })?;
            match result {
                Some(result) => results.push(result),
                None => unscanned.push(child.to_string()),
            }
        }
        // An image nobody has scanned is not known to be clean (Harbor users asked for
        // exactly this to be blocked, harbor#16218). Scans run on push once a scan target
        // covers the repository, so the wait is short.
        if !unscanned.is_empty() {
            return Err(format!(
                "{} not been scanned yet, and the vulnerability gate admits only scanned images; a scan target must cover repository {} (scans run on push)",
                if unscanned.len() == 1 && judged.len() == 1 {
                    "it has".to_owned()
                } else {
                    format!("its platform images {} have", unscanned.join(", "))
                },
                parsed.repository
            ));
        }
        // The allowlist as it stands now decides, not as it stood at the scan: problems it
        // accepted then (NOT_APPLICABLE) count again once their entry expired or went.
        let now = jiff::Timestamp::now();
        let live: Vec<portcullis_scan::allowlist::AllowEntry> = self
            .vss
            .allowlist_of(&repository.id)
            .await
            .map_err(|e| format!("its allowlist cannot be read ({e}); the policy fails closed"))?
            .entries
            .into_iter()
            .filter(|e| e.expires.parse::<jiff::Timestamp>().is_ok_and(|t| t > now))
            .collect();
        let accepted = |p: &portcullis_scanning::Problem| {
            live.iter().any(|e| {
                e.id == p.name
                    && e.package.as_ref().is_none_or(|package| {
                        p.vulnerable_packages.iter().any(|v| v.name == *package)
                    })
            })
        };
        let grace = cluster
            .image_policy_config
            .vulnerability_grace_period_days
            .map(|days| jiff::SignedDuration::from_hours(i64::from(days) * 24));
        let mut over: Vec<String> = Vec::new();
        let mut in_grace: Vec<String> = Vec::new();
        let mut grace_ends: Option<jiff::Timestamp> = None;
        for result in &results {
            let reaching = result.problems.iter().filter(|p| {
                matches!(
                    p.state,
                    portcullis_scanning::ProblemState::Open
                        | portcullis_scanning::ProblemState::NotApplicable
                ) && p.severity >= threshold
                    && !accepted(p)
            });
            for p in reaching {
                let name = format!("{} ({}, scan {})", p.name, p.severity.as_str(), result.id);
                match grace_until(&p.time_first_detected, grace).filter(|until| *until > now) {
                    Some(until) => {
                        in_grace.push(name);
                        grace_ends = Some(grace_ends.map_or(until, |e| e.min(until)));
                    }
                    None => over.push(name),
                }
            }
        }
        over.dedup();
        in_grace.dedup();
        if !over.is_empty() {
            return Err(format!(
                "its latest scan has open problems at or above {}: {}",
                threshold.as_str(),
                over.join(", ")
            ));
        }
        Ok(grace_ends.map(|until| {
            format!(
                "image {image}: its latest scan has open problems at or above {} ({}), admitted until the vulnerability grace period ends at {}",
                threshold.as_str(),
                in_grace.join(", "),
                until.strftime("%Y-%m-%dT%H:%M:%SZ")
            )
        }))
    }

    /// `Ok` when one signature by one of `keys` over the image verifies, checked as the
    /// cluster; otherwise every reason found, naming the keys tried
    async fn verify_image(
        &self,
        cluster: &Cluster,
        principal: &Principal,
        repository: &RepositoryName,
        digest: &Digest,
        keys: &[String],
    ) -> Result<(), String> {
        let unreadable = |e: &dyn std::fmt::Display| {
            format!("its signatures cannot be read ({e}); the policy fails closed")
        };
        let repo = self
            .registry
            .repository(repository)
            .await
            .map_err(|e| unreadable(&e))?
            .ok_or_else(|| format!("repository {repository} does not exist in this registry"))?;
        if self
            .identity
            .authorize(
                principal,
                "PullImage",
                &repo.compartment_id,
                &Variables::new().with("target.repo.name", repository.as_str()),
            )
            .is_err()
        {
            return Err(cannot_read(cluster, repository));
        }
        let prefix = image_prefix(repository.as_str(), &digest.to_string());
        let entries = self
            .store()
            .list_all(&prefix)
            .await
            .map_err(|e| unreadable(&e))?;
        let mut candidates: Vec<Stored> = Vec::new();
        for entry in entries {
            let id = String::from_utf8_lossy(&entry.value).into_owned();
            match self.stored(&id).await {
                Ok(Some(stored)) if keys.contains(&stored.signature.kms_key_id) => {
                    candidates.push(stored);
                }
                Ok(_) => {}
                Err(e) => return Err(unreadable(&e)),
            }
        }
        let mut reasons = Vec::new();
        for stored in candidates {
            let s = &stored.signature;
            if let Err(e) = self
                .vault
                .check_usable(principal, "Verify", &s.kms_key_id)
                .await
            {
                reasons.push(why_vault(cluster, &s.kms_key_id, &e));
                continue;
            }
            let valid = match self.cached(&s.id) {
                Some(valid) => valid,
                None => {
                    let details = match verify_details(
                        &s.kms_key_id,
                        &s.kms_key_version_id,
                        &s.message,
                        &s.signature,
                        s.signing_algorithm,
                    ) {
                        Ok(details) => details,
                        Err(e) => {
                            reasons.push(format!("signature {}: {e}", s.id));
                            continue;
                        }
                    };
                    match self.vault.verify_as_service(details).await {
                        Ok(valid) => {
                            self.remember(&s.id, valid);
                            valid
                        }
                        Err(e) => {
                            reasons.push(why_vault(cluster, &s.kms_key_id, &e));
                            continue;
                        }
                    }
                }
            };
            if valid {
                return Ok(());
            }
            reasons.push(format!(
                "the signature by key {} does not verify",
                s.kms_key_id
            ));
        }
        // Signatures in cosign's format count the same.
        match self
            .cosign_verified(principal, repository, digest, keys)
            .await
        {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(more) => reasons.extend(more),
        }
        if reasons.is_empty() {
            return Err(format!(
                "no signature by any of the policy's keys ({})",
                keys.join(", ")
            ));
        }
        Err(format!(
            "no valid signature by the policy's keys ({}): {}",
            keys.join(", "),
            reasons.join("; ")
        ))
    }
}

#[async_trait::async_trait]
impl portcullis_kube::admission::Admission for ImagePolicyService {
    async fn admit(
        &self,
        cluster: &str,
        kind: &str,
        _namespace: Option<&str>,
        object: &Value,
    ) -> Result<(), KubeError> {
        match self.review(cluster, kind, object).await {
            Ok(None) => Ok(()),
            Ok(Some(decision)) if decision.allowed => {
                for warning in decision.warnings() {
                    portcullis_kube::warnings::warn(warning);
                }
                Ok(())
            }
            Ok(Some(decision)) => Err(KubeError::Forbidden(decision.message())),
            // The policy cannot be read: fail closed.
            Err(e) => {
                tracing::warn!(target: "portcullis::audit", cluster, kind, error = %e, "admission denied: the image verification policy could not be evaluated");
                Err(KubeError::Forbidden(format!(
                    "denied by the cluster's image verification policy: it could not be evaluated ({e})"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

    use super::*;

    #[test]
    fn the_grace_period_runs_from_the_first_detection() {
        let week = Some(jiff::SignedDuration::from_hours(7 * 24));
        let until = grace_until("2026-11-01T00:00:00Z", week).unwrap();
        assert_eq!(until.to_string(), "2026-11-08T00:00:00Z");
        // No grace, or a time that cannot be read: the problem refuses now (fails closed).
        assert_eq!(grace_until("2026-11-01T00:00:00Z", None), None);
        assert_eq!(grace_until("yesterday", week), None);
    }
}
