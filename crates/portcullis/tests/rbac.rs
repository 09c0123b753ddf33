//! RBAC with upstream's semantics, combined with IAM, through real kubectl: OKE's documented
//! pod-reader Role, `kubectl auth can-i` (and `--list`), an `edit` RoleBinding for a user
//! with only `use clusters`, escalation prevention, `bind`, impersonation, and the
//! who-can and rbac-audit commands.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::kubectl::{IamUser, Kubectl, allow, attach, iam_user, kubeconfig_for, portcullis};
use portcullis_testing::OciCli;
use serde_json::Value;

/// `kubectl auth can-i ...`: true for "yes", false for "no" (exit 1), with stdout
fn can_i(kubectl: &Kubectl, args: &[&str]) -> bool {
    let mut full = vec!["auth", "can-i"];
    full.extend_from_slice(args);
    let out = kubectl.run(&full);
    let stdout = String::from_utf8_lossy(&out.stdout);
    match (out.status.code(), stdout.trim()) {
        (Some(0), "yes") => true,
        (Some(1), answer) if answer.starts_with("no") => false,
        _ => panic!(
            "kubectl {full:?}: {:?}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn apply(kubectl: &Kubectl, dir: &std::path::Path, name: &str, yaml: &str) -> std::process::Output {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    kubectl.run(&["apply", "-f", file.to_str().unwrap()])
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// OKE's example Role (`oci-reference.md` §2.3), bound to a user OCID
fn pod_reader(user: &str) -> String {
    format!(
        r#"kind: Role
apiVersion: rbac.authorization.k8s.io/v1
metadata:
  namespace: kube-system
  name: pod-reader-ks
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "watch", "list"]
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata:
  name: pod-reader-ks-binding
  namespace: kube-system
subjects:
- kind: User
  name: {user}
  apiGroup: rbac.authorization.k8s.io
roleRef:
  kind: Role
  name: pod-reader-ks
  apiGroup: rbac.authorization.k8s.io
"#
    )
}

#[test]
fn iam_and_rbac_through_kubectl() {
    let server = common::server();
    let dir = tempfile::tempdir().unwrap();
    let cluster = common::create_cluster(&server, "rbac");
    let admin = kubeconfig_for(&server, &server.config_file(), &cluster, dir.path());
    let oci = OciCli::new(&server, &server.config_file());
    let admin_ocid = server.config_value("user");
    let IamUser {
        id: dana, config, ..
    } = iam_user(&server, &oci, "dana", "devs", dir.path());
    allow(
        &server,
        &oci,
        "devs-use",
        "Allow group devs to use clusters in tenancy",
    );
    let dana_kubectl = kubeconfig_for(&server, &config, &cluster, dir.path());

    // OKE: IAM is not consulted for creating roles, so the IAM administrator first binds
    // themself to cluster-admin (a binding, which IAM does allow), then creates the Role.
    let refused = apply(&admin, dir.path(), "pod-reader", &pod_reader(&dana));
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains("roles.rbac.authorization.k8s.io \"pod-reader-ks\" is forbidden")
            && message.contains(&format!("user \"{admin_ocid}\""))
            && message.contains("is attempting to grant RBAC permissions not currently held")
            && message
                .contains(r#"{APIGroups:[""], Resources:["pods"], Verbs:["get" "watch" "list"]}"#),
        "{message}"
    );
    admin.ok(&[
        "create",
        "clusterrolebinding",
        "admin-is-cluster-admin",
        "--clusterrole=cluster-admin",
        &format!("--user={admin_ocid}"),
    ]);
    let applied = apply(&admin, dir.path(), "pod-reader", &pod_reader(&dana));
    assert!(applied.status.success(), "{}", stderr(&applied));

    // kubectl auth can-i as dana, across verbs, resources and namespaces
    for verb in ["get", "list", "watch"] {
        assert!(
            can_i(&dana_kubectl, &[verb, "pods", "-n", "kube-system"]),
            "{verb}"
        );
    }
    assert!(can_i(
        &dana_kubectl,
        &["get", "pods/mypod", "-n", "kube-system"]
    ));
    assert!(!can_i(
        &dana_kubectl,
        &["delete", "pods", "-n", "kube-system"]
    ));
    assert!(!can_i(
        &dana_kubectl,
        &["get", "pods", "--subresource=log", "-n", "kube-system"]
    ));
    assert!(!can_i(&dana_kubectl, &["get", "pods", "-n", "default"]));
    assert!(!can_i(
        &dana_kubectl,
        &["get", "secrets", "-n", "kube-system"]
    ));
    assert!(!can_i(&dana_kubectl, &["list", "pods", "--all-namespaces"]));
    assert!(can_i(&dana_kubectl, &["get", "/version"]));
    assert!(!can_i(&dana_kubectl, &["get", "/metrics"]));
    dana_kubectl.ok(&["get", "pods", "-n", "kube-system"]);
    // ...and for the admin, IAM answers yes to anything.
    assert!(can_i(&admin, &["delete", "secrets", "-n", "anywhere"]));
    assert!(can_i(&admin, &["*", "*"]));
    // kubectl auth can-i --list: RBAC's rules in the namespace
    let listed = dana_kubectl.ok(&["auth", "can-i", "--list", "-n", "kube-system"]);
    let pods_line = listed
        .lines()
        .find(|l| l.starts_with("pods "))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(pods_line.contains("[get watch list]"), "{listed}");
    assert!(
        listed.contains("selfsubjectaccessreviews.authorization.k8s.io"),
        "{listed}"
    );
    let everything = admin.ok(&["auth", "can-i", "--list", "-n", "default"]);
    assert!(
        everything.lines().any(|l| l.starts_with("*.*")),
        "{everything}"
    );

    // use clusters plus an `edit` RoleBinding in one namespace
    admin.ok(&["create", "ns", "team-a"]);
    admin.ok(&["create", "ns", "team-b"]);
    admin.ok(&[
        "create",
        "rolebinding",
        "dana-edit",
        "--clusterrole=edit",
        &format!("--user={dana}"),
        "-n",
        "team-a",
    ]);
    dana_kubectl.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "-n",
        "team-a",
    ]);
    let elsewhere = dana_kubectl.fails(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "-n",
        "team-b",
    ]);
    assert!(
        elsewhere.contains(&format!(
            "deployments.apps is forbidden: User \"{dana}\" cannot create resource \"deployments\" in API group \"apps\" in the namespace \"team-b\""
        )) && elsewhere.contains("Access denied - user not permitted by OCI policy or RBAC rules"),
        "{elsewhere}"
    );
    // edit does not read RBAC objects or grant rolebindings
    assert!(!can_i(
        &dana_kubectl,
        &["create", "rolebindings", "-n", "team-a"]
    ));

    // Escalation: dana may create ClusterRoles but not ones granting more than she holds
    let role_maker = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: role-maker
rules:
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterroles"]
  verbs: ["create", "get", "list"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["list"]
"#;
    assert!(
        apply(&admin, dir.path(), "role-maker", role_maker)
            .status
            .success()
    );
    admin.ok(&[
        "create",
        "clusterrolebinding",
        "dana-makes-roles",
        "--clusterrole=role-maker",
        &format!("--user={dana}"),
    ]);
    dana_kubectl.ok(&[
        "create",
        "clusterrole",
        "cm-lister",
        "--verb=list",
        "--resource=configmaps",
    ]);
    let escalating = dana_kubectl.fails(&[
        "create",
        "clusterrole",
        "secret-reader",
        "--verb=get,list",
        "--resource=secrets",
    ]);
    assert!(
        escalating.contains(&format!(
            "clusterroles.rbac.authorization.k8s.io \"secret-reader\" is forbidden: user \"{dana}\" (groups=["
        )) && escalating.contains("is attempting to grant RBAC permissions not currently held:")
            && escalating.contains(r#"{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}"#),
        "{escalating}"
    );
    assert!(
        server.log_text().contains("RBAC write refused: escalation"),
        "escalation denials are audited"
    );
    // ...and may, once she holds `escalate`.
    let with_escalate = role_maker.replace(
        r#"verbs: ["create", "get", "list"]"#,
        r#"verbs: ["create", "get", "list", "escalate"]"#,
    );
    assert!(
        apply(&admin, dir.path(), "role-maker", &with_escalate)
            .status
            .success()
    );
    dana_kubectl.ok(&[
        "create",
        "clusterrole",
        "secret-reader",
        "--verb=get,list",
        "--resource=secrets",
    ]);

    // bind: dana may create RoleBindings in team-b, but binding `view` needs view's
    // permissions there or `bind` on it.
    admin.ok(&[
        "create",
        "role",
        "binding-maker",
        "--verb=create,get",
        "--resource=rolebindings.rbac.authorization.k8s.io",
        "-n",
        "team-b",
    ]);
    admin.ok(&[
        "create",
        "rolebinding",
        "dana-binds",
        "--role=binding-maker",
        &format!("--user={dana}"),
        "-n",
        "team-b",
    ]);
    let unbound = dana_kubectl.fails(&[
        "create",
        "rolebinding",
        "others-view",
        "--clusterrole=view",
        "--group=ops",
        "-n",
        "team-b",
    ]);
    assert!(
        unbound.contains("rolebindings.rbac.authorization.k8s.io \"others-view\" is forbidden")
            && unbound.contains("is attempting to grant RBAC permissions not currently held"),
        "{unbound}"
    );
    admin.ok(&[
        "create",
        "role",
        "view-binder",
        "--verb=bind",
        "--resource=clusterroles.rbac.authorization.k8s.io",
        "--resource-name=view",
        "-n",
        "team-b",
    ]);
    admin.ok(&[
        "create",
        "rolebinding",
        "dana-binds-view",
        "--role=view-binder",
        &format!("--user={dana}"),
        "-n",
        "team-b",
    ]);
    dana_kubectl.ok(&[
        "create",
        "rolebinding",
        "others-view",
        "--clusterrole=view",
        "--group=ops",
        "-n",
        "team-b",
    ]);
    // bind on view is not bind on edit
    let edit = dana_kubectl.fails(&[
        "create",
        "rolebinding",
        "others-edit",
        "--clusterrole=edit",
        "--group=ops",
        "-n",
        "team-b",
    ]);
    assert!(edit.contains("forbidden"), "{edit}");

    // Impersonation: the admin acts as dana; dana may not act as the admin.
    let as_dana = ["--as", dana.as_str(), "--as-group", "ops"];
    let mut args = as_dana.to_vec();
    args.extend(["get", "pods", "-n", "kube-system"]);
    admin.ok(&args);
    let mut args = as_dana.to_vec();
    args.extend(["get", "secrets", "-n", "kube-system"]);
    let denied = admin.fails(&args);
    assert!(
        denied.contains(&format!("User \"{dana}\" cannot list resource \"secrets\"")),
        "{denied}"
    );
    let mut args = as_dana.to_vec();
    args.extend(["auth", "whoami", "-o", "json"]);
    let whoami: Value = serde_json::from_str(&admin.ok(&args)).unwrap();
    assert_eq!(whoami["status"]["userInfo"]["username"], dana.as_str());
    let groups = whoami["status"]["userInfo"]["groups"].as_array().unwrap();
    assert!(
        groups.iter().any(|g| g == "ops") && groups.iter().any(|g| g == "system:authenticated")
    );
    let not_allowed = dana_kubectl.fails(&["--as", &admin_ocid, "get", "pods"]);
    assert!(
        not_allowed.contains(&format!(
            "users \"{admin_ocid}\" is forbidden: User \"{dana}\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        )),
        "{not_allowed}"
    );
    let log = server.log_text();
    assert!(
        log.contains("impersonating")
            && log.contains("impersonated_user")
            && log.contains("impersonation denied"),
        "impersonation is audited with both identities"
    );

    // who-can: both halves, each with what allows it
    let who = portcullis(
        &server,
        &server.config_file(),
        &[
            "ce",
            "cluster",
            "who-can",
            "--cluster-id",
            &cluster,
            "list",
            "pods",
            "-n",
            "kube-system",
        ],
    );
    assert!(who.status.success(), "{}", stderr(&who));
    let who: Value = serde_json::from_slice(&who.stdout).unwrap();
    let rbac = who["data"]["rbac"].as_array().unwrap();
    let dana_grant = rbac
        .iter()
        .find(|g| g["kind"] == "User" && g["name"] == dana.as_str())
        .unwrap_or_else(|| panic!("{who}"));
    assert_eq!(
        dana_grant["binding"],
        "RoleBinding \"pod-reader-ks-binding/kube-system\""
    );
    assert_eq!(dana_grant["role"], "Role \"pod-reader-ks\"");
    assert!(rbac.iter().any(|g| g["name"] == "system:masters"));
    let iam = who["data"]["iam"].as_array().unwrap();
    assert!(
        iam.iter().any(|h| h["kind"] == "User"
            && h["name"] == admin_ocid.as_str()
            && h["statement"].as_str().unwrap().contains("manage")),
        "{who}"
    );
    assert!(
        !iam.iter().any(|h| h["name"] == dana.as_str()),
        "use clusters is not manage"
    );
    // Unknown verbs are refused with the protocol's error.
    let unknown = portcullis(
        &server,
        &server.config_file(),
        &[
            "ce",
            "cluster",
            "who-can",
            "--cluster-id",
            &cluster,
            "frobnicate",
            "pods",
        ],
    );
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("InvalidParameter"),
        "{}",
        stderr(&unknown)
    );
    // A user without read on policies may not ask.
    let nosy = portcullis(
        &server,
        &config,
        &[
            "ce",
            "cluster",
            "who-can",
            "--cluster-id",
            &cluster,
            "list",
            "pods",
        ],
    );
    assert!(!nosy.status.success());

    // rbac-audit: a binding to a missing role succeeds (as upstream, for someone who may
    // bind anything) and is flagged, as is a wildcard role bound to a group.
    admin.ok(&[
        "create",
        "clusterrolebinding",
        "dangling",
        "--clusterrole=does-not-exist",
        "--group=ops",
    ]);
    admin.ok(&[
        "create",
        "clusterrole",
        "everything",
        "--verb=*",
        "--resource=*.*",
    ]);
    admin.ok(&[
        "create",
        "clusterrolebinding",
        "ops-everything",
        "--clusterrole=everything",
        "--group=ops",
    ]);
    let audit = portcullis(
        &server,
        &server.config_file(),
        &["ce", "cluster", "rbac-audit", "--cluster-id", &cluster],
    );
    assert!(audit.status.success(), "{}", stderr(&audit));
    let audit: Value = serde_json::from_slice(&audit.stdout).unwrap();
    let findings = audit["data"]["findings"].as_array().unwrap();
    let has = |risk: &str, object: &str| {
        findings
            .iter()
            .any(|f| f["risk"] == risk && f["object"].as_str().unwrap().contains(object))
    };
    assert!(has("missing-role", "dangling"), "{audit}");
    assert!(has("wildcard", "everything"), "{audit}");
    assert!(
        has(
            "cluster-admin-to-group-or-service-account",
            "ops-everything"
        ),
        "{audit}"
    );
    assert!(has("cluster-wide-secrets", "ops-everything"), "{audit}");
    assert!(has("privilege-verb", "role-maker"), "{audit}");
    assert!(
        has("missing-subject", "ops-everything"),
        "the group ops does not exist: {audit}"
    );
    assert!(
        !has("missing-subject", "pod-reader-ks-binding"),
        "dana exists: {audit}"
    );
}

#[test]
fn aggregation_and_default_roles() {
    let server = common::server();
    let dir = tempfile::tempdir().unwrap();
    let cluster = common::create_cluster(&server, "agg");
    let admin = kubeconfig_for(&server, &server.config_file(), &cluster, dir.path());
    for role in [
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
    ] {
        admin.ok(&["get", "clusterrole", role]);
    }
    let view: Value =
        serde_json::from_str(&admin.ok(&["get", "clusterrole", "view", "-o", "json"])).unwrap();
    assert!(view["aggregationRule"]["clusterRoleSelectors"].is_array());
    assert!(!view["rules"].as_array().unwrap().is_empty());
    // A ClusterRole labelled to aggregate into view reaches view, edit and admin.
    admin.ok(&[
        "create",
        "clusterrolebinding",
        "admin-is-cluster-admin",
        "--clusterrole=cluster-admin",
        &format!("--user={}", server.config_value("user")),
    ]);
    let widgets = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: widget-viewer
  labels:
    rbac.authorization.k8s.io/aggregate-to-view: "true"
rules:
- apiGroups: ["example.com"]
  resources: ["widgets"]
  verbs: ["get", "list"]
"#;
    assert!(
        apply(&admin, dir.path(), "widgets", widgets)
            .status
            .success()
    );
    for role in ["view", "edit", "admin"] {
        let rules = admin.ok(&[
            "get",
            "clusterrole",
            role,
            "-o",
            "jsonpath={.rules[*].resources}",
        ]);
        assert!(rules.contains("widgets"), "{role}: {rules}");
    }
    // Removing it takes the rule away again.
    admin.ok(&["delete", "clusterrole", "widget-viewer"]);
    let rules = admin.ok(&[
        "get",
        "clusterrole",
        "admin",
        "-o",
        "jsonpath={.rules[*].resources}",
    ]);
    assert!(!rules.contains("widgets"), "{rules}");
    // Defaults come back after a restart if someone trimmed them (autoupdate).
    admin.ok(&[
        "patch",
        "clusterrole",
        "system:discovery",
        "--type=json",
        "-p",
        r#"[{"op": "replace", "path": "/rules", "value": []}]"#,
    ]);
    let mut server = server;
    server.restart();
    let rules = admin.ok(&[
        "get",
        "clusterrole",
        "system:discovery",
        "-o",
        "jsonpath={.rules[*].nonResourceURLs}",
    ]);
    assert!(rules.contains("/version"), "{rules}");
    // RBAC objects are validated as upstream does.
    let to_role = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: broken
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: view
subjects:
- kind: User
  apiGroup: rbac.authorization.k8s.io
  name: ""
"#;
    let invalid = apply(&admin, dir.path(), "broken", to_role);
    assert!(!invalid.status.success());
    let message = stderr(&invalid);
    assert!(
        message.contains(r#"The ClusterRoleBinding "broken" is invalid"#)
            && message.contains(
                r#"* roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole""#
            )
            && message.contains("subjects[0].name: Required value"),
        "{message}"
    );
}

/// An OKE token for the admin, as kubectl's exec plugin gets it
fn admin_token(server: &portcullis_testing::Server, cluster: &str) -> String {
    let out = portcullis(
        server,
        &server.config_file(),
        &["ce", "cluster", "generate-token", "--cluster-id", cluster],
    );
    let credential: Value = serde_json::from_slice(&out.stdout).unwrap();
    credential["status"]["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn attached_cluster_webhooks_and_review_bad_input() {
    let server = common::server();
    let dir = tempfile::tempdir().unwrap();
    let cluster = common::create_cluster(&server, "attached");
    let oci = OciCli::new(&server, &server.config_file());
    let IamUser {
        id: dana,
        group: devs,
        ..
    } = iam_user(&server, &oci, "dana", "devs", dir.path());
    let admin_ocid = server.config_value("user");

    // ce cluster attach writes both webhook kubeconfigs and the kube-apiserver flags.
    let out_dir = dir.path().join("attach");
    let attached = attach(&server, &cluster, out_dir.to_str().unwrap());
    assert!(attached.status.success(), "{}", stderr(&attached));
    let readme = std::fs::read_to_string(out_dir.join("README.md")).unwrap();
    for flag in [
        "--authentication-token-webhook-config-file=",
        "--authorization-mode=Node,Webhook,RBAC",
        "--authorization-webhook-config-file=",
        "--authorization-webhook-version=v1",
    ] {
        assert!(readme.contains(flag), "{readme}");
    }
    let authz: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(out_dir.join("authorization-webhook.kubeconfig")).unwrap(),
    )
    .unwrap();
    let url = authz["clusters"][0]["cluster"]["server"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.ends_with(&format!("/clusters/{cluster}/webhooks/authorize")),
        "{url}"
    );
    assert!(authz["clusters"][0]["cluster"]["certificate-authority-data"].is_string());
    let credential = authz["users"][0]["user"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(out_dir.join("authorization-webhook.kubeconfig"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the credential is private");

    let http = server.admin().http().clone();
    let post = |body: Value, token: Option<String>| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let mut request = http.post(&url).json(&body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // As kube-apiserver sends them: v1 with `groups`, v1beta1 with `group`.
    let v1 = |user: &str, groups: Vec<&str>| {
        serde_json::json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": "kittensandponies", "verb": "get", "group": "unicorn.example.org", "resource": "pods"},
                     "user": user, "groups": groups, "uid": "1", "extra": {"scopes": ["a"]}}})
    };
    // The identity comes from the TokenReview webhook, as kube-apiserver gets it.
    let token = admin_token(&server, &cluster);
    let review: Value = http
        .post(url.replace("/authorize", "/authenticate"))
        .bearer_auth(&credential)
        .json(&serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(review["status"]["user"]["username"], admin_ocid.as_str());
    let admin_groups: Vec<&str> = review["status"]["user"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    let (status, allowed) = post(
        v1(&admin_ocid, admin_groups.clone()),
        Some(credential.clone()),
    )
    .await;
    // Without its IAM groups, the same user is nobody to IAM.
    let (_, groupless) = post(
        v1(&admin_ocid, vec!["system:authenticated"]),
        Some(credential.clone()),
    )
    .await;
    assert_eq!(groupless["status"]["allowed"], false);
    assert_eq!(status, 200);
    assert_eq!(allowed["apiVersion"], "authorization.k8s.io/v1");
    assert_eq!(allowed["kind"], "SubjectAccessReview");
    assert_eq!(allowed["status"]["allowed"], true, "{allowed}");
    assert!(
        allowed["status"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("IAM: allowed by policy statement")
    );
    let (_, no_opinion) = post(
        v1(&dana, vec![&devs, "system:authenticated"]),
        Some(credential.clone()),
    )
    .await;
    assert_eq!(no_opinion["status"]["allowed"], false);
    assert!(
        no_opinion["status"].get("denied").is_none(),
        "no opinion, never a denial"
    );
    let v1beta1 = |groups: Vec<&str>| {
        serde_json::json!({"apiVersion": "authorization.k8s.io/v1beta1", "kind": "SubjectAccessReview",
            "spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}, "user": dana, "group": groups}})
    };
    let (_, before) = post(v1beta1(vec![&devs]), Some(credential.clone())).await;
    assert_eq!(before["apiVersion"], "authorization.k8s.io/v1beta1");
    assert_eq!(before["status"]["allowed"], false);
    allow(
        &server,
        &oci,
        "devs-manage",
        "Allow group devs to manage clusters in tenancy",
    );
    let (_, after) = post(v1beta1(vec![&devs]), Some(credential.clone())).await;
    assert_eq!(
        after["status"]["allowed"], true,
        "v1beta1's `group` carries the IAM groups: {after}"
    );
    // Bad calls: no credential, a stale one, malformed reviews.
    assert_eq!(post(v1(&dana, vec![]), None).await.0, 401);
    assert_eq!(
        post(v1(&dana, vec![]), Some("pcw1.stale".into())).await.0,
        401
    );
    for body in [
        serde_json::json!({"apiVersion": "authorization.k8s.io/v2", "kind": "SubjectAccessReview"}),
        serde_json::json!({"apiVersion": "authorization.k8s.io/v1", "kind": "TokenReview"}),
        serde_json::json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {"resourceAttributes": {"verb": "get"}}}),
        serde_json::json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {"user": "x"}}),
        serde_json::json!([1, 2]),
    ] {
        let (status, reply) = post(body.clone(), Some(credential.clone())).await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert_eq!(reply["kind"], "Status");
    }
    // Attaching again rotates the credential.
    let again = attach(
        &server,
        &cluster,
        dir.path().join("again").to_str().unwrap(),
    );
    assert!(again.status.success());
    assert_eq!(
        post(v1(&dana, vec![]), Some(credential.clone())).await.0,
        401
    );

    // Review bad input on the cluster endpoint itself: Status errors, the server stays up.
    let base = format!(
        "{}/clusters/{cluster}/apis/authorization.k8s.io/v1",
        server.endpoint()
    );
    let send = |path: String, body: Vec<u8>| {
        let (http, token) = (http.clone(), token.clone());
        async move {
            let response = http
                .post(path)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let cases: Vec<(String, Vec<u8>, u16, &str)> = vec![
        (format!("{base}/selfsubjectaccessreviews"), b"{not json".to_vec(), 400, "BadRequest"),
        (
            format!("{base}/selfsubjectaccessreviews"),
            br#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}"#.to_vec(),
            422,
            "Invalid",
        ),
        (
            format!("{base}/subjectaccessreviews"),
            br#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"resourceAttributes":{"verb":"get","resource":"pods"}}}"#.to_vec(),
            422,
            "Invalid",
        ),
        (
            format!("{base}/subjectaccessreviews"),
            br#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"u","resourceAttributes":{"resource":"pods"}}}"#.to_vec(),
            422,
            "Invalid",
        ),
        (
            format!("{base}/selfsubjectrulesreviews"),
            br#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","spec":{}}"#.to_vec(),
            400,
            "BadRequest",
        ),
        (
            format!("{base}/namespaces/default/localsubjectaccessreviews"),
            br#"{"apiVersion":"authorization.k8s.io/v1","kind":"LocalSubjectAccessReview","spec":{"user":"u","resourceAttributes":{"namespace":"other","verb":"get","resource":"pods"}}}"#.to_vec(),
            400,
            "BadRequest",
        ),
    ];
    for (path, body, code, reason) in cases {
        let (status, reply) = send(path.clone(), body).await;
        assert_eq!(
            (status, reply["reason"].as_str().unwrap_or("")),
            (code, reason),
            "{path}: {reply}"
        );
        assert_eq!(reply["kind"], "Status");
    }
    // SubjectAccessReview and LocalSubjectAccessReview answer for the named user.
    let sar = format!(
        r#"{{"apiVersion":"authorization.k8s.io/v1","kind":"LocalSubjectAccessReview","spec":{{"user":"{dana}","groups":["{devs}"],"resourceAttributes":{{"verb":"delete","resource":"secrets"}}}}}}"#
    );
    let (status, reply) = send(
        format!("{base}/namespaces/default/localsubjectaccessreviews"),
        sar.into_bytes(),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(
        reply["status"]["allowed"], true,
        "dana's group now manages clusters: {reply}"
    );
    let sar = r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"nobody","resourceAttributes":{"verb":"get","resource":"pods","namespace":"default"}}}"#;
    let (status, reply) = send(
        format!("{base}/subjectaccessreviews"),
        sar.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(
        (status, reply["status"]["allowed"].clone()),
        (201, Value::Bool(false)),
        "{reply}"
    );
    assert_eq!(
        send(format!("{base}/selfsubjectaccessreviews"), b"[]".to_vec())
            .await
            .0
            / 100,
        4
    );
    assert_eq!(
        http.get(format!("{}/healthz", server.endpoint()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
