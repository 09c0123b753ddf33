//! `portcullis ce ...`: Container Engine, with `oci ce`'s command and option names.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Subcommand};
use portcullis_containerengine::kubeconfig;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::{self, Client, GlobalOptions};
use super::output;

/// `portcullis ce`
#[derive(Debug, Subcommand)]
pub(crate) enum CeCommand {
    /// Clusters, kubeconfigs and tokens
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Work requests of asynchronous operations
    WorkRequest {
        #[command(subcommand)]
        command: WorkRequestCommand,
    },
}

/// `ce cluster`
#[derive(Debug, Subcommand)]
pub(crate) enum ClusterCommand {
    /// Create a cluster
    Create(CreateArgs),
    /// Get a cluster
    Get {
        /// The cluster
        #[arg(long)]
        cluster_id: String,
    },
    /// List the clusters in a compartment
    List {
        /// The compartment (default: the tenancy)
        #[arg(long)]
        compartment_id: Option<String>,
        /// Exact name
        #[arg(long)]
        name: Option<String>,
        /// Lifecycle state
        #[arg(long)]
        lifecycle_state: Option<String>,
    },
    /// Update a cluster
    Update {
        /// The cluster
        #[arg(long)]
        cluster_id: String,
        /// New name
        #[arg(long)]
        name: Option<String>,
        /// Upgrade to this version
        #[arg(long)]
        kubernetes_version: Option<String>,
        /// `{"isPolicyEnabled": true, "keyDetails": [{"kmsKeyId": "..."}]}` (or file://path)
        #[arg(long)]
        image_policy_config: Option<String>,
        /// Only if the etag still matches
        #[arg(long)]
        if_match: Option<String>,
        /// Wait for the work request to reach this state and print it
        #[arg(long)]
        wait_for_state: Option<String>,
    },
    /// Delete a cluster
    Delete {
        /// The cluster
        #[arg(long)]
        cluster_id: String,
        /// Delete without asking
        #[arg(long)]
        force: bool,
        /// Wait for the work request to reach this state and print it
        #[arg(long)]
        wait_for_state: Option<String>,
    },
    /// Write or merge a kubeconfig whose user runs `ce cluster generate-token`
    CreateKubeconfig(KubeconfigArgs),
    /// Print an ExecCredential with a short-lived, cluster-scoped token (for kubectl)
    GenerateToken {
        /// The cluster
        #[arg(long)]
        cluster_id: String,
    },
    /// Write what a real kube-apiserver needs to use Portcullis' authentication and
    /// authorization webhooks (issues a new webhook credential, replacing the previous one)
    Attach {
        /// The cluster
        #[arg(long)]
        cluster_id: String,
        /// Directory for the webhook kubeconfigs and a README with the kube-apiserver flags
        #[arg(long)]
        out: PathBuf,
    },
    /// The cluster's image verification policy
    ImagePolicy {
        #[command(subcommand)]
        command: ImagePolicyCommand,
    },
    /// List every user, group and service account allowed to do something, with the IAM
    /// statement or RBAC binding and rule that allows it
    WhoCan {
        /// The cluster
        #[arg(long)]
        cluster_id: String,
        /// The verb: get, list, watch, create, update, patch, delete, deletecollection, bind,
        /// escalate, impersonate, ...
        verb: String,
        /// `pods`, `pods/log`, `deployments.apps`, `deployments.apps/scale`, or a
        /// non-resource URL such as `/healthz`
        resource: String,
        /// The namespace (empty: cluster-wide)
        #[arg(long, short = 'n', default_value = "")]
        namespace: String,
        /// One object's name
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Flag risky RBAC grants: wildcards, escalate/bind/impersonate, cluster-wide Secret
    /// reads, cluster-admin bound to groups or service accounts, bindings to nobody
    RbacAudit {
        /// The cluster
        #[arg(long)]
        cluster_id: String,
    },
}

/// Splits `deployments.apps/scale` into resource, group and subresource
fn split_resource(text: &str) -> (String, String, String) {
    let (resource, subresource) = text.split_once('/').unwrap_or((text, ""));
    let (resource, group) = resource.split_once('.').unwrap_or((resource, ""));
    (
        resource.to_owned(),
        group.to_owned(),
        subresource.to_owned(),
    )
}

/// `ce cluster create`
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The compartment
    #[arg(long)]
    compartment_id: String,
    /// Name
    #[arg(long)]
    name: String,
    /// Kubernetes version, `v1.32.1`
    #[arg(long)]
    kubernetes_version: String,
    /// VCN (accepted for compatibility)
    #[arg(long)]
    vcn_id: Option<String>,
    /// Master encryption key for Secrets (only at creation)
    #[arg(long)]
    kms_key_id: Option<String>,
    /// Image verification policy as JSON (or file://path)
    #[arg(long)]
    image_policy_config: Option<String>,
    /// BASIC_CLUSTER or ENHANCED_CLUSTER
    #[arg(long = "type")]
    cluster_type: Option<String>,
    /// Wait for the work request to reach this state and print it
    #[arg(long)]
    wait_for_state: Option<String>,
}

/// `ce cluster create-kubeconfig`
#[derive(Debug, Args)]
pub(crate) struct KubeconfigArgs {
    /// The cluster
    #[arg(long)]
    cluster_id: String,
    /// Where to write (`-` for standard output)
    #[arg(long, default_value = "~/.kube/config")]
    file: String,
    /// Only 2.0.0
    #[arg(long, default_value = "2.0.0")]
    token_version: String,
    /// PUBLIC_ENDPOINT (all kinds name the one endpoint here)
    #[arg(long)]
    kube_endpoint: Option<String>,
    /// Replace the file instead of merging into it
    #[arg(long)]
    overwrite: bool,
}

/// `ce work-request`
#[derive(Debug, Subcommand)]
pub(crate) enum WorkRequestCommand {
    /// Get a work request
    Get {
        /// The work request
        #[arg(long)]
        work_request_id: String,
    },
}

fn json_arg(text: &str, what: &str) -> anyhow::Result<Value> {
    let source = match text.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => text.to_owned(),
    };
    serde_json::from_str(&source).with_context(|| format!("--{what} is not valid JSON"))
}

fn expand(path: &str) -> PathBuf {
    super::config::expand(path)
}

/// Prints an accepted asynchronous operation as oci does, optionally waiting for it
async fn accepted(
    client: &Client,
    reply: client::Reply,
    wait: Option<&str>,
) -> anyhow::Result<i32> {
    if !(200..300).contains(&reply.status) {
        return Ok(output::print_error(&reply));
    }
    let id = reply
        .work_request_id
        .ok_or_else(|| anyhow!("the server did not return a work request"))?;
    match wait {
        None => {
            output::print_json(&json!({ "opc-work-request-id": id }));
            Ok(0)
        }
        Some(state) => {
            for _ in 0..600 {
                let work = client
                    .call(
                        Method::GET,
                        &format!("/20180222/workRequests/{id}"),
                        &[],
                        None,
                        None,
                    )
                    .await?;
                if !(200..300).contains(&work.status) {
                    return Ok(output::print_error(&work));
                }
                let status = work
                    .body
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                if status.eq_ignore_ascii_case(state) || status == "FAILED" {
                    output::print_data(work.body, None, None);
                    return Ok(if status == "FAILED" { 1 } else { 0 });
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            bail!("timed out waiting for work request {id}")
        }
    }
}

/// Runs a `ce` command
pub(crate) async fn run(global: &GlobalOptions, command: CeCommand) -> anyhow::Result<i32> {
    // Token generation is local: it signs with the profile's key and needs no server.
    if let CeCommand::Cluster {
        command: ClusterCommand::GenerateToken { cluster_id },
    } = &command
    {
        return generate_token(global, cluster_id);
    }
    let client = Client::new(global)?;
    match command {
        CeCommand::WorkRequest {
            command: WorkRequestCommand::Get { work_request_id },
        } => {
            let reply = client
                .call(
                    Method::GET,
                    &format!("/20180222/workRequests/{work_request_id}"),
                    &[],
                    None,
                    None,
                )
                .await?;
            Ok(super::iam::finish(reply))
        }
        CeCommand::Cluster { command } => match command {
            ClusterCommand::Create(args) => {
                let mut body = Map::new();
                body.insert("compartmentId".into(), json!(args.compartment_id));
                body.insert("name".into(), json!(args.name));
                body.insert("kubernetesVersion".into(), json!(args.kubernetes_version));
                if let Some(v) = args.vcn_id {
                    body.insert("vcnId".into(), json!(v));
                }
                if let Some(v) = args.kms_key_id {
                    body.insert("kmsKeyId".into(), json!(v));
                }
                if let Some(v) = args.image_policy_config {
                    body.insert(
                        "imagePolicyConfig".into(),
                        json_arg(&v, "image-policy-config")?,
                    );
                }
                if let Some(v) = args.cluster_type {
                    body.insert("type".into(), json!(v));
                }
                let reply = client
                    .call(
                        Method::POST,
                        "/20180222/clusters",
                        &[],
                        Some(&Value::Object(body)),
                        None,
                    )
                    .await?;
                accepted(&client, reply, args.wait_for_state.as_deref()).await
            }
            ClusterCommand::Get { cluster_id } => {
                let reply = client
                    .call(
                        Method::GET,
                        &format!("/20180222/clusters/{cluster_id}"),
                        &[],
                        None,
                        None,
                    )
                    .await?;
                Ok(super::iam::finish(reply))
            }
            ClusterCommand::List {
                compartment_id,
                name,
                lifecycle_state,
            } => {
                let mut query = vec![(
                    "compartmentId",
                    compartment_id.unwrap_or_else(|| client.tenancy.clone()),
                )];
                if let Some(n) = name {
                    query.push(("name", n));
                }
                if let Some(s) = lifecycle_state {
                    query.push(("lifecycleState", s));
                }
                let reply = client
                    .call(Method::GET, "/20180222/clusters", &query, None, None)
                    .await?;
                Ok(super::iam::finish(reply))
            }
            ClusterCommand::Update {
                cluster_id,
                name,
                kubernetes_version,
                image_policy_config,
                if_match,
                wait_for_state,
            } => {
                let mut body = Map::new();
                if let Some(n) = name {
                    body.insert("name".into(), json!(n));
                }
                if let Some(v) = kubernetes_version {
                    body.insert("kubernetesVersion".into(), json!(v));
                }
                if let Some(v) = image_policy_config {
                    body.insert(
                        "imagePolicyConfig".into(),
                        json_arg(&v, "image-policy-config")?,
                    );
                }
                let reply = client
                    .call(
                        Method::PUT,
                        &format!("/20180222/clusters/{cluster_id}"),
                        &[],
                        Some(&Value::Object(body)),
                        if_match.as_deref(),
                    )
                    .await?;
                accepted(&client, reply, wait_for_state.as_deref()).await
            }
            ClusterCommand::Delete {
                cluster_id,
                force,
                wait_for_state,
            } => {
                if !force {
                    eprint!("Are you sure you want to delete this resource? [y/N]: ");
                    let mut answer = String::new();
                    std::io::stdin().read_line(&mut answer)?;
                    if !answer.trim().eq_ignore_ascii_case("y") {
                        bail!("not deleted");
                    }
                }
                let reply = client
                    .call(
                        Method::DELETE,
                        &format!("/20180222/clusters/{cluster_id}"),
                        &[],
                        None,
                        None,
                    )
                    .await?;
                accepted(&client, reply, wait_for_state.as_deref()).await
            }
            ClusterCommand::CreateKubeconfig(args) => {
                create_kubeconfig(global, &client, args).await
            }
            ClusterCommand::GenerateToken { .. } => Ok(0),
            ClusterCommand::Attach { cluster_id, out } => attach(&client, &cluster_id, &out).await,
            ClusterCommand::ImagePolicy {
                command: ImagePolicyCommand::Test { cluster_id, file },
            } => test_image_policy(&client, &cluster_id, &file).await,
            ClusterCommand::WhoCan {
                cluster_id,
                verb,
                resource,
                namespace,
                name,
            } => {
                let mut body = Map::new();
                body.insert("verb".into(), json!(verb));
                if resource.starts_with('/') {
                    body.insert("nonResourceUrl".into(), json!(resource));
                } else {
                    let (resource, group, subresource) = split_resource(&resource);
                    body.insert("resource".into(), json!(resource));
                    body.insert("apiGroup".into(), json!(group));
                    body.insert("subresource".into(), json!(subresource));
                    body.insert("namespace".into(), json!(namespace));
                    body.insert("name".into(), json!(name));
                }
                let reply = client
                    .call(
                        Method::POST,
                        &format!("/20180222/clusters/{cluster_id}/actions/whoCan"),
                        &[],
                        Some(&Value::Object(body)),
                        None,
                    )
                    .await?;
                Ok(super::iam::finish(reply))
            }
            ClusterCommand::RbacAudit { cluster_id } => {
                let reply = client
                    .call(
                        Method::POST,
                        &format!("/20180222/clusters/{cluster_id}/actions/auditRbac"),
                        &[],
                        None,
                        None,
                    )
                    .await?;
                Ok(super::iam::finish(reply))
            }
        },
    }
}

async fn create_kubeconfig(
    global: &GlobalOptions,
    client: &Client,
    args: KubeconfigArgs,
) -> anyhow::Result<i32> {
    let mut body = Map::new();
    body.insert("tokenVersion".into(), json!(args.token_version));
    if let Some(e) = &args.kube_endpoint {
        body.insert("endpoint".into(), json!(e));
    }
    let reply = client
        .call(
            Method::POST,
            &format!("/20180222/clusters/{}/kubeconfig/content", args.cluster_id),
            &[],
            Some(&Value::Object(body)),
            None,
        )
        .await?;
    if !(200..300).contains(&reply.status) {
        return Ok(output::print_error(&reply));
    }
    let text = reply
        .body
        .as_str()
        .ok_or_else(|| anyhow!("the server did not return a kubeconfig"))?;
    let mut new = kubeconfig::from_yaml(text)?;
    // kubectl runs the exec plugin without our command line: carry the profile along, as
    // `oci ce cluster create-kubeconfig --with-auth-context` does.
    let mut extra = Vec::new();
    if let Some(config) = &global.config_file {
        let absolute = std::fs::canonicalize(config).unwrap_or_else(|_| config.clone());
        extra.push(Value::String("--config-file".into()));
        extra.push(Value::String(absolute.display().to_string()));
    }
    if global.profile != "DEFAULT" {
        extra.push(Value::String("--profile".into()));
        extra.push(Value::String(global.profile.clone()));
    }
    if let Some(Value::Array(exec_args)) = new.pointer_mut("/users/0/user/exec/args") {
        exec_args.extend(extra);
    }
    let yaml = kubeconfig::to_yaml(&new)?;
    if args.file == "-" {
        print!("{yaml}");
        return Ok(0);
    }
    let path = expand(&args.file);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let existing = std::fs::read_to_string(&path).ok();
    match existing {
        Some(text) if !args.overwrite && !text.trim().is_empty() => {
            let merged = kubeconfig::merge(kubeconfig::from_yaml(&text)?, &new);
            write_private(&path, &kubeconfig::to_yaml(&merged)?)?;
            println!(
                "Existing Kubeconfig file found at {} and new config merged into it",
                path.display()
            );
        }
        _ => {
            new = kubeconfig::merge(Value::Null, &new);
            write_private(&path, &kubeconfig::to_yaml(&new)?)?;
            println!(
                "New config written to the Kubeconfig file {}",
                path.display()
            );
        }
    }
    Ok(0)
}

/// A kubeconfig for a webhook: the server is the webhook's URL, the user its credential
fn webhook_kubeconfig(
    name: &str,
    url: &str,
    token: &str,
    ca: Option<&str>,
) -> anyhow::Result<String> {
    use base64::Engine as _;
    let mut cluster = json!({"server": url});
    if let (Some(ca), Some(map)) = (ca, cluster.as_object_mut()) {
        map.insert(
            "certificate-authority-data".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(ca)),
        );
    }
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": "kube-apiserver", "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": "kube-apiserver"}}],
        "current-context": name,
    });
    Ok(kubeconfig::to_yaml(&config)?)
}

async fn attach(client: &Client, cluster_id: &str, out: &std::path::Path) -> anyhow::Result<i32> {
    let reply = client
        .call(
            Method::POST,
            &format!("/20180222/clusters/{cluster_id}/actions/attach"),
            &[],
            None,
            None,
        )
        .await?;
    if !(200..300).contains(&reply.status) {
        return Ok(output::print_error(&reply));
    }
    let field = |name: &str| -> anyhow::Result<String> {
        reply
            .body
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the server's answer lacks `{name}`"))
    };
    let token = field("token")?;
    let ca = reply.body.get("caCertificate").and_then(Value::as_str);
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let authn = out.join("authentication-webhook.kubeconfig");
    let authz = out.join("authorization-webhook.kubeconfig");
    write_private(
        &authn,
        &webhook_kubeconfig("portcullis-authn", &field("authenticateUrl")?, &token, ca)?,
    )?;
    write_private(
        &authz,
        &webhook_kubeconfig("portcullis-authz", &field("authorizeUrl")?, &token, ca)?,
    )?;
    let admit_url = field("admitUrl")?;
    let admission_kubeconfig = out.join("admission-webhook.kubeconfig");
    write_private(
        &admission_kubeconfig,
        &admission_webhook_kubeconfig(&token)?,
    )?;
    let admission_configuration = out.join("admission-configuration.yaml");
    std::fs::write(
        &admission_configuration,
        admission_configuration_yaml(&admission_kubeconfig),
    )
    .with_context(|| format!("writing {}", admission_configuration.display()))?;
    let webhook_configuration = out.join("image-policy-webhook.yaml");
    std::fs::write(
        &webhook_configuration,
        kubeconfig::to_yaml(&validating_webhook(&admit_url, ca))?,
    )
    .with_context(|| format!("writing {}", webhook_configuration.display()))?;
    let credential_file = out.join("cluster-credential.json");
    let mut credential = json!({
        "endpoint": field("endpoint")?,
        "clusterId": cluster_id,
        "token": token,
    });
    if let (Some(ca), Some(map)) = (ca, credential.as_object_mut()) {
        map.insert("caCertificate".into(), json!(ca));
    }
    write_private(
        &credential_file,
        &serde_json::to_string_pretty(&credential)?,
    )?;
    let encryption = out.join("encryption-configuration.yaml");
    std::fs::write(&encryption, ENCRYPTION_CONFIGURATION)
        .with_context(|| format!("writing {}", encryption.display()))?;
    let cluster = client
        .call(
            Method::GET,
            &format!("/20180222/clusters/{cluster_id}"),
            &[],
            None,
            None,
        )
        .await?;
    let key = cluster
        .body
        .get("kmsKeyId")
        .and_then(Value::as_str)
        .unwrap_or("<the OCID of a vault key the cluster may use>")
        .to_owned();
    let absolute = |p: &std::path::Path| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let readme = format!(
        "# Attaching a kube-apiserver to Portcullis cluster {cluster_id}\n\n\
Copy this directory to the control-plane node and add these flags to kube-apiserver:\n\n\
```\n\
--authentication-token-webhook-config-file={authn}\n\
--authentication-token-webhook-version=v1\n\
--authorization-mode=Node,Webhook,RBAC\n\
--authorization-webhook-config-file={authz}\n\
--authorization-webhook-version=v1\n\
```\n\n\
Users then authenticate with OKE-format tokens (`portcullis ce cluster generate-token` or\n\
`oci ce cluster generate-token`) and service-account tokens Portcullis issued. The\n\
authorization webhook answers IAM's half of each decision: a user whose groups hold\n\
`manage clusters` on the cluster is allowed; everyone else gets no opinion, and the\n\
cluster's own RBAC decides.\n\n\
## Image verification at admission\n\n\
Add `--admission-control-config-file={admission}` to kube-apiserver (it gives the admission\n\
webhook the cluster's credential), then apply the webhook, which sends every create and\n\
update of pods and workloads to the cluster's image verification policy, failing closed:\n\n\
```\n\
kubectl apply -f {webhook}\n\
```\n\n\
## Secrets encrypted with a vault key (KMS v2)\n\n\
Run the KMS plugin on the control-plane node, as the cluster:\n\n\
```\n\
portcullis kms-plugin --listen unix://{socket} --key-id {key} \\\n    --credential-file {credential}\n\
```\n\n\
and point kube-apiserver at {encryption}:\n\n\
```\n\
--encryption-provider-config={encryption}\n\
```\n\n\
The cluster must be allowed to use the key, as in OKE:\n\
`Allow any-user to use keys in compartment <c> where ALL {{request.principal.type = 'cluster', target.key.id = '{key}'}}`.\n\
When the key rotates, the plugin reports the new version and kube-apiserver starts a new data\n\
key; `kubectl get secrets -A -o json | kubectl replace -f -` re-encrypts existing Secrets.\n\n\
## Vault secrets in pods (Secrets Store CSI driver)\n\n\
```\n\
portcullis csi-provider --socket /var/run/secrets-store-csi-providers/portcullis.sock \\\n    --credential-file {credential}\n\
```\n\n\
with `provider: portcullis` and `authType: cluster` in the SecretProviderClass.\n\n\
The kubeconfigs and cluster-credential.json hold the cluster's credential (mode 0600).\n\
Running `attach` again issues a new credential and the old one stops working.\n",
        authn = absolute(&authn),
        authz = absolute(&authz),
        credential = absolute(&credential_file),
        encryption = absolute(&encryption),
        admission = absolute(&admission_configuration),
        webhook = absolute(&webhook_configuration),
        socket = KMS_SOCKET,
    );
    std::fs::write(out.join("README.md"), readme)
        .with_context(|| format!("writing {}", out.join("README.md").display()))?;
    println!(
        "Wrote {}, {}, {}, {} and README.md in {}",
        authn.display(),
        authz.display(),
        credential_file.display(),
        encryption.display(),
        out.display()
    );
    Ok(0)
}

/// The kubeconfig kube-apiserver presents to admission webhooks: the cluster's credential
/// for any webhook host (`*`), as `AdmissionConfiguration`'s `kubeConfigFile` reads it
fn admission_webhook_kubeconfig(token: &str) -> anyhow::Result<String> {
    Ok(kubeconfig::to_yaml(&json!({
        "apiVersion": "v1",
        "kind": "Config",
        "users": [{"name": "*", "user": {"token": token}}],
    }))?)
}

/// kube-apiserver's `--admission-control-config-file`
fn admission_configuration_yaml(kubeconfig: &std::path::Path) -> String {
    let path = std::fs::canonicalize(kubeconfig).unwrap_or_else(|_| kubeconfig.to_path_buf());
    format!(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n  - name: ValidatingAdmissionWebhook\n    configuration:\n      apiVersion: apiserver.config.k8s.io/v1\n      kind: WebhookAdmissionConfiguration\n      kubeConfigFile: {}\n",
        path.display()
    )
}

/// The ValidatingWebhookConfiguration that sends pods and workloads to the image policy:
/// `failurePolicy: Fail`, so nothing is admitted unverified while Portcullis is unreachable
pub(crate) fn validating_webhook(url: &str, ca: Option<&str>) -> Value {
    use base64::Engine as _;
    let mut client_config = json!({"url": url});
    if let (Some(ca), Some(map)) = (ca, client_config.as_object_mut()) {
        map.insert(
            "caBundle".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(ca)),
        );
    }
    let rule = |groups: &[&str], resources: &[&str]| {
        json!({
            "apiGroups": groups, "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
            "resources": resources, "scope": "*",
        })
    };
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "portcullis-image-policy"},
        "webhooks": [{
            "name": "image-policy.portcullis.dev",
            "clientConfig": client_config,
            "rules": [
                rule(&[""], &["pods", "pods/ephemeralcontainers", "replicationcontrollers", "podtemplates"]),
                rule(&["apps"], &["deployments", "replicasets", "statefulsets", "daemonsets"]),
                rule(&["batch"], &["jobs", "cronjobs"]),
            ],
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 10,
            "matchPolicy": "Equivalent",
        }],
    })
}

/// `ce cluster image-policy`
#[derive(Debug, Subcommand)]
pub(crate) enum ImagePolicyCommand {
    /// Tell, before deploying, which images of a manifest the cluster's policy would deny
    /// and why (exit status 3 when any would be)
    Test {
        /// The cluster
        #[arg(long)]
        cluster_id: String,
        /// A YAML or JSON manifest, several documents and `List`s allowed (`-` for stdin)
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
}

/// The objects of a manifest: every YAML document, `List` items flattened
fn manifest_objects(text: &str) -> anyhow::Result<Vec<Value>> {
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(text).context("the manifest is not YAML or JSON")?;
    let mut objects = Vec::new();
    for document in documents {
        match document.get("items").and_then(Value::as_array) {
            Some(items) if document.get("kind").and_then(Value::as_str) == Some("List") => {
                objects.extend(items.iter().cloned());
            }
            _ if document.is_null() => {}
            _ => objects.push(document),
        }
    }
    Ok(objects)
}

async fn test_image_policy(
    client: &Client,
    cluster_id: &str,
    file: &std::path::Path,
) -> anyhow::Result<i32> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the manifest from stdin")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    let objects = manifest_objects(&text)?;
    let reply = client
        .call(
            Method::POST,
            &format!("/20180222/clusters/{cluster_id}/actions/testImagePolicy"),
            &[],
            Some(&json!({ "objects": objects })),
            None,
        )
        .await?;
    if !(200..300).contains(&reply.status) {
        return Ok(output::print_error(&reply));
    }
    let denied = reply
        .body
        .get("results")
        .and_then(Value::as_array)
        .is_some_and(|r| {
            r.iter()
                .any(|o| o.get("allowed") == Some(&Value::Bool(false)))
        });
    output::print_data(reply.body, None, None);
    Ok(if denied { 3 } else { 0 })
}

/// Where the README tells the KMS plugin to listen, and the EncryptionConfiguration to dial
const KMS_SOCKET: &str = "/var/run/kmsplugin/portcullis.sock";

/// kube-apiserver's `--encryption-provider-config`: Secrets through the KMS v2 plugin, and
/// plaintext still readable (written before encryption was turned on)
const ENCRYPTION_CONFIGURATION: &str = "\
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
    providers:
      - kms:
          apiVersion: v2
          name: portcullis
          endpoint: unix:///var/run/kmsplugin/portcullis.sock
          timeout: 3s
      - identity: {}
";

fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

fn generate_token(global: &GlobalOptions, cluster_id: &str) -> anyhow::Result<i32> {
    if cluster_id.trim().is_empty() {
        bail!("Parameter --cluster-id cannot be whitespace or empty string");
    }
    let (credentials, _) = client::credentials(global)?;
    let region = credentials
        .region
        .ok_or_else(|| anyhow!("no region: set `region` in the profile or pass --region"))?;
    let now = jiff::Timestamp::now();
    let token =
        portcullis_containerengine::generate_token(&credentials.signer, cluster_id, &region, now)?;
    let expires = now + jiff::SignedDuration::from_mins(4);
    let credential = json!({
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {
            "token": token,
            "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    });
    output::print_json(&credential);
    Ok(0)
}
