//! The registry's HTTP surface: the OCI Distribution API under `/v2/`, and the token
//! endpoint (`/20180419/docker/token`, OCIR's path) that `docker login`-style clients trade
//! Basic credentials at. Names contain `/`, so `/v2/...` paths are split by hand, at the
//! last `/manifests/`, `/blobs/uploads`, `/blobs/`, `/referrers/` or `/tags/list`.
//!
//! Every response error is the spec's JSON (`{"errors": [...]}`); a request without valid
//! credentials where they are needed gets 401 with a `WWW-Authenticate: Bearer` challenge.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_distribution::listing::{page_size, referrers_index, tag_page};
use portcullis_distribution::manifest::{MAX_MANIFEST_BYTES, OCI_INDEX};
use portcullis_distribution::range::{content_range, read_range};
use portcullis_distribution::{Code, Digest, DistributionError, Reference, RepositoryName};
use portcullis_iam::Principal;
use portcullis_registry::{Access, RegistryError};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use crate::AppState;

/// The token endpoint's path
pub(crate) const TOKEN_PATH: &str = "/20180419/docker/token";

/// The registry routes
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2", any(dispatch))
        .route("/v2/", any(dispatch))
        .route("/v2/{*rest}", any(dispatch))
        .route(TOKEN_PATH, get(token))
}

/// What a `/v2/` path addresses
#[derive(Debug, Eq, PartialEq)]
enum Target {
    Base,
    Tags(String),
    Manifest(String, String),
    Uploads(String, Option<String>),
    Blob(String, String),
    Referrers(String, String),
}

fn target(path: &str) -> Option<Target> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Target::Base);
    }
    let rest = rest.strip_prefix('/')?;
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Target::Tags(name.to_owned()));
    }
    if let Some((name, session)) = rest.rsplit_once("/blobs/uploads") {
        let session = session.trim_start_matches('/');
        return Some(Target::Uploads(
            name.to_owned(),
            (!session.is_empty()).then(|| session.to_owned()),
        ));
    }
    for (marker, make) in [
        (
            "/manifests/",
            Target::Manifest as fn(String, String) -> Target,
        ),
        ("/referrers/", Target::Referrers),
        ("/blobs/", Target::Blob),
    ] {
        if let Some((name, reference)) = rest.rsplit_once(marker) {
            return Some(make(name.to_owned(), reference.to_owned()));
        }
    }
    None
}

fn host(headers: &HeaderMap, request: &Request) -> String {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".into())
}

/// Basic credentials: `<tenancy>/<user>` and an IAM auth token, as OCIR takes them; or a
/// cluster's OCID and its attach credential, so a cluster pulls as its resource principal
async fn basic_user(state: &AppState, value: &str) -> Result<Option<Principal>, RegistryError> {
    let decoded = STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(RegistryError::Unauthorized)?;
    let (username, password) = decoded.split_once(':').ok_or(RegistryError::Unauthorized)?;
    if username.starts_with("ocid1.cluster.") {
        if portcullis_containerengine::attachment::credential_cluster(password) != Some(username)
            || !state
                .containerengine
                .verify_webhook_token(username, password)
                .await?
        {
            tracing::warn!(target: "portcullis::audit", cluster = %username, reason = "wrong cluster credential", "registry login failed");
            return Err(RegistryError::Unauthorized);
        }
        return principal_for(state, username).await.map(Some);
    }
    let identity = state.registry.identity();
    let user_name = match username.split_once('/') {
        Some((tenancy, user)) if tenancy == identity.tenancy().name => user,
        _ => return Err(RegistryError::Unauthorized),
    };
    let Some(user) = identity.user_by_name(user_name).await? else {
        return Err(RegistryError::Unauthorized);
    };
    if !identity.check_auth_token(&user.id, password).await? {
        tracing::warn!(target: "portcullis::audit", user = %user.id, reason = "wrong auth token", "registry login failed");
        return Err(RegistryError::Unauthorized);
    }
    Ok(identity.user_principal(&user.id).await?)
}

/// The principal a registry token names: a user, or a cluster (resource principal)
async fn principal_for(state: &AppState, id: &str) -> Result<Principal, RegistryError> {
    if id.starts_with("ocid1.cluster.") {
        let cluster = state
            .containerengine
            .active_cluster(id)
            .await?
            .ok_or(RegistryError::Unauthorized)?;
        return Ok(portcullis_containerengine::ContainerEngine::cluster_principal(&cluster));
    }
    state
        .registry
        .identity()
        .user_principal(id)
        .await?
        .ok_or(RegistryError::Unauthorized)
}

/// The caller: a registry token, Basic credentials, a cluster's credential, or nobody
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, RegistryError> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    if let Some(token) = value.strip_prefix("Bearer ") {
        if token.starts_with(portcullis_containerengine::attachment::TOKEN_PREFIX) {
            return match crate::request::cluster_bearer(headers, state).await {
                Ok(Some(principal)) => Ok(Some(principal)),
                _ => Err(RegistryError::Unauthorized),
            };
        }
        let now = jiff::Timestamp::now().as_second();
        let claims = state
            .registry
            .tokens()
            .verify(token.trim(), now)
            .ok_or(RegistryError::Unauthorized)?;
        return match claims.sub {
            Some(id) => principal_for(state, &id).await.map(Some),
            None => Ok(None),
        };
    }
    if let Some(basic) = value.strip_prefix("Basic ") {
        return basic_user(state, basic).await;
    }
    Err(RegistryError::Unauthorized)
}

/// `GET /20180419/docker/token?service=..&scope=..`
async fn token(State(state): State<AppState>, request: Request) -> Response {
    let headers = request.headers().clone();
    let host = host(&headers, &request);
    let principal = match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        Some(basic) => match basic_user(&state, basic).await {
            Ok(principal) => principal,
            Err(error) => return crate::error::registry_error(error, &host, None),
        },
        None => None,
    };
    let now = jiff::Timestamp::now();
    let user = principal.as_ref().map(|p| p.id().to_owned());
    let token = state
        .registry
        .tokens()
        .issue(user.as_deref(), now.as_second());
    axum::Json(json!({
        "token": token,
        "access_token": token,
        "expires_in": portcullis_registry::auth::TOKEN_SECONDS,
        "issued_at": now.to_string(),
    }))
    .into_response()
}

fn query(request: &Request) -> BTreeMap<String, String> {
    form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn respond(status: StatusCode, headers: Vec<(&'static str, String)>, body: Body) -> Response {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn range_header(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let host = host(request.headers(), &request);
    let path = request.uri().path().to_owned();
    let Some(target) = target(&path) else {
        return crate::error::registry_error(
            RegistryError::Distribution(DistributionError::new(
                Code::NameUnknown,
                "no such registry endpoint",
            )),
            &host,
            None,
        );
    };
    let scope = match &target {
        Target::Base => None,
        Target::Tags(n)
        | Target::Manifest(n, _)
        | Target::Uploads(n, _)
        | Target::Blob(n, _)
        | Target::Referrers(n, _) => Some(format!(
            "repository:{n}:{}",
            if request.method() == Method::GET || request.method() == Method::HEAD {
                "pull"
            } else {
                "pull,push"
            }
        )),
    };
    match handle(&state, target, request).await {
        Ok(response) => response,
        Err(error) => crate::error::registry_error(error, &host, scope.as_deref()),
    }
}

fn name(raw: &str) -> Result<RepositoryName, RegistryError> {
    Ok(RepositoryName::parse(raw)?)
}

fn digest(raw: &str) -> Result<Digest, RegistryError> {
    Ok(Digest::parse(raw)?)
}

async fn handle(
    state: &AppState,
    target: Target,
    request: Request,
) -> Result<Response, RegistryError> {
    let registry = &state.registry;
    let who = caller(state, request.headers()).await?;
    let who_name = who
        .as_ref()
        .map(|p| p.describe())
        .unwrap_or_else(|| "anonymous".into());
    let method = request.method().clone();
    let head = method == Method::HEAD;
    match target {
        Target::Base => {
            if who.is_none() {
                return Err(RegistryError::Unauthorized);
            }
            Ok(respond(
                StatusCode::OK,
                vec![
                    ("content-type", "application/json".into()),
                    ("docker-distribution-api-version", "registry/2.0".into()),
                ],
                Body::from("{}"),
            ))
        }
        Target::Tags(raw) => {
            let name = name(&raw)?;
            registry
                .authorize(who.as_ref(), &name, Access::Pull)
                .await?;
            let q = query(&request);
            let n = page_size(q.get("n").map(String::as_str))?;
            let all = registry.tags(&name).await?;
            let page = tag_page(&all, n, q.get("last").map(String::as_str));
            let mut headers = vec![("content-type", "application/json".to_owned())];
            if let (Some(next), Some(n)) = (&page.next, n) {
                headers.push((
                    "link",
                    format!("</v2/{name}/tags/list?n={n}&last={next}>; rel=\"next\""),
                ));
            } else if let Some(next) = &page.next {
                headers.push((
                    "link",
                    format!("</v2/{name}/tags/list?last={next}>; rel=\"next\""),
                ));
            }
            Ok(respond(
                StatusCode::OK,
                headers,
                Body::from(json!({"name": name.as_str(), "tags": page.tags}).to_string()),
            ))
        }
        Target::Manifest(raw, reference) => {
            let name = name(&raw)?;
            let reference = Reference::parse(&reference)?;
            match method {
                Method::GET | Method::HEAD => {
                    registry
                        .authorize(who.as_ref(), &name, Access::Pull)
                        .await?;
                    let manifest = registry.manifest(&name, &reference).await?;
                    if !head && let Err(e) = registry.record_pull(&manifest.image_id).await {
                        // A pull is served even when its count cannot be kept.
                        tracing::warn!(error = %e, "recording a pull failed");
                    }
                    let length = manifest.bytes.len();
                    Ok(respond(
                        StatusCode::OK,
                        vec![
                            ("content-type", manifest.media_type),
                            ("docker-content-digest", manifest.digest.to_string()),
                            ("content-length", length.to_string()),
                            ("etag", format!("\"{}\"", manifest.digest)),
                        ],
                        if head {
                            Body::empty()
                        } else {
                            Body::from(manifest.bytes)
                        },
                    ))
                }
                Method::PUT => {
                    registry
                        .authorize(who.as_ref(), &name, Access::Push)
                        .await?;
                    let content_type = request
                        .headers()
                        .get(header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let bytes = axum::body::to_bytes(request.into_body(), MAX_MANIFEST_BYTES + 1)
                        .await
                        .map_err(|_| {
                            DistributionError::new(
                                Code::TooLarge,
                                format!("a manifest is at most {MAX_MANIFEST_BYTES} bytes"),
                            )
                        })?;
                    let pushed = registry
                        .put_manifest(
                            &name,
                            &reference,
                            content_type.as_deref(),
                            &bytes,
                            &who_name,
                        )
                        .await?;
                    let mut headers = vec![
                        (
                            "location",
                            format!("/v2/{name}/manifests/{}", pushed.digest),
                        ),
                        ("docker-content-digest", pushed.digest.to_string()),
                    ];
                    if let Some(subject) = pushed.subject {
                        headers.push(("oci-subject", subject));
                    }
                    tracing::info!(target: "portcullis::audit", principal = %who_name, repository = %name, digest = %pushed.digest, "manifest pushed");
                    Ok(respond(StatusCode::CREATED, headers, Body::empty()))
                }
                Method::DELETE => {
                    registry
                        .authorize(who.as_ref(), &name, Access::Delete)
                        .await?;
                    registry.delete_manifest(&name, &reference).await?;
                    tracing::info!(target: "portcullis::audit", principal = %who_name, repository = %name, "manifest or tag deleted");
                    Ok(respond(StatusCode::ACCEPTED, Vec::new(), Body::empty()))
                }
                _ => Err(DistributionError::new(Code::Unsupported, "method not allowed").into()),
            }
        }
        Target::Blob(raw, reference) => {
            let name = name(&raw)?;
            let digest = digest(&reference)?;
            match method {
                Method::GET | Method::HEAD => {
                    registry
                        .authorize(who.as_ref(), &name, Access::Pull)
                        .await?;
                    let (size, path) = registry.blob(&name, &digest).await?;
                    let mut headers = vec![
                        ("docker-content-digest", digest.to_string()),
                        ("content-type", "application/octet-stream".to_owned()),
                        ("accept-ranges", "bytes".to_owned()),
                        ("etag", format!("\"{digest}\"")),
                    ];
                    let range = request
                        .headers()
                        .get(header::RANGE)
                        .and_then(|v| v.to_str().ok());
                    let (status, start, length) = match range {
                        Some(range) => match read_range(range, size) {
                            Some(r) => {
                                headers.push((
                                    "content-range",
                                    format!("bytes {}-{}/{size}", r.start, r.end),
                                ));
                                (StatusCode::PARTIAL_CONTENT, r.start, r.len())
                            }
                            None => {
                                return Ok(respond(
                                    StatusCode::RANGE_NOT_SATISFIABLE,
                                    vec![("content-range", format!("bytes */{size}"))],
                                    Body::empty(),
                                ));
                            }
                        },
                        None => (StatusCode::OK, 0, size),
                    };
                    headers.push(("content-length", length.to_string()));
                    if head {
                        return Ok(respond(status, headers, Body::empty()));
                    }
                    let mut file = tokio::fs::File::open(path).await?;
                    if start > 0 {
                        file.seek(std::io::SeekFrom::Start(start)).await?;
                    }
                    let stream =
                        tokio_util::io::ReaderStream::with_capacity(file.take(length), 1024 * 1024);
                    Ok(respond(status, headers, Body::from_stream(stream)))
                }
                Method::DELETE => {
                    registry
                        .authorize(who.as_ref(), &name, Access::Delete)
                        .await?;
                    registry.delete_blob(&name, &digest).await?;
                    Ok(respond(StatusCode::ACCEPTED, Vec::new(), Body::empty()))
                }
                _ => Err(DistributionError::new(Code::Unsupported, "method not allowed").into()),
            }
        }
        Target::Referrers(raw, reference) => {
            let name = name(&raw)?;
            let digest = digest(&reference)?;
            registry
                .authorize(who.as_ref(), &name, Access::Pull)
                .await?;
            let q = query(&request);
            let filter = q.get("artifactType").map(String::as_str);
            let (index, applied) =
                referrers_index(&registry.referrers(&name, &digest).await?, filter);
            let mut headers = vec![("content-type", OCI_INDEX.to_owned())];
            if applied {
                headers.push(("oci-filters-applied", "artifactType".to_owned()));
            }
            Ok(respond(
                StatusCode::OK,
                headers,
                Body::from(index.to_string()),
            ))
        }
        Target::Uploads(raw, session) => {
            let name = name(&raw)?;
            registry
                .authorize(who.as_ref(), &name, Access::Push)
                .await?;
            let q = query(&request);
            let upload_location = |id: &str| format!("/v2/{name}/blobs/uploads/{id}");
            match (method, session) {
                (Method::POST, None) => {
                    if let Some(mount) = q.get("mount") {
                        let mount = digest(mount)?;
                        let from = q
                            .get("from")
                            .map(|f| RepositoryName::parse(f))
                            .transpose()?;
                        if registry
                            .mount(who.as_ref(), &name, &mount, from.as_ref(), &who_name)
                            .await?
                        {
                            return Ok(respond(
                                StatusCode::CREATED,
                                vec![
                                    ("location", format!("/v2/{name}/blobs/{mount}")),
                                    ("docker-content-digest", mount.to_string()),
                                ],
                                Body::empty(),
                            ));
                        }
                    }
                    let id = registry.start_upload(&name).await?;
                    if let Some(claimed) = q.get("digest") {
                        let claimed = digest(claimed)?;
                        let body = request.into_body().into_data_stream();
                        registry
                            .finish_upload(&name, &id, &claimed, body, &who_name)
                            .await?;
                        return Ok(respond(
                            StatusCode::CREATED,
                            vec![
                                ("location", format!("/v2/{name}/blobs/{claimed}")),
                                ("docker-content-digest", claimed.to_string()),
                            ],
                            Body::empty(),
                        ));
                    }
                    Ok(respond(
                        StatusCode::ACCEPTED,
                        vec![
                            ("location", upload_location(&id)),
                            ("docker-upload-uuid", id.clone()),
                            ("range", "0-0".into()),
                        ],
                        Body::empty(),
                    ))
                }
                (Method::PATCH, Some(id)) => {
                    let range = request
                        .headers()
                        .get(header::CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .map(content_range)
                        .transpose()?;
                    let body = request.into_body().into_data_stream();
                    let size = registry.append(&name, &id, range, body).await?;
                    Ok(respond(
                        StatusCode::ACCEPTED,
                        vec![
                            ("location", upload_location(&id)),
                            ("range", range_header(size)),
                            ("docker-upload-uuid", id),
                        ],
                        Body::empty(),
                    ))
                }
                (Method::PUT, Some(id)) => {
                    let claimed = q.get("digest").ok_or_else(|| {
                        DistributionError::new(
                            Code::DigestInvalid,
                            "the closing PUT needs ?digest=",
                        )
                    })?;
                    let claimed = digest(claimed)?;
                    if let Some(range) = request
                        .headers()
                        .get(header::CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .map(content_range)
                        .transpose()?
                    {
                        let offset = registry.upload_offset(&name, &id).await?;
                        if range.start != offset {
                            return Err(DistributionError::new(
                                Code::RangeInvalid,
                                format!(
                                    "the chunk starts at {}, but the upload holds {offset} bytes",
                                    range.start
                                ),
                            )
                            .into());
                        }
                    }
                    let body = request.into_body().into_data_stream();
                    registry
                        .finish_upload(&name, &id, &claimed, body, &who_name)
                        .await?;
                    Ok(respond(
                        StatusCode::CREATED,
                        vec![
                            ("location", format!("/v2/{name}/blobs/{claimed}")),
                            ("docker-content-digest", claimed.to_string()),
                        ],
                        Body::empty(),
                    ))
                }
                (Method::GET, Some(id)) => {
                    let size = registry.upload_offset(&name, &id).await?;
                    Ok(respond(
                        StatusCode::NO_CONTENT,
                        vec![
                            ("location", upload_location(&id)),
                            ("range", range_header(size)),
                            ("docker-upload-uuid", id),
                        ],
                        Body::empty(),
                    ))
                }
                (Method::DELETE, Some(id)) => {
                    registry.cancel_upload(&name, &id).await?;
                    Ok(respond(StatusCode::NO_CONTENT, Vec::new(), Body::empty()))
                }
                _ => Err(DistributionError::new(Code::Unsupported, "method not allowed").into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_at_the_last_marker() {
        assert_eq!(target("/v2/"), Some(Target::Base));
        assert_eq!(
            target("/v2/a/b/tags/list"),
            Some(Target::Tags("a/b".into()))
        );
        assert_eq!(
            target("/v2/a/manifests/b/manifests/latest"),
            Some(Target::Manifest("a/manifests/b".into(), "latest".into()))
        );
        assert_eq!(
            target("/v2/x/blobs/uploads/"),
            Some(Target::Uploads("x".into(), None))
        );
        assert_eq!(
            target("/v2/x/blobs/uploads/abc"),
            Some(Target::Uploads("x".into(), Some("abc".into())))
        );
        assert_eq!(
            target("/v2/x/y/blobs/sha256:aa"),
            Some(Target::Blob("x/y".into(), "sha256:aa".into()))
        );
        assert_eq!(
            target("/v2/x/referrers/sha256:aa"),
            Some(Target::Referrers("x".into(), "sha256:aa".into()))
        );
        assert_eq!(target("/v2/x/other"), None);
    }
}
