//! ClusterRole aggregation (`k8s-interfaces.md` §1.5): a ClusterRole with an
//! `aggregationRule` holds the rules of every ClusterRole its selectors match.
//!
//! Upstream runs this as a controller; Portcullis runs it after every ClusterRole write, to
//! a fixed point, because aggregated roles feed each other (`view` into `edit` into `admin`).

use crate::model::{PolicyRule, Role};

/// The rules an aggregated role should hold: for each selector in order, the rules of the
/// matching ClusterRoles sorted by name (itself excluded), each rule once
fn aggregated_rules(role: &Role, cluster_roles: &[Role]) -> Option<Vec<PolicyRule>> {
    let rule = role.aggregation_rule.as_ref()?;
    let mut rules: Vec<PolicyRule> = Vec::new();
    for selector in &rule.cluster_role_selectors {
        let mut matching: Vec<&Role> = cluster_roles
            .iter()
            .filter(|r| {
                r.metadata.name != role.metadata.name && selector.matches(&r.metadata.labels)
            })
            .collect();
        matching.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        for source in matching {
            for candidate in &source.rules {
                if !rules.contains(candidate) {
                    rules.push(candidate.clone());
                }
            }
        }
    }
    Some(rules)
}

/// Recomputes every aggregated ClusterRole until nothing changes, and returns the roles whose
/// rules changed, with their new rules
pub fn aggregate(cluster_roles: &[Role]) -> Vec<(String, Vec<PolicyRule>)> {
    let mut working = cluster_roles.to_vec();
    // Each pass settles at least one more level of a chain; a chain is at most as long as
    // the list, and a cycle settles once every member holds the union.
    for _ in 0..=working.len() {
        let mut changed = false;
        for i in 0..working.len() {
            let Some(role) = working.get(i) else { continue };
            let Some(rules) = aggregated_rules(role, &working) else {
                continue;
            };
            if let Some(role) = working.get_mut(i)
                && role.rules != rules
            {
                role.rules = rules;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    working
        .into_iter()
        .zip(cluster_roles)
        .filter(|(new, old)| new.rules != old.rules)
        .map(|(new, _)| (new.metadata.name, new.rules))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap;

    #[test]
    fn default_roles_aggregate_view_into_edit_into_admin() {
        let roles = bootstrap::cluster_roles().unwrap();
        let changes = aggregate(&roles);
        let rules_of = |name: &str| {
            changes
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, r)| r.clone())
                .unwrap_or_default()
        };
        let (view, edit, admin) = (rules_of("view"), rules_of("edit"), rules_of("admin"));
        assert!(!view.is_empty());
        assert!(view.iter().all(|r| edit.contains(r)));
        assert!(edit.iter().all(|r| admin.contains(r)));
        assert!(admin.len() > edit.len() && edit.len() > view.len());
        // view does not read secrets; edit does.
        let reads_secrets = |rules: &[PolicyRule]| {
            rules.iter().any(|r| {
                r.resources.iter().any(|x| x == "secrets") && r.verbs.iter().any(|v| v == "get")
            })
        };
        assert!(!reads_secrets(&view) && reads_secrets(&edit));
        // Aggregating again changes nothing.
        let mut settled = roles.clone();
        for (name, rules) in changes {
            if let Some(role) = settled.iter_mut().find(|r| r.metadata.name == name) {
                role.rules = rules;
            }
        }
        assert!(aggregate(&settled).is_empty());
    }
}
