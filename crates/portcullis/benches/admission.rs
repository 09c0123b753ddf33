//! Admission benchmark: the latency of the image verification policy for a pod of 8
//! containers sharing one signed image, through the admission webhook over HTTPS (what an
//! attached kube-apiserver pays), cold (the image's signature never checked before) and
//! warm (checked before: IAM and the key's state are asked again, the vault's verification
//! is cached), and admissions per second with 4 concurrent callers.
//!
//! The peers (`supply-chain.md` §7, not run here): Kyverno took about 21 s for this case, and
//! cosign-based checks about 2 s per image.
//!
//! `cargo bench -p portcullis --bench admission`. `BENCH_COLD` (default 60) images are
//! signed for the cold samples, `BENCH_WARM` (default 2000) warm admissions are timed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark driver: a panic is a failed run"
)]

use std::time::{Duration, Instant};

use portcullis_testing::{ApiClient, Server, ServerOptions};
use serde_json::{Value, json};

const REPO: &str = "bench/app";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn ok(api: &ApiClient, method: &str, path: &str, body: Option<Value>) -> Value {
    let reply = api.send(method, path, body).await;
    assert!(
        reply.status < 300,
        "{method} {path}: {} {}",
        reply.status,
        reply.body
    );
    reply.body
}

fn digest(bytes: &[u8]) -> String {
    portcullis_distribution::Digest::of(portcullis_distribution::Algorithm::Sha256, bytes)
        .to_string()
}

/// A registry token for the admin, with every scope
async fn bearer(server: &Server, http: &reqwest::Client) -> String {
    let login = server.registry_login().await;
    http.get(format!("{}/20180419/docker/token", server.endpoint()))
        .basic_auth(
            format!("{}/{}", login.tenancy_name, login.user_name),
            Some(&login.token),
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn push_blob(http: &reqwest::Client, base: &str, token: &str, bytes: &[u8]) -> String {
    let d = digest(bytes);
    let started = http
        .post(format!("{base}/v2/{REPO}/blobs/uploads/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let url = if location.starts_with("http") {
        location
    } else {
        format!("{base}{location}")
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let done = http
        .put(format!("{url}{sep}digest={d}"))
        .bearer_auth(token)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 201);
    d
}

/// Pushes an image whose config differs by `n`; returns its digest
async fn push_image(http: &reqwest::Client, base: &str, token: &str, n: usize) -> String {
    let config =
        serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux", "n": n})).unwrap();
    let layer = b"bench layer".to_vec();
    let config_digest = push_blob(http, base, token, &config).await;
    let layer_digest = push_blob(http, base, token, &layer).await;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
    }))
    .unwrap();
    let d = digest(&manifest);
    let reply = http
        .put(format!("{base}/v2/{REPO}/manifests/{d}"))
        .bearer_auth(token)
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    d
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let cold = env_usize("BENCH_COLD", 60);
    let warm = env_usize("BENCH_WARM", 2000);
    let server = Server::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_portcullis")),
        ServerOptions::default(),
    );
    let api = server.admin();
    let http = api.http().clone();
    let base = server.endpoint().to_owned();
    let host = base.trim_start_matches("https://").to_owned();
    let tenancy = server.tenancy();
    let token = bearer(&server, &http).await;

    // A vault key and `cold + 1` signed images.
    let vault = ok(
        &api,
        "POST",
        "/20180608/vaults",
        Some(json!({"compartmentId": tenancy, "displayName": "bench"})),
    )
    .await;
    let management = format!("/kms/{}/management", vault["id"].as_str().unwrap());
    let key = ok(&api, "POST", &format!("{management}/20180608/keys"), Some(json!({"compartmentId": tenancy, "displayName": "release", "keyShape": {"algorithm": "RSA", "length": 256}}))).await;
    let key_id = key["id"].as_str().unwrap().to_owned();
    let version = key["currentKeyVersion"].as_str().unwrap().to_owned();
    let mut digests = Vec::new();
    for n in 0..=cold {
        digests.push(push_image(&http, &base, &token, n).await);
    }
    let images = ok(
        &api,
        "GET",
        &format!("/20160918/container/images?compartmentId={tenancy}&repositoryName={REPO}"),
        None,
    )
    .await;
    for d in &digests {
        let image_id = images["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["digest"] == d.as_str())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let message = portcullis_sign::SignedMessage {
            description: String::new(),
            image_digest: d.clone(),
            kms_key_id: key_id.clone(),
            kms_key_version_id: version.clone(),
            metadata: String::new(),
            region: "us-ashburn-1".into(),
            repository_name: REPO.into(),
            signing_algorithm: "SHA_256_RSA_PKCS_PSS".into(),
        }
        .encode();
        let signed = ok(&api, "POST", "/20180608/sign", Some(json!({"message": message, "keyId": key_id, "keyVersionId": version, "signingAlgorithm": "SHA_256_RSA_PKCS_PSS", "messageType": "RAW"}))).await;
        ok(&api, "POST", "/20160918/container/imageSignatures", Some(json!({"compartmentId": tenancy, "imageId": image_id, "kmsKeyId": key_id, "kmsKeyVersionId": version, "message": message, "signature": signed["signature"], "signingAlgorithm": "SHA_256_RSA_PKCS_PSS"}))).await;
    }

    // A cluster whose policy lists the key, allowed to read repos and use keys, attached.
    let created = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("--config-file")
        .arg(server.config_file())
        .args([
            "ce",
            "cluster",
            "create",
            "--compartment-id",
            &tenancy,
            "--name",
            "bench",
            "--kubernetes-version",
            "v1.32.1",
            "--wait-for-state",
            "SUCCEEDED",
            "--image-policy-config",
        ])
        .arg(json!({"isPolicyEnabled": true, "keyDetails": [{"kmsKeyId": key_id}]}).to_string())
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let work: Value = serde_json::from_slice(&created.stdout).unwrap();
    let cluster = work["data"]["resources"][0]["identifier"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&api, "POST", "/20160918/policies", Some(json!({
        "compartmentId": tenancy, "name": "bench-cluster", "description": "d",
        "statements": [
            format!("Allow any-user to read repos in tenancy where request.user.id = '{cluster}'"),
            format!("Allow any-user to use keys in tenancy where request.user.id = '{cluster}'"),
        ],
    }))).await;
    let attached = ok(
        &api,
        "POST",
        &format!("/20180222/clusters/{cluster}/actions/attach"),
        None,
    )
    .await;
    let credential = attached["token"].as_str().unwrap().to_owned();
    let url = format!("{base}/clusters/{cluster}/webhooks/admit");
    let review = |image: &str| {
        let containers: Vec<Value> = (0..8)
            .map(|i| json!({"name": format!("c{i}"), "image": image}))
            .collect();
        json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "bench", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "operation": "CREATE", "namespace": "default", "name": "p",
                "userInfo": {"username": "bench"},
                "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": containers}},
            },
        })
    };
    let admit = move |body: Value| {
        let http = http.clone();
        let url = url.clone();
        let credential = credential.clone();
        async move {
            let started = Instant::now();
            let answer: Value = http
                .post(&url)
                .bearer_auth(&credential)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(answer["response"]["allowed"], true, "{answer}");
            started.elapsed()
        }
    };

    // Connections warm, the cluster and IAM snapshot loaded: one admission of image 0.
    admit(review(&format!("{host}/{REPO}@{}", digests[0]))).await;
    let mut cold_times = Vec::new();
    for d in &digests[1..] {
        cold_times.push(admit(review(&format!("{host}/{REPO}@{d}"))).await);
    }
    let warm_body = review(&format!("{host}/{REPO}@{}", digests[0]));
    let mut warm_times = Vec::new();
    for _ in 0..warm {
        warm_times.push(admit(warm_body.clone()).await);
    }
    cold_times.sort();
    warm_times.sort();

    let window = Duration::from_secs(3);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let admit = admit.clone();
        let body = warm_body.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < window {
                admit(body.clone()).await;
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();

    println!(
        "admission of a pod of 8 containers sharing one signed image, webhook over HTTPS on loopback:"
    );
    println!(
        "  cold ({} images, first check of each signature): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        cold_times.len(),
        ms(percentile(&cold_times, 0.5)),
        ms(percentile(&cold_times, 0.99)),
        ms(*cold_times.last().unwrap())
    );
    println!(
        "  warm ({} admissions): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        warm_times.len(),
        ms(percentile(&warm_times, 0.5)),
        ms(percentile(&warm_times, 0.99)),
        ms(*warm_times.last().unwrap())
    );
    println!("  throughput, 4 concurrent callers, warm: {rate:.0} admissions/s");
    println!(
        "  peers (supply-chain.md §7, not run here): Kyverno about 21 s for this case; cosign-based checks about 2 s per image"
    );
}
