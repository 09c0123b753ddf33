//! Who may do something in a cluster, and which grants are risky: Portcullis extensions of
//! the Container Engine API (`POST /20180222/clusters/{id}/actions/whoCan` and
//! `.../actions/auditRbac`) behind `portcullis ce cluster who-can` and `rbac-audit`.
//!
//! Both halves of the authorizer are answered: IAM (which users and groups hold `manage
//! clusters` on the cluster, with the statement) and RBAC (which subjects a binding allows,
//! with the binding and rule). Asking needs `read clusters` and `inspect policies` in the
//! cluster's compartment, since the answer reveals both.

use std::collections::BTreeSet;

use axum::extract::State;
use portcullis_containerengine::model::Cluster;
use portcullis_iam::{Principal, UserPrincipal, Variables};
use portcullis_kube::{KubeError, ListOptions};
use portcullis_rbac::analysis::{self, KnownSubjects};
use portcullis_rbac::{RBAC_GROUP, Target};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::identity::Params;
use crate::request::{OciResponse, Signed};

fn kube(error: KubeError) -> ApiError {
    ApiError::Internal(error.to_string())
}

/// The cluster, once the caller may read it and its compartment's policies
async fn readable_cluster(
    state: &AppState,
    signed: &Signed,
    params: &Params,
) -> Result<Cluster, ApiError> {
    let id = params.ocid(0, "clusterId")?;
    let cluster = state
        .containerengine
        .get_cluster(&signed.principal, &id)
        .await?
        .value;
    state.identity.authorize(
        &signed.principal,
        "ListPolicies",
        &cluster.compartment_id,
        &Variables::new(),
    )?;
    Ok(cluster)
}

/// What `whoCan` is asked
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WhoCanDetails {
    verb: String,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    api_group: String,
    #[serde(default)]
    subresource: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    non_resource_url: String,
}

/// IAM's half: who holds `manage clusters` on the cluster
async fn iam_holders(state: &AppState, cluster: &Cluster) -> Result<Vec<Value>, ApiError> {
    let variables = Variables::new().with("target.cluster.id", cluster.id.as_str());
    let statement = |principal: &Principal| {
        state.identity.allowing_statement(
            principal,
            "AdministerK8s",
            &cluster.compartment_id,
            &variables,
        )
    };
    let synthetic = |group_ids: Vec<String>| {
        Principal::User(UserPrincipal {
            id: "ocid1.user.oc1..portcullis-who-can".into(),
            name: String::new(),
            group_ids,
            mfa_verified: false,
        })
    };
    let mut holders = Vec::new();
    let everyone = statement(&synthetic(Vec::new()));
    if let Some(statement) = &everyone {
        holders.push(json!({"kind": "AnyUser", "name": "any-user", "statement": statement}));
    }
    let (users, groups) = state.identity.everyone().await?;
    for (id, name) in groups {
        if everyone.is_none()
            && let Some(statement) = statement(&synthetic(vec![id.clone()]))
        {
            holders.push(
                json!({"kind": "Group", "name": id, "displayName": name, "statement": statement}),
            );
        }
    }
    for user in users {
        let (id, name) = (user.id.clone(), user.name.clone());
        if let Some(statement) = statement(&Principal::User(user)) {
            holders.push(
                json!({"kind": "User", "name": id, "displayName": name, "statement": statement}),
            );
        }
    }
    Ok(holders)
}

/// `POST /20180222/clusters/{id}/actions/whoCan`
pub(crate) async fn who_can(
    State(state): State<AppState>,
    params: Params,
    signed: Signed,
) -> Result<OciResponse, ApiError> {
    let details: WhoCanDetails = signed.json()?;
    if !analysis::KNOWN_VERBS.contains(&details.verb.as_str()) {
        return Err(ApiError::InvalidParameter(format!(
            "`verb` must be one of {}, not `{}`",
            analysis::KNOWN_VERBS.join(", "),
            details.verb
        )));
    }
    let target = match (
        details.resource.is_empty(),
        details.non_resource_url.is_empty(),
    ) {
        (false, true) => Target::Resource {
            namespace: &details.namespace,
            api_group: &details.api_group,
            resource: &details.resource,
            subresource: &details.subresource,
            name: &details.name,
        },
        (true, false) if details.non_resource_url.starts_with('/') => Target::NonResource {
            path: &details.non_resource_url,
        },
        _ => {
            return Err(ApiError::InvalidParameter(
                "name exactly one of `resource` or `nonResourceUrl` (a path starting with /)"
                    .into(),
            ));
        }
    };
    let cluster = readable_cluster(&state, &signed, &params).await?;
    state.kube.bootstrap(&cluster.id).await.map_err(kube)?;
    let rbac = state.kube.rbac(&cluster.id).await.map_err(kube)?;
    let grants = analysis::who_can(&rbac, &details.verb, &target);
    let iam = iam_holders(&state, &cluster).await?;
    OciResponse::ok(&json!({"iam": iam, "rbac": grants}))
}

/// `POST /20180222/clusters/{id}/actions/auditRbac`
pub(crate) async fn audit(
    State(state): State<AppState>,
    params: Params,
    signed: Signed,
) -> Result<OciResponse, ApiError> {
    let cluster = readable_cluster(&state, &signed, &params).await?;
    state.kube.bootstrap(&cluster.id).await.map_err(kube)?;
    let rbac = state.kube.rbac(&cluster.id).await.map_err(kube)?;
    let (users, groups) = state.identity.everyone().await?;
    let accounts = portcullis_kube::resources::find("", "v1", "serviceaccounts")
        .ok_or_else(|| ApiError::Internal("service accounts are not served".into()))?;
    let (items, _) = state
        .kube
        .list(&cluster.id, accounts, None, &ListOptions::default())
        .await
        .map_err(kube)?;
    let service_accounts: BTreeSet<(String, String)> = items
        .iter()
        .filter_map(|sa| {
            let meta = sa.get("metadata")?;
            Some((
                meta.get("namespace")?.as_str()?.to_owned(),
                meta.get("name")?.as_str()?.to_owned(),
            ))
        })
        .collect();
    let known = KnownSubjects {
        users: users.into_iter().map(|u| u.id).collect(),
        groups: groups.into_iter().map(|(id, _)| id).collect(),
        service_accounts,
    };
    let findings = analysis::audit(&rbac, &known);
    tracing::info!(target: "portcullis::audit", principal = %signed.principal.describe(), cluster = %cluster.id, findings = findings.len(), group = RBAC_GROUP, "RBAC audit");
    OciResponse::ok(&json!({"findings": findings}))
}
