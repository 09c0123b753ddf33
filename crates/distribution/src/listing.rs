//! Tag pages (`n`, `last`, and the `Link` to the next page) and referrers indexes
//! (`supply-chain.md` §1.9).

use serde_json::{Value, json};

use crate::error::{Code, DistributionError, DistributionResult};
use crate::manifest::{Descriptor, OCI_INDEX};

/// The most tags one page returns, whatever `n` asks
pub const MAX_PAGE: usize = 10_000;

/// One page of tags
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct TagPage {
    /// The tags, in lexical order
    pub tags: Vec<String>,
    /// `last` for the next page's `Link`, when more tags follow
    pub next: Option<String>,
}

/// Parses `n`: a non-negative integer; larger than [`MAX_PAGE`] is capped, with a `Link`
pub fn page_size(n: Option<&str>) -> DistributionResult<Option<usize>> {
    match n {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse::<u64>()
            .map(|n| Some(usize::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE)))
            .map_err(|_| {
                DistributionError::new(
                    Code::PaginationNumberInvalid,
                    format!(
                        "`n` must be a non-negative integer, not `{}`",
                        text.chars().take(32).collect::<String>()
                    ),
                )
            }),
    }
}

/// The page of `tags` (sorted) after `last`, of at most `n`
pub fn tag_page(tags: &[String], n: Option<usize>, last: Option<&str>) -> TagPage {
    let start = last.map_or(0, |last| tags.partition_point(|t| t.as_str() <= last));
    let rest = tags.get(start..).unwrap_or_default();
    let limit = n.unwrap_or(MAX_PAGE);
    if limit == 0 {
        return TagPage {
            tags: Vec::new(),
            next: None,
        };
    }
    let page: Vec<String> = rest.iter().take(limit).cloned().collect();
    let next = (rest.len() > page.len())
        .then(|| page.last().cloned())
        .flatten();
    TagPage { tags: page, next }
}

/// The referrers index of `descriptors`, filtered to `artifact_type` when given; also
/// whether the filter was applied (for `OCI-Filters-Applied`)
pub fn referrers_index(descriptors: &[Descriptor], artifact_type: Option<&str>) -> (Value, bool) {
    let manifests: Vec<&Descriptor> = descriptors
        .iter()
        .filter(|d| artifact_type.is_none_or(|t| d.artifact_type.as_deref() == Some(t)))
        .collect();
    (
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}),
        artifact_type.is_some(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn pages_follow_n_and_last() {
        let all = tags(&["a", "b", "c", "d"]);
        assert_eq!(
            tag_page(&all, Some(2), None),
            TagPage {
                tags: tags(&["a", "b"]),
                next: Some("b".into())
            }
        );
        assert_eq!(
            tag_page(&all, Some(2), Some("b")),
            TagPage {
                tags: tags(&["c", "d"]),
                next: None
            }
        );
        assert_eq!(tag_page(&all, None, Some("a")).tags, tags(&["b", "c", "d"]));
        assert_eq!(
            tag_page(&all, Some(0), None),
            TagPage {
                tags: Vec::new(),
                next: None
            }
        );
        assert_eq!(
            tag_page(&all, Some(10), Some("zzz")).tags,
            Vec::<String>::new()
        );
        assert_eq!(
            page_size(Some("99999999999999999999")).unwrap_err().code,
            Code::PaginationNumberInvalid
        );
        assert_eq!(page_size(Some("1000000")).unwrap(), Some(MAX_PAGE));
        assert!(page_size(Some("-1")).is_err());
    }

    #[test]
    fn referrers_filter_by_artifact_type() {
        let d = |t: &str| Descriptor {
            media_type: OCI_INDEX.into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            size: 1,
            artifact_type: Some(t.into()),
            annotations: None,
            platform: None,
        };
        let (index, applied) = referrers_index(&[d("x"), d("y"), d("x")], Some("x"));
        assert!(applied);
        assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
        assert_eq!(referrers_index(&[], None).0["manifests"], json!([]));
    }
}
