//! OKE cluster tokens: minted by the official `oci` CLI and by ours, accepted by the cluster
//! endpoint and the TokenReview webhook, refused when they are for another cluster,
//! tampered with, or older than five minutes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use portcullis_testing::{OciCli, Server};
use serde_json::{Value, json};

async fn version_with(server: &Server, cluster: &str, token: &str) -> u16 {
    let admin = server.admin();
    admin
        .http()
        .get(format!("{}/clusters/{cluster}/version", server.endpoint()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn admin_signer(server: &Server) -> portcullis_auth::RequestSigner {
    let key = std::fs::read_to_string(server.config_value("key_file")).unwrap();
    portcullis_auth::RequestSigner::new(
        &server.tenancy(),
        &server.config_value("user"),
        &server.config_value("fingerprint"),
        portcullis_auth::ApiPrivateKey::from_pem(&key).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_generated_tokens_are_accepted_and_scoped() {
    let server = common::server();
    let cluster = common::create_cluster(&server, "one");
    let other = common::create_cluster(&server, "two");
    let oci = OciCli::new(&server, &server.config_file());

    let credential = oci.json(&["ce", "cluster", "generate-token", "--cluster-id", &cluster]);
    assert_eq!(
        credential["apiVersion"],
        "client.authentication.k8s.io/v1beta1"
    );
    assert_eq!(credential["kind"], "ExecCredential");
    let token = credential["status"]["token"].as_str().unwrap().to_owned();
    assert_eq!(version_with(&server, &cluster, &token).await, 200);
    // Cluster-scoped: not accepted by another cluster
    assert_eq!(version_with(&server, &other, &token).await, 401);
    // Tampered: a changed cluster id in the signed URL breaks the signature
    let url = String::from_utf8(URL_SAFE.decode(&token).unwrap()).unwrap();
    let tampered = URL_SAFE.encode(url.replace(&cluster, &other));
    assert_eq!(version_with(&server, &other, &tampered).await, 401);
    let mut flipped = token.clone().into_bytes();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        version_with(&server, &cluster, &String::from_utf8(flipped).unwrap()).await,
        401
    );
    // Older than five minutes (or ahead): refused
    let signer = admin_signer(&server);
    let stale = portcullis_containerengine::generate_token(
        &signer,
        &cluster,
        "us-ashburn-1",
        jiff::Timestamp::now() - jiff::SignedDuration::from_mins(6),
    )
    .unwrap();
    assert_eq!(version_with(&server, &cluster, &stale).await, 401);
    let future = portcullis_containerengine::generate_token(
        &signer,
        &cluster,
        "us-ashburn-1",
        jiff::Timestamp::now() + jiff::SignedDuration::from_mins(6),
    )
    .unwrap();
    assert_eq!(version_with(&server, &cluster, &future).await, 401);
    // Another region's token is refused too.
    let elsewhere = portcullis_containerengine::generate_token(
        &signer,
        &cluster,
        "eu-frankfurt-1",
        jiff::Timestamp::now(),
    )
    .unwrap();
    assert_eq!(version_with(&server, &cluster, &elsewhere).await, 401);
    // Our CLI mints the same kind of token
    let ours = Command::new(common::binary())
        .arg("--config-file")
        .arg(server.config_file())
        .args(["ce", "cluster", "generate-token", "--cluster-id", &cluster])
        .output()
        .unwrap();
    let ours: Value = serde_json::from_slice(&ours.stdout).unwrap();
    assert_eq!(
        version_with(&server, &cluster, ours["status"]["token"].as_str().unwrap()).await,
        200
    );
    // The audit log records the rejections.
    assert!(
        server
            .log_text()
            .contains("kubernetes request unauthenticated")
    );

    // The TokenReview webhook answers in the version it was asked, with the same identity,
    // to a caller presenting the cluster's webhook credential.
    let admin = server.admin();
    let credential = |id: String| {
        let admin = &admin;
        async move {
            let reply = admin
                .send(
                    "POST",
                    &format!("/20180222/clusters/{id}/actions/attach"),
                    None,
                )
                .await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
            reply.body["token"].as_str().unwrap().to_owned()
        }
    };
    let webhook_token = credential(cluster.clone()).await;
    let other_webhook_token = credential(other.clone()).await;
    let anonymous = admin
        .http()
        .post(format!(
            "{}/clusters/{cluster}/webhooks/authenticate",
            server.endpoint()
        ))
        .json(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let misdirected = admin
        .http()
        .post(format!(
            "{}/clusters/{cluster}/webhooks/authenticate",
            server.endpoint()
        ))
        .bearer_auth(&other_webhook_token)
        .json(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}))
        .send()
        .await
        .unwrap();
    assert_eq!(misdirected.status(), 401);
    for version in ["authentication.k8s.io/v1", "authentication.k8s.io/v1beta1"] {
        let review = admin
            .http()
            .post(format!(
                "{}/clusters/{cluster}/webhooks/authenticate",
                server.endpoint()
            ))
            .bearer_auth(&webhook_token)
            .json(&json!({"apiVersion": version, "kind": "TokenReview", "spec": {"token": token}}))
            .send()
            .await
            .unwrap();
        assert_eq!(review.status(), 200);
        let review: Value = review.json().await.unwrap();
        assert_eq!(review["apiVersion"], version);
        assert_eq!(review["status"]["authenticated"], true);
        assert_eq!(
            review["status"]["user"]["username"],
            server.config_value("user")
        );
        assert!(
            review["status"]["user"]["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g == "system:authenticated")
        );
        let rejected: Value = admin
            .http()
            .post(format!(
                "{}/clusters/{other}/webhooks/authenticate",
                server.endpoint()
            ))
            .bearer_auth(&other_webhook_token)
            .json(&json!({"apiVersion": version, "kind": "TokenReview", "spec": {"token": token}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(rejected["status"]["authenticated"], false);
    }
}

#[test]
fn oci_kubeconfig_works_with_kubectl_when_its_command_is_oci() {
    let server = common::server();
    let cluster = common::create_cluster(&server, "via-oci");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kubeconfig");
    let oci = OciCli::new(&server, &server.config_file());
    let out = oci.run(&[
        "ce",
        "cluster",
        "create-kubeconfig",
        "--cluster-id",
        &cluster,
        "--file",
        file.to_str().unwrap(),
        "--token-version",
        "2.0.0",
        "--kube-endpoint",
        "PUBLIC_ENDPOINT",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let mut kubeconfig: Value = serde_saphyr::from_str(&text).unwrap();
    let exec = &mut kubeconfig["users"][0]["user"]["exec"];
    assert_eq!(exec["command"], "portcullis");
    assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1beta1");
    let args: Vec<String> = exec["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        args[..5],
        [
            "ce",
            "cluster",
            "generate-token",
            "--cluster-id",
            cluster.as_str()
        ]
    );
    assert!(args.contains(&"--region".to_owned()));
    // The same arguments work with `oci` as the command.
    exec["command"] = json!(portcullis_testing::find_oci().display().to_string());
    exec["env"] = json!([{"name": "OCI_CLI_CONFIG_FILE", "value": server.config_file().display().to_string()},
                         {"name": "SUPPRESS_LABEL_WARNING", "value": "True"}]);
    std::fs::write(&file, serde_saphyr::to_string(&kubeconfig).unwrap()).unwrap();
    let out = Command::new(portcullis_testing::find_program("kubectl").unwrap())
        .env("KUBECONFIG", &file)
        .args(["get", "ns", "-o", "name"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("namespace/kube-system"));
}
