use serde_json::json;

use super::*;

const OURS: &str = "127.0.0.1:9443";
const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn policy(keys: &[&str]) -> Policy {
    Policy {
        enabled: true,
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        ..Policy::default()
    }
}

fn ours() -> Vec<String> {
    vec![OURS.to_owned()]
}

#[test]
fn references_parse_as_runtimes_read_them() {
    let r = ImageRef::parse("nginx").unwrap();
    assert_eq!(r.registry, "docker.io");
    assert_eq!(r.repository.as_str(), "library/nginx");
    assert_eq!(r.tag, None);
    let r = ImageRef::parse(&format!("{OURS}/team/app:v1@{DIGEST}")).unwrap();
    assert_eq!(r.registry, OURS);
    assert_eq!(r.repository.as_str(), "team/app");
    assert_eq!(r.tag.as_deref(), Some("v1"));
    assert_eq!(r.digest.unwrap().to_string(), DIGEST);
    let r = ImageRef::parse("localhost/app:latest").unwrap();
    assert_eq!(r.registry, "localhost");
    let r = ImageRef::parse("iad.ocir.io/ns/app").unwrap();
    assert_eq!(r.registry, "iad.ocir.io");
    assert_eq!(r.repository.as_str(), "ns/app");
    for bad in [
        "",
        "UPPER/case",
        "app@sha256:short",
        "app:",
        "a:b:c/d",
        "app:-x",
    ] {
        assert!(ImageRef::parse(bad).is_err(), "{bad}");
    }
}

fn deployment(images: &[&str], annotations: serde_json::Value) -> serde_json::Value {
    let containers: Vec<_> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
        .collect();
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {
            "metadata": {"annotations": annotations},
            "spec": {"initContainers": [{"name": "init", "image": "busybox"}], "containers": containers},
        }},
    })
}

#[test]
fn every_workload_kind_yields_its_images_with_paths() {
    let pod = json!({"spec": {"containers": [{"image": "a"}], "ephemeralContainers": [{"image": "b"}]}, "metadata": {}});
    let paths: Vec<String> = images_of("Pod", &pod).into_iter().map(|u| u.path).collect();
    assert_eq!(
        paths,
        [
            "spec.containers[0].image",
            "spec.ephemeralContainers[0].image"
        ]
    );
    let d = deployment(&["x", "y"], json!({}));
    let uses = images_of("Deployment", &d);
    assert_eq!(uses.len(), 3);
    assert_eq!(uses[0].path, "spec.template.spec.initContainers[0].image");
    for kind in [
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "ReplicationController",
    ] {
        assert_eq!(images_of(kind, &d).len(), 3, "{kind}");
    }
    let with_volume = json!({"metadata": {}, "spec": {"containers": [], "volumes": [{"name": "v", "image": {"reference": "r/x:1"}}]}});
    assert_eq!(
        images_of("Pod", &with_volume)[0].path,
        "spec.volumes[0].image.reference"
    );
    assert!(pod_spec_missing("Deployment", &json!({"spec": {}})));
    assert!(!pod_spec_missing("ConfigMap", &json!({})));
    let cron = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "z"}]}}}}}});
    let uses = images_of("CronJob", &cron);
    assert_eq!(
        uses[0].path,
        "spec.jobTemplate.spec.template.spec.containers[0].image"
    );
    assert!(images_of("ConfigMap", &d).is_empty());
    assert!(images_of("Pod", &json!({"spec": "not an object"})).is_empty());
}

#[test]
fn break_glass_is_the_pods_annotation() {
    let on = deployment(&["x"], json!({BREAK_GLASS: "true"}));
    let off = deployment(&["x"], json!({BREAK_GLASS: "false"}));
    assert!(is_break_glass("Deployment", &on));
    assert!(!is_break_glass("Deployment", &off));
    let pod = json!({"metadata": {"annotations": {BREAK_GLASS: "True"}}, "spec": {}});
    assert!(is_break_glass("Pod", &pod));
}

#[test]
fn the_plan_follows_okes_rules() {
    let signed = format!("{OURS}/team/app@{DIGEST}");
    let tagged = format!("{OURS}/team/app:v1");
    let uses = |images: &[&str]| images_of("Deployment", &deployment(images, json!({})));
    // Off: everything passes.
    let off = Policy::default();
    assert!(
        plan(&off, &uses(&[&tagged]), &ours())
            .iter()
            .all(|(_, c)| matches!(c, Check::Pass { .. }))
    );
    // On without keys: everything passes.
    assert!(
        plan(&policy(&[]), &uses(&[&tagged]), &ours())
            .iter()
            .all(|(_, c)| matches!(c, Check::Pass { .. }))
    );
    // On with keys: by digest needs verification, by tag is refused, others pass.
    let planned = plan(
        &policy(&["k"]),
        &uses(&[&signed, &tagged, &signed]),
        &ours(),
    );
    assert_eq!(
        planned.len(),
        3,
        "busybox, the digest once, the tag: {planned:?}"
    );
    assert!(matches!(planned[0].1, Check::Pass { .. }));
    assert!(
        matches!(&planned[1].1, Check::Verify { repository, .. } if repository.as_str() == "team/app")
    );
    assert!(matches!(&planned[2].1, Check::Deny { reason } if reason.contains("by digest")));
    // Other registries refused on request.
    let strict = Policy {
        deny_other_registries: true,
        ..policy(&["k"])
    };
    let planned = plan(&strict, &uses(&[&signed]), &ours());
    assert!(matches!(&planned[0].1, Check::Deny { reason } if reason.contains("docker.io")));
}

#[test]
fn decisions_respect_break_glass_and_audit() {
    let denial = vec![("img".to_owned(), "unsigned".to_owned())];
    let enforce = Decision::new(&policy(&["k"]), denial.clone(), false);
    assert!(!enforce.allowed);
    assert!(enforce.message().contains("image img: unsigned"));
    let glass = Decision::new(&policy(&["k"]), denial.clone(), true);
    assert!(glass.allowed && glass.break_glass && !glass.audited);
    let audit = Policy {
        mode: Mode::Audit,
        ..policy(&["k"])
    };
    let audited = Decision::new(&audit, denial, false);
    assert!(audited.allowed && audited.audited);
    let clean = Decision::new(&policy(&["k"]), Vec::new(), true);
    assert!(clean.allowed && !clean.break_glass);
}

#[test]
fn key_lists_are_checked() {
    let keys: Vec<String> = (0..6).map(|i| format!("k{i}")).collect();
    assert_eq!(validate_keys(&keys), Err(AdmissionError::TooManyKeys(6)));
    assert!(validate_keys(&keys[..5]).is_ok());
    assert!(matches!(
        validate_keys(&["a".into(), "a".into()]),
        Err(AdmissionError::DuplicateKey(_))
    ));
}

#[test]
fn reviews_are_read_and_answered() {
    let body = json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE", "namespace": "default", "name": "p",
            "userInfo": {"username": "admin"}, "object": {"spec": {}}, "dryRun": false,
        },
    });
    let request = review::AdmissionReview::parse(body.to_string().as_bytes()).unwrap();
    assert_eq!(request.kind.kind, "Pod");
    let refused = Decision::new(&policy(&["k"]), vec![("i".into(), "why".into())], false);
    let answer = review::response(&request.uid, &refused);
    assert_eq!(
        answer["response"]["uid"],
        "705ab4f5-6393-11e8-b7cc-42010a800002"
    );
    assert_eq!(answer["response"]["allowed"], false);
    assert_eq!(answer["response"]["status"]["code"], 403);
    assert!(review::AdmissionReview::parse(b"{}").is_err());
    let v1beta1 = json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": body["request"]});
    assert!(matches!(
        review::AdmissionReview::parse(v1beta1.to_string().as_bytes()),
        Err(review::ReviewError::Version(_))
    ));
}

proptest::proptest! {
    #[test]
    fn parsing_never_panics(text in ".{0,300}") {
        let _ = ImageRef::parse(&text);
        let _ = review::AdmissionReview::parse(text.as_bytes());
    }

    #[test]
    fn arbitrary_objects_never_panic(kind in "(Pod|Deployment|CronJob|Job|PodTemplate)", value in proptest::arbitrary::any::<u8>()) {
        let object = json!({"spec": {"template": value, "containers": [value], "jobTemplate": {"spec": value}}, "template": value, "metadata": value});
        let _ = images_of(&kind, &object);
        let _ = is_break_glass(&kind, &object);
    }
}
