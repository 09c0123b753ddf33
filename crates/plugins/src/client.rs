//! The HTTPS client the plugins use to reach Portcullis: as the cluster (its attach
//! credential, a bearer token) or as a user (an OCI-signed request with their API key).

use std::path::Path;

use portcullis_auth::{ApiPrivateKey, RequestSigner};
use serde::Deserialize;
use serde_json::Value;

use crate::PluginError;

/// `cluster-credential.json`, written by `portcullis ce cluster attach`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterCredential {
    /// `https://host:port` of the Portcullis server
    pub endpoint: String,
    /// The cluster
    pub cluster_id: String,
    /// The cluster's attach credential (a bearer token)
    pub token: String,
    /// PEM of the CA that signed the server's certificate, if it made its own
    #[serde(default)]
    pub ca_certificate: Option<String>,
}

impl ClusterCredential {
    /// Reads a credential file
    pub fn read(path: &Path) -> Result<ClusterCredential, PluginError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PluginError::Config(format!("reading {}: {e}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| {
            PluginError::Config(format!(
                "{} is not a cluster credential: {e}",
                path.display()
            ))
        })
    }
}

enum Auth {
    Bearer(String),
    Signed(Box<RequestSigner>),
}

/// A client of one Portcullis server
pub struct PortcullisClient {
    http: reqwest::Client,
    endpoint: String,
    auth: Auth,
}

impl std::fmt::Debug for PortcullisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortcullisClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

fn http(ca_pem: Option<&str>) -> Result<reqwest::Client, PluginError> {
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(10));
    if let Some(pem) = ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| PluginError::Config(format!("the CA certificate does not parse: {e}")))?;
        builder = builder.tls_certs_only(certs);
    }
    builder
        .build()
        .map_err(|e| PluginError::Config(format!("building the HTTPS client: {e}")))
}

impl PortcullisClient {
    /// Acts as the cluster named in `credential`
    pub fn as_cluster(credential: &ClusterCredential) -> Result<PortcullisClient, PluginError> {
        Ok(PortcullisClient {
            http: http(credential.ca_certificate.as_deref())?,
            endpoint: credential.endpoint.trim_end_matches('/').to_owned(),
            auth: Auth::Bearer(credential.token.clone()),
        })
    }

    /// Acts as a user, signing with their API key
    pub fn as_user(
        endpoint: &str,
        ca_pem: Option<&str>,
        tenancy: &str,
        user: &str,
        fingerprint: &str,
        key_pem: &str,
    ) -> Result<PortcullisClient, PluginError> {
        let key = ApiPrivateKey::from_pem(key_pem)
            .map_err(|e| PluginError::Config(format!("the private key does not load: {e}")))?;
        Ok(PortcullisClient {
            http: http(ca_pem)?,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            auth: Auth::Signed(Box::new(RequestSigner::new(
                tenancy,
                user,
                fingerprint,
                key,
            ))),
        })
    }

    /// Sends a request and returns the JSON body of a 2xx answer
    pub async fn call(
        &self,
        method: http::Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value, PluginError> {
        let bytes = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| PluginError::InvalidRequest(e.to_string()))?;
        let url = format!("{}{path_and_query}", self.endpoint);
        let mut request = self.http.request(method.clone(), &url);
        match &self.auth {
            Auth::Bearer(token) => {
                request = request.bearer_auth(token);
                if let Some(bytes) = &bytes {
                    request = request.header("content-type", "application/json");
                    request = request.body(bytes.clone());
                }
            }
            Auth::Signed(signer) => {
                let host = self.endpoint.trim_start_matches("https://").to_owned();
                let signed = signer
                    .sign(
                        method.as_str(),
                        path_and_query,
                        &host,
                        jiff::Timestamp::now(),
                        bytes.as_deref().map(|b| (b, "application/json")),
                    )
                    .map_err(|e| PluginError::Config(format!("signing: {e}")))?;
                request = request
                    .header("date", signed.date)
                    .header("authorization", signed.authorization);
                if let Some((length, content_type, hash)) = signed.body {
                    request = request
                        .header("content-length", length)
                        .header("content-type", content_type)
                        .header("x-content-sha256", hash);
                }
                if let Some(bytes) = bytes {
                    request = request.body(bytes);
                }
            }
        }
        let response = request
            .send()
            .await
            .map_err(|e| PluginError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .bytes()
            .await
            .map_err(|e| PluginError::Transport(e.to_string()))?;
        let value: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let field = |name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        Err(PluginError::Server {
            status,
            code: field("code"),
            message: field("message"),
        })
    }
}
