//! Auth tokens: server-generated secrets users present as registry passwords.
//!
//! Tokens carry 120 bits of randomness, so a plain SHA-256 is enough to store them: there is
//! nothing to brute-force. Only the hash is kept; the token is shown once, at creation.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use zeroize::Zeroizing;

use crate::constant_time_eq;

/// The characters OCI-style auth tokens are drawn from (64 of them: 6 bits each)
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.";

/// Length of a generated token: 20 characters, 120 bits
pub const TOKEN_LENGTH: usize = 20;

/// A freshly generated auth token, in the clear
pub struct AuthToken(Zeroizing<String>);

impl AuthToken {
    /// Generates a token from the system's secure random source
    pub fn generate() -> Option<Self> {
        let mut bytes = Zeroizing::new([0u8; TOKEN_LENGTH]);
        SystemRandom::new().fill(bytes.as_mut()).ok()?;
        let text: String = bytes
            .iter()
            .map(|b| char::from(ALPHABET.get(usize::from(*b & 63)).copied().unwrap_or(b'A')))
            .collect();
        Some(AuthToken(Zeroizing::new(text)))
    }

    /// The token text, to show the user once
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash to store
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

/// The stored form of an auth token
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes a presented token
    pub fn of(token: &str) -> Self {
        TokenHash(STANDARD_NO_PAD.encode(digest(&SHA256, token.as_bytes()).as_ref()))
    }

    /// Wraps a hash read back from the store
    pub fn from_stored(text: String) -> Self {
        TokenHash(text)
    }

    /// The text to store
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is the token this hash was made from, in constant time
    pub fn matches(&self, presented: &str) -> bool {
        constant_time_eq(Self::of(presented).0.as_bytes(), self.0.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_check() {
        let a = AuthToken::generate().unwrap();
        let b = AuthToken::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), TOKEN_LENGTH);
        let hash = a.hash();
        assert!(hash.matches(a.expose()));
        assert!(!hash.matches(b.expose()));
        assert!(!format!("{a:?}").contains(a.expose()));
    }
}
