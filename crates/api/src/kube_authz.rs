//! Who may do what in a cluster: IAM first, then RBAC (`oci-reference.md` §2.2), escalation
//! checks on RBAC writes, access reviews, and impersonation.
//!
//! IAM's half is one question: does a policy grant `manage clusters` (the `AdministerK8s`
//! operation) on the cluster? If so, everything is allowed; otherwise RBAC decides. Writes of
//! Roles and ClusterRoles are the exception OKE documents: IAM is not consulted for them, so
//! an IAM administrator who wants to create roles binds themself to `cluster-admin` first.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use portcullis_containerengine::model::Cluster;
use portcullis_iam::{Principal, UserPrincipal, Variables};
use portcullis_kube::request_info::{RequestInfo, Target};
use portcullis_kube::{KubeError, KubeUser};
use portcullis_rbac::escalation::{Change, EscalationError, Writer};
use portcullis_rbac::{self as rbac, Rbac};
use serde_json::{Value, json};

use crate::AppState;

/// OKE's suffix on authorization denials (`oci-reference.md` §2.2)
pub(crate) const OKE_DENIAL: &str =
    "Authorization failed: Access denied - user not permitted by OCI policy or RBAC rules";

/// The namespace authorization sees: a namespace object is its own namespace (upstream's
/// request info), so a RoleBinding in `foo` can grant reading namespace `foo`
fn authorization_namespace(path: &portcullis_kube::request_info::ResourcePath) -> &str {
    match (
        &path.namespace,
        path.group.as_str(),
        path.resource.as_str(),
        &path.name,
    ) {
        (Some(ns), _, _, _) => ns,
        (None, "", "namespaces", Some(name)) => name,
        _ => "",
    }
}

/// The attributes authorization sees for a request
pub(crate) fn attributes<'a>(user: &'a KubeUser, info: &'a RequestInfo) -> rbac::Attributes<'a> {
    let target = match &info.target {
        Target::Resource(r) => rbac::Target::Resource {
            namespace: authorization_namespace(r),
            api_group: &r.group,
            resource: &r.resource,
            subresource: r.subresource.as_deref().unwrap_or(""),
            name: r.name.as_deref().unwrap_or(""),
        },
        Target::NonResource(path) => rbac::Target::NonResource { path },
    };
    rbac::Attributes {
        user: rbac::UserInfo {
            name: &user.username,
            groups: &user.groups,
        },
        verb: &info.verb,
        target,
    }
}

/// The IAM principal a Kubernetes identity stands for: IAM users are named by their OCID,
/// and their IAM groups are the group OCIDs among the identity's groups
pub(crate) fn principal_for(username: &str, groups: &[String]) -> Option<Principal> {
    username.starts_with("ocid1.user.").then(|| {
        Principal::User(UserPrincipal {
            id: username.to_owned(),
            name: String::new(),
            group_ids: groups
                .iter()
                .filter(|g| g.starts_with("ocid1.group.") || g.starts_with("ocid1.dynamicgroup."))
                .cloned()
                .collect(),
            mfa_verified: false,
        })
    })
}

/// IAM's answer: the statement granting `manage clusters` on this cluster, if any
pub(crate) fn iam_grant(
    state: &AppState,
    cluster: &Cluster,
    principal: Option<&Principal>,
) -> Option<String> {
    let principal = principal?;
    let variables = Variables::new().with("target.cluster.id", cluster.id.as_str());
    state
        .identity
        .allowing_statement(
            principal,
            "AdministerK8s",
            &cluster.compartment_id,
            &variables,
        )
        .map(|statement| format!("IAM: allowed by policy statement \"{statement}\""))
}

/// The combined authorizer; `Ok(reason)` allows, `Err(reason)` is RBAC's no opinion
pub(crate) async fn decide(
    state: &AppState,
    cluster: &Cluster,
    principal: Option<&Principal>,
    attrs: &rbac::Attributes<'_>,
) -> Result<Result<String, String>, KubeError> {
    if let Some(reason) = iam_grant(state, cluster, principal) {
        return Ok(Ok(reason));
    }
    let snapshot = state.kube.rbac(&cluster.id).await?;
    Ok(match snapshot.authorize(attrs) {
        rbac::Decision::Allow(reason) => Ok(reason),
        rbac::Decision::NoOpinion(reason) => Err(reason),
    })
}

/// 403 in kube-apiserver's words, with OKE's suffix
pub(crate) fn forbidden(username: &str, verb: &str, target: &rbac::Target<'_>) -> KubeError {
    let message = match *target {
        rbac::Target::Resource {
            namespace,
            api_group,
            resource,
            subresource,
            name,
        } => {
            let qualified = if api_group.is_empty() {
                resource.to_owned()
            } else {
                format!("{resource}.{api_group}")
            };
            let name = if name.is_empty() {
                String::new()
            } else {
                format!(" \"{name}\"")
            };
            let combined = if subresource.is_empty() {
                resource.to_owned()
            } else {
                format!("{resource}/{subresource}")
            };
            let scope = if namespace.is_empty() {
                "at the cluster scope".to_owned()
            } else {
                format!("in the namespace \"{namespace}\"")
            };
            format!(
                "{qualified}{name} is forbidden: User \"{username}\" cannot {verb} resource \"{combined}\" in API group \"{api_group}\" {scope}: {OKE_DENIAL}"
            )
        }
        rbac::Target::NonResource { path } => {
            format!("forbidden: User \"{username}\" cannot {verb} path \"{path}\": {OKE_DENIAL}")
        }
    };
    KubeError::Forbidden(message)
}

/// Everything but garbage-collection fields and server-kept metadata, for upstream's
/// "an update touching only ownerReferences and finalizers never escalates"
fn without_gc_fields(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "ownerReferences",
            "finalizers",
            "resourceVersion",
            "managedFields",
            "generation",
            "uid",
            "creationTimestamp",
        ] {
            meta.remove(field);
        }
    }
    copy
}

/// Escalation prevention on a write of an RBAC object (`k8s-interfaces.md` §2).
/// `request_name` is the name in the URL (empty for a create).
#[expect(
    clippy::too_many_arguments,
    reason = "one call site, each argument distinct"
)]
pub(crate) async fn confirm_rbac_write(
    state: &AppState,
    cluster: &Cluster,
    user: &KubeUser,
    kind: &str,
    namespace: Option<&str>,
    request_name: &str,
    object: &Value,
    previous: Option<&Value>,
) -> Result<(), KubeError> {
    let change = match previous {
        None => Change::Create,
        Some(old) if without_gc_fields(old) == without_gc_fields(object) => {
            Change::GarbageCollectionOnly
        }
        Some(_) => Change::Update,
    };
    let snapshot = state.kube.rbac(&cluster.id).await?;
    let iam = iam_grant(state, cluster, user.principal.as_ref()).is_some();
    let rbac_only = |a: &rbac::Attributes<'_>| snapshot.authorize(a).is_allowed();
    let combined = |a: &rbac::Attributes<'_>| iam || snapshot.authorize(a).is_allowed();
    let user_info = rbac::UserInfo {
        name: &user.username,
        groups: &user.groups,
    };
    let namespace = namespace.unwrap_or("");
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or(request_name)
        .to_owned();
    let (resource, outcome) = match kind {
        "Role" | "ClusterRole" => {
            let mut role = rbac::Role::from_value(object).unwrap_or_default();
            role.metadata.namespace = namespace.to_owned();
            let old = previous.and_then(rbac::Role::from_value);
            // OKE: IAM is not consulted for writes of roles.
            let writer = Writer {
                rbac: &snapshot,
                user: user_info,
                authorize: &rbac_only,
            };
            let resource = if kind == "Role" {
                "roles"
            } else {
                "clusterroles"
            };
            (
                resource,
                writer.confirm_role(&role, old.as_ref(), change, request_name),
            )
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            let mut binding = rbac::Binding::from_value(object).unwrap_or_default();
            binding.metadata.namespace = namespace.to_owned();
            let writer = Writer {
                rbac: &snapshot,
                user: user_info,
                authorize: &combined,
            };
            let resource = if kind == "RoleBinding" {
                "rolebindings"
            } else {
                "clusterrolebindings"
            };
            (resource, writer.confirm_binding(&binding, change))
        }
        _ => return Ok(()),
    };
    match outcome {
        Ok(()) => Ok(()),
        Err(error) => {
            tracing::warn!(target: "portcullis::audit", cluster = %cluster.id, user = %user.username, kind, name = %name, reason = %error, "RBAC write refused: escalation");
            Err(match error {
                EscalationError::RoleNotFound { resource, name } => KubeError::NotFound {
                    qualified: format!("{resource}.{}", rbac::RBAC_GROUP),
                    name,
                },
                other => KubeError::Forbidden(format!(
                    "{resource}.{} \"{name}\" is forbidden: {other}",
                    rbac::RBAC_GROUP
                )),
            })
        }
    }
}

const IMPERSONATE_USER: &str = "impersonate-user";
const IMPERSONATE_UID: &str = "impersonate-uid";
const IMPERSONATE_GROUP: &str = "impersonate-group";
const IMPERSONATE_EXTRA: &str = "impersonate-extra-";

/// Percent-decodes an `Impersonate-Extra-` key, as upstream unescapes it
fn extra_key(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .to_ascii_lowercase()
}

/// Applies `Impersonate-*` headers: every impersonated attribute needs `impersonate` on it
/// (`users`, `groups`, `serviceaccounts`, `uids`, `userextras/<key>`), asked of the combined
/// authorizer. Returns the identity the request then runs as.
pub(crate) async fn impersonate(
    state: &AppState,
    cluster: &Cluster,
    requester: KubeUser,
    headers: &HeaderMap,
) -> Result<KubeUser, KubeError> {
    let text = |value: &axum::http::HeaderValue| value.to_str().map(str::to_owned).ok();
    let username = headers.get(IMPERSONATE_USER).and_then(text);
    let uid = headers.get(IMPERSONATE_UID).and_then(text);
    let groups: Vec<String> = headers
        .get_all(IMPERSONATE_GROUP)
        .iter()
        .filter_map(text)
        .collect();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(IMPERSONATE_EXTRA)
            && let Some(value) = text(value)
        {
            extra.entry(extra_key(key)).or_default().push(value);
        }
    }
    let Some(username) = username else {
        if !groups.is_empty() || !extra.is_empty() || uid.is_some() {
            return Err(KubeError::BadRequest(
                "impersonating groups, extra fields or a uid requires impersonating a user (Impersonate-User)".into(),
            ));
        }
        return Ok(requester);
    };
    // Each impersonated attribute is its own authorization question.
    let mut asks: Vec<(String, &str, String, String, String)> = Vec::new();
    let service_account = username
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'));
    match service_account {
        Some((ns, name)) => asks.push((
            String::new(),
            "serviceaccounts",
            String::new(),
            ns.to_owned(),
            name.to_owned(),
        )),
        None => asks.push((
            String::new(),
            "users",
            String::new(),
            String::new(),
            username.clone(),
        )),
    }
    for group in &groups {
        asks.push((
            String::new(),
            "groups",
            String::new(),
            String::new(),
            group.clone(),
        ));
    }
    for (key, values) in &extra {
        for value in values {
            asks.push((
                "authentication.k8s.io".into(),
                "userextras",
                key.clone(),
                String::new(),
                value.clone(),
            ));
        }
    }
    if let Some(uid) = &uid {
        asks.push((
            "authentication.k8s.io".into(),
            "uids",
            String::new(),
            String::new(),
            uid.clone(),
        ));
    }
    for (group, resource, subresource, namespace, name) in &asks {
        let attrs = rbac::Attributes {
            user: rbac::UserInfo {
                name: &requester.username,
                groups: &requester.groups,
            },
            verb: "impersonate",
            target: rbac::Target::Resource {
                namespace,
                api_group: group,
                resource,
                subresource,
                name,
            },
        };
        if decide(state, cluster, requester.principal.as_ref(), &attrs)
            .await?
            .is_err()
        {
            tracing::warn!(target: "portcullis::audit", cluster = %cluster.id, user = %requester.username, impersonate = %username, resource = %resource, name = %name, reason = "no IAM policy or RBAC rule allows impersonate", "impersonation denied");
            return Err(forbidden(&requester.username, "impersonate", &attrs.target));
        }
    }
    let mut groups = groups;
    if groups.is_empty()
        && let Some((ns, _)) = service_account
    {
        groups = vec![
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{ns}"),
        ];
    }
    if username != "system:anonymous" && !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".to_owned());
    }
    tracing::info!(target: "portcullis::audit", cluster = %cluster.id, user = %requester.username, impersonated_user = %username, impersonated_groups = %groups.join(","), "impersonating");
    Ok(KubeUser {
        principal: principal_for(&username, &groups),
        uid: uid.unwrap_or_default(),
        username,
        groups,
        extra,
    })
}

/// The strings of a JSON array (others skipped; absent is empty)
pub(crate) fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn text<'a>(value: Option<&'a Value>, key: &str) -> &'a str {
    value
        .and_then(|v| v.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn invalid(kind: &str, field: &str, reason: &'static str, message: String) -> KubeError {
    KubeError::Invalid {
        kind: format!("{kind}.authorization.k8s.io"),
        name: String::new(),
        causes: vec![portcullis_kube::Cause {
            reason,
            field: field.to_owned(),
            message,
        }],
    }
}

/// The spec's user, as an access review names it
struct Subject {
    username: String,
    groups: Vec<String>,
    principal: Option<Principal>,
}

/// Answers SubjectAccessReview, LocalSubjectAccessReview and SelfSubjectAccessReview:
/// `status` for the review in `request`. `path_namespace` is a local review's namespace.
pub(crate) async fn access_review(
    state: &AppState,
    cluster: &Cluster,
    caller: &KubeUser,
    kind: &str,
    path_namespace: Option<&str>,
    request: &Value,
) -> Result<Value, KubeError> {
    let spec = request.get("spec");
    let resource_attrs = spec
        .and_then(|s| s.get("resourceAttributes"))
        .filter(|v| !v.is_null());
    let non_resource = spec
        .and_then(|s| s.get("nonResourceAttributes"))
        .filter(|v| !v.is_null());
    match (resource_attrs, non_resource) {
        (None, None) => {
            return Err(invalid(
                kind,
                "spec.resourceAttributes",
                "FieldValueRequired",
                "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified".into(),
            ));
        }
        (Some(_), Some(_)) => {
            return Err(invalid(
                kind,
                "spec.nonResourceAttributes",
                "FieldValueInvalid",
                "Invalid value: \"\": cannot be specified in combination with resourceAttributes"
                    .into(),
            ));
        }
        _ => {}
    }
    let subject = if kind == "SelfSubjectAccessReview" {
        Subject {
            username: caller.username.clone(),
            groups: caller.groups.clone(),
            principal: caller.principal.clone(),
        }
    } else {
        let username = text(spec, "user").to_owned();
        let groups = strings(spec.and_then(|s| s.get("groups")));
        if username.is_empty() && groups.is_empty() {
            return Err(invalid(
                kind,
                "spec.user",
                "FieldValueInvalid",
                "Invalid value: \"\": at least one of user or group must be specified".into(),
            ));
        }
        Subject {
            principal: principal_for(&username, &groups),
            username,
            groups,
        }
    };
    let mut namespace = text(resource_attrs, "namespace").to_owned();
    if let Some(local) = path_namespace {
        if non_resource.is_some() {
            return Err(invalid(
                kind,
                "spec.nonResourceAttributes",
                "FieldValueInvalid",
                "Invalid value: \"\": disallowed on this kind of request".into(),
            ));
        }
        if namespace.is_empty() {
            namespace = local.to_owned();
        } else if namespace != local {
            return Err(KubeError::BadRequest(format!(
                "spec.resourceAttributes.namespace must match namespace: {local}"
            )));
        }
    }
    let verb = text(resource_attrs.or(non_resource), "verb");
    if verb.is_empty() {
        return Err(invalid(
            kind,
            if resource_attrs.is_some() {
                "spec.resourceAttributes.verb"
            } else {
                "spec.nonResourceAttributes.verb"
            },
            "FieldValueRequired",
            "Required value".into(),
        ));
    }
    let target = match resource_attrs {
        Some(a) => rbac::Target::Resource {
            namespace: &namespace,
            api_group: text(Some(a), "group"),
            resource: text(Some(a), "resource"),
            subresource: text(Some(a), "subresource"),
            name: text(Some(a), "name"),
        },
        None => rbac::Target::NonResource {
            path: text(non_resource, "path"),
        },
    };
    let attrs = rbac::Attributes {
        user: rbac::UserInfo {
            name: &subject.username,
            groups: &subject.groups,
        },
        verb,
        target,
    };
    Ok(
        match decide(state, cluster, subject.principal.as_ref(), &attrs).await? {
            Ok(reason) => json!({"allowed": true, "reason": reason}),
            Err(reason) if reason.is_empty() => json!({"allowed": false}),
            Err(reason) => json!({"allowed": false, "reason": reason}),
        },
    )
}

/// Answers a SelfSubjectRulesReview: the caller's RBAC rules in a namespace, plus what IAM
/// grants (everything, when IAM grants `manage clusters`)
pub(crate) async fn rules_review(
    state: &AppState,
    cluster: &Cluster,
    caller: &KubeUser,
    request: &Value,
) -> Result<Value, KubeError> {
    let namespace = request
        .pointer("/spec/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    if namespace.is_empty() {
        return Err(KubeError::BadRequest("no namespace on request".into()));
    }
    let snapshot: std::sync::Arc<Rbac> = state.kube.rbac(&cluster.id).await?;
    let (mut rules, errors) = snapshot.rules_for(
        &rbac::UserInfo {
            name: &caller.username,
            groups: &caller.groups,
        },
        namespace,
    );
    if iam_grant(state, cluster, caller.principal.as_ref()).is_some() {
        rules.insert(0, rbac::PolicyRule::resource(&["*"], &["*"], &["*"]));
        rules.insert(1, rbac::PolicyRule::non_resource(&["*"], &["*"]));
    }
    let (non_resource, resource): (Vec<_>, Vec<_>) = rules
        .into_iter()
        .partition(|r| !r.non_resource_urls.is_empty());
    let resource_rules: Vec<Value> = resource
        .iter()
        .map(|r| {
            let mut rule =
                json!({"verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources});
            if !r.resource_names.is_empty()
                && let Some(map) = rule.as_object_mut()
            {
                map.insert("resourceNames".into(), json!(r.resource_names));
            }
            rule
        })
        .collect();
    let non_resource_rules: Vec<Value> = non_resource
        .iter()
        .map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}))
        .collect();
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": !errors.is_empty(),
    });
    if !errors.is_empty()
        && let Some(map) = status.as_object_mut()
    {
        map.insert("evaluationError".into(), json!(errors.join(", ")));
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_come_from_user_ocids() {
        let groups = vec![
            "ocid1.group.oc1..g".to_owned(),
            "system:authenticated".to_owned(),
        ];
        let Some(Principal::User(user)) = principal_for("ocid1.user.oc1..u", &groups) else {
            panic!("an IAM user");
        };
        assert_eq!(user.group_ids, ["ocid1.group.oc1..g"]);
        assert!(principal_for("system:serviceaccount:a:b", &groups).is_none());
    }

    #[test]
    fn gc_only_changes_are_recognized() {
        let old = json!({"metadata": {"name": "r", "resourceVersion": "1"}, "rules": []});
        let mut new = old.clone();
        new["metadata"]["finalizers"] = json!(["x"]);
        assert_eq!(without_gc_fields(&old), without_gc_fields(&new));
        new["rules"] = json!([{"verbs": ["get"]}]);
        assert_ne!(without_gc_fields(&old), without_gc_fields(&new));
    }
}
