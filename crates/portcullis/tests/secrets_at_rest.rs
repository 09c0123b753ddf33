//! Kubernetes Secrets encrypted at rest, read back raw from etcd (`etcdctl`) and from the
//! embedded store's file; a customer-managed key that the cluster must be allowed to use;
//! rotation, re-encryption with OKE's `kubectl annotate` one-liner, disable and cancel.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::process::{Command, Stdio};

use common::kubectl::{Kubectl, kubeconfig_for};
use portcullis_testing::{ApiClient, Etcd, Server, ServerOptions, unique_prefix};
use serde_json::{Value, json};

const PREFIX: &[u8] = b"k8s:enc:kms:v2:portcullis:";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Raw values under `prefix`, as `etcdctl get --prefix` prints them
fn etcdctl(endpoint: &str, key: &str) -> Vec<u8> {
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", endpoint, "get", "--prefix", key])
        .output()
        .expect("etcdctl runs (Debian package etcd-client)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn etcd_server(prefix: &str) -> Server {
    Server::start(
        common::binary(),
        ServerOptions {
            etcd: Some((Etcd::shared().endpoint().to_owned(), prefix.to_owned())),
            args: Vec::new(),
            wrapper: Vec::new(),
        },
    )
}

/// Creates `hunter2` as a Secret and checks kubectl reads it back decrypted
fn create_hunter2(kubectl: &Kubectl) {
    kubectl.ok(&[
        "create",
        "secret",
        "generic",
        "s",
        "--from-literal=password=hunter2",
    ]);
    let read = kubectl.ok(&["get", "secret", "s", "-o", "jsonpath={.data.password}"]);
    assert_eq!(read.trim(), "aHVudGVyMg==");
}

fn assert_sealed(raw: &[u8], what: &str) {
    assert!(!contains(raw, b"hunter2"), "{what} holds the plaintext");
    assert!(
        !contains(raw, b"aHVudGVyMg"),
        "{what} holds the base64 plaintext"
    );
    assert!(contains(raw, PREFIX), "{what} lacks the encryption prefix");
}

#[test]
fn secrets_are_encrypted_in_etcd_and_in_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("/{}", unique_prefix("at-rest"));
    let server = etcd_server(&prefix);
    let cluster = common::create_cluster(&server, "etcd-secrets");
    create_hunter2(&kubeconfig_for(
        &server,
        &server.config_file(),
        &cluster,
        dir.path(),
    ));
    assert_sealed(&etcdctl(Etcd::shared().endpoint(), &prefix), "etcd");

    let mut embedded = common::server();
    let cluster = common::create_cluster(&embedded, "embedded-secrets");
    let kubectl = kubeconfig_for(&embedded, &embedded.config_file(), &cluster, dir.path());
    create_hunter2(&kubectl);
    assert!(embedded.terminate(), "the server stops cleanly");
    let file = std::fs::read(embedded.data_dir().join("store.redb")).unwrap();
    assert_sealed(&file, "the embedded store file");
    // The platform key lives on across a restart: the Secret still reads.
    embedded.restart();
    let read = kubectl.ok(&["get", "secret", "s", "-o", "jsonpath={.data.password}"]);
    assert_eq!(read.trim(), "aHVudGVyMg==");
}

async fn ok(api: &ApiClient, method: &str, path: &str, body: Option<Value>) -> Value {
    let reply = api.send(method, path, body).await;
    assert_eq!(reply.status, 200, "{method} {path}: {}", reply.body);
    reply.body
}

/// The stored value of one Secret
fn raw_secret(prefix: &str, cluster: &str, name: &str) -> Vec<u8> {
    etcdctl(
        Etcd::shared().endpoint(),
        &format!("{prefix}k8s/{cluster}/core/secrets/default/{name}"),
    )
}

#[test]
fn a_customer_key_needs_policy_and_follows_rotation_disable_and_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("/{}", unique_prefix("customer-key"));
    let server = etcd_server(&prefix);
    let tenancy = server.tenancy();
    let api = server.admin();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (management, key, first_version) = runtime.block_on(async {
        let vault = ok(&api, "POST", "/20180608/vaults", Some(json!({"compartmentId": tenancy, "displayName": "k8s"}))).await;
        let management = format!("/kms/{}/management", vault["id"].as_str().unwrap());
        let key = ok(
            &api,
            "POST",
            &format!("{management}/20180608/keys"),
            Some(json!({"compartmentId": tenancy, "displayName": "etcd-mek", "keyShape": {"algorithm": "AES", "length": 32}})),
        )
        .await;
        (
            management,
            key["id"].as_str().unwrap().to_owned(),
            key["currentKeyVersion"].as_str().unwrap().to_owned(),
        )
    });
    let cluster = common::create_cluster_with(&server, "byok", &["--kms-key-id", &key]);
    let kubectl = kubeconfig_for(&server, &server.config_file(), &cluster, dir.path());

    // Without a policy the cluster may not use the key: writes fail and say why.
    let refused = kubectl.fails(&["create", "secret", "generic", "s1", "--from-literal=a=b"]);
    assert!(refused.contains("KEY_ENCRYPT"), "{refused}");
    assert!(
        refused.contains("request.principal.type = 'cluster'"),
        "{refused}"
    );
    runtime.block_on(ok(
        &api,
        "POST",
        "/20160918/policies",
        Some(json!({
            "compartmentId": tenancy, "name": "clusters-use-mek", "description": "OKE's policy",
            "statements": [format!("Allow any-user to use keys in tenancy where ALL {{request.principal.type = 'cluster', target.key.id = '{key}'}}")],
        })),
    ));
    kubectl.ok(&["create", "secret", "generic", "s1", "--from-literal=a=b"]);
    assert!(contains(
        &raw_secret(&prefix, &cluster, "s1"),
        first_version.as_bytes()
    ));

    // Rotation: new writes use the new version; old Secrets stay readable.
    let rotated = runtime.block_on(ok(
        &api,
        "POST",
        &format!("{management}/20180608/keys/{key}/keyVersions"),
        None,
    ));
    let second_version = rotated["id"].as_str().unwrap().to_owned();
    kubectl.ok(&["create", "secret", "generic", "s2", "--from-literal=a=c"]);
    assert!(contains(
        &raw_secret(&prefix, &cluster, "s2"),
        second_version.as_bytes()
    ));
    assert!(contains(
        &raw_secret(&prefix, &cluster, "s1"),
        first_version.as_bytes()
    ));
    assert_eq!(
        kubectl
            .ok(&["get", "secret", "s1", "-o", "jsonpath={.data.a}"])
            .trim(),
        "Yg=="
    );

    // OKE's one-liner re-encrypts every Secret under the new version.
    let mut annotate = Command::new("bash");
    annotate
        .args(["-o", "pipefail", "-c"])
        .arg("kubectl get secrets --all-namespaces -o json | kubectl annotate --overwrite -f - encryption-key-rotation-time=\"20210909_2135\"")
        .env("KUBECONFIG", &kubectl.kubeconfig)
        .env("PATH", common::kubectl::path_with_binary())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = annotate.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = etcdctl(
        Etcd::shared().endpoint(),
        &format!("{prefix}k8s/{cluster}/core/secrets/"),
    );
    assert!(
        !contains(&all, first_version.as_bytes()),
        "every Secret was re-encrypted: {}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&all),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(contains(
        &raw_secret(&prefix, &cluster, "s1"),
        second_version.as_bytes()
    ));

    // Disabling the key stops reads at once; enabling restores them.
    let action = |name: &str, body: Option<Value>| {
        runtime.block_on(ok(
            &api,
            "POST",
            &format!("{management}/20180608/keys/{key}/actions/{name}"),
            body,
        ));
    };
    action("disable", None);
    let failed = kubectl.fails(&["get", "secret", "s1"]);
    assert!(failed.contains("DISABLED"), "{failed}");
    action("enable", None);
    kubectl.ok(&["get", "secret", "s1"]);

    // Scheduling deletion stops them too; cancelling brings them back.
    action("scheduleDeletion", None);
    let failed = kubectl.fails(&["get", "secret", "s2"]);
    assert!(failed.contains("PENDING_DELETION"), "{failed}");
    let failed = kubectl.fails(&["create", "secret", "generic", "s3", "--from-literal=a=d"]);
    assert!(failed.contains("PENDING_DELETION"), "{failed}");
    action("cancelDeletion", None);
    assert_eq!(
        kubectl
            .ok(&["get", "secret", "s2", "-o", "jsonpath={.data.a}"])
            .trim(),
        "Yw=="
    );
}
