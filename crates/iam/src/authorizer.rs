//! The authorizer: may this principal have these permissions on this compartment?
//!
//! Policies are allow-only, so a decision is the union of every statement that applies. Each
//! statement is indexed by (resource type, subject) and then by the compartment it names, so a
//! decision costs a handful of hash lookups (subjects × ancestor compartments) however many
//! statements exist. Conditions are evaluated only for the few statements those lookups find.

use std::borrow::Cow;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::catalog::{self, Permission, ResourceScope, ResourceTypeId, Verb};
use crate::condition::{Lookup, Scope, Variables, equal_ignore_case, evaluate};
use crate::dynamic_group::MatchingRule;
use crate::policy::{
    Condition, GroupRef, Location, PolicySyntaxError, Statement, Subject, SubjectItem,
    parse_statement,
};
use crate::principal::Principal;

/// The only identity domain a single Portcullis tenancy has
pub const DEFAULT_DOMAIN: &str = "Default";

/// Compartments deeper than this are treated as broken data (OCI allows six levels)
const MAX_DEPTH: usize = 64;

/// The IAM objects that statements name: the compartment tree, groups and dynamic groups
#[derive(Clone, Debug, Default)]
pub struct Directory {
    tenancy_id: String,
    compartments: FxHashMap<String, CompartmentEntry>,
    children: FxHashMap<(String, String), String>,
    group_names: FxHashMap<String, String>,
    groups: FxHashSet<String>,
    dynamic_group_names: FxHashMap<String, String>,
    dynamic_groups: Vec<(String, MatchingRule)>,
}

#[derive(Clone, Debug)]
struct CompartmentEntry {
    name: String,
    parent: Option<String>,
}

impl Directory {
    /// A directory holding only the tenancy (the root compartment)
    pub fn new(tenancy_id: &str, tenancy_name: &str) -> Self {
        let mut directory = Directory {
            tenancy_id: tenancy_id.to_owned(),
            ..Default::default()
        };
        directory.compartments.insert(
            tenancy_id.to_owned(),
            CompartmentEntry {
                name: tenancy_name.to_owned(),
                parent: None,
            },
        );
        directory
    }

    /// The tenancy's OCID
    pub fn tenancy_id(&self) -> &str {
        &self.tenancy_id
    }

    /// Adds an active compartment under `parent_id`
    pub fn add_compartment(&mut self, id: &str, parent_id: &str, name: &str) {
        self.compartments.insert(
            id.to_owned(),
            CompartmentEntry {
                name: name.to_owned(),
                parent: Some(parent_id.to_owned()),
            },
        );
        self.children
            .insert((parent_id.to_owned(), name.to_lowercase()), id.to_owned());
    }

    /// Adds a group
    pub fn add_group(&mut self, id: &str, name: &str) {
        self.groups.insert(id.to_owned());
        self.group_names.insert(name.to_lowercase(), id.to_owned());
    }

    /// Adds a dynamic group and its matching rule
    pub fn add_dynamic_group(&mut self, id: &str, name: &str, rule: MatchingRule) {
        self.dynamic_group_names
            .insert(name.to_lowercase(), id.to_owned());
        self.dynamic_groups.push((id.to_owned(), rule));
    }

    /// Whether a compartment (or the tenancy) exists
    pub fn has_compartment(&self, id: &str) -> bool {
        self.compartments.contains_key(id)
    }

    /// The compartment's name
    pub fn compartment_name(&self, id: &str) -> Option<&str> {
        self.compartments.get(id).map(|c| c.name.as_str())
    }

    /// The compartment's parent (`None` for the tenancy or an unknown id)
    pub fn compartment_parent(&self, id: &str) -> Option<&str> {
        self.compartments.get(id).and_then(|c| c.parent.as_deref())
    }

    /// `id` followed by each of its ancestors up to the tenancy
    pub fn ancestors<'a>(&'a self, id: &'a str) -> Vec<&'a str> {
        let mut chain = Vec::new();
        let mut current = Some(id);
        while let Some(c) = current {
            if !self.compartments.contains_key(c) || chain.len() > MAX_DEPTH {
                break;
            }
            chain.push(c);
            current = self.compartment_parent(c);
        }
        chain
    }

    /// Whether `id` is `ancestor` or lies under it
    pub fn is_within(&self, id: &str, ancestor: &str) -> bool {
        self.ancestors(id).contains(&ancestor)
    }

    /// The dynamic groups a resource principal belongs to
    pub fn matching_dynamic_groups(&self, principal: &Principal) -> Vec<&str> {
        match principal {
            Principal::Resource(resource) => self
                .dynamic_groups
                .iter()
                .filter(|(_, rule)| rule.matches(resource))
                .map(|(id, _)| id.as_str())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Resolves the names in `statement` to OCIDs, as OCI does when a policy is written
    ///
    /// `attached_to` is the compartment the policy is attached to: locations are relative to
    /// it and may not leave it.
    pub fn bind(&self, statement: &Statement, attached_to: &str) -> Result<Binding, BindError> {
        let Statement::Allow(allow) = statement else {
            return Ok(Binding::default());
        };
        let mut subjects = Vec::new();
        if let Subject::Principals(items) = &allow.subject {
            for item in items {
                subjects.push(match item {
                    SubjectItem::Group(group) => self.bind_group(group, false)?,
                    SubjectItem::DynamicGroup(group) => self.bind_group(group, true)?,
                });
            }
        }
        let compartment_id = match &allow.location {
            Location::Tenancy => {
                if attached_to != self.tenancy_id {
                    return Err(BindError::TenancyOutsideRoot);
                }
                self.tenancy_id.clone()
            }
            Location::CompartmentId(id) => {
                if !self.has_compartment(id) {
                    return Err(BindError::UnknownCompartment(id.clone()));
                }
                if !self.is_within(id, attached_to) {
                    return Err(BindError::OutsideAttachment(id.clone()));
                }
                id.clone()
            }
            Location::CompartmentPath(path) => {
                let mut current = attached_to.to_owned();
                for name in path {
                    current = self
                        .children
                        .get(&(current.clone(), name.to_lowercase()))
                        .cloned()
                        .ok_or_else(|| BindError::UnknownCompartment(path.join(":")))?;
                }
                current
            }
        };
        Ok(Binding {
            subjects,
            compartment_id: Some(compartment_id),
        })
    }

    fn bind_group(&self, group: &GroupRef, dynamic: bool) -> Result<String, BindError> {
        let unknown = |what: &str| {
            if dynamic {
                BindError::UnknownDynamicGroup(what.to_owned())
            } else {
                BindError::UnknownGroup(what.to_owned())
            }
        };
        match group {
            GroupRef::Id(id) => {
                let exists = if dynamic {
                    self.dynamic_groups.iter().any(|(g, _)| g == id)
                } else {
                    self.groups.contains(id)
                };
                exists.then(|| id.clone()).ok_or_else(|| unknown(id))
            }
            GroupRef::Name { domain, name } => {
                if let Some(domain) = domain
                    && !domain.eq_ignore_ascii_case(DEFAULT_DOMAIN)
                {
                    return Err(BindError::UnknownDomain(domain.clone()));
                }
                let names = if dynamic {
                    &self.dynamic_group_names
                } else {
                    &self.group_names
                };
                names
                    .get(&name.to_lowercase())
                    .cloned()
                    .ok_or_else(|| unknown(name))
            }
        }
    }
}

/// What a statement's names resolved to when its policy was written
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    /// The OCIDs of the subject's groups and dynamic groups, in the order written
    #[serde(default)]
    pub subjects: Vec<String>,
    /// The compartment the location names; `None` for statements with no effect
    #[serde(default)]
    pub compartment_id: Option<String>,
}

/// A name in a statement that does not resolve
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// No group has this name or OCID
    #[error("group `{0}` does not exist")]
    UnknownGroup(String),
    /// No dynamic group has this name or OCID
    #[error("dynamic group `{0}` does not exist")]
    UnknownDynamicGroup(String),
    /// Only the default identity domain exists
    #[error("identity domain `{0}` does not exist (this tenancy has only `Default`)")]
    UnknownDomain(String),
    /// The location names no compartment
    #[error("compartment `{0}` does not exist under the compartment the policy is attached to")]
    UnknownCompartment(String),
    /// A policy may only grant access in its own compartment and below
    #[error("compartment `{0}` is outside the compartment the policy is attached to")]
    OutsideAttachment(String),
    /// `in tenancy` only works in policies attached to the tenancy
    #[error("`in tenancy` is only allowed in policies attached to the root compartment")]
    TenancyOutsideRoot,
}

/// A policy, as the authorizer needs it
#[derive(Clone, Debug)]
pub struct PolicyInput<'a> {
    /// The policy's OCID
    pub id: &'a str,
    /// The policy's name
    pub name: &'a str,
    /// The compartment the policy is attached to
    pub compartment_id: &'a str,
    /// The statements, as written
    pub statements: &'a [String],
    /// The bindings recorded when the policy was written, one per statement
    pub bindings: Option<&'a [Binding]>,
}

/// A statement the authorizer skipped while building, and why
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("policy `{policy_name}` statement {index}: {reason}")]
pub struct SkippedStatement {
    /// The policy's name
    pub policy_name: String,
    /// The statement's 0-based position in the policy
    pub index: usize,
    /// Why it was skipped
    pub reason: String,
}

/// Identifies a statement for reports: which policy, which position, what text
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct StatementRef {
    /// The policy's OCID
    pub policy_id: Arc<str>,
    /// The policy's name
    pub policy_name: Arc<str>,
    /// The statement's 0-based position in the policy
    pub index: usize,
    /// The statement as written
    pub text: Arc<str>,
}

#[derive(Clone, Debug, Eq, Hash, PartialEq)]
enum SubjectKey {
    AnyUser,
    AnyGroup,
    Group(u32),
    DynamicGroup(u32),
    Service(String),
}

#[derive(Debug)]
struct Compiled {
    statement: StatementRef,
    verb: Verb,
    condition: Option<Condition>,
}

/// A compiled, indexed snapshot of every policy; cheap to query, rebuilt when IAM changes
#[derive(Debug)]
pub struct Authorizer {
    directory: Directory,
    statements: Vec<Compiled>,
    /// Interned group and dynamic-group OCIDs
    group_ids: FxHashMap<String, u32>,
    /// Interned compartment OCIDs with their ancestor chains (self first)
    compartment_ids: FxHashMap<String, u32>,
    compartment_chains: Vec<Vec<u32>>,
    index: FxHashMap<(ResourceTypeId, SubjectKey), FxHashMap<u32, Vec<u32>>>,
    skipped: Vec<SkippedStatement>,
    inert: Vec<StatementRef>,
}

impl Authorizer {
    /// Compiles `policies` against `directory`
    ///
    /// A statement that no longer parses or binds is skipped and reported by
    /// [`Authorizer::skipped`], never fatal: one broken policy must not lock everyone out.
    pub fn build<'a>(
        directory: Directory,
        policies: impl IntoIterator<Item = PolicyInput<'a>>,
    ) -> Authorizer {
        let mut compartment_ids = FxHashMap::default();
        let mut keys: Vec<&String> = directory.compartments.keys().collect();
        keys.sort();
        for key in keys {
            let next = u32::try_from(compartment_ids.len()).unwrap_or(u32::MAX);
            compartment_ids.insert(key.clone(), next);
        }
        let mut compartment_chains = vec![Vec::new(); compartment_ids.len()];
        for (id, interned) in &compartment_ids {
            let chain = directory
                .ancestors(id)
                .into_iter()
                .filter_map(|c| compartment_ids.get(c).copied())
                .collect();
            if let Some(slot) = usize::try_from(*interned)
                .ok()
                .and_then(|i| compartment_chains.get_mut(i))
            {
                *slot = chain;
            }
        }
        let mut group_ids = FxHashMap::default();
        for id in directory
            .groups
            .iter()
            .chain(directory.dynamic_groups.iter().map(|(id, _)| id))
        {
            let next = u32::try_from(group_ids.len()).unwrap_or(u32::MAX);
            group_ids.entry(id.clone()).or_insert(next);
        }
        let mut authorizer = Authorizer {
            directory,
            statements: Vec::new(),
            group_ids,
            compartment_ids,
            compartment_chains,
            index: FxHashMap::default(),
            skipped: Vec::new(),
            inert: Vec::new(),
        };
        for policy in policies {
            authorizer.add_policy(&policy);
        }
        authorizer
    }

    fn add_policy(&mut self, policy: &PolicyInput<'_>) {
        let policy_id: Arc<str> = Arc::from(policy.id);
        let policy_name: Arc<str> = Arc::from(policy.name);
        for (index, text) in policy.statements.iter().enumerate() {
            let reference = StatementRef {
                policy_id: policy_id.clone(),
                policy_name: policy_name.clone(),
                index,
                text: Arc::from(text.as_str()),
            };
            let skip = |reason: String| SkippedStatement {
                policy_name: policy.name.to_owned(),
                index,
                reason,
            };
            let statement = match parse_statement(text) {
                Ok(s) => s,
                Err(e) => {
                    self.skipped.push(skip(e.to_string()));
                    continue;
                }
            };
            let Statement::Allow(allow) = &statement else {
                self.inert.push(reference);
                continue;
            };
            let stored = policy
                .bindings
                .and_then(|b| b.get(index))
                .filter(|b| b.compartment_id.is_some());
            let binding = match stored {
                Some(b) => b.clone(),
                None => match self.directory.bind(&statement, policy.compartment_id) {
                    Ok(b) => b,
                    Err(e) => {
                        self.skipped.push(skip(e.to_string()));
                        continue;
                    }
                },
            };
            let Some(compartment) = binding
                .compartment_id
                .as_ref()
                .and_then(|c| self.compartment_ids.get(c).copied())
            else {
                self.skipped
                    .push(skip("its compartment no longer exists".to_owned()));
                continue;
            };
            let types = match catalog::resolve_resource(&allow.resource) {
                Some(ResourceScope::All) => catalog::all_types().collect(),
                Some(ResourceScope::Types(types)) => types,
                Some(ResourceScope::Untracked) | None => {
                    self.inert.push(reference);
                    continue;
                }
            };
            let subjects: Vec<SubjectKey> = match &allow.subject {
                Subject::AnyUser => vec![SubjectKey::AnyUser],
                Subject::AnyGroup => vec![SubjectKey::AnyGroup],
                Subject::Services(names) => names
                    .iter()
                    .map(|n| SubjectKey::Service(n.to_lowercase()))
                    .collect(),
                Subject::Principals(items) => items
                    .iter()
                    .zip(&binding.subjects)
                    .filter_map(|(item, id)| {
                        let interned = *self.group_ids.get(id)?;
                        Some(match item {
                            SubjectItem::Group(_) => SubjectKey::Group(interned),
                            SubjectItem::DynamicGroup(_) => SubjectKey::DynamicGroup(interned),
                        })
                    })
                    .collect(),
            };
            let Ok(statement_index) = u32::try_from(self.statements.len()) else {
                self.skipped.push(skip("too many statements".to_owned()));
                continue;
            };
            self.statements.push(Compiled {
                statement: reference,
                verb: allow.verb,
                condition: allow.condition.clone(),
            });
            for resource_type in &types {
                for subject in &subjects {
                    self.index
                        .entry((*resource_type, subject.clone()))
                        .or_default()
                        .entry(compartment)
                        .or_default()
                        .push(statement_index);
                }
            }
        }
    }

    /// The directory the authorizer was built from
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Statements skipped while building, and why
    pub fn skipped(&self) -> &[SkippedStatement] {
        &self.skipped
    }

    /// Statements that parse but grant nothing here (`Define`, `Endorse`, `Admit`, and
    /// resource types Portcullis does not enforce)
    pub fn inert(&self) -> &[StatementRef] {
        &self.inert
    }

    /// The number of statements that can grant access
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// Decides `request`: allowed only if every requested permission is granted
    pub fn authorize(&self, request: &Request<'_>) -> Decision {
        self.decide(request, false)
    }

    /// Like [`Authorizer::authorize`], but reports every statement that grants each
    /// permission and the near misses, for `policy simulate`
    pub fn explain(&self, request: &Request<'_>) -> Decision {
        self.decide(request, true)
    }

    fn decide(&self, request: &Request<'_>, explain: bool) -> Decision {
        let mut decision = Decision {
            allowed: !request.permissions.is_empty(),
            grants: Vec::with_capacity(request.permissions.len()),
            missing: Vec::new(),
            near_misses: Vec::new(),
        };
        let chain = self
            .compartment_ids
            .get(request.compartment_id)
            .and_then(|c| usize::try_from(*c).ok())
            .and_then(|c| self.compartment_chains.get(c));
        let Some(chain) = chain else {
            decision.allowed = false;
            decision.missing = request.permissions.to_vec();
            return decision;
        };
        let subjects = self.subject_keys(request.principal);
        for permission in request.permissions {
            let mut grant = Grant {
                permission: *permission,
                statements: Vec::new(),
            };
            let scope = RequestScope {
                request,
                permission: permission.name(),
                directory: &self.directory,
            };
            'subjects: for subject in &subjects {
                let Some(by_compartment) = self
                    .index
                    .get(&(permission.resource_type(), subject.clone()))
                else {
                    continue;
                };
                for compartment in chain {
                    let Some(candidates) = by_compartment.get(compartment) else {
                        continue;
                    };
                    for candidate in candidates {
                        let Some(compiled) = usize::try_from(*candidate)
                            .ok()
                            .and_then(|i| self.statements.get(i))
                        else {
                            continue;
                        };
                        let reason = if compiled.verb < permission.verb() {
                            Some(MissReason::VerbTooWeak)
                        } else if compiled
                            .condition
                            .as_ref()
                            .is_some_and(|c| !evaluate(c, &scope))
                        {
                            Some(MissReason::ConditionFalse)
                        } else {
                            None
                        };
                        match reason {
                            None => {
                                grant.statements.push(compiled.statement.clone());
                                if !explain {
                                    break 'subjects;
                                }
                            }
                            Some(reason) if explain => decision.near_misses.push(NearMiss {
                                permission: *permission,
                                statement: compiled.statement.clone(),
                                reason,
                            }),
                            Some(_) => {}
                        }
                    }
                }
            }
            if grant.statements.is_empty() {
                decision.allowed = false;
                decision.missing.push(*permission);
                if !explain {
                    break;
                }
            } else {
                decision.grants.push(grant);
            }
        }
        decision
    }

    fn subject_keys(&self, principal: &Principal) -> Vec<SubjectKey> {
        let mut keys = vec![SubjectKey::AnyUser];
        match principal {
            Principal::User(user) => {
                keys.push(SubjectKey::AnyGroup);
                keys.extend(
                    user.group_ids
                        .iter()
                        .filter_map(|g| self.group_ids.get(g).map(|i| SubjectKey::Group(*i))),
                );
            }
            Principal::Resource(_) => {
                keys.push(SubjectKey::AnyGroup);
                keys.extend(
                    self.directory
                        .matching_dynamic_groups(principal)
                        .into_iter()
                        .filter_map(|g| {
                            self.group_ids.get(g).map(|i| SubjectKey::DynamicGroup(*i))
                        }),
                );
            }
            Principal::Service(name) => keys.push(SubjectKey::Service(name.to_lowercase())),
        }
        keys
    }
}

/// One authorization question
#[derive(Clone, Debug)]
pub struct Request<'a> {
    principal: &'a Principal,
    permissions: &'a [Permission],
    compartment_id: &'a str,
    operation: Option<&'a str>,
    variables: Cow<'a, Variables>,
    time: jiff::Timestamp,
    region: Option<&'a str>,
}

impl<'a> Request<'a> {
    /// `principal` wants all of `permissions` on something in `compartment_id`, now
    pub fn new(
        principal: &'a Principal,
        permissions: &'a [Permission],
        compartment_id: &'a str,
    ) -> Self {
        Request {
            principal,
            permissions,
            compartment_id,
            operation: None,
            variables: Cow::Owned(Variables::new()),
            time: jiff::Timestamp::now(),
            region: None,
        }
    }

    /// The API operation (`request.operation`)
    #[must_use]
    pub fn operation(mut self, operation: &'a str) -> Self {
        self.operation = Some(operation);
        self
    }

    /// `target.*` and extra `request.*` variables
    #[must_use]
    pub fn variables(mut self, variables: &'a Variables) -> Self {
        self.variables = Cow::Borrowed(variables);
        self
    }

    /// The request time (`request.utc-timestamp`)
    #[must_use]
    pub fn time(mut self, time: jiff::Timestamp) -> Self {
        self.time = time;
        self
    }

    /// The region key (`request.region`, e.g. `IAD`)
    #[must_use]
    pub fn region(mut self, region: &'a str) -> Self {
        self.region = Some(region);
        self
    }
}

/// The answer, with its reasons
#[derive(Clone, Debug)]
pub struct Decision {
    allowed: bool,
    grants: Vec<Grant>,
    missing: Vec<Permission>,
    near_misses: Vec<NearMiss>,
}

impl Decision {
    /// Whether every requested permission was granted
    pub fn is_allowed(&self) -> bool {
        self.allowed
    }

    /// For each granted permission, the statements that granted it
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// The permissions no statement granted
    pub fn missing(&self) -> &[Permission] {
        &self.missing
    }

    /// Statements that matched the subject, type and compartment but not the verb or
    /// condition (only from [`Authorizer::explain`])
    pub fn near_misses(&self) -> &[NearMiss] {
        &self.near_misses
    }
}

/// A permission and the statements that granted it
#[derive(Clone, Debug)]
pub struct Grant {
    /// The permission
    pub permission: Permission,
    /// The statements that granted it
    pub statements: Vec<StatementRef>,
}

/// A statement that almost granted a permission
#[derive(Clone, Debug)]
pub struct NearMiss {
    /// The permission it did not grant
    pub permission: Permission,
    /// The statement
    pub statement: StatementRef,
    /// Why not
    pub reason: MissReason,
}

/// Why a statement that names the principal, type and compartment did not grant
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum MissReason {
    /// Its `where` clause was false or named a variable the request lacks
    ConditionFalse,
    /// Its verb does not include the permission
    VerbTooWeak,
}

struct RequestScope<'r, 'a> {
    request: &'r Request<'a>,
    permission: &'static str,
    directory: &'r Directory,
}

impl Scope for RequestScope<'_, '_> {
    fn lookup(&self, variable: &str) -> Option<Lookup<'_>> {
        let request = self.request;
        let principal = request.principal;
        let text = |s: &str| Some(Lookup::Text(Cow::Owned(s.to_owned())));
        match variable {
            "request.permission" => return Some(Lookup::Text(Cow::Borrowed(self.permission))),
            "request.operation" => {
                return request.operation.map(|o| Lookup::Text(Cow::Borrowed(o)));
            }
            "request.user.id" => {
                return match principal {
                    Principal::Service(_) => None,
                    _ => Some(Lookup::Text(Cow::Borrowed(principal.id()))),
                };
            }
            "request.user.name" => {
                return match principal {
                    Principal::User(u) => Some(Lookup::Text(Cow::Borrowed(&u.name))),
                    _ => None,
                };
            }
            "request.user.mfatotpverified" => {
                return match principal {
                    Principal::User(u) => text(if u.mfa_verified { "true" } else { "false" }),
                    _ => None,
                };
            }
            "request.groups.id" => {
                return match principal {
                    Principal::User(u) => Some(Lookup::List(&u.group_ids)),
                    _ => None,
                };
            }
            "request.principal.type" => {
                return Some(Lookup::Text(Cow::Borrowed(principal.principal_type())));
            }
            "request.principal.id" => {
                return match principal {
                    Principal::Service(_) => None,
                    _ => Some(Lookup::Text(Cow::Borrowed(principal.id()))),
                };
            }
            "request.principal.compartment.id" => {
                return match principal {
                    Principal::Resource(r) => Some(Lookup::Text(Cow::Borrowed(&r.compartment_id))),
                    _ => None,
                };
            }
            "request.region" => return request.region.map(|r| Lookup::Text(Cow::Borrowed(r))),
            "request.utc-timestamp" => return text(&request.time.to_string()),
            "target.compartment.id" => {
                return Some(Lookup::Text(Cow::Borrowed(request.compartment_id)));
            }
            "target.compartment.name" => {
                return self
                    .directory
                    .compartment_name(request.compartment_id)
                    .map(|n| Lookup::Text(Cow::Borrowed(n)));
            }
            _ => {}
        }
        if let Some(part) = variable.strip_prefix("request.utc-timestamp.") {
            let zoned = request.time.to_zoned(jiff::tz::TimeZone::UTC);
            return match part {
                "month-of-year" => text(&zoned.month().to_string()),
                "day-of-month" => text(&zoned.day().to_string()),
                "day-of-week" => text(weekday_name(zoned.weekday())),
                "time-of-day" => text(&format!(
                    "{:02}:{:02}:{:02}Z",
                    zoned.hour(),
                    zoned.minute(),
                    zoned.second()
                )),
                _ => None,
            };
        }
        if let Some(attribute) = variable.strip_prefix("request.principal.")
            && let Principal::Resource(r) = principal
            && let Some((_, v)) = r
                .attributes
                .iter()
                .find(|(k, _)| equal_ignore_case(k, attribute))
        {
            return Some(Lookup::Text(Cow::Borrowed(v)));
        }
        match request.variables.get(variable)? {
            crate::condition::VariableValue::Text(t) => Some(Lookup::Text(Cow::Borrowed(t))),
            crate::condition::VariableValue::List(l) => Some(Lookup::List(l)),
        }
    }

    fn now(&self) -> Option<jiff::Timestamp> {
        Some(self.request.time)
    }
}

fn weekday_name(day: jiff::civil::Weekday) -> &'static str {
    use jiff::civil::Weekday;
    match day {
        Weekday::Monday => "monday",
        Weekday::Tuesday => "tuesday",
        Weekday::Wednesday => "wednesday",
        Weekday::Thursday => "thursday",
        Weekday::Friday => "friday",
        Weekday::Saturday => "saturday",
        Weekday::Sunday => "sunday",
    }
}

/// Parses and binds every statement of a policy, as a write would
///
/// Returns the bindings to store with the policy, or the first statement's error.
pub fn validate_policy(
    directory: &Directory,
    statements: &[String],
    attached_to: &str,
) -> Result<Vec<Binding>, PolicyError> {
    let mut bindings = Vec::with_capacity(statements.len());
    for (index, text) in statements.iter().enumerate() {
        let statement =
            parse_statement(text).map_err(|source| PolicyError::Syntax { index, source })?;
        let binding = directory
            .bind(&statement, attached_to)
            .map_err(|source| PolicyError::Binding { index, source })?;
        bindings.push(binding);
    }
    Ok(bindings)
}

/// Why a policy's statements were rejected
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A statement does not parse
    #[error("statement {}: {source}", index + 1)]
    Syntax {
        /// 0-based position of the statement
        index: usize,
        /// The syntax error
        source: PolicySyntaxError,
    },
    /// A statement names something that does not exist
    #[error("statement {}: {source}", index + 1)]
    Binding {
        /// 0-based position of the statement
        index: usize,
        /// The binding error
        source: BindError,
    },
}
