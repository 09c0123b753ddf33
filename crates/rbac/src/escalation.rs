//! Escalation prevention on writes of roles and bindings (`k8s-interfaces.md` §2).
//!
//! These checks come on top of authorizing the write itself: a user allowed to create
//! ClusterRoles still may not create one granting more than they hold, unless they are in
//! `system:masters` or hold `escalate` on it; binding a role needs the role's permissions or
//! `bind` on it. Which authorizer answers `escalate` and `bind` is the caller's choice (it
//! passes a closure), because Portcullis combines RBAC with IAM.

use crate::RBAC_GROUP;
use crate::authorizer::{Attributes, Rbac, Target, UserInfo};
use crate::covers::{covers, describe_missing};
use crate::model::{Binding, PolicyRule, Role};

/// The group whose members may grant anything
pub const SYSTEM_MASTERS: &str = "system:masters";

/// Why a write would escalate privileges
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum EscalationError {
    /// The rules being granted are not all held by the writer (403)
    #[error("{0}")]
    NotHeld(String),
    /// Only cluster admins may set an `aggregationRule` (403)
    #[error("must have cluster-admin privileges to use the aggregationRule")]
    AggregationRule,
    /// The binding names a role that does not exist and the writer may not `bind` it (404)
    #[error("{resource}.rbac.authorization.k8s.io \"{name}\" not found")]
    RoleNotFound {
        /// `roles` or `clusterroles`
        resource: &'static str,
        /// The role's name
        name: String,
    },
    /// The binding's `roleRef.kind` is neither `Role` nor `ClusterRole`
    #[error("unsupported role reference kind: \"{0}\"")]
    UnsupportedRoleRef(String),
}

/// Who is writing, and how to ask the authorizer about `escalate` and `bind`
pub struct Writer<'a> {
    /// The cluster's RBAC objects as they are before the write
    pub rbac: &'a Rbac,
    /// The writer
    pub user: UserInfo<'a>,
    /// Whether the authorizer allows a request (for `escalate` and `bind`)
    pub authorize: &'a dyn Fn(&Attributes<'_>) -> bool,
}

impl std::fmt::Debug for Writer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("user", &self.user).finish()
    }
}

/// What one write changes, for the update-only exemptions
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum Change {
    /// A create
    #[default]
    Create,
    /// An update touching more than garbage-collection fields
    Update,
    /// An update touching only `ownerReferences` and `finalizers`: never an escalation
    GarbageCollectionOnly,
}

/// Rules that only a cluster admin holds
fn full_authority() -> [PolicyRule; 2] {
    [
        PolicyRule::resource(&["*"], &["*"], &["*"]),
        PolicyRule::non_resource(&["*"], &["*"]),
    ]
}

impl Writer<'_> {
    fn is_master(&self) -> bool {
        self.user.groups.iter().any(|g| g == SYSTEM_MASTERS)
    }

    /// Upstream's `ConfirmNoEscalation`: the writer's own rules in `namespace` must cover
    /// `rules`
    fn confirm_no_escalation(
        &self,
        namespace: &str,
        rules: &[PolicyRule],
    ) -> Result<(), EscalationError> {
        let (owned, errors) = self.rbac.rules_for(&self.user, namespace);
        let (covered, missing) = covers(&owned, rules);
        if covered {
            return Ok(());
        }
        let groups: Vec<String> = self
            .user
            .groups
            .iter()
            .map(|g| serde_json::Value::String(g.clone()).to_string())
            .collect();
        let mut message = format!(
            "user \"{}\" (groups=[{}]) is attempting to grant RBAC permissions not currently held:\n{}",
            self.user.name,
            groups.join(" "),
            describe_missing(&missing)
        );
        if !errors.is_empty() {
            message.push_str(&format!("; resolution errors: [{}]", errors.join(", ")));
        }
        Err(EscalationError::NotHeld(message))
    }

    /// Checks creating or updating a Role (`role.metadata.namespace` set) or a ClusterRole.
    /// `request_name` is the name in the request path (empty for a create, as upstream asks
    /// the `escalate` question); `previous` is the stored object on update.
    pub fn confirm_role(
        &self,
        role: &Role,
        previous: Option<&Role>,
        change: Change,
        request_name: &str,
    ) -> Result<(), EscalationError> {
        if change == Change::GarbageCollectionOnly || self.is_master() {
            return Ok(());
        }
        let namespace = role.metadata.namespace.as_str();
        let resource = if namespace.is_empty() {
            "clusterroles"
        } else {
            "roles"
        };
        let escalate = Attributes {
            user: self.user,
            verb: "escalate",
            target: Target::Resource {
                namespace,
                api_group: RBAC_GROUP,
                resource,
                subresource: "",
                name: request_name,
            },
        };
        if (self.authorize)(&escalate) {
            return Ok(());
        }
        self.confirm_no_escalation(namespace, &role.rules)?;
        // An aggregation rule can gather anything, so a ClusterRole that has one, or had one,
        // takes cluster-admin's powers to write.
        let aggregates = |r: &Role| {
            r.aggregation_rule
                .as_ref()
                .is_some_and(|a| !a.cluster_role_selectors.is_empty())
        };
        if namespace.is_empty() && (aggregates(role) || previous.is_some_and(aggregates)) {
            self.confirm_no_escalation("", &full_authority())
                .map_err(|_| EscalationError::AggregationRule)?;
        }
        Ok(())
    }

    /// Checks creating or updating a RoleBinding (`metadata.namespace` set) or a
    /// ClusterRoleBinding
    pub fn confirm_binding(
        &self,
        binding: &Binding,
        change: Change,
    ) -> Result<(), EscalationError> {
        if change == Change::GarbageCollectionOnly || self.is_master() {
            return Ok(());
        }
        let namespace = binding.metadata.namespace.as_str();
        let role_ref = &binding.role_ref;
        let resource = match role_ref.kind.as_str() {
            "ClusterRole" => Some("clusterroles"),
            "Role" => Some("roles"),
            _ => None,
        };
        if let Some(resource) = resource {
            let bind = Attributes {
                user: self.user,
                verb: "bind",
                target: Target::Resource {
                    namespace,
                    api_group: &role_ref.api_group,
                    resource,
                    subresource: "",
                    name: &role_ref.name,
                },
            };
            if (self.authorize)(&bind) {
                return Ok(());
            }
        }
        let rules = match (role_ref.kind.as_str(), resource) {
            ("ClusterRole", Some(resource)) => self
                .rbac
                .cluster_role(&role_ref.name)
                .map(|r| r.rules.as_slice())
                .ok_or(EscalationError::RoleNotFound {
                    resource,
                    name: role_ref.name.clone(),
                })?,
            (_, Some(resource)) => self
                .rbac
                .role(namespace, &role_ref.name)
                .map(|r| r.rules.as_slice())
                .ok_or(EscalationError::RoleNotFound {
                    resource,
                    name: role_ref.name.clone(),
                })?,
            (other, None) => return Err(EscalationError::UnsupportedRoleRef(other.to_owned())),
        };
        self.confirm_no_escalation(namespace, rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Meta;
    use serde_json::json;

    fn world() -> Rbac {
        Rbac::from_objects(
            &[],
            &[
                json!({"metadata": {"name": "pod-admin"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]}),
                json!({"metadata": {"name": "secret-reader"}, "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]}),
            ],
            &[],
            &[
                json!({"metadata": {"name": "alice-pods"}, "roleRef": {"kind": "ClusterRole", "name": "pod-admin"}, "subjects": [{"kind": "User", "name": "alice"}]}),
            ],
        )
    }

    fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> Role {
        Role {
            metadata: Meta {
                name: name.into(),
                ..Meta::default()
            },
            rules,
            aggregation_rule: None,
        }
    }

    #[test]
    fn roles_need_held_rules_or_escalate() {
        let rbac = world();
        let no = |_: &Attributes<'_>| false;
        let writer = Writer {
            rbac: &rbac,
            user: UserInfo {
                name: "alice",
                groups: &["system:authenticated".to_owned()],
            },
            authorize: &no,
        };
        let held = cluster_role("p", vec![PolicyRule::resource(&["get"], &[""], &["pods"])]);
        assert_eq!(writer.confirm_role(&held, None, Change::Create, ""), Ok(()));
        let more = cluster_role(
            "s",
            vec![PolicyRule::resource(&["get", "list"], &[""], &["secrets"])],
        );
        assert_eq!(
            writer
                .confirm_role(&more, None, Change::Create, "")
                .unwrap_err()
                .to_string(),
            "user \"alice\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"list\"]}"
        );
        let yes = |a: &Attributes<'_>| a.verb == "escalate";
        let escalating = Writer {
            authorize: &yes,
            ..writer
        };
        assert_eq!(
            escalating.confirm_role(&more, None, Change::Create, ""),
            Ok(())
        );
    }

    #[test]
    fn bindings_need_the_role_or_bind() {
        let rbac = world();
        let no = |_: &Attributes<'_>| false;
        let writer = Writer {
            rbac: &rbac,
            user: UserInfo {
                name: "alice",
                groups: &[],
            },
            authorize: &no,
        };
        let binding = |role: &str| -> Binding {
            serde_json::from_value(json!({"metadata": {"name": "b", "namespace": "ns"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": [{"kind": "User", "name": "bob"}]})).unwrap()
        };
        assert_eq!(
            writer.confirm_binding(&binding("pod-admin"), Change::Create),
            Ok(())
        );
        assert!(matches!(
            writer.confirm_binding(&binding("secret-reader"), Change::Create),
            Err(EscalationError::NotHeld(_))
        ));
        assert_eq!(
            writer.confirm_binding(&binding("missing"), Change::Create),
            Err(EscalationError::RoleNotFound {
                resource: "clusterroles",
                name: "missing".into()
            })
        );
        let bind_reader = |a: &Attributes<'_>| {
            a.verb == "bind"
                && matches!(
                    a.target,
                    Target::Resource {
                        name: "secret-reader",
                        ..
                    }
                )
        };
        let binder = Writer {
            authorize: &bind_reader,
            ..writer
        };
        assert_eq!(
            binder.confirm_binding(&binding("secret-reader"), Change::Create),
            Ok(())
        );
        let masters = ["system:masters".to_owned()];
        let master = Writer {
            user: UserInfo {
                name: "root",
                groups: &masters,
            },
            authorize: &no,
            rbac: &rbac,
        };
        assert_eq!(
            master.confirm_binding(&binding("missing"), Change::Create),
            Ok(())
        );
    }
}
