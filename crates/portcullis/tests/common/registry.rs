//! A client of the registry for the tests: login through the token endpoint, pushes.

use std::path::Path;

use portcullis_distribution::{Algorithm, Digest};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

/// `<tenancy>/<user>:<auth token>` for the server's admin: what `docker login` and
/// `skopeo --creds` take
pub(crate) async fn creds(server: &portcullis_testing::Server) -> String {
    server.registry_login().await.creds()
}

/// A client of the registry holding a bearer token from the token endpoint
pub(crate) struct Registry {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) token: String,
}

pub(crate) fn digest(bytes: &[u8]) -> String {
    Digest::of(Algorithm::Sha256, bytes).to_string()
}

impl Registry {
    pub(crate) async fn login(server: &portcullis_testing::Server) -> Registry {
        Registry::login_to(server, "conformance").await
    }

    /// A client whose token covers pull and push on `repository`
    pub(crate) async fn login_to(
        server: &portcullis_testing::Server,
        repository: &str,
    ) -> Registry {
        let admin = server.admin();
        let creds = creds(server).await;
        let (user, token) = creds.split_once(':').unwrap();
        let http = admin.http().clone();
        let base = server.endpoint().to_owned();
        // The challenge names the realm; trade Basic credentials there for a token.
        let challenge = http.get(format!("{base}/v2/")).send().await.unwrap();
        assert_eq!(challenge.status(), StatusCode::UNAUTHORIZED);
        let www = challenge.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(www.starts_with("Bearer realm=\"https://"), "{www}");
        let realm = www.split('"').nth(1).unwrap().to_owned();
        let issued: Value = http
            .get(format!(
                "{realm}?service=registry&scope=repository:{repository}:pull,push"
            ))
            .basic_auth(user, Some(token))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Registry {
            http,
            base,
            token: issued["token"].as_str().unwrap().to_owned(),
        }
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Response {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut request = self.http.request(method, url).bearer_auth(&self.token);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        request.send().await.unwrap()
    }

    /// Pushes a blob monolithically (POST then PUT)
    pub(crate) async fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let d = digest(bytes);
        let started = self
            .send(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/"),
                &[],
                None,
            )
            .await;
        assert_eq!(started.status(), StatusCode::ACCEPTED);
        let location = location(&started);
        let done = self
            .send(
                Method::PUT,
                &format!("{}{}digest={d}", location, sep(&location)),
                &[("content-type", "application/octet-stream")],
                Some(bytes.to_vec()),
            )
            .await;
        assert_eq!(
            done.status(),
            StatusCode::CREATED,
            "{}",
            done.text().await.unwrap_or_default()
        );
        d
    }

    /// Pushes an image manifest over a config and layers (pushing them first)
    pub(crate) async fn push_image(
        &self,
        repo: &str,
        reference: &str,
        seed: &str,
        extra: Value,
    ) -> (String, Response) {
        let config = format!("{{\"seed\":\"{seed}\"}}");
        let layer = format!("layer {seed}");
        let config_digest = self.push_blob(repo, config.as_bytes()).await;
        let layer_digest = self.push_blob(repo, layer.as_bytes()).await;
        let mut manifest = json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
        });
        if let (Some(map), Value::Object(extra)) = (manifest.as_object_mut(), extra) {
            map.extend(extra);
        }
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let d = digest(&bytes);
        let reference = if reference.is_empty() {
            d.clone()
        } else {
            reference.to_owned()
        };
        let reply = self
            .send(
                Method::PUT,
                &format!("/v2/{repo}/manifests/{reference}"),
                &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                Some(bytes),
            )
            .await;
        (d, reply)
    }
}

pub(crate) fn location(response: &Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

pub(crate) fn sep(location: &str) -> &'static str {
    if location.contains('?') { "&" } else { "?" }
}

pub(crate) async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Writes an OCI layout holding one image of `layers`, tagged `v1`
pub(crate) fn oci_layout(dir: &Path, layers: &[Vec<u8>]) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let digest = self::digest(bytes);
        std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), bytes).unwrap();
        digest
    };
    let descriptors: Vec<Value> = layers
        .iter()
        .map(|l| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(l), "size": l.len()}))
        .collect();
    let config = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).to_string();
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config.as_bytes()), "size": config.len()},
        "layers": descriptors}).to_string();
    let digest = put(manifest.as_bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
            "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]})
        .to_string(),
    )
    .unwrap();
}

/// An uncompressed tar layer holding Python metadata for each (name, version): what the
/// scanner reads as installed packages
pub(crate) fn python_layer(packages: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, version) in packages {
        let text = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(
                &mut header,
                format!("usr/lib/python3/dist-packages/{name}-{version}.dist-info/METADATA"),
                text.as_bytes(),
            )
            .unwrap();
    }
    builder.into_inner().unwrap()
}
