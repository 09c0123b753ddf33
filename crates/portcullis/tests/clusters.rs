//! The Container Engine API (`/20180222/clusters`) with the official `oci` CLI, and the
//! `clusters` permission tiers (inspect, read, use, manage).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is a failed test"
)]

mod common;

use portcullis_testing::{ApiClient, OciCli};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_ce_cluster_lifecycle_and_fields() {
    let server = common::server();
    let tenancy = server.tenancy();
    let oci = OciCli::new(&server, &server.config_file());
    let key = "ocid1.key.oc1.iad.aaaaaaaaexamplekeyone";
    let work = oci.json(&[
        "ce",
        "cluster",
        "create",
        "--compartment-id",
        &tenancy,
        "--name",
        "prod",
        "--kubernetes-version",
        "v1.32.1",
        "--vcn-id",
        "ocid1.vcn.oc1.iad.aaaaexample",
        "--kms-key-id",
        key,
        "--image-policy-config",
        &format!(r#"{{"isPolicyEnabled": true, "keyDetails": [{{"kmsKeyId": "{key}"}}]}}"#),
        "--wait-for-state",
        "SUCCEEDED",
    ]);
    assert_eq!(work["data"]["operation-type"], "CLUSTER_CREATE");
    let cluster = work["data"]["resources"][0]["identifier"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(cluster.starts_with("ocid1.cluster.oc1.us-ashburn-1."));
    let got = oci.json(&["ce", "cluster", "get", "--cluster-id", &cluster]);
    let data = &got["data"];
    assert_eq!(data["name"], "prod");
    assert_eq!(data["lifecycle-state"], "ACTIVE");
    assert_eq!(data["kms-key-id"], key);
    assert_eq!(data["image-policy-config"]["is-policy-enabled"], true);
    assert_eq!(
        data["endpoints"]["kubernetes"],
        server.endpoint().trim_start_matches("https://")
    );
    assert_eq!(data["kubernetes-version"], "v1.32.1");
    let listed = oci.json(&["ce", "cluster", "list", "--compartment-id", &tenancy]);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let updated = oci.json(&[
        "ce",
        "cluster",
        "update",
        "--cluster-id",
        &cluster,
        "--name",
        "production",
        "--kubernetes-version",
        "v1.33.0",
        "--wait-for-state",
        "SUCCEEDED",
    ]);
    assert_eq!(updated["data"]["operation-type"], "CLUSTER_UPDATE");
    let got = oci.json(&["ce", "cluster", "get", "--cluster-id", &cluster]);
    assert_eq!(got["data"]["name"], "production");

    let admin = server.admin();
    // kmsKeyId is fixed at creation: UpdateClusterDetails has no such field.
    let reply = admin
        .send(
            "PUT",
            &format!("/20180222/clusters/{cluster}"),
            Some(json!({"kmsKeyId": key})),
        )
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    // At most five keys in an image policy
    let six: Vec<_> = (0..6)
        .map(|i| json!({"kmsKeyId": format!("ocid1.key.oc1.iad.aaaakey{i}")}))
        .collect();
    let reply = admin
        .send(
            "PUT",
            &format!("/20180222/clusters/{cluster}"),
            Some(json!({"imagePolicyConfig": {"isPolicyEnabled": true, "keyDetails": six}})),
        )
        .await;
    assert_eq!(reply.code(), Some("InvalidParameter"));
    // Versions only go up
    let reply = admin
        .send(
            "PUT",
            &format!("/20180222/clusters/{cluster}"),
            Some(json!({"kubernetesVersion": "v1.30.0"})),
        )
        .await;
    assert_eq!(reply.code(), Some("InvalidParameter"));
    let reply = admin
        .send(
            "POST",
            "/20180222/clusters",
            Some(json!({"compartmentId": tenancy, "name": "x", "kubernetesVersion": "1.32"})),
        )
        .await;
    assert_eq!(reply.code(), Some("InvalidParameter"));

    // The kubeconfig is YAML naming this server
    let reply = admin
        .send_raw(
            "POST",
            &format!("/20180222/clusters/{cluster}/kubeconfig/content"),
            Some(br#"{"tokenVersion":"2.0.0"}"#.to_vec()),
            &[],
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/x-yaml"));
    let reply = admin
        .send(
            "POST",
            &format!("/20180222/clusters/{cluster}/kubeconfig/content"),
            Some(json!({"tokenVersion": "1.0.0"})),
        )
        .await;
    assert_eq!(reply.code(), Some("InvalidParameter"));

    let deleted = oci.json(&[
        "ce",
        "cluster",
        "delete",
        "--cluster-id",
        &cluster,
        "--force",
        "--wait-for-state",
        "SUCCEEDED",
    ]);
    assert_eq!(deleted["data"]["operation-type"], "CLUSTER_DELETE");
    let got = oci.json(&["ce", "cluster", "get", "--cluster-id", &cluster]);
    assert_eq!(got["data"]["lifecycle-state"], "DELETED");
    // A deleted cluster's endpoint is gone.
    let endpoint = admin
        .http()
        .get(format!("{}/clusters/{cluster}/version", server.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(endpoint.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_permission_tiers() {
    let server = common::server();
    let tenancy = server.tenancy();
    let admin = server.admin();
    let cluster = common::create_cluster(&server, "tiers");
    let user = admin
        .send(
            "POST",
            "/20160918/users",
            Some(json!({"compartmentId": tenancy, "name": "tess", "description": "t"})),
        )
        .await
        .field("id");
    let group = common::create_group(&admin, &tenancy, "tiered").await;
    admin
        .send(
            "POST",
            "/20160918/userGroupMemberships",
            Some(json!({"userId": user, "groupId": group})),
        )
        .await;
    let key = portcullis_auth::ApiPrivateKey::generate().unwrap();
    let public = key.public_key().unwrap();
    admin
        .send(
            "POST",
            &format!("/20160918/users/{user}/apiKeys"),
            Some(json!({"key": public.to_pem()})),
        )
        .await;
    let tess = ApiClient::new(
        server.endpoint(),
        &server.ca_bundle(),
        &tenancy,
        &user,
        &public.fingerprint(),
        key.to_pkcs8_pem(),
    );
    let list = format!("/20180222/clusters?compartmentId={tenancy}");
    let get = format!("/20180222/clusters/{cluster}");
    let kubeconfig = format!("/20180222/clusters/{cluster}/kubeconfig/content");
    let mut policy: Option<String> = None;
    // (verb, can list, can get, can get a kubeconfig, can update)
    for (verb, can_list, can_get, can_use, can_manage) in [
        ("none", false, false, false, false),
        ("inspect", true, false, false, false),
        ("read", true, true, false, false),
        ("use", true, true, true, false),
        ("manage", true, true, true, true),
    ] {
        if let Some(old) = policy.take() {
            admin
                .send("DELETE", &format!("/20160918/policies/{old}"), None)
                .await;
        }
        if verb != "none" {
            let created = admin
                .send(
                    "POST",
                    "/20160918/policies",
                    Some(json!({"compartmentId": tenancy, "name": format!("tier-{verb}"), "description": "d",
                                "statements": [format!("Allow group tiered to {verb} clusters in tenancy")]})),
                )
                .await;
            policy = Some(created.field("id"));
        }
        assert_eq!(
            tess.send("GET", &list, None).await.status == 200,
            can_list,
            "{verb} list"
        );
        assert_eq!(
            tess.send("GET", &get, None).await.status == 200,
            can_get,
            "{verb} get"
        );
        assert_eq!(
            tess.send("POST", &kubeconfig, Some(json!({}))).await.status == 200,
            can_use,
            "{verb} kubeconfig"
        );
        let update = tess
            .send("PUT", &get, Some(json!({"freeformTags": {"tier": verb}})))
            .await;
        assert_eq!(
            update.status == 202,
            can_manage,
            "{verb} update: {:?}",
            update.body
        );
        if !can_get {
            // Denied and missing look alike, as in OCI.
            assert_eq!(
                tess.send("GET", &get, None).await.code(),
                Some("NotAuthorizedOrNotFound")
            );
        }
    }
    // Conditions on target.cluster.id narrow a grant to one cluster.
    let other = common::create_cluster(&server, "other");
    admin
        .send(
            "POST",
            "/20160918/policies",
            Some(json!({"compartmentId": tenancy, "name": "one-cluster", "description": "d",
                        "statements": [format!("Allow group tiered to read clusters in tenancy where target.cluster.id = '{cluster}'")]})),
        )
        .await;
    if let Some(old) = policy.take() {
        admin
            .send("DELETE", &format!("/20160918/policies/{old}"), None)
            .await;
    }
    assert_eq!(tess.send("GET", &get, None).await.status, 200);
    assert_eq!(
        tess.send("GET", &format!("/20180222/clusters/{other}"), None)
            .await
            .status,
        404
    );
}
