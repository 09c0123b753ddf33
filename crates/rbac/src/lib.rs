//! Kubernetes RBAC as upstream Kubernetes decides it, with no I/O.
//!
//! The rules come from `k8s-interfaces.md` §1–§2: rule matching and rule resolution
//! ([`authorizer`]), `Covers` and rule compaction ([`covers`]), the escalation checks on
//! writes of roles and bindings ([`escalation`]), object validation ([`validation`]),
//! ClusterRole aggregation ([`aggregation`]), the default roles ([`bootstrap`]), and the
//! questions upstream does not answer: who can do something, and which grants are risky
//! ([`analysis`]). Servers hand objects in as JSON and get decisions back; storage and HTTP
//! live elsewhere.

pub mod aggregation;
pub mod analysis;
pub mod authorizer;
pub mod bootstrap;
pub mod covers;
pub mod escalation;
pub mod model;
pub mod validation;

pub use authorizer::{Attributes, Decision, Rbac, Target, UserInfo};
pub use model::{Binding, PolicyRule, Role, RoleRef, Subject};

/// The API group of RBAC objects
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
