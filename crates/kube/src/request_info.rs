//! What a request is about: kube-apiserver's URL grammar and verb mapping.

use std::collections::BTreeMap;

/// A request's target and verb, as authorization sees it
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RequestInfo {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, or
    /// the lowercase HTTP method for non-resource requests
    pub verb: String,
    /// What it is about
    pub target: Target,
}

/// A resource or a non-resource path
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Target {
    /// `/api/v1/...` or `/apis/<group>/<version>/...`
    Resource(ResourcePath),
    /// Anything else (`/version`, `/api`, `/openapi/v3`, ...)
    NonResource(String),
}

/// The parts of a resource URL
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct ResourcePath {
    /// API group (`""` for core)
    pub group: String,
    /// Version
    pub version: String,
    /// Namespace, for namespaced URLs
    pub namespace: Option<String>,
    /// Plural resource name
    pub resource: String,
    /// Object name
    pub name: Option<String>,
    /// Subresource (`status`, `token`, ...)
    pub subresource: Option<String>,
}

/// Why a URL is not acceptable
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PathError(pub String);

/// Checks a path segment as kube-apiserver does: not `.`/`..`, no `/` or `%`
pub fn check_segment(segment: &str) -> Result<(), PathError> {
    if segment.is_empty() || segment == "." || segment == ".." {
        return Err(PathError(format!("invalid path segment {segment:?}")));
    }
    if let Some(c) = segment.chars().find(|c| matches!(c, '/' | '%' | '\0')) {
        return Err(PathError(format!(
            "path segment {segment:?} may not contain {c:?}"
        )));
    }
    Ok(())
}

/// Parses `path` (without the `/clusters/<id>` prefix) for `method`
pub fn parse(
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
) -> Result<RequestInfo, PathError> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segments.as_slice() {
        ["api", version, rest @ ..] if !rest.is_empty() => ("", version, rest),
        ["apis", group, version, rest @ ..] if !rest.is_empty() => (group, version, rest),
        _ => {
            return Ok(RequestInfo {
                verb: method.to_ascii_lowercase(),
                target: Target::NonResource(format!("/{}", path.trim_start_matches('/'))),
            });
        }
    };
    for segment in rest {
        check_segment(segment)?;
    }
    let (namespace, rest): (Option<&str>, &[&str]) = match rest {
        ["namespaces", ns, more @ ..] if !more.is_empty() => (Some(ns), more),
        _ => (None, rest),
    };
    let (resource, name, subresource) = match rest {
        [resource] => (*resource, None, None),
        [resource, name] => (*resource, Some(*name), None),
        [resource, name, sub] => (*resource, Some(*name), Some(*sub)),
        _ => return Err(PathError(format!("unsupported path {path:?}"))),
    };
    let watching = query.get("watch").is_some_and(|w| w == "true" || w == "1");
    let verb = match (method, name.is_some()) {
        ("POST", _) => "create",
        ("GET" | "HEAD", false) if watching => "watch",
        ("GET" | "HEAD", false) => "list",
        ("GET" | "HEAD", true) if watching => "watch",
        ("GET" | "HEAD", true) => "get",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", false) => "deletecollection",
        ("DELETE", true) => "delete",
        (other, _) => return Err(PathError(format!("unsupported method {other}"))),
    };
    let mut resource_path = ResourcePath {
        group: group.to_owned(),
        version: version.to_owned(),
        namespace: namespace.map(str::to_owned),
        resource: resource.to_owned(),
        name: name.map(str::to_owned),
        subresource: subresource.map(str::to_owned),
    };
    // A list or watch narrowed to one name is authorized as that name.
    if matches!(verb, "list" | "watch")
        && let Some(selected) = query
            .get("fieldSelector")
            .and_then(|s| s.split(',').find_map(|r| r.strip_prefix("metadata.name=")))
    {
        resource_path.name = Some(selected.to_owned());
    }
    Ok(RequestInfo {
        verb: verb.to_owned(),
        target: Target::Resource(resource_path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: &str, path: &str) -> RequestInfo {
        parse(method, path, &BTreeMap::new()).unwrap()
    }

    #[test]
    fn urls() {
        let i = info("GET", "/api/v1/namespaces/default/secrets/s1");
        assert_eq!(i.verb, "get");
        let Target::Resource(r) = i.target else {
            panic!()
        };
        assert_eq!(
            (
                r.namespace.as_deref(),
                r.resource.as_str(),
                r.name.as_deref()
            ),
            (Some("default"), "secrets", Some("s1"))
        );
        let i = info("GET", "/api/v1/namespaces/default");
        let Target::Resource(r) = i.target else {
            panic!()
        };
        assert_eq!(
            (r.namespace, r.resource.as_str(), r.name.as_deref()),
            (None, "namespaces", Some("default"))
        );
        assert_eq!(
            info("DELETE", "/apis/apps/v1/namespaces/x/deployments").verb,
            "deletecollection"
        );
        assert_eq!(
            info("POST", "/api/v1/namespaces/x/serviceaccounts/sa/token").verb,
            "create"
        );
        assert!(
            matches!(info("GET", "/version").target, Target::NonResource(p) if p == "/version")
        );
        assert!(matches!(
            info("GET", "/api/v1").target,
            Target::NonResource(_)
        ));
        let mut q = BTreeMap::new();
        q.insert("watch".to_owned(), "true".to_owned());
        assert_eq!(parse("GET", "/api/v1/secrets", &q).unwrap().verb, "watch");
        assert!(parse("GET", "/api/v1/namespaces/x/secrets/..", &BTreeMap::new()).is_err());
        assert!(
            parse(
                "GET",
                "/api/v1/namespaces/x/secrets/a/b/c",
                &BTreeMap::new()
            )
            .is_err()
        );
    }
}
