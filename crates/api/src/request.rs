//! Authenticated requests: the body is read (at most 1 MiB), the OCI signature is verified
//! over it, and the caller's principal is resolved before any handler runs.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_auth::{HeaderSource, SignatureError, SignedRequest, prepare_verification};
use portcullis_iam::Principal;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;

/// Request bodies larger than this are refused
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A request whose OCI signature verified, with its caller and body
#[derive(Debug)]
pub struct Signed {
    /// Who signed it
    pub principal: Principal,
    body: Bytes,
    query: BTreeMap<String, String>,
    headers: HeaderMap,
}

struct Headers<'a> {
    map: &'a HeaderMap,
    authority: Option<&'a str>,
}

impl HeaderSource for Headers<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        match self.map.get(name).and_then(|v| v.to_str().ok()) {
            Some(v) => Some(v),
            // HTTP/2 carries the host in the `:authority` pseudo-header.
            None if name == "host" => self.authority,
            None => None,
        }
    }
}

fn parse_query(query: Option<&str>) -> BTreeMap<String, String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// A cluster calling as its own resource principal, with the credential `ce cluster attach`
/// issued (`Authorization: Bearer pcw1.<cluster>.<secret>`): how the KMS plugin and the CSI
/// provider of an attached cluster reach the vault. `None` when the request does not carry
/// one, so OCI request signing applies.
pub(crate) async fn cluster_bearer(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Option<portcullis_iam::Principal>, ApiError> {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return Ok(None);
    };
    let Some(cluster_id) = portcullis_containerengine::attachment::credential_cluster(token) else {
        return Ok(None);
    };
    let refused = || {
        tracing::warn!(target: "portcullis::audit", cluster = %cluster_id, reason = "unknown or replaced cluster credential", "authentication failed");
        ApiError::from(SignatureError::Invalid)
    };
    if !state
        .containerengine
        .verify_webhook_token(cluster_id, token)
        .await?
    {
        return Err(refused());
    }
    let cluster = state
        .containerengine
        .active_cluster(cluster_id)
        .await?
        .ok_or_else(refused)?;
    Ok(Some(
        portcullis_containerengine::ContainerEngine::cluster_principal(&cluster),
    ))
}

impl FromRequest<AppState> for Signed {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::BodyTooLarge(MAX_BODY_BYTES))?;
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        if let Some(principal) = cluster_bearer(&parts.headers, state).await? {
            return Ok(Signed {
                principal,
                query: parse_query(parts.uri.query()),
                headers: parts.headers,
                body,
            });
        }
        let (header, key_id, signing_string) = {
            let headers = Headers {
                map: &parts.headers,
                authority: parts.uri.authority().map(|a| a.as_str()),
            };
            let signed = SignedRequest {
                method: parts.method.as_str(),
                path_and_query: &path_and_query,
                headers: &headers,
                body: &body,
            };
            prepare_verification(&signed, jiff::Timestamp::now())?
        };
        let Some(key) = state.identity.api_key(&key_id).await? else {
            tracing::warn!(target: "portcullis::audit", key_id = %key_id, reason = "unknown API key", "authentication failed");
            return Err(SignatureError::UnknownKey.into());
        };
        if !key.verify(signing_string.as_bytes(), &header.signature) {
            tracing::warn!(target: "portcullis::audit", key_id = %key_id, reason = "signature mismatch", "authentication failed");
            return Err(SignatureError::Invalid.into());
        }
        let Some(principal) = state.identity.user_principal(&key_id.user).await? else {
            tracing::warn!(target: "portcullis::audit", key_id = %key_id, reason = "user inactive or deleted", "authentication failed");
            return Err(SignatureError::UnknownKey.into());
        };
        Ok(Signed {
            principal,
            query: parse_query(parts.uri.query()),
            headers: parts.headers,
            body,
        })
    }
}

impl Signed {
    /// Parses the body as JSON into `T`; unknown fields and malformed JSON are 400s
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.is_empty() {
            return Err(ApiError::CannotParseRequest(
                "the request body is empty; a JSON object is required".into(),
            ));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&self.body);
        let value = T::deserialize(&mut deserializer).map_err(|e| {
            if e.is_data() {
                ApiError::InvalidParameter(format!("the request body is invalid: {e}"))
            } else {
                ApiError::CannotParseRequest(format!("the request body is not valid JSON: {e}"))
            }
        })?;
        deserializer.end().map_err(|e| {
            ApiError::CannotParseRequest(format!("trailing data after the JSON body: {e}"))
        })?;
        Ok(value)
    }

    /// Whether the request carried a body
    pub fn has_body(&self) -> bool {
        !self.body.is_empty()
    }

    /// A query parameter
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// A required query parameter
    pub fn required_query(&self, name: &str) -> Result<&str, ApiError> {
        self.query(name).ok_or_else(|| {
            ApiError::Identity(portcullis_identity::IdentityError::MissingParameter(
                format!("the `{name}` query parameter is required"),
            ))
        })
    }

    /// A boolean query parameter (`true`/`false`)
    pub fn bool_query(&self, name: &str) -> Result<bool, ApiError> {
        match self.query(name) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(ApiError::InvalidParameter(format!(
                "`{name}` must be true or false"
            ))),
        }
    }

    /// The `if-match` header
    pub fn if_match(&self) -> Option<&str> {
        self.headers
            .get(header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
    }
}

/// A JSON response with OCI's headers
#[derive(Debug)]
pub struct OciResponse {
    status: StatusCode,
    body: Option<Vec<u8>>,
    headers: Vec<(&'static str, String)>,
}

impl OciResponse {
    /// 200 with a JSON body
    pub fn ok<T: Serialize>(value: &T) -> Result<Self, ApiError> {
        let body = serde_json::to_vec(value).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(OciResponse {
            status: StatusCode::OK,
            body: Some(body),
            headers: Vec::new(),
        })
    }

    /// 200 with a non-JSON body (`application/x-yaml` kubeconfigs)
    pub fn text(content_type: &'static str, body: String) -> Self {
        OciResponse {
            status: StatusCode::OK,
            body: Some(body.into_bytes()),
            headers: vec![("content-type", content_type.to_owned())],
        }
    }

    /// A bodiless response (204 for deletes)
    pub fn empty(status: StatusCode) -> Self {
        OciResponse {
            status,
            body: None,
            headers: Vec::new(),
        }
    }

    /// Adds a header
    #[must_use]
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Adds `etag`
    #[must_use]
    pub fn etag(self, etag: &str) -> Self {
        self.header("etag", etag)
    }

    /// Adds `opc-next-page` when there is one
    #[must_use]
    pub fn next_page(self, page: Option<String>) -> Self {
        match page {
            Some(p) => self.header("opc-next-page", p),
            None => self,
        }
    }
}

impl IntoResponse for OciResponse {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(body) => (
                self.status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            None => self.status.into_response(),
        };
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}
