//! The KMS v2 plugin and the Secrets Store CSI provider, driven over their Unix sockets by a
//! Rust gRPC client, as kube-apiserver and the CSI driver would.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_plugins::proto::csi::MountRequest;
use portcullis_plugins::proto::csi::csi_driver_provider_client::CsiDriverProviderClient;
use portcullis_plugins::proto::kms_v2::key_management_service_client::KeyManagementServiceClient;
use portcullis_plugins::proto::kms_v2::{DecryptRequest, EncryptRequest, StatusRequest};
use portcullis_testing::ApiClient;
use serde_json::{Value, json};

/// A plugin process, stopped when dropped
struct Plugin(Child);

impl Drop for Plugin {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn start(args: &[&str], socket: &Path) -> Plugin {
    let child = Command::new(common::binary())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !socket.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{args:?} never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Plugin(child)
}

async fn ok(api: &ApiClient, method: &str, path: &str, body: Option<Value>) -> Value {
    let reply = api.send(method, path, body).await;
    assert_eq!(reply.status, 200, "{method} {path}: {}", reply.body);
    reply.body
}

fn attach(server: &portcullis_testing::Server, cluster: &str, out: &Path) -> PathBuf {
    let done = common::kubectl::portcullis(
        server,
        &server.config_file(),
        &[
            "ce",
            "cluster",
            "attach",
            "--cluster-id",
            cluster,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    out.join("cluster-credential.json")
}

#[test]
fn kms_plugin_and_csi_provider_serve_an_attached_cluster() {
    let server = common::server();
    let tenancy = server.tenancy();
    let api = server.admin();
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (management, vault, key) = runtime.block_on(async {
        let vault = ok(&api, "POST", "/20180608/vaults", Some(json!({"compartmentId": tenancy, "displayName": "plugins"}))).await;
        let vault = vault["id"].as_str().unwrap().to_owned();
        let management = format!("/kms/{vault}/management");
        let key = ok(
            &api,
            "POST",
            &format!("{management}/20180608/keys"),
            Some(json!({"compartmentId": tenancy, "displayName": "mek", "keyShape": {"algorithm": "AES", "length": 32}})),
        )
        .await;
        ok(&api, "POST", "/20160918/policies", Some(json!({
            "compartmentId": tenancy, "name": "clusters", "description": "the cluster's own access",
            "statements": [
                "Allow any-user to use keys in tenancy where request.principal.type = 'cluster'",
                "Allow any-user to read secret-bundles in tenancy where request.principal.type = 'cluster'",
            ],
        }))).await;
        (management, vault, key["id"].as_str().unwrap().to_owned())
    });
    let cluster = common::create_cluster_with(&server, "attached", &["--kms-key-id", &key]);
    let out = dir.path().join("attach");
    let credential = attach(&server, &cluster, &out);
    let encryption = std::fs::read_to_string(out.join("encryption-configuration.yaml")).unwrap();
    assert!(
        encryption.contains("kind: EncryptionConfiguration"),
        "{encryption}"
    );
    assert!(encryption.contains("apiVersion: v2"), "{encryption}");
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(readme.contains("--encryption-provider-config="), "{readme}");
    assert!(readme.contains(&key), "the README names the cluster's key");

    // KMS v2: Status, Encrypt, Decrypt; key_id follows rotation.
    let kms_socket = dir.path().join("kms.sock");
    let _kms = start(
        &[
            "kms-plugin",
            "--listen",
            &format!("unix://{}", kms_socket.display()),
            "--key-id",
            &key,
            "--credential-file",
            credential.to_str().unwrap(),
        ],
        &kms_socket,
    );
    runtime.block_on(async {
        let mut kms = KeyManagementServiceClient::new(
            portcullis_plugins::serve::connect(&kms_socket)
                .await
                .unwrap(),
        );
        let status = kms.status(StatusRequest {}).await.unwrap().into_inner();
        assert_eq!(
            (status.version.as_str(), status.healthz.as_str()),
            ("v2", "ok")
        );
        let first = status.key_id.clone();
        assert!(first.starts_with("ocid1.keyversion."), "{first}");
        let dek = vec![7u8; 32];
        let sealed = kms
            .encrypt(EncryptRequest {
                plaintext: dek.clone(),
                uid: "u1".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(sealed.key_id, first);
        assert!(!sealed.ciphertext.is_empty() && sealed.ciphertext.len() < 1024);
        assert_eq!(
            sealed
                .annotations
                .get("key.portcullis.dev")
                .map(Vec::as_slice),
            Some(key.as_bytes())
        );
        let opened = kms
            .decrypt(DecryptRequest {
                ciphertext: sealed.ciphertext.clone(),
                uid: "u2".into(),
                key_id: sealed.key_id.clone(),
                annotations: sealed.annotations.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(opened.plaintext, dek);

        ok(
            &api,
            "POST",
            &format!("{management}/20180608/keys/{key}/keyVersions"),
            None,
        )
        .await;
        let rotated = kms.status(StatusRequest {}).await.unwrap().into_inner();
        assert_ne!(rotated.key_id, first, "key_id changes when the key rotates");
        let resealed = kms
            .encrypt(EncryptRequest {
                plaintext: dek.clone(),
                uid: "u3".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(resealed.key_id, rotated.key_id);
        let old = kms
            .decrypt(DecryptRequest {
                ciphertext: sealed.ciphertext.clone(),
                uid: "u4".into(),
                key_id: first.clone(),
                annotations: sealed.annotations.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            old.plaintext, dek,
            "data keys wrapped by the old version still open"
        );
        let mut tampered = sealed.ciphertext.clone();
        *tampered.last_mut().unwrap() ^= 1;
        let refused = kms
            .decrypt(DecryptRequest {
                ciphertext: tampered,
                uid: "u5".into(),
                key_id: first,
                annotations: sealed.annotations,
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused}");
    });

    // CSI: Mount writes the files, versions follow updates, paths never escape.
    runtime.block_on(ok(
        &api,
        "POST",
        "/20180608/secrets",
        Some(json!({
            "compartmentId": tenancy, "vaultId": vault, "keyId": key, "secretName": "db-password",
            "secretContent": {"contentType": "BASE64", "content": STANDARD.encode("first")},
        })),
    ));
    let csi_socket = dir.path().join("providers/portcullis.sock");
    let _csi = start(
        &[
            "csi-provider",
            "--socket",
            csi_socket.to_str().unwrap(),
            "--credential-file",
            credential.to_str().unwrap(),
        ],
        &csi_socket,
    );
    let attributes = |secrets: &str| {
        json!({
            "secrets": secrets, "vaultId": vault, "authType": "cluster",
            "secretProviderClass": "app-secrets", "csi.storage.k8s.io/pod.name": "app",
            "csi.storage.k8s.io/pod.namespace": "default",
        })
        .to_string()
    };
    let mount = |secrets: &str| MountRequest {
        attributes: attributes(secrets),
        secrets: "{}".into(),
        target_path: "/var/lib/kubelet/pods/uid/volumes/kubernetes.io~csi/secrets/mount".into(),
        permission: "420".into(),
        current_object_version: Vec::new(),
    };
    runtime.block_on(async {
        let mut csi = CsiDriverProviderClient::new(portcullis_plugins::serve::connect(&csi_socket).await.unwrap());
        let version = csi.version(portcullis_plugins::proto::csi::VersionRequest { version: "v1alpha1".into() }).await.unwrap().into_inner();
        assert_eq!(version.version, "v1alpha1");
        let mounted = csi.mount(mount("- name: db-password\n  fileName: password\n")).await.unwrap().into_inner();
        assert_eq!(mounted.files.len(), 1);
        assert_eq!(mounted.files[0].path, "password");
        assert_eq!(mounted.files[0].mode, 420);
        assert_eq!(mounted.files[0].contents, b"first");
        assert_eq!(mounted.object_version[0].version, "1");

        let secret_id = ok(&api, "POST", &format!("/20190301/secretbundles/actions/getByName?secretName=db-password&vaultId={vault}"), None).await["secretId"]
            .as_str()
            .unwrap()
            .to_owned();
        ok(&api, "PUT", &format!("/20180608/secrets/{secret_id}"), Some(json!({"secretContent": {"contentType": "BASE64", "content": STANDARD.encode("second")}}))).await;
        let remounted = csi.mount(mount("- name: db-password\n  fileName: password\n")).await.unwrap().into_inner();
        assert_eq!(remounted.object_version[0].version, "2", "rotation is visible in the object version");
        assert_eq!(remounted.files[0].contents, b"second");
        let previous = csi.mount(mount("- name: db-password\n  stage: PREVIOUS\n")).await.unwrap().into_inner();
        assert_eq!(previous.files[0].contents, b"first");

        for bad in [
            "- name: db-password\n  fileName: ../../etc/passwd\n",
            "- name: db-password\n  fileName: /etc/passwd\n",
            "- name: db-password\n  stage: CURRENT\n  versionNumber: 1\n",
        ] {
            let refused = csi.mount(mount(bad)).await.unwrap_err();
            assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{bad}: {refused}");
        }
        let missing = csi.mount(mount("- name: no-such-secret\n")).await.unwrap_err();
        assert_eq!(missing.code(), tonic::Code::NotFound, "{missing}");

        // authType user: the API key comes from the volume's nodePublishSecretRef.
        let config = format!(
            "auth:\n  region: us-ashburn-1\n  tenancy: {tenancy}\n  user: {}\n  fingerprint: {}\n",
            server.config_value("user"),
            server.config_value("fingerprint")
        );
        let key_pem = std::fs::read_to_string(server.config_value("key_file")).unwrap();
        let as_user = |secrets: String| {
            let mut attributes: Value = serde_json::from_str(&attributes("- name: db-password\n")).unwrap();
            attributes["authType"] = json!("user");
            attributes["authSecretName"] = json!("oci-config");
            MountRequest { attributes: attributes.to_string(), secrets, ..mount("") }
        };
        let user = csi
            .mount(as_user(json!({"config": config, "private-key": key_pem}).to_string()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(user.files[0].contents, b"second");
        let without = csi.mount(as_user("{}".into())).await.unwrap_err();
        assert_eq!(without.code(), tonic::Code::InvalidArgument, "{without}");
        assert!(without.message().contains("nodePublishSecretRef"), "{without}");
        let stranger = portcullis_auth::ApiPrivateKey::generate().unwrap();
        let stranger = stranger.to_pkcs8_pem().to_string();
        let unknown = csi
            .mount(as_user(json!({"config": config, "private-key": stranger}).to_string()))
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), tonic::Code::Unauthenticated, "{unknown}");
    });

    // Attaching again replaces the credential: the running plugin is refused.
    attach(&server, &cluster, &dir.path().join("again"));
    runtime.block_on(async {
        let mut kms = KeyManagementServiceClient::new(
            portcullis_plugins::serve::connect(&kms_socket)
                .await
                .unwrap(),
        );
        let status = kms.status(StatusRequest {}).await.unwrap().into_inner();
        assert_ne!(status.healthz, "ok");
        assert!(status.healthz.contains("401"), "{}", status.healthz);
    });
}
