//! A signed HTTPS client for the Portcullis (and OCI) REST API, configured like `oci`.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use portcullis_auth::{ApiPrivateKey, RequestSigner};
use reqwest::Method;
use serde_json::Value;
use url::Url;

use super::config;

/// Options every API command takes, named as `oci` names them
#[derive(Clone, Debug, clap::Args)]
pub(crate) struct GlobalOptions {
    /// The CLI config file
    #[arg(long, global = true, env = "OCI_CLI_CONFIG_FILE")]
    pub(crate) config_file: Option<PathBuf>,
    /// The profile in the config file
    #[arg(
        long,
        global = true,
        env = "OCI_CLI_PROFILE",
        default_value = "DEFAULT"
    )]
    pub(crate) profile: String,
    /// The server URL (overrides the profile's `endpoint`)
    #[arg(long, global = true)]
    pub(crate) endpoint: Option<String>,
    /// CA bundle to trust (overrides the profile's `cert_bundle`)
    #[arg(long, global = true)]
    pub(crate) cert_bundle: Option<PathBuf>,
    /// The region (overrides the profile's `region`)
    #[arg(long, global = true)]
    pub(crate) region: Option<String>,
}

/// The answer to one API call
#[derive(Debug)]
pub(crate) struct Reply {
    /// HTTP status
    pub(crate) status: u16,
    /// `etag`, if any
    pub(crate) etag: Option<String>,
    /// `opc-next-page`, if any
    pub(crate) next_page: Option<String>,
    /// `opc-request-id`
    pub(crate) request_id: Option<String>,
    /// `opc-work-request-id`, for asynchronous operations
    pub(crate) work_request_id: Option<String>,
    /// The JSON body (`Null` when there is none)
    pub(crate) body: Value,
}

/// A configured, signing client
#[derive(Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    endpoint: Url,
    signer: RequestSigner,
    /// The tenancy from the profile
    pub(crate) tenancy: String,
    /// The region (command line first, then the profile)
    pub(crate) region: Option<String>,
}

/// A profile's identity: who signs, for which tenancy, in which region
#[derive(Debug)]
pub(crate) struct Credentials {
    /// Signs as the profile's user and key
    pub(crate) signer: RequestSigner,
    /// The tenancy
    pub(crate) tenancy: String,
    /// The region (command line first, then the profile)
    pub(crate) region: Option<String>,
}

/// Loads the profile's key and identity; no network
pub(crate) fn credentials(
    options: &GlobalOptions,
) -> anyhow::Result<(Credentials, config::Profile)> {
    let path = options
        .config_file
        .clone()
        .unwrap_or_else(config::default_path);
    let profile = config::load(&path, &options.profile)?;
    let key_path = config::expand(profile.require("key_file")?);
    let pem = std::fs::read_to_string(&key_path)
        .with_context(|| format!("reading the key file {}", key_path.display()))?;
    let key = ApiPrivateKey::from_pem(&pem)
        .with_context(|| format!("loading the key in {}", key_path.display()))?;
    let tenancy = profile.require("tenancy")?.to_owned();
    let user = profile.require("user")?.to_owned();
    let fingerprint = profile.require("fingerprint")?.to_owned();
    let region = options
        .region
        .clone()
        .or_else(|| profile.get("region").map(str::to_owned));
    Ok((
        Credentials {
            signer: RequestSigner::new(&tenancy, &user, &fingerprint, key),
            tenancy,
            region,
        },
        profile,
    ))
}

impl Client {
    /// Builds a client from the config file and the command-line overrides
    pub(crate) fn new(options: &GlobalOptions) -> anyhow::Result<Client> {
        let (credentials, profile) = credentials(options)?;
        let endpoint = options
            .endpoint
            .clone()
            .or_else(|| profile.get("endpoint").map(str::to_owned))
            .ok_or_else(|| {
                anyhow!("no endpoint: set `endpoint` in the profile or pass --endpoint")
            })?;
        let endpoint =
            Url::parse(&endpoint).with_context(|| format!("bad endpoint `{endpoint}`"))?;
        let bundle = options
            .cert_bundle
            .clone()
            .or_else(|| profile.get("cert_bundle").map(config::expand));
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(std::time::Duration::from_secs(120))
            .no_proxy();
        if let Some(bundle) = bundle {
            let pem = std::fs::read(&bundle)
                .with_context(|| format!("reading the CA bundle {}", bundle.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("parsing the CA bundle {}", bundle.display()))?;
            builder = builder.tls_certs_only(certs);
        }
        Ok(Client {
            http: builder.build().context("building the HTTP client")?,
            endpoint,
            signer: credentials.signer,
            tenancy: credentials.tenancy,
            region: credentials.region,
        })
    }

    /// Sends a signed request; `query` pairs are URL-encoded, `body` is JSON
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> anyhow::Result<Reply> {
        // A vault's endpoints carry a path (`/kms/<vault>/management`): API paths go under it.
        let base = self.endpoint.path().trim_end_matches('/');
        let mut url = self
            .endpoint
            .join(&format!("{base}{path}"))
            .with_context(|| format!("bad path `{path}`"))?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        let path_and_query = &url[url::Position::BeforePath..];
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(anyhow!("the endpoint has no host")),
        };
        let bytes = body.map(serde_json::to_vec).transpose()?;
        let signed = self.signer.sign(
            method.as_str(),
            path_and_query,
            &host,
            jiff::Timestamp::now(),
            bytes.as_deref().map(|b| (b, "application/json")),
        )?;
        let mut request = self
            .http
            .request(method, url.clone())
            .header("date", &signed.date)
            .header("authorization", &signed.authorization)
            .header("accept", "application/json");
        if let Some((length, content_type, hash)) = &signed.body {
            request = request
                .header("content-length", length)
                .header("content-type", content_type)
                .header("x-content-sha256", hash);
        }
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        if let Some(bytes) = bytes {
            request = request.body(bytes);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("calling {url}"))?;
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (etag, next_page, request_id, work_request_id) = (
            header("etag"),
            header("opc-next-page"),
            header("opc-request-id"),
            header("opc-work-request-id"),
        );
        let status = response.status().as_u16();
        let text = response.text().await.context("reading the response")?;
        let body = if text.is_empty() {
            Value::Null
        } else if content_type.starts_with("application/json") {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        } else {
            Value::String(text)
        };
        Ok(Reply {
            status,
            etag,
            next_page,
            request_id,
            work_request_id,
            body,
        })
    }
}
