//! The assertions of the distribution-spec conformance suite (`supply-chain.md` §1.13:
//! pull, push in all four modes, cross-repository mount, tag listing, referrers, content
//! management, error codes), restated as Rust tests against the running server, plus bad
//! input that must get the spec's error without harming the server.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

mod common;

use common::registry::{Registry, digest, error_code, location, sep};
use portcullis_distribution::{Algorithm, Digest};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

#[test]
fn distribution_spec_conformance() {
    let server = common::server();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let r = Registry::login(&server).await;
        let repo = "conformance/app";

        // ---- pull ----------------------------------------------------------------------
        assert_eq!(r.send(Method::GET, "/v2/", &[], None).await.status(), StatusCode::OK);
        let (manifest_digest, pushed) = r.push_image(repo, "tagged", "pull", json!({})).await;
        assert_eq!(pushed.status(), StatusCode::CREATED);
        assert_eq!(pushed.headers()["docker-content-digest"], manifest_digest.as_str());
        assert_eq!(location(&pushed), format!("/v2/{repo}/manifests/{manifest_digest}"));
        for reference in ["tagged", manifest_digest.as_str()] {
            let got = r.send(Method::GET, &format!("/v2/{repo}/manifests/{reference}"), &[], None).await;
            assert_eq!(got.status(), StatusCode::OK);
            assert_eq!(got.headers()["content-type"], "application/vnd.oci.image.manifest.v1+json");
            assert_eq!(got.headers()["docker-content-digest"], manifest_digest.as_str());
            assert_eq!(digest(&got.bytes().await.unwrap()), manifest_digest, "the exact bytes pushed");
            let head = r.send(Method::HEAD, &format!("/v2/{repo}/manifests/{reference}"), &[], None).await;
            assert_eq!(head.status(), StatusCode::OK);
            assert!(head.headers().contains_key("content-length"));
            assert_eq!(head.headers()["docker-content-digest"], manifest_digest.as_str());
        }
        let blob = r.push_blob(repo, b"0123456789").await;
        let got = r.send(Method::GET, &format!("/v2/{repo}/blobs/{blob}"), &[], None).await;
        assert_eq!(got.status(), StatusCode::OK);
        assert_eq!(got.headers()["docker-content-digest"], blob.as_str());
        assert_eq!(got.bytes().await.unwrap().as_ref(), b"0123456789");
        let head = r.send(Method::HEAD, &format!("/v2/{repo}/blobs/{blob}"), &[], None).await;
        assert_eq!((head.status(), head.headers()["content-length"].to_str().unwrap()), (StatusCode::OK, "10"));
        let ranged = r.send(Method::GET, &format!("/v2/{repo}/blobs/{blob}"), &[("range", "bytes=2-4")], None).await;
        assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(ranged.headers()["content-range"], "bytes 2-4/10");
        assert_eq!(ranged.bytes().await.unwrap().as_ref(), b"234");
        let unsatisfiable = r.send(Method::GET, &format!("/v2/{repo}/blobs/{blob}"), &[("range", "bytes=20-")], None).await;
        assert_eq!(unsatisfiable.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        let missing = r.send(Method::GET, &format!("/v2/{repo}/manifests/nosuchtag"), &[], None).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(missing).await, "MANIFEST_UNKNOWN");
        let missing = r.send(Method::GET, &format!("/v2/{repo}/blobs/{}", digest(b"absent")), &[], None).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(missing).await, "BLOB_UNKNOWN");
        let wrong = r.send(Method::GET, &format!("/v2/{repo}/manifests/sha256:totallywrong"), &[], None).await;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(wrong).await, "DIGEST_INVALID");

        // ---- push: streamed, monolithic, POST-only, chunked; empty blobs; sha512 --------
        let streamed = b"streamed without Content-Range".to_vec();
        let started = r.send(Method::POST, &format!("/v2/{repo}/blobs/uploads/"), &[], None).await;
        let patched = r.send(Method::PATCH, &location(&started), &[("content-type", "application/octet-stream")], Some(streamed.clone())).await;
        assert_eq!(patched.status(), StatusCode::ACCEPTED);
        let loc = location(&patched);
        let done = r.send(Method::PUT, &format!("{loc}{}digest={}", sep(&loc), digest(&streamed)), &[], None).await;
        assert_eq!(done.status(), StatusCode::CREATED);

        let single = b"POST with digest".to_vec();
        let posted = r
            .send(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={}", digest(&single)), &[("content-type", "application/octet-stream")], Some(single.clone()))
            .await;
        assert_eq!(posted.status(), StatusCode::CREATED);
        assert_eq!(location(&posted), format!("/v2/{repo}/blobs/{}", digest(&single)));

        let chunked: Vec<u8> = (0..42u8).collect();
        let (first, second) = chunked.split_at(chunked.len() / 2 + 1);
        let started = r.send(Method::POST, &format!("/v2/{repo}/blobs/uploads/"), &[("content-length", "0")], None).await;
        assert_eq!(started.status(), StatusCode::ACCEPTED);
        let loc = location(&started);
        let out_of_order = r.send(Method::PATCH, &loc, &[("content-range", "5-9"), ("content-type", "application/octet-stream")], Some(vec![0; 5])).await;
        assert_eq!(out_of_order.status(), StatusCode::RANGE_NOT_SATISFIABLE, "a first chunk must start at 0");
        let range = format!("0-{}", first.len() - 1);
        let accepted = r.send(Method::PATCH, &loc, &[("content-range", &range), ("content-type", "application/octet-stream")], Some(first.to_vec())).await;
        assert_eq!(accepted.status(), StatusCode::ACCEPTED);
        assert_eq!(accepted.headers()["range"], range.as_str());
        let loc = location(&accepted);
        let again = r.send(Method::PATCH, &loc, &[("content-range", &range), ("content-type", "application/octet-stream")], Some(first.to_vec())).await;
        assert_eq!(again.status(), StatusCode::RANGE_NOT_SATISFIABLE, "re-sending the first chunk");
        let status = r.send(Method::GET, &loc, &[], None).await;
        assert_eq!(status.status(), StatusCode::NO_CONTENT);
        assert_eq!(status.headers()["range"], range.as_str());
        assert!(!location(&status).is_empty());
        let second_range = format!("{}-{}", first.len(), chunked.len() - 1);
        let accepted = r.send(Method::PATCH, &loc, &[("content-range", &second_range), ("content-type", "application/octet-stream")], Some(second.to_vec())).await;
        assert_eq!(accepted.status(), StatusCode::ACCEPTED);
        let loc = location(&accepted);
        let closed = r.send(Method::PUT, &format!("{loc}{}digest={}", sep(&loc), digest(&chunked)), &[("content-length", "0")], None).await;
        assert_eq!(closed.status(), StatusCode::CREATED);
        let got = r.send(Method::GET, &format!("/v2/{repo}/blobs/{}", digest(&chunked)), &[], None).await;
        assert_eq!(got.bytes().await.unwrap().as_ref(), chunked.as_slice());

        let empty = r.push_blob(repo, b"").await;
        assert_eq!(r.send(Method::HEAD, &format!("/v2/{repo}/blobs/{empty}"), &[], None).await.status(), StatusCode::OK);
        let sha512 = Digest::of(Algorithm::Sha512, b"sha512 content").to_string();
        let posted = r.send(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={sha512}"), &[], Some(b"sha512 content".to_vec())).await;
        assert_eq!(posted.status(), StatusCode::CREATED);
        assert_eq!(r.send(Method::GET, &format!("/v2/{repo}/blobs/{sha512}"), &[], None).await.status(), StatusCode::OK);

        let cancelled = r.send(Method::POST, &format!("/v2/{repo}/blobs/uploads/"), &[], None).await;
        let loc = location(&cancelled);
        assert_eq!(r.send(Method::DELETE, &loc, &[], None).await.status(), StatusCode::NO_CONTENT);
        let gone = r.send(Method::GET, &loc, &[], None).await;
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(gone).await, "BLOB_UPLOAD_UNKNOWN");

        // ---- cross-repository mount ----------------------------------------------------
        let other = "conformance/crossmount";
        let dummy = r.send(Method::POST, &format!("/v2/{other}/blobs/uploads/?mount={}", digest(b"never pushed")), &[], None).await;
        assert_eq!(dummy.status(), StatusCode::ACCEPTED);
        assert!(location(&dummy).starts_with(&format!("/v2/{other}/blobs/uploads/")));
        let mounted = r.send(Method::POST, &format!("/v2/{other}/blobs/uploads/?mount={blob}&from={repo}"), &[], None).await;
        assert_eq!(mounted.status(), StatusCode::CREATED);
        assert_eq!(location(&mounted), format!("/v2/{other}/blobs/{blob}"));
        assert_eq!(r.send(Method::GET, &location(&mounted), &[], None).await.status(), StatusCode::OK);
        let automatic = r.send(Method::POST, &format!("/v2/conformance/auto/blobs/uploads/?mount={blob}"), &[], None).await;
        assert_eq!(automatic.status(), StatusCode::CREATED, "mount without `from` finds the blob");

        // ---- tag listing ---------------------------------------------------------------
        let tags_repo = "conformance/tags";
        let mut all = Vec::new();
        for i in 0..6 {
            let tag = format!("t{i}");
            assert_eq!(r.push_image(tags_repo, &tag, "tags", json!({})).await.1.status(), StatusCode::CREATED);
            all.push(tag);
        }
        let listed: Value = r.send(Method::GET, &format!("/v2/{tags_repo}/tags/list"), &[], None).await.json().await.unwrap();
        assert_eq!(listed, json!({"name": tags_repo, "tags": all}));
        let half = r.send(Method::GET, &format!("/v2/{tags_repo}/tags/list?n=3"), &[], None).await;
        let link = half.headers()["link"].to_str().unwrap().to_owned();
        assert!(link.contains("last=t2") && link.ends_with("rel=\"next\""), "{link}");
        let half: Value = half.json().await.unwrap();
        assert_eq!(half["tags"], json!(["t0", "t1", "t2"]));
        let rest: Value = r.send(Method::GET, &format!("/v2/{tags_repo}/tags/list?n=3&last=t2"), &[], None).await.json().await.unwrap();
        assert_eq!(rest["tags"], json!(["t3", "t4", "t5"]));
        let none = r.send(Method::GET, &format!("/v2/{tags_repo}/tags/list?n=0"), &[], None).await;
        assert!(!none.headers().contains_key("link"));
        assert_eq!(none.json::<Value>().await.unwrap()["tags"], json!([]));

        // ---- referrers -----------------------------------------------------------------
        let refs = "conformance/referrers";
        let nothing = r.send(Method::GET, &format!("/v2/{refs}/referrers/{}", digest(b"none")), &[], None).await;
        assert_eq!(nothing.status(), StatusCode::OK);
        assert_eq!(nothing.headers()["content-type"], "application/vnd.oci.image.index.v1+json");
        assert_eq!(nothing.json::<Value>().await.unwrap()["manifests"], json!([]));
        let (subject, _) = r.push_image(refs, "subject", "subject", json!({})).await;
        let subject_size = r.send(Method::GET, &format!("/v2/{refs}/manifests/{subject}"), &[], None).await.bytes().await.unwrap().len();
        for i in 0..5 {
            let artifact_type = if i < 2 { "application/vnd.example.sbom" } else { "application/vnd.example.sig" };
            let (_, pushed) = r
                .push_image(refs, "", &format!("ref{i}"), json!({
                    "artifactType": artifact_type,
                    "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject, "size": subject_size},
                    "annotations": {"org.example.index": i.to_string()},
                }))
                .await;
            assert_eq!(pushed.status(), StatusCode::CREATED);
            assert_eq!(pushed.headers()["oci-subject"], subject.as_str());
        }
        let listed: Value = r.send(Method::GET, &format!("/v2/{refs}/referrers/{subject}"), &[], None).await.json().await.unwrap();
        let manifests = listed["manifests"].as_array().unwrap();
        assert_eq!(manifests.len(), 5);
        assert!(manifests.iter().all(|m| m["annotations"].as_object().unwrap().len() == 1));
        let filtered = r.send(Method::GET, &format!("/v2/{refs}/referrers/{subject}?artifactType=application/vnd.example.sbom"), &[], None).await;
        assert_eq!(filtered.headers()["oci-filters-applied"], "artifactType");
        assert_eq!(filtered.json::<Value>().await.unwrap()["manifests"].as_array().unwrap().len(), 2);
        let absent = digest(b"a subject that was never pushed");
        let (_, pushed) = r
            .push_image(refs, "", "orphan", json!({"subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": absent, "size": 7}}))
            .await;
        assert_eq!(pushed.status(), StatusCode::CREATED, "a subject that does not exist is accepted");
        let orphans: Value = r.send(Method::GET, &format!("/v2/{refs}/referrers/{absent}"), &[], None).await.json().await.unwrap();
        assert_eq!(orphans["manifests"].as_array().unwrap().len(), 1);

        // ---- content management --------------------------------------------------------
        let (d, _) = r.push_image(repo, "deleteme", "delete", json!({})).await;
        assert_eq!(r.send(Method::DELETE, &format!("/v2/{repo}/manifests/deleteme"), &[], None).await.status(), StatusCode::ACCEPTED);
        assert_eq!(r.send(Method::GET, &format!("/v2/{repo}/manifests/deleteme"), &[], None).await.status(), StatusCode::NOT_FOUND);
        let tags: Value = r.send(Method::GET, &format!("/v2/{repo}/tags/list"), &[], None).await.json().await.unwrap();
        assert!(!tags["tags"].as_array().unwrap().contains(&json!("deleteme")));
        assert_eq!(r.send(Method::DELETE, &format!("/v2/{repo}/manifests/{d}"), &[], None).await.status(), StatusCode::ACCEPTED);
        assert_eq!(r.send(Method::GET, &format!("/v2/{repo}/manifests/{d}"), &[], None).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.send(Method::DELETE, &format!("/v2/{repo}/blobs/{blob}"), &[], None).await.status(), StatusCode::ACCEPTED);
        let gone = r.send(Method::GET, &format!("/v2/{repo}/blobs/{blob}"), &[], None).await;
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(gone).await, "BLOB_UNKNOWN");
    });
}

#[test]
fn bad_input_gets_the_specs_errors_and_the_server_stays_up() {
    let server = common::server();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let r = Registry::login(&server).await;
        let repo = "bad/input";
        let expect = |status: StatusCode, code: &'static str| move |response: Response| async move {
            let url = response.url().to_string();
            assert_eq!(response.status(), status, "{url}");
            assert_eq!(error_code(response).await, code, "{url}");
        };
        // Wrong digest on the closing PUT; a digest that is not one.
        let started = r.send(Method::POST, &format!("/v2/{repo}/blobs/uploads/"), &[], None).await;
        let loc = location(&started);
        expect(StatusCode::BAD_REQUEST, "DIGEST_INVALID")(r.send(Method::PUT, &format!("{loc}{}digest={}", sep(&loc), digest(b"other")), &[], Some(b"content".to_vec())).await).await;
        expect(StatusCode::BAD_REQUEST, "DIGEST_INVALID")(r.send(Method::PUT, &format!("{loc}{}digest=sha256:nothex", sep(&loc)), &[], None).await).await;
        expect(StatusCode::BAD_REQUEST, "DIGEST_INVALID")(r.send(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest=md5:abc"), &[], Some(b"x".to_vec())).await).await;
        // A chunk shorter than its Content-Range says; a malformed Content-Range.
        let started = r.send(Method::POST, &format!("/v2/{repo}/blobs/uploads/"), &[], None).await;
        let loc = location(&started);
        expect(StatusCode::BAD_REQUEST, "SIZE_INVALID")(r.send(Method::PATCH, &loc, &[("content-range", "0-99")], Some(vec![1; 10])).await).await;
        let started = r.send(Method::POST, &format!("/v2/{repo}/blobs/uploads/"), &[], None).await;
        let loc = location(&started);
        let bad_range = r.send(Method::PATCH, &loc, &[("content-range", "nonsense")], Some(vec![1; 10])).await;
        assert_eq!(bad_range.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        // Unknown upload sessions.
        expect(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN")(r.send(Method::PATCH, &format!("/v2/{repo}/blobs/uploads/00000000-0000-4000-8000-000000000000"), &[], Some(vec![1])).await).await;
        expect(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN")(r.send(Method::GET, &format!("/v2/{repo}/blobs/uploads/..%2F..%2Fetc"), &[], None).await).await;
        // Malformed manifests, and manifests naming blobs the repository lacks.
        for body in ["not json", "[]", r#"{"schemaVersion": 1}"#, r#"{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}"#] {
            expect(StatusCode::BAD_REQUEST, "MANIFEST_INVALID")(r.send(Method::PUT, &format!("/v2/{repo}/manifests/x"), &[("content-type", "application/vnd.oci.image.manifest.v1+json")], Some(body.as_bytes().to_vec())).await).await;
        }
        let dangling = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(b"missing"), "size": 7}, "layers": []});
        expect(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN")(r.send(Method::PUT, &format!("/v2/{repo}/manifests/x"), &[("content-type", "application/vnd.oci.image.manifest.v1+json")], Some(dangling.to_string().into_bytes())).await).await;
        let huge = vec![b' '; 5 * 1024 * 1024];
        expect(StatusCode::PAYLOAD_TOO_LARGE, "SIZE_INVALID")(r.send(Method::PUT, &format!("/v2/{repo}/manifests/x"), &[], Some(huge)).await).await;
        // Names with `..` or upper case; tags that are not tags; huge `n`.
        for name in ["a..b", "Upper/case", "a//b", "-a", "a/.hidden"] {
            expect(StatusCode::BAD_REQUEST, "NAME_INVALID")(r.send(Method::GET, &format!("/v2/{name}/tags/list"), &[], None).await).await;
        }
        expect(StatusCode::BAD_REQUEST, "MANIFEST_INVALID")(r.send(Method::GET, &format!("/v2/{repo}/manifests/-bad-tag"), &[], None).await).await;
        r.push_blob(repo, b"so the repository exists").await;
        expect(StatusCode::BAD_REQUEST, "PAGINATION_NUMBER_INVALID")(r.send(Method::GET, &format!("/v2/{repo}/tags/list?n=99999999999999999999999"), &[], None).await).await;
        assert_eq!(r.send(Method::GET, &format!("/v2/{repo}/tags/list?n=1000000000"), &[], None).await.status(), StatusCode::OK);
        expect(StatusCode::NOT_FOUND, "NAME_UNKNOWN")(r.send(Method::GET, "/v2/never/pushed/tags/list", &[], None).await).await;
        // A forged token.
        let forged = r.http.get(format!("{}/v2/", r.base)).bearer_auth("pcr1.e30.AAAA").send().await.unwrap();
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
        // Still serving.
        assert_eq!(r.send(Method::GET, "/v2/", &[], None).await.status(), StatusCode::OK);
    });
}

#[test]
fn bad_repository_resource_input_gets_oci_errors() {
    let server = common::server();
    let tenancy = server.tenancy();
    let api = server.admin();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let create = |body: Value| {
            let api = &api;
            async move {
                api.send("POST", "/20160918/container/repositories", Some(body))
                    .await
            }
        };
        let bad = create(json!({"compartmentId": tenancy, "displayName": "Bad Name"})).await;
        assert_eq!(
            (bad.status, bad.body["code"].as_str()),
            (400, Some("InvalidParameter")),
            "{}",
            bad.body
        );
        let missing = create(json!({"displayName": "fine"})).await;
        assert_eq!(
            (missing.status, missing.body["code"].as_str()),
            (400, Some("MissingParameter")),
            "{}",
            missing.body
        );
        let unknown_field =
            create(json!({"compartmentId": tenancy, "displayName": "fine", "isPublic": "yes"}))
                .await;
        assert_eq!(unknown_field.status, 400, "{}", unknown_field.body);
        let ok = create(json!({"compartmentId": tenancy, "displayName": "fine"})).await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        let again = create(json!({"compartmentId": tenancy, "displayName": "fine"})).await;
        assert_eq!(again.status, 409, "{}", again.body);
        for path in [
            "/20160918/container/repositories/ocid1.containerrepo.oc1..nope",
            "/20160918/container/images/not-an-ocid",
        ] {
            let reply = api.send("GET", path, None).await;
            assert!(matches!(reply.status, 400 | 404), "{path}: {}", reply.body);
            assert!(reply.body["code"].is_string(), "{}", reply.body);
        }
        let no_compartment = api.send("GET", "/20160918/container/images", None).await;
        assert_eq!(
            (no_compartment.status, no_compartment.body["code"].as_str()),
            (400, Some("MissingParameter"))
        );
    });
}
