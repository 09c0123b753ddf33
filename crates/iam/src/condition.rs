//! Evaluating `where` clauses and matching rules against a request.
//!
//! Matching is case-insensitive. A variable that does not apply to the request makes its
//! comparison false, whatever the operator: that is how OCI lets a statement decline the
//! operations its condition cannot speak about (`oci-reference.md` §3.2).

use std::collections::BTreeMap;

use crate::policy::parser::{parse_time, parse_time_of_day};
use crate::policy::{Comparison, Condition, Operator, Value};

/// The value a variable takes in one request
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum VariableValue {
    /// A single string (OCIDs, names, `'true'`/`'false'`)
    Text(String),
    /// Several values; `=` holds if any matches, `!=` if none does
    List(Vec<String>),
}

impl From<&str> for VariableValue {
    fn from(text: &str) -> Self {
        VariableValue::Text(text.to_owned())
    }
}

impl From<String> for VariableValue {
    fn from(text: String) -> Self {
        VariableValue::Text(text)
    }
}

/// Request variables supplied by the caller: `target.*` for the resource being acted on and
/// any `request.*` the server knows (`request.networkSource.name`, ...)
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Variables(BTreeMap<String, VariableValue>);

impl Variables {
    /// No variables
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a variable (its name is matched case-insensitively)
    pub fn set(&mut self, name: &str, value: impl Into<VariableValue>) {
        self.0.insert(name.to_ascii_lowercase(), value.into());
    }

    /// Builder form of [`Variables::set`]
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<VariableValue>) -> Self {
        self.set(name, value);
        self
    }

    /// Looks a variable up by its lowercased name
    pub fn get(&self, name: &str) -> Option<&VariableValue> {
        self.0.get(name)
    }

    /// Iterates over the variables
    pub fn iter(&self) -> impl Iterator<Item = (&str, &VariableValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// A view of one variable's value during evaluation
#[derive(Clone, Debug)]
pub(crate) enum Lookup<'a> {
    Text(std::borrow::Cow<'a, str>),
    List(&'a [String]),
}

/// Anything conditions can be evaluated against
pub(crate) trait Scope {
    /// The variable's value, or `None` if it does not apply
    fn lookup(&self, variable: &str) -> Option<Lookup<'_>>;

    /// The request time, for `request.utc-timestamp` operators
    fn now(&self) -> Option<jiff::Timestamp>;
}

pub(crate) fn evaluate(condition: &Condition, scope: &dyn Scope) -> bool {
    match condition {
        Condition::All(items) => items.iter().all(|c| evaluate(c, scope)),
        Condition::Any(items) => items.iter().any(|c| evaluate(c, scope)),
        Condition::Compare(comparison) => compare(comparison, scope),
    }
}

fn compare(comparison: &Comparison, scope: &dyn Scope) -> bool {
    let variable = comparison.variable.as_str();
    if variable == "request.utc-timestamp"
        && let Some(result) = compare_timestamp(&comparison.operator, scope)
    {
        return result;
    }
    let Some(found) = scope.lookup(variable) else {
        return false;
    };
    let values: Vec<&str> = match &found {
        Lookup::Text(text) => vec![text.as_ref()],
        Lookup::List(list) => list.iter().map(String::as_str).collect(),
    };
    let any = |value: &Value| values.iter().any(|v| matches(variable, v, value));
    match &comparison.operator {
        Operator::Equal(value) => any(value),
        Operator::NotEqual(value) => !any(value),
        Operator::In(options) => options.iter().any(any),
        Operator::Present => true,
        Operator::Between(low, high) if variable == "request.utc-timestamp.time-of-day" => {
            let (Some(now), Some(low), Some(high)) = (
                values.first().and_then(|v| parse_time_of_day(v)),
                literal(low).and_then(parse_time_of_day),
                literal(high).and_then(parse_time_of_day),
            ) else {
                return false;
            };
            if low <= high {
                low <= now && now <= high
            } else {
                // The window wraps past midnight.
                now >= low || now <= high
            }
        }
        Operator::Before(_) | Operator::After(_) | Operator::Between(..) => false,
    }
}

fn compare_timestamp(operator: &Operator, scope: &dyn Scope) -> Option<bool> {
    let now = scope.now()?;
    let at = |value: &Value| literal(value).and_then(parse_time);
    Some(match operator {
        Operator::Before(value) => at(value).is_some_and(|t| now < t),
        Operator::After(value) => at(value).is_some_and(|t| now > t),
        Operator::Between(low, high) => match (at(low), at(high)) {
            (Some(low), Some(high)) => low <= now && now <= high,
            _ => false,
        },
        _ => return None,
    })
}

fn literal(value: &Value) -> Option<&str> {
    match value {
        Value::Literal(text) => Some(text),
        Value::Pattern(_) => None,
    }
}

fn matches(variable: &str, actual: &str, expected: &Value) -> bool {
    match expected {
        Value::Literal(text) => {
            if equal_ignore_case(actual, text) {
                return true;
            }
            // Calendar variables compare as numbers, so `'01'` equals `'1'`.
            variable.starts_with("request.utc-timestamp.")
                && matches!(
                    (actual.trim().parse::<u32>(), text.trim().parse::<u32>()),
                    (Ok(a), Ok(b)) if a == b
                )
        }
        Value::Pattern(pattern) => glob_matches(pattern, actual),
    }
}

/// Case-insensitive equality that stays allocation-free for ASCII
pub(crate) fn equal_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

/// `*` matches any run of characters; everything else matches itself, ignoring case
pub(crate) fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    // Iterative wildcard matching with one backtrack point: linear in practice, and never
    // exponential however many stars an attacker writes.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(c) if Some(c) == text.get(t) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern.iter().skip(p).all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_matches("A-Users-*", "a-users-east"));
        assert!(glob_matches("*HR", "finance-hr"));
        assert!(glob_matches("*HR*", "xhrx"));
        assert!(glob_matches("HR", "hr"));
        assert!(!glob_matches("HR", "hrx"));
        assert!(!glob_matches("A-*", "B-1"));
        assert!(glob_matches("a*b*c", "aXXbYYc"));
        assert!(!glob_matches("a*b*c", "aXXbYY"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches(
            "**********a",
            &"b".repeat(100).replace('b', "a")
        ));
        assert!(!glob_matches("*a*a*a*a*a*a*a*b", &"a".repeat(64)));
    }
}
