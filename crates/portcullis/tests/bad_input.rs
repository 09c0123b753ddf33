//! Bad input gets OCI's error JSON, never a crash: malformed JSON, unknown fields, oversize
//! bodies, malformed OCIDs, bad signatures, and 1,000 random bodies to every route.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::sync::Arc;

use portcullis_testing::{ApiClient, ApiReply};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

fn assert_oci_error(reply: &ApiReply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(reply.code(), Some(code), "{:?}", reply.body);
    assert!(
        reply
            .body
            .get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty()),
        "{:?}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_400_with_oci_errors() {
    let server = common::server();
    let admin = server.admin();
    let tenancy = server.tenancy();

    let reply = admin
        .send_raw(
            "POST",
            "/20160918/groups",
            Some(b"{\"name\": ".to_vec()),
            &[],
        )
        .await;
    assert_oci_error(&reply, 400, "CannotParseRequest");
    let reply = admin
        .send_raw(
            "POST",
            "/20160918/groups",
            Some(b"{} trailing".to_vec()),
            &[],
        )
        .await;
    assert_oci_error(&reply, 400, "CannotParseRequest");
    let reply = admin
        .send(
            "POST",
            "/20160918/groups",
            Some(json!({"compartmentId": tenancy, "name": "g", "description": "d", "colour": "blue"})),
        )
        .await;
    assert_oci_error(&reply, 400, "InvalidParameter");
    assert!(reply.body["message"].as_str().unwrap().contains("colour"));
    let reply = admin
        .send(
            "POST",
            "/20160918/groups",
            Some(json!({"compartmentId": tenancy, "name": 7, "description": "d"})),
        )
        .await;
    assert_oci_error(&reply, 400, "InvalidParameter");
    let reply = admin
        .send(
            "POST",
            "/20160918/groups",
            Some(json!({"compartmentId": tenancy, "name": "g"})),
        )
        .await;
    assert_oci_error(&reply, 400, "MissingParameter");

    // Bodies over 1 MiB
    let big =
        json!({"compartmentId": tenancy, "name": "big", "description": "x".repeat(1024 * 1024)});
    let reply = admin.send("POST", "/20160918/groups", Some(big)).await;
    assert_oci_error(&reply, 400, "InvalidParameter");
    assert!(reply.body["message"].as_str().unwrap().contains("limit"));

    // Malformed OCIDs in paths, queries and bodies
    for path in [
        "/20160918/users/not-an-ocid".to_owned(),
        "/20160918/groups/ocid1.group.oc1..UPPER".to_owned(),
        "/20160918/compartments/ocid2.compartment.oc1..aaaa".to_owned(),
        "/20160918/compartments?compartmentId=bogus".to_owned(),
        format!("/20160918/userGroupMemberships?compartmentId={tenancy}&userId=nope"),
    ] {
        let reply = admin.send("GET", &path, None).await;
        assert_oci_error(&reply, 400, "InvalidParameter");
    }
    let reply = admin
        .send(
            "POST",
            "/20160918/compartments",
            Some(json!({"compartmentId": "ocid1.bad", "name": "c", "description": "d"})),
        )
        .await;
    assert_oci_error(&reply, 400, "InvalidParameter");
    // Bad paging parameters
    for query in [
        "limit=0",
        "limit=abc",
        "limit=5000",
        "page=%%%",
        "sortBy=COLOUR",
        "lifecycleState=SLEEPING",
    ] {
        let reply = admin
            .send(
                "GET",
                &format!("/20160918/groups?compartmentId={tenancy}&{query}"),
                None,
            )
            .await;
        assert_oci_error(&reply, 400, "InvalidParameter");
    }
    // A well-formed OCID of the wrong kind, or one that does not exist: 404
    let reply = admin
        .send("GET", &format!("/20160918/users/{tenancy}"), None)
        .await;
    assert_oci_error(&reply, 404, "NotAuthorizedOrNotFound");
    // Unknown routes and methods
    let reply = admin.send("GET", "/20160918/spaceships", None).await;
    assert_oci_error(&reply, 404, "NotAuthorizedOrNotFound");
    let reply = admin
        .send("PATCH", "/20160918/groups", Some(json!({})))
        .await;
    assert_oci_error(&reply, 405, "MethodNotAllowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_get_401() {
    let server = common::server();
    let admin = server.admin();
    let url = format!(
        "{}/20160918/users?compartmentId={}",
        server.endpoint(),
        server.tenancy()
    );
    // Unsigned
    let response = admin.http().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "NotAuthenticated");
    assert!(body["message"].as_str().unwrap().contains("authorization"));
    // Garbage authorization header
    let response = admin
        .http()
        .get(&url)
        .header("authorization", "Signature keyId=\"x\"")
        .header(
            "date",
            portcullis_auth::format_http_date(jiff::Timestamp::now()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // A stale date: signed correctly, 10 minutes ago
    let key = std::fs::read_to_string(server.config_value("key_file")).unwrap();
    let signer = portcullis_auth::RequestSigner::new(
        &server.tenancy(),
        &server.config_value("user"),
        &server.config_value("fingerprint"),
        portcullis_auth::ApiPrivateKey::from_pem(&key).unwrap(),
    );
    let path = format!("/20160918/users?compartmentId={}", server.tenancy());
    let host = server.endpoint().trim_start_matches("https://").to_owned();
    let then = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(10);
    let signed = signer.sign("GET", &path, &host, then, None).unwrap();
    let response = admin
        .http()
        .get(&url)
        .header("authorization", &signed.authorization)
        .header("date", &signed.date)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("5 minutes"),
        "{body}"
    );
    // The body hash must match the body
    let signed = signer
        .sign(
            "POST",
            "/20160918/groups",
            &host,
            jiff::Timestamp::now(),
            Some((b"{}", "application/json")),
        )
        .unwrap();
    let (length, content_type, hash) = signed.body.unwrap();
    let response = admin
        .http()
        .post(format!("{}/20160918/groups", server.endpoint()))
        .header("authorization", &signed.authorization)
        .header("date", &signed.date)
        .header("content-type", content_type)
        .header("content-length", length)
        .header("x-content-sha256", hash)
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // A key id that names nobody
    let stranger = ApiClient::new(
        server.endpoint(),
        &server.ca_bundle(),
        &server.tenancy(),
        "ocid1.user.oc1..aaaanobody",
        &server.config_value("fingerprint"),
        &key,
    );
    let reply = stranger.send("GET", &path, None).await;
    assert_oci_error(&reply, 401, "NotAuthenticated");
}

/// A random request body: bytes, JSON of random shapes, or a mangled valid body
fn random_body(rng: &mut StdRng, tenancy: &str) -> Vec<u8> {
    fn value(rng: &mut StdRng, depth: u32) -> Value {
        match rng.random_range(0..if depth > 3 { 5 } else { 8 }) {
            0 => Value::Null,
            1 => Value::Bool(rng.random()),
            2 => json!(rng.random::<i64>()),
            3 => json!(rng.random::<f64>()),
            4 => {
                let len = rng.random_range(0..40);
                Value::String((0..len).map(|_| rng.random::<char>()).collect())
            }
            5 => Value::Array(
                (0..rng.random_range(0..5))
                    .map(|_| value(rng, depth + 1))
                    .collect(),
            ),
            _ => {
                let keys = [
                    "compartmentId",
                    "name",
                    "description",
                    "statements",
                    "matchingRule",
                    "key",
                    "userId",
                    "groupId",
                    "freeformTags",
                    "definedTags",
                    "email",
                    "principal",
                    "operation",
                    "permissions",
                    "variables",
                    "candidateStatements",
                    "x",
                ];
                Value::Object(
                    (0..rng.random_range(0..6))
                        .map(|_| {
                            (
                                keys[rng.random_range(0..keys.len())].to_owned(),
                                value(rng, depth + 1),
                            )
                        })
                        .collect(),
                )
            }
        }
    }
    match rng.random_range(0..4) {
        0 => (0..rng.random_range(0..256))
            .map(|_| rng.random::<u8>())
            .collect(),
        1 => serde_json::to_vec(&value(rng, 0)).unwrap(),
        2 => {
            let valid = serde_json::to_vec(&json!({
                "compartmentId": tenancy, "name": format!("n{}", rng.random::<u32>()),
                "description": "d", "statements": ["Allow group Administrators to read repos in tenancy"],
                "matchingRule": "resource.type = 'cluster'",
            }))
            .unwrap();
            let cut = rng.random_range(0..valid.len());
            valid[..cut].to_vec()
        }
        _ => {
            let mut v = serde_json::to_vec(&value(rng, 0)).unwrap();
            if !v.is_empty() {
                let i = rng.random_range(0..v.len());
                v[i] = rng.random();
            }
            v
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_random_bodies_per_route_never_break_the_server() {
    let mut server = common::server();
    let admin = Arc::new(server.admin());
    let tenancy = server.tenancy();
    let user = server.config_value("user");
    let group = common::create_group(&admin, &tenancy, "fuzz-target").await;
    let missing_user = "ocid1.user.oc1..aaaamissing";
    let missing = "ocid1.compartment.oc1..aaaamissing";
    // Every route, with ids that reach the body parser (deletes aim at ids that do not
    // exist, so the run cannot lock itself out).
    let routes: Vec<(&str, String)> = vec![
        ("GET", format!("/20160918/tenancies/{tenancy}")),
        ("POST", "/20160918/compartments".into()),
        (
            "GET",
            format!("/20160918/compartments?compartmentId={tenancy}"),
        ),
        ("GET", format!("/20160918/compartments/{tenancy}")),
        ("PUT", format!("/20160918/compartments/{missing}")),
        ("DELETE", format!("/20160918/compartments/{missing}")),
        ("POST", "/20160918/users".into()),
        ("GET", format!("/20160918/users?compartmentId={tenancy}")),
        ("GET", format!("/20160918/users/{user}")),
        ("PUT", format!("/20160918/users/{user}")),
        ("DELETE", format!("/20160918/users/{missing_user}")),
        ("POST", format!("/20160918/users/{missing_user}/apiKeys")),
        ("GET", format!("/20160918/users/{user}/apiKeys")),
        (
            "DELETE",
            format!(
                "/20160918/users/{missing_user}/apiKeys/00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"
            ),
        ),
        ("POST", format!("/20160918/users/{missing_user}/authTokens")),
        ("GET", format!("/20160918/users/{user}/authTokens")),
        (
            "PUT",
            format!("/20160918/users/{user}/authTokens/ocid1.credential.oc1..aaaamissing"),
        ),
        (
            "DELETE",
            format!("/20160918/users/{user}/authTokens/ocid1.credential.oc1..aaaamissing"),
        ),
        ("POST", "/20160918/groups".into()),
        ("GET", format!("/20160918/groups?compartmentId={tenancy}")),
        ("GET", format!("/20160918/groups/{group}")),
        ("PUT", format!("/20160918/groups/{group}")),
        (
            "DELETE",
            "/20160918/groups/ocid1.group.oc1..aaaamissing".into(),
        ),
        ("POST", "/20160918/userGroupMemberships".into()),
        (
            "GET",
            format!("/20160918/userGroupMemberships?compartmentId={tenancy}"),
        ),
        (
            "GET",
            "/20160918/userGroupMemberships/ocid1.groupmembership.oc1..aaaamissing".into(),
        ),
        (
            "DELETE",
            "/20160918/userGroupMemberships/ocid1.groupmembership.oc1..aaaamissing".into(),
        ),
        ("POST", "/20160918/dynamicGroups".into()),
        (
            "GET",
            format!("/20160918/dynamicGroups?compartmentId={tenancy}"),
        ),
        (
            "GET",
            "/20160918/dynamicGroups/ocid1.dynamicgroup.oc1..aaaamissing".into(),
        ),
        (
            "PUT",
            "/20160918/dynamicGroups/ocid1.dynamicgroup.oc1..aaaamissing".into(),
        ),
        (
            "DELETE",
            "/20160918/dynamicGroups/ocid1.dynamicgroup.oc1..aaaamissing".into(),
        ),
        ("POST", "/20160918/policies".into()),
        ("GET", format!("/20160918/policies?compartmentId={tenancy}")),
        (
            "GET",
            "/20160918/policies/ocid1.policy.oc1..aaaamissing".into(),
        ),
        (
            "PUT",
            "/20160918/policies/ocid1.policy.oc1..aaaamissing".into(),
        ),
        (
            "DELETE",
            "/20160918/policies/ocid1.policy.oc1..aaaamissing".into(),
        ),
        ("POST", "/20160918/policies/actions/simulate".into()),
    ];
    let seed: u64 = std::env::var("PORTCULLIS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("random bodies seed: {seed} (set PORTCULLIS_FUZZ_SEED to replay)");
    let bodies_per_route = 1000;
    let mut tasks = Vec::new();
    for (index, (method, path)) in routes.into_iter().enumerate() {
        let admin = admin.clone();
        let tenancy = tenancy.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_add(index as u64));
            let mut statuses = std::collections::BTreeMap::new();
            for _ in 0..bodies_per_route {
                let body = random_body(&mut rng, &tenancy);
                let reply = admin.send_raw(method, &path, Some(body), &[]).await;
                assert!(
                    reply.status < 500,
                    "{method} {path} answered {}: {:?}",
                    reply.status,
                    reply.body
                );
                if reply.status >= 400 {
                    assert!(
                        reply.code().is_some(),
                        "{method} {path}: no OCI error body: {:?}",
                        reply.body
                    );
                }
                *statuses.entry(reply.status).or_insert(0) += 1;
            }
            (method, path, statuses)
        }));
        // Keep a handful of routes in flight at once.
        if tasks.len() >= 6 {
            let (method, path, statuses) = tasks.remove(0).await.unwrap();
            eprintln!("{method} {path}: {statuses:?}");
        }
    }
    for t in tasks {
        let (method, path, statuses) = t.await.unwrap();
        eprintln!("{method} {path}: {statuses:?}");
    }
    assert!(server.is_running(), "the server died");
    let reply = admin
        .send("GET", &format!("/20160918/groups/{group}"), None)
        .await;
    assert_eq!(reply.status, 200);
}
