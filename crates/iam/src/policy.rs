//! OCI's policy language: the statement AST, its parser and its canonical printer.
//!
//! `Allow <subject> to <verb> <resource-type> in <location> [where <conditions>]`, plus the
//! cross-tenancy `Define`, `Endorse` and `Admit` forms, which parse but have no effect in a
//! single tenancy. The grammar is in `oci-reference.md` §3.1.

mod display;
pub(crate) mod parser;

use crate::catalog::Verb;

pub use parser::{PolicySyntaxError, parse_statement};

/// One parsed policy statement
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Statement {
    /// `Allow ...`: the only form that grants anything
    Allow(AllowStatement),
    /// `Define tenancy|group|dynamic-group <alias> as <ocid>`
    Define(DefineStatement),
    /// `Endorse <subject> to <verb> <type> in tenancy <alias>|any-tenancy [where ...]`
    Endorse(CrossTenancyStatement),
    /// `Admit <subject> of tenancy <alias> to <verb> <type> in <location> [where ...]`
    Admit(CrossTenancyStatement),
}

impl Statement {
    /// Whether the statement can grant access in a single-tenancy deployment
    pub fn has_effect(&self) -> bool {
        matches!(self, Statement::Allow(_))
    }
}

/// An `Allow` statement
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AllowStatement {
    /// Who is allowed
    pub subject: Subject,
    /// The verb
    pub verb: Verb,
    /// The resource type, family or `all-resources`, lowercased
    pub resource: String,
    /// Where
    pub location: Location,
    /// The `where` clause, if any
    pub condition: Option<Condition>,
}

/// The subject of a statement
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Subject {
    /// One or more groups and dynamic groups
    Principals(Vec<SubjectItem>),
    /// `any-user`: every user, resource principal, instance principal and service
    AnyUser,
    /// `any-group`: every user and resource principal
    AnyGroup,
    /// `service <name>, ...`
    Services(Vec<String>),
}

/// One entry of a subject list
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum SubjectItem {
    /// `group <name>` or `group id <ocid>`
    Group(GroupRef),
    /// `dynamic-group <name>` or `dynamic-group id <ocid>`
    DynamicGroup(GroupRef),
}

/// How a statement names a group
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum GroupRef {
    /// By name, optionally qualified by its identity domain (`'Default'/'Admins'`)
    Name {
        /// The identity domain, if written
        domain: Option<String>,
        /// The group's name
        name: String,
    },
    /// By OCID
    Id(String),
}

/// Where a statement applies
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Location {
    /// `tenancy`: the root compartment and everything under it
    Tenancy,
    /// `compartment a:b:c`: a path relative to the compartment the policy is attached to
    CompartmentPath(Vec<String>),
    /// `compartment id <ocid>`
    CompartmentId(String),
}

/// A `where` clause
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Condition {
    /// `all {...}`: every condition holds
    All(Vec<Condition>),
    /// `any {...}`: at least one condition holds
    Any(Vec<Condition>),
    /// `variable <op> value`
    Compare(Comparison),
}

/// A single `variable <op> value` test
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Comparison {
    /// The variable, lowercased (`target.repo.name`)
    pub variable: String,
    /// The operator and its operand(s)
    pub operator: Operator,
}

/// Comparison operators and their operands
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Operator {
    /// `=`
    Equal(Value),
    /// `!=`
    NotEqual(Value),
    /// `before`, for `request.utc-timestamp`
    Before(Value),
    /// `after`, for `request.utc-timestamp`
    After(Value),
    /// `in (v, ...)`
    In(Vec<Value>),
    /// `between a and b`
    Between(Value, Value),
    /// A `tag.<ns>.<key>.value` matching-rule variable written alone: the tag is set
    Present,
}

/// A condition operand
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Value {
    /// A quoted or bare literal
    Literal(String),
    /// `/pattern/` with `*` wildcards
    Pattern(String),
}

/// `Define tenancy|group|dynamic-group <alias> as <ocid>`
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct DefineStatement {
    /// `tenancy`, `group` or `dynamic-group`
    pub kind: String,
    /// The alias being defined
    pub alias: String,
    /// The OCID it stands for
    pub ocid: String,
}

/// The shared shape of `Endorse` and `Admit`
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct CrossTenancyStatement {
    /// The subject, as written
    pub subject: Subject,
    /// For `Admit`: the tenancy alias the subject comes from
    pub of_tenancy: Option<String>,
    /// The verb
    pub verb: Verb,
    /// The resource type, lowercased
    pub resource: String,
    /// For `Endorse`: the tenancy alias (or `any-tenancy`); for `Admit`: the location
    pub target: CrossTenancyTarget,
    /// The `where` clause, if any
    pub condition: Option<Condition>,
}

/// Where a cross-tenancy statement points
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum CrossTenancyTarget {
    /// `in tenancy <alias>`
    Tenancy(String),
    /// `in any-tenancy`
    AnyTenancy,
    /// `in <location>` (Admit)
    Location(Location),
}
