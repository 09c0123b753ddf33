//! Policies: statements parsed and bound to OCIDs when written, and the policy simulator.

use std::collections::BTreeMap;

use portcullis_iam::catalog::operation_permissions;
use portcullis_iam::policy::{Statement, parse_statement};
use portcullis_iam::{
    Authorizer, MissReason, Ocid, Permission, PolicyInput, Principal, Request, ResourcePrincipal,
    Variables, validate_policy,
};
use portcullis_store::Txn;
use serde::{Deserialize, Serialize};

use crate::listing::{self, ListQuery, Listing};
use crate::model::{
    CreatePolicyDetails, LifecycleState, Policy, PolicyRecord, UpdatePolicyDetails, now,
};
use crate::{
    IdentityError, IdentityResult, IdentityService, Versioned, check_description, check_if_match,
    check_name, commit_or, decode, encode, etag, keys, read_json, region_key, require_ocid,
};

/// OCI's limit on statements in one policy
pub const MAX_STATEMENTS: usize = 50;

fn target(policy: &Policy) -> Variables {
    Variables::new()
        .with("target.policy.id", policy.id.as_str())
        .with("target.policy.name", policy.name.as_str())
}

fn check_statements(statements: Option<Vec<String>>) -> IdentityResult<Vec<String>> {
    let statements = statements
        .ok_or_else(|| IdentityError::MissingParameter("`statements` is required".into()))?;
    if statements.is_empty() || statements.len() > MAX_STATEMENTS {
        return Err(IdentityError::InvalidParameter(format!(
            "a policy holds 1 to {MAX_STATEMENTS} statements"
        )));
    }
    Ok(statements)
}

impl IdentityService {
    fn bind_statements(
        &self,
        statements: &[String],
        compartment_id: &str,
    ) -> IdentityResult<Vec<portcullis_iam::Binding>> {
        let bindings =
            validate_policy(self.authorizer().directory(), statements, compartment_id)
                .map_err(|e| IdentityError::InvalidParameter(format!("invalid policy: {e}")))?;
        for (index, text) in statements.iter().enumerate() {
            if let Ok(statement) = parse_statement(text)
                && !statement.has_effect()
            {
                tracing::info!(
                    statement = index + 1,
                    "cross-tenancy statement accepted; it has no effect in a single tenancy"
                );
            }
        }
        Ok(bindings)
    }

    async fn load_policy(&self, id: &str) -> IdentityResult<(PolicyRecord, u64)> {
        read_json::<PolicyRecord>(&*self.store, &keys::policy(id))
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)
    }

    /// `CreatePolicy`: statements are parsed and their names resolved now
    pub async fn create_policy(
        &self,
        caller: &Principal,
        details: CreatePolicyDetails,
    ) -> IdentityResult<Versioned<Policy>> {
        let compartment_id = require_ocid(details.compartment_id.as_deref(), "compartmentId")?;
        let name = check_name(details.name.as_deref(), "policy", &[' '])?;
        let description = check_description(details.description.as_deref(), "policy")?;
        let statements = check_statements(details.statements)?;
        self.authorize(
            caller,
            "CreatePolicy",
            &compartment_id,
            &Variables::new().with("target.policy.name", name.as_str()),
        )?;
        let compartment_revision = self
            .active_compartment(&compartment_id)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        let bindings = self.bind_statements(&statements, &compartment_id)?;
        let policy = Policy {
            id: Ocid::generate("policy", None).into_string(),
            compartment_id: compartment_id.clone(),
            name: name.clone(),
            statements,
            description,
            time_created: now(),
            lifecycle_state: LifecycleState::Active,
            version_date: details.version_date,
            freeform_tags: details.freeform_tags.unwrap_or_default(),
            defined_tags: details.defined_tags.unwrap_or_default(),
        };
        let record = PolicyRecord {
            policy: policy.clone(),
            bindings,
        };
        let txn = Txn::new()
            .require_absent(keys::policy_name(&name))
            .put(keys::policy_name(&name), policy.id.clone().into_bytes())
            .put(keys::policy(&policy.id), encode(&record)?);
        let txn = self.attach_to_compartment(
            txn,
            &compartment_id,
            compartment_revision,
            "policy",
            &policy.id,
        );
        let revision = commit_or(&*self.store, txn, || {
            IdentityError::AlreadyExists(format!("a policy named `{name}` already exists"))
        })
        .await?;
        self.reload().await?;
        Ok(Versioned {
            value: policy,
            etag: etag(revision),
        })
    }

    /// `GetPolicy`
    pub async fn get_policy(
        &self,
        caller: &Principal,
        id: &str,
    ) -> IdentityResult<Versioned<Policy>> {
        let (record, revision) = self.load_policy(id).await?;
        self.authorize(
            caller,
            "GetPolicy",
            &record.policy.compartment_id,
            &target(&record.policy),
        )?;
        Ok(Versioned {
            value: record.policy,
            etag: etag(revision),
        })
    }

    /// `ListPolicies`: the policies attached to `compartment_id`
    pub async fn list_policies(
        &self,
        caller: &Principal,
        compartment_id: &str,
        query: &ListQuery,
    ) -> IdentityResult<Listing<Policy>> {
        if self.active_compartment(compartment_id).await?.is_none() {
            return Err(IdentityError::NotAuthorizedOrNotFound);
        }
        self.authorize(caller, "ListPolicies", compartment_id, &Variables::new())?;
        let mut items = Vec::new();
        for entry in self.store.list_all(keys::POLICIES).await? {
            let record: PolicyRecord = decode(&entry.value)?;
            if record.policy.compartment_id == compartment_id {
                items.push(record.policy);
            }
        }
        listing::page(items, query)
    }

    /// `UpdatePolicy`: new statements are validated and bound like new ones
    pub async fn update_policy(
        &self,
        caller: &Principal,
        id: &str,
        details: UpdatePolicyDetails,
        if_match: Option<&str>,
    ) -> IdentityResult<Versioned<Policy>> {
        let (mut record, revision) = self.load_policy(id).await?;
        self.authorize(
            caller,
            "UpdatePolicy",
            &record.policy.compartment_id,
            &target(&record.policy),
        )?;
        check_if_match(if_match, revision)?;
        if details.statements.is_some() {
            let statements = check_statements(details.statements)?;
            record.bindings = self.bind_statements(&statements, &record.policy.compartment_id)?;
            record.policy.statements = statements;
        }
        if let Some(d) = details.description.as_deref() {
            record.policy.description = check_description(Some(d), "policy")?;
        }
        if details.version_date.is_some() {
            record.policy.version_date = details.version_date;
        }
        if let Some(tags) = details.freeform_tags {
            record.policy.freeform_tags = tags;
        }
        if let Some(tags) = details.defined_tags {
            record.policy.defined_tags = tags;
        }
        let txn = Txn::new()
            .require_revision(keys::policy(id), revision)
            .put(keys::policy(id), encode(&record)?);
        let revision = commit_or(&*self.store, txn, || IdentityError::EtagMismatch).await?;
        self.reload().await?;
        Ok(Versioned {
            value: record.policy,
            etag: etag(revision),
        })
    }

    /// `DeletePolicy`
    pub async fn delete_policy(
        &self,
        caller: &Principal,
        id: &str,
        if_match: Option<&str>,
    ) -> IdentityResult<()> {
        let (record, revision) = self.load_policy(id).await?;
        self.authorize(
            caller,
            "DeletePolicy",
            &record.policy.compartment_id,
            &target(&record.policy),
        )?;
        check_if_match(if_match, revision)?;
        let txn = Txn::new()
            .require_revision(keys::policy(id), revision)
            .delete(keys::policy(id))
            .delete(keys::policy_name(&record.policy.name));
        let txn = self.detach_from_compartment(txn, &record.policy.compartment_id, "policy", id);
        commit_or(&*self.store, txn, || IdentityError::Conflict).await?;
        self.reload().await?;
        Ok(())
    }

    /// Decides a hypothetical request without performing it, optionally with candidate
    /// statements that are not yet part of any policy
    ///
    /// Simulating reveals policy contents, so it needs `POLICY_READ` in the tenancy.
    pub async fn simulate(
        &self,
        caller: &Principal,
        input: SimulationInput,
    ) -> IdentityResult<Simulation> {
        self.authorize(caller, "ListPolicies", &self.tenancy.id, &Variables::new())?;
        let principal = self.simulated_principal(&input.principal).await?;
        let compartment_id = input
            .compartment_id
            .clone()
            .unwrap_or_else(|| self.tenancy.id.clone());
        let (operation, permissions) = match (&input.operation, input.permissions.is_empty()) {
            (Some(op), true) => {
                let (name, perms) = operation_permissions(op).ok_or_else(|| {
                    IdentityError::InvalidParameter(format!("unknown operation `{op}`"))
                })?;
                (Some(name), perms)
            }
            (None, false) => (
                None,
                input
                    .permissions
                    .iter()
                    .map(|p| {
                        Permission::lookup(p).ok_or_else(|| {
                            IdentityError::InvalidParameter(format!("unknown permission `{p}`"))
                        })
                    })
                    .collect::<IdentityResult<Vec<_>>>()?,
            ),
            _ => {
                return Err(IdentityError::InvalidParameter(
                    "give either `operation` or `permissions`".into(),
                ));
            }
        };
        let mut variables = Variables::new();
        for (k, v) in &input.variables {
            variables.set(k, v.as_str());
        }
        let time = match &input.time {
            Some(t) => t.parse::<jiff::Timestamp>().map_err(|_| {
                IdentityError::InvalidParameter("`time` must be an RFC 3339 timestamp".into())
            })?,
            None => jiff::Timestamp::now(),
        };
        let mut notes = Vec::new();
        let authorizer = if input.candidate_statements.is_empty() {
            self.authorizer()
        } else {
            let attach = input
                .candidate_compartment_id
                .clone()
                .unwrap_or_else(|| self.tenancy.id.clone());
            let current = self.authorizer();
            let directory = current.directory().clone();
            let candidate_bindings =
                validate_policy(&directory, &input.candidate_statements, &attach).map_err(|e| {
                    IdentityError::InvalidParameter(format!("candidate statements: {e}"))
                })?;
            for (i, text) in input.candidate_statements.iter().enumerate() {
                if let Ok(Statement::Define(_) | Statement::Endorse(_) | Statement::Admit(_)) =
                    parse_statement(text)
                {
                    notes.push(format!(
                        "candidate statement {}: cross-tenancy statements have no effect in a single tenancy",
                        i + 1
                    ));
                }
            }
            let mut records = Vec::new();
            for entry in self.store.list_all(keys::POLICIES).await? {
                records.push(decode::<PolicyRecord>(&entry.value)?);
            }
            std::sync::Arc::new(Authorizer::build(
                directory,
                records
                    .iter()
                    .map(|r| PolicyInput {
                        id: &r.policy.id,
                        name: &r.policy.name,
                        compartment_id: &r.policy.compartment_id,
                        statements: &r.policy.statements,
                        bindings: Some(&r.bindings),
                    })
                    .chain(std::iter::once(PolicyInput {
                        id: "candidate",
                        name: "(candidate statements)",
                        compartment_id: &attach,
                        statements: &input.candidate_statements,
                        bindings: Some(&candidate_bindings),
                    })),
            ))
        };
        if !authorizer.directory().has_compartment(&compartment_id) {
            notes.push(format!(
                "compartment `{compartment_id}` does not exist or is deleted"
            ));
        }
        let key = region_key(&self.region);
        let mut request = Request::new(&principal, &permissions, &compartment_id)
            .variables(&variables)
            .time(time)
            .region(&key);
        if let Some(op) = operation {
            request = request.operation(op);
        }
        let decision = authorizer.explain(&request);
        let statement = |s: &portcullis_iam::StatementRef| SimulatedStatement {
            policy_id: s.policy_id.to_string(),
            policy_name: s.policy_name.to_string(),
            index: s.index,
            statement: s.text.to_string(),
        };
        Ok(Simulation {
            decision: if decision.is_allowed() {
                "ALLOWED"
            } else {
                "DENIED"
            }
            .to_owned(),
            principal: principal.describe(),
            operation: operation.map(str::to_owned),
            compartment_id,
            permissions: permissions.iter().map(|p| p.name().to_owned()).collect(),
            granted: decision
                .grants()
                .iter()
                .map(|g| SimulatedGrant {
                    permission: g.permission.name().to_owned(),
                    statements: g.statements.iter().map(statement).collect(),
                })
                .collect(),
            missing: decision
                .missing()
                .iter()
                .map(|p| p.name().to_owned())
                .collect(),
            near_misses: decision
                .near_misses()
                .iter()
                .map(|m| SimulatedNearMiss {
                    permission: m.permission.name().to_owned(),
                    statement: statement(&m.statement),
                    reason: match m.reason {
                        MissReason::ConditionFalse => {
                            "condition is false or names a variable this request lacks"
                        }
                        MissReason::VerbTooWeak => "verb does not include this permission",
                    }
                    .to_owned(),
                })
                .collect(),
            notes,
        })
    }

    async fn simulated_principal(
        &self,
        principal: &SimulatedPrincipal,
    ) -> IdentityResult<Principal> {
        match principal {
            SimulatedPrincipal::User { user } => {
                let id = if user.parse::<Ocid>().is_ok() {
                    user.clone()
                } else {
                    self.user_by_name(user)
                        .await?
                        .map(|u| u.id)
                        .ok_or_else(|| {
                            IdentityError::InvalidParameter(format!("no user named `{user}`"))
                        })?
                };
                self.user_principal(&id).await?.ok_or_else(|| {
                    IdentityError::InvalidParameter(format!("no active user `{user}`"))
                })
            }
            SimulatedPrincipal::Resource {
                resource_type,
                id,
                compartment_id,
                attributes,
                tags,
            } => Ok(Principal::Resource(ResourcePrincipal {
                id: id.clone(),
                resource_type: resource_type.clone(),
                compartment_id: compartment_id.clone(),
                attributes: attributes.clone(),
                tags: tags.clone(),
            })),
            SimulatedPrincipal::Service { name } => Ok(Principal::Service(name.clone())),
        }
    }
}

/// Who to simulate
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum SimulatedPrincipal {
    /// An existing user, by OCID or name, with its current groups
    #[serde(rename = "USER")]
    User {
        /// OCID or name
        user: String,
    },
    /// A resource principal such as a cluster
    #[serde(rename = "RESOURCE", rename_all = "camelCase")]
    Resource {
        /// `cluster`, `instance`, `workload`, ...
        resource_type: String,
        /// The resource's OCID
        id: String,
        /// Its compartment
        compartment_id: String,
        /// `request.principal.*` attributes
        #[serde(default)]
        attributes: BTreeMap<String, String>,
        /// Tags as `<namespace>.<key>` → value
        #[serde(default)]
        tags: BTreeMap<String, String>,
    },
    /// A service principal
    #[serde(rename = "SERVICE")]
    Service {
        /// The service name
        name: String,
    },
}

/// The body of `POST /20160918/policies/actions/simulate`
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimulationInput {
    /// Who asks
    pub principal: SimulatedPrincipal,
    /// An API operation (`GetCluster`), or
    #[serde(default)]
    pub operation: Option<String>,
    /// explicit permissions (`CLUSTER_READ`)
    #[serde(default)]
    pub permissions: Vec<String>,
    /// The target compartment (default: the tenancy)
    #[serde(default)]
    pub compartment_id: Option<String>,
    /// Request variables (`target.repo.name` → `web`)
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// When (default: now), RFC 3339
    #[serde(default)]
    pub time: Option<String>,
    /// Statements to try as if they were in a policy
    #[serde(default)]
    pub candidate_statements: Vec<String>,
    /// Where that policy would be attached (default: the tenancy)
    #[serde(default)]
    pub candidate_compartment_id: Option<String>,
}

/// What the simulator decided, and why
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Simulation {
    /// `ALLOWED` or `DENIED`
    pub decision: String,
    /// Who was simulated
    pub principal: String,
    /// The operation, if one was given
    pub operation: Option<String>,
    /// The target compartment
    pub compartment_id: String,
    /// The permissions requested
    pub permissions: Vec<String>,
    /// Each granted permission with the statements that granted it
    pub granted: Vec<SimulatedGrant>,
    /// Permissions no statement granted
    pub missing: Vec<String>,
    /// Statements that named the principal, type and compartment but did not grant
    pub near_misses: Vec<SimulatedNearMiss>,
    /// Anything else worth knowing
    pub notes: Vec<String>,
}

/// A granted permission
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulatedGrant {
    /// The permission
    pub permission: String,
    /// The statements that granted it
    pub statements: Vec<SimulatedStatement>,
}

/// A statement in a report
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulatedStatement {
    /// The policy's OCID (`candidate` for candidate statements)
    pub policy_id: String,
    /// The policy's name
    pub policy_name: String,
    /// 0-based position in the policy
    pub index: usize,
    /// The statement text
    pub statement: String,
}

/// A statement that did not grant, and why
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulatedNearMiss {
    /// The permission
    pub permission: String,
    /// The statement
    pub statement: SimulatedStatement,
    /// Why it did not grant
    pub reason: String,
}
