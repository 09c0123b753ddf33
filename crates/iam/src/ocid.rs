//! Oracle Cloud IDs: `ocid1.<resource-type>.<realm>.[region].<unique-id>`.
//!
//! Every object Portcullis stores is named by an OCID, so that the `oci` CLI, Terraform and
//! policies written for OCI accept them unchanged.

use std::fmt;
use std::str::FromStr;

use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The realm every Portcullis OCID is minted in (OCI's commercial realm)
pub const REALM: &str = "oc1";

/// A syntactically valid OCID
///
/// Parsing checks the shape only (`ocid1`, a lowercase resource type, a realm `ocN`, an optional
/// region, a lowercase alphanumeric unique part); whether the object exists is the store's
/// business.
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Ocid(String);

/// Why a string is not an OCID
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("`{input}` is not a valid OCID: {reason}")]
pub struct OcidError {
    input: String,
    reason: &'static str,
}

impl Ocid {
    /// Mints a new OCID for `resource_type`, optionally scoped to a region
    ///
    /// The unique part starts with a base32 millisecond timestamp, so OCIDs of one type sort
    /// in creation order, which gives list operations a stable, meaningful order for free.
    pub fn generate(resource_type: &str, region: Option<&str>) -> Self {
        let millis = u64::try_from(jiff::Timestamp::now().as_millisecond()).unwrap_or(0);
        let mut random = [0u8; 42];
        rand::rng().fill_bytes(&mut random);
        let mut unique = String::with_capacity(60);
        unique.push_str("aaaaaaaa");
        // 10 base32 digits hold 50 bits: enough for milliseconds until the year 37648.
        for shift in (0..10).rev() {
            let digit = ((millis >> (shift * 5)) & 31) as usize;
            unique.push(base32_digit(digit));
        }
        for byte in random.iter().take(42) {
            unique.push(base32_digit(usize::from(*byte) & 31));
        }
        let region = region.unwrap_or("");
        Ocid(format!(
            "ocid1.{}.{REALM}.{region}.{unique}",
            resource_type.to_ascii_lowercase()
        ))
    }

    /// Mints an OCID with one more segment before the unique part, as OCI's vault keys
    /// carry their vault's extension (`ocid1.key.oc1.<region>.<vault-ext>.<unique>`), which
    /// is where `oci` finds a key's crypto endpoint
    pub fn generate_scoped(resource_type: &str, region: Option<&str>, scope: &str) -> Self {
        let plain = Ocid::generate(resource_type, region).0;
        match plain.rsplit_once('.') {
            Some((head, unique)) => Ocid(format!("{head}.{scope}.{unique}")),
            None => Ocid(plain),
        }
    }

    /// The resource type segment (`user`, `compartment`, `cluster`, ...)
    pub fn resource_type(&self) -> &str {
        self.0.split('.').nth(1).unwrap_or("")
    }

    /// The OCID as text
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the OCID, returning its text
    pub fn into_string(self) -> String {
        self.0
    }

    /// Parses `input` and checks that its resource type is one of `types`
    pub fn parse_typed(input: &str, types: &[&str]) -> Result<Self, OcidError> {
        let ocid: Ocid = input.parse()?;
        if types.iter().any(|t| *t == ocid.resource_type()) {
            Ok(ocid)
        } else {
            Err(OcidError {
                input: input.to_owned(),
                reason: "it names a different kind of resource",
            })
        }
    }
}

fn base32_digit(value: usize) -> char {
    // In ASCII order, so the encoded timestamp sorts as the number does.
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    ALPHABET.get(value & 31).map_or('a', |b| char::from(*b))
}

impl FromStr for Ocid {
    type Err = OcidError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason| OcidError {
            input: input.chars().take(200).collect(),
            reason,
        };
        if input.len() > 255 {
            return Err(fail("it is longer than 255 characters"));
        }
        let parts: Vec<&str> = input.split('.').collect();
        let [version, kind, realm, rest @ ..] = parts.as_slice() else {
            return Err(fail("expected `ocid1.<type>.<realm>.[region].<unique-id>`"));
        };
        if *version != "ocid1" {
            return Err(fail("it must start with `ocid1.`"));
        }
        if kind.is_empty()
            || !kind
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(fail(
                "the resource type must be lowercase letters and digits",
            ));
        }
        if !realm.starts_with("oc")
            || realm.len() < 3
            || !realm.chars().skip(2).all(|c| c.is_ascii_digit())
        {
            return Err(fail("the realm must look like `oc1`"));
        }
        let Some((unique, middle)) = rest.split_last() else {
            return Err(fail("the unique id is missing"));
        };
        if middle.is_empty() {
            return Err(fail(
                "the region segment is missing (it may be empty: `..`)",
            ));
        }
        if !middle.iter().all(|segment| {
            segment
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        }) {
            return Err(fail(
                "the region must be lowercase letters, digits and dashes",
            ));
        }
        if unique.is_empty()
            || !unique
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return Err(fail("the unique id must be lowercase letters and digits"));
        }
        Ok(Ocid(input.to_owned()))
    }
}

impl fmt::Display for Ocid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Ocid {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Ocid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Ocid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ocids_parse_and_sort_by_time() {
        let a = Ocid::generate("user", None);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = Ocid::generate("user", None);
        assert!(a < b, "{a} should sort before {b}");
        assert_eq!(a.resource_type(), "user");
        assert_eq!(a.as_str().parse::<Ocid>().unwrap(), a);
        let regional = Ocid::generate("cluster", Some("us-ashburn-1"));
        assert!(
            regional
                .as_str()
                .starts_with("ocid1.cluster.oc1.us-ashburn-1.aaaaaaaa")
        );
        assert_eq!(
            regional.as_str().len(),
            "ocid1.cluster.oc1.us-ashburn-1.".len() + 60
        );
    }

    #[test]
    fn accepts_real_shapes() {
        for text in [
            "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq",
            "ocid1.cluster.oc1.phx.aaaaaaaaae",
            "ocid1.user.oc1..aaaaa",
            "ocid1.key.oc1.iad.bbpnrgs4aaeuk.abuwcljsixtu",
        ] {
            assert!(text.parse::<Ocid>().is_ok(), "{text}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for text in [
            "",
            "ocid1",
            "ocid2.user.oc1..aaaa",
            "ocid1.User.oc1..aaaa",
            "ocid1.user.xx1..aaaa",
            "ocid1.user.oc1",
            "ocid1.user.oc1.aaaa",
            "ocid1.user.oc1..",
            "ocid1.user.oc1..AAAA",
            "ocid1.user.oc1..aa/aa",
            "not-an-ocid",
        ] {
            assert!(text.parse::<Ocid>().is_err(), "{text}");
        }
        let err = Ocid::parse_typed("ocid1.group.oc1..aaaa", &["user"]).unwrap_err();
        assert!(err.to_string().contains("different kind"));
    }
}
