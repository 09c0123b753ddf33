//! The journey the README's "End to end" section walks a new user through, in its order and
//! with its tools: `serve` → a cluster → `create-kubeconfig` → kubectl with short-lived
//! tokens → a service-account token for CI → an image pushed with skopeo → its scan → a
//! signature with a vault key → the cluster's image policy on → the signed image deployed
//! with the CI token, and an unsigned one refused. Every step is our CLI, kubectl or
//! skopeo, as the README has them; the tests of each feature cover the corners.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is a failed test"
)]

use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use portcullis_testing::{Server, ServerOptions};
use serde_json::{Value, json};

mod common;

use common::kubectl::{Kubectl, kubeconfig_for, portcullis, with_token};

const REPO: &str = "team-a/web";

/// `portcullis <args>` as the bootstrap administrator; its JSON output
fn pc(server: &Server, args: &[&str]) -> Value {
    let out = portcullis(server, &server.config_file(), args);
    assert!(
        out.status.success(),
        "portcullis {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {value}"))
        .to_owned()
}

/// One advisory for the package the image carries, so its scan has something to say
fn seed(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("PCJOURNEY-0001.json"),
        json!({
            "schema_version": "1.6.0", "id": "PCJOURNEY-0001", "modified": "2026-01-01T00:00:00Z",
            "aliases": ["CVE-2099-4242"], "summary": "pcjourney leaks its secrets",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "pcjourney"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1"}]}]}],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"}],
        })
        .to_string(),
    )
    .unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// `skopeo copy` of an OCI layout to `reference` with the README's login
fn skopeo_push(work: &Path, layout: &Path, creds: &str, certs: &Path, reference: &str) {
    let out = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-creds", creds, "--dest-cert-dir"])
        .arg(certs)
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!("docker://{reference}"))
        .env("HOME", work)
        .output()
        .expect("skopeo is installed (scripts/test installs it)");
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn apply(kubectl: &Kubectl, dir: &Path, name: &str, yaml: &str) -> std::process::Output {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    kubectl.run(&["apply", "-f", file.to_str().unwrap()])
}

#[test]
fn the_readme_journey_from_serve_to_a_refused_unsigned_image() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    seed(&dir.join("seed"));
    // serve, on the embedded store (with advisories, as `--vulndb-seed` gives them)
    let server = Server::start(
        common::binary(),
        ServerOptions {
            args: vec![
                "--vulndb-seed".into(),
                dir.join("seed").display().to_string(),
            ],
            ..ServerOptions::default()
        },
    );
    let tenancy = server.tenancy();
    let me = server.config_value("user");
    let host = server.endpoint().trim_start_matches("https://").to_owned();

    // A cluster, a kubeconfig, and kubectl with short-lived tokens.
    let cluster = common::create_cluster(&server, "dev");
    let admin = kubeconfig_for(&server, &server.config_file(), &cluster, dir);
    assert!(admin.ok(&["get", "ns"]).contains("kube-system"));
    assert!(admin.ok(&["auth", "whoami"]).contains(&me));

    // A service-account token for CI, by OKE's procedure.
    admin.ok(&["-n", "kube-system", "create", "serviceaccount", "ci"]);
    admin.ok(&[
        "create",
        "clusterrolebinding",
        "ci-admin",
        "--clusterrole=cluster-admin",
        "--serviceaccount=kube-system:ci",
    ]);
    // The README's manifest, as written there.
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: ci-token, namespace: kube-system, annotations: {kubernetes.io/service-account.name: ci}}\ntype: kubernetes.io/service-account-token\n";
    let applied = apply(&admin, dir, "ci-token", secret);
    assert!(applied.status.success(), "{applied:?}");
    let encoded = admin.ok(&[
        "-n",
        "kube-system",
        "get",
        "secret",
        "ci-token",
        "-o",
        "jsonpath={.data.token}",
    ]);
    use base64::Engine as _;
    let token = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .unwrap(),
    )
    .unwrap();
    let ci = with_token(&admin, &token, &dir.join("ci.kubeconfig"));
    assert!(
        ci.ok(&["auth", "whoami"])
            .contains("system:serviceaccount:kube-system:ci")
    );

    // A scanner for the repository, then an image pushed with skopeo.
    let recipe = pc(
        &server,
        &[
            "vulnerability-scanning",
            "container",
            "scan",
            "recipe",
            "create",
            "--compartment-id",
            &tenancy,
            "--scan-settings",
            r#"{"scanLevel":"STANDARD"}"#,
        ],
    );
    pc(
        &server,
        &[
            "vulnerability-scanning",
            "container",
            "scan",
            "target",
            "create",
            "--compartment-id",
            &tenancy,
            "--container-scan-recipe-id",
            &text(&recipe, "/data/id"),
            "--target-registry-compartment-id",
            &tenancy,
            "--target-registry-repositories",
            &json!([REPO]).to_string(),
        ],
    );
    let auth_token = pc(
        &server,
        &[
            "iam",
            "auth-token",
            "create",
            "--user-id",
            &me,
            "--description",
            "registry",
        ],
    );
    let tenancy_name = text(
        &pc(
            &server,
            &["iam", "tenancy", "get", "--tenancy-id", &tenancy],
        ),
        "/data/name",
    );
    let user_name = text(
        &pc(&server, &["iam", "user", "get", "--user-id", &me]),
        "/data/name",
    );
    let creds = format!(
        "{tenancy_name}/{user_name}:{}",
        text(&auth_token, "/data/token")
    );
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(server.ca_bundle(), certs.join("ca.crt")).unwrap();
    let mut digests = Vec::new();
    for (name, version) in [("pcjourney", "1.0"), ("pcjourney-other", "1.0")] {
        let layout = dir.join(name);
        common::registry::oci_layout(
            &layout,
            &[gzip(&common::registry::python_layer(&[(name, version)]))],
        );
        let tag = if name == "pcjourney" { "v1" } else { "v2" };
        skopeo_push(
            dir,
            &layout,
            &creds,
            &certs,
            &format!("{host}/{REPO}:{tag}"),
        );
        let images = pc(
            &server,
            &[
                "artifacts",
                "container",
                "image",
                "list",
                "--compartment-id",
                &tenancy,
                "--repository-name",
                REPO,
            ],
        );
        let image = images["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| {
                i["version"] == tag
                    || i["versions"]
                        .as_array()
                        .is_some_and(|v| v.iter().any(|v| v["version"] == tag))
            })
            .cloned()
            .unwrap_or_else(|| panic!("no image tagged {tag}: {images}"));
        digests.push((text(&image, "/id"), text(&image, "/digest")));
    }
    let (image_id, digest) = digests[0].clone();
    let (_, unsigned) = digests[1].clone();

    // Its scan: the pushed image's result names the advisory.
    let started = Instant::now();
    let result = loop {
        let results = pc(
            &server,
            &[
                "vulnerability-scanning",
                "container",
                "scan",
                "result",
                "list",
                "--compartment-id",
                &tenancy,
                "--image",
                &digest,
            ],
        );
        if let Some(first) = results["data"]["items"].as_array().and_then(|i| i.first()) {
            break first.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no scan result for {digest}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let full = pc(
        &server,
        &[
            "vulnerability-scanning",
            "container",
            "scan",
            "result",
            "get",
            "--container-scan-result-id",
            &text(&result, "/id"),
        ],
    );
    assert!(full.to_string().contains("CVE-2099-4242"), "{full}");

    // A vault, an RSA key, and the image signed with it.
    let vault = pc(
        &server,
        &[
            "kms",
            "management",
            "vault",
            "create",
            "--compartment-id",
            &tenancy,
            "--display-name",
            "signing",
            "--vault-type",
            "DEFAULT",
        ],
    );
    let management = text(&vault, "/data/management-endpoint");
    let key = pc(
        &server,
        &[
            "--endpoint",
            &management,
            "kms",
            "management",
            "key",
            "create",
            "--compartment-id",
            &tenancy,
            "--display-name",
            "release",
            "--key-shape",
            r#"{"algorithm": "RSA", "length": 256}"#,
        ],
    );
    let key_id = text(&key, "/data/id");
    pc(
        &server,
        &[
            "artifacts",
            "container",
            "image-signature",
            "sign-upload",
            "--compartment-id",
            &tenancy,
            "--kms-key-id",
            &key_id,
            "--kms-key-version-id",
            &text(&key, "/data/current-key-version"),
            "--signing-algorithm",
            "SHA_256_RSA_PKCS_PSS",
            "--image-id",
            &image_id,
            "--description",
            "release 1.0",
        ],
    );

    // The cluster's image policy on, with the two policies OKE asks for.
    pc(
        &server,
        &[
            "iam",
            "policy",
            "create",
            "--compartment-id",
            &tenancy,
            "--name",
            "dev-cluster-verifies-images",
            "--description",
            "image verification",
            "--statements",
            &json!([
                format!(
                    "Allow any-user to read repos in tenancy where request.user.id = '{cluster}'"
                ),
                format!(
                    "Allow any-user to use keys in tenancy where request.user.id = '{cluster}'"
                ),
            ])
            .to_string(),
        ],
    );
    pc(
        &server,
        &[
            "ce",
            "cluster",
            "update",
            "--cluster-id",
            &cluster,
            "--image-policy-config",
            &json!({"isPolicyEnabled": true, "keyDetails": [{"kmsKeyId": key_id}]}).to_string(),
        ],
    );

    // Deployed from CI: the signed image is admitted, the unsigned one refused.
    ci.ok(&[
        "create",
        "deployment",
        "web",
        &format!("--image={host}/{REPO}@{digest}"),
    ]);
    let why = ci.fails(&[
        "create",
        "deployment",
        "other",
        &format!("--image={host}/{REPO}@{unsigned}"),
    ]);
    assert!(
        why.contains("image verification policy") && why.contains(&unsigned),
        "{why}"
    );
    assert!(ci.ok(&["get", "deployments"]).contains("web"));
}
