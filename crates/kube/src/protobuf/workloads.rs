//! Workloads in protobuf: apps/v1 Deployment, batch/v1 Job and CronJob, core/v1 Pod, and the
//! pod template they embed (`kubectl create deployment|job|cronjob` send these).
//!
//! Go writes every non-pointer field even when it is empty, so zero values of non-pointer
//! fields are dropped here, as Go's JSON encoding would (`omitempty`); pointer fields keep a
//! zero (`replicas: 0` means something). Nested types Portcullis does not decode arrive as
//! raw bytes; a body that sets one is refused, so nothing is stored without it.

use serde_json::{Map, Value, json};

use super::{
    bad, decode, insert, label_selector as selector, metadata, object, pb, string_map, strings,
};
use crate::KubeError;

/// Paths of set fields that are not decoded
#[derive(Default)]
struct Undecoded(Vec<String>);

impl Undecoded {
    fn check(&mut self, path: &str, value: &Option<Vec<u8>>) {
        if value.as_ref().is_some_and(|b| !b.is_empty()) {
            self.0.push(path.to_owned());
        }
    }

    fn check_all(&mut self, path: &str, values: &[Vec<u8>]) {
        if !values.is_empty() {
            self.0.push(path.to_owned());
        }
    }

    fn refuse(self) -> Result<(), KubeError> {
        if self.0.is_empty() {
            return Ok(());
        }
        Err(KubeError::UnsupportedMediaType(format!(
            "application/json for this object: its protobuf body sets {}, which Portcullis does not decode from protobuf (kubectl apply -f sends JSON)",
            self.0.join(", ")
        )))
    }
}

/// A non-pointer string: empty is absent
fn text(value: &Option<String>) -> Option<Value> {
    value
        .as_ref()
        .filter(|v| !v.is_empty())
        .map(|v| Value::String(v.clone()))
}

/// A pointer number or flag: present is present, zero included
fn kept<T: Into<Value> + Copy>(value: Option<T>) -> Option<Value> {
    value.map(Into::into)
}

/// A non-pointer number: zero is absent
fn nonzero<T: Into<Value> + Copy + Default + PartialEq>(value: Option<T>) -> Option<Value> {
    value.filter(|v| *v != T::default()).map(Into::into)
}

fn int_or_string(v: &pb::IntOrString) -> Value {
    match v.r#type {
        Some(1) => Value::String(v.str_val.clone().unwrap_or_default()),
        _ => json!(v.int_val.unwrap_or(0)),
    }
}

fn quantities(map: &std::collections::BTreeMap<String, pb::Quantity>) -> Option<Value> {
    (!map.is_empty()).then(|| {
        Value::Object(
            map.iter()
                .map(|(k, q)| {
                    (
                        k.clone(),
                        Value::String(q.string.clone().unwrap_or_default()),
                    )
                })
                .collect(),
        )
    })
}

fn list<T>(items: &[T], mut convert: impl FnMut(usize, &T) -> Value) -> Option<Value> {
    (!items.is_empty()).then(|| {
        Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| convert(i, item))
                .collect(),
        )
    })
}

fn container(c: &pb::Container, path: &str, undecoded: &mut Undecoded) -> Value {
    for (field, value) in [
        ("livenessProbe", &c.liveness_probe),
        ("readinessProbe", &c.readiness_probe),
        ("startupProbe", &c.startup_probe),
        ("lifecycle", &c.lifecycle),
        ("securityContext", &c.security_context),
    ] {
        undecoded.check(&format!("{path}.{field}"), value);
    }
    undecoded.check_all(&format!("{path}.envFrom"), &c.env_from);
    undecoded.check_all(&format!("{path}.volumeDevices"), &c.volume_devices);
    undecoded.check_all(&format!("{path}.resizePolicy"), &c.resize_policy);
    let mut out = Map::new();
    insert(&mut out, "name", text(&c.name));
    insert(&mut out, "image", text(&c.image));
    insert(&mut out, "command", strings(&c.command));
    insert(&mut out, "args", strings(&c.args));
    insert(&mut out, "workingDir", text(&c.working_dir));
    insert(
        &mut out,
        "ports",
        list(&c.ports, |_, p| {
            let mut port = Map::new();
            insert(&mut port, "name", text(&p.name));
            insert(&mut port, "hostPort", nonzero(p.host_port));
            insert(&mut port, "containerPort", kept(p.container_port));
            insert(&mut port, "protocol", text(&p.protocol));
            insert(&mut port, "hostIP", text(&p.host_ip));
            Value::Object(port)
        }),
    );
    insert(
        &mut out,
        "env",
        list(&c.env, |i, e| {
            undecoded.check(&format!("{path}.env[{i}].valueFrom"), &e.value_from);
            let mut var = Map::new();
            insert(&mut var, "name", text(&e.name));
            insert(&mut var, "value", text(&e.value));
            Value::Object(var)
        }),
    );
    let resources = c.resources.clone().unwrap_or_default();
    let mut r = Map::new();
    insert(&mut r, "limits", quantities(&resources.limits));
    insert(&mut r, "requests", quantities(&resources.requests));
    insert(
        &mut r,
        "claims",
        list(&resources.claims, |_, claim| {
            let mut c = Map::new();
            insert(&mut c, "name", text(&claim.name));
            insert(&mut c, "request", text(&claim.request));
            Value::Object(c)
        }),
    );
    out.insert("resources".into(), Value::Object(r));
    insert(
        &mut out,
        "volumeMounts",
        list(&c.volume_mounts, |_, m| {
            let mut mount = Map::new();
            insert(&mut mount, "name", text(&m.name));
            insert(&mut mount, "readOnly", nonzero(m.read_only));
            insert(
                &mut mount,
                "recursiveReadOnly",
                text(&m.recursive_read_only),
            );
            insert(&mut mount, "mountPath", text(&m.mount_path));
            insert(&mut mount, "subPath", text(&m.sub_path));
            insert(&mut mount, "mountPropagation", text(&m.mount_propagation));
            insert(&mut mount, "subPathExpr", text(&m.sub_path_expr));
            Value::Object(mount)
        }),
    );
    insert(
        &mut out,
        "terminationMessagePath",
        text(&c.termination_message_path),
    );
    insert(
        &mut out,
        "terminationMessagePolicy",
        text(&c.termination_message_policy),
    );
    insert(&mut out, "imagePullPolicy", text(&c.image_pull_policy));
    insert(&mut out, "stdin", nonzero(c.stdin));
    insert(&mut out, "stdinOnce", nonzero(c.stdin_once));
    insert(&mut out, "tty", nonzero(c.tty));
    insert(&mut out, "restartPolicy", text(&c.restart_policy));
    Value::Object(out)
}

fn pod_spec(s: &pb::PodSpec, path: &str, undecoded: &mut Undecoded) -> Value {
    for (field, values) in [
        ("volumes", &s.volumes),
        ("tolerations", &s.tolerations),
        ("hostAliases", &s.host_aliases),
        ("readinessGates", &s.readiness_gates),
        ("topologySpreadConstraints", &s.topology_spread_constraints),
        ("ephemeralContainers", &s.ephemeral_containers),
        ("schedulingGates", &s.scheduling_gates),
        ("resourceClaims", &s.resource_claims),
    ] {
        undecoded.check_all(&format!("{path}.{field}"), values);
    }
    for (field, value) in [
        ("securityContext", &s.security_context),
        ("affinity", &s.affinity),
        ("dnsConfig", &s.dns_config),
        ("os", &s.os),
        ("resources", &s.resources),
    ] {
        undecoded.check(&format!("{path}.{field}"), value);
    }
    let mut out = Map::new();
    let containers: Vec<Value> = s
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| container(c, &format!("{path}.containers[{i}]"), undecoded))
        .collect();
    out.insert("containers".into(), Value::Array(containers));
    if !s.init_containers.is_empty() {
        let init: Vec<Value> = s
            .init_containers
            .iter()
            .enumerate()
            .map(|(i, c)| container(c, &format!("{path}.initContainers[{i}]"), undecoded))
            .collect();
        out.insert("initContainers".into(), Value::Array(init));
    }
    insert(&mut out, "restartPolicy", text(&s.restart_policy));
    insert(
        &mut out,
        "terminationGracePeriodSeconds",
        kept(s.termination_grace_period_seconds),
    );
    insert(
        &mut out,
        "activeDeadlineSeconds",
        kept(s.active_deadline_seconds),
    );
    insert(&mut out, "dnsPolicy", text(&s.dns_policy));
    insert(&mut out, "nodeSelector", string_map(&s.node_selector));
    insert(
        &mut out,
        "serviceAccountName",
        text(&s.service_account_name),
    );
    insert(&mut out, "serviceAccount", text(&s.service_account));
    insert(
        &mut out,
        "automountServiceAccountToken",
        kept(s.automount_service_account_token),
    );
    insert(&mut out, "nodeName", text(&s.node_name));
    insert(&mut out, "hostNetwork", nonzero(s.host_network));
    insert(&mut out, "hostPID", nonzero(s.host_pid));
    insert(&mut out, "hostIPC", nonzero(s.host_ipc));
    insert(
        &mut out,
        "shareProcessNamespace",
        kept(s.share_process_namespace),
    );
    insert(
        &mut out,
        "imagePullSecrets",
        list(&s.image_pull_secrets, |_, r| json!({"name": r.name})),
    );
    insert(&mut out, "hostname", text(&s.hostname));
    insert(&mut out, "subdomain", text(&s.subdomain));
    insert(&mut out, "schedulerName", text(&s.scheduler_name));
    insert(&mut out, "priorityClassName", text(&s.priority_class_name));
    insert(&mut out, "priority", kept(s.priority));
    insert(&mut out, "runtimeClassName", text(&s.runtime_class_name));
    insert(&mut out, "enableServiceLinks", kept(s.enable_service_links));
    insert(&mut out, "preemptionPolicy", text(&s.preemption_policy));
    insert(&mut out, "overhead", quantities(&s.overhead));
    insert(&mut out, "setHostnameAsFQDN", kept(s.set_hostname_as_fqdn));
    insert(&mut out, "hostUsers", kept(s.host_users));
    Value::Object(out)
}

fn template(t: &pb::PodTemplateSpec, path: &str, undecoded: &mut Undecoded) -> Value {
    json!({
        "metadata": metadata(&t.metadata),
        "spec": pod_spec(&t.spec.clone().unwrap_or_default(), &format!("{path}.spec"), undecoded),
    })
}

fn job_spec(s: &pb::JobSpec, path: &str, undecoded: &mut Undecoded) -> Value {
    undecoded.check(&format!("{path}.podFailurePolicy"), &s.pod_failure_policy);
    undecoded.check(&format!("{path}.successPolicy"), &s.success_policy);
    let mut out = Map::new();
    insert(&mut out, "parallelism", kept(s.parallelism));
    insert(&mut out, "completions", kept(s.completions));
    insert(
        &mut out,
        "activeDeadlineSeconds",
        kept(s.active_deadline_seconds),
    );
    insert(&mut out, "selector", s.selector.as_ref().map(selector));
    insert(&mut out, "manualSelector", kept(s.manual_selector));
    insert(
        &mut out,
        "template",
        Some(template(
            &s.template.clone().unwrap_or_default(),
            &format!("{path}.template"),
            undecoded,
        )),
    );
    insert(&mut out, "backoffLimit", kept(s.backoff_limit));
    insert(
        &mut out,
        "ttlSecondsAfterFinished",
        kept(s.ttl_seconds_after_finished),
    );
    insert(&mut out, "completionMode", text(&s.completion_mode));
    insert(&mut out, "suspend", kept(s.suspend));
    insert(
        &mut out,
        "backoffLimitPerIndex",
        kept(s.backoff_limit_per_index),
    );
    insert(&mut out, "maxFailedIndexes", kept(s.max_failed_indexes));
    insert(
        &mut out,
        "podReplacementPolicy",
        text(&s.pod_replacement_policy),
    );
    insert(&mut out, "managedBy", text(&s.managed_by));
    Value::Object(out)
}

/// Decodes a workload kind, or `None` when `kind` is not one
pub(super) fn decode_workload(
    api_version: &str,
    kind: &str,
    raw: &[u8],
) -> Result<Option<Value>, KubeError> {
    let mut undecoded = Undecoded::default();
    let value = match (api_version, kind) {
        ("apps/v1", "Deployment") => {
            let m: pb::Deployment = decode(raw)?;
            let mut out = object(api_version, kind, &m.metadata);
            let s = m.spec.unwrap_or_default();
            let mut spec = Map::new();
            insert(&mut spec, "replicas", kept(s.replicas));
            insert(&mut spec, "selector", s.selector.as_ref().map(selector));
            insert(
                &mut spec,
                "template",
                Some(template(
                    &s.template.unwrap_or_default(),
                    "spec.template",
                    &mut undecoded,
                )),
            );
            if let Some(strategy) = s.strategy {
                let mut st = Map::new();
                insert(&mut st, "type", text(&strategy.r#type));
                if let Some(rolling) = strategy.rolling_update {
                    let mut ru = Map::new();
                    insert(
                        &mut ru,
                        "maxUnavailable",
                        rolling.max_unavailable.as_ref().map(int_or_string),
                    );
                    insert(
                        &mut ru,
                        "maxSurge",
                        rolling.max_surge.as_ref().map(int_or_string),
                    );
                    st.insert("rollingUpdate".into(), Value::Object(ru));
                }
                spec.insert("strategy".into(), Value::Object(st));
            }
            insert(&mut spec, "minReadySeconds", nonzero(s.min_ready_seconds));
            insert(
                &mut spec,
                "revisionHistoryLimit",
                kept(s.revision_history_limit),
            );
            insert(&mut spec, "paused", nonzero(s.paused));
            insert(
                &mut spec,
                "progressDeadlineSeconds",
                kept(s.progress_deadline_seconds),
            );
            out.insert("spec".into(), Value::Object(spec));
            Value::Object(out)
        }
        ("batch/v1", "Job") => {
            let m: pb::Job = decode(raw)?;
            let mut out = object(api_version, kind, &m.metadata);
            out.insert(
                "spec".into(),
                job_spec(&m.spec.unwrap_or_default(), "spec", &mut undecoded),
            );
            Value::Object(out)
        }
        ("batch/v1", "CronJob") => {
            let m: pb::CronJob = decode(raw)?;
            let mut out = object(api_version, kind, &m.metadata);
            let s = m.spec.unwrap_or_default();
            let mut spec = Map::new();
            insert(&mut spec, "schedule", text(&s.schedule));
            insert(&mut spec, "timeZone", text(&s.time_zone));
            insert(
                &mut spec,
                "startingDeadlineSeconds",
                kept(s.starting_deadline_seconds),
            );
            insert(&mut spec, "concurrencyPolicy", text(&s.concurrency_policy));
            insert(&mut spec, "suspend", kept(s.suspend));
            let job = s.job_template.unwrap_or_default();
            spec.insert(
                "jobTemplate".into(),
                json!({
                    "metadata": metadata(&job.metadata),
                    "spec": job_spec(&job.spec.unwrap_or_default(), "spec.jobTemplate.spec", &mut undecoded),
                }),
            );
            insert(
                &mut spec,
                "successfulJobsHistoryLimit",
                kept(s.successful_jobs_history_limit),
            );
            insert(
                &mut spec,
                "failedJobsHistoryLimit",
                kept(s.failed_jobs_history_limit),
            );
            out.insert("spec".into(), Value::Object(spec));
            Value::Object(out)
        }
        ("v1", "Pod") => {
            let m: pb::Pod = decode(raw)?;
            let mut out = object(api_version, kind, &m.metadata);
            out.insert(
                "spec".into(),
                pod_spec(&m.spec.unwrap_or_default(), "spec", &mut undecoded),
            );
            Value::Object(out)
        }
        _ => return Ok(None),
    };
    undecoded.refuse()?;
    if value.get("metadata").is_none() {
        return Err(bad("the object has no metadata"));
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::super::{decode_body, encode_for_tests};
    use super::*;

    /// What `kubectl create deployment web --image=nginx --port=80` sends, zero values
    /// included as Go writes them
    fn deployment() -> pb::Deployment {
        let labels: std::collections::BTreeMap<String, String> =
            [("app".to_owned(), "web".to_owned())].into();
        pb::Deployment {
            metadata: Some(pb::ObjectMeta {
                name: Some("web".into()),
                labels: labels.clone(),
                ..Default::default()
            }),
            spec: Some(pb::DeploymentSpec {
                replicas: Some(1),
                selector: Some(pb::LabelSelector {
                    match_labels: labels.clone(),
                    ..Default::default()
                }),
                template: Some(pb::PodTemplateSpec {
                    metadata: Some(pb::ObjectMeta {
                        labels,
                        ..Default::default()
                    }),
                    spec: Some(pb::PodSpec {
                        containers: vec![pb::Container {
                            name: Some("nginx".into()),
                            image: Some("nginx".into()),
                            ports: vec![pb::ContainerPort {
                                container_port: Some(80),
                                host_port: Some(0),
                                protocol: Some(String::new()),
                                ..Default::default()
                            }],
                            resources: Some(pb::ResourceRequirements::default()),
                            stdin: Some(false),
                            ..Default::default()
                        }],
                        restart_policy: Some(String::new()),
                        host_network: Some(false),
                        ..Default::default()
                    }),
                }),
                strategy: Some(pb::DeploymentStrategy {
                    r#type: Some(String::new()),
                    rolling_update: None,
                }),
                min_ready_seconds: Some(0),
                paused: Some(false),
                ..Default::default()
            }),
            status: Some(Vec::new()),
        }
    }

    #[test]
    fn kubectl_create_deployment_decodes_like_its_json() {
        let body = encode_for_tests("apps/v1", "Deployment", deployment().encode_to_vec());
        let value = decode_body(&body).unwrap();
        assert_eq!(
            value,
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "web"}},
                    "strategy": {},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}], "resources": {}}]}
                    }
                }
            })
        );
    }

    #[test]
    fn undecoded_fields_refuse_the_body() {
        let mut d = deployment();
        if let Some(spec) = d
            .spec
            .as_mut()
            .and_then(|s| s.template.as_mut())
            .and_then(|t| t.spec.as_mut())
        {
            spec.volumes.push(vec![10, 3, b'v', b'o', b'l']);
        }
        let body = encode_for_tests("apps/v1", "Deployment", d.encode_to_vec());
        let error = decode_body(&body).unwrap_err();
        assert!(
            matches!(error, KubeError::UnsupportedMediaType(_)),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("spec.template.spec.volumes"),
            "{error}"
        );
    }

    #[test]
    fn jobs_and_cron_jobs() {
        let job = pb::Job {
            metadata: Some(pb::ObjectMeta {
                name: Some("once".into()),
                ..Default::default()
            }),
            spec: Some(pb::JobSpec {
                backoff_limit: Some(0),
                template: Some(pb::PodTemplateSpec {
                    metadata: None,
                    spec: Some(pb::PodSpec {
                        containers: vec![pb::Container {
                            name: Some("once".into()),
                            image: Some("busybox".into()),
                            command: vec!["true".into()],
                            ..Default::default()
                        }],
                        restart_policy: Some("Never".into()),
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }),
            status: None,
        };
        let value = decode_body(&encode_for_tests("batch/v1", "Job", job.encode_to_vec())).unwrap();
        assert_eq!(value["spec"]["backoffLimit"], 0, "a pointer's zero is kept");
        assert_eq!(value["spec"]["template"]["spec"]["restartPolicy"], "Never");
        let cron = pb::CronJob {
            metadata: Some(pb::ObjectMeta {
                name: Some("nightly".into()),
                ..Default::default()
            }),
            spec: Some(pb::CronJobSpec {
                schedule: Some("0 3 * * *".into()),
                job_template: Some(pb::JobTemplateSpec {
                    metadata: Some(pb::ObjectMeta {
                        name: Some("nightly".into()),
                        ..Default::default()
                    }),
                    spec: job.spec,
                }),
                ..Default::default()
            }),
            status: None,
        };
        let value = decode_body(&encode_for_tests(
            "batch/v1",
            "CronJob",
            cron.encode_to_vec(),
        ))
        .unwrap();
        assert_eq!(value["spec"]["schedule"], "0 3 * * *");
        assert_eq!(value["spec"]["jobTemplate"]["metadata"]["name"], "nightly");
    }
}
