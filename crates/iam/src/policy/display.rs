//! Canonical printing of statements: what `parse_statement` reads back to the same AST.

use std::fmt::{self, Display, Formatter, Write};

use super::parser::{is_keyword, is_word_char};
use super::{
    AllowStatement, Comparison, Condition, CrossTenancyStatement, CrossTenancyTarget,
    DefineStatement, GroupRef, Location, Operator, Statement, Subject, SubjectItem, Value,
};

/// Writes a name bare when the parser would read it back as the same single word
fn name(f: &mut Formatter<'_>, text: &str) -> fmt::Result {
    let bare = !text.is_empty() && text.chars().all(is_word_char) && !is_keyword(text);
    if bare {
        f.write_str(text)
    } else {
        quoted(f, text)
    }
}

fn quoted(f: &mut Formatter<'_>, text: &str) -> fmt::Result {
    let quote = if text.contains('\'') { '"' } else { '\'' };
    f.write_char(quote)?;
    f.write_str(text)?;
    f.write_char(quote)
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Statement::Allow(s) => s.fmt(f),
            Statement::Define(s) => s.fmt(f),
            Statement::Endorse(s) => {
                f.write_str("Endorse ")?;
                cross_tenancy(f, s)
            }
            Statement::Admit(s) => {
                f.write_str("Admit ")?;
                cross_tenancy(f, s)
            }
        }
    }
}

impl Display for AllowStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Allow {} to {} {} in {}",
            self.subject, self.verb, self.resource, self.location
        )?;
        if let Some(condition) = &self.condition {
            write!(f, " where {condition}")?;
        }
        Ok(())
    }
}

impl Display for DefineStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "Define {} ", self.kind)?;
        name(f, &self.alias)?;
        write!(f, " as {}", self.ocid)
    }
}

fn cross_tenancy(f: &mut Formatter<'_>, s: &CrossTenancyStatement) -> fmt::Result {
    write!(f, "{}", s.subject)?;
    if let Some(alias) = &s.of_tenancy {
        f.write_str(" of tenancy ")?;
        name(f, alias)?;
    }
    write!(f, " to {} {} in ", s.verb, s.resource)?;
    match &s.target {
        CrossTenancyTarget::Tenancy(alias) => {
            f.write_str("tenancy ")?;
            name(f, alias)?;
        }
        CrossTenancyTarget::AnyTenancy => f.write_str("any-tenancy")?,
        CrossTenancyTarget::Location(location) => write!(f, "{location}")?,
    }
    if let Some(condition) = &s.condition {
        write!(f, " where {condition}")?;
    }
    Ok(())
}

impl Display for Subject {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Subject::AnyUser => f.write_str("any-user"),
            Subject::AnyGroup => f.write_str("any-group"),
            Subject::Services(names) => {
                f.write_str("service ")?;
                for (i, service) in names.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    name(f, service)?;
                }
                Ok(())
            }
            Subject::Principals(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    let (keyword, group) = match item {
                        SubjectItem::Group(g) => ("group", g),
                        SubjectItem::DynamicGroup(g) => ("dynamic-group", g),
                    };
                    write!(f, "{keyword} {group}")?;
                }
                Ok(())
            }
        }
    }
}

impl Display for GroupRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            GroupRef::Id(ocid) => write!(f, "id {ocid}"),
            GroupRef::Name {
                domain,
                name: group,
            } => {
                if let Some(domain) = domain {
                    name(f, domain)?;
                    f.write_char('/')?;
                }
                name(f, group)
            }
        }
    }
}

impl Display for Location {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Location::Tenancy => f.write_str("tenancy"),
            Location::CompartmentId(ocid) => write!(f, "compartment id {ocid}"),
            Location::CompartmentPath(path) => {
                f.write_str("compartment ")?;
                for (i, part) in path.iter().enumerate() {
                    if i > 0 {
                        f.write_char(':')?;
                    }
                    name(f, part)?;
                }
                Ok(())
            }
        }
    }
}

impl Display for Condition {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (keyword, items) = match self {
            Condition::Compare(c) => return c.fmt(f),
            Condition::All(items) => ("all", items),
            Condition::Any(items) => ("any", items),
        };
        write!(f, "{keyword} {{")?;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            item.fmt(f)?;
        }
        f.write_char('}')
    }
}

impl Display for Comparison {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.variable)?;
        match &self.operator {
            Operator::Equal(v) => write!(f, " = {v}"),
            Operator::NotEqual(v) => write!(f, " != {v}"),
            Operator::Before(v) => write!(f, " before {v}"),
            Operator::After(v) => write!(f, " after {v}"),
            Operator::Between(low, high) => write!(f, " between {low} and {high}"),
            Operator::Present => Ok(()),
            Operator::In(values) => {
                f.write_str(" in (")?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    v.fmt(f)?;
                }
                f.write_char(')')
            }
        }
    }
}

impl Display for Value {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::Literal(text) => quoted(f, text),
            Value::Pattern(pattern) => write!(f, "/{pattern}/"),
        }
    }
}
