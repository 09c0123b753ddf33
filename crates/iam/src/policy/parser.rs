//! A hand-written recursive-descent parser for policy statements.
//!
//! Hand-written rather than generated so that every error can say, in the user's terms, what
//! was expected at which line and column. Keywords are case-insensitive, whitespace (including
//! line breaks) is insignificant, and nothing here panics on any input.

use std::fmt;
use std::str::FromStr;

use super::{
    AllowStatement, Comparison, Condition, CrossTenancyStatement, CrossTenancyTarget,
    DefineStatement, GroupRef, Location, Operator, Statement, Subject, SubjectItem, Value,
};
use crate::catalog::{self, Verb};
use crate::ocid::Ocid;

/// Conditions deeper than this are rejected rather than risking the stack
const MAX_DEPTH: usize = 32;

/// Statements longer than this are rejected outright
pub(crate) const MAX_STATEMENT_BYTES: usize = 16 * 1024;

/// A statement that does not follow the grammar
///
/// Positions are 1-based and count characters, not bytes.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub struct PolicySyntaxError {
    line: usize,
    column: usize,
    expected: String,
    found: String,
}

impl PolicySyntaxError {
    /// 1-based line of the offending token
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column of the offending token
    pub fn column(&self) -> usize {
        self.column
    }

    /// What the grammar allowed at that point
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// What was there instead
    pub fn found(&self) -> &str {
        &self.found
    }
}

impl fmt::Display for PolicySyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: expected {}, found {}",
            self.line, self.column, self.expected, self.found
        )
    }
}

/// Which variables a condition may name
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum VariableRoots {
    /// Policy `where` clauses: `request.*` and `target.*`
    Policy,
    /// Dynamic-group matching rules: `instance.*`, `resource.*` and `tag.*`
    MatchingRule,
}

/// Parses one policy statement
pub fn parse_statement(text: &str) -> Result<Statement, PolicySyntaxError> {
    let mut parser = Parser::new(text);
    if text.len() > MAX_STATEMENT_BYTES {
        return Err(parser.error_here(format!(
            "a statement of at most {MAX_STATEMENT_BYTES} bytes"
        )));
    }
    let statement = parser.statement()?;
    parser.end()?;
    Ok(statement)
}

/// Parses a dynamic-group matching rule
pub(crate) fn parse_matching_rule(text: &str) -> Result<Condition, PolicySyntaxError> {
    let mut parser = Parser::new(text);
    if text.len() > MAX_STATEMENT_BYTES {
        return Err(parser.error_here(format!("a rule of at most {MAX_STATEMENT_BYTES} bytes")));
    }
    let condition = parser.condition(VariableRoots::MatchingRule, 0)?;
    parser.end()?;
    Ok(condition)
}

const KEYWORDS: &[&str] = &[
    "allow",
    "define",
    "endorse",
    "admit",
    "to",
    "in",
    "where",
    "id",
    "group",
    "dynamic-group",
    "any-user",
    "any-group",
    "service",
    "tenancy",
    "any-tenancy",
    "compartment",
    "of",
    "as",
    "any",
    "all",
    "and",
    "before",
    "after",
    "between",
    "inspect",
    "read",
    "use",
    "manage",
];

/// Keywords that end a name list; a name spelled like one must be quoted
const STRUCTURAL: &[&str] = &["to", "in", "where", "of", "as"];

/// Whether `word` is a keyword somewhere in the grammar (such names are printed quoted)
pub(crate) fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// Characters of a bare word: names, OCIDs, variables, resource types
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '+')
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser { src, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
    }

    fn peek_char(&mut self) -> Option<char> {
        self.skip_ws();
        self.rest().chars().next()
    }

    /// The bare word at the cursor, without consuming it
    fn peek_word(&mut self) -> &'a str {
        self.skip_ws();
        let rest = self.rest();
        let end = rest
            .char_indices()
            .find(|(_, c)| !is_word_char(*c))
            .map_or(rest.len(), |(i, _)| i);
        rest.get(..end).unwrap_or("")
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let word = self.peek_word();
        if word.eq_ignore_ascii_case(keyword) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), PolicySyntaxError> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.error_here(format!("`{keyword}`")))
        }
    }

    fn eat_char(&mut self, wanted: char) -> bool {
        if self.peek_char() == Some(wanted) {
            self.pos += wanted.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect_char(&mut self, wanted: char) -> Result<(), PolicySyntaxError> {
        if self.eat_char(wanted) {
            Ok(())
        } else {
            Err(self.error_here(format!("`{wanted}`")))
        }
    }

    fn end(&mut self) -> Result<(), PolicySyntaxError> {
        self.skip_ws();
        if self.rest().is_empty() {
            Ok(())
        } else {
            Err(self.error_here("the end of the statement"))
        }
    }

    fn describe_here(&mut self) -> String {
        self.skip_ws();
        let word = self.peek_word();
        if !word.is_empty() {
            let shown: String = word.chars().take(60).collect();
            return format!("`{shown}`");
        }
        match self.rest().chars().next() {
            None => "the end of the statement".to_owned(),
            Some(c) => format!("`{c}`"),
        }
    }

    fn error_here(&mut self, expected: impl Into<String>) -> PolicySyntaxError {
        let found = self.describe_here();
        self.error_at(self.pos, expected, found)
    }

    fn error_at(
        &self,
        pos: usize,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> PolicySyntaxError {
        let before = self.src.get(..pos).unwrap_or(self.src);
        let line = before.matches('\n').count() + 1;
        let column = before
            .rsplit('\n')
            .next()
            .map_or(0, |tail| tail.chars().count())
            + 1;
        PolicySyntaxError {
            line,
            column,
            expected: expected.into(),
            found: found.into(),
        }
    }

    fn word(&mut self, what: &str) -> Result<&'a str, PolicySyntaxError> {
        let word = self.peek_word();
        if word.is_empty() {
            return Err(self.error_here(what));
        }
        self.pos += word.len();
        Ok(word)
    }

    /// A quoted string, if the cursor is at a quote
    fn quoted(&mut self) -> Option<Result<String, PolicySyntaxError>> {
        let quote = match self.peek_char() {
            Some(q @ ('\'' | '"')) => q,
            _ => return None,
        };
        let start = self.pos;
        let body = self.rest().get(1..).unwrap_or("");
        match body.find(quote) {
            Some(end) => {
                let text = body.get(..end).unwrap_or("").to_owned();
                self.pos += 1 + end + 1;
                Some(Ok(text))
            }
            None => Some(Err(self.error_at(
                start,
                format!("a closing `{quote}`"),
                "the end of the statement",
            ))),
        }
    }

    /// A name: a bare word or a quoted string
    fn name(&mut self, what: &str) -> Result<String, PolicySyntaxError> {
        let start = self.pos;
        if let Some(quoted) = self.quoted() {
            let text = quoted?;
            if text.trim().is_empty() {
                return Err(self.error_at(start, what, "an empty name"));
            }
            return Ok(text);
        }
        let word = self.peek_word();
        // Structural keywords are never bare names: `group A, to ...` is a missing name, not
        // a group called `to`. Such names must be quoted.
        if STRUCTURAL.iter().any(|k| k.eq_ignore_ascii_case(word)) {
            return Err(self.error_here(what));
        }
        Ok(self.word(what)?.to_owned())
    }

    fn ocid(&mut self) -> Result<String, PolicySyntaxError> {
        self.skip_ws();
        let start = self.pos;
        let text = match self.quoted() {
            Some(quoted) => quoted?,
            None => self.word("an OCID")?.to_owned(),
        };
        match text.parse::<Ocid>() {
            Ok(_) => Ok(text),
            Err(_) => Err(self.error_at(start, "an OCID", format!("`{text}`"))),
        }
    }

    fn statement(&mut self) -> Result<Statement, PolicySyntaxError> {
        if self.eat_keyword("allow") {
            self.allow().map(Statement::Allow)
        } else if self.eat_keyword("define") {
            self.define().map(Statement::Define)
        } else if self.eat_keyword("endorse") {
            self.endorse().map(Statement::Endorse)
        } else if self.eat_keyword("admit") {
            self.admit().map(Statement::Admit)
        } else {
            Err(self.error_here("`Allow`, `Define`, `Endorse` or `Admit`"))
        }
    }

    fn allow(&mut self) -> Result<AllowStatement, PolicySyntaxError> {
        let subject = self.subject()?;
        self.expect_keyword("to")?;
        let (verb, resource) = self.verb_and_resource()?;
        self.expect_keyword("in")?;
        let location = self.location()?;
        let condition = self.where_clause()?;
        Ok(AllowStatement {
            subject,
            verb,
            resource,
            location,
            condition,
        })
    }

    fn define(&mut self) -> Result<DefineStatement, PolicySyntaxError> {
        let kind = if self.eat_keyword("tenancy") {
            "tenancy"
        } else if self.eat_keyword("dynamic-group") {
            "dynamic-group"
        } else if self.eat_keyword("group") {
            "group"
        } else {
            return Err(self.error_here("`tenancy`, `group` or `dynamic-group`"));
        };
        let alias = self.name("an alias")?;
        self.expect_keyword("as")?;
        let ocid = self.ocid()?;
        Ok(DefineStatement {
            kind: kind.to_owned(),
            alias,
            ocid,
        })
    }

    fn endorse(&mut self) -> Result<CrossTenancyStatement, PolicySyntaxError> {
        let subject = self.subject()?;
        self.expect_keyword("to")?;
        let (verb, resource) = self.verb_and_resource()?;
        self.expect_keyword("in")?;
        let target = if self.eat_keyword("any-tenancy") {
            CrossTenancyTarget::AnyTenancy
        } else if self.eat_keyword("tenancy") {
            CrossTenancyTarget::Tenancy(self.name("a tenancy alias")?)
        } else {
            return Err(self.error_here("`tenancy <alias>` or `any-tenancy`"));
        };
        let condition = self.where_clause()?;
        Ok(CrossTenancyStatement {
            subject,
            of_tenancy: None,
            verb,
            resource,
            target,
            condition,
        })
    }

    fn admit(&mut self) -> Result<CrossTenancyStatement, PolicySyntaxError> {
        let subject = self.subject()?;
        self.expect_keyword("of")?;
        self.expect_keyword("tenancy")?;
        let of_tenancy = Some(self.name("a tenancy alias")?);
        self.expect_keyword("to")?;
        let (verb, resource) = self.verb_and_resource()?;
        self.expect_keyword("in")?;
        let target = CrossTenancyTarget::Location(self.location()?);
        let condition = self.where_clause()?;
        Ok(CrossTenancyStatement {
            subject,
            of_tenancy,
            verb,
            resource,
            target,
            condition,
        })
    }

    fn subject(&mut self) -> Result<Subject, PolicySyntaxError> {
        if self.eat_keyword("any-user") {
            return Ok(Subject::AnyUser);
        }
        if self.eat_keyword("any-group") {
            return Ok(Subject::AnyGroup);
        }
        if self.eat_keyword("service") {
            let mut services = vec![self.name("a service name")?];
            while self.eat_char(',') {
                services.push(self.name("a service name")?);
            }
            return Ok(Subject::Services(services));
        }
        let mut items = Vec::new();
        let mut dynamic = None;
        loop {
            if self.eat_keyword("dynamic-group") {
                dynamic = Some(true);
            } else if self.eat_keyword("group") {
                dynamic = Some(false);
            }
            let Some(is_dynamic) = dynamic else {
                return Err(self.error_here(
                    "a subject (`group`, `dynamic-group`, `any-user`, `any-group` or `service`)",
                ));
            };
            let group = self.group_ref()?;
            items.push(if is_dynamic {
                SubjectItem::DynamicGroup(group)
            } else {
                SubjectItem::Group(group)
            });
            if !self.eat_char(',') {
                break;
            }
        }
        Ok(Subject::Principals(items))
    }

    fn group_ref(&mut self) -> Result<GroupRef, PolicySyntaxError> {
        if self.eat_keyword("id") {
            return Ok(GroupRef::Id(self.ocid()?));
        }
        let first = self.name("a group name or `id <ocid>`")?;
        if self.eat_char('/') {
            let name = self.name("a group name after the identity domain")?;
            return Ok(GroupRef::Name {
                domain: Some(first),
                name,
            });
        }
        Ok(GroupRef::Name {
            domain: None,
            name: first,
        })
    }

    fn verb_and_resource(&mut self) -> Result<(Verb, String), PolicySyntaxError> {
        self.skip_ws();
        let verb_pos = self.pos;
        let verb_word = self.peek_word();
        let Ok(verb) = Verb::from_str(verb_word) else {
            return Err(self.error_at(
                verb_pos,
                "a verb (`inspect`, `read`, `use` or `manage`)",
                self.clone_describe(),
            ));
        };
        self.pos += verb_word.len();
        self.skip_ws();
        let type_pos = self.pos;
        let resource = self.peek_word();
        if resource.is_empty() || catalog::resolve_resource(resource).is_none() {
            let found = self.clone_describe();
            return Err(self.error_at(
                type_pos,
                "a resource type, a `*-family` or `all-resources`",
                found,
            ));
        }
        self.pos += resource.len();
        Ok((verb, resource.to_ascii_lowercase()))
    }

    fn clone_describe(&self) -> String {
        self.describe_at(self.pos)
    }

    fn describe_at(&self, pos: usize) -> String {
        let mut copy = Parser { src: self.src, pos };
        if let Some(Ok(text)) = copy.quoted() {
            let shown: String = text.chars().take(60).collect();
            return format!("`'{shown}'`");
        }
        copy.pos = pos;
        copy.describe_here()
    }

    fn location(&mut self) -> Result<Location, PolicySyntaxError> {
        if self.eat_keyword("tenancy") {
            return Ok(Location::Tenancy);
        }
        if !self.eat_keyword("compartment") {
            return Err(self.error_here("`tenancy` or `compartment`"));
        }
        if self.eat_keyword("id") {
            return Ok(Location::CompartmentId(self.ocid()?));
        }
        let mut path = vec![self.name("a compartment name or `id <ocid>`")?];
        while self.eat_char(':') {
            path.push(self.name("a compartment name after `:`")?);
        }
        Ok(Location::CompartmentPath(path))
    }

    fn where_clause(&mut self) -> Result<Option<Condition>, PolicySyntaxError> {
        if self.peek_char().is_none() {
            return Ok(None);
        }
        if !self.eat_keyword("where") {
            return Err(self.error_here("`where` or the end of the statement"));
        }
        self.condition(VariableRoots::Policy, 0).map(Some)
    }

    fn condition(
        &mut self,
        roots: VariableRoots,
        depth: usize,
    ) -> Result<Condition, PolicySyntaxError> {
        if depth > MAX_DEPTH {
            return Err(
                self.error_here(format!("at most {MAX_DEPTH} levels of nested `any`/`all`"))
            );
        }
        let word = self.peek_word();
        let is_any = word.eq_ignore_ascii_case("any");
        if is_any || word.eq_ignore_ascii_case("all") {
            let save = self.pos;
            self.pos += word.len();
            if self.eat_char('{') {
                let mut items = vec![self.condition(roots, depth + 1)?];
                while self.eat_char(',') {
                    items.push(self.condition(roots, depth + 1)?);
                }
                if !self.eat_char('}') {
                    return Err(self.error_here("`,` or `}`"));
                }
                return Ok(if is_any {
                    Condition::Any(items)
                } else {
                    Condition::All(items)
                });
            }
            self.pos = save;
        }
        self.comparison(roots).map(Condition::Compare)
    }

    fn comparison(&mut self, roots: VariableRoots) -> Result<Comparison, PolicySyntaxError> {
        self.skip_ws();
        let var_pos = self.pos;
        let expected_variable = match roots {
            VariableRoots::Policy => {
                "a condition (`request.<...>` or `target.<...>` variable, or `any {` / `all {`)"
            }
            VariableRoots::MatchingRule => {
                "a rule (`instance.<...>`, `resource.<...>` or `tag.<...>` variable, or `any {` / `all {`)"
            }
        };
        let variable = self.word(expected_variable)?.to_ascii_lowercase();
        let allowed_roots: &[&str] = match roots {
            VariableRoots::Policy => &["request.", "target."],
            VariableRoots::MatchingRule => &["instance.", "resource.", "tag."],
        };
        let valid = allowed_roots
            .iter()
            .any(|root| variable.starts_with(root) && variable.len() > root.len())
            && !variable.ends_with('.')
            && !variable.contains("..");
        if !valid {
            return Err(self.error_at(var_pos, expected_variable, format!("`{variable}`")));
        }
        let op_pos = {
            self.skip_ws();
            self.pos
        };
        let mut value_pos = op_pos;
        let mut mark = |parser: &mut Self| {
            parser.skip_ws();
            value_pos = parser.pos;
        };
        let operator = if self.rest().starts_with("!=") {
            self.pos += 2;
            Operator::NotEqual(self.value()?)
        } else if self.eat_char('=') {
            Operator::Equal(self.value()?)
        } else if self.eat_keyword("before") {
            mark(self);
            Operator::Before(self.value()?)
        } else if self.eat_keyword("after") {
            mark(self);
            Operator::After(self.value()?)
        } else if self.eat_keyword("in") {
            self.expect_char('(')?;
            let mut values = vec![self.value()?];
            while self.eat_char(',') {
                values.push(self.value()?);
            }
            self.expect_char(')')?;
            Operator::In(values)
        } else if self.eat_keyword("between") {
            mark(self);
            let low = self.value()?;
            self.expect_keyword("and")?;
            Operator::Between(low, self.value()?)
        } else if roots == VariableRoots::MatchingRule && variable.starts_with("tag.") {
            // `tag.<ns>.<key>.value` alone matches any value of the tag.
            return Ok(Comparison {
                variable,
                operator: Operator::Present,
            });
        } else {
            return Err(
                self.error_here("an operator (`=`, `!=`, `before`, `after`, `in` or `between`)")
            );
        };
        check_operator(&variable, &operator).map_err(|problem| match problem {
            OperatorProblem::Operator(expected) => {
                self.error_at(op_pos, expected, format!("`{variable}`"))
            }
            OperatorProblem::Value(expected) => {
                let found = self.describe_at(value_pos);
                self.error_at(value_pos, expected, found)
            }
        })?;
        Ok(Comparison { variable, operator })
    }

    fn value(&mut self) -> Result<Value, PolicySyntaxError> {
        let start = {
            self.skip_ws();
            self.pos
        };
        if let Some(quoted) = self.quoted() {
            return quoted.map(Value::Literal);
        }
        if self.eat_char('/') {
            let rest = self.rest();
            let end = match rest.find(['/', '\n']) {
                Some(i) if rest.get(i..).is_some_and(|r| r.starts_with('/')) => i,
                _ => {
                    return Err(self.error_at(
                        start,
                        "a closing `/` for the pattern",
                        "the end of the line",
                    ));
                }
            };
            let pattern = rest.get(..end).unwrap_or("").to_owned();
            if pattern.is_empty() {
                return Err(self.error_at(start, "a non-empty pattern", "`//`"));
            }
            self.pos += end + 1;
            return Ok(Value::Pattern(pattern));
        }
        let word = self.peek_word();
        if word.is_empty() {
            return Err(self.error_here("a value (`'text'`, `/pattern*/` or a bare word)"));
        }
        self.pos += word.len();
        Ok(Value::Literal(word.to_owned()))
    }
}

enum OperatorProblem {
    Operator(String),
    Value(String),
}

/// Checks operator/variable pairs that only make sense for time variables
fn check_operator(variable: &str, operator: &Operator) -> Result<(), OperatorProblem> {
    let is_timestamp = variable == "request.utc-timestamp";
    match operator {
        Operator::Before(v) | Operator::After(v) => {
            if !is_timestamp {
                return Err(OperatorProblem::Operator(
                    "`before`/`after` only with `request.utc-timestamp`".to_owned(),
                ));
            }
            time_literal(v).map(|_| ()).map_err(OperatorProblem::Value)
        }
        Operator::Between(low, high) => {
            if variable == "request.utc-timestamp.time-of-day" {
                time_of_day_literal(low).map_err(OperatorProblem::Value)?;
                time_of_day_literal(high).map_err(OperatorProblem::Value)?;
                Ok(())
            } else if is_timestamp {
                time_literal(low).map_err(OperatorProblem::Value)?;
                time_literal(high)
                    .map(|_| ())
                    .map_err(OperatorProblem::Value)
            } else {
                Err(OperatorProblem::Operator(
                    "`between` only with `request.utc-timestamp` or `.time-of-day`".to_owned(),
                ))
            }
        }
        Operator::Equal(_) | Operator::NotEqual(_) | Operator::In(_) | Operator::Present => Ok(()),
    }
}

fn time_literal(value: &Value) -> Result<jiff::Timestamp, String> {
    match value {
        Value::Literal(text) => parse_time(text)
            .ok_or_else(|| "an ISO 8601 UTC time such as `'2022-01-01T00:00Z'`".to_owned()),
        Value::Pattern(_) => Err("a time, not a pattern".to_owned()),
    }
}

fn time_of_day_literal(value: &Value) -> Result<u32, String> {
    match value {
        Value::Literal(text) => {
            parse_time_of_day(text).ok_or_else(|| "a time of day such as `'01:00:00Z'`".to_owned())
        }
        Value::Pattern(_) => Err("a time of day, not a pattern".to_owned()),
    }
}

/// Parses the ISO 8601 forms OCI's examples use: `2022-01-01T00:00Z`, with seconds and
/// fractions, or a bare date (midnight UTC)
pub(crate) fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts);
    }
    let upper = text.to_ascii_uppercase();
    let trimmed = upper.strip_suffix('Z').unwrap_or(&upper);
    if let Ok(dt) = trimmed.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp());
    }
    if let Ok(date) = trimmed.parse::<jiff::civil::Date>() {
        return date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp());
    }
    None
}

/// Parses `HH:MM[:SS][Z]` into seconds after midnight UTC
pub(crate) fn parse_time_of_day(text: &str) -> Option<u32> {
    let upper = text.trim().to_ascii_uppercase();
    let body = upper.strip_suffix('Z').unwrap_or(&upper);
    let mut parts = body.split(':');
    let hours: u32 = parts.next()?.parse().ok()?;
    let minutes: u32 = parts.next()?.parse().ok()?;
    let seconds: u32 = match parts.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() || hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some(hours * 3600 + minutes * 60 + seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_time_forms() {
        assert!(parse_time("2022-01-01T00:00Z").is_some());
        assert!(parse_time("2022-01-01T00:00:00Z").is_some());
        assert!(parse_time("2022-01-01T00:00:00.123Z").is_some());
        assert!(parse_time("2022-01-01").is_some());
        assert!(parse_time("tomorrow").is_none());
        assert_eq!(parse_time_of_day("01:00:00Z"), Some(3600));
        assert_eq!(parse_time_of_day("23:59"), Some(86340));
        assert_eq!(parse_time_of_day("24:00"), None);
    }

    #[test]
    fn error_positions_count_lines_and_characters() {
        let err = parse_statement("Allow group A\n  too manage repos in tenancy").unwrap_err();
        assert_eq!((err.line(), err.column()), (2, 3));
        assert_eq!(err.expected(), "`to`");
        assert_eq!(err.found(), "`too`");
        assert_eq!(
            err.to_string(),
            "line 2, column 3: expected `to`, found `too`"
        );
    }
}
