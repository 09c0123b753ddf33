//! Bad input at a cluster endpoint gets a Kubernetes `Status` with the right code, never a
//! crash: malformed JSON, YAML and protobuf, wrong content types, unknown fields under
//! `fieldValidation=Strict`, oversize bodies, path traversal, and bad credentials.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is a failed test"
)]

mod common;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

struct Endpoint {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Endpoint {
    async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let response = self
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", self.base),
            )
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn assert_status(reply: &(u16, Value), code: u16, reason: &str) {
    assert_eq!(reply.0, code, "{}", reply.1);
    assert_eq!(reply.1["kind"], "Status", "{}", reply.1);
    assert_eq!(reply.1["reason"], reason, "{}", reply.1);
    assert_eq!(reply.1["code"], code);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_status_errors_and_the_server_stays_up() {
    let mut server = common::server();
    let cluster = common::create_cluster(&server, "bad-input");
    let key = std::fs::read_to_string(server.config_value("key_file")).unwrap();
    let signer = portcullis_auth::RequestSigner::new(
        &server.tenancy(),
        &server.config_value("user"),
        &server.config_value("fingerprint"),
        portcullis_auth::ApiPrivateKey::from_pem(&key).unwrap(),
    );
    let token = portcullis_containerengine::generate_token(
        &signer,
        &cluster,
        "us-ashburn-1",
        jiff::Timestamp::now(),
    )
    .unwrap();
    let endpoint = Endpoint {
        http: server.admin().http().clone(),
        base: format!("{}/clusters/{cluster}", server.endpoint()),
        token,
    };
    let secrets = "/api/v1/namespaces/default/secrets";

    // Malformed bodies
    assert_status(
        &endpoint
            .send(
                "POST",
                secrets,
                "application/json",
                b"{\"metadata\":".to_vec(),
            )
            .await,
        400,
        "BadRequest",
    );
    assert_status(
        &endpoint
            .send("POST", secrets, "application/json", b"[1,2]".to_vec())
            .await,
        400,
        "BadRequest",
    );
    assert_status(
        &endpoint
            .send(
                "POST",
                secrets,
                "application/yaml",
                b"metadata: [unclosed".to_vec(),
            )
            .await,
        400,
        "BadRequest",
    );
    assert_status(
        &endpoint
            .send(
                "POST",
                secrets,
                "application/vnd.kubernetes.protobuf",
                b"k8s\0\xff\xff\xff".to_vec(),
            )
            .await,
        400,
        "BadRequest",
    );
    assert_status(
        &endpoint
            .send(
                "POST",
                secrets,
                "application/vnd.kubernetes.protobuf",
                b"not protobuf".to_vec(),
            )
            .await,
        400,
        "BadRequest",
    );
    // YAML bodies are fine when well formed
    let created = endpoint
        .send(
            "POST",
            secrets,
            "application/yaml",
            b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: from-yaml\nstringData:\n  a: b\n"
                .to_vec(),
        )
        .await;
    assert_eq!(created.0, 201, "{}", created.1);
    // Wrong content types
    assert_status(
        &endpoint
            .send("POST", secrets, "text/plain", b"hello".to_vec())
            .await,
        415,
        "UnsupportedMediaType",
    );
    assert_status(
        &endpoint
            .send(
                "PATCH",
                &format!("{secrets}/from-yaml"),
                "application/xml",
                b"<a/>".to_vec(),
            )
            .await,
        415,
        "UnsupportedMediaType",
    );
    // Unknown fields: refused under Strict, reported under Warn
    let body = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "strict", "colour": "red"}, "flavour": 1})).unwrap();
    let strict = endpoint
        .send(
            "POST",
            &format!("{secrets}?fieldValidation=Strict"),
            "application/json",
            body.clone(),
        )
        .await;
    assert_status(&strict, 400, "BadRequest");
    let message = strict.1["message"].as_str().unwrap();
    assert!(
        message.contains("unknown field \"flavour\"")
            && message.contains("unknown field \"metadata.colour\""),
        "{message}"
    );
    assert_eq!(
        endpoint
            .send(
                "POST",
                &format!("{secrets}?fieldValidation=Warn"),
                "application/json",
                body
            )
            .await
            .0,
        201
    );
    // Validation failures: 422 Invalid with causes
    let invalid = endpoint
        .send(
            "POST",
            secrets,
            "application/json",
            serde_json::to_vec(&json!({"metadata": {"name": "Bad_Name"}})).unwrap(),
        )
        .await;
    assert_status(&invalid, 422, "Invalid");
    assert_eq!(invalid.1["details"]["causes"][0]["field"], "metadata.name");
    let bad_data = endpoint
        .send(
            "POST",
            secrets,
            "application/json",
            serde_json::to_vec(&json!({"metadata": {"name": "b64"}, "data": {"k": "not base64!"}}))
                .unwrap(),
        )
        .await;
    assert_status(&bad_data, 400, "BadRequest");
    // Oversize bodies
    let huge = vec![b' '; 4 * 1024 * 1024];
    assert_status(
        &endpoint
            .send("POST", secrets, "application/json", huge)
            .await,
        413,
        "RequestEntityTooLarge",
    );
    // Path traversal and malformed names
    // (curl --path-as-is sends dot segments untouched; HTTP libraries would resolve them.)
    for path in [
        "/api/v1/namespaces/default/secrets/..",
        "/api/v1/namespaces/default/secrets/%2e%2e",
        "/api/v1/namespaces/default/secrets/x/../../../configmaps",
    ] {
        let out = std::process::Command::new("curl")
            .args(["-s", "--path-as-is", "--cacert"])
            .arg(server.ca_bundle())
            .arg("-H")
            .arg(format!("Authorization: Bearer {}", endpoint.token))
            .arg(format!("{}{path}", endpoint.base))
            .output()
            .unwrap();
        let body: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        assert_eq!(body["kind"], "Status", "{path}: {body}");
        assert!(body["code"] == 400 || body["code"] == 404, "{path}: {body}");
    }
    for path in [
        "/api/v1/namespaces/default/secrets/a%2Fb",
        "/api/v1/namespaces/..%2F..%2Fetc/secrets",
        "/api/v1/namespaces/Default/secrets",
    ] {
        let (status, body) = endpoint
            .send("GET", path, "application/json", Vec::new())
            .await;
        assert!(status == 400 || status == 404, "{path}: {status} {body}");
        assert_eq!(body["kind"], "Status", "{path}");
    }
    // Conflicts: a stale resourceVersion on update
    let current = endpoint
        .send(
            "GET",
            &format!("{secrets}/from-yaml"),
            "application/json",
            Vec::new(),
        )
        .await;
    let mut stale = current.1.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    let conflict = endpoint
        .send(
            "PUT",
            &format!("{secrets}/from-yaml"),
            "application/json",
            serde_json::to_vec(&stale).unwrap(),
        )
        .await;
    assert_status(&conflict, 409, "Conflict");
    assert!(
        conflict.1["message"]
            .as_str()
            .unwrap()
            .contains("the object has been modified")
    );
    // Unknown resources and methods
    assert_status(
        &endpoint
            .send("GET", "/api/v1/spaceships", "application/json", Vec::new())
            .await,
        404,
        "NotFound",
    );
    assert_status(
        &endpoint
            .send("GET", "/apis/unknown.io/v1", "application/json", Vec::new())
            .await,
        404,
        "NotFound",
    );
    // Bad credentials: 401 Status
    let anonymous = endpoint
        .http
        .get(format!("{}/api/v1/namespaces", endpoint.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["reason"], "Unauthorized");
    let garbage = Endpoint {
        http: endpoint.http.clone(),
        base: endpoint.base.clone(),
        token: "garbage".into(),
    };
    assert_status(
        &garbage
            .send("GET", "/api/v1/namespaces", "application/json", Vec::new())
            .await,
        401,
        "Unauthorized",
    );

    // Random bodies to every verb of a few resources: never a 5xx, always a Status on error.
    let seed: u64 = rand::random();
    eprintln!("seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let targets = [
        ("POST", "/api/v1/namespaces/default/configmaps"),
        ("PUT", "/api/v1/namespaces/default/secrets/from-yaml"),
        ("PATCH", "/apis/apps/v1/namespaces/default/deployments/x"),
        ("POST", "/api/v1/namespaces"),
        (
            "POST",
            "/api/v1/namespaces/default/serviceaccounts/default/token",
        ),
        ("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles"),
        (
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        ),
    ];
    let content_types = [
        "application/json",
        "application/yaml",
        "application/vnd.kubernetes.protobuf",
        "application/strategic-merge-patch+json",
        "application/merge-patch+json",
        "application/json-patch+json",
    ];
    for _ in 0..300 {
        let (method, path) = targets[rng.random_range(0..targets.len())];
        let content_type = content_types[rng.random_range(0..content_types.len())];
        let mut body: Vec<u8> = (0..rng.random_range(0..200))
            .map(|_| rng.random())
            .collect();
        if content_type.contains("protobuf") && rng.random() {
            let mut framed = b"k8s\0".to_vec();
            framed.append(&mut body);
            body = framed;
        }
        let (status, reply) = endpoint.send(method, path, content_type, body).await;
        assert!(
            status < 500,
            "{method} {path} {content_type}: {status} {reply}"
        );
        if status >= 400 {
            assert_eq!(reply["kind"], "Status", "{reply}");
        }
    }
    assert!(server.is_running());
    assert_eq!(
        endpoint
            .send("GET", "/version", "application/json", Vec::new())
            .await
            .0,
        200
    );
}
