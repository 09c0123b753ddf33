//! Each cluster's Kubernetes API, under `/clusters/<cluster-id>/...`.
//!
//! A request is authenticated (an OKE user token or a service-account token), authorized
//! (IAM first: `manage clusters` may do anything; otherwise RBAC), decoded (JSON or
//! Kubernetes protobuf; merge, JSON and strategic patches) and served from the object store.
//! Errors are `Status` objects with kubectl's reasons and messages.

use std::collections::BTreeMap;
use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use portcullis_containerengine::model::Cluster;
use portcullis_iam::Principal;
use portcullis_kube::request_info::{self, RequestInfo, ResourcePath, Target};
use portcullis_kube::resources::{self, ResourceType};
use portcullis_kube::selector::{FieldSelector, LabelSelector};
use portcullis_kube::{KubeError, KubeUser, ListOptions, discovery, patch, protobuf, tokens};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::kube_error;
use crate::kube_authz;

/// Kubernetes request bodies larger than this are refused (kube-apiserver's limit is 3 MiB)
pub(crate) const MAX_KUBE_BODY: usize = 3 * 1024 * 1024;

fn json_response(status: StatusCode, value: &Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// Authenticates a bearer token for `cluster`: an OKE user token, or a service-account
/// token; the error is a reason for the audit log
pub(crate) async fn authenticate(
    state: &AppState,
    cluster: &Cluster,
    token: &str,
) -> Result<KubeUser, String> {
    if portcullis_containerengine::token::decode_token(token).is_ok() {
        let principal = state
            .containerengine
            .authenticate_user_token(cluster, token)
            .await
            .map_err(|e| e.to_string())?;
        let Principal::User(user) = &principal else {
            return Err("not a user principal".into());
        };
        let mut groups = user.group_ids.clone();
        groups.push("system:authenticated".to_owned());
        return Ok(KubeUser {
            username: user.id.clone(),
            uid: user.id.clone(),
            groups,
            extra: Default::default(),
            principal: Some(principal),
        });
    }
    if tokens::looks_like_jwt(token) {
        let issuer = state.containerengine.server_url(&cluster.id);
        return state
            .kube
            .authenticate_account_token(&cluster.id, token, &issuer, std::slice::from_ref(&issuer))
            .await
            .map_err(|_| "invalid service-account token".to_owned());
    }
    Err("the bearer token is neither an OKE cluster token nor a service-account token".into())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn parse_query(query: Option<&str>) -> BTreeMap<String, String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// The cluster endpoint
pub(crate) async fn handle(
    State(state): State<AppState>,
    Path((cluster_id, rest)): Path<(String, String)>,
    request: Request,
) -> Response {
    // Warnings raised deep in the request (admission) go out as `Warning` headers.
    let (served, warnings) =
        portcullis_kube::warnings::collect(serve(&state, &cluster_id, &rest, request)).await;
    match served {
        Ok(response) => with_warnings(response, &warnings),
        Err(error) => kube_error(&error),
    }
}

async fn serve(
    state: &AppState,
    cluster_id: &str,
    rest: &str,
    request: Request,
) -> Result<Response, KubeError> {
    let cluster = state
        .containerengine
        .active_cluster(cluster_id)
        .await
        .map_err(|e| KubeError::Unavailable(e.to_string()))?
        .ok_or_else(|| KubeError::NotFound {
            qualified: "clusters".into(),
            name: cluster_id.to_owned(),
        })?;
    state.kube.bootstrap(&cluster.id).await?;
    let (parts, body) = request.into_parts();
    let Some(token) = bearer(&parts.headers) else {
        tracing::warn!(target: "portcullis::audit", cluster = %cluster.id, reason = "no bearer token", "kubernetes request unauthenticated");
        return Err(KubeError::Unauthorized);
    };
    let user = match authenticate(state, &cluster, token).await {
        Ok(user) => user,
        Err(reason) => {
            tracing::warn!(target: "portcullis::audit", cluster = %cluster.id, reason = %reason, "kubernetes request unauthenticated");
            return Err(KubeError::Unauthorized);
        }
    };
    let query = parse_query(parts.uri.query());
    let path = format!("/{rest}");
    let info = request_info::parse(parts.method.as_str(), &path, &query)
        .map_err(|e| KubeError::BadRequest(e.to_string()))?;
    let user = kube_authz::impersonate(state, &cluster, user, &parts.headers).await?;
    let attrs = kube_authz::attributes(&user, &info);
    match kube_authz::decide(state, &cluster, user.principal.as_ref(), &attrs).await? {
        Ok(reason) => {
            tracing::debug!(target: "portcullis::audit", cluster = %cluster.id, user = %user.username, verb = %info.verb, reason = %reason, "kubernetes request allowed");
        }
        Err(rbac_reason) => {
            tracing::warn!(target: "portcullis::audit", cluster = %cluster.id, user = %user.username, verb = %info.verb, path = %path, reason = "no IAM policy or RBAC rule allows it", rbac = %rbac_reason, "kubernetes request denied");
            return Err(kube_authz::forbidden(
                &user.username,
                &info.verb,
                &attrs.target,
            ));
        }
    }
    let body = axum::body::to_bytes(body, MAX_KUBE_BODY)
        .await
        .map_err(|_| KubeError::TooLarge(MAX_KUBE_BODY))?;
    let context = Context {
        state,
        cluster: &cluster,
        user: &user,
        query: &query,
        headers: &parts.headers,
        method: &parts.method,
        body,
    };
    match &info.target {
        Target::NonResource(path) => non_resource(&context, path),
        Target::Resource(resource) => resource_request(&context, &info, resource).await,
    }
}

struct Context<'a> {
    state: &'a AppState,
    cluster: &'a Cluster,
    user: &'a KubeUser,
    query: &'a BTreeMap<String, String>,
    headers: &'a HeaderMap,
    method: &'a Method,
    body: Bytes,
}

fn non_resource(context: &Context<'_>, path: &str) -> Result<Response, KubeError> {
    let ok = |value: Value| Ok(json_response(StatusCode::OK, &value));
    let trimmed = path.trim_end_matches('/');
    match trimmed {
        "/version" => ok(discovery::version(&context.cluster.kubernetes_version)),
        "/api" => ok(discovery::api_versions(
            &context.cluster.endpoints.kubernetes,
        )),
        "/apis" => ok(discovery::api_groups()),
        "/healthz" | "/livez" | "/readyz" => Ok((StatusCode::OK, "ok").into_response()),
        "/openapi/v3" => ok(discovery::openapi_v3_index()),
        _ => {
            if let Some(doc) = trimmed
                .strip_prefix("/openapi/v3/")
                .and_then(discovery::openapi_v3_document)
            {
                return ok(doc);
            }
            if let Some(list) = trimmed
                .strip_prefix("/api/")
                .and_then(|v| discovery::resource_list("", v))
            {
                return ok(list);
            }
            if let Some(rest) = trimmed.strip_prefix("/apis/") {
                let mut parts = rest.split('/');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(group), None, None) => {
                        if let Some(doc) = discovery::api_group(group) {
                            return ok(doc);
                        }
                    }
                    (Some(group), Some(version), None) => {
                        if let Some(list) = discovery::resource_list(group, version) {
                            return ok(list);
                        }
                    }
                    _ => {}
                }
            }
            Err(KubeError::NoSuchPath)
        }
    }
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// Decodes an object body: JSON, or Kubernetes protobuf
fn decode_object(context: &Context<'_>) -> Result<Value, KubeError> {
    if context.body.is_empty() {
        return Err(KubeError::BadRequest("the request body is empty".into()));
    }
    match content_type(context.headers).as_str() {
        "application/vnd.kubernetes.protobuf" => protobuf::decode_body(&context.body),
        "" | "application/json" | "*/*" => {
            let value: Value = serde_json::from_slice(&context.body).map_err(|e| {
                KubeError::BadRequest(format!("the request body is not valid JSON: {e}"))
            })?;
            if !value.is_object() {
                return Err(KubeError::BadRequest(
                    "the request body must be a JSON object".into(),
                ));
            }
            Ok(value)
        }
        "application/yaml" => {
            let text = std::str::from_utf8(&context.body)
                .map_err(|_| KubeError::BadRequest("the YAML body is not UTF-8".into()))?;
            let value: Value = serde_saphyr::from_str(text).map_err(|e| {
                KubeError::BadRequest(format!("the request body is not valid YAML: {e}"))
            })?;
            if !value.is_object() {
                return Err(KubeError::BadRequest(
                    "the request body must be a YAML mapping".into(),
                ));
            }
            Ok(value)
        }
        other => Err(KubeError::UnsupportedMediaType(format!(
            "application/json, application/yaml, application/vnd.kubernetes.protobuf (not {other:?})"
        ))),
    }
}

/// `fieldValidation`: `Strict` refuses unknown fields, `Warn` reports them, `Ignore` drops
/// nothing; returns the warnings to send
fn check_fields(
    context: &Context<'_>,
    resource: &ResourceType,
    object: &Value,
) -> Result<Vec<String>, KubeError> {
    let mode = context
        .query
        .get("fieldValidation")
        .map(String::as_str)
        .unwrap_or("Warn");
    if !["Strict", "Warn", "Ignore"].contains(&mode) {
        return Err(KubeError::BadRequest(format!(
            "fieldValidation must be one of Ignore, Warn or Strict, not {mode:?}"
        )));
    }
    let unknown = portcullis_kube::schema::unknown_fields(resource.kind, object);
    if unknown.is_empty() || mode == "Ignore" {
        return Ok(Vec::new());
    }
    let listed: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    if mode == "Strict" {
        return Err(KubeError::BadRequest(format!(
            "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
            resource.kind,
            resource.api_version(),
            resource.kind,
            listed.join(", ")
        )));
    }
    Ok(listed)
}

fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for warning in warnings {
        // A header value is visible ASCII: anything else (a UTF-8 image name) becomes `?`.
        let text: String = warning
            .chars()
            .map(|c| {
                if c == ' ' || c.is_ascii_graphic() {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        if let Ok(value) = HeaderValue::from_str(&format!(
            "299 - \"{}\"",
            text.replace('\\', "\\\\").replace('"', "\\\"")
        )) {
            response.headers_mut().append("warning", value);
        }
    }
    response
}

fn list_options(context: &Context<'_>, resource: &ResourceType) -> Result<ListOptions, KubeError> {
    let extra: &[&str] = match resource.kind {
        "Secret" => &["type"],
        "Pod" => &["spec.nodeName", "status.phase"],
        _ => &[],
    };
    Ok(ListOptions {
        labels: LabelSelector::parse(
            context
                .query
                .get("labelSelector")
                .map_or("", String::as_str),
        )?,
        fields: FieldSelector::parse(
            context
                .query
                .get("fieldSelector")
                .map_or("", String::as_str),
            extra,
        )?,
    })
}

fn check_namespace_name(name: &str) -> Result<(), KubeError> {
    if portcullis_kube::objects::is_dns_label(name) {
        Ok(())
    } else {
        Err(KubeError::BadRequest(format!("invalid namespace {name:?}")))
    }
}

async fn resource_request(
    context: &Context<'_>,
    info: &RequestInfo,
    path: &ResourcePath,
) -> Result<Response, KubeError> {
    let Some(resource) = resources::find(&path.group, &path.version, &path.resource) else {
        return Err(KubeError::NoSuchPath);
    };
    if let Some(ns) = &path.namespace {
        check_namespace_name(ns)?;
        if !resource.namespaced {
            return Err(KubeError::NotFound {
                qualified: "the server could not find the requested resource".into(),
                name: String::new(),
            });
        }
    }
    if context.query.get("dryRun").is_some_and(|d| !d.is_empty()) {
        return Err(KubeError::BadRequest(
            "dryRun is not supported by this server".into(),
        ));
    }
    let cluster = &context.cluster.id;
    let namespace = if resource.namespaced {
        path.namespace.as_deref()
    } else {
        None
    };
    let kube = &context.state.kube;
    if !resource.stored {
        return review(context, resource, namespace).await;
    }
    if let Some(sub) = &path.subresource {
        return match (resource.resource, sub.as_str(), context.method) {
            ("serviceaccounts", "token", &Method::POST) => {
                let name = path.name.as_deref().unwrap_or("");
                let request = decode_object(context)?;
                let issuer = context.state.containerengine.server_url(cluster);
                let response = kube
                    .request_token(
                        cluster,
                        namespace.unwrap_or("default"),
                        name,
                        &request,
                        &issuer,
                    )
                    .await?;
                Ok(json_response(StatusCode::CREATED, &response))
            }
            _ => Err(KubeError::NoSuchPath),
        };
    }
    let name = path.name.as_deref();
    match (info.verb.as_str(), name) {
        ("get", Some(name)) => {
            let object = kube.get(cluster, resource, namespace, name).await?;
            Ok(json_response(StatusCode::OK, &object))
        }
        ("list", _) => {
            let options = list_options(context, resource)?;
            let (items, revision) = kube.list(cluster, resource, namespace, &options).await?;
            Ok(json_response(
                StatusCode::OK,
                &json!({
                    "kind": format!("{}List", resource.kind),
                    "apiVersion": resource.api_version(),
                    "metadata": {"resourceVersion": revision.to_string()},
                    "items": items,
                }),
            ))
        }
        ("watch", _) => watch(context, resource, namespace).await,
        ("create", None) => {
            let object = decode_object(context)?;
            let warnings = check_fields(context, resource, &object)?;
            confirm_rbac_write(context, resource, namespace, "", &object, None).await?;
            let issuer = context.state.containerengine.server_url(cluster);
            let created = kube
                .create(
                    cluster,
                    resource,
                    namespace,
                    object,
                    &issuer,
                    context.state.containerengine.ca_pem(),
                )
                .await?;
            Ok(with_warnings(
                json_response(StatusCode::CREATED, &created),
                &warnings,
            ))
        }
        ("update", Some(name)) => {
            let object = decode_object(context)?;
            let warnings = check_fields(context, resource, &object)?;
            if resource.group == portcullis_rbac::RBAC_GROUP {
                let current = kube.get(cluster, resource, namespace, name).await?;
                confirm_rbac_write(context, resource, namespace, name, &object, Some(&current))
                    .await?;
            }
            let updated = kube
                .update(cluster, resource, namespace, name, object)
                .await?;
            Ok(with_warnings(
                json_response(StatusCode::OK, &updated),
                &warnings,
            ))
        }
        ("patch", Some(name)) => {
            type Apply = fn(&Value, &Value) -> Result<Value, patch::PatchError>;
            let apply: Apply = match content_type(context.headers).as_str() {
                "application/strategic-merge-patch+json" => patch::strategic_merge_patch,
                "application/merge-patch+json" => patch::merge_patch,
                "application/json-patch+json" => patch::json_patch,
                other => {
                    return Err(KubeError::UnsupportedMediaType(format!(
                        "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (not {other:?})"
                    )));
                }
            };
            let patch_body: Value = serde_json::from_slice(&context.body)
                .map_err(|e| KubeError::BadRequest(format!("the patch is not valid JSON: {e}")))?;
            let current = kube.get(cluster, resource, namespace, name).await?;
            let patched = apply(&current, &patch_body).map_err(|e| match e {
                patch::PatchError::DoesNotApply(m) => {
                    KubeError::invalid(resource, name, "patch", "FieldValueInvalid", m)
                }
                other => KubeError::BadRequest(other.to_string()),
            })?;
            let warnings = check_fields(context, resource, &patched)?;
            confirm_rbac_write(context, resource, namespace, name, &patched, Some(&current))
                .await?;
            // A patch applies to what was read: keep its resourceVersion unless the patch set
            // one, so a concurrent write makes this a conflict rather than a lost update.
            let updated = kube
                .update(cluster, resource, namespace, name, patched)
                .await?;
            Ok(with_warnings(
                json_response(StatusCode::OK, &updated),
                &warnings,
            ))
        }
        ("delete", Some(name)) => {
            let options: Value = if context.body.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&context.body).map_err(|e| {
                    KubeError::BadRequest(format!("the DeleteOptions are not valid JSON: {e}"))
                })?
            };
            let uid = options
                .pointer("/preconditions/uid")
                .and_then(Value::as_str);
            let deleted = kube.delete(cluster, resource, namespace, name, uid).await?;
            Ok(json_response(StatusCode::OK, &deleted))
        }
        ("deletecollection", None) => {
            let options = list_options(context, resource)?;
            let deleted = kube
                .delete_collection(cluster, resource, namespace, &options)
                .await?;
            Ok(json_response(
                StatusCode::OK,
                &json!({
                    "kind": format!("{}List", resource.kind),
                    "apiVersion": resource.api_version(),
                    "metadata": {},
                    "items": deleted,
                }),
            ))
        }
        (verb, _) => Err(KubeError::MethodNotAllowed(format!(
            "the server does not allow this method on the requested resource ({verb})"
        ))),
    }
}

/// Escalation prevention for writes of RBAC objects; other kinds pass
async fn confirm_rbac_write(
    context: &Context<'_>,
    resource: &ResourceType,
    namespace: Option<&str>,
    request_name: &str,
    object: &Value,
    previous: Option<&Value>,
) -> Result<(), KubeError> {
    if resource.group != portcullis_rbac::RBAC_GROUP {
        return Ok(());
    }
    kube_authz::confirm_rbac_write(
        context.state,
        context.cluster,
        context.user,
        resource.kind,
        namespace,
        request_name,
        object,
        previous,
    )
    .await
}

/// Create-only review kinds: answered, not stored
async fn review(
    context: &Context<'_>,
    resource: &ResourceType,
    namespace: Option<&str>,
) -> Result<Response, KubeError> {
    if context.method != Method::POST {
        return Err(KubeError::MethodNotAllowed(
            "the server does not allow this method on the requested resource".into(),
        ));
    }
    let request = decode_object(context)?;
    let user = context.user;
    let mut response = request.clone();
    let status = match resource.kind {
        "SelfSubjectReview" => {
            json!({"userInfo": {"username": user.username, "uid": user.uid, "groups": user.groups}})
        }
        "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let local =
                (resource.kind == "LocalSubjectAccessReview").then(|| namespace.unwrap_or(""));
            kube_authz::access_review(
                context.state,
                context.cluster,
                user,
                resource.kind,
                local,
                &request,
            )
            .await?
        }
        "SelfSubjectRulesReview" => {
            kube_authz::rules_review(context.state, context.cluster, user, &request).await?
        }
        other => {
            return Err(KubeError::MethodNotAllowed(format!(
                "{other} is not served by this cluster endpoint yet"
            )));
        }
    };
    if let Some(map) = response.as_object_mut() {
        map.insert("status".into(), status);
        map.entry("metadata").or_insert_with(|| json!({}));
    }
    Ok(json_response(StatusCode::CREATED, &response))
}

/// `?watch=true`: newline-delimited JSON events from the store's change feed
async fn watch(
    context: &Context<'_>,
    resource: &ResourceType,
    namespace: Option<&str>,
) -> Result<Response, KubeError> {
    let options = list_options(context, resource)?;
    let kube = context.state.kube.clone();
    let cluster = context.cluster.id.clone();
    let since = context
        .query
        .get("resourceVersion")
        .filter(|v| !v.is_empty() && *v != "0")
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| KubeError::BadRequest(format!("invalid resourceVersion {v:?}")))
        })
        .transpose()?;
    let prefix = portcullis_kube::service::object_prefix(&cluster, resource, namespace);
    let mut initial = Vec::new();
    let after = match since {
        Some(revision) => revision,
        None => {
            let (items, revision) = kube.list(&cluster, resource, namespace, &options).await?;
            initial = items
                .into_iter()
                .map(|object| json!({"type": "ADDED", "object": object}))
                .collect();
            revision
        }
    };
    let feed = kube.store().watch(&prefix, Some(after)).await?;
    let timeout = context
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800)
        .min(3600);
    let (api_version, kind) = (resource.api_version(), resource.kind.to_owned());
    let events = feed.filter_map(move |event| {
        let options = options.clone();
        let (api_version, kind_name) = (api_version.clone(), kind.clone());
        let (kube, cluster) = (kube.clone(), cluster.clone());
        async move {
            match event {
                Ok(portcullis_store::Event::Put(entry)) => {
                    let object = match kube.decode_entry(&cluster, &entry).await {
                        Ok(object) => object,
                        Err(e) => return Some(json!({"type": "ERROR", "object": e.to_status()})),
                    };
                    if !(options.labels.matches(&object) && options.fields.matches(&object)) {
                        return None;
                    }
                    let kind = if entry.create_revision == entry.mod_revision { "ADDED" } else { "MODIFIED" };
                    Some(json!({"type": kind, "object": object}))
                }
                Ok(portcullis_store::Event::Delete { key, revision }) => {
                    // The key ends `<namespace>/<name>` (`~` for cluster-scoped objects).
                    let mut segments = key.rsplit('/');
                    let name = segments.next().unwrap_or("").to_owned();
                    let mut metadata = json!({"name": name, "resourceVersion": revision.to_string()});
                    if let (Some(ns), Some(map)) = (segments.next().filter(|n| *n != "~"), metadata.as_object_mut()) {
                        map.insert("namespace".into(), Value::String(ns.to_owned()));
                    }
                    Some(json!({"type": "DELETED", "object": {"apiVersion": api_version, "kind": kind_name, "metadata": metadata}}))
                }
                Err(e) => Some(json!({"type": "ERROR", "object": KubeError::from(e).to_status()})),
            }
        }
    });
    let stream = futures::stream::iter(initial)
        .chain(events)
        .map(|event| Ok::<_, Infallible>(Bytes::from(format!("{event}\n"))))
        .take_until(tokio::time::sleep(std::time::Duration::from_secs(timeout)));
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}
