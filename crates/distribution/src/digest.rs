//! Digests: `sha256:<64 hex>` and `sha512:<128 hex>`, lower-case, and the streaming hasher
//! every blob and manifest passes through before it is committed.

use aws_lc_rs::digest::{Context, SHA256, SHA512};

use crate::error::{Code, DistributionError, DistributionResult};

/// A digest algorithm the registry accepts
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Algorithm {
    /// SHA-256 (the default)
    Sha256,
    /// SHA-512
    Sha512,
}

impl Algorithm {
    /// The spelling before the `:`
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// Parses `sha256` / `sha512`
    pub fn parse(text: &str) -> Option<Algorithm> {
        match text {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

/// A content digest
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// Parses a digest; anything else is `DIGEST_INVALID`
    pub fn parse(text: &str) -> DistributionResult<Digest> {
        let invalid = || {
            DistributionError::new(
                Code::DigestInvalid,
                format!(
                    "invalid digest `{}`: expected sha256:<64 hex> or sha512:<128 hex>",
                    text.chars().take(80).collect::<String>()
                ),
            )
        };
        let (algorithm, hex) = text.split_once(':').ok_or_else(invalid)?;
        let algorithm = Algorithm::parse(algorithm).ok_or_else(invalid)?;
        let valid = hex.len() == algorithm.hex_len()
            && hex
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        if !valid {
            return Err(invalid());
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_owned(),
        })
    }

    /// The algorithm
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hex part
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The digest of `bytes` with `algorithm`
    pub fn of(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        let mut hasher = Hasher::new(algorithm);
        hasher.update(bytes);
        hasher.finish()
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

/// Hashes a stream of bytes
pub struct Hasher {
    algorithm: Algorithm,
    context: Context,
    length: u64,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("algorithm", &self.algorithm)
            .field("length", &self.length)
            .finish()
    }
}

impl Hasher {
    /// A hasher for `algorithm`
    pub fn new(algorithm: Algorithm) -> Hasher {
        let context = match algorithm {
            Algorithm::Sha256 => Context::new(&SHA256),
            Algorithm::Sha512 => Context::new(&SHA512),
        };
        Hasher {
            algorithm,
            context,
            length: 0,
        }
    }

    /// Adds bytes
    pub fn update(&mut self, bytes: &[u8]) {
        self.context.update(bytes);
        self.length = self.length.saturating_add(bytes.len() as u64);
    }

    /// Bytes hashed so far
    pub fn length(&self) -> u64 {
        self.length
    }

    /// The digest of everything added
    pub fn finish(self) -> Digest {
        let hex = self
            .context
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Digest {
            algorithm: self.algorithm,
            hex,
        }
    }
}

/// Checks that content hashed to the digest the client claimed: `DIGEST_INVALID` if not
pub fn verify(claimed: &Digest, actual: &Digest) -> DistributionResult<()> {
    if claimed == actual {
        Ok(())
    } else {
        Err(DistributionError::new(
            Code::DigestInvalid,
            format!("the content's digest is {actual}, not {claimed}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            Digest::of(Algorithm::Sha256, b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let d = Digest::of(Algorithm::Sha512, b"abc");
        assert!(d.to_string().starts_with("sha512:ddaf35a193617aba"));
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
    }

    #[test]
    fn malformed_digests_are_refused() {
        for bad in [
            "sha256:totallywrong",
            "sha256:ABCDEF",
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            "sha256",
            &format!("sha256:{}", "A".repeat(64)),
            &format!("sha256:{}", "a".repeat(63)),
            &format!("sha512:{}", "a".repeat(64)),
        ] {
            assert_eq!(
                Digest::parse(bad).unwrap_err().code,
                Code::DigestInvalid,
                "{bad}"
            );
        }
    }

    #[test]
    fn streaming_equals_one_shot() {
        let mut hasher = Hasher::new(Algorithm::Sha256);
        hasher.update(b"hello ");
        hasher.update(b"world");
        assert_eq!(hasher.length(), 11);
        assert_eq!(
            hasher.finish(),
            Digest::of(Algorithm::Sha256, b"hello world")
        );
    }
}
