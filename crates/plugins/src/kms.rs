//! The KMS v2 plugin: kube-apiserver's data keys wrapped by a vault key, with the cluster's
//! own principal (so the same `use keys` policy that OKE asks for governs it).
//!
//! `key_id` is the key's *current version* OCID: when the vault key rotates, Status reports
//! the new version, and the apiserver starts a new data key (`k8s-interfaces.md` §4.4).
//! Every ciphertext carries an annotation naming the vault key, so Decrypt still finds the
//! key after the plugin is pointed at another one.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tonic::{Request, Response, Status};

use crate::PluginError;
use crate::client::PortcullisClient;
use crate::proto::kms_v2::key_management_service_server::KeyManagementService;
use crate::proto::kms_v2::{
    DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse, StatusRequest, StatusResponse,
};

/// The annotation naming the vault key that wrapped a data key
pub const KEY_ANNOTATION: &str = "key.portcullis.dev";
/// The largest data key the plugin wraps (the apiserver sends 32 bytes)
pub const MAX_PLAINTEXT: usize = 4096;

/// The plugin: one vault key, reached as the cluster
#[derive(Debug)]
pub struct KmsPlugin {
    client: PortcullisClient,
    key_id: String,
}

fn field(value: &Value, name: &str) -> Result<String, PluginError> {
    value
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| PluginError::Transport(format!("Portcullis' answer lacks `{name}`")))
}

impl KmsPlugin {
    /// A plugin wrapping data keys with `key_id`
    pub fn new(client: PortcullisClient, key_id: &str) -> KmsPlugin {
        KmsPlugin {
            client,
            key_id: key_id.to_owned(),
        }
    }

    async fn current_version(&self) -> Result<String, PluginError> {
        let key = self
            .client
            .call(
                http::Method::GET,
                &format!("/20180608/keys/{}", self.key_id),
                None,
            )
            .await?;
        if key.get("lifecycleState").and_then(Value::as_str) != Some("ENABLED") {
            return Err(PluginError::InvalidRequest(format!(
                "key {} is {}",
                self.key_id,
                key.get("lifecycleState")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
            )));
        }
        field(&key, "currentKeyVersion")
    }
}

#[tonic::async_trait]
impl KeyManagementService for KmsPlugin {
    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        // Unhealthy is reported in `healthz`, not as an RPC error: the apiserver logs it and
        // polls again sooner.
        let response = match self.current_version().await {
            Ok(version) => StatusResponse {
                version: "v2".into(),
                healthz: "ok".into(),
                key_id: version,
            },
            Err(e) => StatusResponse {
                version: "v2".into(),
                healthz: e.to_string(),
                key_id: String::new(),
            },
        };
        Ok(Response::new(response))
    }

    async fn encrypt(
        &self,
        request: Request<EncryptRequest>,
    ) -> Result<Response<EncryptResponse>, Status> {
        let request = request.into_inner();
        if request.plaintext.is_empty() || request.plaintext.len() > MAX_PLAINTEXT {
            return Err(Status::invalid_argument(format!(
                "plaintext must be 1 to {MAX_PLAINTEXT} bytes"
            )));
        }
        let answer = self
            .client
            .call(
                http::Method::POST,
                "/20180608/encrypt",
                Some(&json!({"keyId": self.key_id, "plaintext": STANDARD.encode(&request.plaintext)})),
            )
            .await?;
        let ciphertext = STANDARD
            .decode(field(&answer, "ciphertext")?)
            .map_err(|_| Status::internal("Portcullis returned a ciphertext that is not base64"))?;
        tracing::info!(uid = %request.uid, key = %self.key_id, "wrapped a data key");
        Ok(Response::new(EncryptResponse {
            ciphertext,
            key_id: field(&answer, "keyVersionId")?,
            annotations: HashMap::from([(
                KEY_ANNOTATION.to_owned(),
                self.key_id.clone().into_bytes(),
            )]),
        }))
    }

    async fn decrypt(
        &self,
        request: Request<DecryptRequest>,
    ) -> Result<Response<DecryptResponse>, Status> {
        let request = request.into_inner();
        if request.ciphertext.is_empty() {
            return Err(Status::invalid_argument("ciphertext is empty"));
        }
        let key = match request.annotations.get(KEY_ANNOTATION) {
            Some(bytes) => String::from_utf8(bytes.clone())
                .map_err(|_| Status::invalid_argument("the key annotation is not UTF-8"))?,
            None => self.key_id.clone(),
        };
        let mut body = json!({"keyId": key, "ciphertext": STANDARD.encode(&request.ciphertext)});
        if !request.key_id.is_empty()
            && let Some(map) = body.as_object_mut()
        {
            map.insert("keyVersionId".into(), Value::String(request.key_id.clone()));
        }
        let answer = self
            .client
            .call(http::Method::POST, "/20180608/decrypt", Some(&body))
            .await?;
        let plaintext = STANDARD
            .decode(field(&answer, "plaintext")?)
            .map_err(|_| Status::internal("Portcullis returned a plaintext that is not base64"))?;
        tracing::info!(uid = %request.uid, key = %key, "unwrapped a data key");
        Ok(Response::new(DecryptResponse { plaintext }))
    }
}
