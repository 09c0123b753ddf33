//! Pulls an image from a registry that speaks the distribution API (ours, or any other) into
//! an OCI layout in a temporary directory, so `scan image` reads it like a local one. Token
//! auth as `docker login` does it: a 401's `WWW-Authenticate: Bearer realm=…` names where to
//! trade Basic credentials for a token.

use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;

/// Manifests and indexes larger than this are refused, as the registry itself refuses them
const MAX_MANIFEST: usize = 4 << 20;

const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// `[docker://]host[:port]/repository[:tag|@digest]`
pub(crate) struct ImageName {
    host: String,
    repository: String,
    reference: String,
}

impl ImageName {
    /// Reads a registry reference; `None` when `text` does not name a registry host
    pub(crate) fn parse(text: &str) -> Option<ImageName> {
        if ["oci:", "oci-archive:", "docker-archive:"]
            .iter()
            .any(|t| text.starts_with(t))
        {
            return None;
        }
        let text = text.strip_prefix("docker://").unwrap_or(text);
        let (host, rest) = text.split_once('/')?;
        if host.is_empty()
            || host.ends_with(':')
            || !(host.contains('.') || host.contains(':') || host == "localhost")
        {
            return None;
        }
        let (repository, reference) = match rest.split_once('@') {
            Some((repository, digest)) => (repository, digest.to_owned()),
            None => match rest.rsplit_once(':') {
                Some((repository, tag)) if !tag.contains('/') => (repository, tag.to_owned()),
                _ => (rest, "latest".to_owned()),
            },
        };
        Some(ImageName {
            host: host.to_owned(),
            repository: repository.to_owned(),
            reference,
        })
    }
}

struct Registry {
    http: reqwest::Client,
    base: String,
    creds: Option<(String, String)>,
    token: Option<String>,
    repository: String,
}

impl Registry {
    async fn get(&mut self, path: &str, accept: &str) -> anyhow::Result<reqwest::Response> {
        for _ in 0..2 {
            let mut request = self
                .http
                .get(format!("{}{path}", self.base))
                .header("accept", accept);
            if let Some(token) = &self.token {
                request = request.bearer_auth(token);
            }
            let response = request
                .send()
                .await
                .with_context(|| format!("GET {}{path}", self.base))?;
            if response.status() != reqwest::StatusCode::UNAUTHORIZED || self.token.is_some() {
                return Ok(response);
            }
            let challenge = response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            self.token = Some(self.login(&challenge).await?);
        }
        bail!("the registry refused the credentials")
    }

    async fn login(&self, challenge: &str) -> anyhow::Result<String> {
        let Some(params) = challenge.strip_prefix("Bearer ") else {
            bail!("the registry asks for {challenge:?}, not a bearer token");
        };
        let mut realm = None;
        let mut query = Vec::new();
        for part in params.split(',') {
            if let Some((key, value)) = part.trim().split_once('=') {
                let value = value.trim_matches('"').to_owned();
                if key == "realm" {
                    realm = Some(value);
                } else {
                    query.push((key.to_owned(), value));
                }
            }
        }
        let realm = realm.context("the registry's challenge names no realm")?;
        let url = url::Url::parse(&realm)
            .with_context(|| format!("the registry's token realm {realm:?}"))?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if url.scheme() != "https" && !loopback {
            bail!(
                "the registry's token realm {realm} is not HTTPS; credentials are not sent there"
            );
        }
        // Registries that leave the scope out of the challenge expect the client's own.
        if !query.iter().any(|(key, _)| key == "scope") {
            query.push((
                "scope".into(),
                format!("repository:{}:pull", self.repository),
            ));
        }
        let mut url = url;
        url.query_pairs_mut().extend_pairs(&query);
        let mut request = self.http.get(url);
        if let Some((user, password)) = &self.creds {
            request = request.basic_auth(user, Some(password));
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("GET {realm}"))?;
        if !response.status().is_success() {
            bail!("{realm} refused the credentials: {}", response.status());
        }
        let body: Value = response.json().await?;
        body.get("token")
            .or_else(|| body.get("access_token"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .context("the token endpoint answered without a token")
    }

    async fn json(&mut self, path: &str, accept: &str) -> anyhow::Result<(Vec<u8>, Value)> {
        let mut response = self.get(path, accept).await?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_MANIFEST {
                bail!("GET {path}: more than {MAX_MANIFEST} bytes is not a manifest");
            }
        }
        if !status.is_success() {
            bail!("GET {path}: {status}: {}", String::from_utf8_lossy(&bytes));
        }
        let value =
            serde_json::from_slice(&bytes).with_context(|| format!("GET {path}: not JSON"))?;
        Ok((bytes, value))
    }
}

fn verify(expected: &portcullis_distribution::Digest, bytes: &[u8]) -> anyhow::Result<()> {
    let actual = portcullis_distribution::Digest::of(expected.algorithm(), bytes);
    if actual != *expected {
        bail!("the registry sent {actual} for {expected}");
    }
    Ok(())
}

/// Pulls `name` into an OCI layout under `dir`
pub(crate) async fn pull(
    name: &ImageName,
    creds: Option<&str>,
    cert_bundle: Option<&Path>,
    tls_verify: bool,
    dir: &Path,
) -> anyhow::Result<()> {
    let mut http = reqwest::Client::builder().danger_accept_invalid_certs(!tls_verify);
    if let Some(bundle) = cert_bundle {
        let pem = std::fs::read(bundle).with_context(|| format!("reading {}", bundle.display()))?;
        for certificate in reqwest::Certificate::from_pem_bundle(&pem)? {
            http = http.add_root_certificate(certificate);
        }
    }
    let mut registry = Registry {
        http: http.build()?,
        base: format!("https://{}/v2/{}", name.host, name.repository),
        creds: creds
            .and_then(|c| c.split_once(':'))
            .map(|(u, p)| (u.to_owned(), p.to_owned())),
        token: None,
        repository: name.repository.clone(),
    };
    let blobs = dir.join("blobs");
    let (mut bytes, mut manifest) = registry
        .json(&format!("/manifests/{}", name.reference), ACCEPT)
        .await?;
    // A pinned digest is what the user trusts: the bytes must be exactly that.
    if let Ok(pinned) = portcullis_distribution::Digest::parse(&name.reference) {
        verify(&pinned, &bytes)?;
    }
    for _ in 0..2 {
        let Some(manifests) = manifest.get("manifests").and_then(Value::as_array) else {
            break;
        };
        let pick = manifests
            .iter()
            .find(|m| {
                m.pointer("/platform/os").and_then(Value::as_str) == Some("linux")
                    && m.pointer("/platform/architecture").and_then(Value::as_str) == Some("amd64")
            })
            .or_else(|| manifests.first())
            .and_then(|m| m.get("digest").and_then(Value::as_str))
            .context("an empty image index")?
            .to_owned();
        (bytes, manifest) = registry.json(&format!("/manifests/{pick}"), ACCEPT).await?;
        let picked = portcullis_distribution::Digest::parse(&pick)
            .map_err(|e| anyhow::anyhow!("the index names {pick:?}: {e}"))?;
        verify(&picked, &bytes)?;
    }
    let digest =
        portcullis_distribution::Digest::of(portcullis_distribution::Algorithm::Sha256, &bytes);
    std::fs::create_dir_all(blobs.join("sha256"))?;
    std::fs::write(blobs.join("sha256").join(digest.hex()), &bytes)?;
    let layers = manifest
        .get("layers")
        .unwrap_or(&Value::Null)
        .as_array()
        .context("the manifest lists no layers")?;
    for layer in layers {
        let layer_digest = layer
            .get("digest")
            .and_then(Value::as_str)
            .context("a layer without a digest")?;
        let expected = portcullis_distribution::Digest::parse(layer_digest)
            .map_err(|e| anyhow::anyhow!("layer digest {layer_digest:?}: {e}"))?;
        let response = registry
            .get(&format!("/blobs/{layer_digest}"), "*/*")
            .await?;
        if !response.status().is_success() {
            bail!("GET blob {layer_digest}: {}", response.status());
        }
        let size = layer
            .get("size")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        let dir = blobs.join(expected.algorithm().as_str());
        std::fs::create_dir_all(&dir)?;
        let mut file = tokio::fs::File::create(dir.join(expected.hex())).await?;
        let mut hasher = portcullis_distribution::Hasher::new(expected.algorithm());
        let mut response = response;
        let mut received = 0u64;
        while let Some(chunk) = response.chunk().await? {
            received = received.saturating_add(chunk.len() as u64);
            if received > size {
                bail!("layer {layer_digest} is larger than the {size} bytes its manifest gives");
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        if hasher.finish() != expected {
            bail!("layer {layer_digest} does not match its digest");
        }
    }
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": manifest.get("mediaType").and_then(Value::as_str).unwrap_or("application/vnd.oci.image.manifest.v1+json"),
        "digest": digest.to_string(), "size": bytes.len()}]});
    std::fs::write(dir.join("index.json"), index.to_string())?;
    Ok(())
}
