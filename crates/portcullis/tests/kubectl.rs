//! Real kubectl against a cluster endpoint, through kubeconfigs made by our CLI and by the
//! official `oci` CLI, with OKE user tokens and service-account tokens.

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

use common::kubectl::{IamUser, Kubectl, allow, iam_user, kubeconfig_for, portcullis, with_token};
use portcullis_testing::OciCli;
use serde_json::Value;

/// The token in `oke-kubeconfig-sa-token`, read the way OKE's procedure reads it
/// (`kubectl get ... -o jsonpath` piped through `base64 --decode`)
fn secret_token(admin: &Kubectl) -> String {
    let encoded = admin.ok(&[
        "-n",
        "kube-system",
        "get",
        "secret",
        "oke-kubeconfig-sa-token",
        "-o",
        "jsonpath={.data.token}",
    ]);
    let mut decode = Command::new("base64")
        .arg("--decode")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        decode
            .stdin
            .take()
            .unwrap()
            .write_all(encoded.as_bytes())
            .unwrap();
    }
    String::from_utf8(decode.wait_with_output().unwrap().stdout).unwrap()
}

const MANIFEST: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
  namespace: shop
data:
  color: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: shop-secret
  namespace: shop
type: Opaque
data:
  token: YWJjMTIz
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
        env:
        - name: MODE
          value: fast
"#;

#[test]
fn kubectl_as_the_admin_through_our_kubeconfig() {
    let server = common::server();
    let dir = tempfile::tempdir().unwrap();
    let cluster = common::create_cluster(&server, "dev");
    let kubectl = kubeconfig_for(&server, &server.config_file(), &cluster, dir.path());

    let namespaces = kubectl.ok(&["get", "ns"]);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(namespaces.contains(ns), "{namespaces}");
    }
    // Typed `create` commands send protobuf.
    kubectl.ok(&["create", "ns", "team-a"]);
    kubectl.ok(&[
        "create",
        "secret",
        "generic",
        "db",
        "-n",
        "team-a",
        "--from-literal=password=hunter2",
    ]);
    kubectl.ok(&[
        "create",
        "configmap",
        "cfg",
        "-n",
        "team-a",
        "--from-literal=mode=fast",
    ]);
    kubectl.ok(&["create", "serviceaccount", "ci", "-n", "team-a"]);
    // Workloads kubectl sends as protobuf
    kubectl.ok(&[
        "create",
        "deployment",
        "api",
        "--image=nginx:1.27",
        "--port=8080",
        "--replicas=0",
        "-n",
        "team-a",
    ]);
    let api: Value =
        serde_json::from_str(&kubectl.ok(&["get", "deploy", "api", "-n", "team-a", "-o", "json"]))
            .unwrap();
    assert_eq!(api["spec"]["replicas"], 0);
    assert_eq!(
        api["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        8080
    );
    kubectl.ok(&[
        "create",
        "job",
        "once",
        "--image=busybox",
        "-n",
        "team-a",
        "--",
        "true",
    ]);
    assert_eq!(
        kubectl.ok(&["get", "job", "once", "-n", "team-a", "-o", "jsonpath={.spec.template.spec.restartPolicy} {.spec.template.spec.containers[0].command}"]),
        "Never [\"true\"]"
    );
    kubectl.ok(&[
        "create",
        "cronjob",
        "nightly",
        "--image=busybox",
        "--schedule=0 3 * * *",
        "-n",
        "team-a",
        "--",
        "date",
    ]);
    assert_eq!(
        kubectl.ok(&[
            "get",
            "cronjob",
            "nightly",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.spec.schedule}"
        ]),
        "0 3 * * *"
    );
    let password = kubectl.ok(&[
        "get",
        "secret",
        "db",
        "-n",
        "team-a",
        "-o",
        "jsonpath={.data.password}",
    ]);
    assert_eq!(password, "aHVudGVyMg==");
    assert_eq!(
        kubectl.ok(&[
            "get",
            "cm",
            "cfg",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.data.mode}"
        ]),
        "fast"
    );
    assert!(kubectl.ok(&["get", "sa", "-n", "team-a"]).contains("ci"));
    let exists = kubectl.fails(&["create", "ns", "team-a"]);
    assert!(
        exists.contains("AlreadyExists") && exists.contains("namespaces \"team-a\" already exists"),
        "{exists}"
    );

    // apply with default (strict) validation, then apply a change: the patch path
    let manifest = dir.path().join("app.yaml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let applied = kubectl.ok(&["apply", "-f", manifest.to_str().unwrap()]);
    assert!(applied.contains("deployment.apps/web created"), "{applied}");
    std::fs::write(
        &manifest,
        MANIFEST
            .replace("color: blue", "color: green")
            .replace("replicas: 2", "replicas: 3")
            .replace("value: fast", "value: slow"),
    )
    .unwrap();
    let out = kubectl.run(&["apply", "-f", manifest.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("deployment.apps/web configured"),
        "{stdout}"
    );
    assert!(stdout.contains("namespace/shop unchanged"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.to_lowercase().contains("warning"), "{stderr}");

    // Read back as written
    let deployment: Value =
        serde_json::from_str(&kubectl.ok(&["get", "deploy", "web", "-n", "shop", "-o", "json"]))
            .unwrap();
    assert_eq!(deployment["spec"]["replicas"], 3);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.27");
    assert_eq!(container["env"][0]["value"], "slow");
    assert_eq!(container["ports"][0]["containerPort"], 80);
    assert_eq!(deployment["metadata"]["generation"], 2);
    let yaml = kubectl.ok(&["get", "cm", "shop-config", "-n", "shop", "-o", "yaml"]);
    assert!(yaml.contains("color: green"), "{yaml}");
    assert_eq!(
        kubectl.ok(&[
            "get",
            "secret",
            "shop-secret",
            "-n",
            "shop",
            "-o",
            "jsonpath={.data.token}"
        ]),
        "YWJjMTIz"
    );
    // Selectors
    assert!(
        kubectl
            .ok(&["get", "deploy", "-n", "shop", "-l", "app=web", "-o", "name"])
            .contains("web")
    );
    assert!(
        kubectl
            .ok(&["get", "deploy", "-n", "shop", "-l", "app=db", "-o", "name"])
            .trim()
            .is_empty()
    );

    // A typo deep in the pod template is refused under kubectl's default (strict) validation,
    // and the object is left as it was.
    let typo = dir.path().join("typo.yaml");
    std::fs::write(
        &typo,
        MANIFEST.replace(
            "image: nginx:1.27",
            "image: nginx:1.28\n        imagePullPolcy: Always",
        ),
    )
    .unwrap();
    let refused = kubectl.fails(&["apply", "-f", typo.to_str().unwrap()]);
    assert!(
        refused.contains("strict decoding error")
            && refused
                .contains("unknown field \"spec.template.spec.containers[0].imagePullPolcy\""),
        "{refused}"
    );
    assert_eq!(
        kubectl.ok(&[
            "get",
            "deploy",
            "web",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}"
        ]),
        "nginx:1.27"
    );

    let deleted = kubectl.ok(&["delete", "-f", manifest.to_str().unwrap()]);
    for line in [
        "namespace \"shop\" deleted",
        "configmap \"shop-config\" deleted",
        "deployment.apps \"web\" deleted",
    ] {
        assert!(deleted.contains(line), "{deleted}");
    }
    let missing = kubectl.fails(&["get", "ns", "shop"]);
    assert!(missing.contains("NotFound"), "{missing}");

    // Who am I: the IAM user, with its groups
    let whoami = kubectl.ok(&["auth", "whoami", "-o", "json"]);
    let whoami: Value = serde_json::from_str(&whoami).unwrap();
    assert_eq!(
        whoami["status"]["userInfo"]["username"],
        server.config_value("user")
    );
    assert!(
        whoami["status"]["userInfo"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "system:authenticated")
    );
}

#[test]
fn oke_service_account_procedure_and_token_requests() {
    let mut server = common::server();
    let dir = tempfile::tempdir().unwrap();
    let cluster = common::create_cluster(&server, "ci");
    let admin = kubeconfig_for(&server, &server.config_file(), &cluster, dir.path());
    // oci-reference.md §1.4, command for command
    admin.ok(&[
        "-n",
        "kube-system",
        "create",
        "serviceaccount",
        "kubeconfig-sa",
    ]);
    admin.ok(&[
        "create",
        "clusterrolebinding",
        "add-on-cluster-admin",
        "--clusterrole=cluster-admin",
        "--serviceaccount=kube-system:kubeconfig-sa",
    ]);
    let secret = dir.path().join("oke-kubeconfig-sa-token.yaml");
    std::fs::write(
        &secret,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: oke-kubeconfig-sa-token\n  namespace: kube-system\n  annotations:\n    kubernetes.io/service-account.name: kubeconfig-sa\ntype: kubernetes.io/service-account-token\n",
    )
    .unwrap();
    admin.ok(&["apply", "-f", secret.to_str().unwrap()]);
    let described = admin.ok(&[
        "describe",
        "secrets",
        "oke-kubeconfig-sa-token",
        "-n",
        "kube-system",
    ]);
    for key in ["ca.crt", "namespace", "token"] {
        assert!(described.contains(key), "{described}");
    }
    let token = secret_token(&admin);
    let sa = with_token(&admin, &token, &dir.path().join("sa-kubeconfig"));
    sa.ok(&["get", "pods", "-n", "kube-system"]);
    let whoami = sa.ok(&["auth", "whoami"]);
    assert!(
        whoami.contains("system:serviceaccount:kube-system:kubeconfig-sa"),
        "{whoami}"
    );
    // Revoking: delete the Secret, and the token stops working.
    admin.ok(&[
        "-n",
        "kube-system",
        "delete",
        "secret",
        "oke-kubeconfig-sa-token",
    ]);
    let denied = sa.fails(&["get", "pods", "-n", "kube-system"]);
    assert!(denied.contains("Unauthorized"), "{denied}");

    // kubectl create token: a bound token that works; under 10 minutes is refused
    let bound = admin.ok(&[
        "create",
        "token",
        "kubeconfig-sa",
        "-n",
        "kube-system",
        "--duration=10m",
    ]);
    let bound = bound.trim();
    let holder = with_token(&admin, bound, &dir.path().join("bound-kubeconfig"));
    holder.ok(&["get", "pods", "-n", "kube-system"]);
    let claims = portcullis_testing::jwt_claims(bound);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    let short = admin.fails(&[
        "create",
        "token",
        "kubeconfig-sa",
        "-n",
        "kube-system",
        "--duration=5m",
    ]);
    assert!(
        short.contains("spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes"),
        "{short}"
    );
    // Deleting the ServiceAccount revokes its tokens.
    admin.ok(&[
        "-n",
        "kube-system",
        "delete",
        "serviceaccount",
        "kubeconfig-sa",
    ]);
    let gone = holder.fails(&["get", "pods", "-n", "kube-system"]);
    assert!(gone.contains("Unauthorized"), "{gone}");

    // Bound tokens expire. The account comes back (the ClusterRoleBinding names it), a
    // non-expiring Secret token is kept for later, and a ten-minute token is issued; then the
    // server restarts with its clock eleven minutes ahead (faketime).
    admin.ok(&[
        "-n",
        "kube-system",
        "create",
        "serviceaccount",
        "kubeconfig-sa",
    ]);
    admin.ok(&["apply", "-f", secret.to_str().unwrap()]);
    let lasting = secret_token(&admin);
    let ten_minutes = admin.ok(&[
        "create",
        "token",
        "kubeconfig-sa",
        "-n",
        "kube-system",
        "--duration=10m",
    ]);
    let expiring = with_token(
        &admin,
        ten_minutes.trim(),
        &dir.path().join("expiring-kubeconfig"),
    );
    expiring.ok(&["get", "pods", "-n", "kube-system"]);
    let keeper = with_token(&admin, &lasting, &dir.path().join("lasting-kubeconfig"));
    keeper.ok(&["get", "pods", "-n", "kube-system"]);
    server.restart_under(&["faketime", "-f", "+11m"]);
    let expired = expiring.fails(&["get", "pods", "-n", "kube-system"]);
    // kubectl words a 401 during discovery as "the server has asked for the client to provide
    // credentials"; both mean Unauthorized.
    assert!(
        expired.contains("Unauthorized") || expired.contains("provide credentials"),
        "{expired}"
    );
    // The Secret token still works, and a token issued now works: it is the expiry.
    keeper.ok(&["get", "pods", "-n", "kube-system"]);
    let fresh = keeper.ok(&["create", "token", "kubeconfig-sa", "-n", "kube-system"]);
    let renewed = with_token(&admin, fresh.trim(), &dir.path().join("renewed-kubeconfig"));
    renewed.ok(&["get", "pods", "-n", "kube-system"]);
}

#[test]
fn iam_use_clusters_authenticates_but_needs_manage_or_rbac() {
    let server = common::server();
    let dir = tempfile::tempdir().unwrap();
    let cluster = common::create_cluster(&server, "shared");
    let admin_kubectl = kubeconfig_for(&server, &server.config_file(), &cluster, dir.path());
    let admin = OciCli::new(&server, &server.config_file());
    let IamUser {
        id: user, config, ..
    } = iam_user(&server, &admin, "dana", "devs", dir.path());
    // No policy: not even a kubeconfig.
    let out = portcullis(
        &server,
        &config,
        &[
            "ce",
            "cluster",
            "create-kubeconfig",
            "--cluster-id",
            &cluster,
            "--file",
            dir.path().join("nope").to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    allow(
        &server,
        &admin,
        "devs-use",
        "Allow group devs to use clusters in tenancy",
    );
    let dana = kubeconfig_for(&server, &config, &cluster, dir.path());
    // Authenticated...
    let whoami = dana.ok(&["auth", "whoami"]);
    assert!(whoami.contains(&user), "{whoami}");
    // ...but no in-cluster rights by itself, with OKE's message.
    let denied = dana.fails(&["get", "pods"]);
    assert!(
        denied.contains(&format!("pods is forbidden: User \"{user}\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""))
            && denied.contains("Authorization failed: Access denied - user not permitted by OCI policy or RBAC rules"),
        "{denied}"
    );
    // RBAC can grant it...
    admin_kubectl.ok(&[
        "create",
        "rolebinding",
        "dana-view",
        "--clusterrole=view",
        &format!("--user={user}"),
        "-n",
        "default",
    ]);
    dana.ok(&["get", "pods"]);
    assert!(
        dana.fails(&["get", "pods", "-n", "kube-system"])
            .contains("forbidden")
    );
    // ...and so can IAM: manage clusters means everything.
    allow(
        &server,
        &admin,
        "devs-manage",
        "Allow group devs to manage clusters in tenancy",
    );
    dana.ok(&["get", "pods", "-n", "kube-system"]);
    dana.ok(&["create", "ns", "dana-was-here"]);
    // The audit log has the denial with who and why.
    let log = server.log_text();
    assert!(
        log.contains("kubernetes request denied") && log.contains(&user),
        "audit log lacks the denial"
    );
}
