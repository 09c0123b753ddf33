//! OCI IAM for Portcullis: the policy language, the permission tables, dynamic-group matching
//! rules, and the authorizer that answers "may this principal do this?".
//!
//! Everything here is pure: no I/O, no clocks except where a caller passes one in. The server
//! builds an [`Authorizer`] from the store's IAM objects and asks it about every request.

pub mod catalog;
mod condition;
pub mod dynamic_group;
pub mod ocid;
pub mod policy;
pub mod principal;

mod authorizer;

pub use authorizer::{
    Authorizer, BindError, Binding, DEFAULT_DOMAIN, Decision, Directory, Grant, MissReason,
    NearMiss, PolicyError, PolicyInput, Request, SkippedStatement, StatementRef, validate_policy,
};
pub use catalog::{Permission, Verb};
pub use condition::{VariableValue, Variables};
pub use dynamic_group::MatchingRule;
pub use ocid::{Ocid, OcidError};
pub use principal::{Principal, ResourcePrincipal, UserPrincipal};
