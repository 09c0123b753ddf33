//! The Secrets Store CSI provider: vault secrets mounted into pods.
//!
//! The SecretProviderClass parameters follow OCI's provider (`oci-reference.md` §4.2):
//! `secrets` (a YAML list of `name`, `stage` or `versionNumber`, and `fileName`), `vaultId`,
//! and `authType`: `cluster` (the cluster's own principal, our counterpart of OKE's
//! `instance` and `workload`) or `user` (an API key from the volume's
//! `nodePublishSecretRef`, with keys `config` and `private-key`). The object version is the
//! secret's version number, so the driver's rotation sees updates. Files are returned to
//! the driver, which writes them; their paths are checked never to leave the target.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value;
use tonic::{Request, Response, Status};

use crate::PluginError;
use crate::client::PortcullisClient;
use crate::proto::csi::csi_driver_provider_server::CsiDriverProvider;
use crate::proto::csi::{
    File, MountRequest, MountResponse, ObjectVersion, VersionRequest, VersionResponse,
};

/// The stages a secret version can be read in
pub const STAGES: [&str; 5] = ["CURRENT", "PENDING", "LATEST", "PREVIOUS", "DEPRECATED"];

/// One entry of the `secrets` parameter
#[derive(Clone, Debug, Deserialize, Eq, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretItem {
    /// The secret's name in the vault
    pub name: String,
    /// A stage (`CURRENT` when neither this nor a version is given)
    #[serde(default)]
    pub stage: Option<String>,
    /// A version number
    #[serde(default)]
    pub version_number: Option<u64>,
    /// The file to write, instead of the secret's name
    #[serde(default)]
    pub file_name: Option<String>,
}

/// How the provider authenticates for one mount
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum AuthType {
    /// As the cluster (its attach credential)
    Cluster,
    /// As a user, with the API key in the volume's `nodePublishSecretRef`
    User,
}

/// What one Mount fetches and where it puts it
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct MountPlan {
    /// The vault
    pub vault_id: String,
    /// Who asks
    pub auth: AuthType,
    /// `authSecretName`: the Secret the volume's `nodePublishSecretRef` must name for `user`
    pub auth_secret_name: Option<String>,
    /// The secrets, each with its file path and selector query
    pub items: Vec<(SecretItem, String)>,
    /// The mode of every file
    pub mode: i32,
}

fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::InvalidRequest(message.into())
}

/// A relative path of normal components: nothing that could leave the target directory
pub fn safe_file_name(name: &str) -> Result<String, PluginError> {
    let path = Path::new(name);
    let normal = !name.is_empty()
        && !name.contains('\\')
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    if !normal {
        return Err(invalid(format!(
            "file name `{name}` must be a relative path inside the mount (no `..`, no leading `/`)"
        )));
    }
    Ok(name.to_owned())
}

/// Parses a MountRequest's `attributes` and `permission` into a plan; every mistake in the
/// SecretProviderClass is a clear error
pub fn plan(attributes: &str, permission: &str) -> Result<MountPlan, PluginError> {
    let attributes: BTreeMap<String, String> = serde_json::from_str(attributes)
        .map_err(|e| invalid(format!("`attributes` is not a JSON object of strings: {e}")))?;
    let vault_id = attributes
        .get("vaultId")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid("the SecretProviderClass needs `vaultId`"))?
        .clone();
    let auth = match attributes.get("authType").map(String::as_str) {
        None | Some("cluster" | "instance" | "workload") => AuthType::Cluster,
        Some("user") => AuthType::User,
        Some(other) => {
            return Err(invalid(format!(
                "`authType` must be cluster or user, not `{other}`"
            )));
        }
    };
    let listed = attributes
        .get("secrets")
        .ok_or_else(|| invalid("the SecretProviderClass needs `secrets`"))?;
    let items: Vec<SecretItem> = serde_saphyr::from_str(listed)
        .map_err(|e| invalid(format!("`secrets` is not a YAML list of secrets: {e}")))?;
    if items.is_empty() {
        return Err(invalid("`secrets` lists no secrets"));
    }
    let mut planned = Vec::with_capacity(items.len());
    let mut files = std::collections::BTreeSet::new();
    for item in items {
        if item.name.is_empty() {
            return Err(invalid("a secret in `secrets` has no `name`"));
        }
        let query = match (&item.stage, item.version_number) {
            (Some(_), Some(_)) => {
                return Err(invalid(format!(
                    "secret `{}` should be identified either with a version number or with stage",
                    item.name
                )));
            }
            (_, Some(0)) => return Err(invalid("`versionNumber` is a positive integer")),
            (_, Some(n)) => format!("versionNumber={n}"),
            (Some(stage), None) => {
                let stage = stage.to_ascii_uppercase();
                if !STAGES.contains(&stage.as_str()) {
                    return Err(invalid(format!(
                        "`stage` must be one of {}, not `{stage}`",
                        STAGES.join(", ")
                    )));
                }
                format!("stage={stage}")
            }
            (None, None) => "stage=CURRENT".to_owned(),
        };
        let file = safe_file_name(item.file_name.as_deref().unwrap_or(&item.name))?;
        if !files.insert(file.clone()) {
            return Err(invalid(format!("two secrets would be written to `{file}`")));
        }
        planned.push((item, query));
    }
    let mode = if permission.is_empty() {
        0o644
    } else {
        permission
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|m| (0..=0o777).contains(m))
            .ok_or_else(|| {
                invalid(format!(
                    "`permission` must be a file mode from 0 to 511, not `{permission}`"
                ))
            })?
    };
    Ok(MountPlan {
        vault_id,
        auth,
        auth_secret_name: attributes.get("authSecretName").cloned(),
        items: planned,
        mode,
    })
}

/// `config` from an OCI CLI-style auth secret: `auth: {tenancy, user, fingerprint, ...}`
#[derive(Debug, Deserialize)]
struct UserConfig {
    auth: UserAuth,
}

#[derive(Debug, Deserialize)]
struct UserAuth {
    tenancy: String,
    user: String,
    fingerprint: String,
}

/// The provider
#[derive(Debug)]
pub struct CsiProvider {
    /// `https://host:port` of Portcullis
    endpoint: String,
    /// The CA that signed it, when it made its own
    ca_pem: Option<String>,
    /// The cluster's client, when the provider has a cluster credential
    cluster: Option<PortcullisClient>,
}

impl CsiProvider {
    /// A provider for `endpoint`, acting as the cluster when `cluster` is given
    pub fn new(
        endpoint: &str,
        ca_pem: Option<String>,
        cluster: Option<PortcullisClient>,
    ) -> CsiProvider {
        CsiProvider {
            endpoint: endpoint.to_owned(),
            ca_pem,
            cluster,
        }
    }

    fn user_client(
        &self,
        secrets: &str,
        secret_name: Option<&str>,
    ) -> Result<PortcullisClient, PluginError> {
        let data: BTreeMap<String, String> =
            serde_json::from_str(if secrets.is_empty() { "{}" } else { secrets })
                .map_err(|e| invalid(format!("`secrets` is not a JSON object: {e}")))?;
        let missing = |key: &str| {
            invalid(format!(
                "authType user needs the volume's nodePublishSecretRef (the Secret `{}`) to hold `{key}`",
                secret_name.unwrap_or("named by authSecretName")
            ))
        };
        let config = data.get("config").ok_or_else(|| missing("config"))?;
        let key = data
            .get("private-key")
            .ok_or_else(|| missing("private-key"))?;
        let config: UserConfig = serde_saphyr::from_str(config)
            .map_err(|e| invalid(format!("`config` is not an auth config: {e}")))?;
        PortcullisClient::as_user(
            &self.endpoint,
            self.ca_pem.as_deref(),
            &config.auth.tenancy,
            &config.auth.user,
            &config.auth.fingerprint,
            key,
        )
    }

    /// Fetches every secret of a plan
    pub async fn fetch(
        &self,
        plan: &MountPlan,
        secrets: &str,
    ) -> Result<(Vec<File>, Vec<ObjectVersion>), PluginError> {
        let user;
        let client = match plan.auth {
            AuthType::Cluster => self.cluster.as_ref().ok_or_else(|| {
                invalid("authType cluster needs the provider to run with --credential-file")
            })?,
            AuthType::User => {
                user = self.user_client(secrets, plan.auth_secret_name.as_deref())?;
                &user
            }
        };
        let mut files = Vec::new();
        let mut versions = Vec::new();
        for (item, query) in &plan.items {
            let path = format!(
                "/20190301/secretbundles/actions/getByName?secretName={}&vaultId={}&{query}",
                encode(&item.name),
                encode(&plan.vault_id)
            );
            let bundle = client.call(http::Method::POST, &path, None).await?;
            let content = bundle
                .pointer("/secretBundleContent/content")
                .and_then(Value::as_str)
                .ok_or_else(|| PluginError::Transport("the secret bundle has no content".into()))?;
            let contents = STANDARD
                .decode(content)
                .map_err(|_| PluginError::Transport("the secret bundle is not base64".into()))?;
            let version = bundle
                .get("versionNumber")
                .and_then(Value::as_u64)
                .unwrap_or_default();
            let path = item.file_name.clone().unwrap_or_else(|| item.name.clone());
            versions.push(ObjectVersion {
                id: path.clone(),
                version: version.to_string(),
            });
            files.push(File {
                path,
                mode: plan.mode,
                contents,
            });
        }
        Ok((files, versions))
    }
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tonic::async_trait]
impl CsiDriverProvider for CsiProvider {
    async fn version(
        &self,
        _: Request<VersionRequest>,
    ) -> Result<Response<VersionResponse>, Status> {
        Ok(Response::new(VersionResponse {
            version: "v1alpha1".into(),
            runtime_name: "portcullis".into(),
            runtime_version: env!("CARGO_PKG_VERSION").into(),
        }))
    }

    async fn mount(
        &self,
        request: Request<MountRequest>,
    ) -> Result<Response<MountResponse>, Status> {
        let request = request.into_inner();
        let plan = plan(&request.attributes, &request.permission)?;
        let (files, object_version) = self.fetch(&plan, &request.secrets).await?;
        tracing::info!(target_path = %request.target_path, vault = %plan.vault_id, files = files.len(), "mounted vault secrets");
        Ok(Response::new(MountResponse {
            object_version,
            error: None,
            files,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(secrets: &str) -> String {
        serde_json::json!({"vaultId": "ocid1.vault.oc1..v", "secrets": secrets, "csi.storage.k8s.io/pod.name": "p"}).to_string()
    }

    #[test]
    fn plans_oci_style_parameters() {
        let plan = plan(
            &attributes("- name: secret1\n  stage: PREVIOUS\n- name: secret2\n  versionNumber: 1\n  fileName: src-db-password\n- name: secret3\n"),
            "420",
        )
        .unwrap();
        assert_eq!(plan.auth, AuthType::Cluster);
        assert_eq!(plan.mode, 0o644);
        let queries: Vec<&str> = plan.items.iter().map(|(_, q)| q.as_str()).collect();
        assert_eq!(
            queries,
            ["stage=PREVIOUS", "versionNumber=1", "stage=CURRENT"]
        );
    }

    #[test]
    fn refuses_what_oci_refuses_and_paths_that_escape() {
        let both = plan(
            &attributes("- name: s\n  stage: CURRENT\n  versionNumber: 2\n"),
            "420",
        )
        .unwrap_err();
        assert!(
            both.to_string()
                .contains("either with a version number or with stage"),
            "{both}"
        );
        for bad in [
            "../../etc/passwd",
            "/etc/passwd",
            "a/../../b",
            "",
            ".",
            "a\\..\\b",
        ] {
            let yaml = format!("- name: s\n  fileName: '{bad}'\n");
            assert!(plan(&attributes(&yaml), "420").is_err(), "{bad}");
        }
        assert!(plan(&attributes("- name: s\n  stage: SOMETIME\n"), "420").is_err());
        assert!(plan(&attributes("- name: s\n"), "9999").is_err());
        assert!(
            plan(
                &attributes("- name: a\n  fileName: x\n- name: b\n  fileName: x\n"),
                "420"
            )
            .is_err()
        );
        assert!(plan("not json", "420").is_err());
        assert!(plan(&attributes("{not: a list}"), "420").is_err());
        assert!(
            plan(
                &serde_json::json!({"secrets": "- name: s"}).to_string(),
                "420"
            )
            .is_err()
        );
    }
}
