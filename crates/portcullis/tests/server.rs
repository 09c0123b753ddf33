//! `portcullis serve` end to end: TLS by default, bootstrap, restarts, graceful shutdown,
//! and the Identity API's OCI conventions (paging, etags, request ids, limits).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::os::unix::fs::PermissionsExt as _;

use portcullis_testing::ApiClient;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_bootstraps_and_serves_tls_only() {
    let mut server = common::server();
    // The bootstrap files: an OCI config, a private key only its owner can read, a CA bundle
    let config = std::fs::read_to_string(server.config_file()).unwrap();
    for key in [
        "user=",
        "fingerprint=",
        "key_file=",
        "tenancy=",
        "region=",
        "endpoint=",
    ] {
        assert!(config.contains(key), "{key} missing from\n{config}");
    }
    let key_file = server.config_value("key_file");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o077,
        0,
        "the API key is readable by others: {mode:o}"
    );
    let ca_key = server.data_dir().join("tls/ca-key.pem");
    assert_eq!(
        std::fs::metadata(ca_key).unwrap().permissions().mode() & 0o077,
        0
    );
    assert!(server.ca_bundle().exists());
    let log = server.log_text();
    assert!(log.contains(&server.endpoint().to_owned()));
    assert!(log.contains("CLI config:") && log.contains("CA bundle:"));
    // The key never appears in the log.
    let key = std::fs::read_to_string(&key_file).unwrap();
    let body_line = key.lines().nth(1).unwrap();
    assert!(!log.contains(body_line));

    // Plain HTTP is not served.
    let plain = server.endpoint().replace("https://", "http://");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let refused = client.get(format!("{plain}/healthz")).send().await;
    assert!(
        refused.is_err() || !refused.unwrap().status().is_success(),
        "plain HTTP must not work"
    );

    // The bootstrap admin and policy exist.
    let admin = server.admin();
    let tenancy = server.tenancy();
    let policies = admin
        .send(
            "GET",
            &format!("/20160918/policies?compartmentId={tenancy}"),
            None,
        )
        .await;
    assert_eq!(policies.status, 200);
    assert_eq!(
        policies.body[0]["statements"][0],
        "Allow group Administrators to manage all-resources in tenancy"
    );
    let groups = admin
        .send(
            "GET",
            &format!("/20160918/groups?compartmentId={tenancy}&name=Administrators"),
            None,
        )
        .await;
    assert_eq!(groups.body.as_array().unwrap().len(), 1);

    // SIGTERM shuts down gracefully.
    assert!(
        server.terminate(),
        "SIGTERM did not exit cleanly:\n{}",
        server.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_keep_every_object() {
    let mut server = common::server();
    let tenancy = server.tenancy();
    let admin = server.admin();
    let group = common::create_group(&admin, &tenancy, "survivors").await;
    let compartment = admin
        .send(
            "POST",
            "/20160918/compartments",
            Some(json!({"compartmentId": tenancy, "name": "kept", "description": "d"})),
        )
        .await
        .field("id");
    assert!(server.terminate());
    server.restart();
    let admin = server.admin();
    assert_eq!(server.tenancy(), tenancy, "the tenancy changed on restart");
    assert_eq!(
        admin
            .send("GET", &format!("/20160918/groups/{group}"), None)
            .await
            .status,
        200
    );
    let got = admin
        .send(
            "GET",
            &format!("/20160918/compartments/{compartment}"),
            None,
        )
        .await;
    assert_eq!(got.body["name"], "kept");
    // The CLI config follows the new port.
    assert_eq!(server.config_value("endpoint"), server.endpoint());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_backed_server_keeps_objects_across_restarts() {
    let mut server = common::etcd_server("etcd-server");
    let tenancy = server.tenancy();
    let admin = server.admin();
    let group = common::create_group(&admin, &tenancy, "in-etcd").await;
    server.restart();
    let admin = server.admin();
    assert_eq!(
        admin
            .send("GET", &format!("/20160918/groups/{group}"), None)
            .await
            .status,
        200
    );
    assert!(server.log_text().contains("store: etcd"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_conventions_paging_etags_request_ids() {
    let server = common::server();
    let tenancy = server.tenancy();
    let admin = server.admin();
    for i in 0..5 {
        common::create_group(&admin, &tenancy, &format!("page-{i}")).await;
    }
    // Paging with limit/page and opc-next-page
    let mut names = Vec::new();
    let mut path = format!("/20160918/groups?compartmentId={tenancy}&limit=2");
    let mut pages = 0;
    loop {
        let reply = admin.send("GET", &path, None).await;
        pages += 1;
        assert!(reply.body.as_array().unwrap().len() <= 2);
        names.extend(
            reply
                .body
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["name"].as_str().unwrap().to_owned()),
        );
        match reply.header("opc-next-page") {
            Some(next) => {
                path = format!("/20160918/groups?compartmentId={tenancy}&limit=2&page={next}")
            }
            None => break,
        }
    }
    assert_eq!(names.len(), 6, "{names:?}");
    assert_eq!(pages, 3);
    // Sorting by name, descending
    let sorted = admin
        .send(
            "GET",
            &format!("/20160918/groups?compartmentId={tenancy}&sortBy=NAME&sortOrder=DESC"),
            None,
        )
        .await;
    assert_eq!(sorted.body[0]["name"], "page-4");
    // opc-request-id is echoed, or minted
    let reply = admin
        .send_raw(
            "GET",
            &format!("/20160918/tenancies/{tenancy}"),
            None,
            &[("opc-request-id", "my-request-1")],
        )
        .await;
    assert_eq!(reply.header("opc-request-id"), Some("my-request-1"));
    let reply = admin.send("GET", "/20160918/nowhere", None).await;
    assert!(
        reply
            .header("opc-request-id")
            .is_some_and(|id| id.len() == 32)
    );
    // etag and if-match
    let group = common::create_group(&admin, &tenancy, "tagged").await;
    let got = admin
        .send("GET", &format!("/20160918/groups/{group}"), None)
        .await;
    let etag = got.header("etag").unwrap().to_owned();
    let stale = admin
        .send_raw(
            "PUT",
            &format!("/20160918/groups/{group}"),
            Some(serde_json::to_vec(&json!({"description": "new"})).unwrap()),
            &[("if-match", "deadbeef")],
        )
        .await;
    assert_eq!(stale.status, 412);
    assert_eq!(stale.code(), Some("NoEtagMatch"));
    let fresh = admin
        .send_raw(
            "PUT",
            &format!("/20160918/groups/{group}"),
            Some(serde_json::to_vec(&json!({"description": "new"})).unwrap()),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(fresh.status, 200, "{:?}", fresh.body);
    assert_ne!(fresh.header("etag").unwrap(), etag);
    assert_eq!(fresh.body["description"], "new");
    // Names are unique
    let dup = admin
        .send(
            "POST",
            "/20160918/groups",
            Some(json!({"compartmentId": tenancy, "name": "TAGGED", "description": "d"})),
        )
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.code(), Some("NotAuthorizedOrResourceAlreadyExists"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_limits_and_self_service() {
    let server = common::server();
    let tenancy = server.tenancy();
    let admin = server.admin();
    let user = admin
        .send(
            "POST",
            "/20160918/users",
            Some(json!({"compartmentId": tenancy, "name": "carol", "description": "Carol"})),
        )
        .await
        .field("id");
    // Up to three API keys; the fourth is refused.
    let mut keys = Vec::new();
    for _ in 0..3 {
        let key = portcullis_auth::ApiPrivateKey::generate().unwrap();
        let public = key.public_key().unwrap();
        let reply = admin
            .send(
                "POST",
                &format!("/20160918/users/{user}/apiKeys"),
                Some(json!({"key": public.to_pem()})),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(reply.field("fingerprint"), public.fingerprint());
        assert_eq!(
            reply.field("keyId"),
            format!("{tenancy}/{user}/{}", public.fingerprint())
        );
        keys.push((key, public));
    }
    let extra = portcullis_auth::ApiPrivateKey::generate()
        .unwrap()
        .public_key()
        .unwrap();
    let reply = admin
        .send(
            "POST",
            &format!("/20160918/users/{user}/apiKeys"),
            Some(json!({"key": extra.to_pem()})),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.code(), Some("LimitExceeded"));
    // Not a key, or a private key by mistake
    let reply = admin
        .send(
            "POST",
            &format!("/20160918/users/{user}/apiKeys"),
            Some(json!({"key": "hello"})),
        )
        .await;
    assert_eq!(reply.code(), Some("InvalidParameter"));

    // Carol can manage her own credentials with no policy at all.
    let (carol_key, carol_public) = &keys[0];
    let carol = ApiClient::new(
        server.endpoint(),
        &server.ca_bundle(),
        &tenancy,
        &user,
        &carol_public.fingerprint(),
        carol_key.to_pkcs8_pem(),
    );
    let own = carol
        .send("GET", &format!("/20160918/users/{user}/apiKeys"), None)
        .await;
    assert_eq!(own.status, 200);
    assert_eq!(own.body.as_array().unwrap().len(), 3);
    let fp = keys[2].1.fingerprint();
    let deleted = carol
        .send(
            "DELETE",
            &format!("/20160918/users/{user}/apiKeys/{fp}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    // But nobody else's.
    let admin_user = server.config_value("user");
    let theirs = carol
        .send(
            "GET",
            &format!("/20160918/users/{admin_user}/apiKeys"),
            None,
        )
        .await;
    assert_eq!(theirs.status, 404);

    // Auth tokens: shown once, at most two.
    let first = carol
        .send(
            "POST",
            &format!("/20160918/users/{user}/authTokens"),
            Some(json!({"description": "registry"})),
        )
        .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let token = first.field("token");
    assert_eq!(token.len(), 20);
    let second = carol
        .send(
            "POST",
            &format!("/20160918/users/{user}/authTokens"),
            Some(json!({"description": "ci"})),
        )
        .await;
    assert_eq!(second.status, 200);
    let third = carol
        .send(
            "POST",
            &format!("/20160918/users/{user}/authTokens"),
            Some(json!({"description": "more"})),
        )
        .await;
    assert_eq!(third.code(), Some("LimitExceeded"));
    let listed = carol
        .send("GET", &format!("/20160918/users/{user}/authTokens"), None)
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 2);
    assert!(
        listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none())
    );

    // A user in a group cannot be deleted; an occupied group cannot be deleted.
    let group = common::create_group(&admin, &tenancy, "carols").await;
    let membership = admin
        .send(
            "POST",
            "/20160918/userGroupMemberships",
            Some(json!({"userId": user, "groupId": group})),
        )
        .await;
    assert_eq!(membership.status, 200);
    let again = admin
        .send(
            "POST",
            "/20160918/userGroupMemberships",
            Some(json!({"userId": user, "groupId": group})),
        )
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(
        admin
            .send("DELETE", &format!("/20160918/users/{user}"), None)
            .await
            .code(),
        Some("IncorrectState")
    );
    assert_eq!(
        admin
            .send("DELETE", &format!("/20160918/groups/{group}"), None)
            .await
            .code(),
        Some("IncorrectState")
    );
    let id = membership.field("id");
    assert_eq!(
        admin
            .send(
                "DELETE",
                &format!("/20160918/userGroupMemberships/{id}"),
                None
            )
            .await
            .status,
        204
    );
    assert_eq!(
        admin
            .send("DELETE", &format!("/20160918/users/{user}"), None)
            .await
            .status,
        204
    );
    // Her keys went with her: she can no longer authenticate.
    let gone = carol
        .send("GET", &format!("/20160918/users/{user}/apiKeys"), None)
        .await;
    assert_eq!(gone.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compartments_nest_and_policies_inherit() {
    let server = common::server();
    let tenancy = server.tenancy();
    let admin = server.admin();
    let create = |parent: String, name: &'static str| {
        let admin = &admin;
        async move {
            admin
                .send(
                    "POST",
                    "/20160918/compartments",
                    Some(json!({"compartmentId": parent, "name": name, "description": "d"})),
                )
                .await
        }
    };
    let a = create(tenancy.clone(), "A").await.field("id");
    let b = create(a.clone(), "B").await.field("id");
    let c = create(b.clone(), "C").await.field("id");
    // Sibling names are unique; the same name elsewhere is fine.
    assert_eq!(create(tenancy.clone(), "A").await.status, 409);
    assert_eq!(create(c.clone(), "A").await.status, 200);
    // Subtree listing from the tenancy
    let all = admin
        .send(
            "GET",
            &format!("/20160918/compartments?compartmentId={tenancy}&compartmentIdInSubtree=true"),
            None,
        )
        .await;
    assert_eq!(all.body.as_array().unwrap().len(), 4);
    // A policy attached to A using a relative path reaches C; its groups get access there.
    let dave = admin
        .send(
            "POST",
            "/20160918/users",
            Some(json!({"compartmentId": tenancy, "name": "dave", "description": "d"})),
        )
        .await
        .field("id");
    let group = common::create_group(&admin, &tenancy, "c-admins").await;
    admin
        .send(
            "POST",
            "/20160918/userGroupMemberships",
            Some(json!({"userId": dave, "groupId": group})),
        )
        .await;
    let key = portcullis_auth::ApiPrivateKey::generate().unwrap();
    let public = key.public_key().unwrap();
    admin
        .send(
            "POST",
            &format!("/20160918/users/{dave}/apiKeys"),
            Some(json!({"key": public.to_pem()})),
        )
        .await;
    let dave_client = ApiClient::new(
        server.endpoint(),
        &server.ca_bundle(),
        &tenancy,
        &dave,
        &public.fingerprint(),
        key.to_pkcs8_pem(),
    );
    let list_in_c = format!("/20160918/compartments?compartmentId={c}");
    assert_eq!(dave_client.send("GET", &list_in_c, None).await.status, 404);
    let policy = admin
        .send(
            "POST",
            "/20160918/policies",
            Some(json!({"compartmentId": a, "name": "a-policy", "description": "d",
                        "statements": ["Allow group c-admins to inspect compartments in compartment B:C"]})),
        )
        .await;
    assert_eq!(policy.status, 200, "{:?}", policy.body);
    assert_eq!(dave_client.send("GET", &list_in_c, None).await.status, 200);
    assert_eq!(
        dave_client
            .send(
                "GET",
                &format!("/20160918/compartments?compartmentId={b}"),
                None
            )
            .await
            .status,
        404
    );
    // A compartment policy may not reach outside its compartment.
    let escape = admin
        .send(
            "POST",
            "/20160918/policies",
            Some(
                json!({"compartmentId": a, "name": "escape", "description": "d",
                        "statements": ["Allow group c-admins to manage all-resources in tenancy"]}),
            ),
        )
        .await;
    assert_eq!(escape.code(), Some("InvalidParameter"));
    // A compartment holding a policy is not empty.
    assert_eq!(
        admin
            .send("DELETE", &format!("/20160918/compartments/{a}"), None)
            .await
            .code(),
        Some("IncorrectState")
    );
    // Deleting the policy takes the access away again.
    let policy_id = policy.field("id");
    assert_eq!(
        admin
            .send("DELETE", &format!("/20160918/policies/{policy_id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(dave_client.send("GET", &list_in_c, None).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_sharing_etcd_follow_each_others_policy_changes() {
    // Two servers on one etcd prefix: a policy written through one is enforced by the other
    // once the change feed delivers it.
    let etcd = portcullis_testing::Etcd::shared();
    let prefix = format!("/{}", portcullis_testing::unique_prefix("shared"));
    let options = portcullis_testing::ServerOptions {
        etcd: Some((etcd.endpoint().to_owned(), prefix)),
        args: Vec::new(),
        wrapper: Vec::new(),
    };
    let first = portcullis_testing::Server::start(common::binary(), options.clone());
    // Servers sharing a store share the root key file (a different one is refused at start).
    let root = first.data_dir().join("root.key");
    let stranger = tempfile::tempdir().unwrap();
    let refused = std::process::Command::new(common::binary())
        .args([
            "serve",
            "--port",
            "0",
            "--store",
            "etcd",
            "--etcd-endpoints",
        ])
        .arg(etcd.endpoint())
        .arg("--etcd-prefix")
        .arg(options.etcd.as_ref().map(|(_, p)| p.as_str()).unwrap())
        .arg("--data-dir")
        .arg(stranger.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("root key file does not match"), "{said}");
    let second = portcullis_testing::Server::start(
        common::binary(),
        portcullis_testing::ServerOptions {
            args: vec!["--root-key-file".into(), root.display().to_string()],
            ..options
        },
    );
    assert!(second.log_text().contains("bootstrapped elsewhere"));
    let tenancy = first.tenancy();
    let admin = first.admin();
    let user = admin
        .send(
            "POST",
            "/20160918/users",
            Some(json!({"compartmentId": tenancy, "name": "frank", "description": "f"})),
        )
        .await
        .field("id");
    let group = common::create_group(&admin, &tenancy, "readers").await;
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
    let frank_on_second = ApiClient::new(
        second.endpoint(),
        &second.ca_bundle(),
        &tenancy,
        &user,
        &public.fingerprint(),
        key.to_pkcs8_pem(),
    );
    let list = format!("/20160918/groups?compartmentId={tenancy}");
    assert_eq!(frank_on_second.send("GET", &list, None).await.status, 404);
    let policy = admin
        .send(
            "POST",
            "/20160918/policies",
            Some(
                json!({"compartmentId": tenancy, "name": "readers", "description": "d",
                        "statements": ["Allow group readers to inspect groups in tenancy"]}),
            ),
        )
        .await;
    assert_eq!(policy.status, 200);
    let started = std::time::Instant::now();
    loop {
        let status = frank_on_second.send("GET", &list, None).await.status;
        if status == 200 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the second server never saw the policy (last status {status})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_an_operator_supplied_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=portcullis-test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let server = portcullis_testing::Server::start(
        common::binary(),
        portcullis_testing::ServerOptions {
            etcd: None,
            args: vec![
                "--tls-cert".into(),
                cert.display().to_string(),
                "--tls-key".into(),
                key.display().to_string(),
            ],
            wrapper: Vec::new(),
        },
    );
    assert!(
        !server.ca_bundle().exists(),
        "no CA is generated when a certificate is given"
    );
    let pem = std::fs::read(&cert).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
        .no_proxy()
        .build()
        .unwrap();
    let health = client
        .get(format!("{}/healthz", server.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // The admin signs with the bootstrap key, trusting the operator's certificate.
    let admin = ApiClient::new(
        server.endpoint(),
        &cert,
        &server.tenancy(),
        &server.config_value("user"),
        &server.config_value("fingerprint"),
        &std::fs::read_to_string(server.config_value("key_file")).unwrap(),
    );
    let me = server.config_value("user");
    assert_eq!(
        admin
            .send("GET", &format!("/20160918/users/{me}"), None)
            .await
            .status,
        200
    );
}
