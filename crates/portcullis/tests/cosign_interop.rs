//! Cosign interop in the direction that needs bring-your-own-key: signatures made by the
//! `sigstore` crate, with keys it (or openssl) generated, over images in our registry, are
//! accepted by a cluster's image policy once those keys are imported into the vault.
//!
//! Every step outside Portcullis is done by someone else's tool: the `sigstore` crate makes
//! the ECDSA key and both signatures, openssl makes the RSA key and wraps the ECDSA key for
//! import as OCI's documentation describes (RSA-OAEP of a temporary AES key, then AES key
//! wrap with padding), and the official `oci` CLI fetches the wrapping key and imports.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is a failed test"
)]

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_testing::{ApiClient, OciCli};
use serde_json::{Value, json};
use sigstore::crypto::SigningScheme;
use sigstore::crypto::signing_key::SigStoreKeyPair;

mod common;

use common::kubectl::portcullis;
use common::ok;
use common::registry::Registry;

const REPO: &str = "byok/app";

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Wraps `key.der` in `dir` for import with openssl alone, as OCI's "RSA-OAEP with AES"
/// instructions do; returns base64 of the wrapped material
fn wrap_with_openssl(dir: &Path, wrapping_pem: &str) -> String {
    std::fs::write(dir.join("wrapping.pem"), wrapping_pem).unwrap();
    openssl(dir, &["rand", "-out", "temp.key", "32"]);
    openssl(
        dir,
        &[
            "pkeyutl",
            "-encrypt",
            "-in",
            "temp.key",
            "-inkey",
            "wrapping.pem",
            "-pubin",
            "-out",
            "temp.wrapped",
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
        ],
    );
    let temp_hex: String = std::fs::read(dir.join("temp.key"))
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    openssl(
        dir,
        &[
            "enc",
            "-id-aes256-wrap-pad",
            "-iv",
            "A65959A6",
            "-K",
            &temp_hex,
            "-in",
            "key.der",
            "-out",
            "key.wrapped",
        ],
    );
    let mut wrapped = std::fs::read(dir.join("temp.wrapped")).unwrap();
    wrapped.extend(std::fs::read(dir.join("key.wrapped")).unwrap());
    STANDARD.encode(wrapped)
}

/// cosign's simple-signing payload for an image, written here from its format
fn payload(reference: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": null,
    }))
    .unwrap()
}

/// Pushes a `.sig` artifact for `digest` whose one layer is `payload`, signed with
/// `signature`, as cosign lays it out (no Portcullis annotations)
async fn push_signature(registry: &Registry, digest: &str, payload: &[u8], signature: &[u8]) {
    let config = br#"{"architecture":"","os":""}"#;
    let config_digest = registry.push_blob(REPO, config).await;
    let payload_digest = registry.push_blob(REPO, payload).await;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "digest": payload_digest,
            "size": payload.len(),
            "annotations": {"dev.cosignproject.cosign/signature": STANDARD.encode(signature)},
        }],
    }))
    .unwrap();
    let tag = digest.replace(':', "-") + ".sig";
    let reply = registry
        .send(
            reqwest::Method::PUT,
            &format!("/v2/{REPO}/manifests/{tag}"),
            &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
            Some(manifest),
        )
        .await;
    assert_eq!(reply.status(), 201);
}

fn deployment(name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": image}]}}},
    })
}

/// The dry run's verdict per object name, with the denial text
async fn verdicts(
    api: &ApiClient,
    cluster: &str,
    objects: Vec<Value>,
) -> Vec<(String, bool, String)> {
    let reply = ok(
        api,
        "POST",
        &format!("/20180222/clusters/{cluster}/actions/testImagePolicy"),
        Some(json!({ "objects": objects })),
    )
    .await;
    reply["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["allowed"].as_bool().unwrap(),
                r["denials"].to_string(),
            )
        })
        .collect()
}

fn der_of_pem(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_made_by_the_sigstore_crate_with_imported_keys_are_admitted() {
    let server = common::server();
    let tenancy = server.tenancy();
    let api = server.admin();
    let host = server.endpoint().trim_start_matches("https://").to_owned();
    let registry = Registry::login_to(&server, REPO).await;
    let mut digests = Vec::new();
    for seed in ["ecdsa", "rsa", "unsigned", "replayed"] {
        let (digest, reply) = registry.push_image(REPO, seed, seed, json!({})).await;
        assert_eq!(reply.status(), 201);
        digests.push(digest);
    }
    let by_digest = |digest: &str| format!("{host}/{REPO}@{digest}");

    let vault = ok(
        &api,
        "POST",
        "/20180608/vaults",
        Some(json!({"compartmentId": tenancy, "displayName": "byok"})),
    )
    .await;
    let management_url = vault["managementEndpoint"].as_str().unwrap().to_owned();
    let management = format!("/kms/{}/management", vault["id"].as_str().unwrap());
    let oci = OciCli::new(&server, &server.config_file()).at(&management_url);
    let dir = tempfile::tempdir().unwrap();

    // The wrapping key: RSA-4096, stable across calls.
    let wrapping = oci.json(&["kms", "management", "wrapping-key", "get"]);
    let wrapping_pem = wrapping["data"]["public-key"].as_str().unwrap().to_owned();
    assert_eq!(
        oci.json(&["kms", "management", "wrapping-key", "get"])["data"]["id"],
        wrapping["data"]["id"]
    );
    std::fs::write(dir.path().join("wrapping.pem"), &wrapping_pem).unwrap();
    let text = String::from_utf8(openssl(
        dir.path(),
        &["pkey", "-pubin", "-in", "wrapping.pem", "-noout", "-text"],
    ))
    .unwrap();
    assert!(text.contains("4096 bit"), "{text}");

    // An ECDSA P-256 key made by the sigstore crate, wrapped by openssl, imported by oci.
    let ec_signer = SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .unwrap();
    let ec_pair = ec_signer.to_sigstore_keypair().unwrap();
    std::fs::write(
        dir.path().join("key.der"),
        ec_pair.private_key_to_der().unwrap().as_slice(),
    )
    .unwrap();
    let wrapped = wrap_with_openssl(dir.path(), &wrapping_pem);
    let imported = oci.json(&[
        "kms",
        "management",
        "key",
        "import",
        "--compartment-id",
        &tenancy,
        "--display-name",
        "cosign-ec",
        "--key-shape",
        r#"{"algorithm": "ECDSA", "length": 32, "curveId": "NIST_P256"}"#,
        "--protection-mode",
        "SOFTWARE",
        "--wrapped-import-key",
        &json!({"keyMaterial": wrapped, "wrappingAlgorithm": "RSA_OAEP_AES_SHA256"}).to_string(),
    ]);
    let ec_key = imported["data"]["id"].as_str().unwrap().to_owned();
    let ec_version = imported["data"]["current-key-version"]
        .as_str()
        .unwrap()
        .to_owned();
    let version = oci.json(&[
        "kms",
        "management",
        "key-version",
        "get",
        "--key-id",
        &ec_key,
        "--key-version-id",
        &ec_version,
    ]);
    assert_eq!(version["data"]["origin"], "EXTERNAL");
    assert_eq!(
        der_of_pem(version["data"]["public-key"].as_str().unwrap()),
        ec_pair.public_key_to_der().unwrap(),
        "the vault's public key is the sigstore key's"
    );

    // An RSA key made by openssl, imported with our CLI, which wraps the PEM file itself.
    genrsa(dir.path(), "rsa.pem");
    let rsa_pem = std::fs::read(dir.path().join("rsa.pem")).unwrap();
    let rsa_key = cli_ok(
        &server,
        &[
            "--endpoint",
            &management_url,
            "kms",
            "management",
            "key",
            "import",
            "--compartment-id",
            &tenancy,
            "--display-name",
            "cosign-rsa",
            "--key-shape",
            r#"{"algorithm": "RSA", "length": 256}"#,
            "--key-file",
            dir.path().join("rsa.pem").to_str().unwrap(),
        ],
    );
    let rsa_key = rsa_key["data"]["id"].as_str().unwrap().to_owned();
    let rsa_pair = SigStoreKeyPair::from_pem(&rsa_pem).unwrap();
    let rsa_signer = rsa_pair
        .to_sigstore_signer(&SigningScheme::RSA_PKCS1_SHA256(0))
        .unwrap();

    // The sigstore crate signs cosign payloads for two images; they are pushed as cosign
    // lays them out. The fourth image gets a copy of the first one's signature.
    let (ec_image, rsa_image, unsigned, replayed) = (
        digests[0].clone(),
        digests[1].clone(),
        digests[2].clone(),
        digests[3].clone(),
    );
    let ec_payload = payload(&format!("{host}/{REPO}"), &ec_image);
    let ec_signature = ec_signer.sign(&ec_payload).unwrap();
    push_signature(&registry, &ec_image, &ec_payload, &ec_signature).await;
    let rsa_payload = payload(&format!("{host}/{REPO}"), &rsa_image);
    let rsa_signature = rsa_signer.sign(&rsa_payload).unwrap();
    push_signature(&registry, &rsa_image, &rsa_payload, &rsa_signature).await;
    push_signature(&registry, &replayed, &ec_payload, &ec_signature).await;

    // A cluster whose policy lists both imported keys, allowed to use them and read repos.
    let cluster = common::create_cluster_with(
        &server,
        "byok",
        &[
            "--image-policy-config",
            &json!({"isPolicyEnabled": true, "keyDetails": [{"kmsKeyId": ec_key}, {"kmsKeyId": rsa_key}]}).to_string(),
        ],
    );
    ok(&api, "POST", "/20160918/policies", Some(json!({
        "compartmentId": tenancy, "name": "byok-cluster", "description": "the cluster verifies images",
        "statements": [
            format!("Allow any-user to use keys in tenancy where request.user.id = '{cluster}'"),
            format!("Allow any-user to read repos in tenancy where request.user.id = '{cluster}'"),
        ],
    })))
    .await;
    let objects = vec![
        deployment("ecdsa", &by_digest(&ec_image)),
        deployment("rsa", &by_digest(&rsa_image)),
        deployment("unsigned", &by_digest(&unsigned)),
        deployment("replayed", &by_digest(&replayed)),
    ];
    let results = verdicts(&api, &cluster, objects.clone()).await;
    let verdict = |name: &str| results.iter().find(|r| r.0 == name).unwrap().clone();
    assert!(verdict("ecdsa").1, "{:?}", verdict("ecdsa"));
    assert!(verdict("rsa").1, "{:?}", verdict("rsa"));
    let (_, allowed, why) = verdict("unsigned");
    assert!(!allowed && why.contains(&unsigned), "{why}");
    let (_, allowed, why) = verdict("replayed");
    assert!(
        !allowed && why.contains("names") && why.contains(&ec_image),
        "{why}"
    );

    // With only the RSA key listed, the ECDSA-signed image no longer passes.
    ok(&api, "PUT", &format!("/20180222/clusters/{cluster}"), Some(json!({"imagePolicyConfig": {"isPolicyEnabled": true, "keyDetails": [{"kmsKeyId": rsa_key}]}}))).await;
    let results = verdicts(&api, &cluster, objects[..2].to_vec()).await;
    assert!(
        !results.iter().find(|r| r.0 == "ecdsa").unwrap().1,
        "{results:?}"
    );
    assert!(
        results.iter().find(|r| r.0 == "rsa").unwrap().1,
        "{results:?}"
    );

    // Rotating the RSA key to newly imported material keeps the old version's signatures
    // valid (older versions still verify).
    genrsa(dir.path(), "rsa2.pem");
    let rotated = cli_ok(
        &server,
        &[
            "--endpoint",
            &management_url,
            "kms",
            "management",
            "key-version",
            "import",
            "--key-id",
            &rsa_key,
            "--key-file",
            dir.path().join("rsa2.pem").to_str().unwrap(),
        ],
    );
    assert_eq!(rotated["data"]["origin"], "EXTERNAL");
    let results = verdicts(
        &api,
        &cluster,
        vec![deployment("rsa-after-rotation", &by_digest(&rsa_image))],
    )
    .await;
    assert!(results[0].1, "{results:?}");

    // Bad imports get OCI's errors and create nothing.
    let import = format!("{management}/20180608/keys/import");
    let rsa_shape = json!({"algorithm": "RSA", "length": 256});
    let cases = [
        // The material is an RSA-2048 key; the shape says 4096.
        (
            json!({"compartmentId": tenancy, "displayName": "x", "keyShape": {"algorithm": "RSA", "length": 512},
            "wrappedImportKey": {"keyMaterial": wrapped_file(dir.path(), &wrapping_pem, &rsa_pem), "wrappingAlgorithm": "RSA_OAEP_AES_SHA256"}}),
            "InvalidParameter",
        ),
        (
            json!({"compartmentId": tenancy, "displayName": "x", "keyShape": rsa_shape,
            "wrappedImportKey": {"keyMaterial": STANDARD.encode([7u8; 600]), "wrappingAlgorithm": "RSA_OAEP_AES_SHA256"}}),
            "InvalidParameter",
        ),
        (
            json!({"compartmentId": tenancy, "displayName": "x", "keyShape": rsa_shape,
            "wrappedImportKey": {"keyMaterial": "not base64!", "wrappingAlgorithm": "RSA_OAEP_AES_SHA256"}}),
            "InvalidParameter",
        ),
        (
            json!({"compartmentId": tenancy, "displayName": "x", "keyShape": rsa_shape,
            "wrappedImportKey": {"keyMaterial": wrapped, "wrappingAlgorithm": "ROT13"}}),
            "InvalidParameter",
        ),
        (
            json!({"compartmentId": tenancy, "displayName": "x", "keyShape": rsa_shape}),
            "MissingParameter",
        ),
    ];
    for (body, code) in cases {
        let reply = api.send("POST", &import, Some(body.clone())).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.body["code"], code, "{body}: {}", reply.body);
        assert!(
            reply.body["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let no_vault = api.send("GET", "/20180608/wrappingKeys", None).await;
    assert_eq!(no_vault.status, 400, "{}", no_vault.body);
    let keys = ok(
        &api,
        "GET",
        &format!("{management}/20180608/keys?compartmentId={tenancy}"),
        None,
    )
    .await;
    assert_eq!(keys.as_array().unwrap().len(), 2, "{keys}");
}

/// Runs our CLI, which must succeed; returns its JSON output
fn cli_ok(server: &portcullis_testing::Server, args: &[&str]) -> Value {
    let out = portcullis(server, &server.config_file(), args);
    assert!(
        out.status.success(),
        "portcullis {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A 2048-bit RSA key made by openssl, as PKCS#8 PEM
fn genrsa(dir: &Path, file: &str) {
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            file,
        ],
    );
}

/// `pem` converted to PKCS#8 DER and wrapped with openssl
fn wrapped_file(dir: &Path, wrapping_pem: &str, pem: &[u8]) -> String {
    std::fs::write(dir.join("other.pem"), pem).unwrap();
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            "other.pem",
            "-outform",
            "DER",
            "-out",
            "key.der",
        ],
    );
    wrap_with_openssl(dir, wrapping_pem)
}
