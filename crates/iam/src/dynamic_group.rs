//! Dynamic-group matching rules: which resource principals belong to a dynamic group.
//!
//! `ALL {resource.type = 'cluster', resource.compartment.id = '<ocid>'}`, nested `any`/`all`,
//! `instance.*`, `resource.*` and `tag.<ns>.<key>.value` (`oci-reference.md` §3.6).

use std::borrow::Cow;
use std::fmt;

use crate::condition::{Lookup, Scope, evaluate};
use crate::policy::parser::parse_matching_rule;
use crate::policy::{Condition, PolicySyntaxError};
use crate::principal::ResourcePrincipal;

/// A parsed matching rule
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct MatchingRule(Condition);

impl MatchingRule {
    /// Parses and validates a rule's text
    pub fn parse(text: &str) -> Result<Self, PolicySyntaxError> {
        parse_matching_rule(text).map(MatchingRule)
    }

    /// Whether `principal` satisfies the rule
    pub fn matches(&self, principal: &ResourcePrincipal) -> bool {
        evaluate(&self.0, &RuleScope(principal))
    }

    /// The rule as a condition tree
    pub fn condition(&self) -> &Condition {
        &self.0
    }
}

impl fmt::Display for MatchingRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

struct RuleScope<'a>(&'a ResourcePrincipal);

impl Scope for RuleScope<'_> {
    fn lookup(&self, variable: &str) -> Option<Lookup<'_>> {
        let p = self.0;
        let text = |s: &str| Some(Lookup::Text(Cow::Owned(s.to_owned())));
        let is_instance = p.resource_type.eq_ignore_ascii_case("instance");
        match variable {
            "resource.id" => text(&p.id),
            "resource.type" => text(&p.resource_type),
            "resource.compartment.id" => text(&p.compartment_id),
            "instance.id" if is_instance => text(&p.id),
            "instance.compartment.id" if is_instance => text(&p.compartment_id),
            _ => {
                let key = variable.strip_prefix("tag.")?.strip_suffix(".value")?;
                p.tags
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| Lookup::Text(Cow::Owned(v.clone())))
            }
        }
    }

    fn now(&self) -> Option<jiff::Timestamp> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(compartment: &str) -> ResourcePrincipal {
        ResourcePrincipal {
            id: "ocid1.cluster.oc1.iad.aaaa".into(),
            resource_type: "cluster".into(),
            compartment_id: compartment.into(),
            tags: [("ops.team".to_owned(), "blue".to_owned())].into(),
            ..Default::default()
        }
    }

    #[test]
    fn oke_cluster_rule() {
        let rule = MatchingRule::parse(
            "ALL {resource.type = 'cluster', resource.compartment.id = 'ocid1.compartment.oc1..c1'}",
        )
        .unwrap();
        assert!(rule.matches(&cluster("ocid1.compartment.oc1..c1")));
        assert!(!rule.matches(&cluster("ocid1.compartment.oc1..c2")));
    }

    #[test]
    fn nested_and_tags() {
        let rule = MatchingRule::parse(
            "ANY {ALL {instance.compartment.id = 'ocid1.compartment.oc1..c1'}, ALL {resource.type = 'cluster', tag.ops.team.value = 'BLUE'}}",
        )
        .unwrap();
        assert!(rule.matches(&cluster("x")));
        let exists = MatchingRule::parse("tag.ops.team.value").unwrap();
        assert!(exists.matches(&cluster("x")));
        let missing = MatchingRule::parse("tag.ops.owner.value").unwrap();
        assert!(!missing.matches(&cluster("x")));
        // instance.* does not apply to a cluster.
        let instance = MatchingRule::parse("instance.compartment.id = 'x'").unwrap();
        assert!(!instance.matches(&cluster("x")));
    }

    #[test]
    fn rejects_policy_variables_and_bad_syntax() {
        assert!(MatchingRule::parse("request.user.id = 'x'").is_err());
        assert!(MatchingRule::parse("ALL {resource.type = 'cluster'").is_err());
        assert!(MatchingRule::parse("resource.type == 'cluster'").is_err());
        assert!(MatchingRule::parse("").is_err());
    }
}
