//! Image signing with vault keys and each cluster's image verification policy, end to end:
//! images pushed to the registry, signed with `portcullis artifacts container
//! image-signature sign-upload`, and Deployments created with real kubectl against a
//! standalone cluster whose `imagePolicyConfig` lists a key. The same decisions come back
//! from the admission webhook for AdmissionReviews shaped as a kube-apiserver sends them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is a failed test"
)]

use std::path::Path;

use portcullis_testing::{ApiClient, OciCli, Server};
use serde_json::{Value, json};

mod common;

use common::kubectl::{Kubectl, allow, kubeconfig_for, portcullis};
use common::ok;
use common::registry::Registry;

const REPO: &str = "signed/app";

/// An RSA key in `vault`; returns (key, current version)
async fn rsa_key(api: &ApiClient, management: &str, tenancy: &str, name: &str) -> (String, String) {
    let key = ok(
        api,
        "POST",
        &format!("{management}/20180608/keys"),
        Some(json!({"compartmentId": tenancy, "displayName": name, "keyShape": {"algorithm": "RSA", "length": 256}})),
    )
    .await;
    (
        key["id"].as_str().unwrap().to_owned(),
        key["currentKeyVersion"].as_str().unwrap().to_owned(),
    )
}

fn cli(server: &Server, args: &[&str]) -> std::process::Output {
    portcullis(server, &server.config_file(), args)
}

fn cli_ok(server: &Server, args: &[&str]) -> Value {
    let out = cli(server, args);
    assert!(
        out.status.success(),
        "portcullis {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn sign(server: &Server, tenancy: &str, image_id: &str, key: &(String, String)) -> Value {
    cli_ok(
        server,
        &[
            "artifacts",
            "container",
            "image-signature",
            "sign-upload",
            "--compartment-id",
            tenancy,
            "--kms-key-id",
            &key.0,
            "--kms-key-version-id",
            &key.1,
            "--signing-algorithm",
            "SHA_256_RSA_PKCS_PSS",
            "--image-id",
            image_id,
            "--description",
            "built by CI",
            "--metadata",
            r#"{"buildNumber":"42"}"#,
        ],
    )
}

fn deploy(kubectl: &Kubectl, name: &str, image: &str) -> std::process::Output {
    kubectl.run(&["create", "deployment", name, &format!("--image={image}")])
}

fn admitted(kubectl: &Kubectl, name: &str, image: &str) {
    let out = deploy(kubectl, name, image);
    assert!(
        out.status.success(),
        "{name} ({image}) should be admitted: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn denied(kubectl: &Kubectl, name: &str, image: &str, words: &[&str]) -> String {
    let out = deploy(kubectl, name, image);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{name} ({image}) should be denied");
    assert!(said.contains(image), "the denial names the image: {said}");
    for w in words {
        assert!(said.contains(w), "the denial says {w:?}: {said}");
    }
    said
}

fn review(kind: &str, group: &str, resource: &str, object: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("uid-{kind}"),
            "kind": {"group": group, "version": "v1", "kind": kind},
            "resource": {"group": group, "version": "v1", "resource": resource},
            "requestKind": {"group": group, "version": "v1", "kind": kind},
            "requestResource": {"group": group, "version": "v1", "resource": resource},
            "name": "x", "namespace": "default", "operation": "CREATE",
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
            "object": object, "oldObject": null, "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn clusters_admit_only_images_signed_by_their_keys() {
    let server = common::server();
    let tenancy = server.tenancy();
    let api = server.admin();
    let oci = OciCli::new(&server, &server.config_file());
    let host = server.endpoint().trim_start_matches("https://").to_owned();
    let registry = Registry::login_to(&server, REPO).await;
    let mut digests = Vec::new();
    for seed in ["signed", "unsigned", "other-key", "by-oci"] {
        let (digest, reply) = registry.push_image(REPO, seed, seed, json!({})).await;
        assert_eq!(reply.status(), 201);
        digests.push(digest);
    }
    let images = ok(
        &api,
        "GET",
        &format!("/20160918/container/images?compartmentId={tenancy}&repositoryName={REPO}"),
        None,
    )
    .await;
    let image_id = |digest: &str| -> String {
        images["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["digest"] == digest)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let by_digest = |digest: &str| format!("{host}/{REPO}@{digest}");
    let (signed, unsigned, other) = (digests[0].clone(), digests[1].clone(), digests[2].clone());

    let vault = ok(
        &api,
        "POST",
        "/20180608/vaults",
        Some(json!({"compartmentId": tenancy, "displayName": "signing"})),
    )
    .await;
    let management = format!("/kms/{}/management", vault["id"].as_str().unwrap());
    let k = rsa_key(&api, &management, &tenancy, "release").await;
    let k2 = rsa_key(&api, &management, &tenancy, "other").await;

    // Key OCIDs have the shape `oci`'s sign-upload parses to find the vault.
    let shape = regex_like_oci(&k.0);
    assert!(
        shape,
        "{} is not ocid1.key.<realm>.<region>.<vault-ext>.<60 characters>",
        k.0
    );

    let uploaded = sign(&server, &tenancy, &image_id(&signed), &k);
    assert_eq!(uploaded["data"]["kms-key-id"], k.0.as_str(), "{uploaded}");
    assert_eq!(
        uploaded["data"]["signing-algorithm"],
        "SHA_256_RSA_PKCS_PSS"
    );
    sign(&server, &tenancy, &image_id(&other), &k2);
    // Our CLI signs the message the CLI's format prescribes.
    let ours = portcullis_sign::SignedMessage {
        description: "built by CI".into(),
        image_digest: signed.clone(),
        kms_key_id: k.0.clone(),
        kms_key_version_id: k.1.clone(),
        metadata: r#"{"buildNumber":"42"}"#.into(),
        region: "us-ashburn-1".into(),
        repository_name: REPO.into(),
        signing_algorithm: "SHA_256_RSA_PKCS_PSS".into(),
    };
    assert_eq!(uploaded["data"]["message"], ours.encode().as_str());

    // The official CLI's own sign-upload (its message builder, the SDK's KMS Sign and
    // CreateContainerImageSignature) against this server, for the fourth image.
    let by_oci = digests[3].clone();
    let by_oci_id = image_id(&by_oci);
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/image_policy/oci_sign_upload.py");
    let out = std::process::Command::new(portcullis_testing::find_oci().with_file_name("python3"))
        .arg(&script)
        .args([
            "--config-file",
            server.config_file().to_str().unwrap(),
            "--endpoint",
            server.endpoint(),
            "--no-retry",
        ])
        .args([
            "artifacts",
            "container",
            "image-signature",
            "sign-upload",
            "--compartment-id",
            &tenancy,
            "--kms-key-id",
            &k.0,
            "--kms-key-version-id",
            &k.1,
            "--signing-algorithm",
            "SHA_256_RSA_PKCS_PSS",
            "--image-id",
            &by_oci_id,
            "--description",
            "built by CI",
            "--metadata",
            r#"{"buildNumber":"42"}"#,
        ])
        .env("REQUESTS_CA_BUNDLE", server.ca_bundle())
        .env_remove("CURL_CA_BUNDLE")
        .env("OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING", "True")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "oci sign-upload: {printed}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json_start = printed.find("\n{").map_or(0, |i| i + 1);
    let by_cli: Value = serde_json::from_str(&printed[json_start..]).unwrap();
    let expected = portcullis_sign::SignedMessage {
        image_digest: by_oci.clone(),
        ..ours.clone()
    };
    assert_eq!(
        by_cli["data"]["message"],
        expected.encode().as_str(),
        "the oci CLI's message and ours differ for the same image and key"
    );
    // get-verify finds it with the trusted key, and nothing with only another key.
    let verified = cli_ok(
        &server,
        &[
            "artifacts",
            "container",
            "image-signature",
            "get-verify",
            "--compartment-id",
            &tenancy,
            "--repo-name",
            REPO,
            "--image-digest",
            &signed,
            "--trusted-keys",
            &k.0,
        ],
    );
    assert_eq!(verified["data"]["kms-key-id"], k.0.as_str());
    assert!(
        !cli(
            &server,
            &[
                "artifacts",
                "container",
                "image-signature",
                "get-verify",
                "--compartment-id",
                &tenancy,
                "--repo-name",
                REPO,
                "--image-digest",
                &signed,
                "--trusted-keys",
                &k2.0
            ]
        )
        .status
        .success()
    );
    // The signature travels with the image: a referrer whose subject is the image.
    let referrers = registry
        .send(
            reqwest::Method::GET,
            &format!("/v2/{REPO}/referrers/{signed}"),
            &[],
            None,
        )
        .await;
    let referrers: Value = referrers.json().await.unwrap();
    assert_eq!(
        referrers["manifests"].as_array().unwrap().len(),
        1,
        "{referrers}"
    );
    assert_eq!(
        referrers["manifests"][0]["artifactType"],
        portcullis_imagepolicy::SIGNATURE_ARTIFACT_TYPE
    );

    // A second signature with the same key is refused; replayed or altered ones too.
    let second = cli(
        &server,
        &[
            "artifacts",
            "container",
            "image-signature",
            "sign-upload",
            "--compartment-id",
            &tenancy,
            "--kms-key-id",
            &k.0,
            "--kms-key-version-id",
            &k.1,
            "--signing-algorithm",
            "SHA_256_RSA_PKCS_PSS",
            "--image-id",
            &image_id(&signed),
        ],
    );
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already has a signature"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let message = uploaded["data"]["message"].as_str().unwrap();
    let signature = uploaded["data"]["signature"].as_str().unwrap();
    let upload = |image: &str, message: &str, signature: &str, algorithm: &str| json!({"compartmentId": tenancy, "imageId": image, "kmsKeyId": k.0, "kmsKeyVersionId": k.1, "message": message, "signature": signature, "signingAlgorithm": algorithm});
    for (body, words) in [
        (
            upload(
                &image_id(&unsigned),
                message,
                signature,
                "SHA_256_RSA_PKCS_PSS",
            ),
            "imageDigest",
        ),
        (
            upload(
                &image_id(&unsigned),
                message,
                signature,
                "SHA_256_RSA_PKCS1_V1_5",
            ),
            "not accepted",
        ),
        (
            upload(
                &image_id(&unsigned),
                "%%%",
                signature,
                "SHA_256_RSA_PKCS_PSS",
            ),
            "base64",
        ),
        (
            upload(
                &image_id(&unsigned),
                message,
                "AAAA",
                "SHA_256_RSA_PKCS_PSS",
            ),
            "imageDigest",
        ),
    ] {
        let reply = api
            .send("POST", "/20160918/container/imageSignatures", Some(body))
            .await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert!(
            reply.body["message"].as_str().unwrap().contains(words),
            "{}",
            reply.body
        );
    }
    // A message that agrees with the image but a signature made over something else.
    let forged = portcullis_sign::SignedMessage {
        description: String::new(),
        image_digest: unsigned.clone(),
        kms_key_id: k.0.clone(),
        kms_key_version_id: k.1.clone(),
        metadata: String::new(),
        region: "us-ashburn-1".into(),
        repository_name: REPO.into(),
        signing_algorithm: "SHA_256_RSA_PKCS_PSS".into(),
    }
    .encode();
    let reply = api
        .send(
            "POST",
            "/20160918/container/imageSignatures",
            Some(upload(
                &image_id(&unsigned),
                &forged,
                signature,
                "SHA_256_RSA_PKCS_PSS",
            )),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{}",
        reply.body
    );

    // Uploads by one key for one image at once: exactly one lands.
    let (race, reply) = registry.push_image(REPO, "race", "race", json!({})).await;
    assert_eq!(reply.status(), 201);
    let listed = ok(
        &api,
        "GET",
        &format!("/20160918/container/images?compartmentId={tenancy}&repositoryName={REPO}"),
        None,
    )
    .await;
    let race_id = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["digest"] == race.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let race_message = portcullis_sign::SignedMessage {
        image_digest: race.clone(),
        ..ours.clone()
    }
    .encode();
    let race_signature = ok(&api, "POST", "/20180608/sign", Some(json!({"message": race_message, "keyId": k.0, "keyVersionId": k.1, "signingAlgorithm": "SHA_256_RSA_PKCS_PSS", "messageType": "RAW"}))).await;
    let body = upload(
        &race_id,
        &race_message,
        race_signature["signature"].as_str().unwrap(),
        "SHA_256_RSA_PKCS_PSS",
    );
    let replies = futures::future::join_all((0..6).map(|_| {
        api.send(
            "POST",
            "/20160918/container/imageSignatures",
            Some(body.clone()),
        )
    }))
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    let race_signatures = ok(
        &api,
        "GET",
        &format!("/20160918/container/imageSignatures?compartmentId={tenancy}&imageDigest={race}"),
        None,
    )
    .await;
    assert_eq!(
        race_signatures["items"].as_array().unwrap().len(),
        1,
        "{race_signatures}"
    );

    // More than five keys in a policy is refused.
    let six: Vec<Value> = (0..6).map(|_| json!({"kmsKeyId": k.0})).collect();
    let cluster = common::create_cluster_with(
        &server,
        "verified",
        &[
            "--image-policy-config",
            &json!({"isPolicyEnabled": true, "keyDetails": [{"kmsKeyId": k.0}]}).to_string(),
        ],
    );
    let too_many = api
        .send(
            "PUT",
            &format!("/20180222/clusters/{cluster}"),
            Some(json!({"imagePolicyConfig": {"isPolicyEnabled": true, "keyDetails": six}})),
        )
        .await;
    assert_eq!(too_many.status, 400, "{}", too_many.body);

    let dir = tempfile::tempdir().unwrap();
    let kubectl = kubeconfig_for(&server, &server.config_file(), &cluster, dir.path());

    // Without the cluster's own permissions, even the signed image is refused, naming them.
    denied(
        &kubectl,
        "no-repos",
        &by_digest(&signed),
        &["REPOSITORY_READ", "read repos"],
    );
    allow(
        &server,
        &oci,
        "cluster-repos",
        &format!("Allow any-user to read repos in tenancy where request.user.id = '{cluster}'"),
    );
    denied(
        &kubectl,
        "no-keys",
        &by_digest(&signed),
        &["KEY_VERIFY", "use keys"],
    );
    allow(
        &server,
        &oci,
        "cluster-keys",
        &format!("Allow any-user to use keys in tenancy where request.user.id = '{cluster}'"),
    );

    admitted(&kubectl, "signed", &by_digest(&signed));
    admitted(&kubectl, "signed-by-oci", &by_digest(&by_oci));
    denied(
        &kubectl,
        "by-tag",
        &format!("{host}/{REPO}:signed"),
        &["by digest"],
    );
    denied(
        &kubectl,
        "unsigned",
        &by_digest(&unsigned),
        &["no signature", &k.0],
    );
    denied(&kubectl, "other-key", &by_digest(&other), &["no signature"]);
    // Images from elsewhere are not this policy's business.
    admitted(&kubectl, "elsewhere", "docker.io/library/busybox:1.36");
    // A second signature, by K, makes the other image pass.
    sign(&server, &tenancy, &image_id(&other), &k);
    admitted(&kubectl, "other-key-now", &by_digest(&other));

    // Break-glass admits an unsigned image, and is audited.
    let manifest = dir.path().join("glass.yaml");
    std::fs::write(
        &manifest,
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: glass\nspec:\n  selector:\n    matchLabels: {{app: glass}}\n  template:\n    metadata:\n      labels: {{app: glass}}\n      annotations:\n        oracle.image-policy.k8s.io/break-glass: \"true\"\n    spec:\n      containers:\n        - name: c\n          image: {}\n",
            by_digest(&unsigned)
        ),
    )
    .unwrap();
    kubectl.ok(&["create", "-f", manifest.to_str().unwrap()]);
    assert!(
        server
            .log_text()
            .contains("image policy bypassed by break-glass")
    );

    // The webhook gives the same decisions for reviews a kube-apiserver would send.
    let attach_dir = dir.path().join("attach");
    let attached = common::kubectl::attach(&server, &cluster, attach_dir.to_str().unwrap());
    assert!(
        attached.status.success(),
        "{}",
        String::from_utf8_lossy(&attached.stderr)
    );
    let webhook = std::fs::read_to_string(attach_dir.join("image-policy-webhook.yaml")).unwrap();
    assert!(
        webhook.contains("failurePolicy: Fail") && webhook.contains("/webhooks/admit"),
        "{webhook}"
    );
    let credential: Value = serde_json::from_str(
        &std::fs::read_to_string(attach_dir.join("cluster-credential.json")).unwrap(),
    )
    .unwrap();
    let token = credential["token"].as_str().unwrap();
    let pod = |image: &str| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [{"name": "a", "image": image}, {"name": "b", "image": image}]}});
    let deployment = |image: &str| json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"metadata": {}, "spec": {"containers": [{"name": "a", "image": image}]}}}});
    let cronjob = |image: &str| json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}, "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"initContainers": [{"name": "i", "image": image}], "containers": [{"name": "a", "image": "busybox"}]}}}}}});
    let url = format!("{}/clusters/{cluster}/webhooks/admit", server.endpoint());
    for (body, allowed) in [
        (review("Pod", "", "pods", pod(&by_digest(&signed))), true),
        (review("Pod", "", "pods", pod(&by_digest(&unsigned))), false),
        (
            review(
                "Deployment",
                "apps",
                "deployments",
                deployment(&by_digest(&signed)),
            ),
            true,
        ),
        (
            review(
                "Deployment",
                "apps",
                "deployments",
                deployment(&format!("{host}/{REPO}:signed")),
            ),
            false,
        ),
        (
            review("CronJob", "batch", "cronjobs", cronjob(&by_digest(&signed))),
            true,
        ),
        (
            review(
                "CronJob",
                "batch",
                "cronjobs",
                cronjob(&by_digest(&unsigned)),
            ),
            false,
        ),
    ] {
        let answer: Value = api
            .http()
            .post(&url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["response"]["uid"], body["request"]["uid"]);
        assert_eq!(answer["response"]["allowed"], allowed, "{answer}");
        if !allowed {
            assert_eq!(answer["response"]["status"]["code"], 403);
            assert!(
                answer["response"]["status"]["message"]
                    .as_str()
                    .unwrap()
                    .contains(REPO)
            );
        }
    }
    // Malformed input gets each protocol's error, and the server stays up.
    for body in [
        b"not json".to_vec(),
        br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}"#.to_vec(),
    ] {
        let reply = api
            .http()
            .post(&url)
            .bearer_auth(token)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 400);
        let status: Value = reply.json().await.unwrap();
        assert_eq!(status["kind"], "Status", "{status}");
    }
    let no_objects = api
        .send(
            "POST",
            &format!("/20180222/clusters/{cluster}/actions/testImagePolicy"),
            Some(json!({"objects": "nope"})),
        )
        .await;
    assert_eq!(no_objects.status, 400, "{}", no_objects.body);
    assert_eq!(no_objects.body["code"], "InvalidParameter");
    let bad_sort = api
        .send(
            "GET",
            &format!("/20210215/containerScanResults?compartmentId={tenancy}&sortBy=color"),
            None,
        )
        .await;
    assert_eq!(bad_sort.status, 400, "{}", bad_sort.body);
    let bad_severity = api.send("GET", &format!("/20210215/containerScanResults?compartmentId={tenancy}&highestProblemSeverity=SEVERE"), None).await;
    assert_eq!(bad_severity.status, 400, "{}", bad_severity.body);
    let bad_signature_id = api
        .send(
            "GET",
            "/20160918/container/imageSignatures/not-an-ocid",
            None,
        )
        .await;
    assert_eq!(bad_signature_id.status, 400, "{}", bad_signature_id.body);
    let unauthenticated = api
        .http()
        .post(&url)
        .json(&review("Pod", "", "pods", pod("x")))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    // `ce cluster image-policy test` tells before deploying, and admits nothing.
    let manifest = dir.path().join("release.yaml");
    std::fs::write(
        &manifest,
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: {}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: tool\nspec:\n  containers:\n    - name: tool\n      image: {}\n",
            by_digest(&signed),
            by_digest(&unsigned)
        ),
    )
    .unwrap();
    let tested = cli(
        &server,
        &[
            "ce",
            "cluster",
            "image-policy",
            "test",
            "--cluster-id",
            &cluster,
            "-f",
            manifest.to_str().unwrap(),
        ],
    );
    assert_eq!(
        tested.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&tested.stderr)
    );
    let report: Value = serde_json::from_slice(&tested.stdout).unwrap();
    let results = report["data"]["results"].as_array().unwrap();
    assert_eq!(results[0]["allowed"], true, "{report}");
    assert_eq!(results[1]["allowed"], false, "{report}");
    assert!(
        results[1]["denials"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no signature"),
        "{report}"
    );
    assert!(
        kubectl.run(&["get", "pod", "tool"]).status.code() != Some(0),
        "the test admitted nothing"
    );

    // Beyond OKE: other registries refused on request; audit mode admits and records.
    let policy = |extra: Value| {
        let mut config = json!({"isPolicyEnabled": true, "keyDetails": [{"kmsKeyId": k.0}]});
        config
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"imagePolicyConfig": config})
    };
    ok(
        &api,
        "PUT",
        &format!("/20180222/clusters/{cluster}"),
        Some(policy(json!({"isOtherRegistriesDenied": true}))),
    )
    .await;
    let said = denied(
        &kubectl,
        "elsewhere-now",
        "docker.io/library/busybox:1.36",
        &["not allowed"],
    );
    assert!(said.contains(&host), "{said}");
    ok(
        &api,
        "PUT",
        &format!("/20180222/clusters/{cluster}"),
        Some(policy(json!({"enforcementMode": "AUDIT"}))),
    )
    .await;
    let audited = deploy(&kubectl, "audited", &by_digest(&unsigned));
    assert!(audited.status.success());
    // kubectl prints the server's `Warning` header.
    let warned = String::from_utf8_lossy(&audited.stderr);
    assert!(
        warned.contains("Warning: audit mode, would be refused") && warned.contains(&unsigned),
        "{warned}"
    );
    assert!(
        server
            .log_text()
            .contains("image policy in audit mode: enforcement would deny")
    );
    let bad_mode = api
        .send(
            "PUT",
            &format!("/20180222/clusters/{cluster}"),
            Some(policy(json!({"enforcementMode": "SOMETIMES"}))),
        )
        .await;
    assert_eq!(bad_mode.status, 400, "{}", bad_mode.body);
    ok(
        &api,
        "PUT",
        &format!("/20180222/clusters/{cluster}"),
        Some(policy(json!({}))),
    )
    .await;

    // Removing the cluster's `use keys` policy denies, naming the permission.
    let policies = ok(
        &api,
        "GET",
        &format!("/20160918/policies?compartmentId={tenancy}"),
        None,
    )
    .await;
    let keys_policy = policies
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "cluster-keys")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &api,
        "DELETE",
        &format!("/20160918/policies/{keys_policy}"),
        None,
    )
    .await;
    denied(
        &kubectl,
        "after-policy-removal",
        &by_digest(&signed),
        &["KEY_VERIFY"],
    );
    allow(
        &server,
        &oci,
        "cluster-keys-again",
        &format!("Allow any-user to use keys in tenancy where request.user.id = '{cluster}'"),
    );
    admitted(&kubectl, "policy-back", &by_digest(&signed));

    // Disabling K fails closed: its signatures no longer admit anything.
    ok(
        &api,
        "POST",
        &format!("{management}/20180608/keys/{}/actions/disable", k.0),
        None,
    )
    .await;
    denied(&kubectl, "key-disabled", &by_digest(&signed), &[&k.0]);
    ok(
        &api,
        "POST",
        &format!("{management}/20180608/keys/{}/actions/enable", k.0),
        None,
    )
    .await;

    // Deleting the signature makes the image untrusted.
    let signature_id = uploaded["data"]["id"].as_str().unwrap();
    ok(
        &api,
        "DELETE",
        &format!("/20160918/container/imageSignatures/{signature_id}"),
        None,
    )
    .await;
    denied(
        &kubectl,
        "signature-deleted",
        &by_digest(&signed),
        &["no signature"],
    );

    // Cosign's format with a vault P-256 key: stored under the `.sig` tag, verifiable by
    // anyone with the public key (openssl here), and accepted by a policy listing the key.
    let ec = ok(&api, "POST", &format!("{management}/20180608/keys"), Some(json!({"compartmentId": tenancy, "displayName": "cosign", "keyShape": {"algorithm": "ECDSA", "length": 32, "curveId": "NIST_P256"}}))).await;
    let ec_id = ec["id"].as_str().unwrap().to_owned();
    let ec_version = ec["currentKeyVersion"].as_str().unwrap().to_owned();
    let made = cli_ok(
        &server,
        &[
            "artifacts",
            "container",
            "image-signature",
            "cosign-sign",
            "--image-id",
            &image_id(&unsigned),
            "--kms-key-id",
            &ec_id,
        ],
    );
    let tag = made["data"]["signature-tag"].as_str().unwrap().to_owned();
    assert_eq!(
        tag,
        format!("sha256-{}.sig", unsigned.trim_start_matches("sha256:"))
    );
    let sig_manifest = oci_manifest(&registry, &tag).await;
    let layer = &sig_manifest["layers"][0];
    assert_eq!(
        layer["mediaType"],
        portcullis_sign::cosign::SIMPLE_SIGNING_MEDIA_TYPE
    );
    let payload = registry
        .send(
            reqwest::Method::GET,
            &format!("/v2/{REPO}/blobs/{}", layer["digest"].as_str().unwrap()),
            &[],
            None,
        )
        .await
        .bytes()
        .await
        .unwrap();
    let claimed = portcullis_sign::cosign::read_payload(&payload).unwrap();
    assert_eq!(claimed.image_digest, unsigned);
    assert_eq!(claimed.docker_reference, format!("{host}/{REPO}"));
    let version = ok(
        &api,
        "GET",
        &format!("{management}/20180608/keys/{ec_id}/keyVersions/{ec_version}"),
        None,
    )
    .await;
    let cosign_dir = dir.path().join("cosign");
    std::fs::create_dir_all(&cosign_dir).unwrap();
    std::fs::write(
        cosign_dir.join("cosign.pub"),
        version["publicKey"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(cosign_dir.join("payload.json"), &payload).unwrap();
    use base64::Engine as _;
    std::fs::write(
        cosign_dir.join("payload.sig"),
        base64::engine::general_purpose::STANDARD
            .decode(
                layer["annotations"][portcullis_sign::cosign::SIGNATURE_ANNOTATION]
                    .as_str()
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    let openssl = std::process::Command::new("openssl")
        .current_dir(&cosign_dir)
        .args([
            "dgst",
            "-sha256",
            "-verify",
            "cosign.pub",
            "-signature",
            "payload.sig",
            "payload.json",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&openssl.stdout).contains("Verified OK"),
        "openssl: {}{}",
        String::from_utf8_lossy(&openssl.stdout),
        String::from_utf8_lossy(&openssl.stderr)
    );
    // The sigstore project's own verifier agrees.
    let sigstore_key = sigstore::crypto::CosignVerificationKey::from_pem(
        version["publicKey"].as_str().unwrap().as_bytes(),
        &sigstore::crypto::SigningScheme::ECDSA_P256_SHA256_ASN1,
    )
    .unwrap();
    let cosign_signature = layer["annotations"][portcullis_sign::cosign::SIGNATURE_ANNOTATION]
        .as_str()
        .unwrap()
        .as_bytes();
    sigstore_key
        .verify_signature(
            sigstore::crypto::Signature::Base64Encoded(cosign_signature),
            &payload,
        )
        .expect("sigstore verifies the cosign signature made with the vault key");
    assert!(
        sigstore_key
            .verify_signature(
                sigstore::crypto::Signature::Base64Encoded(cosign_signature),
                b"another payload",
            )
            .is_err()
    );
    ok(&api, "PUT", &format!("/20180222/clusters/{cluster}"), Some(json!({"imagePolicyConfig": {"isPolicyEnabled": true, "keyDetails": [{"kmsKeyId": ec_id}]}}))).await;
    admitted(&kubectl, "cosign-signed", &by_digest(&unsigned));
    denied(
        &kubectl,
        "not-cosign-signed",
        &by_digest(&other),
        &["no signature", &ec_id],
    );
    let rsa_pss = api
        .send(
            "POST",
            &format!(
                "/20160918/container/images/{}/actions/cosignSign",
                image_id(&other)
            ),
            Some(json!({"kmsKeyId": ec_id, "signingAlgorithm": "SHA_256_RSA_PKCS_PSS"})),
        )
        .await;
    assert_eq!(rsa_pss.status, 400, "{}", rsa_pss.body);
    // Four cosign signatures of one image at once: the `.sig` artifact keeps all four.
    let path = format!(
        "/20160918/container/images/{}/actions/cosignSign",
        image_id(&other)
    );
    let replies = futures::future::join_all((0..4).map(|_| {
        api.send(
            "POST",
            &path,
            Some(json!({"kmsKeyId": ec_id, "signingAlgorithm": "ECDSA_SHA_256"})),
        )
    }))
    .await;
    assert!(replies.iter().all(|r| r.status == 200), "{replies:?}");
    let other_tag = format!("sha256-{}.sig", other.trim_start_matches("sha256:"));
    let together = oci_manifest(&registry, &other_tag).await;
    let kept: std::collections::BTreeSet<&str> = together["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l["annotations"][portcullis_sign::cosign::SIGNATURE_ANNOTATION]
                .as_str()
                .unwrap()
        })
        .collect();
    let made: std::collections::BTreeSet<&str> = replies
        .iter()
        .map(|r| r.body["signature"].as_str().unwrap())
        .collect();
    assert_eq!(kept, made);

    // Enabled with no keys: everything is admitted.
    let open = api
        .send(
            "PUT",
            &format!("/20180222/clusters/{cluster}"),
            Some(json!({"imagePolicyConfig": {"isPolicyEnabled": true, "keyDetails": []}})),
        )
        .await;
    assert!(open.status < 300, "{}", open.body);
    wait_until(|| {
        deploy(&kubectl, "no-keys-anything", &by_digest(&unsigned))
            .status
            .success()
    });
}

/// `oci`'s own pattern for key OCIDs: `ocid1.key.<realm>.<region>.<vault-ext>.<60 word characters>`
fn regex_like_oci(key: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    parts.len() == 6
        && parts[0] == "ocid1"
        && parts[1] == "key"
        && parts[5].len() == 60
        && parts[5]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && parts[2..5].iter().all(|p| !p.is_empty())
}

fn wait_until(mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "timed out"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// The vulnerability gate: an image whose latest scan has an open problem at or above the
/// cluster's threshold is refused, naming the advisory, until the repository's allowlist
/// accepts it
#[tokio::test(flavor = "multi_thread")]
async fn the_vulnerability_gate_refuses_images_with_open_problems() {
    let work = tempfile::tempdir().unwrap();
    let seed = work.path().join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    std::fs::write(
        seed.join("PCTEST-0001.json"),
        json!({
            "schema_version": "1.6.0", "id": "PCTEST-0001", "modified": "2026-01-01T00:00:00Z",
            "aliases": ["CVE-2099-0001"], "summary": "pcdemo-alpha lets anyone in",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "pcdemo-alpha"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}]}],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        })
        .to_string(),
    )
    .unwrap();
    let server = Server::start(
        common::binary(),
        portcullis_testing::ServerOptions {
            args: vec!["--vulndb-seed".into(), seed.display().to_string()],
            ..portcullis_testing::ServerOptions::default()
        },
    );
    let tenancy = server.tenancy();
    let api = server.admin();
    let host = server.endpoint().trim_start_matches("https://").to_owned();
    let registry = Registry::login_to(&server, REPO).await;
    let layer = common::registry::python_layer(&[("pcdemo-alpha", "1.0")]);
    let config = serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux"})).unwrap();
    let config_digest = registry.push_blob(REPO, &config).await;
    let layer_digest = registry.push_blob(REPO, &layer).await;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
    }))
    .unwrap();
    let digest = common::registry::digest(&manifest);
    let pushed = registry
        .send(
            reqwest::Method::PUT,
            &format!("/v2/{REPO}/manifests/v1"),
            &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
            Some(manifest),
        )
        .await;
    assert_eq!(pushed.status(), 201);
    let recipe = ok(
        &api,
        "POST",
        "/20210215/containerScanRecipes",
        Some(json!({"compartmentId": tenancy, "scanSettings": {"scanLevel": "STANDARD"}})),
    )
    .await;
    ok(
        &api,
        "POST",
        "/20210215/containerScanTargets",
        Some(json!({
            "compartmentId": tenancy, "containerScanRecipeId": recipe["id"],
            "targetRegistry": {"type": "OCIR", "compartmentId": tenancy, "repositories": [REPO]},
        })),
    )
    .await;
    let results = format!("/20210215/containerScanResults?compartmentId={tenancy}&image={digest}");
    wait_until_async(&api, &results).await;

    let cluster = common::create_cluster_with(
        &server,
        "gated",
        &["--image-policy-config", &json!({"isPolicyEnabled": true, "keyDetails": [], "vulnerabilitySeverityThreshold": "HIGH"}).to_string()],
    );
    let dir = tempfile::tempdir().unwrap();
    let kubectl = kubeconfig_for(&server, &server.config_file(), &cluster, dir.path());
    let image = format!("{host}/{REPO}@{digest}");
    // The gate reads what the cluster may pull: first it needs `read repos`.
    denied(&kubectl, "unreadable", &image, &["REPOSITORY_READ"]);
    ok(&api, "POST", "/20160918/policies", Some(json!({
        "compartmentId": tenancy, "name": "gated-repos", "description": "d",
        "statements": [format!("Allow any-user to read repos in tenancy where request.user.id = '{cluster}'")],
    })))
    .await;
    denied(
        &kubectl,
        "vulnerable",
        &image,
        &["CVE-2099-0001", "CRITICAL", "at or above HIGH"],
    );

    // A grace period lets it through for a week after the scan first found the problem,
    // with a warning kubectl prints and an audit record.
    let gate = |extra: Value| {
        let mut config = json!({"isPolicyEnabled": true, "keyDetails": [], "vulnerabilitySeverityThreshold": "HIGH"});
        config
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({ "imagePolicyConfig": config })
    };
    for bad in [
        json!({"vulnerabilityGracePeriodDays": 0}),
        json!({"vulnerabilityGracePeriodDays": 91}),
    ] {
        let reply = api
            .send(
                "PUT",
                &format!("/20180222/clusters/{cluster}"),
                Some(gate(bad)),
            )
            .await;
        assert_eq!(reply.status, 400, "{}", reply.body);
    }
    let no_threshold = api.send("PUT", &format!("/20180222/clusters/{cluster}"), Some(json!({"imagePolicyConfig": {"isPolicyEnabled": true, "vulnerabilityGracePeriodDays": 7}}))).await;
    assert_eq!(no_threshold.status, 400, "{}", no_threshold.body);
    ok(
        &api,
        "PUT",
        &format!("/20180222/clusters/{cluster}"),
        Some(gate(json!({"vulnerabilityGracePeriodDays": 7}))),
    )
    .await;
    let mut in_grace = None;
    wait_until(|| {
        let out = deploy(&kubectl, "in-grace", &image);
        let ok = out.status.success();
        in_grace = Some(out);
        ok
    });
    let warned = String::from_utf8_lossy(&in_grace.unwrap().stderr).into_owned();
    assert!(
        warned.contains("Warning:")
            && warned.contains("grace period")
            && warned.contains("CVE-2099-0001"),
        "{warned}"
    );
    assert!(
        server
            .log_text()
            .contains("image admitted inside its vulnerability grace period")
    );
    ok(
        &api,
        "PUT",
        &format!("/20180222/clusters/{cluster}"),
        Some(gate(json!({}))),
    )
    .await;
    let mut attempt = 0;
    wait_until(|| {
        attempt += 1;
        let out = deploy(&kubectl, &format!("after-grace-{attempt}"), &image);
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("CVE-2099-0001")
    });

    // The repository's allowlist accepts the advisory: admitted.
    let repositories = ok(
        &api,
        "GET",
        &format!("/20160918/container/repositories?compartmentId={tenancy}&displayName={REPO}"),
        None,
    )
    .await;
    let repository_id = repositories["items"][0]["id"].as_str().unwrap().to_owned();
    ok(&api, "PUT", &format!("/20160918/container/repositories/{repository_id}/scanAllowlist"), Some(json!({"entries": [{
        "id": "CVE-2099-0001", "expires": "2099-01-01T00:00:00Z", "author": "security@example.com", "reason": "not reachable",
    }]})))
    .await;
    admitted(&kubectl, "accepted", &image);
    // A tag could move after admission: the gate judges digests only.
    denied(
        &kubectl,
        "gated-tag",
        &format!("{host}/{REPO}:v1"),
        &["by digest"],
    );
    // An image no scan target covers has no result, and is not known to be clean.
    let elsewhere = Registry::login_to(&server, "unscanned/app").await;
    let (unscanned, reply) = elsewhere
        .push_image("unscanned/app", "unscanned", "v1", json!({}))
        .await;
    assert_eq!(reply.status(), 201);
    denied(
        &kubectl,
        "never-scanned",
        &format!("{host}/unscanned/app@{unscanned}"),
        &["not been scanned", "unscanned/app"],
    );
}

/// The OCI manifest `reference` names in the test repository
async fn oci_manifest(registry: &Registry, reference: &str) -> Value {
    registry
        .send(
            reqwest::Method::GET,
            &format!("/v2/{REPO}/manifests/{reference}"),
            &[("accept", "application/vnd.oci.image.manifest.v1+json")],
            None,
        )
        .await
        .json()
        .await
        .unwrap()
}

/// Polls a result list until it has an item
async fn wait_until_async(api: &ApiClient, path: &str) {
    let started = std::time::Instant::now();
    loop {
        let listed = api.send("GET", path, None).await;
        if listed.body["items"]
            .as_array()
            .is_some_and(|i| !i.is_empty())
        {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no scan result: {}",
            listed.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
