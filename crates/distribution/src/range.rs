//! `Content-Range` of a chunked upload (`<start>-<end>`, inclusive, `supply-chain.md` §1.5)
//! and `Range` of a blob read (`bytes=<a>-<b>`, `bytes=<a>-`, `bytes=-<n>`, RFC 9110).

use crate::error::{Code, DistributionError, DistributionResult};

/// An inclusive byte range
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ByteRange {
    /// First byte
    pub start: u64,
    /// Last byte (inclusive)
    pub end: u64,
}

impl ByteRange {
    /// The number of bytes
    pub fn len(self) -> u64 {
        self.end.saturating_sub(self.start).saturating_add(1)
    }

    /// Never true: a range holds at least one byte
    pub fn is_empty(self) -> bool {
        false
    }
}

fn number(text: &str) -> Option<u64> {
    (!text.is_empty() && text.bytes().all(|c| c.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Parses a chunk's `Content-Range`: `^[0-9]+-[0-9]+$` with start ≤ end. Some clients send
/// the HTTP form (`bytes 0-9/*`), which is accepted too.
pub fn content_range(header: &str) -> DistributionResult<ByteRange> {
    let text = header.trim();
    let text = text.strip_prefix("bytes ").unwrap_or(text);
    let text = text.split_once('/').map_or(text, |(range, _)| range);
    let invalid = || {
        DistributionError::new(
            Code::RangeInvalid,
            format!(
                "invalid Content-Range `{}`",
                header.chars().take(64).collect::<String>()
            ),
        )
    };
    let (start, end) = text.split_once('-').ok_or_else(invalid)?;
    let (start, end) = (
        number(start).ok_or_else(invalid)?,
        number(end).ok_or_else(invalid)?,
    );
    if start > end {
        return Err(invalid());
    }
    Ok(ByteRange { start, end })
}

/// Parses a blob read's `Range` against the blob's `size`; `None` when the range cannot
/// be satisfied (the caller answers 416)
pub fn read_range(header: &str, size: u64) -> Option<ByteRange> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let last_byte = size - 1;
    let (first, last) = spec.split_once('-')?;
    let range = match (first.is_empty(), last.is_empty()) {
        (false, true) => ByteRange {
            start: number(first)?,
            end: last_byte,
        },
        (false, false) => ByteRange {
            start: number(first)?,
            end: number(last)?.min(last_byte),
        },
        (true, false) => {
            let suffix = number(last)?.min(size);
            if suffix == 0 {
                return None;
            }
            ByteRange {
                start: size - suffix,
                end: last_byte,
            }
        }
        (true, true) => return None,
    };
    (range.start <= range.end && range.start < size).then_some(range)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn content_ranges() {
        assert_eq!(
            content_range("0-9").unwrap(),
            ByteRange { start: 0, end: 9 }
        );
        assert_eq!(content_range("bytes 10-19/*").unwrap().len(), 10);
        for bad in ["", "5", "9-0", "a-b", "-1", "1-", " - ", "0x1-2"] {
            assert_eq!(
                content_range(bad).unwrap_err().code,
                Code::RangeInvalid,
                "{bad}"
            );
        }
    }

    #[test]
    fn read_ranges() {
        assert_eq!(
            read_range("bytes=0-9", 100),
            Some(ByteRange { start: 0, end: 9 })
        );
        assert_eq!(
            read_range("bytes=90-", 100),
            Some(ByteRange { start: 90, end: 99 })
        );
        assert_eq!(
            read_range("bytes=-10", 100),
            Some(ByteRange { start: 90, end: 99 })
        );
        assert_eq!(
            read_range("bytes=95-200", 100),
            Some(ByteRange { start: 95, end: 99 })
        );
        assert_eq!(read_range("bytes=100-", 100), None);
        assert_eq!(read_range("bytes=0-1,3-4", 100), None);
        assert_eq!(read_range("items=0-1", 100), None);
    }

    proptest! {
        #[test]
        fn never_panics(header in ".{0,40}", size in 0u64..1000) {
            let _ = content_range(&header);
            if let Some(r) = read_range(&header, size) {
                prop_assert!(r.end < size && r.start <= r.end);
            }
        }
    }
}
