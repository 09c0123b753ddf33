//! The field names of the kinds Portcullis serves, for `fieldValidation`.
//!
//! `kubectl apply` asks for `fieldValidation=Strict` by default, so a typo such as
//! `spec.replicass` must be refused rather than silently dropped. The tables name the fields of
//! Kubernetes 1.32's types down to where typos are common (workload specs, pod templates,
//! containers, RBAC rules). Below that, a field is a *leaf*: its contents are not checked,
//! because refusing a valid manifest is worse than missing a typo deep in an affinity rule.

use serde_json::Value;

/// What a field holds
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// Anything; its contents are not checked
    Leaf,
    /// An object with these fields
    Object(&'static [Field]),
    /// An array of objects with these fields
    Array(&'static [Field]),
}

type Field = (&'static str, Shape);

use Shape::{Array, Leaf, Object};

const OWNER_REFERENCE: &[Field] = &[
    ("apiVersion", Leaf),
    ("kind", Leaf),
    ("name", Leaf),
    ("uid", Leaf),
    ("controller", Leaf),
    ("blockOwnerDeletion", Leaf),
];

const OBJECT_META: &[Field] = &[
    ("name", Leaf),
    ("generateName", Leaf),
    ("namespace", Leaf),
    ("selfLink", Leaf),
    ("uid", Leaf),
    ("resourceVersion", Leaf),
    ("generation", Leaf),
    ("creationTimestamp", Leaf),
    ("deletionTimestamp", Leaf),
    ("deletionGracePeriodSeconds", Leaf),
    ("labels", Leaf),
    ("annotations", Leaf),
    ("ownerReferences", Array(OWNER_REFERENCE)),
    ("finalizers", Leaf),
    ("managedFields", Leaf),
];

const OBJECT_REFERENCE: &[Field] = &[
    ("kind", Leaf),
    ("namespace", Leaf),
    ("name", Leaf),
    ("uid", Leaf),
    ("apiVersion", Leaf),
    ("resourceVersion", Leaf),
    ("fieldPath", Leaf),
];

const LOCAL_OBJECT_REFERENCE: &[Field] = &[("name", Leaf)];

const LABEL_SELECTOR_REQUIREMENT: &[Field] = &[("key", Leaf), ("operator", Leaf), ("values", Leaf)];

const LABEL_SELECTOR: &[Field] = &[
    ("matchLabels", Leaf),
    ("matchExpressions", Array(LABEL_SELECTOR_REQUIREMENT)),
];

const CONTAINER_PORT: &[Field] = &[
    ("name", Leaf),
    ("hostPort", Leaf),
    ("containerPort", Leaf),
    ("protocol", Leaf),
    ("hostIP", Leaf),
];

const ENV_VAR: &[Field] = &[("name", Leaf), ("value", Leaf), ("valueFrom", Leaf)];

const RESOURCE_REQUIREMENTS: &[Field] = &[("limits", Leaf), ("requests", Leaf), ("claims", Leaf)];

const VOLUME_MOUNT: &[Field] = &[
    ("name", Leaf),
    ("readOnly", Leaf),
    ("recursiveReadOnly", Leaf),
    ("mountPath", Leaf),
    ("subPath", Leaf),
    ("mountPropagation", Leaf),
    ("subPathExpr", Leaf),
];

const CONTAINER: &[Field] = &[
    ("name", Leaf),
    ("image", Leaf),
    ("command", Leaf),
    ("args", Leaf),
    ("workingDir", Leaf),
    ("ports", Array(CONTAINER_PORT)),
    ("envFrom", Leaf),
    ("env", Array(ENV_VAR)),
    ("resources", Object(RESOURCE_REQUIREMENTS)),
    ("resizePolicy", Leaf),
    ("restartPolicy", Leaf),
    ("volumeMounts", Array(VOLUME_MOUNT)),
    ("volumeDevices", Leaf),
    ("livenessProbe", Leaf),
    ("readinessProbe", Leaf),
    ("startupProbe", Leaf),
    ("lifecycle", Leaf),
    ("terminationMessagePath", Leaf),
    ("terminationMessagePolicy", Leaf),
    ("imagePullPolicy", Leaf),
    ("securityContext", Leaf),
    ("stdin", Leaf),
    ("stdinOnce", Leaf),
    ("tty", Leaf),
];

const POD_SPEC: &[Field] = &[
    ("volumes", Leaf),
    ("initContainers", Array(CONTAINER)),
    ("containers", Array(CONTAINER)),
    ("ephemeralContainers", Leaf),
    ("restartPolicy", Leaf),
    ("terminationGracePeriodSeconds", Leaf),
    ("activeDeadlineSeconds", Leaf),
    ("dnsPolicy", Leaf),
    ("nodeSelector", Leaf),
    ("serviceAccountName", Leaf),
    ("serviceAccount", Leaf),
    ("automountServiceAccountToken", Leaf),
    ("nodeName", Leaf),
    ("hostNetwork", Leaf),
    ("hostPID", Leaf),
    ("hostIPC", Leaf),
    ("shareProcessNamespace", Leaf),
    ("securityContext", Leaf),
    ("imagePullSecrets", Array(LOCAL_OBJECT_REFERENCE)),
    ("hostname", Leaf),
    ("subdomain", Leaf),
    ("affinity", Leaf),
    ("schedulerName", Leaf),
    ("tolerations", Leaf),
    ("hostAliases", Leaf),
    ("priorityClassName", Leaf),
    ("priority", Leaf),
    ("dnsConfig", Leaf),
    ("readinessGates", Leaf),
    ("runtimeClassName", Leaf),
    ("enableServiceLinks", Leaf),
    ("preemptionPolicy", Leaf),
    ("overhead", Leaf),
    ("topologySpreadConstraints", Leaf),
    ("setHostnameAsFQDN", Leaf),
    ("os", Leaf),
    ("hostUsers", Leaf),
    ("schedulingGates", Leaf),
    ("resourceClaims", Leaf),
    ("resources", Leaf),
];

const POD_TEMPLATE_SPEC: &[Field] = &[
    ("metadata", Object(OBJECT_META)),
    ("spec", Object(POD_SPEC)),
];

const ROLLING_UPDATE: &[Field] = &[("maxUnavailable", Leaf), ("maxSurge", Leaf)];

const DEPLOYMENT_STRATEGY: &[Field] = &[("type", Leaf), ("rollingUpdate", Object(ROLLING_UPDATE))];

const DEPLOYMENT_SPEC: &[Field] = &[
    ("replicas", Leaf),
    ("selector", Object(LABEL_SELECTOR)),
    ("template", Object(POD_TEMPLATE_SPEC)),
    ("strategy", Object(DEPLOYMENT_STRATEGY)),
    ("minReadySeconds", Leaf),
    ("revisionHistoryLimit", Leaf),
    ("paused", Leaf),
    ("progressDeadlineSeconds", Leaf),
];

const REPLICA_SET_SPEC: &[Field] = &[
    ("replicas", Leaf),
    ("minReadySeconds", Leaf),
    ("selector", Object(LABEL_SELECTOR)),
    ("template", Object(POD_TEMPLATE_SPEC)),
];

const STATEFUL_SET_ROLLING_UPDATE: &[Field] = &[("partition", Leaf), ("maxUnavailable", Leaf)];

const STATEFUL_SET_STRATEGY: &[Field] = &[
    ("type", Leaf),
    ("rollingUpdate", Object(STATEFUL_SET_ROLLING_UPDATE)),
];

const STATEFUL_SET_SPEC: &[Field] = &[
    ("replicas", Leaf),
    ("selector", Object(LABEL_SELECTOR)),
    ("template", Object(POD_TEMPLATE_SPEC)),
    ("volumeClaimTemplates", Leaf),
    ("serviceName", Leaf),
    ("podManagementPolicy", Leaf),
    ("updateStrategy", Object(STATEFUL_SET_STRATEGY)),
    ("revisionHistoryLimit", Leaf),
    ("minReadySeconds", Leaf),
    ("persistentVolumeClaimRetentionPolicy", Leaf),
    ("ordinals", Leaf),
];

const DAEMON_SET_STRATEGY: &[Field] = &[("type", Leaf), ("rollingUpdate", Object(ROLLING_UPDATE))];

const DAEMON_SET_SPEC: &[Field] = &[
    ("selector", Object(LABEL_SELECTOR)),
    ("template", Object(POD_TEMPLATE_SPEC)),
    ("updateStrategy", Object(DAEMON_SET_STRATEGY)),
    ("minReadySeconds", Leaf),
    ("revisionHistoryLimit", Leaf),
];

const JOB_SPEC: &[Field] = &[
    ("parallelism", Leaf),
    ("completions", Leaf),
    ("activeDeadlineSeconds", Leaf),
    ("podFailurePolicy", Leaf),
    ("successPolicy", Leaf),
    ("backoffLimit", Leaf),
    ("backoffLimitPerIndex", Leaf),
    ("maxFailedIndexes", Leaf),
    ("selector", Object(LABEL_SELECTOR)),
    ("manualSelector", Leaf),
    ("template", Object(POD_TEMPLATE_SPEC)),
    ("ttlSecondsAfterFinished", Leaf),
    ("completionMode", Leaf),
    ("suspend", Leaf),
    ("podReplacementPolicy", Leaf),
    ("managedBy", Leaf),
];

const JOB_TEMPLATE_SPEC: &[Field] = &[
    ("metadata", Object(OBJECT_META)),
    ("spec", Object(JOB_SPEC)),
];

const CRON_JOB_SPEC: &[Field] = &[
    ("schedule", Leaf),
    ("timeZone", Leaf),
    ("startingDeadlineSeconds", Leaf),
    ("concurrencyPolicy", Leaf),
    ("suspend", Leaf),
    ("jobTemplate", Object(JOB_TEMPLATE_SPEC)),
    ("successfulJobsHistoryLimit", Leaf),
    ("failedJobsHistoryLimit", Leaf),
];

const POLICY_RULE: &[Field] = &[
    ("verbs", Leaf),
    ("apiGroups", Leaf),
    ("resources", Leaf),
    ("resourceNames", Leaf),
    ("nonResourceURLs", Leaf),
];

const AGGREGATION_RULE: &[Field] = &[("clusterRoleSelectors", Array(LABEL_SELECTOR))];

const SUBJECT: &[Field] = &[
    ("kind", Leaf),
    ("apiGroup", Leaf),
    ("name", Leaf),
    ("namespace", Leaf),
];

const ROLE_REF: &[Field] = &[("apiGroup", Leaf), ("kind", Leaf), ("name", Leaf)];

const BOUND_OBJECT_REFERENCE: &[Field] = &[
    ("kind", Leaf),
    ("apiVersion", Leaf),
    ("name", Leaf),
    ("uid", Leaf),
];

const TOKEN_REQUEST_SPEC: &[Field] = &[
    ("audiences", Leaf),
    ("expirationSeconds", Leaf),
    ("boundObjectRef", Object(BOUND_OBJECT_REFERENCE)),
];

/// The fields of a kind below `apiVersion`, `kind` and `metadata`
fn kind_fields(kind: &str) -> &'static [Field] {
    const NAMESPACE_SPEC: &[Field] = &[("finalizers", Leaf)];
    match kind {
        "Namespace" => &[("spec", Object(NAMESPACE_SPEC)), ("status", Leaf)],
        "Secret" => &[
            ("data", Leaf),
            ("stringData", Leaf),
            ("type", Leaf),
            ("immutable", Leaf),
        ],
        "ConfigMap" => &[("data", Leaf), ("binaryData", Leaf), ("immutable", Leaf)],
        "ServiceAccount" => &[
            ("secrets", Array(OBJECT_REFERENCE)),
            ("imagePullSecrets", Array(LOCAL_OBJECT_REFERENCE)),
            ("automountServiceAccountToken", Leaf),
        ],
        "Pod" => &[("spec", Object(POD_SPEC)), ("status", Leaf)],
        "Deployment" => &[("spec", Object(DEPLOYMENT_SPEC)), ("status", Leaf)],
        "ReplicaSet" => &[("spec", Object(REPLICA_SET_SPEC)), ("status", Leaf)],
        "StatefulSet" => &[("spec", Object(STATEFUL_SET_SPEC)), ("status", Leaf)],
        "DaemonSet" => &[("spec", Object(DAEMON_SET_SPEC)), ("status", Leaf)],
        "Job" => &[("spec", Object(JOB_SPEC)), ("status", Leaf)],
        "CronJob" => &[("spec", Object(CRON_JOB_SPEC)), ("status", Leaf)],
        "Role" => &[("rules", Array(POLICY_RULE))],
        "ClusterRole" => &[
            ("rules", Array(POLICY_RULE)),
            ("aggregationRule", Object(AGGREGATION_RULE)),
        ],
        "RoleBinding" | "ClusterRoleBinding" => {
            &[("subjects", Array(SUBJECT)), ("roleRef", Object(ROLE_REF))]
        }
        "TokenRequest" => &[("spec", Object(TOKEN_REQUEST_SPEC)), ("status", Leaf)],
        // A kind without a table: only the envelope is checked.
        _ => &[("spec", Leaf), ("status", Leaf)],
    }
}

/// The fields of `object` that its kind does not have, as kube-apiserver names them in a
/// strict decoding error: `spec.replicass`, `spec.template.spec.containers[0].imagee`
pub fn unknown_fields(kind: &str, object: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    let Some(map) = object.as_object() else {
        return unknown;
    };
    let envelope: [Field; 3] = [
        ("apiVersion", Leaf),
        ("kind", Leaf),
        ("metadata", Object(OBJECT_META)),
    ];
    for (key, value) in map {
        let shape = envelope
            .iter()
            .chain(kind_fields(kind))
            .find(|(name, _)| name == key)
            .map(|(_, shape)| *shape);
        match shape {
            Some(shape) => walk(shape, value, key, &mut unknown),
            None => unknown.push(key.clone()),
        }
    }
    unknown
}

fn walk(shape: Shape, value: &Value, path: &str, unknown: &mut Vec<String>) {
    match (shape, value) {
        (Object(fields), Value::Object(map)) => check_object(fields, map, path, unknown),
        (Array(fields), Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                if let Value::Object(map) = item {
                    check_object(fields, map, &format!("{path}[{index}]"), unknown);
                }
            }
        }
        // Leaves, and values of the wrong type: type errors are validation's business.
        _ => {}
    }
}

fn check_object(
    fields: &[Field],
    map: &serde_json::Map<String, Value>,
    path: &str,
    unknown: &mut Vec<String>,
) {
    for (key, value) in map {
        let child = format!("{path}.{key}");
        match fields.iter().find(|(name, _)| name == key) {
            Some((_, shape)) => walk(*shape, value, &child, unknown),
            None => unknown.push(child),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_well_formed_deployment_has_no_unknown_fields() {
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [{
                            "name": "web", "image": "nginx",
                            "ports": [{"containerPort": 80}],
                            "env": [{"name": "A", "valueFrom": {"anything": {"goes": "here"}}}],
                            "resources": {"limits": {"cpu": "1"}},
                            "volumeMounts": [{"name": "v", "mountPath": "/v"}]
                        }],
                        "volumes": [{"name": "v", "emptyDir": {}}],
                        "affinity": {"nodeAffinity": {}}
                    }
                }
            }
        });
        assert!(unknown_fields("Deployment", &deployment).is_empty());
    }

    #[test]
    fn typos_are_named_by_path() {
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "flavour": 1,
            "metadata": {"name": "web", "colour": "red"},
            "spec": {
                "replicass": 2,
                "template": {"spec": {"containers": [{"name": "a"}, {"name": "b", "imagee": "x"}]}}
            }
        });
        let mut found = unknown_fields("Deployment", &deployment);
        found.sort();
        assert_eq!(
            found,
            [
                "flavour",
                "metadata.colour",
                "spec.replicass",
                "spec.template.spec.containers[1].imagee"
            ]
        );
    }

    #[test]
    fn rbac_and_unlisted_kinds() {
        let binding = json!({"subjects": [{"kind": "User", "nme": "x"}], "roleRef": {"kind": "Role", "name": "r", "extra": 1}});
        let mut found = unknown_fields("RoleBinding", &binding);
        found.sort();
        assert_eq!(found, ["roleRef.extra", "subjects[0].nme"]);
        assert_eq!(
            unknown_fields("Widget", &json!({"spec": {"free": 1}, "other": 2})),
            ["other"]
        );
        assert!(unknown_fields("Secret", &json!("not an object")).is_empty());
    }
}
