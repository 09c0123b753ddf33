//! OCI list semantics: `limit`, an opaque `page` token returned as `opc-next-page`, `name`
//! and `lifecycleState` filters, `sortBy` (`TIMECREATED`, `NAME`) and `sortOrder`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::IdentityError;
use crate::model::LifecycleState;

/// Largest page a list returns
pub const MAX_LIMIT: usize = 1000;

/// Page size when the caller gives none
pub const DEFAULT_LIMIT: usize = 100;

/// `sortBy`
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum SortBy {
    /// Creation time (the default)
    #[default]
    TimeCreated,
    /// Name, case-insensitively
    Name,
}

/// `sortOrder`
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum SortOrder {
    /// Ascending (the default)
    #[default]
    Asc,
    /// Descending
    Desc,
}

/// The common query parameters of list operations
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct ListQuery {
    /// `limit`
    pub limit: Option<usize>,
    /// `page`
    pub page: Option<String>,
    /// `name`: exact match
    pub name: Option<String>,
    /// `lifecycleState`
    pub lifecycle_state: Option<LifecycleState>,
    /// `sortBy`
    pub sort_by: SortBy,
    /// `sortOrder`
    pub sort_order: SortOrder,
}

impl ListQuery {
    /// Parses the raw query values
    pub fn parse(
        limit: Option<&str>,
        page: Option<&str>,
        name: Option<&str>,
        lifecycle_state: Option<&str>,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
    ) -> Result<Self, IdentityError> {
        let invalid = |what: &str| IdentityError::InvalidParameter(what.to_owned());
        let limit = match limit {
            None => None,
            Some(l) => Some(
                l.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| invalid("`limit` must be an integer from 1 to 1000"))?,
            ),
        };
        let lifecycle_state = match lifecycle_state {
            None => None,
            Some(s) => Some(LifecycleState::parse(s).ok_or_else(|| {
                invalid("`lifecycleState` must be CREATING, ACTIVE, INACTIVE, DELETING or DELETED")
            })?),
        };
        let sort_by = match sort_by.map(str::to_ascii_uppercase).as_deref() {
            None | Some("TIMECREATED") => SortBy::TimeCreated,
            Some("NAME") => SortBy::Name,
            Some(_) => return Err(invalid("`sortBy` must be TIMECREATED or NAME")),
        };
        let sort_order = match sort_order.map(str::to_ascii_uppercase).as_deref() {
            None | Some("ASC") => SortOrder::Asc,
            Some("DESC") => SortOrder::Desc,
            Some(_) => return Err(invalid("`sortOrder` must be ASC or DESC")),
        };
        if let Some(p) = page {
            decode_page(p)?;
        }
        Ok(ListQuery {
            limit,
            page: page.map(str::to_owned),
            name: name.map(str::to_owned),
            lifecycle_state,
            sort_by,
            sort_order,
        })
    }
}

/// One page of results and the token for the next
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Listing<T> {
    /// The items
    pub items: Vec<T>,
    /// `opc-next-page`, if more follow
    pub next_page: Option<String>,
}

fn decode_page(token: &str) -> Result<usize, IdentityError> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| IdentityError::InvalidParameter("`page` is not a valid page token".into()))
}

fn encode_page(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

/// What listing needs to know about an item
pub trait Listable {
    /// The name `name=` filters and `sortBy=NAME` sorts on
    fn name(&self) -> &str;
    /// The creation time `sortBy=TIMECREATED` sorts on
    fn time_created(&self) -> &str;
    /// Whether the item is in the state `lifecycleState=` asks for
    fn in_state(&self, state: LifecycleState) -> bool;
}

/// Filters, sorts and pages `items` (already in creation order, as OCIDs sort)
pub fn page<T: Listable>(
    mut items: Vec<T>,
    query: &ListQuery,
) -> Result<Listing<T>, IdentityError> {
    items.retain(|item| {
        query.name.as_deref().is_none_or(|n| item.name() == n)
            && query.lifecycle_state.is_none_or(|s| item.in_state(s))
    });
    match query.sort_by {
        SortBy::TimeCreated => items.sort_by(|a, b| a.time_created().cmp(b.time_created())),
        SortBy::Name => items.sort_by_key(|a| a.name().to_lowercase()),
    }
    if query.sort_order == SortOrder::Desc {
        items.reverse();
    }
    let offset = match &query.page {
        Some(p) => decode_page(p)?,
        None => 0,
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let total = items.len();
    let items: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
    let end = offset.saturating_add(items.len());
    Ok(Listing {
        next_page: (end < total).then(|| encode_page(end)),
        items,
    })
}

macro_rules! listable {
    ($($t:ty),*) => {$(
        impl Listable for $t {
            fn name(&self) -> &str { &self.name }
            fn time_created(&self) -> &str { &self.time_created }
            fn in_state(&self, state: LifecycleState) -> bool { self.lifecycle_state == state }
        }
    )*};
}

listable!(
    crate::model::Compartment,
    crate::model::User,
    crate::model::Group,
    crate::model::DynamicGroup,
    crate::model::Policy
);

impl Listable for crate::model::UserGroupMembership {
    fn name(&self) -> &str {
        &self.id
    }
    fn time_created(&self) -> &str {
        &self.time_created
    }
    fn in_state(&self, state: LifecycleState) -> bool {
        self.lifecycle_state == state
    }
}
