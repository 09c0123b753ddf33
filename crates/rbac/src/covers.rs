//! Whether one set of rules covers another (upstream's `Covers`), and the compact form
//! escalation errors list missing rules in (`k8s-interfaces.md` §2).
//!
//! Coverage is decided atom by atom: a servant rule is broken into one rule per API group ×
//! resource × verb (× name), or per URL × verb, and each atom must be covered by a single
//! owner rule. So an owner listing every verb does not cover a servant's `*`, and `/apis/*`
//! does not cover `/apis`.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use crate::model::PolicyRule;

fn one(value: &str) -> Vec<String> {
    vec![value.to_owned()]
}

/// Breaks a rule into atoms (upstream's `BreakdownRule`)
pub fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let mut atoms = Vec::new();
    for group in &rule.api_groups {
        for resource in &rule.resources {
            for verb in &rule.verbs {
                if rule.resource_names.is_empty() {
                    atoms.push(PolicyRule {
                        verbs: one(verb),
                        api_groups: one(group),
                        resources: one(resource),
                        ..PolicyRule::default()
                    });
                } else {
                    for name in &rule.resource_names {
                        atoms.push(PolicyRule {
                            verbs: one(verb),
                            api_groups: one(group),
                            resources: one(resource),
                            resource_names: one(name),
                            ..PolicyRule::default()
                        });
                    }
                }
            }
        }
    }
    for url in &rule.non_resource_urls {
        for verb in &rule.verbs {
            atoms.push(PolicyRule {
                verbs: one(verb),
                non_resource_urls: one(url),
                ..PolicyRule::default()
            });
        }
    }
    atoms
}

fn has(set: &[String], value: &str) -> bool {
    set.iter().any(|s| s == value)
}

fn has_all(set: &[String], values: &[String]) -> bool {
    values.iter().all(|v| has(set, v))
}

fn resources_cover(owner: &[String], servant: &[String]) -> bool {
    if has(owner, "*") || has_all(owner, servant) {
        return true;
    }
    servant.iter().all(|resource| {
        has(owner, resource)
            || resource
                .split_once('/')
                .is_some_and(|(_, sub)| has(owner, &format!("*/{sub}")))
    })
}

fn url_covers(owner: &str, servant: &str) -> bool {
    owner == servant || (owner.ends_with('*') && servant.starts_with(owner.trim_end_matches('*')))
}

/// Whether one owner rule covers one servant rule (upstream's `ruleCovers`)
pub fn rule_covers(owner: &PolicyRule, servant: &PolicyRule) -> bool {
    let verbs = has(&owner.verbs, "*") || has_all(&owner.verbs, &servant.verbs);
    let groups = has(&owner.api_groups, "*") || has_all(&owner.api_groups, &servant.api_groups);
    let resources = resources_cover(&owner.resources, &servant.resources);
    let urls = servant
        .non_resource_urls
        .iter()
        .all(|url| owner.non_resource_urls.iter().any(|o| url_covers(o, url)));
    let names = if servant.resource_names.is_empty() {
        owner.resource_names.is_empty()
    } else {
        owner.resource_names.is_empty() || has_all(&owner.resource_names, &servant.resource_names)
    };
    verbs && groups && resources && urls && names
}

/// Whether `owner` covers every atom of `servant`, and the atoms it does not
pub fn covers(owner: &[PolicyRule], servant: &[PolicyRule]) -> (bool, Vec<PolicyRule>) {
    let missing: Vec<PolicyRule> = servant
        .iter()
        .flat_map(breakdown)
        .filter(|atom| !owner.iter().any(|o| rule_covers(o, atom)))
        .collect();
    (missing.is_empty(), missing)
}

/// Merges rules that name one group, one resource and at most one name, by verb (upstream's
/// `CompactRules`); other rules pass through first, in order
pub fn compact(rules: &[PolicyRule]) -> Vec<PolicyRule> {
    let mut out = Vec::new();
    let mut simple: FxHashMap<(String, String, bool, String), usize> = FxHashMap::default();
    let mut merged: Vec<PolicyRule> = Vec::new();
    for rule in rules {
        let is_simple = rule.api_groups.len() == 1
            && rule.resources.len() == 1
            && rule.resource_names.len() <= 1
            && rule.non_resource_urls.is_empty();
        if !is_simple {
            out.push(rule.clone());
            continue;
        }
        let key = (
            rule.api_groups.concat(),
            rule.resources.concat(),
            !rule.resource_names.is_empty(),
            rule.resource_names.concat(),
        );
        match simple.get(&key).and_then(|i| merged.get_mut(*i)) {
            Some(existing) => existing.verbs.extend(rule.verbs.iter().cloned()),
            None => {
                simple.insert(key, merged.len());
                merged.push(rule.clone());
            }
        }
    }
    out.extend(merged);
    out
}

fn quoted(list: &[String]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|s| serde_json::Value::String(s.clone()).to_string())
        .collect();
    format!("[{}]", items.join(" "))
}

/// A rule as escalation errors print it: `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`
/// (Go's `%q` of a string slice)
pub fn compact_string(rule: &PolicyRule) -> String {
    let mut parts = Vec::new();
    for (label, list) in [
        ("APIGroups", &rule.api_groups),
        ("Resources", &rule.resources),
        ("NonResourceURLs", &rule.non_resource_urls),
        ("ResourceNames", &rule.resource_names),
        ("Verbs", &rule.verbs),
    ] {
        if !list.is_empty() {
            parts.push(format!("{label}:{}", quoted(list)));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

/// The missing rules of an escalation error: compacted, printed, sorted, one per line
pub fn describe_missing(missing: &[PolicyRule]) -> String {
    let lines: BTreeSet<String> = compact(missing).iter().map(compact_string).collect();
    lines.into_iter().collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_verbs_are_not_covered_by_a_list() {
        let owner = [PolicyRule::resource(
            &[
                "get",
                "list",
                "watch",
                "create",
                "update",
                "patch",
                "delete",
                "deletecollection",
            ],
            &[""],
            &["pods"],
        )];
        let servant = [PolicyRule::resource(&["*"], &[""], &["pods"])];
        let (covered, missing) = covers(&owner, &servant);
        assert!(!covered);
        assert_eq!(missing, servant);
    }

    #[test]
    fn subresources_and_urls() {
        let owner = [
            PolicyRule::resource(&["get"], &["apps"], &["*/scale"]),
            PolicyRule::non_resource(&["get"], &["/apis/*"]),
        ];
        assert!(
            covers(
                &owner,
                &[PolicyRule::resource(
                    &["get"],
                    &["apps"],
                    &["deployments/scale"]
                )]
            )
            .0
        );
        assert!(
            !covers(
                &owner,
                &[PolicyRule::resource(&["get"], &["apps"], &["deployments"])]
            )
            .0
        );
        assert!(
            covers(
                &owner,
                &[PolicyRule::non_resource(&["get"], &["/apis/apps"])]
            )
            .0
        );
        assert!(!covers(&owner, &[PolicyRule::non_resource(&["get"], &["/apis"])]).0);
    }

    #[test]
    fn messages_compact_by_resource() {
        let missing = [
            PolicyRule::resource(&["get"], &[""], &["secrets"]),
            PolicyRule::resource(&["list"], &[""], &["secrets"]),
            PolicyRule::non_resource(&["get"], &["/metrics"]),
        ];
        assert_eq!(
            describe_missing(&missing),
            "{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"list\"]}\n{NonResourceURLs:[\"/metrics\"], Verbs:[\"get\"]}"
        );
    }
}
